/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* open, openat, openat2 and creat: files a rule allows, opened in the target's view with its credentials plus
 * the one capability the access needs, and installed in the target with ADDFD. */

#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "emulate.h"
#include "fs-util.h"
#include "host-path.h"
#include "log.h"
#include "open-how.h"
#include "supervisor.h"

/* The arguments of open, openat, openat2 and creat in one form. */
typedef struct OpenCall {
        int dirfd;
        uint64_t path_address;
        int flags;
        mode_t mode;
        uint64_t resolve;          /* openat2's RESOLVE_* */
} OpenCall;

/* What resolving the call's path reached: an existing file, or the directory a new one would be made in. */
typedef struct Resolution {
        int file;                  /* O_PATH, or -EBADF */
        int parent;                /* O_PATH directory for O_CREAT of a missing name, or -EBADF */
        char name[NAME_MAX + 1];   /* that name */
        char *path;                /* absolute, in the target's view */
        bool creates;              /* the name is missing: parent and name are set, not file */
        struct stat st;            /* of file, or of parent */
        uint64_t mnt_id;           /* the unique id of its mount, 0 if the kernel has none */
        bool special;              /* a FIFO, socket or device node */
        bool maybe_magic_link;     /* ELOOP, perhaps at a magic link that the kernel would have followed */
} Resolution;

#define RESOLUTION_NULL ((Resolution) { .file = -EBADF, .parent = -EBADF })

static void resolution_done(Resolution *r) {
        r->file = safe_close(r->file);
        r->parent = safe_close(r->parent);
        r->path = mfree_ptr(r->path);
}

/* Copies openat2's struct open_how as the kernel does: the size the caller passed, never less than the
 * first version, bytes beyond what we know must be zero, unknown flags refused. A positive errno for a
 * malformed struct, as the kernel would answer. */
static int read_open_how(const Target *t, uint64_t address, uint64_t size, struct open_how *ret) {
        static const uint8_t zeros[256];
        uint8_t extra[256];
        int r;

        r = open_how_check_size(size);
        if (r != 0)
                return r;

        *ret = (struct open_how) {};
        r = notify_read_memory(t->tid, address, ret, MIN(size, sizeof *ret));
        if (r < 0)
                return -r;
        for (uint64_t offset = sizeof *ret; offset < size; offset += sizeof extra) {
                size_t n = MIN(sizeof extra, size - offset);

                r = notify_read_memory(t->tid, address + offset, extra, n);
                if (r < 0)
                        return -r;
                if (memcmp(extra, zeros, n) != 0)
                        return E2BIG;
        }

        return open_how_check(ret);
}

/* What the flags ask of a rule. Truncating and appending write: a read-only rule refuses them. */
static OpenRequest open_request_of(int flags, bool creates, bool special) {
        OpenRequest q = { .special = special };

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
        if (flags & (O_TRUNC | O_APPEND))
                q.access |= RULE_ACCESS_WRITE;
        q.create = creates || (flags & O_TRUNC);
        return q;
}

/* Resolves the call's path from start with the thread's current credentials: its search permissions decide
 * what is reachable. -errno when there is nothing a rule could apply to (the kernel will say why). A probe
 * only wants the path reached, not what kind of file it is. Given the path as named (absolute, without
 * "." or ".."), it first tries without following any symlink: then the path reached is that one, and
 * needs no readlink; any other answer but ELOOP is the one full resolution would give too. */
static int resolve(const OpenCall *c, int start, const char *path, const char *as_named, bool probe,
                   Resolution *ret) {
        struct open_how how = {
                .flags = O_PATH | O_CLOEXEC | (c->flags & (O_NOFOLLOW | O_DIRECTORY)),
                /* No /proc/<pid>/root, /proc/self/fd/N: resolved by this thread they would lead into the
                 * broker's own view (it may always look at itself), not the target's. Those opens are left
                 * to the kernel. */
                .resolve = c->resolve | RESOLVE_NO_MAGICLINKS,
        };
        const char *reached = NULL;
        int r = 0;

        *ret = RESOLUTION_NULL;

        if (as_named && start < 0) {
                struct open_how direct = how;

                direct.resolve |= RESOLVE_NO_SYMLINKS;
                ret->file = (int) syscall(SYS_openat2, AT_FDCWD, path, &direct, sizeof direct);
                if (ret->file >= 0)
                        reached = as_named;
                else if (errno != ELOOP)
                        r = -errno; /* met before any symlink: full resolution would say the same */
        }
        /* A symlink on the way, or no name to try: resolve following them. */
        if (!reached && r == 0) {
                ret->file = (int) syscall(SYS_openat2, at_fd(start), path, &how, sizeof how);
                if (ret->file < 0)
                        r = -errno;
                /* With either flag of its own the kernel would say ELOOP too. */
                ret->maybe_magic_link = r == -ELOOP && !(c->resolve & (RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS));
        }

        if (r >= 0) {
                if (!probe) {
                        /* O_EXCL on an existing file, or a symlink under O_NOFOLLOW: the kernel's answer. */
                        if ((c->flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
                                return -EEXIST;
                        r = fd_stat(ret->file, &ret->st, &ret->mnt_id);
                        if (r < 0)
                                return r;
                        if (S_ISLNK(ret->st.st_mode))
                                return -ELOOP;
                        ret->special = S_ISFIFO(ret->st.st_mode) || S_ISSOCK(ret->st.st_mode) ||
                                       S_ISCHR(ret->st.st_mode) || S_ISBLK(ret->st.st_mode);
                }
                if (reached) {
                        ret->path = strdup(reached);
                        return ret->path ? 0 : -ENOMEM;
                }
                return fd_get_path(ret->file, &ret->path);
        }

        if (r != -ENOENT || !(c->flags & O_CREAT))
                return r;

        /* A new file: what counts is the directory it would be created in. */
        char copy[PATH_MAX];
        const char *dir, *name;

        snprintf(copy, sizeof copy, "%s", path);
        if (!split_last_component(copy, &dir, &name) || strlen(name) > NAME_MAX)
                return -ENOENT;
        how = (struct open_how) {
                .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                .resolve = c->resolve | RESOLVE_NO_MAGICLINKS,
        };
        ret->parent = (int) syscall(SYS_openat2, at_fd(start), dir, &how, sizeof how);
        r = ret->parent < 0 ? -errno : 0;
        if (r < 0)
                return r;
        if (!probe) {
                r = fd_stat(ret->parent, &ret->st, &ret->mnt_id);
                if (r < 0)
                        return r;
        }
        snprintf(ret->name, sizeof ret->name, "%s", name);
        ret->creates = true;
        return join_path(ret->parent, ret->name, &ret->path);
}


/* Turns "." and empty components away and makes the path absolute against start, for HostPath rules (a
 * literal path the process may not be able to resolve). NULL if it is not valid, or if it holds ".." unless
 * keep_dot_dot (for directory mappings, which resolve it beneath their directory: rule_set_match_open()). */
static char *lexical_absolute_path(const Target *t, int start, uint64_t resolve, const char *path,
                                   bool keep_dot_dot) {
        _cleanup_free_ char *base = NULL, *joined = NULL;
        char *out, *o;

        /* openat2 names an absolute path below its dirfd (the cwd for AT_FDCWD) with RESOLVE_IN_ROOT, and
         * refuses it (EXDEV) with RESOLVE_BENEATH. */
        if (path[0] == '/' && (resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH))) {
                if (resolve & RESOLVE_BENEATH)
                        return NULL;
                if ((start >= 0 ? fd_get_path(start, &base) : target_get_cwd_path(t, &base)) >= 0 &&
                    asprintf(&joined, "%s%s", base, path) >= 0)
                        path = joined;
                else
                        return NULL;
        } else if (path[0] != '/') {
                if ((start >= 0 ? fd_get_path(start, &base) : target_get_cwd_path(t, &base)) < 0)
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
                if (l == 2 && p[0] == '.' && p[1] == '.' && !keep_dot_dot)
                        return mfree_ptr(out);
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

/* Closes both; with one close_range() when they are neighbours, as the fds of one open usually are: a system
 * call less per emulated open. */
static void close_both(int a, int b) {
        if (a >= 0 && b >= 0 && abs(a - b) == 1 && close_range((unsigned) MIN(a, b), (unsigned) MAX(a, b), 0) >= 0)
                return;
        safe_close(a);
        safe_close(b);
}

/* Installs fd as the call's result; our copy is closed whatever happens, with *also (the O_PATH fd it was
 * reopened from, if any). */
static Answer answer_fd(Supervisor *s, int fd, int flags, int *also) {
        int r;

        supervisor_begin_answer(s);
        r = notify_add_fd_and_send(s->listener->fd, supervisor_id(s), fd, flags & O_CLOEXEC);
        close_both(fd, also ? *also : -EBADF);
        if (also)
                *also = -EBADF;
        if (r == -ENOENT) /* the call is gone, nobody left to answer */
                supervisor_note_abandoned(s);
        if (r >= 0 || r == -ENOENT)
                return (Answer) { .kind = ANSWER_SENT };
        return ANSWER_ERRNO_OF(-r); /* EMFILE and friends, from the target's own limits */
}

/* The listener's owner as a target whose credentials a HostPath open takes: its fs ids and groups, no
 * capability but the one emulate() raises for the access. Not the daemon's credentials (invariant 3): the owner
 * was authorized to have that host file, not whatever else a root-owned lookup reaches. The owner's gid and
 * groups are the listener's (see listener_new()); the umask does not matter, nothing is created. */
static int owner_as_target(const Listener *l, const Target *t, Target *ret) {
        *ret = TARGET_NULL;
        ret->tid = t->tid;
        ret->fsuid = l->owner_uid;
        ret->fsgid = l->owner_gid;
        ret->umask = t->umask;
        if (l->n_owner_groups > ELEMENTSOF(ret->groups))
                return -ENOSPC;
        if (l->n_owner_groups > 0)
                memcpy(ret->groups, l->owner_groups, l->n_owner_groups * sizeof *ret->groups);
        ret->n_groups = l->n_owner_groups;
        ret->in_our_user_namespace = false; /* no capabilities of its own */
        return 0;
}

/* A HostPath rule that matched but gives nothing for this call, for a reason its owner can fix (an unsafe
 * symlink, a name leading out of the mapping, a file no mapping hands out): logged naming the rule (its index
 * and description) and why, to the journal and the owner (supervisor_refuse_rule()), and answered with the
 * default action, as if no rule applied. Every such line of open is made here. */
static Answer open_host_refused(Supervisor *s, const Target *t, const Rule *rule, const char *path,
                                const char *host, const char *format, ...) _printf_(6, 7);
static Answer open_host_refused(Supervisor *s, const Target *t, const Rule *rule, const char *path,
                                const char *host, const char *format, ...) {
        char why[1024];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(why, sizeof why, format, ap);
        va_end(ap);
        supervisor_refuse_rule(s, rule, path, t->tid, answer_default_errno(s),
                               "open '%s' as host '%s' for task %i: %s, default action.", path, host, t->tid, why);
        return answer_default(s);
}

/* A HostPath rule: the file the rule names, or for a directory mapping the file the name leads to beneath the
 * rule's directory (nothing leaves it), in the broker's own view, resolved safely (host-path.h) and opened
 * with the owner's credentials plus the access's one capability: never what the broker itself could reach.
 * An unsafe symlink on the way, a name leading out of the mapping, and anything but a regular file through a
 * mapping get the default action, as if no rule applied, and the log says why; other errors are answered as
 * the kernel gave them. */
static Answer open_host(Supervisor *s, Target *t, const OpenCall *c, const Rule *rule, const char *path) {
        _cleanup_close_ int file = -EBADF;
        _cleanup_(supervisor_leavep) Supervisor *entered = NULL;
        HostPathUnsafe unsafe = {};
        HostPathFlags flags = (c->flags & O_NOFOLLOW) ? HOST_PATH_NOFOLLOW : 0;
        Target owner;
        struct stat st;
        uint64_t mnt_id;
        int64_t result;
        bool on_procfs = false, special = false, directory = false, others_write = false;
        const char *rel = NULL;
        char host[PATH_MAX * 2];
        int r;

        if (rule->action != RULE_ACTION_EMULATE)
                return answer_rule(rule);
        if (rule->host_dir) {
                rel = rule_mapped_relative(rule, path);
                if (!rel)
                        return answer_default(s); /* matched as below the prefix: cannot happen */
                snprintf(host, sizeof host, "%s/%s", rule->host_path, rel);
        } else
                snprintf(host, sizeof host, "%s", rule->host_path);
        if (!supervisor_target_may_use(s, t, "open", path))
                return ANSWER_DENIED_OF(EPERM);

        /* The walk searches with CAP_DAC_READ_SEARCH, which every access's capability includes: a HostPath
         * names a file the sandbox cannot otherwise reach, often in a directory its owner cannot search. */
        entered = supervisor_enter(s);
        r = owner_as_target(s->listener, t, &owner);
        if (r >= 0)
                r = target_take_credentials(&owner);
        if (r >= 0)
                r = target_raise_capability(&owner, CAP_DAC_READ_SEARCH);
        if (r >= 0)
                r = rule->host_dir ?
                        supervisor_open_mapped(rule, rel, flags | HOST_PATH_CHECK_WRITERS, &file, &unsafe) :
                        host_path_open(rule->host_path, flags | HOST_PATH_CHECK_WRITERS, &file, &unsafe);
        /* Below a directory someone else than root may write, the file may have been renamed or linked in
         * from anywhere that someone could reach, root's 0600 files included: a HostPath grants what root
         * put there, not whatever else its owner can move. Opened then with the owner's own credentials. */
        if (r > 0) {
                others_write = true;
                r = 0;
        }
        if (r >= 0)
                r = fd_stat(file, &st, &mnt_id);
        /* A procfs of the broker's pid namespace has the broker's own /proc/<pid>, which the kernel lets it
         * open whatever its fs ids (mem, environ): never a HostPath's to hand out, as for any open. */
        if (r >= 0 && fd_stat_is_on_procfs(file, &st, mnt_id)) {
                on_procfs = true;
                r = -EPERM;
        }
        /* Through a mapping, regular files only. A FIFO, socket or device node: only a rule naming one
         * exactly opens one. A directory: its fd, of the broker's view, would let the sandbox look names up
         * there with its own credentials, outside its own mount namespace and the mapping alike. */
        if (r >= 0 && rule->host_dir && !S_ISREG(st.st_mode)) {
                directory = S_ISDIR(st.st_mode);
                special = !directory;
                r = -EPERM;
        }
        if (r >= 0 && (c->flags & O_DIRECTORY) && !S_ISDIR(st.st_mode))
                r = -ENOTDIR;
        /* HostPath rules never create (no Create): the file is there, so an exclusive create fails as the
         * kernel's would. */
        if (r >= 0 && (c->flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
                result = -EEXIST;
        else if (r >= 0)
                result = emulate(&owner, &(EmulateRequest) {
                                .operation = EMULATE_OPEN_EXISTING,
                                .file_fd = file,
                                .dir_fd = -EBADF,
                                .flags = c->flags & ~(O_CREAT | O_EXCL | O_TRUNC),
                                .without_capability = others_write,
                        });
        else
                result = r;
        if (!supervisor_leave(&entered)) {
                if (result >= 0)
                        safe_close((int) result);
                return ANSWER_ERRNO_OF(EIO);
        }

        if (on_procfs) {
                supervisor_log_refusal(s, path, t->tid, "open '%s' as host '%s' for task %i: on a procfs, denying.",
                                       path, host, t->tid);
                return ANSWER_DENIED_OF(EPERM);
        }
        if (result == -ENOLINK)
                return open_host_refused(s, t, rule, path, host, "unsafe symlink at '%s' (owned by uid %u, in a "
                                         "directory of uid %u, mode %04o)", unsafe.path, unsafe.uid,
                                         unsafe.dir_uid, (unsigned) unsafe.dir_mode);
        if (result == -EXDEV && rule->host_dir)
                return open_host_refused(s, t, rule, path, host, "outside the mapping of '%s' (a '..' above it, "
                                         "or a symlink leading out)", rule->host_path);
        if (special)
                return open_host_refused(s, t, rule, path, host, "a FIFO, socket or device node, which only a "
                                         "rule naming it exactly opens");
        if (directory)
                return open_host_refused(s, t, rule, path, host, "a directory, which a mapping does not hand "
                                         "out (its descriptor would look names up outside the sandbox's view)");
        /* Any other error is the kernel's answer for that file, found as its owner: told as it is. */
        supervisor_log_decision(s, RULE_ACTION_EMULATE, (int) -MIN(result, 0), path, t->tid,
                                "open '%s' as host '%s' for task %i: %s%s%s.", path, host, t->tid,
                                result < 0 ? strerror((int) -result) : "granted",
                                result == -EACCES || result == -EPERM ?
                                " with the credentials of the listener's owner" : "",
                                others_write ? " (no capability: a directory on the way is not root's "
                                "alone, so the file may have been moved there)" : "");
        if (result < 0)
                return ANSWER_ERRNO_OF((int) -result);
        return answer_fd(s, (int) result, c->flags, NULL);
}

static int decode(Supervisor *s, NotifySyscall call, const Target *t, OpenCall *ret) {
        const __u64 *args = s->buffers.req->data.args;

        switch (call) {
        case NOTIFY_SYSCALL_OPEN:
                *ret = (OpenCall) { AT_FDCWD, args[0], (int) args[1] & OPEN_FLAGS_KNOWN, (mode_t) args[2] };
                return 0;
        case NOTIFY_SYSCALL_OPENAT:
                *ret = (OpenCall) { (int) args[0], args[1], (int) args[2] & OPEN_FLAGS_KNOWN, (mode_t) args[3] };
                return 0;
        case NOTIFY_SYSCALL_CREAT:
                *ret = (OpenCall) { AT_FDCWD, args[0], O_CREAT | O_WRONLY | O_TRUNC, (mode_t) args[1] };
                return 0;
        case NOTIFY_SYSCALL_OPENAT2: {
                struct open_how how;
                int r = read_open_how(t, args[2], args[3], &how);
                if (r > 0)
                        return -r;
                *ret = (OpenCall) { (int) args[0], args[1], (int) how.flags, (mode_t) how.mode, how.resolve };
                return 0;
        }
        case NOTIFY_SYSCALL_MKNOD:
        case NOTIFY_SYSCALL_MKNODAT:
        case NOTIFY_SYSCALL_MOUNT:
        case NOTIFY_SYSCALL_UMOUNT2:
        case _NOTIFY_SYSCALL_MAX:
        case _NOTIFY_SYSCALL_UNKNOWN:
        default:
                return -ENOSYS;
        }
}

/* The first rule that applies to the call: HostPath rules to the path as named, others to the path resolved
 * (either may be unknown). */
static const Rule *match(const RuleSet *rules, const OpenCall *c, const char *as_named, const Resolution *res) {
        /* A HostPath rule opens an existing host file: whether the name exists in the target's view does not
         * make the call a creation. */
        OpenRequest named = open_request_of(c->flags, false, false);
        OpenRequest resolved = open_request_of(c->flags, res && res->creates, res && res->special);

        return rule_set_match_open(rules, as_named, &named, res ? res->path : NULL, &resolved);
}

/* Is what resolution reached in the target's view the file the broker finds at the same path? A sandbox that
 * can mount (a user namespace of its own) could otherwise put any file it can look up, but not read, at an
 * allowed path: a bind mount, a chroot or cwd into another namespace, a /proc/<pid>/root link. The
 * capability we add is for the file the rule names, not for whatever the sandbox's view puts there. The
 * host's path is resolved safely: a symlink its user planted there must not make the sandbox's file "the
 * host's". Logged when refused. */
static bool same_as_on_host(Supervisor *s, const Target *t, const Rule *rule, const Resolution *res) {
        _cleanup_free_ char *dir = NULL;

        if (res->creates) {
                /* A new file: the directory it goes in must be the host's directory. */
                const char *slash = strrchr(res->path, '/');
                dir = strndup(res->path, slash == res->path ? 1 : (size_t) (slash - res->path));
                if (!dir)
                        return false;
        }
        return supervisor_is_hosts(s, t, rule, "open", dir ?: res->path, &res->st, res->creates);
}

Answer handle_open(Supervisor *s, NotifySyscall call) {
        Listener *l = s->listener;
        const struct seccomp_notif *req = s->buffers.req;
        _cleanup_(target_done) Target t = TARGET_NULL;
        _cleanup_(resolution_done) Resolution probe = RESOLUTION_NULL, res = RESOLUTION_NULL;
        _cleanup_close_ int start = -EBADF;
        _cleanup_free_ char *as_named = NULL, *named_dots = NULL;
        const char *named;
        char path[PATH_MAX];
        const Rule *rule;
        OpenCall c;
        int64_t result;
        bool from_root;
        int r;

        r = target_pin(&t, l->fd, req->id, (pid_t) req->pid);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        r = decode(s, call, &t, &c);
        if (r == -ENOSYS)
                return answer_default(s);
        if (r < 0)
                return r == -ESRCH ? ANSWER_ERRNO_OF(ESRCH) : ANSWER_ERRNO_OF(-r);

        /* O_PATH needs no permission and O_TMPFILE names no file: nothing a rule could grant. */
        if ((c.flags & O_PATH) || (c.flags & __O_TMPFILE) == __O_TMPFILE)
                return answer_default(s);

        /* Invariant 2: one copy of the path. Whose memory it was (the number may have been reused) is
         * confirmed with ID_VALID when the identity is read below, before anything is done for it; the
         * default answer given before that grants nothing, and goes nowhere if the call is gone. */
        r = notify_read_string(t.tid, c.path_address, path, sizeof path);
        if (r < 0)
                return answer_failure(r);
        if (path[0] == 0)
                return answer_default(s);
        /* With RESOLVE_IN_ROOT or RESOLVE_BENEATH an absolute path starts at the dirfd too. */
        r = supervisor_enter_lookup(s, &t, path, c.dirfd, c.resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH), &start);
        if (r == -EBADF || r == -ENOTDIR || r == -EOPNOTSUPP)
                return answer_default(s); /* a bad dirfd (the kernel says it best), or one we cannot have */
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);

        /* An absolute path looked up from the target's root, not below its cwd or dirfd (openat2's
         * RESOLVE_IN_ROOT and RESOLVE_BENEATH). */
        from_root = path[0] == '/' && !(c.resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH));

        /* The path as named, made absolute without resolving: what HostPath rules are matched against, and
         * a cheap first guess for the others. */
        if (from_root || rule_set_has_open_host(l->rules))
                as_named = lexical_absolute_path(&t, start, c.resolve, path, false);
        /* A directory mapping takes the name with its ".." as written, and resolves them beneath its host
         * directory, where one that climbs out is refused and logged: no other rule matches such a name. */
        if (!as_named && rule_set_has_open_mapping(l->rules))
                named_dots = lexical_absolute_path(&t, start, c.resolve, path, true);
        named = as_named ?: named_dots;

        /* Most opens match no rule. Find that out cheaply first: a path that names an allowed file as it is
         * written goes straight to the real check; any other is resolved with our own credentials, for
         * symlinks and ".." that lead into an allowed place. Either answer only decides whether the real
         * check below is needed, and grants nothing. */
        if (!(as_named && match(l->rules, &c, as_named, &(Resolution) { .path = as_named }))) {
                if (resolve(&c, start, path, from_root ? as_named : NULL, true, &probe) < 0) {
                        /* Nothing there: a rule may still name the path as written (a HostPath rule, a
                         * deny rule, or a file the kernel will say is missing). */
                        resolution_done(&probe);
                        if (!as_named) {
                                as_named = lexical_absolute_path(&t, start, c.resolve, path, false);
                                named = as_named ?: named_dots;
                        }
                        /* A guess at an existing file: the real check below decides. */
                        probe.path = as_named ? strdup(as_named) : NULL;
                }
                if (!match(l->rules, &c, named, probe.path ? &probe : NULL))
                        return answer_default(s);
        }

        r = target_read_identity(&t, l->owner_uid, l->fd, req->id);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        /* The kernel fails an open with EMFILE before it creates or truncates anything: so do we, where ADDFD
         * would say it only after. */
        if ((c.flags & (O_CREAT | O_TRUNC)) && target_has_free_fd(&t) == 0)
                return ANSWER_ERRNO_OF(EMFILE);

        for (unsigned attempt = 0;; attempt++) {
                /* The real check: resolve as the target would (its root, cwd or dirfd, RESOLVE_* flags, its
                 * search permissions), and match what resolution reached: a symlink or ".." leading elsewhere
                 * grants nothing, and a path it cannot reach it does not reach through us. */
                _cleanup_(supervisor_leavep) Supervisor *entered = supervisor_enter(s);

                r = target_take_credentials(&t);
                if (r < 0)
                        return ANSWER_ERRNO_OF(ESRCH);

                resolution_done(&res);
                r = resolve(&c, start, path, from_root ? as_named : NULL, false, &res);
                rule = match(l->rules, &c, named, r >= 0 ? &res : NULL);
                if (!rule || rule->host_path || rule->action != RULE_ACTION_EMULATE) {
                        if (!supervisor_leave(&entered))
                                return ANSWER_ERRNO_OF(EIO);
                        if (rule && rule->host_path)
                                return open_host(s, &t, &c, rule, named);
                        if (rule) {
                                supervisor_log_decision(s, rule->action, answer_rule(rule).error,
                                                        r >= 0 ? res.path : as_named, t.tid,
                                                        "open '%s' by task %i: %s by rule.",
                                                        r >= 0 ? res.path : as_named, t.tid,
                                                        rule_action_to_string(rule->action));
                                return answer_rule(rule);
                        }
                        /* What the kernel tells the target itself (EEXIST for O_EXCL, ENOENT, EACCES while
                         * searching): found with its own credentials, so it reveals nothing new. Not an ELOOP
                         * that may be our own refusal of a magic link (/dev/stdin): the kernel decides. */
                        if (r < 0 && !res.maybe_magic_link)
                                return ANSWER_ERRNO_OF(-r);
                        return answer_default(s);
                }

                if (!supervisor_target_may_use(s, &t, "open", res.path))
                        return ANSWER_DENIED_OF(EPERM);

                /* An absolute path from the broker's own root walks the broker's own mounts (magic links are
                 * not followed): that is the host's file by construction, unless the listener's "/" is another
                 * directory. Anything else is compared. */
                if (!(from_root && l->root_fd < 0 && target_thread_root_is_brokers()) &&
                    !same_as_on_host(s, &t, rule, &res))
                        return ANSWER_DENIED_OF(EPERM);

                /* A procfs resolves "self" as the broker, and the broker's own entries open for it: nothing
                 * there is the target's to have through us. */
                if (fd_stat_is_on_procfs(res.creates ? res.parent : res.file, &res.st, res.mnt_id)) {
                        if (!supervisor_leave(&entered))
                                return ANSWER_ERRNO_OF(EIO);
                        supervisor_log_refusal(s, res.path, t.tid, "'%s' for task %i is on a procfs, denying.",
                                               res.path, t.tid);
                        return ANSWER_DENIED_OF(EPERM);
                }

                if (!res.creates)
                        result = emulate(&t, &(EmulateRequest) {
                                        .operation = EMULATE_OPEN_EXISTING,
                                        .file_fd = res.file,
                                        .dir_fd = -EBADF,
                                        .flags = c.flags & ~O_CREAT,
                                });
                else
                        result = emulate(&t, &(EmulateRequest) {
                                        .operation = EMULATE_OPEN_CREATE,
                                        .file_fd = -EBADF,
                                        .dir_fd = res.parent,
                                        .name = res.name,
                                        .flags = c.flags,
                                        .mode = c.mode,
                                });
                if (!supervisor_leave(&entered)) {
                        if (result >= 0)
                                safe_close((int) result);
                        return ANSWER_ERRNO_OF(EIO);
                }

                /* The name appeared since resolution, and the target did not ask for O_EXCL: it is an existing
                 * file now, with its own checks. Once. */
                if (result == -EEXIST && !(c.flags & O_EXCL) && res.creates && attempt == 0)
                        continue;
                break;
        }

        /* Still there but not found: a dangling symlink, through which the kernel would create the file it
         * points to, at another path than the one matched. Whatever the target may do there it does itself. */
        if (result == -EEXIST && !(c.flags & O_EXCL) && res.creates) {
                log_debug("Listener %" PRIu64 ": '%s' for task %i is a dangling symlink, leaving it to the kernel.",
                          l->id, res.path, t.tid);
                return answer_default(s);
        }

        supervisor_log_decision(s, RULE_ACTION_EMULATE, (int) -MIN(result, 0), res.path, t.tid,
                                "open '%s' (flags 0%o) for task %i: %s.", res.path, (unsigned) c.flags, t.tid,
                                result < 0 ? strerror((int) -result) : "granted");
        if (result < 0)
                return ANSWER_ERRNO_OF((int) -result);
        return answer_fd(s, (int) result, c.flags, &res.file);
}
