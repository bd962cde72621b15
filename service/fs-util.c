/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's own view of the file system and of /proc, for any thread: its root and /proc opened at
 * startup, fds' paths, stats, mounts and reopening through /proc, and whom a caller's user namespace charges.
 * Nothing here takes on a target's context; that is target.c. */

#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#include "fs-util.h"
#include "log.h"

#define SYS_statmount_ 457 /* Linux 6.8, the same on every architecture but alpha and mips */

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U /* Linux 6.8; Debian 12's headers are 6.1 */
#endif

/* Process-wide, set once before the first listener thread. */
static int broker_root_fd = -EBADF;    /* the broker's own view, for HostPath */
static int proc_fd = -EBADF;           /* our /proc, usable while chrooted into a target's root */
static dev_t broker_proc_dev;          /* our procfs: its self, thread-self and <pid>/ are the broker's */
static ino_t broker_userns_ino;

/* Per listener thread: its own /proc/thread-self/fd, so that reopening an fd looks up one name, not four. */
static __thread int thread_fd_dir = -EBADF;

int fs_setup_process(void) {
        struct stat st;

        broker_root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (broker_root_fd < 0)
                return log_error_errno(-errno, "Failed to open our root directory: %m");
        proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (proc_fd < 0 || fstat(proc_fd, &st) < 0)
                return log_error_errno(-errno, "Failed to open /proc: %m");
        broker_proc_dev = st.st_dev;
        if (stat("/proc/self/ns/user", &st) < 0)
                return log_error_errno(-errno, "Failed to stat our user namespace: %m");
        broker_userns_ino = st.st_ino;
        return 0;
}

void fs_setup_thread(void) {
        /* Only a shortcut: without it, fd links are looked up through thread-self. */
        thread_fd_dir = openat(proc_fd, "thread-self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (thread_fd_dir < 0) {
                log_debug_errno(-errno, "Failed to open the thread's fd directory, going through thread-self: %m");
                thread_fd_dir = -EBADF;
        }
}

void fs_finish_thread(void) {
        thread_fd_dir = safe_close(thread_fd_dir);
}

void fs_forget_thread_in_child(void) {
        /* The fd directory names the parent's thread, whose fds are not the child's. */
        thread_fd_dir = -EBADF;
}

ino_t broker_userns_inode(void) {
        return broker_userns_ino;
}

int broker_proc_dir(void) {
        /* Opened by target_setup_process() before any thread; programs that skip it (tests) get it here. */
        if (proc_fd < 0)
                proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        return proc_fd;
}


int broker_root_dir(void) {
        return broker_root_fd;
}


uid_t account_uid_of(pid_t pid, uid_t uid) {
        _cleanup_close_ int ns = -EBADF;
        char name[32];
        struct stat st;

        if (pid <= 0)
                return uid;
        snprintf(name, sizeof name, "%i/ns/user", (int) pid);
        ns = openat(broker_proc_dir(), name, O_RDONLY | O_CLOEXEC);
        if (ns < 0 || fstat(ns, &st) < 0)
                return uid;
        /* Up to the namespace just below ours: its owner is who made the others. */
        for (unsigned depth = 0; depth < 64 && st.st_ino != broker_userns_ino; depth++) {
                _cleanup_close_ int parent = ioctl(ns, NS_GET_PARENT);
                struct stat parent_st;
                uid_t owner;

                if (parent < 0 || fstat(parent, &parent_st) < 0)
                        return uid;
                /* Namespaces root made (containers) are tenants of their own: charged by their uids. */
                if (parent_st.st_ino == broker_userns_ino)
                        return ioctl(ns, NS_GET_OWNER_UID, &owner) < 0 || owner == 0 ? uid : owner;
                safe_close(ns);
                ns = TAKE_FD(parent);
                st = parent_st;
        }
        return uid;
}


int fd_stat(int fd, struct stat *ret, uint64_t *ret_mnt_id) {
        struct statx sx;

        if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE, &sx) < 0)
                return -errno;
        *ret = (struct stat) {
                .st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor),
                .st_ino = sx.stx_ino,
                .st_mode = sx.stx_mode,
                .st_nlink = sx.stx_nlink,
                .st_uid = sx.stx_uid,
                .st_gid = sx.stx_gid,
                .st_rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor),
                .st_size = (off_t) sx.stx_size,
        };
        *ret_mnt_id = (sx.stx_mask & STATX_MNT_ID_UNIQUE) ? sx.stx_mnt_id : 0;
        return 0;
}


/* Per listener thread: which mounts were procfs, by unique mount id (never reused, unlike st_dev). */
#define MOUNT_KIND_CACHE_SIZE 8
static __thread struct {
        uint64_t mnt_id;
        bool procfs;
} mount_kind_cache[MOUNT_KIND_CACHE_SIZE];
static __thread unsigned mount_kind_next;

bool fd_stat_is_on_procfs(int fd, const struct stat *st, uint64_t mnt_id) {
        struct statfs sf;
        bool procfs;

        if (st->st_dev == broker_proc_dev)
                return true;
        if (mnt_id != 0)
                for (size_t i = 0; i < MOUNT_KIND_CACHE_SIZE; i++)
                        if (mount_kind_cache[i].mnt_id == mnt_id)
                                return mount_kind_cache[i].procfs;

        /* Cannot tell: as if it were. */
        if (fstatfs(fd, &sf) < 0)
                return true;
        procfs = sf.f_type == PROC_SUPER_MAGIC;
        if (mnt_id != 0) {
                mount_kind_cache[mount_kind_next].mnt_id = mnt_id;
                mount_kind_cache[mount_kind_next].procfs = procfs;
                mount_kind_next = (mount_kind_next + 1) % MOUNT_KIND_CACHE_SIZE;
        }
        return procfs;
}

bool fd_is_on_procfs(int fd) {
        struct stat st;
        uint64_t mnt_id;

        return fd_stat(fd, &st, &mnt_id) < 0 || fd_stat_is_on_procfs(fd, &st, mnt_id);
}


int fd_mount_id(int fd, const char *name, int flags, uint64_t *ret_id, bool *ret_is_mount_root) {
        struct statx sx;

        assert(name && ret_id);

        if (statx(fd, name, flags | AT_STATX_SYNC_AS_STAT | (name[0] ? 0 : AT_EMPTY_PATH), STATX_MNT_ID_UNIQUE,
                  &sx) < 0)
                return -errno;
        /* Plain mount ids are reused once a mount is gone: not good enough to say "a mount we made". */
        if (!(sx.stx_mask & STATX_MNT_ID_UNIQUE) || !(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
                return -EOPNOTSUPP;
        *ret_id = sx.stx_mnt_id;
        if (ret_is_mount_root)
                *ret_is_mount_root = sx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
        return 0;
}


int mount_exists(uint64_t mnt_id, uint64_t mntns_id) {
        struct {
                uint32_t size, spare;
                uint64_t mnt_id, param, mnt_ns_id;
        } req = {
                .size = 32, /* MNT_ID_REQ_SIZE_VER1: with mnt_ns_id */
                .mnt_id = mnt_id,
                .param = 0x2, /* STATMOUNT_MNT_BASIC */
                .mnt_ns_id = mntns_id,
        };
        uint64_t buf[64];

        if (mntns_id == 0)
                return -EOPNOTSUPP;
        if (syscall(SYS_statmount_, &req, buf, sizeof buf, 0) >= 0)
                return 1;
        return errno == ENOENT ? 0 : -errno;
}


/* A /proc link naming a path, as seen from this thread's root: refused if not absolute (outside that root)
 * or deleted, since neither names anything a rule could mean. */
int read_path_link(int dir_fd, const char *name, char **ret) {
        char buf[PATH_MAX + 1];
        struct stat st;
        ssize_t n;

        n = readlinkat(dir_fd, name, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        if (buf[0] != '/')
                return -ENOENT;
        /* The kernel's mark of a deleted file, or a name that ends so: only the link count tells. */
        if (endswith(buf, " (deleted)") && (fstatat(dir_fd, name, &st, 0) < 0 || st.st_nlink == 0))
                return -ENOENT;
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}


/* The magic link of our fd: through our own /proc (the target's root may have none), from the thread's own fd
 * directory where it has one (listener threads), else thread-self, which resolves to the reader. */
static int fd_link(int fd, char link[static 64]) {
        if (thread_fd_dir >= 0) {
                snprintf(link, 64, "%i", fd);
                return thread_fd_dir;
        }
        snprintf(link, 64, "thread-self/fd/%i", fd);
        return proc_fd;
}

int fd_reopen(int fd, int flags) {
        char link[64];
        int dir = fd_link(fd, link);

        return openat(dir, link, flags);
}

int fd_get_path(int fd, char **ret) {
        char link[64];
        int dir = fd_link(fd, link);

        return read_path_link(dir, link, ret);
}

bool path_has_dot_dot(const char *path) {
        for (const char *p = path; *p; ) {
                const char *end;

                while (*p == '/')
                        p++;
                end = strchrnul(p, '/');
                if (end - p == 2 && p[0] == '.' && p[1] == '.')
                        return true;
                p = end;
        }
        return false;
}

/* One field of a mountinfo line, its octal escapes (\040 for a space, ...) undone in place. */
static char *mountinfo_unescape(char *field) {
        char *w = field;

        for (const char *r = field; *r; )
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
                    r[3] <= '7') {
                        *w++ = (char) ((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
                        r += 4;
                } else
                        *w++ = *r++;
        *w = 0;
        return field;
}

/* Whether mount point mp is path or one of its parents, component by component ("a//b" is "a/b"). */
static bool mount_point_covers(const char *mp, const char *path) {
        for (;;) {
                while (*mp == '/')
                        mp++;
                while (*path == '/')
                        path++;
                if (!*mp)
                        return true;
                while (*mp && *mp != '/' && *mp == *path)
                        mp++, path++;
                if ((*mp && *mp != '/') || (*path && *path != '/'))
                        return false;
        }
}

int path_under_fuse_mount(const char *path) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        int fd;

        assert(path);

        fd = openat(broker_proc_dir(), "self/mountinfo", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "re");
        if (!f) {
                safe_close(fd);
                return -errno;
        }
        while (getline(&line, &size, f) > 0) {
                char *mp = NULL, *fstype = NULL, *sep, *save = NULL;
                size_t i = 0;

                /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
                sep = strstr(line, " - ");
                if (!sep)
                        continue;
                *sep = 0;
                for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save))
                        if (i++ == 4)
                                mp = t;
                fstype = strtok_r(sep + 3, " ", &save);
                if (!mp || !fstype || !startswith(fstype, "fuse"))
                        continue;
                if (mount_point_covers(mountinfo_unescape(mp), path))
                        return 1;
        }
        return 0;
}
