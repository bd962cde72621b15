/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openat2's struct open_how, checked as the kernel checks it: apart from handle-open.c, which reads it from the
 * target, so that the checks can be tested on their own (tests/fuzz/fuzz-open.c). */
#pragma once

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>

/* The first struct open_how (5.6); the kernel refuses anything shorter. */
#define OPEN_HOW_SIZE_VER0 24

/* The kernel's O_LARGEFILE, which openat2() accepts: glibc's is 0 on 64-bit architectures, where open() and
 * openat() add the kernel's themselves. Found missing by tests/fuzz/fuzz-open.c. */
#if defined(__aarch64__) || defined(__arm__)
#define KERNEL_O_LARGEFILE 0400000
#elif defined(__powerpc__)
#define KERNEL_O_LARGEFILE 0200000
#elif defined(__x86_64__) || defined(__i386__) || defined(__riscv) || defined(__loongarch__) || defined(__s390__)
#define KERNEL_O_LARGEFILE 0100000
#else
#define KERNEL_O_LARGEFILE O_LARGEFILE
#endif

/* The open flags this daemon knows; open() and openat() ignore any others, as the kernel does. */
#define OPEN_FLAGS_KNOWN                                                                                    \
        (O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_ASYNC |     \
         O_DIRECT | O_LARGEFILE | KERNEL_O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC |   \
         O_SYNC | O_PATH | __O_TMPFILE)

#define RESOLVE_KNOWN                                                                                       \
        (RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT | \
         RESOLVE_CACHED)

/* The size openat2 was given: 0, or the positive errno the kernel answers (EINVAL, E2BIG). */
int open_how_check_size(uint64_t size);
/* The struct's fields (bytes beyond it already checked to be zero): 0, or the kernel's positive errno. */
int open_how_check(const struct open_how *how);
