/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysbroker_spawn(): fork, filter, register, exec in one call, made of the two hand-off halves (the child
 * is the inner side, the caller the outer one) and a CLOEXEC pipe that tells the caller whether the exec
 * happened. */

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "sysbroker-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(sysbroker_handoff *, sysbroker_handoff_free);

/* What the child writes to the pipe when it does not get to run argv; nothing is written when the exec
 * succeeds, and the pipe then closes by itself. */
typedef struct SpawnFailure {
        int32_t stage;
        int32_t error;          /* a positive errno */
} SpawnFailure;

enum {
        SPAWN_STAGE_HANDOFF,    /* filter, hand-off, or the parent's no */
        SPAWN_STAGE_EXEC,
};

static _Noreturn void spawn_child(sysbroker_handoff *h, int report_fd, char *const argv[],
                                  char *const envp[]) {
        SpawnFailure failure = { .stage = SPAWN_STAGE_HANDOFF };
        int r;

        /* The handoff's memory is the parent's to free: in the child only its inner end is used. */
        r = sysbroker_handoff_child(handoff_detach_child_fd(h), NULL);
        if (r == 0) {
                failure.stage = SPAWN_STAGE_EXEC;
                /* The pipe is O_CLOEXEC: a successful exec closes it, which is the parent's "it runs". */
                (void) execvpe(argv[0], argv, envp ?: environ);
                r = -errno;
        }
        failure.error = -r;
        (void) write(report_fd, &failure, sizeof failure);
        _exit(127);
}

/* Reaps the child that did not get to run argv (it exits by itself once told no or once it failed). */
static void spawn_reap(pid_t pid) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

/* Reads the child's report: 1 with *ret filled if it failed, 0 if the pipe closed empty (exec done, or the
 * child was killed before reporting). */
static int spawn_read_report(int fd, SpawnFailure *ret) {
        ssize_t n;

        do
                n = read(fd, ret, sizeof *ret);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return 0;
        if ((size_t) n != sizeof *ret || ret->error <= 0 || ret->error > 4095)
                return -EBADMSG;
        return 1;
}

/* The child's failure as a return value and *error (sd_bus_error_set*() would turn names of ours into
 * -EIO: the errno is returned as it is). */
static int spawn_failure(const SpawnFailure *f, const char *cmd, sd_bus_error *error) {
        if (f->stage == SPAWN_STAGE_EXEC)
                (void) sd_bus_error_setf(error, SYSBROKER_SPAWN_ERROR_EXEC, "Failed to execute '%s': %s",
                                         cmd, strerror(f->error));
        else if (f->error == EBUSY)
                (void) sd_bus_error_set(error, SYSBROKER_SPAWN_ERROR_FILTER,
                                        "Failed to install the seccomp filter: "
                                        "this process already runs under a seccomp listener.");
        else
                (void) sd_bus_error_setf(error, SYSBROKER_SPAWN_ERROR_FILTER,
                                         "Failed to install the seccomp filter: %s", strerror(f->error));
        return -f->error;
}

int sysbroker_spawn(
                sysbroker_client *client,
                const sysbroker_rules *rules,
                unsigned filter_flags,
                unsigned call_flags,
                char *const argv[],
                char *const envp[],
                sd_bus_error *error,
                pid_t *ret_pid,
                uint64_t *ret_listener_id) {

        _cleanup_(sysbroker_handoff_freep) sysbroker_handoff *h = NULL;
        _cleanup_close_ int report_read = -EBADF, report_write = -EBADF, listener = -EBADF;
        SpawnFailure failure;
        uint64_t id;
        int fds[2], r, k;
        pid_t pid;

        if (!client || !rules || !argv || !argv[0] ||
            (call_flags & ~SYSBROKER_CALL_ALLOW_INTERACTIVE_AUTHORIZATION) != 0)
                return -EINVAL;

        /* Checks the rules (not empty) and the filter flags, before anything is started. */
        r = sysbroker_handoff_new(rules, filter_flags, &h);
        if (r < 0)
                return r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();
        report_read = fds[0];
        report_write = fds[1];

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                spawn_child(h, report_write, argv, envp);

        report_write = safe_close(report_write);
        /* Ours closed, a child that fails before sending the listener ends the wait below with -EPIPE. */
        sysbroker_handoff_close_child_fd(h);

        r = sysbroker_handoff_receive_listener(h, &listener);
        if (r < 0) {
                h = sysbroker_handoff_free(h);
                k = spawn_read_report(report_read, &failure);
                spawn_reap(pid);
                if (k > 0)
                        return spawn_failure(&failure, argv[0], error);
                (void) sd_bus_error_set_errnof(error, r, "The child went away before handing over its "
                                               "listener: %s", strerror(-r));
                return r;
        }

        r = sysbroker_client_register(client, listener, rules, call_flags, error, NULL, &id);
        /* Only sysbrokerd may hold the listener: whoever holds it can answer the child's calls. */
        listener = safe_close(listener);
        if (r < 0) {
                /* The child learns no and exits without running argv; its report is of no interest. */
                (void) sysbroker_handoff_answer(h, r, NULL);
                h = sysbroker_handoff_free(h);
                spawn_reap(pid);
                if (error && !sd_bus_error_is_set(error))
                        (void) sd_bus_error_set_errnof(error, r, "Failed to register the listener: %s",
                                                       strerror(-r));
                return r;
        }

        r = sysbroker_handoff_answer(h, 0, NULL);
        h = sysbroker_handoff_free(h);
        /* If the go was not delivered, the child is gone: the report (or its absence) says why. */

        k = spawn_read_report(report_read, &failure);
        if (k > 0) {
                spawn_reap(pid);
                return spawn_failure(&failure, argv[0], error);
        }
        if (k < 0 || r < 0) {
                /* Nothing to tell what happened: make sure nothing runs unaccounted for. */
                (void) kill(pid, SIGKILL);
                spawn_reap(pid);
                r = k < 0 ? k : r;
                (void) sd_bus_error_set_errnof(error, r, "Failed to start '%s': %s", argv[0], strerror(-r));
                return r;
        }

        if (ret_pid)
                *ret_pid = pid;
        if (ret_listener_id)
                *ret_listener_id = id;
        return 0;
}
