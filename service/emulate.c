/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The closed list of privileged operations. */

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "emulate.h"
#include "fs-util.h"
#include "log.h"
#include "rule.h"

#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000 /* Linux 5.10, statfs(2); not in Debian 12's glibc headers */
#endif
#ifndef FSCONFIG_CMD_CREATE_EXCL
#define FSCONFIG_CMD_CREATE_EXCL 8 /* Linux 6.6; Debian 12's headers are 6.1 */
#endif

static bool is_single_component(const char *name) {
        return name && name[0] && !strchr(name, '/') && !streq(name, ".") && !streq(name, "..");
}

static int64_t emulate_mknod(const Target *t, const EmulateRequest *req) {
        int r;

        /* Better safe than sorry: only device nodes, only a single name below a resolved directory. */
        if (!S_ISCHR(req->mode) && !S_ISBLK(req->mode))
                return -EPERM;
        if (!is_single_component(req->name) || req->dir_fd < 0)
                return -EPERM;

        r = target_raise_capability(t, CAP_MKNOD);
        if (r < 0)
                return r;
        r = mknodat(req->dir_fd, req->name, req->mode, makedev(req->major, req->minor));
        return r < 0 ? -errno : 0;
}

/* The capability an open needs beyond the target's own: to read, or to write (which also reads). */
static int open_capability(int flags) {
        return (flags & O_ACCMODE) == O_RDONLY && !(flags & (O_TRUNC | O_APPEND | O_CREAT))
                ? CAP_DAC_READ_SEARCH : CAP_DAC_OVERRIDE;
}

static int64_t emulate_open_existing(const Target *t, const EmulateRequest *req) {
        int fd, r;

        /* The O_PATH fd pins what resolution reached: reopening it cannot be redirected by a rename or a
         * symlink swapped in meanwhile. No creation here. */
        if (req->file_fd < 0 || (req->flags & (O_CREAT | O_PATH)) || (req->flags & __O_TMPFILE) == __O_TMPFILE)
                return -EPERM;

        r = target_raise_capability(t, req->without_capability ? -1 : open_capability(req->flags));
        if (r < 0)
                return r;
        /* O_NOCTTY always: a terminal opened for a sandbox must never become the daemon's controlling tty,
         * or the sandbox could signal the daemon through it. */
        fd = fd_reopen(req->file_fd, (req->flags & ~(O_NOFOLLOW | O_EXCL)) | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? -errno : fd;
}

static int64_t emulate_open_create(const Target *t, const EmulateRequest *req) {
        struct open_how how = {
                /* O_EXCL always: a name that appeared since the check is not opened with our capability here
                 * (the caller checks it again as an existing file). O_NOCTTY: see above. */
                .flags = (uint64_t) (req->flags | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY),
                /* Never set-user-ID or set-group-ID: a file the sandbox could not have created itself
                 * must not be one that runs with its owner's or group's ids. */
                .mode = req->mode & 01777,
                /* One component below the directory resolution reached, and never a symlink: a link
                 * planted there after the check must not be followed with our capability. */
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        int fd, r;

        if (!is_single_component(req->name) || req->dir_fd < 0 || (req->flags & O_PATH))
                return -EPERM;

        r = target_raise_capability(t, CAP_DAC_OVERRIDE);
        if (r < 0)
                return r;
        fd = (int) syscall(SYS_openat2, req->dir_fd, req->name, &how, sizeof how);
        return fd < 0 ? -errno : fd;
}

/* The per-mount attributes of MS_* flags; relatime is what no atime flag means. */
static uint64_t mount_attributes(unsigned long flags) {
        uint64_t a = 0;

        if (flags & MS_RDONLY)
                a |= MOUNT_ATTR_RDONLY;
        if (flags & MS_NOSUID)
                a |= MOUNT_ATTR_NOSUID;
        if (flags & MS_NODEV)
                a |= MOUNT_ATTR_NODEV;
        if (flags & MS_NOEXEC)
                a |= MOUNT_ATTR_NOEXEC;
        if (flags & MS_NODIRATIME)
                a |= MOUNT_ATTR_NODIRATIME;
        if (flags & MS_NOSYMFOLLOW)
                a |= MOUNT_ATTR_NOSYMFOLLOW;
        if (flags & MS_NOATIME)
                a |= MOUNT_ATTR_NOATIME;
        else if (flags & MS_STRICTATIME)
                a |= MOUNT_ATTR_STRICTATIME;
        return a;
}

#define MOUNT_ATTRIBUTES_ALL (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | \
                              MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW)

/* Superblock flags and data options, as mount(2) would pass them to the filesystem. */
static int fs_configure(int fs, unsigned long flags, const char *options, bool reconfigure) {
        _cleanup_free_ char *copy = NULL;

        if ((flags & MS_RDONLY) || reconfigure)
                if (fsconfig(fs, FSCONFIG_SET_FLAG, flags & MS_RDONLY ? "ro" : "rw", NULL, 0) < 0)
                        return -errno;
        if ((flags & MS_SYNCHRONOUS) && fsconfig(fs, FSCONFIG_SET_FLAG, "sync", NULL, 0) < 0)
                return -errno;
        if ((flags & MS_DIRSYNC) && fsconfig(fs, FSCONFIG_SET_FLAG, "dirsync", NULL, 0) < 0)
                return -errno;
        if ((flags & MS_LAZYTIME) && fsconfig(fs, FSCONFIG_SET_FLAG, "lazytime", NULL, 0) < 0)
                return -errno;

        if (!options)
                return 0;
        copy = strdup(options);
        if (!copy)
                return -ENOMEM;
        for (char *opt = copy, *next; opt; opt = next) {
                char *value;
                int r;

                next = strchr(opt, ',');
                if (next)
                        *next++ = 0;
                if (opt[0] == 0)
                        continue;
                value = strchr(opt, '=');
                if (value) {
                        *value++ = 0;
                        r = fsconfig(fs, FSCONFIG_SET_STRING, opt, value, 0);
                } else
                        r = fsconfig(fs, FSCONFIG_SET_FLAG, opt, NULL, 0);
                if (r < 0)
                        return -errno;
        }
        return 0;
}

/* The filesystem's own words for why it refused, at debug level: the call gets only an errno. */
static void fs_log_messages(int fs) {
        char buf[512];
        ssize_t n;

        while ((n = read(fs, buf, sizeof buf - 1)) > 0) {
                buf[n] = 0;
                log_debug("Filesystem says: %s", buf);
        }
}

/* How long the child of lock_mount_flags() may take: a few system calls. */
#define LOCK_CHILD_TIMEOUT_MSEC 5000

/* Closes every fd of this process but a and b. */
static void close_all_but(int a, int b) {
        int lo = MIN(a, b), hi = MAX(a, b);

        if (lo > 0)
                (void) close_range(0, lo - 1, 0);
        if (hi > lo + 1)
                (void) close_range(lo + 1, hi - 1, 0);
        (void) close_range(hi + 1, ~0U, 0);
}

/* The child's part: only system calls (a child of a threaded process: another thread may have held a lock).
 * It leaves the sandbox's namespaces alone entirely: a fresh user namespace of its own is enough to make the
 * kernel lock what it copies, and nobody else may signal or trace a process in it. */
_Noreturn static void lock_mount_flags_child(int mnt, int sock, bool recursive) {
        union {
                struct cmsghdr header;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        int result = 0, tree;
        struct iovec iov = { .iov_base = &result, .iov_len = sizeof result };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        struct cmsghdr *cmsg;

        /* The broker's capabilities (the thread had the target's plus one) and its mount namespace, then
         * nothing but mnt and the socket: no listener, connection or state of anyone else. */
        target_forget_thread_in_child();
        result = target_restore_capabilities();
        if (result == 0)
                result = target_enter_broker_mount_namespace();
        close_all_but(mnt, sock);
        /* A private copy of our namespace with mnt on /proc (by path: fds name the original namespace's
         * mounts, not the copy's), then a copy of that one into a new user namespace: the kernel locks every
         * mount's flags on the way (MNT_LOCK_*), and the clone of mnt taken there keeps them. */
        if (result == 0 &&
            (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
             move_mount(mnt, "", AT_FDCWD, "/proc", MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
             unshare(CLONE_NEWUSER) < 0 || unshare(CLONE_NEWNS) < 0))
                result = -errno;
        if (result == 0) {
                tree = open_tree(AT_FDCWD, "/proc", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
                if (tree < 0)
                        result = -errno;
                else {
                        msg.msg_control = &control;
                        msg.msg_controllen = sizeof control;
                        cmsg = CMSG_FIRSTHDR(&msg);
                        cmsg->cmsg_level = SOL_SOCKET;
                        cmsg->cmsg_type = SCM_RIGHTS;
                        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
                        memcpy(CMSG_DATA(cmsg), &tree, sizeof(int));
                }
        }
        (void) sendmsg(sock, &msg, MSG_NOSIGNAL);
        _exit(result < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

/* A copy of the detached mount (tree) mnt whose flags are locked (MNT_LOCK_READONLY, _NOSUID, _NODEV,
 * _NOEXEC, _ATIME): a process privileged in the target's mount namespace (the sandbox that owns it) cannot
 * clear them with mount_setattr() or a remount of its own. The kernel locks flags when it copies mounts into a
 * mount namespace of another user namespace; a short-lived child does that copy. */
static int lock_mount_flags(int mnt, bool recursive) {
        union {
                struct cmsghdr header;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        int sv[2], result = -ETIMEDOUT, locked = -EBADF, r;
        struct iovec iov = { .iov_base = &result, .iov_len = sizeof result };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control };
        struct pollfd pfd;
        struct cmsghdr *cmsg;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                safe_close(sv[0]);
                safe_close(sv[1]);
                return -errno;
        }
        if (pid == 0)
                lock_mount_flags_child(mnt, sv[1], recursive);

        safe_close(sv[1]);
        /* Bounded: whatever becomes of the child, this listener's thread goes on (EINTR: the watchdog). */
        pfd = (struct pollfd) { .fd = sv[0], .events = POLLIN };
        r = poll(&pfd, 1, LOCK_CHILD_TIMEOUT_MSEC);
        if (r < 0)
                result = -errno;
        else if (r > 0) {
                ssize_t k = recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
                if (k < 0)
                        result = -errno;
                else if (k == 0)
                        result = -EIO; /* gone without a word */
                else if (result == 0) {
                        cmsg = CMSG_FIRSTHDR(&msg);
                        if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
                            cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
                                memcpy(&locked, CMSG_DATA(cmsg), sizeof(int));
                        else
                                result = -EIO;
                }
        }
        safe_close(sv[0]);
        (void) kill(pid, SIGKILL); /* done or not, it goes */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (result < 0) {
                safe_close(locked);
                return result;
        }
        return locked;
}

/* Attaches a detached mount (tree) on the target's mount point, after noting which mount it is; with its
 * flags locked first where the target's mount namespace belongs to another user namespace. */
static int64_t attach_mount(int mnt, const EmulateRequest *req) {
        _cleanup_close_ int locked = -EBADF;

        if (req->lock_flags) {
                locked = lock_mount_flags(mnt, req->recursive);
                if (locked < 0)
                        return locked;
                mnt = locked;
        }
        if (fd_mount_id(mnt, "", 0, req->ret_mount_id, NULL) < 0)
                *req->ret_mount_id = 0;
        if (move_mount(mnt, "", req->file_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return -errno;
        return 0;
}

/* The MS_* flags of the mount fd is on. */
static unsigned long mount_flags_of(int fd) {
        struct statvfs sv;
        unsigned long flags = 0;

        if (fstatvfs(fd, &sv) < 0)
                return 0;
        if (sv.f_flag & ST_RDONLY)
                flags |= MS_RDONLY;
        if (sv.f_flag & ST_NOSUID)
                flags |= MS_NOSUID;
        if (sv.f_flag & ST_NODEV)
                flags |= MS_NODEV;
        if (sv.f_flag & ST_NOEXEC)
                flags |= MS_NOEXEC;
        if (sv.f_flag & ST_NOSYMFOLLOW)
                flags |= MS_NOSYMFOLLOW;
        return flags;
}

static int64_t emulate_mount_new(const Target *t, const EmulateRequest *req) {
        _cleanup_close_ int fs = -EBADF, mnt = -EBADF;
        RuleFsKind kind = req->fstype ? rule_fs_kind(req->fstype) : _RULE_FS_KIND_INVALID;
        struct stat device = {}, st;
        int r;

        /* Only the filesystems rules may name, and a disk one only from a block device we hold. */
        if (req->file_fd < 0 || (kind != RULE_FS_MEMORY && kind != RULE_FS_BLOCK))
                return -EPERM;
        if (kind == RULE_FS_BLOCK && (req->source_fd < 0 || !req->source || fstat(req->source_fd, &device) < 0 ||
                                      !S_ISBLK(device.st_mode)))
                return -EPERM;

        r = target_raise_capability(t, CAP_SYS_ADMIN);
        if (r < 0)
                return r;
        fs = fsopen(req->fstype, FSOPEN_CLOEXEC);
        if (fs < 0)
                return -errno;

        /* A disk's source is a path the kernel looks up itself, from this thread's root, which is the
         * target's: it may lead elsewhere by now, which the device check below catches. */
        if (req->source && req->source[0] && fsconfig(fs, FSCONFIG_SET_STRING, "source", req->source, 0) < 0)
                return -errno;

        /* A disk's superblock must be ours alone (6.6+): sharing the host's mount of that device would let a
         * remount reconfigure the host's. */
        r = fs_configure(fs, req->mount_flags, req->options, false);
        if (r >= 0 && fsconfig(fs, kind == RULE_FS_BLOCK ? FSCONFIG_CMD_CREATE_EXCL : FSCONFIG_CMD_CREATE,
                               NULL, NULL, 0) < 0)
                r = -errno;
        if (r < 0) {
                fs_log_messages(fs);
                return r;
        }
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned) mount_attributes(req->mount_flags));
        if (mnt < 0)
                return -errno;

        /* Still detached: a superblock of another device than the one checked (and held open as
         * source_fd) is never attached. */
        if (kind == RULE_FS_BLOCK && (fstat(mnt, &st) < 0 || st.st_dev != device.st_rdev))
                return -EPERM;

        return attach_mount(mnt, req);
}

static int64_t emulate_mount_bind(const Target *t, const EmulateRequest *req) {
        struct mount_attr attr = {
                .attr_set = mount_attributes(req->mount_flags),
        };
        unsigned recursive = req->recursive ? AT_RECURSIVE : 0;
        _cleanup_close_ int tree = -EBADF;
        int r;

        if (req->file_fd < 0 || req->source_fd < 0)
                return -EPERM;
        if (attr.attr_set & MOUNT_ATTR__ATIME)
                attr.attr_clr = MOUNT_ATTR__ATIME;

        r = target_raise_capability(t, CAP_SYS_ADMIN);
        if (r < 0)
                return r;
        /* A detached copy: the forced flags are on it (and everything below, when recursive) before it is
         * attached anywhere. */
        tree = open_tree(req->source_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | recursive);
        if (tree < 0)
                return -errno;
        /* What the source's mount had (read-only, say) stays: remounts must keep it. */
        if (req->ret_source_flags)
                *req->ret_source_flags = mount_flags_of(tree);
        if (mount_setattr(tree, "", AT_EMPTY_PATH | recursive, &attr, sizeof attr) < 0)
                return -errno;
        return attach_mount(tree, req);
}

static int64_t emulate_remount(const Target *t, const EmulateRequest *req) {
        struct mount_attr attr = {
                /* As mount(MS_REMOUNT) does: the mount's flags become exactly those asked for. */
                .attr_set = mount_attributes(req->mount_flags),
                .attr_clr = MOUNT_ATTRIBUTES_ALL,
        };
        int r;

        if (req->file_fd < 0)
                return -EPERM;

        r = target_raise_capability(t, CAP_SYS_ADMIN);
        if (r < 0)
                return r;
        if (!req->bind_remount) {
                _cleanup_close_ int fs = -EBADF;

                fs = fspick(req->file_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC | FSPICK_NO_AUTOMOUNT);
                if (fs < 0)
                        return -errno;
                r = fs_configure(fs, req->mount_flags, req->options, true);
                if (r >= 0 && fsconfig(fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
                        r = -errno;
                if (r < 0) {
                        fs_log_messages(fs);
                        return r;
                }
        }
        if (mount_setattr(req->file_fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
                return -errno;
        return 0;
}

static int64_t emulate_umount(const Target *t, const EmulateRequest *req) {
        int r;

        /* By name below the directory holding the mount point: an fd on the mount itself would keep it
         * busy. The name cannot be renamed or removed while something is mounted on it. */
        if (!is_single_component(req->name) || req->dir_fd < 0 || (req->flags & ~MNT_DETACH))
                return -EPERM;

        r = target_raise_capability(t, CAP_SYS_ADMIN);
        if (r < 0)
                return r;
        target_forget_dirs();
        if (fchdir(req->dir_fd) < 0)
                return -errno;
        /* Still the mount that was checked, not one stacked on it since. */
        uint64_t id;
        bool is_root = false;
        if (fd_mount_id(req->dir_fd, req->name, AT_SYMLINK_NOFOLLOW, &id, &is_root) < 0 || !is_root ||
            id != req->mount_id)
                return -EPERM;
        if (umount2(req->name, UMOUNT_NOFOLLOW | req->flags) < 0)
                return -errno;
        return 0;
}

int64_t emulate(const Target *t, const EmulateRequest *req) {
        switch (req->operation) {
        case EMULATE_MKNOD:
                return emulate_mknod(t, req);
        case EMULATE_OPEN_EXISTING:
                return emulate_open_existing(t, req);
        case EMULATE_OPEN_CREATE:
                return emulate_open_create(t, req);
        case EMULATE_MOUNT_NEW:
                return emulate_mount_new(t, req);
        case EMULATE_MOUNT_BIND:
                return emulate_mount_bind(t, req);
        case EMULATE_REMOUNT:
                return emulate_remount(t, req);
        case EMULATE_UMOUNT:
                return emulate_umount(t, req);
        case _EMULATE_OPERATION_MAX:
        default:
                return -EPERM;
        }
}
