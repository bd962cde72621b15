/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper for the integration suite: a pseudo-terminal whose slave a sandbox opens through sysbrokerd,
 * and the terminal's own ways of signalling its session (^C, ^\, ^Z typed on the master, hangup when the
 * master goes away). Had the daemon taken the terminal as its controlling tty while opening it, those would
 * reach the daemon.
 *
 *   sb-pty master          posix_openpt, grantpt, unlockpt; prints "slave=/dev/pts/N", then takes commands
 *                          from stdin, one a line: intr, quit, susp (type that character on the master,
 *                          answer "sent <cmd>"), hangup or end of input (close the master, answer "closed",
 *                          exit)
 *   sb-pty open PATH       open(PATH, O_RDWR) without O_NOCTTY; prints "ok tty=0|1" or the errno name
 *   sb-pty selftest        shows that this kernel does hand a terminal to a session leader without one that
 *                          opens it without O_NOCTTY (what the daemon must avoid): prints "ctty=1" if so */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "macro.h"

static const char *errno_name(int e) {
        return strerrorname_np(e) ?: "unknown";
}

static int open_master(char *slave, size_t size) {
        int fd, r;

        fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "sb-pty: posix_openpt: %m\n");
                return -errno;
        }
        if (grantpt(fd) < 0 || unlockpt(fd) < 0) {
                fprintf(stderr, "sb-pty: grantpt/unlockpt: %m\n");
                r = -errno;
                safe_close(fd);
                return r;
        }
        r = ptsname_r(fd, slave, size);
        if (r != 0) {
                fprintf(stderr, "sb-pty: ptsname_r: %s\n", strerror(r));
                safe_close(fd);
                return -r;
        }
        return fd;
}

/* The character the slave's line discipline turns into a signal for its foreground process group. */
static int send_control(int master, cc_t c) {
        if (write(master, &c, 1) != 1) {
                fprintf(stderr, "sb-pty: write to the master: %m\n");
                return -errno;
        }
        return 0;
}

static int do_master(void) {
        char slave[128], line[64];
        struct termios tio;
        int master;

        master = open_master(slave, sizeof slave);
        if (master < 0)
                return 2;
        /* The characters to type are whatever the slave's settings say (the defaults: ^C, ^\, ^Z, with ISIG
         * on); the attributes of a pty pair are read through the master. */
        if (tcgetattr(master, &tio) < 0) {
                fprintf(stderr, "sb-pty: tcgetattr: %m\n");
                return 2;
        }
        if (!(tio.c_lflag & ISIG)) {
                fprintf(stderr, "sb-pty: the slave does not turn characters into signals (ISIG off)\n");
                return 2;
        }
        printf("slave=%s\n", slave);

        while (fgets(line, sizeof line, stdin)) {
                cc_t c;

                line[strcspn(line, "\n")] = 0;
                if (streq(line, "intr"))
                        c = tio.c_cc[VINTR];
                else if (streq(line, "quit"))
                        c = tio.c_cc[VQUIT];
                else if (streq(line, "susp"))
                        c = tio.c_cc[VSUSP];
                else if (streq(line, "hangup"))
                        break;
                else {
                        fprintf(stderr, "sb-pty: unknown command '%s'\n", line);
                        return 2;
                }
                if (send_control(master, c) < 0)
                        return 2;
                printf("sent %s\n", line);
        }

        safe_close(master);
        printf("closed\n");
        return 0;
}

static int do_open(const char *path) {
        int fd;

        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                printf("%s\n", errno_name(errno));
                return 1;
        }
        printf("ok tty=%i\n", isatty(fd) ? 1 : 0);
        safe_close(fd);
        return 0;
}

/* Field 7 of /proc/self/stat: the controlling terminal's device number, 0 if none. */
static long read_tty_nr(void) {
        char buf[1024], *p;
        long tty_nr = -1;
        FILE *f;
        size_t n;

        f = fopen("/proc/self/stat", "re");
        if (!f)
                return -1;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        /* The command name may hold anything, spaces and parentheses too: the fields start after its last ')'. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %*c %*d %*d %*d %ld", &tty_nr) != 1)
                return -1;
        return tty_nr;
}

static int do_selftest(void) {
        char slave[128];
        int master, status;
        pid_t pid;

        master = open_master(slave, sizeof slave);
        if (master < 0)
                return 2;

        pid = fork();
        if (pid < 0)
                return 2;
        if (pid == 0) {
                struct stat st;
                long expected, tty_nr;
                int fd;

                /* A fresh session without a terminal, as the daemon has under systemd. */
                if (setsid() < 0) {
                        fprintf(stderr, "sb-pty: setsid: %m\n");
                        _exit(2);
                }
                fd = open(slave, O_RDWR | O_CLOEXEC);
                if (fd < 0 || fstat(fd, &st) < 0) {
                        fprintf(stderr, "sb-pty: cannot open '%s': %m\n", slave);
                        _exit(2);
                }
                tty_nr = read_tty_nr();
                expected = (long) ((major(st.st_rdev) << 8) | (minor(st.st_rdev) & 0xff) |
                                   ((minor(st.st_rdev) & ~0xffu) << 12));
                printf("ctty=%i\n", tty_nr == expected ? 1 : 0);
                fflush(stdout);
                _exit(0);
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return 2;
        safe_close(master);
        return 0;
}

int main(int argc, char **argv) {
        /* Every answer must reach the test while we wait for the next command. */
        setvbuf(stdout, NULL, _IOLBF, 0);

        if (argc == 2 && streq(argv[1], "master"))
                return do_master();
        if (argc == 3 && streq(argv[1], "open"))
                return do_open(argv[2]);
        if (argc == 2 && streq(argv[1], "selftest"))
                return do_selftest();

        fprintf(stderr,
                "Usage: sb-pty master\n"
                "       sb-pty open PATH\n"
                "       sb-pty selftest\n");
        return 2;
}
