/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The privileged operations sysbrokerd performs for a target: a closed list, one dispatch switch. Each runs
 * between target_enter() and target_leave() and re-checks its own invariant before using its capability. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "target.h"

typedef enum EmulateOperation {
        EMULATE_MKNOD,             /* mknodat(dir_fd, name, mode, major:minor) with CAP_MKNOD */
        EMULATE_OPEN_EXISTING,     /* reopen file_fd (O_PATH, resolved as the target) with flags */
        EMULATE_OPEN_CREATE,       /* openat(dir_fd, name, flags | O_CREAT, mode), no symlink followed */
        EMULATE_MOUNT_NEW,         /* a new superblock of fstype on file_fd, with CAP_SYS_ADMIN */
        EMULATE_MOUNT_BIND,        /* a copy of the mount (tree) at source_fd on file_fd */
        EMULATE_REMOUNT,           /* new flags (and options) for the mount whose root is file_fd */
        EMULATE_UMOUNT,            /* unmount what is mounted on dir_fd/name */
        _EMULATE_OPERATION_MAX,
} EmulateOperation;

typedef struct EmulateRequest {
        EmulateOperation operation;
        int dir_fd;                /* directory the name is created in, resolved in the target's view */
        int file_fd;               /* EMULATE_OPEN_EXISTING: the file resolution reached; mounts: the target */
        const char *name;          /* one path component */
        int flags;                 /* open flags; EMULATE_UMOUNT: umount2 flags */
        bool without_capability;   /* EMULATE_OPEN_EXISTING: the target's credentials alone, no capability */
        mode_t mode;
        uint32_t major, minor;

        /* mounts: everything here was resolved as the target and checked against a rule */
        int source_fd;             /* EMULATE_MOUNT_BIND: what is bound; a disk filesystem: its device */
        const char *fstype;
        const char *source;        /* a memory filesystem's name, a disk's device path (target's view), or NULL */
        const char *options;       /* comma-separated data options, or NULL */
        unsigned long mount_flags; /* MS_*, forced ones included */
        bool recursive;            /* EMULATE_MOUNT_BIND: with the mounts below (MS_REC) */
        bool bind_remount;         /* EMULATE_REMOUNT: flags of the mount only, not its superblock */
        bool lock_flags;           /* the target's mount namespace belongs to another user namespace: lock
                                    * the new mount's flags against it (see lock_mount_flags()) */
        uint64_t mount_id;         /* EMULATE_UMOUNT: the mount that must be the one unmounted */
        uint64_t *ret_mount_id;    /* EMULATE_MOUNT_NEW, _BIND: the new mount, 0 if it cannot be told */
        unsigned long *ret_source_flags; /* EMULATE_MOUNT_BIND: the MS_* flags the source's mount had */
} EmulateRequest;

/* The value the trapped call returns (>= 0; for opens an fd of ours to hand over), or a negative errno. */
int64_t emulate(const Target *t, const EmulateRequest *req);
