/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysbrokerctl's executable. A plain `sysbrokerctl exec` (the sandbox's command under `run --handoff`)
 * starts once per sandbox, on its way to the command, and needs neither the bus nor json-c: it is done
 * here, with libc and libseccomp only. Every other command, `exec` with global options before it and
 * `exec --help` too, is the module's (sysbrokerctl.c), loaded from the executable's RUNPATH: the same
 * libraries the executable would otherwise load at its start, loaded a moment later. */

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

int main(int argc, char *argv[]) {
        int (*module_main)(int argc, char *argv[]);
        /* As the module's main would fail: 125 for the commands that run something. */
        int failure = argc > 1 && (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "exec") == 0) ?
                EXIT_RUN_FAILURE : 1;
        void *module;

        if (argc > 1 && strcmp(argv[1], "exec") == 0) {
                int r = ctl_exec(argc - 1, argv + 1);

                if (r != CTL_EXEC_HELP)
                        return r;
        }

        module = dlopen(SYSBROKERCTL_MODULE, RTLD_LAZY);
        if (!module) {
                error_msg("Failed to load %s: %s", SYSBROKERCTL_MODULE, dlerror());
                return failure;
        }
        module_main = (int (*)(int, char **)) dlsym(module, "sysbrokerctl_main");
        if (!module_main) {
                error_msg("Failed to load %s: %s", SYSBROKERCTL_MODULE, dlerror());
                return failure;
        }
        return module_main(argc, argv);
}
