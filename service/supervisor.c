/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The handlers' toolkit, per call of a listener thread: the answers they decide on, the credential bracket,
 * the checks every emulation passes (owner, host path), where a lookup starts, and the rate-limited log of
 * what a sandbox caused. The loop that calls the handlers is supervise.c. */

#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

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

int answer_default_errno(const Supervisor *s) {
        return s->listener->default_deny ? EPERM : 0;
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

bool supervisor_is_hosts(Supervisor *s, const Target *t, const Rule *rule, const char *what, const char *path,
                         const struct stat *st, bool directory) {
        HostPathUnsafe unsafe;
        int r;

        r = host_path_same_in_root(s->listener->root_fd, path, st, directory, &unsafe);
        if (r > 0)
                return true;
        if (r == -ENOLINK)
                supervisor_refuse_rule(s, rule, path, t->tid, EPERM, "%s '%s' by task %i: the host's path leads through an "
                                       "unsafe symlink at '%s' (owned by uid %u, in a directory of uid %u, mode "
                                       "%04o), denying.", what, path, t->tid, unsafe.path, unsafe.uid,
                                       unsafe.dir_uid, (unsigned) unsafe.dir_mode);
        else
                supervisor_refuse_rule(s, rule, path, t->tid, EPERM, "'%s' in the view of task %i is not the host's '%s%s' (a "
                                       "mount of the sandbox's own?), denying. A rule's path is the host's: a file "
                                       "bound at another path needs HostPath.", path, t->tid,
                                       strempty(s->listener->root), path);
        return false;
}

int supervisor_open_mapped(const Rule *rule, const char *rel, HostPathFlags flags, int *ret_fd,
                           HostPathUnsafe *ret_unsafe) {
        _cleanup_close_ int dir = -EBADF;
        char below[PATH_MAX];
        int r;

        if (!rule->host_dir)
                return -EINVAL;
        r = host_path_open(rule->host_path, 0, &dir, ret_unsafe);
        if (r < 0)
                return r;
        r = host_path_open_beneath(dir, rel, flags, ret_fd, ret_unsafe);
        /* Where below the directory, as the host's path: what the log names. */
        if (r == -ENOLINK && ret_unsafe) {
                snprintf(below, sizeof below, "%s", ret_unsafe->path);
                (void) snprintf(ret_unsafe->path, sizeof ret_unsafe->path, "%s%s", rule->host_path, below);
        }
        return r;
}

/* The listener's own summary of what its limits held back, itself counted against its owner's. */
void supervisor_log_say_suppressed(Supervisor *s) {
        static const char *const what[_LOG_KIND_MAX] = {
                [LOG_KIND_DECISION] = "decisions",
                [LOG_KIND_DEFAULT] = "calls answered by the default action",
        };

        assert(s);

        for (LogKind k = 0; k < _LOG_KIND_MAX; k++) {
                if (s->log[k].suppressed == 0)
                        continue;
                if (log_limit_owner_admit_kind(k, s->listener->account_uid, s->log[k].suppressed))
                        log_info("Listener %" PRIu64 ": %u more %s not logged.", s->listener->id,
                                 s->log[k].suppressed, what[k]);
                s->log[k].suppressed = 0;
        }
}

/* Every line a sandbox's behaviour may cause goes through here: at most LOG_BURST per LOG_INTERVAL for the
 * listener, and OWNER_LOG_BURST for all listeners of its owner, each kind of line on budgets of its own.
 * Checked before anything is formatted. */
static bool supervisor_log_budget(Supervisor *s, LogKind kind) {
        uint64_t now = log_limit_now_usec();

        if (now - s->log[kind].window_start >= LOG_INTERVAL_USEC) {
                supervisor_log_say_suppressed(s);
                s->log[kind].window_start = now;
                s->log[kind].in_window = 0;
        }
        if (s->log[kind].in_window >= LOG_BURST) {
                s->log[kind].suppressed++;
                return false;
        }
        s->log[kind].in_window++;
        return log_limit_owner_admit_kind(kind, s->listener->account_uid, 1);
}

static bool supervisor_log_admit(Supervisor *s, LogKind kind, int level) {
        return log_get_max_level() >= level && supervisor_log_budget(s, kind);
}

/* The one place a sandbox's line is written, admitted already. rule: the index of the rule it is about, or -1. */
static void supervisor_log_write(Supervisor *s, int level, RuleAction decision, int error, const char *path,
                                 pid_t pid, ssize_t rule, const char *format, va_list ap) _printf_(8, 0);
static void supervisor_log_write(Supervisor *s, int level, RuleAction decision, int error, const char *path,
                                 pid_t pid, ssize_t rule, const char *format, va_list ap) {
        char message[2048], listener[64], owner[64], syscall_field[64], decision_field[64], pid_field[64],
                errno_field[64], rule_field[64];
        _cleanup_free_ char *path_field = NULL, *description = NULL;
        const char *fields[14];
        size_t n = 0;

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
        if (rule >= 0) {
                snprintf(rule_field, sizeof rule_field, "SYSBROKER_RULE=%zi", rule);
                fields[n++] = rule_field;
        }
        fields[n] = NULL;
        log_struct(level, fields, message);
}

static void supervisor_logv(Supervisor *s, LogKind kind, int level, RuleAction decision, int error,
                            const char *path, pid_t pid, const char *format, va_list ap) _printf_(8, 0);
static void supervisor_logv(Supervisor *s, LogKind kind, int level, RuleAction decision, int error,
                            const char *path, pid_t pid, const char *format, va_list ap) {
        /* Whether it makes it past the limits or not: the call's decision is accounted for, and the loop
         * does not add a line of the default action's on top (supervisor_log_default()). */
        s->decision_logged = true;
        if (supervisor_log_admit(s, kind, level))
                supervisor_log_write(s, level, decision, error, path, pid, -1, format, ap);
}

static void supervisor_log_write_args(Supervisor *s, int level, RuleAction decision, int error, const char *path,
                                      pid_t pid, ssize_t rule, const char *format, ...) _printf_(8, 9);
static void supervisor_log_write_args(Supervisor *s, int level, RuleAction decision, int error, const char *path,
                                      pid_t pid, ssize_t rule, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        supervisor_log_write(s, level, decision, error, path, pid, rule, format, ap);
        va_end(ap);
}

/* The owner reads what the sandbox named: as D-Bus needs it (UTF-8), and without the controls that could
 * forge or reorder lines on its terminal. Anything else is written \xNN, byte by byte. */
static char *owner_text(const char *s) {
        bool plain = utf8_is_valid(s) && !string_has_control(s) && !strchr(s, '\\');
        char *t, *q;

        if (plain)
                return strdup(s);
        t = malloc(strlen(s) * 4 + 1);
        if (!t)
                return NULL;
        q = t;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p >= 0x7f || *p == '\\')
                        q += sprintf(q, "\\x%02x", *p);
                else
                        *q++ = (char) *p;
        *q = 0;
        return t;
}

/* Hands a refusal to the main loop, which tells the owner (listener.h): never waits for it, and never
 * reaches the bus itself. A full queue drops it, counted. */
static void supervisor_queue_refusal(Supervisor *s, ListenerRefusal *f) {
        Listener *l = s->listener;
        uint64_t one = 1;
        bool queued = false;

        pthread_mutex_lock(&l->refusals_lock);
        if (l->n_refusals < LISTENER_REFUSALS_MAX) {
                f->missed += l->refusals_dropped;
                l->refusals_dropped = 0;
                l->refusals[l->n_refusals++] = *f;
                queued = true;
        } else
                l->refusals_dropped += 1 + f->missed;
        pthread_mutex_unlock(&l->refusals_lock);

        if (!queued) {
                listener_refusal_done(f);
                return;
        }
        (void) !write(l->refused_fd, &one, sizeof one);
}

void supervisor_log_decision(Supervisor *s, RuleAction decision, int error, const char *path, pid_t pid,
                             const char *format, ...) {
        va_list ap;

        assert(s && format);

        va_start(ap, format);
        supervisor_logv(s, LOG_KIND_DECISION, decision == RULE_ACTION_CONTINUE ? LOG_DEBUG : LOG_INFO, decision, error, path, pid,
                        format, ap);
        va_end(ap);
}

void supervisor_log_refusal(Supervisor *s, const char *path, pid_t pid, const char *format, ...) {
        va_list ap;

        assert(s && format);

        va_start(ap, format);
        supervisor_logv(s, LOG_KIND_DECISION, LOG_WARNING, RULE_ACTION_DENY, EPERM, path, pid, format, ap);
        va_end(ap);
}

void supervisor_refuse_rule(Supervisor *s, const Rule *rule, const char *path, pid_t pid, int error,
                            const char *format, ...) {
        _cleanup_free_ char *description = NULL;
        ListenerRefusal f;
        char reason[1024];
        ssize_t index;
        va_list ap;

        assert(s && rule && format);

        /* A refusal falls back to the default action: this line is the call's, the default adds none. */
        s->decision_logged = true;
        /* The owner is told of what is logged, no more: both under the listener's and the owner's budgets. */
        if (!supervisor_log_budget(s, LOG_KIND_DECISION)) {
                s->refusals_missed++;
                return;
        }

        va_start(ap, format);
        (void) vsnprintf(reason, sizeof reason, format, ap);
        va_end(ap);
        index = rule - s->listener->rules->rules;
        assert(index >= 0 && (size_t) index < s->listener->rules->n_rules);
        description = rule_describe(rule);

        if (log_get_max_level() >= LOG_WARNING)
                supervisor_log_write_args(s, LOG_WARNING, RULE_ACTION_DENY, error, path, pid, index,
                                          "rule %zi (%s) refused for task %i: %s", index, description ?: "?",
                                          (int) pid, reason);

        f = (ListenerRefusal) {
                .rule = (uint32_t) index,
                .pid = pid,
                .rule_description = owner_text(description ?: "?"),
                .path = owner_text(strempty(path)),
                .reason = owner_text(reason),
                .missed = s->refusals_missed,
        };
        if (!f.rule_description || !f.path || !f.reason) {
                listener_refusal_done(&f);
                s->refusals_missed++;
                return;
        }
        s->refusals_missed = 0;
        supervisor_queue_refusal(s, &f);
}

void supervisor_log_refusal_errno(Supervisor *s, int error, const char *path, pid_t pid, const char *format, ...) {
        va_list ap;

        assert(s && format);

        va_start(ap, format);
        supervisor_logv(s, LOG_KIND_DECISION, LOG_WARNING, RULE_ACTION_DENY, error, path, pid, format, ap);
        va_end(ap);
}

static void supervisor_log_default_wrapper(Supervisor *s, int level, RuleAction decision, int error, pid_t pid,
                                           const char *format, ...) _printf_(6, 7);
static void supervisor_log_default_wrapper(Supervisor *s, int level, RuleAction decision, int error, pid_t pid,
                                           const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        supervisor_logv(s, LOG_KIND_DEFAULT, level, decision, error, NULL, pid, format, ap);
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
        if (supervisor_log_admit(s, LOG_KIND_DECISION, LOG_NOTICE))
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
