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
} Target;

#define TARGET_NULL ((Target) { .proc_fd = -EBADF, .pidfd = -EBADF })

/* Process-wide setup, once, before any listener thread starts. */
int target_setup_process(void);
/* Per listener thread, once: own fs_struct (root, cwd, umask) so entering a target touches no other thread. */
int target_setup_thread(void);

/* Opens /proc/<tid>, reads its status, then confirms with ID_VALID that it is still the trapped task. */
int target_open(Target *t, int listener_fd, uint64_t notification_id, pid_t tid);
void target_done(Target *t);

/* Invariant 4: the owner is root, the task runs as the owner, or it lives in a user namespace the owner created. */
int target_is_controlled_by(const Target *t, uid_t owner);

/* A copy of the target's file descriptor `fd` (for a dirfd argument), confirmed alive by ID_VALID. */
int target_get_fd(Target *t, int listener_fd, uint64_t notification_id, int fd, int *ret);

/* Enters the target's mount namespace and root, changes to `dir_fd` (or the target's cwd if -1), takes its
 * umask, fsuid/fsgid/groups, and its capabilities (if they mean anything here) plus `extra_capability`
 * (-1 for none). target_leave() returns the thread to the broker's own context; it must follow every
 * target_enter(), successful or not. */
int target_enter(const Target *t, int listener_fd, uint64_t notification_id, int dir_fd);
int target_raise_capability(const Target *t, int capability);
int target_leave(void);

/* The absolute path of an fd as seen from the current root (the target's, between enter and leave). */
int fd_get_path(int fd, char **ret);
