/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One thread per listener answers that listener's notifications. Blocking work (target memory, paths on
 * FUSE/NFS, the emulated call) happens here, never on the main loop, and stalls only this listener
 * (invariant 7); a timer interrupts an emulated call that blocks too long. */

#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "emulate.h"
#include "log.h"
#include "notify.h"
#include "supervise.h"
#include "target.h"

#define SIGNAL_INTERRUPT (SIGRTMIN + 1)

#define COUNT(l, field) __atomic_fetch_add(&(l)->counters.field, 1, __ATOMIC_RELAXED)

static void on_interrupt(int sig) {
        /* Nothing: its only job is to make the blocked syscall return EINTR. */
}

int supervise_setup(void) {
        struct sigaction sa = { .sa_handler = on_interrupt }; /* no SA_RESTART: interrupt, don't resume */

        if (sigaction(SIGNAL_INTERRUPT, &sa, NULL) < 0)
                return log_error_errno(-errno, "Failed to install the interrupt handler: %m");
        return notify_syscalls_init();
}

typedef struct Supervisor {
        Listener *listener;
        NotifyBuffers buffers;
        timer_t timer;
        bool have_timer;
        bool broken;               /* could not return to our own context: stop serving */
} Supervisor;

/* A decision: answer with a value, an errno, or CONTINUE. */
typedef struct Answer {
        enum { ANSWER_VALUE, ANSWER_ERRNO, ANSWER_CONTINUE } kind;
        int64_t value;             /* ANSWER_VALUE */
        int error;                 /* ANSWER_ERRNO, positive */
} Answer;

#define ANSWER_CONTINUE_NOW ((Answer) { .kind = ANSWER_CONTINUE })
#define ANSWER_ERRNO_OF(e) ((Answer) { .kind = ANSWER_ERRNO, .error = (e) })

static Answer answer_default(Supervisor *s) {
        return s->listener->default_deny ? ANSWER_ERRNO_OF(EPERM) : ANSWER_CONTINUE_NOW;
}

static Answer answer_rule(const Rule *r) {
        switch (r->action) {
        case RULE_ACTION_DENY:
                return ANSWER_ERRNO_OF(r->deny_errno);
        case RULE_ACTION_CONTINUE:
                return ANSWER_CONTINUE_NOW;
        case RULE_ACTION_EMULATE:
        case _RULE_ACTION_MAX:
        case _RULE_ACTION_INVALID:
        default:
                /* An emulate rule is answered by its emulation, never by CONTINUE (invariant 5). */
                return ANSWER_ERRNO_OF(EPERM);
        }
}

/* Back to the broker's own context. If that fails the thread's state is unknown: it answers this call with
 * EIO and then stops, rather than emulate anything else from there. */
static bool leave(Supervisor *s) {
        if (target_leave() < 0)
                s->broken = true;
        return !s->broken;
}

static void arm_timer(Supervisor *s, bool on) {
        struct itimerspec its = {};

        if (!s->have_timer)
                return;
        if (on)
                its.it_value.tv_sec = EMULATION_TIMEOUT_SEC;
        (void) timer_settime(s->timer, 0, &its, NULL);
}

/* Splits "a/b/c" into a directory part and the last component, as the kernel's last-component lookup does.
 * Returns false for names the kernel treats specially ("", "/", trailing "/", ".", ".."): those we leave
 * to the kernel. */
static bool split_last_component(char *path, const char **ret_dir, const char **ret_name) {
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

/* mknod(path, mode, dev) and mknodat(dirfd, path, mode, dev). */
static Answer handle_mknod(Supervisor *s, NotifySyscall call) {
        Listener *l = s->listener;
        const struct seccomp_notif *req = s->buffers.req;
        const __u64 *args = req->data.args;
        bool at = call == NOTIFY_SYSCALL_MKNODAT;
        int dirfd = at ? (int) args[0] : AT_FDCWD;
        uint64_t path_address = args[at ? 1 : 0];
        /* The kernel takes umode_t and a 32-bit dev: truncate exactly as it does. */
        mode_t mode = (mode_t) (uint16_t) args[at ? 2 : 1];
        uint32_t dev = (uint32_t) args[at ? 3 : 2];
        uint32_t major = (dev & 0xfff00) >> 8, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
        _cleanup_(target_done) Target t = TARGET_NULL;
        _cleanup_close_ int dir_copy = -EBADF, parent = -EBADF;
        _cleanup_free_ char *parent_path = NULL, *full = NULL;
        char path[PATH_MAX];
        const char *dir, *name;
        const Rule *rule;
        int64_t result;
        int r;

        /* Cheap first: without a rule for this device nothing needs the target's memory. */
        if (!S_ISCHR(mode) && !S_ISBLK(mode))
                return answer_default(s);
        if (!rule_set_find_mknod_device(l->rules, mode, major, minor))
                return answer_default(s);

        r = target_open(&t, l->fd, req->id, (pid_t) req->pid);
        if (r < 0)
                return ANSWER_ERRNO_OF(-r);

        /* Invariant 2: one copy of the path; everything below uses only this copy. */
        r = notify_read_string(t.tid, path_address, path, sizeof path);
        if (r < 0)
                return r == -EFAULT || r == -ENAMETOOLONG ? ANSWER_ERRNO_OF(-r) : ANSWER_ERRNO_OF(ESRCH);
        r = notify_id_valid(l->fd, req->id);
        if (r < 0)
                return ANSWER_ERRNO_OF(-r);

        if (!split_last_component(path, &dir, &name))
                return answer_default(s);

        if (at && dirfd != AT_FDCWD && path[0] != '/') {
                r = target_get_fd(&t, l->fd, req->id, dirfd, &dir_copy);
                if (r < 0)
                        return answer_default(s); /* EBADF and friends: the kernel says it best */
        }

        r = target_enter(&t, l->fd, req->id, dir_copy);
        if (r < 0) {
                if (!leave(s))
                        return ANSWER_ERRNO_OF(EIO);
                log_debug_errno(r, "Listener %" PRIu64 ": cannot enter the context of task %i: %m", l->id, t.tid);
                return ANSWER_ERRNO_OF(r == -ENOENT ? ESRCH : -r);
        }

        /* Resolve the directory as the target would, then match the path it actually reaches. */
        arm_timer(s, true);
        parent = openat(AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        arm_timer(s, false);
        if (parent < 0 || fd_get_path(parent, &parent_path) < 0 ||
            asprintf(&full, "%s%s%s", parent_path, streq(parent_path, "/") ? "" : "/", name) < 0) {
                full = NULL;
                if (!leave(s))
                        return ANSWER_ERRNO_OF(EIO);
                return answer_default(s);
        }

        rule = rule_set_match_mknod(l->rules, full, mode, major, minor);
        if (!rule || rule->action != RULE_ACTION_EMULATE) {
                if (!leave(s))
                        return ANSWER_ERRNO_OF(EIO);
                if (rule)
                        log_info("Listener %" PRIu64 ": mknod %c %u:%u '%s' by task %i: %s by rule.", l->id,
                                 S_ISCHR(mode) ? 'c' : 'b', major, minor, full, t.tid,
                                 rule_action_to_string(rule->action));
                return rule ? answer_rule(rule) : answer_default(s);
        }

        r = target_is_controlled_by(&t, l->owner_uid);
        if (r <= 0) {
                if (!leave(s))
                        return ANSWER_ERRNO_OF(EIO);
                log_warning("Listener %" PRIu64 ": task %i (uid %u) is not controlled by the listener's owner "
                            "(uid %u), denying mknod '%s'.", l->id, t.tid, t.uid, l->owner_uid, full);
                return ANSWER_ERRNO_OF(EPERM);
        }

        arm_timer(s, true);
        result = emulate(&t, &(EmulateRequest) {
                        .operation = EMULATE_MKNOD,
                        .dir_fd = parent,
                        .name = name,
                        .mode = mode,
                        .major = major,
                        .minor = minor,
                });
        arm_timer(s, false);

        if (!leave(s))
                return ANSWER_ERRNO_OF(EIO);

        log_info("Listener %" PRIu64 ": mknod %c %u:%u '%s' for task %i: %s.", l->id, S_ISCHR(mode) ? 'c' : 'b',
                 major, minor, full, t.tid, result < 0 ? strerror((int) -result) : "created");
        if (result < 0)
                return ANSWER_ERRNO_OF((int) -result);
        return (Answer) { .kind = ANSWER_VALUE, .value = result };
}

static void handle_notification(Supervisor *s) {
        Listener *l = s->listener;
        const struct seccomp_notif *req = s->buffers.req;
        NotifySyscall call;
        Answer a;
        int r;

        COUNT(l, notifications);

        r = notify_syscall_decode(&req->data, &call);
        if (r < 0) {
                /* Invariant 6: a foreign architecture's numbers mean something else; never guess. */
                log_warning("Listener %" PRIu64 ": task %u made syscall %i of foreign architecture 0x%x, denying.",
                            l->id, req->pid, req->data.nr, req->data.arch);
                a = ANSWER_ERRNO_OF(ENOSYS);
        } else
                switch (call) {
                case NOTIFY_SYSCALL_MKNOD:
                case NOTIFY_SYSCALL_MKNODAT:
                        a = handle_mknod(s, call);
                        break;
                case _NOTIFY_SYSCALL_MAX:
                case _NOTIFY_SYSCALL_UNKNOWN:
                default:
                        a = answer_default(s);
                        break;
                }

        switch (a.kind) {
        case ANSWER_CONTINUE:
                COUNT(l, continued);
                r = notify_respond(l->fd, &s->buffers, req->id, 0, 0, true);
                break;
        case ANSWER_ERRNO:
                if (a.error == ESRCH)
                        COUNT(l, failed);
                else
                        COUNT(l, denied);
                r = notify_respond(l->fd, &s->buffers, req->id, 0, a.error, false);
                break;
        case ANSWER_VALUE:
        default:
                COUNT(l, emulated);
                r = notify_respond(l->fd, &s->buffers, req->id, a.value, 0, false);
                break;
        }
        if (r < 0 && r != -ENOENT)
                log_debug_errno(r, "Listener %" PRIu64 ": failed to answer notification: %m", l->id);
}

void *listener_thread(void *userdata) {
        Supervisor s = { .listener = userdata };
        Listener *l = s.listener;
        struct sigevent sev = {
                .sigev_notify = SIGEV_THREAD_ID,
                .sigev_signo = SIGNAL_INTERRUPT,
        };
        sigset_t mask;
        ListenerEnd end = LISTENER_END_ERROR;
        uint64_t one = 1;
        int r;

        /* Only the interrupt signal reaches this thread; the main loop handles the rest via signalfd. */
        sigfillset(&mask);
        sigdelset(&mask, SIGNAL_INTERRUPT);
        pthread_sigmask(SIG_SETMASK, &mask, NULL);

        sev._sigev_un._tid = gettid(); /* glibc 2.36 lacks the sigev_notify_thread_id name */
        s.have_timer = timer_create(CLOCK_MONOTONIC, &sev, &s.timer) == 0;

        r = target_setup_thread();
        if (r < 0)
                goto finish;
        r = notify_buffers_init(&s.buffers);
        if (r < 0) {
                log_error_errno(r, "Listener %" PRIu64 ": failed to allocate notification buffers: %m", l->id);
                goto finish;
        }

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = l->fd, .events = POLLIN },
                        { .fd = l->stop_fd, .events = POLLIN },
                };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(-errno, "Listener %" PRIu64 ": poll failed: %m", l->id);
                        break;
                }
                if (p[1].revents) {
                        end = LISTENER_END_UNREGISTERED;
                        break;
                }
                if (p[0].revents & POLLIN) {
                        r = notify_receive(l->fd, &s.buffers);
                        if (r == -ENOENT || r == -EINTR)
                                continue; /* the target died before we read it */
                        if (r < 0) {
                                log_error_errno(r, "Listener %" PRIu64 ": failed to receive: %m", l->id);
                                break;
                        }
                        handle_notification(&s);
                        if (s.broken) {
                                log_error("Listener %" PRIu64 ": cannot return to the broker's context, stopping.",
                                          l->id);
                                break;
                        }
                        continue;
                }
                if (p[0].revents & (POLLHUP | POLLERR)) {
                        end = LISTENER_END_EXITED;
                        break;
                }
        }

finish:
        notify_buffers_done(&s.buffers);
        if (s.have_timer)
                timer_delete(s.timer);
        __atomic_store_n(&l->end, end, __ATOMIC_RELEASE);
        (void) !write(l->done_fd, &one, sizeof one);
        return NULL;
}
