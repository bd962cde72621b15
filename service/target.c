/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Identity and context of supervised tasks. Everything here runs on listener threads; all state changes
 * are per-thread (fs_struct after unshare(CLONE_FS), fsuid/fsgid, groups and capabilities via raw
 * syscalls: glibc's setgroups() would broadcast to every thread). */

#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "log.h"
#include "notify.h"
#include "target.h"

#define TARGET_MAX_GROUPS 65536

static int broker_root_fd = -EBADF;    /* the broker's own view, for HostPath */
static int proc_fd = -EBADF;           /* our /proc, usable after chroot into a target's root */
static ino_t broker_userns_ino;
static uid_t broker_fsuid;             /* what target_leave() returns to: 0, unless run unprivileged */
static gid_t broker_fsgid;
static struct __user_cap_data_struct broker_caps[_LINUX_CAPABILITY_U32S_3];



int target_setup_process(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct stat st;

        broker_root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (broker_root_fd < 0)
                return log_error_errno(-errno, "Failed to open our root directory: %m");
        proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (proc_fd < 0)
                return log_error_errno(-errno, "Failed to open /proc: %m");
        if (stat("/proc/self/ns/user", &st) < 0)
                return log_error_errno(-errno, "Failed to stat our user namespace: %m");
        broker_userns_ino = st.st_ino;


        broker_fsuid = geteuid();
        broker_fsgid = getegid();
        if (syscall(SYS_capget, &h, broker_caps) < 0)
                return log_error_errno(-errno, "Failed to read our capabilities: %m");
        return 0;
}

int target_setup_thread(void) {
        if (unshare(CLONE_FS) < 0)
                return log_error_errno(-errno, "Failed to unshare the thread's filesystem context: %m");
        return 0;
}

int broker_root_open(const char *path, int flags, int *ret) {
        struct open_how how = {
                .flags = (uint64_t) flags | O_CLOEXEC,
                /* The broker's view: absolute paths and ".." stay below our own root, whatever root this
                 * thread is chrooted into right now. */
                .resolve = RESOLVE_IN_ROOT,
        };
        int fd;

        fd = (int) syscall(SYS_openat2, broker_root_fd, path, &how, sizeof how);
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

void target_done(Target *t) {
        t->proc_fd = safe_close(t->proc_fd);
        t->pidfd = safe_close(t->pidfd);
        t->groups = mfree_ptr(t->groups);
        t->n_groups = 0;
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
                if (t->n_groups >= TARGET_MAX_GROUPS)
                        return -E2BIG;
                gid_t *g = reallocarray(t->groups, t->n_groups + 1, sizeof *g);
                if (!g)
                        return -ENOMEM;
                t->groups = g;
                t->groups[t->n_groups++] = (gid_t) v;
                s = end;
        }
}

static int target_read_status(Target *t) {
        _cleanup_fclose_ FILE *f = NULL;
        char line[4096];
        unsigned seen = 0;
        int fd, r;

        fd = openat(t->proc_fd, "status", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "re");
        if (!f) {
                safe_close(fd);
                return -errno;
        }

        while (fgets(line, sizeof line, f)) {
                const char *v;
                uint32_t ids[4] = {};

                if ((v = startswith(line, "Tgid:"))) {
                        r = parse_ids(v, 1, ids);
                        t->tgid = (pid_t) ids[0];
                        seen |= 1;
                } else if ((v = startswith(line, "Uid:"))) {
                        r = parse_ids(v, 4, ids);
                        t->uid = ids[0], t->euid = ids[1], t->suid = ids[2], t->fsuid = ids[3];
                        seen |= 2;
                } else if ((v = startswith(line, "Gid:"))) {
                        r = parse_ids(v, 4, ids);
                        t->gid = ids[0], t->egid = ids[1], t->sgid = ids[2], t->fsgid = ids[3];
                        seen |= 4;
                } else if ((v = startswith(line, "Groups:"))) {
                        r = parse_groups(v, t);
                        seen |= 8;
                } else if ((v = startswith(line, "Umask:"))) {
                        t->umask = (mode_t) strtoul(v, NULL, 8) & 0777;
                        r = 0;
                        seen |= 16;
                } else if ((v = startswith(line, "CapEff:"))) {
                        t->cap_effective = strtoull(v, NULL, 16);
                        r = 0;
                        seen |= 32;
                } else
                        continue;
                if (r < 0)
                        return r;
        }

        /* A task that is being torn down shows a partial file: treat as gone. */
        return seen == 63 ? 0 : -ESRCH;
}

int target_pin(Target *t, int listener_fd, uint64_t notification_id, pid_t tid) {
        char path[32];

        t->tid = tid;
        /* Through our own /proc: this thread may be chrooted into the previous target's root. */
        snprintf(path, sizeof path, "%i", (int) tid);
        t->proc_fd = openat(proc_fd, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (t->proc_fd < 0)
                return -ESRCH;

        /* Invariant 2: the number may have been reused between RECV and open; now it is pinned. */
        return notify_id_valid(listener_fd, notification_id);
}

int target_read_identity(Target *t, uid_t owner) {
        struct stat st;
        int r;

        r = target_read_status(t);
        if (r < 0)
                return r;

        if (fstatat(t->proc_fd, "ns/user", &st, 0) < 0)
                return -ESRCH;
        t->in_our_user_namespace = st.st_ino == broker_userns_ino;

        r = target_is_controlled_by(t, owner);
        if (r < 0)
                log_debug_errno(r, "Cannot tell whether task %i is controlled by uid %u, assuming not: %m",
                                t->tid, owner);
        t->controlled_by_owner = r > 0;
        return 0;
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
                if (st.st_ino == broker_userns_ino)
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

int target_get_fd(Target *t, int listener_fd, uint64_t notification_id, int fd, int *ret) {
        int copy, r;

        if (t->pidfd < 0) {
                t->pidfd = sys_pidfd_open(t->tid, PIDFD_THREAD);
                if (t->pidfd < 0 && errno == EINVAL)
                        t->pidfd = sys_pidfd_open(t->tgid, 0);
                if (t->pidfd < 0)
                        return -ESRCH;
                r = notify_id_valid(listener_fd, notification_id);
                if (r < 0)
                        return r;
        }

        copy = sys_pidfd_getfd(t->pidfd, fd, 0);
        if (copy < 0)
                return -errno;
        *ret = copy;
        return 0;
}

static int set_capabilities(uint64_t effective) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

        /* Permitted stays as the broker's, so the next target_leave() can raise effective again. */
        for (size_t i = 0; i < ELEMENTSOF(d); i++)
                d[i] = (struct __user_cap_data_struct) {
                        .effective = (uint32_t) (effective >> (32 * i)) & broker_caps[i].permitted,
                        .permitted = broker_caps[i].permitted,
                        .inheritable = 0,
                };
        if (syscall(SYS_capset, &h, d) < 0)
                return -errno;
        return 0;
}

int target_open_dir(Target *t, int listener_fd, uint64_t notification_id, int dirfd, int *ret) {
        int fd, r;

        if (dirfd != AT_FDCWD)
                return target_get_fd(t, listener_fd, notification_id, dirfd, ret);

        fd = openat(t->proc_fd, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -ESRCH;
        /* Invariant 2: after opening a /proc file of the target. */
        r = notify_id_valid(listener_fd, notification_id);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        *ret = fd;
        return 0;
}

int target_enter_root(const Target *t, int listener_fd, uint64_t notification_id) {
        _cleanup_close_ int root = -EBADF;
        int r;

        root = openat(t->proc_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -ESRCH;

        /* Invariant 2: what we just opened belongs to the trapped task, not a successor. */
        r = notify_id_valid(listener_fd, notification_id);
        if (r < 0)
                return r;

        /* The root is a directory of the target's mount namespace: a path walk from it follows that
         * namespace's mounts, exactly as the target's own would. No setns() needed for lookups. */
        if (fchdir(root) < 0 || chroot(".") < 0)
                return -errno;
        return 0;
}

/* The groups this thread holds now: target_leave() keeps them (with fsuid 0 and full capabilities they
 * grant nothing more), so the next target of the same user costs no setgroups(). */
static __thread gid_t *thread_groups;
static __thread size_t thread_n_groups;
static __thread bool thread_groups_known;

static int set_groups(const gid_t *groups, size_t n) {
        if (thread_groups_known && n == thread_n_groups &&
            (n == 0 || memcmp(groups, thread_groups, n * sizeof *groups) == 0))
                return 0;

        thread_groups_known = false;
        if (syscall(SYS_setgroups, n, groups) < 0)
                return -errno;
        gid_t *copy = reallocarray(thread_groups, MAX(n, (size_t) 1), sizeof *copy);
        if (!copy)
                return 0; /* merely not cached */
        if (n > 0)
                memcpy(copy, groups, n * sizeof *copy);
        thread_groups = copy;
        thread_n_groups = n;
        thread_groups_known = true;
        return 0;
}

int target_take_credentials(const Target *t) {
        int r;

        umask(t->umask);

        /* fs ids first: moving the fsuid away from 0 clears the file capabilities from the effective set,
         * so they are set (in target_raise_capability) only after this. */
        r = set_groups(t->groups, t->n_groups);
        if (r < 0)
                return r;
        (void) syscall(SYS_setfsgid, t->fsgid);
        (void) syscall(SYS_setfsuid, t->fsuid);
        if ((uid_t) syscall(SYS_setfsuid, -1) != t->fsuid || (gid_t) syscall(SYS_setfsgid, -1) != t->fsgid)
                return -EPERM;

        /* Capabilities held in another user namespace mean nothing here. */
        return set_capabilities(t->in_our_user_namespace ? t->cap_effective : 0);
}

int target_raise_capability(const Target *t, int capability) {
        uint64_t caps = t->in_our_user_namespace ? t->cap_effective : 0;

        if (capability >= 0)
                caps |= UINT64_C(1) << capability;
        return set_capabilities(caps);
}

int target_leave(void) {
        uint64_t all = 0;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(broker_caps); i++)
                all |= (uint64_t) broker_caps[i].permitted << (32 * i);

        r = set_capabilities(all);
        if (r < 0)
                return log_error_errno(r, "Failed to restore capabilities: %m");
        (void) syscall(SYS_setfsuid, broker_fsuid);
        (void) syscall(SYS_setfsgid, broker_fsgid);
        if ((uid_t) syscall(SYS_setfsuid, -1) != broker_fsuid || (gid_t) syscall(SYS_setfsgid, -1) != broker_fsgid)
                return log_error_errno(-EPERM, "Failed to return to our filesystem ids.");
        /* The thread stays chrooted in the target's root: it only ever resolves paths relative to fds (ours
         * via broker_root_fd and proc_fd), and the next target_enter_root() sets it again. */
        return 0;
}

int fd_reopen(int fd, int flags) {
        char link[64];

        snprintf(link, sizeof link, "thread-self/fd/%i", fd);
        return openat(proc_fd, link, flags);
}

int fd_get_path(int fd, char **ret) {
        char link[64], buf[PATH_MAX + 1];
        ssize_t n;

        /* Through our own /proc: the target's root may have none. thread-self resolves to the reader. */
        snprintf(link, sizeof link, "thread-self/fd/%i", fd);
        n = readlinkat(proc_fd, link, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        if (buf[0] != '/' || endswith(buf, " (deleted)"))
                return -ENOENT;
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}
