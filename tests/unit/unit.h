/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A minimal TAP test runner for the unit suite: each TEST() is a function registered in a table. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

typedef struct UnitTest {
        const char *name;
        void (*func)(void);
} UnitTest;

extern int unit_failed;

#define CHECK(expr)                                                                              \
        do {                                                                                     \
                if (!(expr)) {                                                                   \
                        fprintf(stderr, "# %s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        unit_failed = 1;                                                         \
                }                                                                                \
        } while (0)

#define CHECK_STREQ(a, b)                                                                        \
        do {                                                                                     \
                const char *_a_ = (a), *_b_ = (b);                                               \
                if (!_a_ || !_b_ || strcmp(_a_, _b_) != 0) {                                     \
                        fprintf(stderr, "# %s:%d: '%s' != '%s'\n", __FILE__, __LINE__,           \
                                _a_ ? _a_ : "(null)", _b_ ? _b_ : "(null)");                     \
                        unit_failed = 1;                                                         \
                }                                                                                \
        } while (0)

int unit_run(const UnitTest *tests, size_t n);

/* A bus to build D-Bus messages with (rules as a call carries them), connected to nothing. */
sd_bus *unit_test_bus(void);

#define UNIT_MAIN(...)                                                                           \
        int main(void) {                                                                         \
                static const UnitTest tests[] = { __VA_ARGS__ };                                 \
                return unit_run(tests, sizeof tests / sizeof tests[0]);                          \
        }
#define T(f) { #f, f }
