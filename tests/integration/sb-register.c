/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper for the integration suite: a registration sent at a moment the test chooses. Installs a filter
 * of its own (trapping mknod, which it never calls) and connects to the system bus, creates READY_FILE, waits
 * until GO_FILE exists, then registers the listener with sysbrokerd through libsysbroker. Prints
 * "registered" (exit 0) or "failed: ERROR: MESSAGE" (exit 1).
 *
 *     sb-register READY_FILE GO_FILE */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "sysbroker.h"

int main(int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sysbroker_rules *rules = NULL;
        sysbroker_client *client = NULL;
        int listener, fd, r;

        if (argc != 3) {
                fprintf(stderr, "usage: %s READY_FILE GO_FILE\n", argv[0]);
                return 2;
        }
        if (sysbroker_rules_new(&rules) < 0 ||
            sysbroker_rules_add_mknod_spec(rules, SYSBROKER_ACTION_DENY, "c 1:3 /nonexistent/never") < 0)
                return 2;
        listener = sysbroker_install_filter(rules, 0);
        if (listener < 0) {
                fprintf(stderr, "sb-register: cannot install the filter: %s\n", strerror(-listener));
                return 2;
        }
        r = sysbroker_client_open_system(&client);
        if (r >= 0) {
                const char *unique;

                /* Connected for real (sd-bus connects lazily): only the registration is left to send. */
                r = sd_bus_get_unique_name(sysbroker_client_get_bus(client), &unique);
        }
        if (r < 0) {
                fprintf(stderr, "sb-register: cannot connect: %s\n", strerror(-r));
                return 2;
        }
        fd = open(argv[1], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return 2;
        close(fd);
        /* Bounded: the test creates it within seconds, or has failed already. */
        for (unsigned i = 0; access(argv[2], F_OK) < 0; i++) {
                if (i >= 60 * 200)
                        return 2;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 5 * 1000 * 1000 }, NULL);
        }

        r = sysbroker_client_register(client, listener, rules, 0, &error, NULL, NULL);
        if (r < 0) {
                printf("failed: %s: %s\n", error.name ?: "-", error.message ?: strerror(-r));
                return 1;
        }
        printf("registered\n");
        sysbroker_client_free(client);
        sysbroker_rules_free(rules);
        close(listener);
        return 0;
}
