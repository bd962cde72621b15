/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The handlers' toolkit, per call of a listener thread: the answers they decide on, the credential bracket,
 * the checks every emulation passes (owner, host path), where a lookup starts, and the rate-limited log of
 * what a sandbox caused. The loop that calls the handlers is supervise.c. */

#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

#include "host-path.h"
#include "log.h"
#include "log-limit.h"
#include "message-id.h"
#include "persist.h"
#include "supervisor.h"

Answer answer_default(Supervisor *s) {
        s->by_default = true;
        return s->listener->default_deny ? ANSWER_DENIED_OF(EPERM) : ANSWER_CONTINUE_NOW;
}

Answer answer_rule(const Rule *r) {
        switch (r->action) {
        case RULE_ACTION_DENY:
                return ANSWER_DENIED_OF(r->deny_errno);
        case RULE_ACTION_CONTINUE:
                return ANSWER_CONTINUE_NOW;
        case RULE_ACTION_EMULATE:
        case _RULE_ACTION_MAX:
        case _RULE_ACTION_INVALID:
        default:
                /* An emulate rule is answered by its emulation, never by CONTINUE (invariant 5). */
                return ANSWER_DENIED_OF(EPERM);
        }
}

Answer answer_failure(int r) {
        switch (r) {
        case -EFAULT:
        case -ENAMETOOLONG:
                return ANSWER_ERRNO_OF(-r);
        default:
                return ANSWER_ERRNO_OF(ESRCH);
        }
}

bool supervisor_leave(Supervisor **entered) {
        Supervisor *s = *entered;

        if (!s)
                return true;
        *entered = NULL;
        if (target_leave() < 0)
                s->broken = true;
        return !s->broken;
}

bool supervisor_target_may_use(Supervisor *s, const Target *t, const char *what, const char *path) {
        Listener *l = s->listener;

        if (t->controlled_by_owner)
                return true;
        supervisor_log_refusal(s, path, t->tid, "task %i (uid %u) is not controlled by the listener's owner (uid %u), "
                               "denying %s '%s'.", t->tid, t->uid, l->owner_uid, what, path);
        return false;
}

bool supervisor_is_hosts(Supervisor *s, const Target *t, const char *what, const char *path, const struct stat *st,
                         bool directory) {
        HostPathUnsafe unsafe;
        int r;

        r = host_path_same(path, st, directory, &unsafe);
        if (r > 0)
                return true;
        if (r == -ENOLINK)
                supervisor_log_refusal(s, path, t->tid, "%s '%s' by task %i: the host's path leads through an unsafe "
                                       "symlink at '%s' (owned by uid %u, in a directory of uid %u, mode %04o), "
                                       "denying.", what, path, t->tid, unsafe.path, unsafe.uid, unsafe.dir_uid,
                                       (unsigned) unsafe.dir_mode);
        else
                supervisor_log_refusal(s, path, t->tid, "'%s' in the view of task %i is not the host's '%s' (a mount "
                                       "of the sandbox's own?), denying.", path, t->tid, path);
        return false;
}



/* The listener's own summary of what its limit held back, itself counted against its owner's. */
void supervisor_log_say_suppressed(Supervisor *s) {
        assert(s);

        if (s->log_suppressed == 0)
                return;
        if (log_limit_owner_admit(s->listener->account_uid, s->log_suppressed))
                log_info("Listener %" PRIu64 ": %u more decisions not logged.", s->listener->id,
                         s->log_suppressed);
        s->log_suppressed = 0;
}

/* Every line a sandbox's behaviour may cause goes through here: at most LOG_BURST per LOG_INTERVAL for the
 * listener, and OWNER_LOG_BURST for all listeners of its owner. Checked before anything is formatted. */
static bool supervisor_log_admit(Supervisor *s, int level) {
        uint64_t now;

        if (log_get_max_level() < level)
                return false;
        now = log_limit_now_usec();
        if (now - s->log_window_start >= LOG_INTERVAL_USEC) {
                supervisor_log_say_suppressed(s);
                s->log_window_start = now;
                s->log_in_window = 0;
        }
        if (s->log_in_window >= LOG_BURST) {
                s->log_suppressed++;
                return false;
        }
        s->log_in_window++;
        return log_limit_owner_admit(s->listener->account_uid, 1);
}

static void supervisor_logv(Supervisor *s, int level, RuleAction decision, int error, const char *path, pid_t pid,
                            const char *format, va_list ap) _printf_(7, 0);
static void supervisor_logv(Supervisor *s, int level, RuleAction decision, int error, const char *path, pid_t pid,
                            const char *format, va_list ap) {
        char message[1024], listener[64], owner[64], syscall_field[64], decision_field[64], pid_field[64],
                errno_field[64];
        _cleanup_free_ char *path_field = NULL, *description = NULL;
        const char *fields[12];
        size_t n = 0;

        /* Whether it makes it past the limits or not: the call's decision is accounted for, and the loop
         * does not add a line of the default action's on top (supervisor_log_default()). */
        s->decision_logged = true;
        if (!supervisor_log_admit(s, level))
                return;

        n = (size_t) snprintf(message, sizeof message, "Listener %" PRIu64 ": ", s->listener->id);
        (void) vsnprintf(message + n, sizeof message - n, format, ap);

        n = 0;
        /* A failed emulation is a record of its own: what failed is for the admin to look into, unlike
         * a decision the rules made. */
        fields[n++] = decision == RULE_ACTION_EMULATE && error != 0 ?
                SB_MESSAGE_ID(SB_MESSAGE_EMULATION_FAILED) : SB_MESSAGE_ID(SB_MESSAGE_DECISION);
        n += listener_log_fields(s->listener, listener, owner, &description, fields + n);
        snprintf(syscall_field, sizeof syscall_field, "SYSBROKER_SYSCALL=%s", notify_syscall_to_string(s->call));
        fields[n++] = syscall_field;
        snprintf(decision_field, sizeof decision_field, "SYSBROKER_DECISION=%s", rule_action_to_string(decision));
        fields[n++] = decision_field;
        snprintf(pid_field, sizeof pid_field, "SYSBROKER_PID=%i", (int) pid);
        fields[n++] = pid_field;
        if (path && asprintf(&path_field, "SYSBROKER_PATH=%s", path) >= 0)
                fields[n++] = path_field;
        if (error != 0) {
                snprintf(errno_field, sizeof errno_field, "SYSBROKER_ERRNO=%i", error);
                fields[n++] = errno_field;
        }
        fields[n] = NULL;
        log_struct(level, fields, message);
}

void supervisor_log_decision(Supervisor *s, RuleAction decision, int error, const char *path, pid_t pid,
                             const char *format, ...) {
        va_list ap;

        assert(s && format);

        va_start(ap, format);
        supervisor_logv(s, decision == RULE_ACTION_CONTINUE ? LOG_DEBUG : LOG_INFO, decision, error, path, pid,
                        format, ap);
        va_end(ap);
}

void supervisor_log_refusal(Supervisor *s, const char *path, pid_t pid, const char *format, ...) {
        va_list ap;

        assert(s && format);

        va_start(ap, format);
        supervisor_logv(s, LOG_WARNING, RULE_ACTION_DENY, EPERM, path, pid, format, ap);
        va_end(ap);
}

void supervisor_log_refusal_errno(Supervisor *s, int error, const char *path, pid_t pid, const char *format, ...) {
        va_list ap;

        assert(s && format);

        va_start(ap, format);
        supervisor_logv(s, LOG_WARNING, RULE_ACTION_DENY, error, path, pid, format, ap);
        va_end(ap);
}

static void supervisor_log_default_wrapper(Supervisor *s, int level, RuleAction decision, int error, pid_t pid,
                                           const char *format, ...) _printf_(6, 7);
static void supervisor_log_default_wrapper(Supervisor *s, int level, RuleAction decision, int error, pid_t pid,
                                           const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        supervisor_logv(s, level, decision, error, NULL, pid, format, ap);
        va_end(ap);
}

void supervisor_log_default(Supervisor *s, Answer a) {
        pid_t pid;
        char call[64];

        assert(s);

        /* Said by the handler already (a refusal that fell back to the default), or not the default's. */
        if (s->decision_logged || !s->by_default)
                return;
        pid = (pid_t) s->buffers.req->pid;
        if (s->call == _NOTIFY_SYSCALL_UNKNOWN)
                snprintf(call, sizeof call, "syscall %i", s->buffers.req->data.nr);
        else
                snprintf(call, sizeof call, "%s", notify_syscall_to_string(s->call));
        /* A sandbox that fails where no rule applies must leave a trace an admin finds at the default level
         * (`journalctl SYSBROKER_DECISION=deny`); the kernel doing the call (continue) is only for debugging.
         * The same limits as any line a sandbox causes: per listener, then per owner. */
        if (a.kind == ANSWER_ERRNO)
                supervisor_log_default_wrapper(s, LOG_INFO, RULE_ACTION_DENY, a.error, pid,
                                               "%s by task %i: no rule applies, denied by the listener's default "
                                               "action (%s).", call, (int) pid, strerrorname_np(a.error) ?: "?");
        else
                supervisor_log_default_wrapper(s, LOG_DEBUG, RULE_ACTION_CONTINUE, 0, pid,
                                               "%s by task %i: no rule applies, continued by the listener's "
                                               "default action.", call, (int) pid);
}

int supervisor_enter_lookup(Supervisor *s, Target *t, const char *path, int dirfd, bool dirfd_for_absolute,
                            int *ret_start) {
        bool from_cwd = (path[0] != '/' || dirfd_for_absolute) && dirfd == AT_FDCWD;
        int r;

        r = target_enter_dirs(t, s->listener->fd, supervisor_id(s), from_cwd);
        if (r < 0)
                return r;
        *ret_start = -EBADF;
        if ((path[0] == '/' && !dirfd_for_absolute) || from_cwd)
                return 0;
        return target_get_fd(t, s->listener->fd, supervisor_id(s), dirfd, ret_start);
}

bool split_last_component(char *path, const char **ret_dir, const char **ret_name) {
        size_t l = strlen(path);
        char *slash;

        if (l == 0 || path[l - 1] == '/')
                return false;
        slash = strrchr(path, '/');
        if (!slash) {
                *ret_dir = ".";
                *ret_name = path;
        } else {
                *slash = 0;
                *ret_dir = slash == path ? "/" : path;
                *ret_name = slash + 1;
        }
        return !streq(*ret_name, ".") && !streq(*ret_name, "..");
}

int join_path(int dir_fd, const char *name, char **ret) {
        _cleanup_free_ char *dir = NULL;

        if (fd_get_path(dir_fd, &dir) < 0)
                return -ENOENT;
        if (asprintf(ret, "%s%s%s", dir, streq(dir, "/") ? "" : "/", name) < 0)
                return -ENOMEM;
        return 0;
}

void supervisor_note_abandoned(Supervisor *s) {
        pid_t pid = (pid_t) s->buffers.req->pid;

        if (s->told_abandoned || kill(pid, 0) < 0)
                return;
        s->told_abandoned = true;
        if (supervisor_log_admit(s, LOG_NOTICE))
                log_notice("Listener %" PRIu64 ": task %i gave up a call after the broker performed it (a signal). "
                           "Its filter lacks SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: a restarted call is done "
                           "again, and may fail (EEXIST) where the first one succeeded.", s->listener->id, (int) pid);
}

void supervisor_record_decision(Supervisor *s, Answer a) {
        persist_record_decision(s->listener, s->buffers.req->id, (int32_t) a.kind, a.error, a.value);
}

void supervisor_record_result(Supervisor *s, int64_t result) {
        supervisor_record_decision(s, result < 0 ? ANSWER_ERRNO_OF((int) -result) : (Answer) { .kind = ANSWER_VALUE, .value = result });
}
