/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The privileged operations sysbrokerd performs for a target: a closed list, one dispatch switch. Each runs
 * between target_enter() and target_leave() and re-checks its own invariant before using its capability. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "target.h"

typedef enum EmulateOperation {
        EMULATE_MKNOD,
        _EMULATE_OPERATION_MAX,
} EmulateOperation;

typedef struct EmulateRequest {
        EmulateOperation operation;
        int dir_fd;                /* directory the name is created in, resolved in the target's view */
        const char *name;          /* one path component */
        mode_t mode;
        uint32_t major, minor;
} EmulateRequest;

/* The value the trapped call returns (>= 0), or a negative errno. */
int64_t emulate(const Target *t, const EmulateRequest *req);
