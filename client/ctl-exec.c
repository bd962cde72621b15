/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysbrokerctl's `exec` and what it shares with the other commands: linked into the sysbrokerctl executable,
 * which runs a plain `exec` without loading the rest (and libsystemd, json-c), and into the module with
 * the rest (ctl-main.c). */

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl.h"
#include "macro.h"
#include "sysbroker.h"

void error_msg(const char *format, ...) {
        va_list ap;

        fputs("sysbrokerctl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* exec: the inner side of run --handoff. Exits 125 without running CMD unless the listener is registered. */
int ctl_exec(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_free_ char *message = NULL;
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return CTL_EXEC_HELP;
                default:
                        error_msg("Unknown option '%s'.", argv[optind - 1]);
                        return EXIT_RUN_FAILURE;
                }
        if (optind >= argc) {
                error_msg("No command given: 'exec [--] CMD [ARG...]'.");
                return EXIT_RUN_FAILURE;
        }

        r = sysbroker_handoff_child(-1, &message);
        if (r < 0) {
                if (message)
                        error_msg("%s", message);
                else if (r == -ENXIO)
                        error_msg("No hand-off socket in $" SYSBROKER_HANDOFF_FD_ENV
                                  ": 'exec' runs as the command of 'run --handoff'.");
                else if (r == -EBUSY)
                        error_msg("Failed to install the seccomp filter: "
                                  "this process already runs under a seccomp listener.");
                else if (r == -EPIPE)
                        error_msg("The other side of the hand-off went away before registering "
                                  "the listener.");
                else
                        error_msg("Hand-off failed: %s", strerror(-r));
                return EXIT_RUN_FAILURE;
        }

        fflush(NULL);
        execvp(argv[optind], argv + optind);
        r = errno;
        error_msg("Failed to execute '%s': %s", argv[optind], strerror(r));
        return r == ENOENT ? EXIT_ENOENT : EXIT_CANNOT_INVOKE;
}
