/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Identity and context of supervised tasks. Everything here runs on listener threads; all state changes
 * are per-thread (fs_struct after unshare(CLONE_FS); fsuid/fsgid and groups via raw syscalls, since glibc's
 * setgroups() would broadcast to every thread; capabilities through capabilities.c). */

#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "capabilities.h"
#include "fs-util.h"
#include "log.h"
#include "notify.h"
#include "target.h"

#ifndef NS_GET_MNTNS_ID
#define NS_GET_MNTNS_ID _IOR(0xb7, 0x5, uint64_t) /* Linux 6.8 */
#endif

/* Process-wide, set once before the first listener thread: the broker's own context. */
static struct {
        DirId root_id;
        uid_t fsuid;               /* 0, unless run unprivileged (the dbus test suite) */
        gid_t fsgid;
        int mntns_fd;              /* to return to after emulating a mount in a target's namespace */
        ino_t mntns_ino;
} own = { .mntns_fd = -EBADF };

/* Per listener thread: /proc fds of the tasks seen last. A sandbox's calls come from few threads. */
#define PROC_CACHE_SIZE 8
typedef struct ProcCacheEntry {
        pid_t tid;
        int proc_fd;
        int status_fd;
        unsigned last_used;
} ProcCacheEntry;

/* Per listener thread: what the thread is set to now, so that taking on the next target changes only what
 * differs, and the tasks it pinned last. */
typedef struct ThreadContext {
        DirId root, cwd;
        uid_t fsuid;
        gid_t fsgid;
        mode_t umask;
        gid_t groups[ELEMENTSOF(((Target *) NULL)->groups)];
        size_t n_groups;
        bool groups_known;
        bool in_target_mntns;
        ProcCacheEntry proc_cache[PROC_CACHE_SIZE];
        unsigned proc_cache_clock;
} ThreadContext;
static __thread ThreadContext this_thread;

static int dir_id(int dir_fd, const char *name, DirId *ret);
static bool dir_id_equal(const DirId *a, const DirId *b);

int target_setup_process(void) {
        struct stat st;
        int r;

        r = fs_setup_process();
        if (r < 0)
                return r;
        if (dir_id(broker_root_dir(), "", &own.root_id) < 0)
                return log_error_errno(-errno, "Failed to identify our root directory: %m");
        own.mntns_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
        if (own.mntns_fd < 0 || fstat(own.mntns_fd, &st) < 0)
                return log_error_errno(-errno, "Failed to open our mount namespace: %m");
        own.mntns_ino = st.st_ino;

        own.fsuid = geteuid();
        own.fsgid = getegid();
        return capabilities_setup_process();
}

int target_setup_thread(void) {
        /* Before anything can fail: target_finish_thread() closes what these hold (fd 0 if left zero). */
        for (size_t i = 0; i < PROC_CACHE_SIZE; i++)
                this_thread.proc_cache[i] = (ProcCacheEntry) { .proc_fd = -EBADF, .status_fd = -EBADF };

        if (unshare(CLONE_FS) < 0)
                return log_error_errno(-errno, "Failed to unshare the thread's filesystem context: %m");
        this_thread.fsuid = own.fsuid;
        this_thread.fsgid = own.fsgid;
        this_thread.umask = umask(0022);
        umask(this_thread.umask);
        fs_setup_thread();
        return capabilities_setup_thread();
}

void target_forget_thread_in_child(void) {
        fs_forget_thread_in_child();
}

static void proc_cache_drop(ProcCacheEntry *e) {
        e->proc_fd = safe_close(e->proc_fd);
        e->status_fd = safe_close(e->status_fd);
        e->tid = 0;
}

void target_finish_thread(void) {
        for (size_t i = 0; i < PROC_CACHE_SIZE; i++)
                proc_cache_drop(&this_thread.proc_cache[i]);
        fs_finish_thread();
        capabilities_finish_thread();
}

void target_done(Target *t) {
        /* proc_fd and status_fd belong to the thread's cache. */
        t->pidfd = safe_close(t->pidfd);
}

static int parse_ids(const char *s, unsigned n, uint32_t *ret) {
        for (unsigned i = 0; i < n; i++) {
                char *end;
                unsigned long v;

                errno = 0;
                v = strtoul(s, &end, 10);
                if (errno != 0 || end == s || v > UINT32_MAX)
                        return -EINVAL;
                ret[i] = (uint32_t) v;
                s = end;
        }
        return 0;
}

static int parse_groups(const char *s, Target *t) {
        t->n_groups = 0;
        for (;;) {
                char *end;
                unsigned long v;

                while (*s == ' ' || *s == '\t')
                        s++;
                if (*s == 0 || *s == '\n')
                        return 0;
                errno = 0;
                v = strtoul(s, &end, 10);
                if (errno != 0 || end == s || v > UINT32_MAX)
                        return -EINVAL;
                /* Dropping groups could turn a "no" of a group-denied directory into a "yes". */
                if (t->n_groups >= ELEMENTSOF(t->groups))
                        return -ENOSPC;
                t->groups[t->n_groups++] = (gid_t) v;
                s = end;
        }
}

int target_parse_status(char *text, Target *t) {
        unsigned seen = 0;
        int r = 0;

        /* About 60 lines, six wanted: a line is compared only with the keys starting with its first letter,
         * and the rest of the file is skipped once all six are in. */
        for (char *line = text, *next; line && *line && seen != 63; line = next) {
                const char *v = NULL;
                uint32_t ids[4] = {};

                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;

                switch (line[0]) {
                case 'T':
                        if ((v = startswith(line, "Tgid:"))) {
                                r = parse_ids(v, 1, ids);
                                t->tgid = (pid_t) ids[0];
                                seen |= 1;
                        }
                        break;
                case 'U':
                        if ((v = startswith(line, "Uid:"))) {
                                r = parse_ids(v, 4, ids);
                                t->uid = ids[0], t->euid = ids[1], t->suid = ids[2], t->fsuid = ids[3];
                                seen |= 2;
                        } else if ((v = startswith(line, "Umask:"))) {
                                t->umask = (mode_t) strtoul(v, NULL, 8) & 0777;
                                seen |= 16;
                        }
                        break;
                case 'G':
                        if ((v = startswith(line, "Gid:"))) {
                                r = parse_ids(v, 4, ids);
                                t->gid = ids[0], t->egid = ids[1], t->sgid = ids[2], t->fsgid = ids[3];
                                seen |= 4;
                        } else if ((v = startswith(line, "Groups:"))) {
                                r = parse_groups(v, t);
                                seen |= 8;
                        }
                        break;
                case 'C':
                        if ((v = startswith(line, "CapEff:"))) {
                                t->cap_effective = strtoull(v, NULL, 16);
                                seen |= 32;
                        }
                        break;
                default:
                        break;
                }
                if (r < 0)
                        return r;
        }

        /* A task that is being torn down shows a partial file: treat as gone. */
        return seen == 63 ? 0 : -ESRCH;
}

static int target_read_status(Target *t) {
        char buf[16384];
        ssize_t n;

        /* pread() at 0 makes procfs generate the file afresh: one syscall instead of open, read, close. */
        n = pread(t->status_fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
                return -ESRCH;
        /* Never parse a cut file: a Groups: line cut in the middle of a number would name another group. */
        if ((size_t) n >= sizeof buf - 1)
                return -E2BIG;
        buf[n] = 0;
        return target_parse_status(buf, t);
}

/* statx() of a directory, with its mount id (Linux 5.8+). */
static int dir_id(int dir_fd, const char *name, DirId *ret) {
        struct statx sx;

        if (statx(dir_fd, name, AT_STATX_SYNC_AS_STAT | (name[0] ? 0 : AT_EMPTY_PATH), STATX_INO | STATX_MNT_ID,
                  &sx) < 0)
                return -errno;
        if (!(sx.stx_mask & STATX_MNT_ID))
                return -EOPNOTSUPP;
        *ret = (DirId) {
                .dev = ((uint64_t) sx.stx_dev_major << 32) | sx.stx_dev_minor,
                .ino = sx.stx_ino,
                .mnt_id = sx.stx_mnt_id,
        };
        return 0;
}

static bool dir_id_equal(const DirId *a, const DirId *b) {
        return a->mnt_id != 0 && a->dev == b->dev && a->ino == b->ino && a->mnt_id == b->mnt_id;
}

static ProcCacheEntry *proc_cache_find(pid_t tid) {
        for (size_t i = 0; i < PROC_CACHE_SIZE; i++)
                if (this_thread.proc_cache[i].tid == tid && this_thread.proc_cache[i].proc_fd >= 0)
                        return &this_thread.proc_cache[i];
        return NULL;
}

static ProcCacheEntry *proc_cache_open(pid_t tid, int listener_fd, uint64_t notification_id) {
        ProcCacheEntry *e = &this_thread.proc_cache[0];
        char name[16];

        for (size_t i = 1; i < PROC_CACHE_SIZE; i++)
                if (this_thread.proc_cache[i].last_used < e->last_used)
                        e = &this_thread.proc_cache[i];
        proc_cache_drop(e);

        /* Through our own /proc: this thread may be chrooted into the previous target's root. */
        snprintf(name, sizeof name, "%i", (int) tid);
        e->proc_fd = openat(broker_proc_dir(), name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (e->proc_fd < 0)
                return NULL;
        /* Invariant 2: the number may have been reused between RECV and open; now it is pinned. */
        if (notify_id_valid(listener_fd, notification_id) < 0) {
                proc_cache_drop(e);
                return NULL;
        }
        e->tid = tid;
        return e;
}

int target_pin(Target *t, int listener_fd, uint64_t notification_id, pid_t tid) {
        ProcCacheEntry *e;
        int r;

        t->tid = tid;

        /* A cached /proc/<tid> still open is that task while it lives, and tids are unique among the living:
         * if the task it was opened for is gone, looking at its root fails and we open afresh. */
        e = proc_cache_find(tid);
        if (e) {
                r = dir_id(e->proc_fd, "root", &t->root);
                if (r < 0) {
                        proc_cache_drop(e);
                        e = NULL;
                }
        }
        if (!e) {
                e = proc_cache_open(tid, listener_fd, notification_id);
                if (!e)
                        return -ESRCH;
                r = dir_id(e->proc_fd, "root", &t->root);
                if (r < 0) {
                        proc_cache_drop(e);
                        return r == -EOPNOTSUPP ? r : -ESRCH;
                }
        }

        e->last_used = ++this_thread.proc_cache_clock;
        t->proc_fd = e->proc_fd;
        t->status_fd = e->status_fd;
        return 0;
}

int target_read_identity(Target *t, uid_t owner, int listener_fd, uint64_t notification_id) {
        ProcCacheEntry *e = proc_cache_find(t->tid);
        struct stat st;
        int r;

        if (!e || e->proc_fd != t->proc_fd)
                return -ESRCH;
        if (e->status_fd < 0) {
                e->status_fd = openat(e->proc_fd, "status", O_RDONLY | O_CLOEXEC);
                if (e->status_fd < 0)
                        return -ESRCH;
        }
        t->status_fd = e->status_fd;

        r = target_read_status(t);
        if (r < 0)
                return r;

        /* Only capabilities make the user namespace matter. Not cached: a task may leave our user namespace
         * (unshare), and its capabilities then mean nothing here. */
        t->in_our_user_namespace = false;
        if (t->cap_effective != 0) {
                if (fstatat(t->proc_fd, "ns/user", &st, 0) < 0)
                        return -ESRCH;
                t->in_our_user_namespace = st.st_ino == broker_userns_inode();
        }

        r = target_is_controlled_by(t, owner);
        if (r < 0)
                log_debug_errno(r, "Cannot tell whether task %i is controlled by uid %u, assuming not: %m",
                                t->tid, owner);
        t->controlled_by_owner = r > 0;

        /* Invariant 2, once for everything read so far: the memory the caller copied, this status and the
         * namespaces were the trapped task's. Not before the status: if the task dies meanwhile, another
         * thread's exec may take over its number (de_thread), and its status would be the successor's. */
        return notify_id_valid(listener_fd, notification_id) < 0 ? -ESRCH : 0;
}

int target_is_controlled_by(const Target *t, uid_t owner) {
        _cleanup_close_ int ns = -EBADF;

        if (owner == 0)
                return 1;
        if (t->uid == owner && t->euid == owner && t->suid == owner && t->fsuid == owner)
                return 1;

        /* Rootless containers map other host uids: accept tasks in a user namespace the owner created,
         * at any depth below ours. NS_GET_PARENT fails with EPERM once it would leave our namespace. */
        ns = openat(t->proc_fd, "ns/user", O_RDONLY | O_CLOEXEC);
        if (ns < 0)
                return -errno;
        for (unsigned depth = 0; depth < 64; depth++) {
                struct stat st;
                uid_t uid;
                int parent;

                if (fstat(ns, &st) < 0)
                        return -errno;
                if (st.st_ino == broker_userns_inode())
                        return 0;
                if (ioctl(ns, NS_GET_OWNER_UID, &uid) < 0)
                        return -errno;
                if (uid == owner)
                        return 1;
                parent = ioctl(ns, NS_GET_PARENT);
                if (parent < 0)
                        return errno == EPERM ? 0 : -errno;
                safe_close(ns);
                ns = parent;
        }
        return 0;
}

/* The task's soft RLIMIT_NOFILE, from /proc/<tid>/limits: prlimit() would want CAP_SYS_RESOURCE, which the
 * broker does not keep. */
static int target_read_nofile_limit(const Target *t, unsigned long *ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[4096], *line, *end;
        ssize_t n;

        fd = openat(t->proc_fd, "limits", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof buf - 1);
        if (n <= 0)
                return n < 0 ? -errno : -EIO;
        buf[n] = 0;
        line = strstr(buf, "\nMax open files");
        if (!line)
                return -EIO;
        line += strlen("\nMax open files");
        if (startswith(line + strspn(line, " "), "unlimited")) {
                *ret = ULONG_MAX;
                return 0;
        }
        errno = 0;
        *ret = strtoul(line, &end, 10);
        return errno != 0 || end == line ? -EIO : 0;
}

int target_has_free_fd(const Target *t) {
        _cleanup_close_ int dir_fd = -EBADF;
        unsigned long limit, below = 0;
        DIR *d;
        int r;

        r = target_read_nofile_limit(t, &limit);
        if (r < 0)
                return r;
        dir_fd = openat(t->proc_fd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        d = fdopendir(dir_fd);
        if (!d)
                return -errno;
        TAKE_FD(dir_fd);
        /* The kernel gives the lowest free number, and fails if that is not below the limit: there is one
         * unless every number below it is taken. */
        for (struct dirent *de; (de = readdir(d)); ) {
                char *end;
                unsigned long n = strtoul(de->d_name, &end, 10);

                if (de->d_name[0] != '.' && *end == 0 && n < limit)
                        below++;
        }
        closedir(d);
        return below < limit;
}

/* fchdir() (and chroot()) to the directory /proc/<tid>/<name> points at, confirmed with ID_VALID after
 * opening it. Returns where it went, which is what counts if the target changed it meanwhile. */
static int change_to(const Target *t, const char *name, int listener_fd, uint64_t notification_id, bool root,
                     DirId *ret) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = openat(t->proc_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -ESRCH;
        /* Invariant 2: what we just opened belongs to the trapped task, not a successor. */
        r = notify_id_valid(listener_fd, notification_id);
        if (r < 0)
                return r;
        r = dir_id(fd, "", ret);
        if (r < 0)
                return r;
        if (fchdir(fd) < 0)
                return -errno;
        if (root && chroot(".") < 0)
                return -errno;
        return 0;
}

int target_enter_dirs(const Target *t, int listener_fd, uint64_t notification_id, bool with_cwd) {
        DirId cwd;
        int r;

        /* Unchanged since the last call (the same sandbox, typically): nothing to do. */
        if (!dir_id_equal(&this_thread.root, &t->root)) {
                DirId root;

                this_thread.root = this_thread.cwd = (DirId) {};
                r = change_to(t, "root", listener_fd, notification_id, true, &root);
                if (r < 0)
                        return r;
                this_thread.root = this_thread.cwd = root;
        }

        if (!with_cwd)
                return 0;
        r = dir_id(t->proc_fd, "cwd", &cwd);
        if (r < 0)
                return -ESRCH;
        if (!dir_id_equal(&this_thread.cwd, &cwd)) {
                this_thread.cwd = (DirId) {};
                r = change_to(t, "cwd", listener_fd, notification_id, false, &cwd);
                if (r < 0)
                        return r;
                this_thread.cwd = cwd;
        }
        return 0;
}

void target_forget_dirs(void) {
        this_thread.root = this_thread.cwd = (DirId) {};
}

int target_enter_mount_namespace(const Target *t, int listener_fd, uint64_t notification_id,
                                 bool *ret_foreign_owner, uint64_t *ret_mntns_id) {
        _cleanup_close_ int ns = -EBADF, userns = -EBADF;
        struct stat st;
        int r;

        assert(t);

        if (ret_foreign_owner)
                *ret_foreign_owner = false;
        if (ret_mntns_id)
                *ret_mntns_id = 0;
        ns = openat(t->proc_fd, "ns/mnt", O_RDONLY | O_CLOEXEC);
        if (ns < 0)
                return -ESRCH;
        /* Invariant 2: the namespace of the trapped task, not of a successor with its number. */
        r = notify_id_valid(listener_fd, notification_id);
        if (r < 0)
                return r;
        if (fstat(ns, &st) < 0)
                return -errno;
        /* Its id (Linux 6.11+), to ask later whether a mount made there still exists. */
        if (ret_mntns_id && ioctl(ns, NS_GET_MNTNS_ID, ret_mntns_id) < 0)
                *ret_mntns_id = 0;
        if (st.st_ino == own.mntns_ino)
                return 0; /* ours already: nothing to enter, nothing to leave */

        if (ret_foreign_owner) {
                userns = ioctl(ns, NS_GET_USERNS);
                if (userns < 0 || fstat(userns, &st) < 0)
                        return -errno;
                *ret_foreign_owner = st.st_ino != broker_userns_inode();
        }

        /* setns() also sets this thread's root and cwd to the namespace's root: what the thread was
         * chrooted into is gone. Our own fs_struct (target_setup_thread) keeps it from other threads. */
        target_forget_dirs();
        if (setns(ns, CLONE_NEWNS) < 0)
                return -errno;
        this_thread.in_target_mntns = true;
        return 0;
}

int target_leave_mount_namespace(void) {
        if (!this_thread.in_target_mntns)
                return 0;
        target_forget_dirs();
        if (setns(own.mntns_fd, CLONE_NEWNS) < 0)
                return log_error_errno(-errno, "Failed to return to our mount namespace: %m");
        this_thread.in_target_mntns = false;
        return 0;
}

int target_enter_broker_mount_namespace(void) {
        return setns(own.mntns_fd, CLONE_NEWNS) < 0 ? -errno : 0;
}

int target_enter_broker_root(void) {
        target_forget_dirs();
        if (fchdir(broker_root_dir()) < 0 || chroot(".") < 0)
                return -errno;
        return 0;
}

int target_chdir_proc(void) {
        this_thread.cwd = (DirId) {};
        return fchdir(broker_proc_dir()) < 0 ? -errno : 0;
}

/* Unescapes mountinfo's octal escapes (\040 for ' ', \011, \012, \134) in place. */
static void mountinfo_unescape(char *s) {
        char *w = s;

        for (; *s; s++) {
                if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
                    s[3] >= '0' && s[3] <= '7') {
                        *w++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
                        s += 3;
                } else
                        *w++ = *s;
        }
        *w = 0;
}

int target_mounts_below(int dir_fd, bool *ret_below, bool *ret_unbindable) {
        _cleanup_fclose_ FILE *f = NULL;
        char *line = NULL;
        size_t n = 0;
        int fd;

        assert(ret_below && ret_unbindable);

        *ret_below = *ret_unbindable = false;
        /* From the directory as root, mountinfo shows only mounts reachable from it: those at or below it. */
        target_forget_dirs();
        if (fchdir(dir_fd) < 0 || chroot(".") < 0)
                return -errno;
        fd = openat(broker_proc_dir(), "thread-self/mountinfo", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "re");
        if (!f) {
                safe_close(fd);
                return -errno;
        }

        while (getline(&line, &n, f) > 0) {
                char *field = line, *mount_point = NULL, *optional;
                bool unbindable = false;

                /* "id parent major:minor root mount-point options [optional fields...] - ..." */
                for (unsigned i = 0; i < 5 && field; i++)
                        mount_point = strsep(&field, " ");
                if (!mount_point || !field)
                        continue;
                (void) strsep(&field, " "); /* per-mount options */
                while ((optional = strsep(&field, " ")) && !streq(optional, "-"))
                        if (streq(optional, "unbindable"))
                                unbindable = true;
                mountinfo_unescape(mount_point);
                /* "/": the directory is a mount's root (that mount is what is bound). */
                if (streq(mount_point, "/"))
                        continue;
                *ret_below = true;
                if (unbindable)
                        *ret_unbindable = true;
        }
        free(line);
        return 0;
}

bool target_thread_root_is_brokers(void) {
        return dir_id_equal(&this_thread.root, &own.root_id);
}

int target_get_fd(Target *t, int listener_fd, uint64_t notification_id, int fd, int *ret) {
        int copy, r;

        if (t->pidfd < 0) {
                t->pidfd = sys_pidfd_open(t->tid, PIDFD_THREAD);
                /* Before Linux 6.9 only a thread group's leader has a pidfd; another thread's fds (its table
                 * may be its own) cannot be had. */
                if (t->pidfd < 0 && errno == EINVAL) {
                        t->pidfd = sys_pidfd_open(t->tid, 0);
                        if (t->pidfd < 0 && errno == EINVAL)
                                return -EOPNOTSUPP;
                }
                if (t->pidfd < 0)
                        return -ESRCH;
        }

        copy = sys_pidfd_getfd(t->pidfd, fd, 0);
        if (copy < 0)
                return -errno;
        /* Invariant 2: the pidfd, and so the fd copied through it, was the trapped task's (not a successor's
         * with its number, nor a sibling's that took it over by exec). */
        r = notify_id_valid(listener_fd, notification_id);
        if (r < 0) {
                safe_close(copy);
                return r;
        }
        *ret = copy;
        return 0;
}

int target_get_cwd_path(const Target *t, char **ret) {
        /* The link's text is relative to the reader's root, which is the target's now. */
        return read_path_link(t->proc_fd, "cwd", ret);
}

static int set_groups(const gid_t *groups, size_t n) {
        if (this_thread.groups_known && n == this_thread.n_groups &&
            (n == 0 || memcmp(groups, this_thread.groups, n * sizeof *groups) == 0))
                return 0;

        this_thread.groups_known = false;
        if (syscall(SYS_setgroups, n, groups) < 0)
                return -errno;
        if (n > 0)
                memcpy(this_thread.groups, groups, n * sizeof *groups);
        this_thread.n_groups = n;
        this_thread.groups_known = true;
        return 0;
}

/* Only when they differ from what the thread has; each change is confirmed, since a failed one would leave
 * the previous ids in force. Called with all capabilities effective. */
static int set_fs_ids(uid_t fsuid, gid_t fsgid) {
        if (fsgid != this_thread.fsgid) {
                (void) syscall(SYS_setfsgid, fsgid);
                this_thread.fsgid = (gid_t) syscall(SYS_setfsgid, -1);
                if (this_thread.fsgid != fsgid)
                        return -EPERM;
        }
        if (fsuid != this_thread.fsuid) {
                (void) syscall(SYS_setfsuid, fsuid);
                this_thread.fsuid = (uid_t) syscall(SYS_setfsuid, -1);
                if (this_thread.fsuid != fsuid)
                        return -EPERM;
        }
        return 0;
}

int target_take_credentials(const Target *t) {
        int r;

        if (t->umask != this_thread.umask) {
                umask(t->umask);
                this_thread.umask = t->umask;
        }

        r = set_groups(t->groups, t->n_groups);
        if (r < 0)
                return r;
        r = set_fs_ids(t->fsuid, t->fsgid);
        if (r < 0)
                return r;

        /* Explicitly, whatever the fsuid change did to the file capabilities. Capabilities held in another
         * user namespace mean nothing here. */
        return capabilities_set_effective(t->in_our_user_namespace ? t->cap_effective : 0);
}

int target_raise_capability(const Target *t, int capability) {
        uint64_t caps = t->in_our_user_namespace ? t->cap_effective : 0;

        if (capability >= 0)
                caps |= UINT64_C(1) << capability;
        /* No log here, inside the target's credentials and outside the log budgets: the error becomes the
         * call's answer, which the handler logs after leaving. */
        return capabilities_set_effective(caps);
}

int target_restore_capabilities(void) {
        return capabilities_restore();
}

int target_leave(void) {
        int r;

        r = target_restore_capabilities();
        if (r < 0)
                return log_error_errno(r, "Failed to restore capabilities: %m");
        /* The thread keeps the target's fs ids, groups, umask, root and cwd: with every capability back they
         * grant nothing the broker lacks, it resolves paths only relative to fds of its own
         * (broker_proc_dir(), broker_root_dir()) between calls, and the next target sets what differs. */
        return 0;
}

