/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lines a sandbox causes are rate-limited: LOG_BURST per LOG_INTERVAL_USEC for each listener (its thread's
 * Supervisor, supervisor.c), and a budget per owner for all its listeners together (log-limit.c), so that
 * neither a sandbox nor a user's many listeners can flood the journal. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "macro.h"

#define LOG_BURST 20
#define LOG_INTERVAL_USEC (10 * USEC_PER_SEC)

/* Whether a line (or a summary of n lines, for n > 1) of uid's listeners may be logged by their owner's
 * budget; if not, it is counted as suppressed. Any thread. */
bool log_limit_owner_admit(uid_t uid, unsigned n);
/* Says how many lines the owners' budgets held back in windows that are over (all: in any window). */
void log_limit_flush(bool all);

static inline uint64_t log_limit_now_usec(void) {
        struct timespec ts;

        /* The vDSO: no syscall on the hot path. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}
