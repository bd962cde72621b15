/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TAP output for the unit suite. */

#include <sys/socket.h>

#include "unit.h"

int unit_failed;

sd_bus *unit_test_bus(void) {
        static sd_bus *bus;
        int sp[2];

        if (bus)
                return bus;
        /* sd-bus builds messages only for a started bus; one end of a socketpair is enough. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 || sd_bus_new(&bus) < 0 ||
            sd_bus_set_fd(bus, sp[0], sp[0]) < 0 || sd_bus_start(bus) < 0)
                abort();
        return bus;
}

int unit_run(const UnitTest *tests, size_t n) {
        int failures = 0;

        printf("1..%zu\n", n);
        for (size_t i = 0; i < n; i++) {
                unit_failed = 0;
                tests[i].func();
                printf("%s %zu - %s\n", unit_failed ? "not ok" : "ok", i + 1, tests[i].name);
                failures += unit_failed;
        }
        return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
