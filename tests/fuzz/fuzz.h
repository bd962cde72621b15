/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the libFuzzer targets share: the entry point, and a reader that turns the fuzzer's bytes into the
 * choices a structured input is made of (a key, a type, a string). An input that runs out reads as zeros and
 * empty strings: every byte string is some input, so the fuzzer never wastes runs on a rejected prefix. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct FuzzInput {
        const uint8_t *data;
        size_t size;
} FuzzInput;

static inline bool fuzz_empty(const FuzzInput *in) {
        return in->size == 0;
}

static inline uint8_t fuzz_byte(FuzzInput *in) {
        uint8_t b;

        if (in->size == 0)
                return 0;
        b = in->data[0];
        in->data++;
        in->size--;
        return b;
}

static inline uint32_t fuzz_u32(FuzzInput *in) {
        uint32_t v = 0;

        for (unsigned i = 0; i < 4; i++)
                v = v << 8 | fuzz_byte(in);
        return v;
}

/* A string of the length the next byte gives (shorter where the input ends), NUL-terminated; a NUL inside
 * ends it early, as it would for the C code that reads it. Never NULL: abort() on ENOMEM. */
static inline char *fuzz_string(FuzzInput *in) {
        size_t n = fuzz_byte(in);
        char *s;

        if (n > in->size)
                n = in->size;
        s = malloc(n + 1);
        if (!s)
                abort();
        memcpy(s, in->data, n);
        s[n] = 0;
        in->data += n;
        in->size -= n;
        return s;
}

/* One of n choices. */
static inline size_t fuzz_choice(FuzzInput *in, size_t n) {
        return fuzz_byte(in) % n;
}

/* A bus that can build messages: sd-bus builds them only on a started bus, and one end of a socketpair is
 * enough for that. Made once, kept for the whole run. */
sd_bus *fuzz_bus(void);
