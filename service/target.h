/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A supervised task seen from its listener's thread: pinning it (/proc/<tid>), its credentials, whether the
 * listener's owner controls it, and taking on its context: root, cwd, fs ids, groups, capabilities plus one.
 * Every syscall here is on the hot path of a trapped call, so the thread remembers what it is already set to
 * (the last target's root and cwd, fs ids, groups) and recently seen tasks' /proc fds. */
#pragma once

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "macro.h"

/* Where a directory is, exactly: the same inode on the same mount. */
typedef struct DirId {
        uint64_t dev, ino, mnt_id;
} DirId;

typedef struct Target {
        pid_t tid;                 /* the calling thread, in our pid namespace */
        pid_t tgid;
        int proc_fd;               /* /proc/<tid>: refers to that task even if the number is reused */
        int status_fd;             /* /proc/<tid>/status, read again with pread() */
        int pidfd;                 /* opened on demand, for pidfd_getfd; owned */
        DirId root;                /* the target's root directory */
        uid_t uid, euid, suid, fsuid;
        gid_t gid, egid, sgid, fsgid;
        gid_t groups[256];         /* more than this: refused (ENOSPC), never truncated */
        size_t n_groups;
        mode_t umask;
        uint64_t cap_effective;
        bool in_our_user_namespace; /* its capabilities mean something to the host */
        bool controlled_by_owner;   /* invariant 4, for the listener's owner */
} Target;

#define TARGET_NULL ((Target) { .proc_fd = -EBADF, .status_fd = -EBADF, .pidfd = -EBADF })

/* Process-wide setup, once, before any listener thread starts. */
int target_setup_process(void);
/* Per listener thread, once: own fs_struct (root, cwd, umask) so taking on a target touches no other thread. */
int target_setup_thread(void);
/* Per listener thread, at its end: closes the cached /proc fds. */
void target_finish_thread(void);
/* In a child forked by a listener thread, before anything else: what was the thread's is not the child's. */
void target_forget_thread_in_child(void);

/* Finds /proc/<tid> (cached per thread, or opened and confirmed with ID_VALID) and the target's root. From
 * here on t->proc_fd refers to the trapped task or to nothing, whatever happens to the number. */
int target_pin(Target *t, int listener_fd, uint64_t notification_id, pid_t tid);
/* Reads its credentials (/proc/<tid>/status) and works out whether the listener's owner controls it, then
 * confirms with ID_VALID that the call is still alive: that also covers what the caller read from the
 * target's memory before. -ESRCH if the call is gone. */
int target_read_identity(Target *t, uid_t owner, int listener_fd, uint64_t notification_id);
/* The ids, groups, umask and effective capabilities from the text of /proc/<tid>/status (modified in
 * place): -ESRCH if one is missing (a task being torn down), -EINVAL or -ENOSPC if one cannot be used. */
int target_parse_status(char *text, Target *t);
void target_done(Target *t);

/* Whether the task's fd table has a number free below its RLIMIT_NOFILE: 1, 0, or -errno if it cannot be
 * told. Asked before an emulation that changes a file, so that EMFILE comes before the change, as from the
 * kernel, and not after it, from ADDFD. */
int target_has_free_fd(const Target *t);

/* Whom the limits per user charge for a caller (pid, with uid in our namespace): uid itself, or, for a process
 * in a user namespace below ours, the owner of the outermost one, unless that is root (a container's uids
 * are its own tenants). A user's subordinate uids (newuidmap) are that user's. uid if it cannot be told. */
uid_t account_uid_of(pid_t pid, uid_t uid);

/* Invariant 4: the owner is root, the task runs as the owner, or it lives in a user namespace the owner created. */
int target_is_controlled_by(const Target *t, uid_t owner);

/* Makes the target's root this thread's root, and with with_cwd its cwd this thread's cwd: absolute and
 * AT_FDCWD-relative lookups then resolve as the target's own, through its mount namespace's mounts (a path
 * walk follows the mounts of the directory it starts from; no setns() needed for lookups). Still with the
 * broker's credentials. */
int target_enter_dirs(const Target *t, int listener_fd, uint64_t notification_id, bool with_cwd);
/* The thread's root and cwd are not what it last entered any more (setns(), fchdir()). */
void target_forget_dirs(void);
/* Makes the target's mount namespace this thread's (with the broker's capabilities still effective), so that
 * a mount made now is made there and only there; target_leave_mount_namespace() must follow. Both forget the
 * thread's root and cwd: target_enter_dirs() enters them again. ret_foreign_owner (may be NULL): whether
 * another user namespace than ours owns it (whoever is privileged there may change its mounts' flags). */
int target_enter_mount_namespace(const Target *t, int listener_fd, uint64_t notification_id,
                                 bool *ret_foreign_owner, uint64_t *ret_mntns_id);
/* Whether mount mnt_id still exists in mount namespace mntns_id: 0 gone (or the namespace is), 1 there,
 * -errno when it cannot be told (before Linux 6.11). */
int mount_exists(uint64_t mnt_id, uint64_t mntns_id);
int target_leave_mount_namespace(void);
/* Back to the broker's own mount namespace (a forked child, which never left it as a thread does). */
int target_enter_broker_mount_namespace(void);
/* The broker's own root as this thread's root: absolute paths name what the broker sees. */
int target_enter_broker_root(void);
/* Our /proc as this thread's cwd: "thread-self/fd/N" then names our fd N, in any mount namespace. */
int target_chdir_proc(void);
/* What is mounted at or below the directory dir_fd, in this thread's mount namespace: anything (other than
 * the mount dir_fd is the root of), and anything unbindable. Leaves the thread's root forgotten. */
int target_mounts_below(int dir_fd, bool *ret_below, bool *ret_unbindable);
/* The unique id of the mount "fd/name" is on, and whether it is that mount's root. -EOPNOTSUPP before
 * Linux 6.8 (no STATX_MNT_ID_UNIQUE). */
int fd_mount_id(int fd, const char *name, int flags, uint64_t *ret_id, bool *ret_is_mount_root);

/* The root this thread entered (target_enter_dirs()) is the broker's own, the same directory on the same
 * mount: an absolute path resolved from it walks the broker's own mounts. Asked of the thread, not of the
 * target, whose root may have changed since. */
bool target_thread_root_is_brokers(void);
/* fstat() of fd, and the unique id of its mount (0 before Linux 6.8): one statx(). */
int fd_stat(int fd, struct stat *ret, uint64_t *ret_mnt_id);
/* On a procfs, any instance (fd, its stat and mount id from fd_stat()): every one of them that shows the
 * broker's pid namespace has the broker's own /proc/<pid> (as "self" too), and a file there reopened by a
 * listener thread passes the kernel's ptrace check, the thread being the broker's. The mount's kind is asked
 * once per mount (fstatfs), when its id is unique; true if it cannot be told. */
bool target_is_on_procfs(int fd, const struct stat *st, uint64_t mnt_id);
/* The same, for an fd not yet stat'ed: true also if it cannot be. */
bool fd_is_on_procfs(int fd);
/* Our /proc, opened at startup: what a sandbox later mounts over /proc (in our namespace) does not change it. */
int broker_proc_dir(void);
/* The target's file descriptor fd (for a dirfd argument), copied with pidfd_getfd and confirmed by ID_VALID
 * after. -EOPNOTSUPP for a thread that leads no thread group, before Linux 6.9 (PIDFD_THREAD). */
int target_get_fd(Target *t, int listener_fd, uint64_t notification_id, int fd, int *ret);
/* The target's cwd as a path in its own view (after target_enter_dirs()). */
int target_get_cwd_path(const Target *t, char **ret);

/* Takes the target's umask, fsuid/fsgid/groups, and its capabilities if they mean anything here;
 * target_raise_capability() then adds the one the operation needs. target_leave() restores the broker's
 * capabilities and must follow, successful or not. The fs ids stay until the next target needs others:
 * with all capabilities back they grant nothing more. */
int target_take_credentials(const Target *t);
int target_raise_capability(const Target *t, int capability);
int target_leave(void);
/* target_leave() without logging, for a forked child. */
int target_restore_capabilities(void);

/* The broker's own root, opened at startup (-EBADF before): where host paths are resolved (host-path.h). */
int broker_root_dir(void);

/* Opens the file an O_PATH fd refers to again, with flags, through our /proc (the magic link of the fd):
 * what the fd pins is what is opened. Sets errno, returns the fd or -1. */
int fd_reopen(int fd, int flags);

/* The absolute path of an fd as seen from the current root (the target's, after target_enter_dirs()). */
int fd_get_path(int fd, char **ret);
