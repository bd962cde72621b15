/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The messages of the hand-off socket, shared by its outer (handoff.c) and inner (handoff-child.c) sides. */

#include <stdint.h>

#define HANDOFF_MAGIC "SBH1"
#define HANDOFF_MESSAGE_MAX 1024

/* Outer to inner, first: what the filter traps, and how it is installed. */
typedef struct HandoffHello {
        char magic[4];
        uint32_t syscall_mask;
        uint32_t filter_flags;
} HandoffHello;

/* Outer to inner, last: 0 (go) or a negative errno, followed by a message (no NUL) on failure. */
typedef struct HandoffAnswer {
        int32_t error;
        char message[HANDOFF_MESSAGE_MAX];
} HandoffAnswer;
