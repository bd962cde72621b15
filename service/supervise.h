/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The listener thread: receives notifications, decides by the rules, emulates or answers. */
#pragma once

#include <signal.h>

#include "listener.h"

/* Process-wide, before the first listener thread: syscall table, signal for interrupting stuck work. */
int supervise_setup(void);
void *listener_thread(void *userdata);

/* How long one call may keep its listener's thread (a FIFO, FUSE, NFS) before the main loop's watchdog
 * interrupts it with this signal: the blocked syscall returns EINTR, and so does the trapped call. */
#define EMULATION_TIMEOUT_SEC 10
#define SIGNAL_INTERRUPT (SIGRTMIN + 1)

/* From the main loop (the rate limits, log-limit.h): whether a line about l may be logged by its owner's
 * budget; and says how many lines the owners' budgets held back in windows that are over (all: in any
 * window, when the last listener is gone). */
bool supervise_log_owner_admit(const Listener *l);
void supervise_log_flush(bool all);

/* Run by the main loop every second while listeners exist. */
void supervise_watchdog(Listener *l, uint64_t now_usec);
/* From the main loop: wakes the thread if it waits for a call, so that it sees l->stop. A thread busy with
 * a call sees it when the call is answered, or sooner with interrupt_call (the call fails with EINTR, as
 * for the watchdog); never while it answers. */
void supervise_wake_for_stop(Listener *l, bool interrupt_call);
