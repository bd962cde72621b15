/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's capabilities, per thread (libcap): its permitted set, what the daemon needs of it, and the
 * effective set a listener thread switches between the broker's own and a target's plus one. */
#pragma once

#include <stdint.h>

/* Process-wide, once, before any listener thread: reads the broker's permitted set, which is effective again
 * after every target. */
int capabilities_setup_process(void);
/* Names, in one log line, every capability the daemon needs (units/sysbrokerd.service.in) but was started
 * without: an admin who trims CapabilityBoundingSet= learns it at startup, not from a late EPERM. Not fatal:
 * the emulations needing them fail with EPERM, and a daemon run unprivileged (the dbus test suite) still
 * serves registration. A warning if some lack, a notice if all do. Returns how many lack. */
int capabilities_check_required(void);

/* Per listener thread, once: prepares the capability sets the thread sets, so that switching allocates
 * nothing; and releases them at its end. */
int capabilities_setup_thread(void);
void capabilities_finish_thread(void);

/* This thread's effective set becomes effective (as a mask of CAP_* bits), limited to the broker's permitted
 * set, which stays permitted so that capabilities_restore() can raise it again; inheritable is cleared.
 * Acts on the calling thread only (libcap without libpsx: a plain capset()). */
int capabilities_set_effective(uint64_t effective);
/* Every capability of the broker's permitted set effective again. */
int capabilities_restore(void);

/* The capability's name for logs ("cap_mknod"), in buf; its number if libcap does not know it. */
const char *capability_to_string(int capability, char buf[static 32]);
