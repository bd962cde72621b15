/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper for the integration suite: sandboxes that flood their listener with system calls of a
 * foreign ABI. Each of N_LISTENERS children installs a filter of its own that sends every x32 system call
 * (and every call of another architecture) to a new listener, registers that listener with sysbrokerd on
 * the system bus (a deny rule that matches nothing: polkit is asked about the registration only), and,
 * once all are registered, makes N_CALLS x32 calls as fast as it can. Each must fail with ENOSYS: the
 * daemon never decodes a foreign ABI's numbers (invariant 6). Then the child reads its listener's Denied
 * counter, to tell the daemon's answer from the kernel's (a listener nobody serves fails calls with ENOSYS
 * too), and prints "enosys=K denied=D" (K calls failed with ENOSYS, D as the daemon counted). Exit 0 if
 * every child saw K = D = N_CALLS, 1 if not, 77 if this machine is not x86_64.
 *
 *     sb-flood N_LISTENERS N_CALLS */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "seccomp-kernel.h"
#include "sysbroker.h"

#define MAX_LISTENERS 64

#ifdef __x86_64__
#define X32_SYSCALL_BIT 0x40000000u

static int install_filter(void) {
        struct sock_filter insns[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(insns), .filter = insns };
        int fd;

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        fd = sys_seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        return fd < 0 ? -errno : fd;
}

/* One sandbox: registered, then says so on `ready` and waits for a byte on `go`. */
static int run_child(int ready, int go, unsigned n_calls) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sysbroker_rules *rules = NULL;
        sysbroker_client *client = NULL;
        _cleanup_free_ char *path = NULL;
        unsigned enosys = 0;
        uint64_t denied = 0;
        char byte;
        int listener, r;

        if (sysbroker_rules_new(&rules) < 0 ||
            sysbroker_rules_add_mknod_spec(rules, SYSBROKER_ACTION_DENY, "c 1:3 /nonexistent/never") < 0)
                return 2;
        listener = install_filter();
        if (listener < 0) {
                fprintf(stderr, "sb-flood: cannot install the filter: %s\n", strerror(-listener));
                return 2;
        }
        r = sysbroker_client_open_system(&client);
        if (r >= 0)
                r = sysbroker_client_register(client, listener, rules, 0, &error, &path, NULL);
        close(listener);
        if (r < 0) {
                fprintf(stderr, "sb-flood: registration failed: %s\n", error.message ?: strerror(-r));
                return 2;
        }
        if (write(ready, "r", 1) != 1 || read(go, &byte, 1) < 0)
                return 2;

        /* x32's getpid: the number the kernel would run, were it not trapped. */
        for (unsigned i = 0; i < n_calls; i++)
                if (syscall(X32_SYSCALL_BIT | 39) < 0 && errno == ENOSYS)
                        enosys++;

        sd_bus_error_free(&error);
        r = sd_bus_get_property_trivial(sysbroker_client_get_bus(client), sysbroker_client_get_destination(client),
                                        path, "org.sysbroker.Broker1.Listener", "Denied", &error, 't', &denied);
        if (r < 0) {
                fprintf(stderr, "sb-flood: cannot read Denied: %s\n", error.message ?: strerror(-r));
                return 2;
        }
        printf("enosys=%u denied=%" PRIu64 "\n", enosys, denied);
        fflush(stdout);
        sysbroker_client_free(client);
        sysbroker_rules_free(rules);
        return enosys == n_calls && denied == n_calls ? 0 : 1;
}

int main(int argc, char **argv) {
        unsigned n_listeners, n_calls, n = 0;
        pid_t pids[MAX_LISTENERS];
        int go[2], ready[2], ret = 0;

        if (argc != 3) {
                fprintf(stderr, "usage: %s N_LISTENERS N_CALLS\n", argv[0]);
                return 2;
        }
        n_listeners = (unsigned) strtoul(argv[1], NULL, 10);
        n_calls = (unsigned) strtoul(argv[2], NULL, 10);
        if (n_listeners == 0 || n_listeners > MAX_LISTENERS || n_calls == 0) {
                fprintf(stderr, "sb-flood: bad numbers\n");
                return 2;
        }
        if (pipe2(go, O_CLOEXEC) < 0)
                return 2;

        /* One registration at a time: what is flooded is the log, not polkit. A pipe each, whose write end
         * only that child holds: its death ends the parent's read. */
        for (; n < n_listeners; n++) {
                char byte;

                if (pipe2(ready, O_CLOEXEC) < 0)
                        break;
                pids[n] = fork();
                if (pids[n] < 0)
                        break;
                if (pids[n] == 0) {
                        close(go[1]);
                        close(ready[0]);
                        _exit(run_child(ready[1], go[0], n_calls));
                }
                close(ready[1]);
                if (read(ready[0], &byte, 1) != 1) {
                        fprintf(stderr, "sb-flood: child %u did not register\n", n);
                        close(ready[0]);
                        n++;
                        ret = 2;
                        break;
                }
                close(ready[0]);
        }
        /* Closing the write end is the go for all at once: read() returns 0 for every one. */
        close(go[1]);
        for (unsigned i = 0; i < n; i++) {
                int status;

                while (waitpid(pids[i], &status, 0) < 0)
                        if (errno != EINTR)
                                return 2;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        ret = ret ?: (WIFEXITED(status) ? WEXITSTATUS(status) : 2);
        }
        return ret;
}
#else
int main(void) {
        fprintf(stderr, "sb-flood: x32 system calls exist on x86_64 only\n");
        return 77;
}
#endif
