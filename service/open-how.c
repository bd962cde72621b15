/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <unistd.h>

#include "open-how.h"

int open_how_check_size(uint64_t size) {
        if (size < OPEN_HOW_SIZE_VER0)
                return EINVAL;
        if (size > (uint64_t) sysconf(_SC_PAGESIZE))
                return E2BIG;
        return 0;
}

int open_how_check(const struct open_how *how) {
        if (how->flags & ~(uint64_t) OPEN_FLAGS_KNOWN || how->resolve & ~(uint64_t) RESOLVE_KNOWN)
                return EINVAL;
        if (how->mode & ~(uint64_t) 07777 || (how->mode != 0 && !(how->flags & (O_CREAT | __O_TMPFILE))))
                return EINVAL;
        if ((how->resolve & RESOLVE_BENEATH) && (how->resolve & RESOLVE_IN_ROOT))
                return EINVAL;
        /* Never from the cache alone, say the kernel's rules. */
        if ((how->resolve & RESOLVE_CACHED) && (how->flags & (O_TRUNC | O_CREAT | __O_TMPFILE)))
                return EAGAIN;
        return 0;
}
