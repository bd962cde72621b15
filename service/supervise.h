/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The listener thread: receives notifications, decides by the rules, emulates or answers. */
#pragma once

#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "listener.h"

/* Process-wide, before the first listener thread: syscall table, signal for interrupting stuck work. */
int supervise_setup(void);
void *listener_thread(void *userdata);

/* How long one call may keep its listener's thread (a FIFO, FUSE, NFS) before the main loop's watchdog
 * interrupts it with this signal: the blocked syscall returns EINTR, and so does the trapped call. */
#define EMULATION_TIMEOUT_SEC 10
#define SIGNAL_INTERRUPT (SIGRTMIN + 1)

/* Lines a sandbox causes are rate-limited: LOG_BURST per LOG_INTERVAL_USEC for each listener (its thread's
 * Supervisor, supervisor.c), OWNER_LOG_BURST (supervise.c) for all listeners of one owner together. */
#define LOG_BURST 20
#define LOG_INTERVAL_USEC (10 * USEC_PER_SEC)

/* Whether a line (or a summary of n lines, for n > 1) of uid's listeners may be logged by their owner's
 * limit; if not, it is counted as suppressed. Any thread. */
bool supervise_log_owner_admit_uid(uid_t uid, unsigned n);
/* From the main loop: whether a line about l may be logged by its owner's limit; and says how many lines the
 * owners' limits held back in windows that are over (all: in any window, when the last listener is gone). */
bool supervise_log_owner_admit(const Listener *l);
void supervise_log_flush(bool all);

/* Listener thread side of the signal gate: before answering (SEND, or ADDFD with SEND); from here on,
 * nothing interrupts the thread. */
void supervise_begin_answer(Listener *l);

static inline uint64_t supervise_now_usec(void) {
        struct timespec ts;

        /* The vDSO: no syscall on the hot path. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* Run by the main loop every second while listeners exist. */
void supervise_watchdog(Listener *l, uint64_t now_usec);
/* From the main loop: wakes the thread if it waits for a call, so that it sees l->stop. A thread busy with
 * a call sees it when the call is answered, or sooner with interrupt_call (the call fails with EINTR, as
 * for the watchdog); never while it answers. */
void supervise_wake_for_stop(Listener *l, bool interrupt_call);
