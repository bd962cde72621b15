/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The listener thread: receives notifications, decides by the rules, emulates or answers. */
#pragma once

#include "listener.h"

/* Process-wide, before the first listener thread: syscall table, signal for interrupting stuck work. */
int supervise_setup(void);
void *listener_thread(void *userdata);

/* How long one emulated call may block (a FIFO, FUSE, NFS) before it is interrupted with EINTR. */
#define EMULATION_TIMEOUT_SEC 10
