/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <sys/socket.h>

#include "fuzz.h"

sd_bus *fuzz_bus(void) {
        static sd_bus *bus;
        int sp[2];

        if (bus)
                return bus;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 || sd_bus_new(&bus) < 0 ||
            sd_bus_set_fd(bus, sp[0], sp[0]) < 0 || sd_bus_start(bus) < 0)
                abort();
        return bus;
}
