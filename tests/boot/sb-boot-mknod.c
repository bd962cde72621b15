/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Boot tests: the sandbox side of the restart and journal checks. A shell loop around coreutils' mknod
 * would fork twice per call and say little about why a call failed; this makes the calls back to back and
 * counts them, so that a call lost or failed across a restart of sysbrokerd shows up in the totals, with
 * the errno of the first failure by name.
 *
 *   sb-boot-mknod [--raw] [--chroot DIR] [--pause MS] [--ready READY] count NODE N
 *                                                       N calls of mknod(NODE, c 1:3, 0600) + unlink(NODE), MS
 *                                                       milliseconds apart; READY is created once the first
 *                                                       call has come back
 *   sb-boot-mknod [--raw] until NODE STOPFILE READY     the same until STOPFILE exists; READY is created
 *                                                       once the first call has come back (sysbrokerd is
 *                                                       answering)
 *
 * glibc's mknod() makes the mknodat system call; --raw makes the mknod system call itself (where the
 * architecture has one), so that both names can be looked for in the journal. --chroot DIR makes the calls
 * from a root of the sandbox's own (in a user namespace of its own, which allows the chroot): NODE is then a
 * path below DIR, as the sandbox sees it. Nothing is loaded after the chroot.
 *
 * Prints "pid=P ok=N failed=M first-error=NAME|none" and exits 0: the test judges the counts. */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

typedef struct Counts {
        unsigned long ok;
        unsigned long failed;
        int first_error;
} Counts;

static bool arg_raw = false;
static unsigned long arg_pause_ms = 0;
static const char *arg_ready = NULL;

static int make_node(const char *node) {
        if (!arg_raw)
                return mknod(node, S_IFCHR | 0600, makedev(1, 3));
#ifdef SYS_mknod
        return (int) syscall(SYS_mknod, node, S_IFCHR | 0600, makedev(1, 3));
#else
        errno = ENOSYS;
        return -1;
#endif
}

static void one_call(const char *node, Counts *c) {
        if (make_node(node) < 0) {
                if (c->first_error == 0)
                        c->first_error = errno;
                c->failed++;
        } else
                c->ok++;
        /* Not trapped: the next call must find the name free again. */
        (void) unlink(node);
}

static int touch(const char *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);

        if (fd < 0) {
                fprintf(stderr, "sb-boot-mknod: cannot create '%s': %s\n", path, strerror(errno));
                return -1;
        }
        (void) close(fd);
        return 0;
}

static int parse_ulong(const char *s, unsigned long *ret) {
        char *end;

        errno = 0;
        *ret = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
                fprintf(stderr, "sb-boot-mknod: bad number '%s'\n", s);
                return -1;
        }
        return 0;
}

static void pause_ms(unsigned long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 };

        /* Not trapped; a signal cutting it short only makes one pause shorter. */
        (void) nanosleep(&ts, NULL);
}

static int enter_root(const char *dir) {
        if (unshare(CLONE_NEWUSER) < 0 || chroot(dir) < 0 || chdir("/") < 0) {
                fprintf(stderr, "sb-boot-mknod: cannot chroot into '%s': %s\n", dir, strerror(errno));
                return -1;
        }
        return 0;
}

int main(int argc, char **argv) {
        Counts c = {};
        const char *name;

        if (argc > 1 && strcmp(argv[1], "--raw") == 0) {
#ifndef SYS_mknod
                fprintf(stderr, "sb-boot-mknod: this architecture has no mknod system call\n");
                return 2;
#endif
                arg_raw = true;
                argv++;
                argc--;
        }
        if (argc > 2 && strcmp(argv[1], "--chroot") == 0) {
                if (enter_root(argv[2]) < 0)
                        return 2;
                argv += 2;
                argc -= 2;
        }

        /* Only for "count": "until" makes its calls back to back and has a READY of its own. */
        for (;;) {
                if (argc > 2 && strcmp(argv[1], "--pause") == 0) {
                        if (parse_ulong(argv[2], &arg_pause_ms) < 0)
                                return 2;
                } else if (argc > 2 && strcmp(argv[1], "--ready") == 0)
                        arg_ready = argv[2];
                else
                        break;
                argv += 2;
                argc -= 2;
        }

        if (argc == 4 && strcmp(argv[1], "count") == 0) {
                unsigned long n;

                if (parse_ulong(argv[3], &n) < 0)
                        return 2;
                for (unsigned long i = 0; i < n; i++) {
                        if (i > 0 && arg_pause_ms > 0)
                                pause_ms(arg_pause_ms);
                        one_call(argv[2], &c);
                        if (i == 0 && arg_ready && touch(arg_ready) < 0)
                                return 2;
                }
        } else if (argc == 5 && strcmp(argv[1], "until") == 0 && arg_pause_ms == 0 && !arg_ready) {
                bool ready = false;

                while (access(argv[3], F_OK) < 0) {
                        one_call(argv[2], &c);
                        if (!ready) {
                                if (touch(argv[4]) < 0)
                                        return 2;
                                ready = true;
                        }
                }
        } else {
                fprintf(stderr,
                        "Usage: sb-boot-mknod [--raw] [--chroot DIR] [--pause MS] [--ready READY] count NODE N\n"
                        "       sb-boot-mknod [--raw] until NODE STOPFILE READYFILE\n");
                return 2;
        }

        name = c.first_error != 0 ? strerrorname_np(c.first_error) : "none";
        printf("pid=%i ok=%lu failed=%lu first-error=%s\n", (int) getpid(), c.ok, c.failed, name ? name : "unknown");
        return 0;
}
