/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One thread per listener answers that listener's notifications. Blocking work (target memory, paths on
 * FUSE/NFS, the emulated call) happens here, never on the main loop, and stalls only this listener
 * (invariant 7); a timer interrupts an emulated call that blocks too long. */

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
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
        enum { ANSWER_VALUE, ANSWER_ERRNO, ANSWER_CONTINUE, ANSWER_SENT } kind;
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

/* Invariant 4, checked right before any emulation (worked out by target_open(), with our credentials). */
static bool target_may_use(Supervisor *s, const Target *t, const char *what, const char *path) {
        Listener *l = s->listener;

        if (t->controlled_by_owner)
                return true;
        log_warning("Listener %" PRIu64 ": task %i (uid %u) is not controlled by the listener's owner (uid %u), "
                    "denying %s '%s'.", l->id, t->tid, t->uid, l->owner_uid, what, path);
        return false;
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

/* The start of a path lookup for the call: AT_FDCWD for an absolute path (resolved against the thread's root,
 * which target_enter() makes the target's), else the target's cwd or the dirfd it passed. */
static int lookup_start(Supervisor *s, Target *t, const char *path, int dirfd, int *ret) {
        if (path[0] == '/') {
                *ret = -EBADF;
                return 0;
        }
        return target_open_dir(t, s->listener->fd, s->buffers.req->id, dirfd, ret);
}

static int at(int fd) {
        return fd >= 0 ? fd : AT_FDCWD;
}

/* Reads the call's path from the target: one copy, used for everything after (invariant 2). */
static int read_path(Supervisor *s, const Target *t, uint64_t address, char *path, size_t size) {
        int r;

        r = notify_read_string(t->tid, address, path, size);
        if (r < 0)
                return r == -ESRCH ? -ESRCH : r;
        return notify_id_valid(s->listener->fd, s->buffers.req->id);
}

static Answer answer_errno_of_failure(int r) {
        /* The target is gone, or its memory is unreadable: the kernel's own words for those. */
        switch (r) {
        case -EFAULT:
        case -ENAMETOOLONG:
                return ANSWER_ERRNO_OF(-r);
        default:
                return ANSWER_ERRNO_OF(ESRCH);
        }
}

/* The absolute path a directory fd and a name stand for, in the current root's view. */
static int join_path(int dir_fd, const char *name, char **ret) {
        _cleanup_free_ char *dir = NULL;

        if (fd_get_path(dir_fd, &dir) < 0)
                return -ENOENT;
        if (asprintf(ret, "%s%s%s", dir, streq(dir, "/") ? "" : "/", name) < 0)
                return -ENOMEM;
        return 0;
}

/* mknod(path, mode, dev) and mknodat(dirfd, path, mode, dev). */
static Answer handle_mknod(Supervisor *s, NotifySyscall call) {
        Listener *l = s->listener;
        const struct seccomp_notif *req = s->buffers.req;
        const __u64 *args = req->data.args;
        bool is_at = call == NOTIFY_SYSCALL_MKNODAT;
        int dirfd = is_at ? (int) args[0] : AT_FDCWD;
        uint64_t path_address = args[is_at ? 1 : 0];
        /* The kernel takes umode_t and a 32-bit dev: truncate exactly as it does. */
        mode_t mode = (mode_t) (uint16_t) args[is_at ? 2 : 1];
        uint32_t dev = (uint32_t) args[is_at ? 3 : 2];
        uint32_t major = (dev & 0xfff00) >> 8, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
        _cleanup_(target_done) Target t = TARGET_NULL;
        _cleanup_close_ int start = -EBADF, parent = -EBADF;
        _cleanup_free_ char *full = NULL;
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

        r = target_open(&t, l->fd, req->id, (pid_t) req->pid, l->owner_uid);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        r = read_path(s, &t, path_address, path, sizeof path);
        if (r < 0)
                return answer_errno_of_failure(r);
        if (!split_last_component(path, &dir, &name))
                return answer_default(s);
        r = lookup_start(s, &t, path, dirfd, &start);
        if (r < 0)
                return answer_default(s); /* a bad dirfd: the kernel says it best */

        r = target_enter(&t, l->fd, req->id);
        if (r < 0) {
                if (!leave(s))
                        return ANSWER_ERRNO_OF(EIO);
                log_debug_errno(r, "Listener %" PRIu64 ": cannot enter the context of task %i: %m", l->id, t.tid);
                return ANSWER_ERRNO_OF(ESRCH);
        }

        /* Resolve the directory as the target would, then match the path it actually reaches. */
        arm_timer(s, true);
        parent = openat(at(start), dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        arm_timer(s, false);
        if (parent < 0 || join_path(parent, name, &full) < 0) {
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

        if (!target_may_use(s, &t, "mknod", full)) {
                if (!leave(s))
                        return ANSWER_ERRNO_OF(EIO);
                return ANSWER_ERRNO_OF(EPERM);
        }

        arm_timer(s, true);
        result = emulate(&t, &(EmulateRequest) {
                        .operation = EMULATE_MKNOD,
                        .dir_fd = parent,
                        .file_fd = -EBADF,
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

/* The open flags this daemon understands; anything else (new kernel flags) is left to the kernel. */
#define OPEN_FLAGS_KNOWN                                                                                    \
        (O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_ASYNC |     \
         O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH |      \
         __O_TMPFILE)

/* The first struct open_how (5.6); the kernel refuses anything shorter. */
#define OPEN_HOW_SIZE_VER0 24

/* The arguments of open, openat, openat2 and creat in one form. */
typedef struct OpenCall {
        int dirfd;
        uint64_t path_address;
        int flags;
        mode_t mode;
        uint64_t resolve;          /* openat2's RESOLVE_* */
} OpenCall;

/* Copies openat2's struct open_how as the kernel does: the size the caller passed, never less than the
 * first version, trailing bytes beyond what we know must be zero. Positive errno on a malformed struct. */
static int read_open_how(const Target *t, uint64_t address, uint64_t size, struct open_how *ret) {
        static const uint8_t zeros[256];
        uint8_t extra[256];
        int r;

        if (size < OPEN_HOW_SIZE_VER0)
                return EINVAL;
        if (size > (uint64_t) sysconf(_SC_PAGESIZE))
                return E2BIG;

        *ret = (struct open_how) {};
        r = notify_read_memory(t->tid, address, ret, MIN(size, sizeof *ret));
        if (r < 0)
                return -r == ESRCH ? ESRCH : EFAULT;
        for (uint64_t at_ = sizeof *ret; at_ < size; at_ += sizeof extra) {
                size_t n = MIN(sizeof extra, size - at_);
                r = notify_read_memory(t->tid, address + at_, extra, n);
                if (r < 0)
                        return EFAULT;
                if (memcmp(extra, zeros, n) != 0)
                        return E2BIG;
        }
        if (ret->flags & ~(uint64_t) OPEN_FLAGS_KNOWN)
                return EINVAL;
        if (ret->resolve & ~(uint64_t) (RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS |
                                        RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED))
                return EINVAL;
        if (ret->mode & ~(uint64_t) 07777)
                return EINVAL;
        if (ret->mode != 0 && !(ret->flags & (O_CREAT | __O_TMPFILE)))
                return EINVAL;
        return 0;
}

static OpenRequest open_request_of(int flags, bool creates) {
        OpenRequest q = {};

        switch (flags & O_ACCMODE) {
        case O_RDONLY:
                q.access = RULE_ACCESS_READ;
                break;
        case O_WRONLY:
                q.access = RULE_ACCESS_WRITE;
                break;
        default:
                q.access = RULE_ACCESS_READ | RULE_ACCESS_WRITE;
                break;
        }
        /* Truncating and appending write; a read-only rule refuses them. */
        if (flags & (O_TRUNC | O_APPEND))
                q.access |= RULE_ACCESS_WRITE;
        q.create = creates || (flags & O_TRUNC);
        return q;
}

/* Turns "." and empty components away and makes the path absolute against start (for HostPath rules, which
 * name a literal path the process may not be able to resolve). NULL if it holds "..". */
static char *lexical_absolute_path(int start, const char *path) {
        _cleanup_free_ char *base = NULL, *joined = NULL;
        char *out, *o;

        if (path[0] != '/') {
                if (start < 0 || fd_get_path(start, &base) < 0)
                        return NULL;
                if (asprintf(&joined, "%s/%s", base, path) < 0)
                        return NULL;
                path = joined;
        }

        out = o = malloc(strlen(path) + 2);
        if (!out)
                return NULL;
        for (const char *p = path; *p; ) {
                const char *end;
                size_t l;

                while (*p == '/')
                        p++;
                end = strchrnul(p, '/');
                l = end - p;
                if (l == 2 && p[0] == '.' && p[1] == '.') {
                        free(out);
                        return NULL;
                }
                if (l > 0 && !(l == 1 && p[0] == '.')) {
                        *o++ = '/';
                        memcpy(o, p, l);
                        o += l;
                }
                p = end;
        }
        if (o == out)
                *o++ = '/';
        *o = 0;
        return out;
}

static Answer answer_fd(Supervisor *s, int fd, int flags) {
        int r;

        /* Our copy is closed whatever happens; the target gets its own. */
        r = notify_add_fd_and_send(s->listener->fd, s->buffers.req->id, fd, flags & O_CLOEXEC);
        safe_close(fd);
        if (r >= 0)
                return (Answer) { .kind = ANSWER_SENT };
        if (r == -ENOENT)
                return (Answer) { .kind = ANSWER_SENT }; /* the target is gone: nobody to answer */
        return ANSWER_ERRNO_OF(-r);                    /* EMFILE and friends, as the kernel reports them */
}

static Answer handle_open(Supervisor *s, NotifySyscall call) {
        Listener *l = s->listener;
        const struct seccomp_notif *req = s->buffers.req;
        const __u64 *args = req->data.args;
        _cleanup_(target_done) Target t = TARGET_NULL;
        _cleanup_close_ int start = -EBADF, file = -EBADF, parent = -EBADF;
        _cleanup_free_ char *full = NULL;
        char path[PATH_MAX];
        const Rule *rule = NULL;
        OpenCall c = {};
        OpenRequest q;
        EmulateRequest e = { .dir_fd = -EBADF, .file_fd = -EBADF };
        int64_t result;
        int r;

        switch (call) {
        case NOTIFY_SYSCALL_OPEN:
                c = (OpenCall) { AT_FDCWD, args[0], (int) args[1], (mode_t) args[2] };
                break;
        case NOTIFY_SYSCALL_OPENAT:
        case NOTIFY_SYSCALL_OPENAT2:
                c = (OpenCall) { (int) args[0], args[1], (int) args[2], (mode_t) args[3] };
                break;
        case NOTIFY_SYSCALL_CREAT:
                c = (OpenCall) { AT_FDCWD, args[0], O_CREAT | O_WRONLY | O_TRUNC, (mode_t) args[1] };
                break;
        case NOTIFY_SYSCALL_MKNOD:
        case NOTIFY_SYSCALL_MKNODAT:
        case _NOTIFY_SYSCALL_MAX:
        case _NOTIFY_SYSCALL_UNKNOWN:
        default:
                return answer_default(s);
        }

        r = target_open(&t, l->fd, req->id, (pid_t) req->pid, l->owner_uid);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);

        if (call == NOTIFY_SYSCALL_OPENAT2) {
                struct open_how how;

                r = read_open_how(&t, args[2], args[3], &how);
                if (r > 0)
                        return ANSWER_ERRNO_OF(r);
                c.flags = (int) how.flags;
                c.mode = (mode_t) how.mode;
                c.resolve = how.resolve;
        } else
                c.flags &= OPEN_FLAGS_KNOWN | O_LARGEFILE;

        /* O_PATH needs no permission and O_TMPFILE names no file: nothing a rule could grant. */
        if ((c.flags & O_PATH) || (c.flags & __O_TMPFILE) == __O_TMPFILE)
                return answer_default(s);

        r = read_path(s, &t, c.path_address, path, sizeof path);
        if (r < 0)
                return answer_errno_of_failure(r);
        if (path[0] == 0)
                return answer_default(s);
        r = lookup_start(s, &t, path, c.dirfd, &start);
        if (r < 0)
                return answer_default(s);

        r = target_enter(&t, l->fd, req->id);
        if (r < 0) {
                if (!leave(s))
                        return ANSWER_ERRNO_OF(EIO);
                return ANSWER_ERRNO_OF(ESRCH);
        }

        /* HostPath rules first: the process names a literal path that need not exist in its view. */
        if (rule_set_has_open_host(l->rules)) {
                _cleanup_free_ char *lexical = lexical_absolute_path(start, path);
                q = open_request_of(c.flags, false);
                rule = lexical ? rule_set_match_open_host(l->rules, lexical, &q) : NULL;
                if (rule) {
                        full = TAKE_PTR(lexical);
                        goto decided;
                }
        }

        /* Resolve as the target would (its root, cwd or dirfd, RESOLVE_* flags, its permissions to search),
         * and match what resolution reached: a symlink or ".." leading elsewhere grants nothing. */
        arm_timer(s, true);
        {
                struct open_how how = {
                        .flags = O_PATH | O_CLOEXEC | (c.flags & (O_NOFOLLOW | O_DIRECTORY)),
                        .resolve = c.resolve,
                };
                file = (int) syscall(SYS_openat2, at(start), path, &how, sizeof how);
        }
        arm_timer(s, false);

        if (file >= 0) {
                struct stat st;

                if ((c.flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL) || fstat(file, &st) < 0 ||
                    S_ISLNK(st.st_mode) || fd_get_path(file, &full) < 0) {
                        /* O_EXCL on an existing file, a symlink under O_NOFOLLOW: the kernel's answer. */
                        if (!leave(s))
                                return ANSWER_ERRNO_OF(EIO);
                        return answer_default(s);
                }
                q = open_request_of(c.flags, false);
                q.special = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
                rule = rule_set_match_open(l->rules, full, &q);
                e = (EmulateRequest) { .operation = EMULATE_OPEN_EXISTING, .file_fd = file, .dir_fd = -EBADF,
                                       .flags = c.flags & ~O_CREAT };
        } else if (errno == ENOENT && (c.flags & O_CREAT)) {
                const char *dir, *name;

                if (!split_last_component(path, &dir, &name)) {
                        if (!leave(s))
                                return ANSWER_ERRNO_OF(EIO);
                        return answer_default(s);
                }
                arm_timer(s, true);
                {
                        struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = c.resolve };
                        parent = (int) syscall(SYS_openat2, at(start), dir, &how, sizeof how);
                }
                arm_timer(s, false);
                if (parent >= 0 && join_path(parent, name, &full) >= 0) {
                        q = open_request_of(c.flags, true);
                        rule = rule_set_match_open(l->rules, full, &q);
                        e = (EmulateRequest) { .operation = EMULATE_OPEN_CREATE, .dir_fd = parent,
                                               .file_fd = -EBADF, .name = name, .flags = c.flags,
                                               .mode = c.mode };
                }
        }

decided:
        if (!rule || rule->action != RULE_ACTION_EMULATE) {
                if (!leave(s))
                        return ANSWER_ERRNO_OF(EIO);
                if (rule)
                        log_info("Listener %" PRIu64 ": open '%s' by task %i: %s by rule.", l->id, full, t.tid,
                                 rule_action_to_string(rule->action));
                return rule ? answer_rule(rule) : answer_default(s);
        }

        if (!target_may_use(s, &t, "open", full)) {
                if (!leave(s))
                        return ANSWER_ERRNO_OF(EIO);
                return ANSWER_ERRNO_OF(EPERM);
        }

        if (rule->host_path) {
                /* In the broker's own view and with its credentials: authorized as such (host-path). */
                if (!leave(s))
                        return ANSWER_ERRNO_OF(EIO);
                arm_timer(s, true);
                r = broker_root_open(rule->host_path, c.flags & ~(O_CREAT | O_EXCL | O_TRUNC), &file);
                arm_timer(s, false);
                log_info("Listener %" PRIu64 ": open '%s' as host '%s' for task %i: %s.", l->id, full,
                         rule->host_path, t.tid, r < 0 ? strerror(-r) : "granted");
                if (r < 0)
                        return ANSWER_ERRNO_OF(-r);
                return answer_fd(s, TAKE_FD(file), c.flags);
        }

        arm_timer(s, true);
        result = emulate(&t, &e);
        arm_timer(s, false);
        if (!leave(s)) {
                if (result >= 0)
                        safe_close((int) result);
                return ANSWER_ERRNO_OF(EIO);
        }

        log_info("Listener %" PRIu64 ": open '%s' (flags 0%o) for task %i: %s.", l->id, full, (unsigned) c.flags,
                 t.tid, result < 0 ? strerror((int) -result) : "granted");
        if (result < 0)
                return ANSWER_ERRNO_OF((int) -result);
        return answer_fd(s, (int) result, c.flags);
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
                case NOTIFY_SYSCALL_OPEN:
                case NOTIFY_SYSCALL_OPENAT:
                case NOTIFY_SYSCALL_OPENAT2:
                case NOTIFY_SYSCALL_CREAT:
                        a = handle_open(s, call);
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
        case ANSWER_SENT:
                /* ADDFD with SEND answered the call already. */
                COUNT(l, emulated);
                r = 0;
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
