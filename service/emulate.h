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
        _EMULATE_OPERATION_MAX,
} EmulateOperation;

typedef struct EmulateRequest {
        EmulateOperation operation;
        int dir_fd;                /* directory the name is created in, resolved in the target's view */
        int file_fd;               /* EMULATE_OPEN_EXISTING: the file resolution reached */
        const char *name;          /* one path component */
        int flags;                 /* open flags */
        mode_t mode;
        uint32_t major, minor;
} EmulateRequest;

/* The value the trapped call returns (>= 0; for opens an fd of ours to hand over), or a negative errno. */
int64_t emulate(const Target *t, const EmulateRequest *req);
