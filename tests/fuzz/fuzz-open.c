/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the open handler decodes from a trapped call: openat2's struct open_how (open_how_check_size(),
 * open_how_check()) and the path, read from the target's memory by notify_read_string().
 *
 * The struct is checked against the kernel itself: wherever the daemon refuses a struct, openat2(2) given
 * the same bytes must refuse it with the same errno, since the sandbox is to see what the kernel would
 * answer. The path is placed at the very end of a mapping followed by an inaccessible page (a string ending
 * near unmapped memory, as in a real target) and read back through process_vm_readv() from this process. */

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuzz.h"
#include "macro.h"
#include "notify.h"
#include "open-how.h"

static void check_open_how(FuzzInput *in) {
        uint8_t buf[OPEN_HOW_SIZE_VER0 + 16] = {};
        struct open_how how = {};
        size_t size = fuzz_byte(in) % (sizeof buf + 1);
        int ours, kernel;

        how.flags = (uint64_t) fuzz_u32(in) << 32 | fuzz_u32(in);
        how.mode = (uint64_t) fuzz_u32(in) << 32 | fuzz_u32(in);
        how.resolve = (uint64_t) fuzz_u32(in) << 32 | fuzz_u32(in);
        /* Mostly flags the kernel knows: random 64-bit words would almost all stop at the first check. */
        if (fuzz_byte(in) < 224) {
                how.flags &= OPEN_FLAGS_KNOWN;
                how.mode &= 0177777;
                how.resolve &= RESOLVE_KNOWN;
        }
        memcpy(buf, &how, MIN(size, sizeof how));

        ours = open_how_check_size(size);
        if (ours == 0)
                ours = open_how_check(&how);
        if (ours == 0)
                return;

        /* A directory that does not exist: nothing is ever opened or made, whatever the flags say. */
        kernel = syscall(SYS_openat2, AT_FDCWD, "/nonexistent-sysbroker-fuzz/x", buf, size) < 0 ? errno : 0;
        if (kernel != ours) {
                fprintf(stderr, "open_how flags=0%llo mode=0%llo resolve=0x%llx size %zu: daemon %s, kernel %s\n",
                        (unsigned long long) how.flags, (unsigned long long) how.mode,
                        (unsigned long long) how.resolve, size, strerror(ours), strerror(kernel));
                abort();
        }
}

static void check_read_string(FuzzInput *in) {
        static uint8_t *map;
        static size_t page;
        size_t size = (fuzz_byte(in) << 8 | fuzz_byte(in)) % (2 * 4096) + 1, length = MIN(in->size, 4096u);
        const uint8_t *nul = memchr(in->data, 0, length);
        _cleanup_free_ char *buf = NULL;
        int r, expected;

        if (!map) {
                page = (size_t) sysconf(_SC_PAGESIZE);
                map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (map == MAP_FAILED || mprotect(map + page, page, PROT_NONE) < 0)
                        abort();
        }
        length = MIN(length, page);
        memcpy(map + page - length, in->data, length);

        /* Exactly size bytes, so that ASan sees a write past them. */
        buf = malloc(size);
        if (!buf)
                abort();
        r = notify_read_string(getpid(), (uint64_t) (uintptr_t) (map + page - length), buf, size);

        if (nul && (size_t) (nul - in->data) < size)
                expected = 0;
        else if (!nul && length < size)
                expected = -EFAULT; /* runs into the inaccessible page */
        else
                expected = -ENAMETOOLONG;
        if (r != expected) {
                fprintf(stderr, "notify_read_string(): %d for a %zu-byte string (NUL %s) into %zu bytes, expected %d\n",
                        r, length, nul ? "inside" : "missing", size, expected);
                abort();
        }
        if (r == 0 && strcmp(buf, (const char *) in->data) != 0)
                abort();
        in->size -= length;
        in->data += length;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = { data, size };

        check_open_how(&in);
        check_read_string(&in);
        return 0;
}
