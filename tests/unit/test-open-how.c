/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openat2's struct open_how as the open handler checks it before anything else: the errno must be the one
 * the kernel would give, for a struct wrong in two ways too (cases found by tests/fuzz/fuzz-open.c). */

#include <errno.h>
#include <unistd.h>

#include "open-how.h"
#include "unit.h"

static int check(uint64_t flags, uint64_t mode, uint64_t resolve) {
        struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };

        return open_how_check(&how);
}

static void test_size(void) {
        CHECK(open_how_check_size(OPEN_HOW_SIZE_VER0 - 1) == EINVAL);
        CHECK(open_how_check_size(OPEN_HOW_SIZE_VER0) == 0);
        CHECK(open_how_check_size((uint64_t) sysconf(_SC_PAGESIZE)) == 0);
        CHECK(open_how_check_size((uint64_t) sysconf(_SC_PAGESIZE) + 1) == E2BIG);
}

static void test_plain(void) {
        CHECK(check(O_RDONLY, 0, 0) == 0);
        CHECK(check(O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644, RESOLVE_NO_SYMLINKS) == 0);
        CHECK(check(O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT) == EINVAL);
        CHECK(check(O_RDONLY, 0, 0x100) == EINVAL);
        CHECK(check(O_WRONLY | O_CREAT, 010000, 0) == EINVAL);
        CHECK(check(O_RDONLY, 0644, 0) == EINVAL);
        CHECK(check(O_WRONLY | O_TRUNC, 0, RESOLVE_CACHED) == EAGAIN);
        CHECK(check(O_WRONLY | O_CREAT | O_DIRECTORY, 0600, 0) == EINVAL);
}

/* glibc's __O_TMPFILE includes O_DIRECTORY: a plain O_DIRECTORY was taken for a temporary file. */
static void test_directory_is_no_tmpfile(void) {
        CHECK(check(O_RDONLY | O_DIRECTORY, 0, RESOLVE_CACHED) == 0);
        CHECK(check(O_RDONLY | O_DIRECTORY, 0644, 0) == EINVAL);
}

static void test_tmpfile(void) {
        CHECK(check(O_RDWR | O_TMPFILE, 0600, 0) == 0);
        CHECK(check(O_RDONLY | O_TMPFILE, 0600, 0) == EINVAL);
        CHECK(check(O_RDWR | (O_TMPFILE & ~O_DIRECTORY), 0600, 0) == EINVAL);
        CHECK(check(O_RDWR | O_TMPFILE | O_CREAT, 0600, 0) == EINVAL);
        CHECK(check(O_RDWR | O_TMPFILE, 0600, RESOLVE_CACHED) == EAGAIN);
        /* Not a valid O_TMPFILE: the kernel says so before it looks at RESOLVE_CACHED. */
        CHECK(check(O_PATH | O_NOFOLLOW | (O_TMPFILE & ~O_DIRECTORY), 0, RESOLVE_IN_ROOT | RESOLVE_CACHED) == EINVAL);
}

static void test_path(void) {
        CHECK(check(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, 0) == 0);
        CHECK(check(O_PATH | O_CREAT, 0600, 0) == EINVAL);
        CHECK(check(O_PATH | O_WRONLY, 0, 0) == EINVAL);
}

/* glibc's O_LARGEFILE is 0 on 64-bit architectures; the kernel's bit is valid in openat2(). */
static void test_largefile(void) {
        CHECK(check(O_RDONLY | KERNEL_O_LARGEFILE, 0, 0) == 0);
}

UNIT_MAIN(T(test_size), T(test_plain), T(test_directory_is_no_tmpfile), T(test_tmpfile), T(test_path),
          T(test_largefile))
