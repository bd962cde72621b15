/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper for the integration suite (run as root): a listener registered by one uid for a process that
 * runs as another. A child installs the filter, hands its listener fd over, becomes TARGET_UID and, once
 * told, calls mknod(PATH, c 1:3); another child becomes OWNER_UID and registers that fd with sysbrokerd
 * on the system bus, with a rule that emulates exactly that call. Prints "registered", then the mknod's
 * outcome as "mknod=ok" or "mknod=ERRNO". What sysbroker ran as a filter of its own it cannot show:
 * sysbrokerctl always registers for its own child.
 *
 *     sb-foreign TARGET_UID OWNER_UID PATH */

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-passing.h"
#include "macro.h"
#include "sysbroker.h"

static int become(uid_t uid) {
        if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                return -errno;
        return 0;
}

/* The sandboxed process: its filter's listener goes to the parent, then it waits for the go byte. */
DEFINE_TRIVIAL_CLEANUP_FUNC(sysbroker_rules *, sysbroker_rules_free);

static int run_target(int sock, uid_t uid, const char *path, const sysbroker_rules *rules) {
        char go;
        int listener, r;

        listener = sysbroker_install_filter(rules, 0);
        if (listener < 0 || fd_send(sock, listener) < 0)
                return 2;
        close(listener);
        if (become(uid) < 0)
                return 2;
        if (read(sock, &go, 1) != 1)
                return 2;
        r = mknod(path, S_IFCHR | 0666, makedev(1, 3)) < 0 ? errno : 0;
        printf("mknod=%s\n", r == 0 ? "ok" : strerrorname_np(r));
        fflush(stdout);
        return 0;
}

static int run_owner(int listener, uid_t uid, const sysbroker_rules *rules) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sysbroker_client *client = NULL;
        int r;

        if (become(uid) < 0)
                return 2;
        r = sysbroker_client_open_system(&client);
        if (r >= 0)
                r = sysbroker_client_register(client, listener, rules, 0, &error, NULL, NULL);
        sysbroker_client_free(client);
        if (r < 0) {
                fprintf(stderr, "registration failed: %s\n", error.message ?: strerror(-r));
                return 1;
        }
        printf("registered\n");
        fflush(stdout);
        return 0;
}

static int wait_status(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return 2;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

int main(int argc, char **argv) {
        _cleanup_(sysbroker_rules_freep) sysbroker_rules *rules = NULL;
        char spec[4096];
        int sv[2], listener;
        pid_t target, owner;
        uid_t target_uid, owner_uid;

        if (argc != 4) {
                fprintf(stderr, "usage: %s TARGET_UID OWNER_UID PATH\n", argv[0]);
                return 2;
        }
        target_uid = (uid_t) strtoul(argv[1], NULL, 10);
        owner_uid = (uid_t) strtoul(argv[2], NULL, 10);
        snprintf(spec, sizeof spec, "c 1:3 %s", argv[3]);
        if (sysbroker_rules_new(&rules) < 0 ||
            sysbroker_rules_add_mknod_spec(rules, SYSBROKER_ACTION_EMULATE, spec) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                fprintf(stderr, "setup failed\n");
                return 2;
        }

        target = fork();
        if (target < 0)
                return 2;
        if (target == 0) {
                close(sv[0]);
                _exit(run_target(sv[1], target_uid, argv[3], rules));
        }
        close(sv[1]);
        listener = fd_receive(sv[0]);
        if (listener < 0) {
                fprintf(stderr, "no listener from the target\n");
                (void) kill(target, SIGKILL);
                return 2;
        }

        owner = fork();
        if (owner < 0)
                return 2;
        if (owner == 0)
                _exit(run_owner(listener, owner_uid, rules));
        close(listener);
        if (wait_status(owner) != 0) {
                (void) kill(target, SIGKILL);
                (void) wait_status(target);
                return 1;
        }

        if (write(sv[0], "g", 1) != 1)
                return 2;
        return wait_status(target);
}
