/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper for the integration suite: mknod calls that a shell cannot make — mknodat() relative to a
 * real directory fd, and an endless stream of calls from several threads for the kill-mid-call test. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "macro.h"

#define LOOP_THREADS 4

static int parse_uint(const char *s, unsigned base, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, base);
        if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* sb-mknod at DIR NAME c|b MAJOR MINOR MODE: mknodat(open(DIR), NAME, ...) and report the outcome as
 * "ok" or the errno name, which the test compares. */
static int do_at(char **argv) {
        unsigned major, minor, mode;
        _cleanup_close_ int dfd = -EBADF;
        mode_t type;

        if (streq(argv[2], "c"))
                type = S_IFCHR;
        else if (streq(argv[2], "b"))
                type = S_IFBLK;
        else {
                fprintf(stderr, "sb-mknod: bad type '%s'\n", argv[2]);
                return 2;
        }
        if (parse_uint(argv[3], 10, &major) < 0 || parse_uint(argv[4], 10, &minor) < 0 ||
            parse_uint(argv[5], 8, &mode) < 0) {
                fprintf(stderr, "sb-mknod: bad number\n");
                return 2;
        }

        /* O_PATH: the broker must resolve against this fd even though it grants no access itself. */
        dfd = open(argv[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                fprintf(stderr, "sb-mknod: cannot open '%s': %m\n", argv[0]);
                return 2;
        }
        if (mknodat(dfd, argv[1], type | mode, makedev(major, minor)) < 0) {
                printf("%s\n", strerrorname_np(errno) ?: "unknown");
                return 1;
        }
        printf("ok\n");
        return 0;
}

static void *loop_thread(void *userdata) {
        const char *path = userdata;

        for (;;) {
                (void) mknod(path, S_IFCHR | 0600, makedev(1, 3));
                (void) unlink(path);
        }
        return NULL;
}

/* sb-mknod loop DIR PIDFILE: trapped calls from several threads until killed. The pid file is written
 * once the first call has come back, i.e. once the broker is known to be answering. */
static int do_loop(char **argv) {
        char paths[LOOP_THREADS][4096];
        pthread_t threads[LOOP_THREADS];
        FILE *f;

        for (unsigned i = 0; i < LOOP_THREADS; i++) {
                if (snprintf(paths[i], sizeof paths[i], "%s/loop%u", argv[0], i) >= (int) sizeof paths[i])
                        return 2;
        }

        (void) mknod(paths[0], S_IFCHR | 0600, makedev(1, 3));

        f = fopen(argv[1], "we");
        if (!f) {
                fprintf(stderr, "sb-mknod: cannot write '%s': %m\n", argv[1]);
                return 2;
        }
        fprintf(f, "%d\n", (int) getpid());
        if (fclose(f) != 0)
                return 2;

        for (unsigned i = 0; i < LOOP_THREADS; i++) {
                int r = pthread_create(&threads[i], NULL, loop_thread, paths[i]);
                if (r != 0) {
                        fprintf(stderr, "sb-mknod: pthread_create: %s\n", strerror(r));
                        return 2;
                }
        }
        for (unsigned i = 0; i < LOOP_THREADS; i++)
                (void) pthread_join(threads[i], NULL);
        return 0;
}

/* mknod and unlink of DIR/node, one call after the other, until STOPFILE exists: every mknod must succeed
 * (each one waits for its answer, however long the broker takes to come back). Prints the counts. */
static int do_count(char **argv) {
        char path[4096];
        unsigned long ok = 0, failed = 0;
        int first_error = 0;

        if (snprintf(path, sizeof path, "%s/node", argv[0]) >= (int) sizeof path)
                return 2;
        while (access(argv[1], F_OK) < 0) {
                if (mknod(path, S_IFCHR | 0600, makedev(1, 3)) < 0) {
                        if (first_error == 0)
                                first_error = errno;
                        failed++;
                } else
                        ok++;
                (void) unlink(path);
        }
        printf("ok=%lu failed=%lu first-error=%s\n", ok, failed, first_error ? strerrorname_np(first_error) : "none");
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 8 && streq(argv[1], "at"))
                return do_at(argv + 2);
        if (argc == 4 && streq(argv[1], "loop"))
                return do_loop(argv + 2);
        if (argc == 4 && streq(argv[1], "count"))
                return do_count(argv + 2);

        fprintf(stderr,
                "Usage: sb-mknod at DIR NAME c|b MAJOR MINOR MODE\n"
                "       sb-mknod count DIR STOPFILE\n"
                "       sb-mknod loop DIR PIDFILE\n");
        return 2;
}
