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

/* The root this thread entered (target_enter_dirs()) is the broker's own, the same directory on the same
 * mount: an absolute path resolved from it walks the broker's own mounts. Asked of the thread, not of the
 * target, whose root may have changed since. */
bool target_thread_root_is_brokers(void);
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

