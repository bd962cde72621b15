/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper for the integration suite: open calls that a shell cannot make — the open(2) and creat(2)
 * system calls, openat() relative to a real directory fd (from the main thread or another one), raw openat2()
 * with RESOLVE_* flags, a symlink swapped by a second thread while the first one
 * keeps opening through it, and streams of opens: endless for the kill-mid-call test, until refused for the
 * unregister-mid-call test.
 *
 * Every single call prints one line the test compares: "ok cloexec=0|1 data=<what the fd reads, a NUL byte as
 * '0'>" or the errno name ("EACCES"). */

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

#define LOOP_THREADS 4
#define DATA_MAX 4096

static const struct {
        const char *name;
        int flags;
} open_flag_names[] = {
        { "r",         O_RDONLY    },
        { "w",         O_WRONLY    },
        { "rw",        O_RDWR      },
        { "creat",     O_CREAT     },
        { "excl",      O_EXCL      },
        { "trunc",     O_TRUNC     },
        { "append",    O_APPEND    },
        { "cloexec",   O_CLOEXEC   },
        { "nofollow",  O_NOFOLLOW  },
        { "directory", O_DIRECTORY },
        { "nonblock",  O_NONBLOCK  },
        { "noatime",   O_NOATIME   },
};

static const struct {
        const char *name;
        uint64_t flag;
} resolve_flag_names[] = {
        { "none",          0                     },
        { "beneath",       RESOLVE_BENEATH       },
        { "in-root",       RESOLVE_IN_ROOT       },
        { "no-symlinks",   RESOLVE_NO_SYMLINKS   },
        { "no-magiclinks", RESOLVE_NO_MAGICLINKS },
        { "no-xdev",       RESOLVE_NO_XDEV       },
        { "cached",        RESOLVE_CACHED        },
};

static const char *errno_name(int e) {
        return strerrorname_np(e) ?: "unknown";
}

/* "r,creat,cloexec" → O_RDONLY|O_CREAT|O_CLOEXEC */
static int parse_open_flags(const char *spec, int *ret) {
        _cleanup_free_ char *copy = strdup(spec);
        char *save = NULL;
        int flags = 0;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(open_flag_names); i++)
                        if (streq(w, open_flag_names[i].name))
                                break;
                if (i == ELEMENTSOF(open_flag_names)) {
                        fprintf(stderr, "sb-open: unknown open flag '%s'\n", w);
                        return -EINVAL;
                }
                flags |= open_flag_names[i].flags;
        }
        *ret = flags;
        return 0;
}

static int parse_resolve_flags(const char *spec, uint64_t *ret) {
        _cleanup_free_ char *copy = strdup(spec);
        char *save = NULL;
        uint64_t flags = 0;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(resolve_flag_names); i++)
                        if (streq(w, resolve_flag_names[i].name))
                                break;
                if (i == ELEMENTSOF(resolve_flag_names)) {
                        fprintf(stderr, "sb-open: unknown resolve flag '%s'\n", w);
                        return -EINVAL;
                }
                flags |= resolve_flag_names[i].flag;
        }
        *ret = flags;
        return 0;
}

/* Reads what the fd gives (at most DATA_MAX bytes); a write-only fd reads nothing. */
static void read_data(int fd, char *buf, size_t size) {
        size_t n = 0;

        while (n < size - 1) {
                ssize_t k = read(fd, buf + n, size - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        while (n > 0 && buf[n - 1] == '\n')
                n--;
        buf[n] = 0;
        /* A NUL byte would end the string: shown as '0', so that /dev/zero does not read like /dev/null. */
        for (size_t i = 0; i < n; i++)
                if (buf[i] == 0)
                        buf[i] = '0';
}

/* The outcome of one open, as the line the test compares. */
static int report(int fd, int error) {
        char data[DATA_MAX];
        int fdflags;

        if (fd < 0) {
                printf("%s\n", errno_name(error));
                return 1;
        }
        fdflags = fcntl(fd, F_GETFD);
        read_data(fd, data, sizeof data);
        printf("ok cloexec=%i data=%s\n", fdflags >= 0 && (fdflags & FD_CLOEXEC) ? 1 : 0, data);
        safe_close(fd);
        return 0;
}

/* The directory fd a relative open starts from: a real one, opened for reading. */
static int open_dir(const char *path) {
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                fprintf(stderr, "sb-open: cannot open directory '%s': %m\n", path);
        return fd;
}

/* sb-open open PATH FLAGS */
static int do_open(char **argv) {
        int flags, fd;

        if (parse_open_flags(argv[1], &flags) < 0)
                return 2;
        fd = open(argv[0], flags, 0666);
        return report(fd, errno);
}

/* sb-open sys-open PATH FLAGS, sb-open sys-creat PATH: the open(2) and creat(2) system calls themselves;
 * glibc implements both functions with openat(2). */
static int do_sys_open(char **argv) {
        int flags, fd;

        if (parse_open_flags(argv[1], &flags) < 0)
                return 2;
        fd = (int) syscall(SYS_open, argv[0], flags, 0666);
        return report(fd, errno);
}

static int do_sys_creat(char **argv) {
        int fd = (int) syscall(SYS_creat, argv[0], 0666);
        return report(fd, errno);
}

typedef struct ThreadOpen {
        int dfd;
        const char *name;
        int flags;
        int fd, error;
} ThreadOpen;

static void *open_thread(void *userdata) {
        ThreadOpen *o = userdata;

        o->fd = openat(o->dfd, o->name, o->flags, 0666);
        o->error = errno;
        return NULL;
}

/* sb-open at DIR NAME FLAGS: openat(open(DIR), NAME, FLAGS)
 * sb-open at-thread DIR NAME FLAGS: the same, called by a second thread (not the thread group leader) */
static int do_at(char **argv) {
        _cleanup_close_ int dfd = -EBADF;
        int flags, fd;

        if (parse_open_flags(argv[2], &flags) < 0)
                return 2;
        dfd = open_dir(argv[0]);
        if (dfd < 0)
                return 2;
        fd = openat(dfd, argv[1], flags, 0666);
        return report(fd, errno);
}

static int do_at_thread(char **argv) {
        _cleanup_close_ int dfd = -EBADF;
        ThreadOpen o = { .name = argv[1] };
        pthread_t thread;
        int r;

        if (parse_open_flags(argv[2], &o.flags) < 0)
                return 2;
        dfd = open_dir(argv[0]);
        if (dfd < 0)
                return 2;
        o.dfd = dfd;
        r = pthread_create(&thread, NULL, open_thread, &o);
        if (r != 0) {
                fprintf(stderr, "sb-open: pthread_create: %s\n", strerror(r));
                return 2;
        }
        (void) pthread_join(thread, NULL);
        return report(o.fd, o.error);
}

/* sb-open at2 DIR NAME FLAGS RESOLVE [SIZE [TAIL]]: the raw openat2(), struct open_how passed with SIZE bytes
 * (default: its size) and the bytes beyond the known struct set to TAIL (default 0). */
static int do_at2(int argc, char **argv) {
        _cleanup_close_ int dfd = -EBADF;
        struct {
                struct open_how how;
                uint8_t tail[64];
        } arg = {};
        size_t size = sizeof arg.how;
        uint64_t resolve;
        int flags, fd;

        if (parse_open_flags(argv[2], &flags) < 0 || parse_resolve_flags(argv[3], &resolve) < 0)
                return 2;
        arg.how.flags = (uint64_t) flags;
        arg.how.resolve = resolve;
        if (flags & O_CREAT)
                arg.how.mode = 0666;
        if (argc >= 5) {
                size = strtoul(argv[4], NULL, 10);
                if (size > sizeof arg) {
                        fprintf(stderr, "sb-open: size %zu is too big\n", size);
                        return 2;
                }
        }
        if (argc >= 6)
                memset(arg.tail, (int) strtoul(argv[5], NULL, 0), sizeof arg.tail);

        /* "cwd:DIR": from the cwd (AT_FDCWD), after chdir(DIR). */
        if (startswith(argv[0], "cwd:")) {
                if (chdir(argv[0] + 4) < 0) {
                        fprintf(stderr, "sb-open: cannot chdir to '%s': %m\n", argv[0] + 4);
                        return 2;
                }
        } else {
                dfd = open_dir(argv[0]);
                if (dfd < 0)
                        return 2;
        }
        fd = (int) syscall(SYS_openat2, dfd >= 0 ? dfd : AT_FDCWD, argv[1], &arg, size);
        return report(fd, errno);
}

/* The race: one thread keeps swapping a symlink between two targets with rename(2) (atomic), the main thread
 * keeps opening a path through it. A supervisor that checks one resolution and then opens another would let
 * the forbidden file's bytes through. */
typedef struct Race {
        int dfd;
        const char *swap;       /* the symlink, relative to dfd */
        char tmp[4096];
        const char *good, *bad; /* its two targets */
        volatile bool stop;
        unsigned long swaps;
        int error;
} Race;

static void *swap_thread(void *userdata) {
        Race *r = userdata;

        while (!r->stop) {
                for (unsigned i = 0; i < 2; i++) {
                        (void) unlinkat(r->dfd, r->tmp, 0);
                        if (symlinkat(i == 0 ? r->good : r->bad, r->dfd, r->tmp) < 0 ||
                            renameat(r->dfd, r->tmp, r->dfd, r->swap) < 0) {
                                r->error = errno;
                                return NULL;
                        }
                }
                r->swaps++;
        }
        return NULL;
}

static uint64_t now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* sb-open race DIR SWAP GOOD BAD OPEN SECONDS MAX GOOD_DATA BAD_MARKER
 *
 * Swaps DIR/SWAP between symlinks to GOOD and BAD while opening DIR/OPEN (relative to a dirfd of DIR) until
 * SECONDS pass or MAX opens were made. Counts what the opens read: exactly GOOD_DATA, anything containing
 * BAD_MARKER (must never happen), or an errno. Exit 3 if the forbidden bytes were ever read. */
static int do_race(char **argv) {
        Race race = { .good = argv[2], .bad = argv[3] };
        const char *open_path = argv[4], *good_data = argv[7], *bad_marker = argv[8];
        unsigned long seconds = strtoul(argv[5], NULL, 10), max = strtoul(argv[6], NULL, 10);
        unsigned long opens = 0, good = 0, bad = 0, other_data = 0, errors[256] = {}, other_errors = 0;
        pthread_t thread;
        uint64_t deadline;
        int r;

        race.dfd = open_dir(argv[0]);
        if (race.dfd < 0)
                return 2;
        race.swap = argv[1];
        if (snprintf(race.tmp, sizeof race.tmp, "%s.tmp", race.swap) >= (int) sizeof race.tmp)
                return 2;

        r = pthread_create(&thread, NULL, swap_thread, &race);
        if (r != 0) {
                fprintf(stderr, "sb-open: pthread_create: %s\n", strerror(r));
                return 2;
        }

        deadline = now_ms() + seconds * 1000;
        while (opens < max && now_ms() < deadline) {
                char data[DATA_MAX];
                int fd = openat(race.dfd, open_path, O_RDONLY | O_CLOEXEC);

                opens++;
                if (fd < 0) {
                        if (errno > 0 && errno < (int) ELEMENTSOF(errors))
                                errors[errno]++;
                        else
                                other_errors++;
                        continue;
                }
                read_data(fd, data, sizeof data);
                safe_close(fd);
                if (strstr(data, bad_marker))
                        bad++;
                else if (streq(data, good_data))
                        good++;
                else
                        other_data++;
        }
        race.stop = true;
        (void) pthread_join(thread, NULL);
        (void) unlinkat(race.dfd, race.tmp, 0);

        printf("opens=%lu swaps=%lu good=%lu forbidden=%lu other-data=%lu", opens, race.swaps, good, bad,
               other_data);
        for (size_t e = 1; e < ELEMENTSOF(errors); e++)
                if (errors[e] > 0)
                        printf(" %s=%lu", errno_name((int) e), errors[e]);
        if (other_errors > 0)
                printf(" other-errors=%lu", other_errors);
        printf("\n");
        if (race.error != 0) {
                fprintf(stderr, "sb-open: swapping failed: %s\n", strerror(race.error));
                return 2;
        }
        return bad > 0 ? 3 : 0;
}

static void *loop_thread(void *userdata) {
        const char *path = userdata;

        for (;;) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                safe_close(fd);
        }
        return NULL;
}

/* until-refused: what the threads saw. */
static unsigned long refused_opens, refused_zero;
static int refused_error;

static void *until_refused_thread(void *userdata) {
        const char *path = userdata;

        while (__atomic_load_n(&refused_error, __ATOMIC_RELAXED) == 0) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);

                if (fd < 0) {
                        int none = 0, e = errno;
                        (void) __atomic_compare_exchange_n(&refused_error, &none, e, false, __ATOMIC_SEQ_CST,
                                                           __ATOMIC_SEQ_CST);
                        break;
                }
                __atomic_fetch_add(&refused_opens, 1, __ATOMIC_RELAXED);
                /* Our stdin is open: an open that "returns" 0 got no file of its own. Never close it. */
                if (fd == 0)
                        __atomic_fetch_add(&refused_zero, 1, __ATOMIC_RELAXED);
                else
                        safe_close(fd);
        }
        return NULL;
}

/* Opens PATH once (so that the broker is known to answer), writes our pid to PIDFILE, then opens from
 * LOOP_THREADS threads running fn until they return. */
static int run_loop(const char *path, const char *pidfile, void *(*fn)(void *)) {
        pthread_t threads[LOOP_THREADS];
        FILE *f;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "sb-open: first open of '%s' failed: %m\n", path);
                return 2;
        }
        safe_close(fd);

        f = fopen(pidfile, "we");
        if (!f) {
                fprintf(stderr, "sb-open: cannot write '%s': %m\n", pidfile);
                return 2;
        }
        fprintf(f, "%d\n", (int) getpid());
        if (fclose(f) != 0)
                return 2;

        for (unsigned i = 0; i < LOOP_THREADS; i++) {
                int r = pthread_create(&threads[i], NULL, fn, (void *) path);
                if (r != 0) {
                        fprintf(stderr, "sb-open: pthread_create: %s\n", strerror(r));
                        return 2;
                }
        }
        for (unsigned i = 0; i < LOOP_THREADS; i++)
                (void) pthread_join(threads[i], NULL);
        return 0;
}

/* sb-open loop PATH PIDFILE: opens from several threads until killed. */
static int do_loop(char **argv) {
        return run_loop(argv[0], argv[1], loop_thread);
}

/* sb-open until-refused PATH PIDFILE: opens from several threads until one fails (its listener was taken
 * away), then prints "opens=N zero=N error=NAME". zero counts opens that returned 0 although our stdin is
 * open: a call answered without its fd. Exit status 3 if there were any. */
static int do_until_refused(char **argv) {
        int r;

        if (fcntl(STDIN_FILENO, F_GETFD) < 0) {
                fprintf(stderr, "sb-open: until-refused needs an open stdin\n");
                return 2;
        }
        r = run_loop(argv[0], argv[1], until_refused_thread);
        if (r != 0)
                return r;
        printf("opens=%lu zero=%lu error=%s\n", refused_opens, refused_zero, errno_name(refused_error));
        return refused_zero > 0 ? 3 : 0;
}

int main(int argc, char **argv) {
        /* Lines must reach the test even when it kills us. */
        setvbuf(stdout, NULL, _IOLBF, 0);

        if (argc == 4 && streq(argv[1], "open"))
                return do_open(argv + 2);
        if (argc == 4 && streq(argv[1], "sys-open"))
                return do_sys_open(argv + 2);
        if (argc == 3 && streq(argv[1], "sys-creat"))
                return do_sys_creat(argv + 2);
        if (argc == 5 && streq(argv[1], "at"))
                return do_at(argv + 2);
        if (argc == 5 && streq(argv[1], "at-thread"))
                return do_at_thread(argv + 2);
        if (argc >= 6 && argc <= 8 && streq(argv[1], "at2"))
                return do_at2(argc - 2, argv + 2);
        if (argc == 11 && streq(argv[1], "race"))
                return do_race(argv + 2);
        if (argc == 4 && streq(argv[1], "loop"))
                return do_loop(argv + 2);
        if (argc == 4 && streq(argv[1], "until-refused"))
                return do_until_refused(argv + 2);

        fprintf(stderr,
                "Usage: sb-open open PATH FLAGS\n"
                "       sb-open sys-open PATH FLAGS\n"
                "       sb-open sys-creat PATH\n"
                "       sb-open at DIR NAME FLAGS\n"
                "       sb-open at-thread DIR NAME FLAGS\n"
                "       sb-open at2 DIR|cwd:DIR NAME FLAGS RESOLVE [SIZE [TAIL]]\n"
                "       sb-open race DIR SWAP GOOD BAD OPEN SECONDS MAX GOOD_DATA BAD_MARKER\n"
                "       sb-open loop PATH PIDFILE\n"
                "       sb-open until-refused PATH PIDFILE\n"
                "FLAGS: comma-separated r w rw creat excl trunc append cloexec nofollow directory nonblock\n"
                "RESOLVE: comma-separated none beneath in-root no-symlinks no-magiclinks no-xdev cached\n");
        return 2;
}
