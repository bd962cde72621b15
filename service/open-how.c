/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <unistd.h>

#include "open-how.h"

/* The kernel's __O_TMPFILE, which WILL_CREATE() and its checks test: glibc's includes O_DIRECTORY, so that a
 * plain O_DIRECTORY would read as a temporary file. */
#define TMPFILE_BIT (__O_TMPFILE & ~O_DIRECTORY)

int open_how_check_size(uint64_t size) {
        if (size < OPEN_HOW_SIZE_VER0)
                return EINVAL;
        if (size > (uint64_t) sysconf(_SC_PAGESIZE))
                return E2BIG;
        return 0;
}

/* In the order of the kernel's build_open_flags(): a struct wrong in two ways gets the errno of the first
 * check it fails, as from the kernel (found by tests/fuzz/fuzz-open.c, which compares the two). */
int open_how_check(const struct open_how *how) {
        uint64_t flags = how->flags;

        if (flags & ~(uint64_t) OPEN_FLAGS_KNOWN || how->resolve & ~(uint64_t) RESOLVE_KNOWN)
                return EINVAL;
        if ((how->resolve & RESOLVE_BENEATH) && (how->resolve & RESOLVE_IN_ROOT))
                return EINVAL;
        if (how->mode & ~(uint64_t) 07777 || (how->mode != 0 && !(flags & (O_CREAT | TMPFILE_BIT))))
                return EINVAL;
        /* Refused since Linux 6.4; older kernels made a regular file. */
        if ((flags & O_CREAT) && (flags & O_DIRECTORY))
                return EINVAL;
        /* O_TMPFILE is __O_TMPFILE with O_DIRECTORY, without O_CREAT, and for writing. */
        if ((flags & TMPFILE_BIT) &&
            ((flags & (TMPFILE_BIT | O_DIRECTORY | O_CREAT)) != O_TMPFILE || (flags & O_ACCMODE) == O_RDONLY))
                return EINVAL;
        /* open() and openat() drop the others; openat2() refuses them. */
        if ((flags & O_PATH) && (flags & ~(uint64_t) (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)))
                return EINVAL;
        /* Never from the cache alone, say the kernel's rules. */
        if ((how->resolve & RESOLVE_CACHED) && (flags & (O_TRUNC | O_CREAT | TMPFILE_BIT)))
                return EAGAIN;
        return 0;
}
