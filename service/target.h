/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A supervised task seen from a listener thread: its identity read once from /proc/<tid>, the check that
 * the listener's owner controls it, and entering its context (mount ns, root, cwd, fs ids, one capability). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

typedef struct Target {
        pid_t tid;                 /* the calling thread, in our pid namespace */
        pid_t tgid;
        int proc_fd;               /* /proc/<tid>, bound to that task even if the number is reused */
        int pidfd;                 /* opened on demand, for pidfd_getfd */
        uid_t uid, euid, suid, fsuid;
        gid_t gid, egid, sgid, fsgid;
        gid_t *groups;
        size_t n_groups;
        mode_t umask;
        uint64_t cap_effective;
        bool in_our_user_namespace; /* its capabilities mean something to the host */
        bool controlled_by_owner;   /* invariant 4, for the listener's owner */
} Target;

#define TARGET_NULL ((Target) { .proc_fd = -EBADF, .pidfd = -EBADF })

/* Process-wide setup, once, before any listener thread starts. */
int target_setup_process(void);
/* Per listener thread, once: own fs_struct (root, cwd, umask) so entering a target touches no other thread. */
int target_setup_thread(void);

/* Opens /proc/<tid> and confirms with ID_VALID that it is still the trapped task: from here on t->proc_fd
 * refers to that task or to nothing, whatever happens to the number. */
int target_pin(Target *t, int listener_fd, uint64_t notification_id, pid_t tid);
/* Reads its credentials from /proc/<tid>/status and works out whether the listener's owner controls it. */
int target_read_identity(Target *t, uid_t owner);
void target_done(Target *t);

/* Invariant 4: the owner is root, the task runs as the owner, or it lives in a user namespace the owner created. */
int target_is_controlled_by(const Target *t, uid_t owner);

/* A copy of the target's file descriptor `fd` (for a dirfd argument), confirmed alive by ID_VALID. */
int target_get_fd(Target *t, int listener_fd, uint64_t notification_id, int fd, int *ret);

/* The directory a relative path of the call starts at: the target's cwd for AT_FDCWD, else its dirfd. */
int target_open_dir(Target *t, int listener_fd, uint64_t notification_id, int dirfd, int *ret);

/* Makes the target's root this thread's root (chroot to /proc/<tid>/root): absolute paths and ".." resolve
 * as for the target, through its mount namespace's mounts. With the broker's credentials still. */
int target_enter_root(const Target *t, int listener_fd, uint64_t notification_id);
/* Takes the target's umask, fsuid/fsgid/groups, and its capabilities if they mean anything here;
 * target_raise_capability() then adds the one the operation needs. target_leave() restores the broker's
 * ids and capabilities and must follow, successful or not. */
int target_take_credentials(const Target *t);
int target_raise_capability(const Target *t, int capability);
int target_leave(void);

/* Opens path in the broker's own view (for HostPath rules), with the broker's credentials. */
int broker_root_open(const char *path, int flags, int *ret);

/* Opens the file an O_PATH fd refers to again, with flags, through our /proc (the magic link of the fd):
 * what the fd pins is what is opened. Sets errno, returns the fd or -1. */
int fd_reopen(int fd, int flags);

/* The absolute path of an fd as seen from the current root (the target's, between enter and leave). */
int fd_get_path(int fd, char **ret);
