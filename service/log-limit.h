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

/* Each kind of line has budgets of its own, per listener and per owner: a flood of one kind (a loader's
 * opens under --default=deny, denied by the default action) never silences another (what a rule did, why a
 * matching rule was refused). */
typedef enum LogKind {
        LOG_KIND_DECISION,         /* a rule's decision, a refusal, anything else a sandbox causes */
        LOG_KIND_DEFAULT,          /* a call no rule applied to, answered by the listener's default action */
        _LOG_KIND_MAX,
} LogKind;

/* Whether a line (or a summary of n lines, for n > 1) of uid's listeners may be logged by their owner's
 * budget for that kind of line; if not, it is counted as suppressed. Any thread. */
bool log_limit_owner_admit_kind(LogKind kind, uid_t uid, unsigned n);
static inline bool log_limit_owner_admit(uid_t uid, unsigned n) {
        return log_limit_owner_admit_kind(LOG_KIND_DECISION, uid, n);
}
/* Says how many lines the owners' budgets held back in windows that are over (all: in any window). */
void log_limit_flush(bool all);

static inline uint64_t log_limit_now_usec(void) {
        struct timespec ts;

        /* The vDSO: no syscall on the hot path. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}
