/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the per-syscall handlers of a listener thread share (supervisor.c): the thread's state, the answer
 * they decide on, and the steps every path-taking handler goes through (read the path, find where its lookup
 * starts, take on the target's credentials and leave them). The loop calling the handlers is supervise.c. */
#pragma once

#include "fs-util.h"
#include "host-path.h"
#include "listener.h"
#include "log-limit.h"
#include "notify.h"
#include "rule.h"
#include "target.h"

typedef struct Supervisor Supervisor;

struct Supervisor {
        Listener *listener;
        /* Set by the loop (supervise.c), which owns the signal gate: see supervisor_begin_answer(). */
        void (*begin_answer)(Supervisor *s);
        NotifyBuffers buffers;
        NotifySyscall call;        /* the call being answered, for the log */
        bool resumed;              /* a call the previous daemon received but did not answer: it may have
                                    * done it already, just before it died */
        bool broken;               /* could not return to our own context: stop serving */
        bool told_abandoned;       /* logged once that a task gave up a call we had performed */
        bool by_default;           /* this call: answered by the listener's default action (answer_default()) */
        bool decision_logged;      /* this call: a decision or refusal was logged (or held back by a limit) */

        /* Every line a sandbox's behaviour causes counts, at most LOG_BURST per LOG_INTERVAL for each kind of
         * line (and its owner's limit on top, log-limit.h): a busy sandbox must not flood the journal. */
        struct {
                uint64_t window_start;
                unsigned in_window;
                unsigned suppressed;
        } log[_LOG_KIND_MAX];
        unsigned refusals_missed;  /* the owner was not told of these (supervisor_refuse_rule()) */
};

/* A decision: answer with a value, an errno, CONTINUE, or nothing more (ADDFD with SEND answered). */
typedef struct Answer {
        enum { ANSWER_VALUE, ANSWER_ERRNO, ANSWER_CONTINUE, ANSWER_SENT } kind;
        int64_t value;             /* ANSWER_VALUE */
        int error;                 /* ANSWER_ERRNO, positive */
        bool denied;               /* by policy (counted as Denied), not a failure (counted as Failed) */
} Answer;

#define ANSWER_CONTINUE_NOW ((Answer) { .kind = ANSWER_CONTINUE })
#define ANSWER_ERRNO_OF(e) ((Answer) { .kind = ANSWER_ERRNO, .error = (e) })
#define ANSWER_DENIED_OF(e) ((Answer) { .kind = ANSWER_ERRNO, .error = (e), .denied = true })

/* Before answering (SEND, or ADDFD with SEND): from here on, nothing interrupts the thread. */
static inline void supervisor_begin_answer(Supervisor *s) {
        s->begin_answer(s);
}
/* The answer to a call we performed found it gone (ENOENT): says once per listener why that matters, if the
 * task lives on (a signal made it give up the call, rather than death). */
void supervisor_note_abandoned(Supervisor *s);

static inline uint64_t supervisor_id(const Supervisor *s) {
        return s->buffers.req->id;
}

/* Says how many lines the listener's own limit held back, if any (at a window's end, and at the thread's). */
void supervisor_log_say_suppressed(Supervisor *s);

/* What was decided, in the state page (see persist.h), before it is sent: a daemon that dies in between
 * must not do the call again (a second mknod would say EEXIST), only send this. */
void supervisor_record_decision(Supervisor *s, Answer a);
/* An emulation's result, noted (in the state page, see persist.h) right after the privileged call, before
 * anything else: a daemon that dies after acting sends this rather than act a second time. */
void supervisor_record_result(Supervisor *s, int64_t result);

/* No rule applies: the listener's default action. */
Answer answer_default(Supervisor *s);
/* What answer_default() will answer with: EPERM, or 0 for the kernel's (continue). For the log. */
int answer_default_errno(const Supervisor *s);
/* A deny or continue rule matched. */
Answer answer_rule(const Rule *r);
/* Reading the target failed: EFAULT and ENAMETOOLONG as the kernel says them, else the target is gone. */
Answer answer_failure(int r);

/* The credential bracket. Entered, a handler may take on a target's credentials and one capability
 * (target_take_credentials(), target_raise_capability()); leaving returns to the broker's own, and must
 * follow whether taking them succeeded or not. Scoped, so that no exit can forget it:
 *
 *         entered = supervisor_enter(s);   with   _cleanup_(supervisor_leavep) Supervisor *entered = NULL;
 *
 * An exit that logs or acts after leaving leaves first and checks: if (!supervisor_leave(&entered)) return
 * ANSWER_ERRNO_OF(EIO);. Any other exit leaves at the scope's end. If leaving fails the thread's state is
 * unknown: s->broken is set, the loop answers EIO whatever the handler decided, and the thread stops, rather
 * than emulate anything else from there (supervise.c). */
static inline Supervisor *supervisor_enter(Supervisor *s) {
        return s;
}
/* Leaves if still entered (and forgets that it was: *entered is NULL after); false if the thread is broken. */
bool supervisor_leave(Supervisor **entered);
static inline void supervisor_leavep(Supervisor **entered) {
        (void) supervisor_leave(entered);
}
/* Invariant 4, right before emulating: logged when refused. */
bool supervisor_target_may_use(Supervisor *s, const Target *t, const char *what, const char *path);
/* The host check of open and mknod: is st, what the target reached at path in its own view, the file the
 * broker finds at path below the listener's root (with directory: the directory a new name goes in, path being
 * that directory's), resolved safely (host-path.h)? A sandbox with a mount namespace of its own could otherwise put
 * anything it can look up where a rule allows, or a user make the host's path a symlink to match what the
 * sandbox put there. When not, refused by rule (supervisor_refuse_rule()): not the host's, or an unsafe
 * symlink on the host's path. */
bool supervisor_is_hosts(Supervisor *s, const Target *t, const Rule *rule, const char *what, const char *path,
                         const struct stat *st, bool directory);
/* A directory mapping's file (rule->host_dir): rel (relative, "" for the directory itself) resolved beneath
 * the rule's host directory, itself resolved safely in the broker's view, with the thread's current
 * credentials (host-path.h): as O_PATH. -EXDEV if it leads out of the directory, -ENOLINK for an unsafe symlink
 * (*ret_unsafe says where, in the broker's view), else the -errno the walk met; 1 under
 * HOST_PATH_CHECK_WRITERS for a directory on the way that is not root's alone. */
int supervisor_open_mapped(const Rule *rule, const char *rel, HostPathFlags flags, int *ret_fd,
                           HostPathUnsafe *ret_unsafe);
/* A decision by rule (an emulation and its result, a denial, a continue), and a refusal of a view or task
 * that does not qualify: logged with journal fields MESSAGE_ID= (SB_MESSAGE_DECISION, or
 * SB_MESSAGE_EMULATION_FAILED), SYSBROKER_LISTENER=, SYSBROKER_OWNER_UID=, SYSBROKER_DESCRIPTION=,
 * SYSBROKER_SYSCALL=, SYSBROKER_DECISION= (emulate, deny, continue), SYSBROKER_PATH=, SYSBROKER_PID= and, for a
 * denial or a failed emulation, SYSBROKER_ERRNO=. Continues at debug, emulations and denials at info, refusals
 * at warning; rate-limited per listener and per owner uid, so neither a sandbox nor a user's many listeners can
 * flood the journal. error: the errno the call is answered with (a denial's, or the emulation's), 0 if none. */
void supervisor_log_decision(Supervisor *s, RuleAction decision, int error, const char *path, pid_t pid,
                             const char *format, ...) _printf_(6, 7);
void supervisor_log_refusal(Supervisor *s, const char *path, pid_t pid, const char *format, ...) _printf_(4, 5);
/* A rule that matches, refused for a reason its owner can fix: the file is not the host's, a nodev mount, an
 * unsafe symlink on a host path, outside a directory mapping. Every such refusal goes through here: one line at
 * warning, "rule N (its rule_describe()) refused for task P: <reason>", with SYSBROKER_RULE=N besides the
 * fields above, and the same words to the listener's owner (the RuleRefused signal, sent by the main loop to
 * the registrant's connection only). Both under the same rate limits as every line (one admission for both);
 * what the owner missed is counted in the next signal. error: the errno the call is answered with
 * (SYSBROKER_ERRNO; 0 if it goes on to the kernel: a default action of continue). format: the reason, naming
 * what was wrong. */
void supervisor_refuse_rule(Supervisor *s, const Rule *rule, const char *path, pid_t pid, int error,
                            const char *format, ...) _printf_(6, 7);
/* A refusal answered with another errno than EPERM. */
void supervisor_log_refusal_errno(Supervisor *s, int error, const char *path, pid_t pid, const char *format, ...)
        _printf_(5, 6);
/* After the handler: a call answered by the listener's default action that no line was logged about yet
 * (denied: at info, continued: at debug), with the same fields (no SYSBROKER_PATH: the handlers may not
 * have read one), on limits of its own (LOG_KIND_DEFAULT): a loader denied by the hundred never silences
 * what the rules did or why one was refused. */
void supervisor_log_default(Supervisor *s, Answer a);

/* Takes on the target's root (and cwd, for a path relative to AT_FDCWD) and returns where a lookup of path
 * starts: -EBADF for AT_FDCWD (absolute, or relative to the cwd just entered), else a copy of the dirfd the
 * target passed (for absolute paths too with dirfd_for_absolute: openat2's RESOLVE_IN_ROOT and BENEATH). */
int supervisor_enter_lookup(Supervisor *s, Target *t, const char *path, int dirfd, bool dirfd_for_absolute,
                            int *ret_start);

/* Splits path in place into directory and last component; false for names the kernel treats specially
 * ("", trailing '/', ".", ".."), which handlers leave to the kernel. */
bool split_last_component(char *path, const char **ret_dir, const char **ret_name);
/* The absolute path of "dir_fd/name" in the current root's view. */
int join_path(int dir_fd, const char *name, char **ret);

static inline int at_fd(int fd) {
        return fd >= 0 ? fd : AT_FDCWD;
}

Answer handle_mknod(Supervisor *s, NotifySyscall call);
Answer handle_open(Supervisor *s, NotifySyscall call);
Answer handle_mount(Supervisor *s);
Answer handle_umount(Supervisor *s);
