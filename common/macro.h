/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The few helpers every sysbroker file uses: cleanup attributes, ownership transfer, error logging.
 * Shared by the daemon, the client library and the tests; no other project headers included here. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define STRINGIFY(x) #x
#define XSTRINGIFY(x) STRINGIFY(x)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand ownership over: `ret = TAKE_FD(fd);` leaves fd at -1 so its cleanup does nothing. */
#define TAKE_FD(fd)                             \
        ({                                      \
                int _fd_ = (fd);                \
                (fd) = -EBADF;                  \
                _fd_;                           \
        })
#define TAKE_PTR(p)                             \
        ({                                      \
                __typeof__(p) _p_ = (p);        \
                (p) = NULL;                     \
                _p_;                            \
        })

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Define a `xxx_freep()` for a destructor `xxx_free()` that takes NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        *p = func(*p);                  \
        }

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline const char *strempty(const char *s) {
        return s ?: "";
}

static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

/* What would let a string forge lines, or reorder text, in a log or in polkit's dialog: a byte below 0x20
 * or DEL, and in UTF-8 the C1 controls (U+0080-U+009F), the line and paragraph separators (U+2028, U+2029)
 * and the bidirectional marks and overrides (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069). */
static inline bool string_has_control(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p < 0x20 || *p == 0x7f)
                        return true;
                if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                        return true;
                if (p[0] == 0xe2 && p[1] == 0x80 && ((p[2] >= 0xa8 && p[2] <= 0xae) || p[2] == 0x8e || p[2] == 0x8f))
                        return true;
                if (p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
                        return true;
        }
        return false;
}

/* D-Bus strings must be valid UTF-8: checked where a string does not come from a D-Bus message (a client's
 * arguments, a restored state), to say so instead of failing later in the message builder. */
static inline bool utf8_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                unsigned n;
                uint32_t c;

                if (*p < 0x80) {
                        p++;
                        continue;
                } else if ((*p & 0xe0) == 0xc0) {
                        n = 1;
                        c = *p & 0x1f;
                } else if ((*p & 0xf0) == 0xe0) {
                        n = 2;
                        c = *p & 0x0f;
                } else if ((*p & 0xf8) == 0xf0) {
                        n = 3;
                        c = *p & 0x07;
                } else
                        return false;

                for (unsigned i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        c = (c << 6) | (p[i] & 0x3f);
                }
                /* Overlong forms, surrogates and values past Unicode are not UTF-8. */
                if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
                    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
                        return false;
                p += n + 1;
        }
        return true;
}

static inline bool endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* errno is positive in the kernel's answer and negative inside this code; keep the sign in one place. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define USEC_PER_SEC ((uint64_t) 1000000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)

static inline void *mfree_ptr(void *p) {
        free(p);
        return NULL;
}
