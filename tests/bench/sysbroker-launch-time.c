/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The launcher rows' timer: runs a command WARMUP + RUNS times, one after the other, and prints the median,
 * minimum and maximum wall time of the timed runs in µs. Only fork, exec and wait are around the command,
 * so the figure is the command's start and run as a launcher pays it. Every run must exit 0: a command that
 * fails is not measured, it is reported (its stderr is passed through) and the exit status is 1.
 *
 *   sysbroker-launch-time RUNS WARMUP CMD [ARG...]   →   "median_us=N min_us=N max_us=N" */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* One run: the command's wall time, or 0 if it did not exit 0. */
static uint64_t run_once(char **cmd) {
        uint64_t start = now_us();
        int status;
        pid_t pid;

        pid = fork();
        if (pid < 0) {
                fprintf(stderr, "sysbroker-launch-time: fork: %m\n");
                return 0;
        }
        if (pid == 0) {
                /* What the command prints is not the point; what it complains about is. */
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                if (null >= 0)
                        (void) dup2(null, STDOUT_FILENO);
                execvp(cmd[0], cmd);
                fprintf(stderr, "sysbroker-launch-time: cannot execute '%s': %m\n", cmd[0]);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "sysbroker-launch-time: '%s' failed (wait status 0x%x)\n", cmd[0], status);
                return 0;
        }
        return now_us() - start ?: 1;
}

int main(int argc, char *argv[]) {
        unsigned long runs, warmup;
        uint64_t *t;
        char *end;

        if (argc < 4) {
                fprintf(stderr, "Usage: %s RUNS WARMUP CMD [ARG...]\n", argv[0]);
                return 2;
        }
        runs = strtoul(argv[1], &end, 10);
        if (*end || runs == 0 || runs > 100000)
                return 2;
        warmup = strtoul(argv[2], &end, 10);
        if (*end || warmup > 100000)
                return 2;

        t = calloc(runs, sizeof *t);
        if (!t)
                return 1;
        for (unsigned long i = 0; i < warmup; i++)
                if (run_once(argv + 3) == 0)
                        return 1;
        for (unsigned long i = 0; i < runs; i++) {
                t[i] = run_once(argv + 3);
                if (t[i] == 0)
                        return 1;
        }
        qsort(t, runs, sizeof *t, compare_u64);
        printf("median_us=%llu min_us=%llu max_us=%llu\n",
               (unsigned long long) (runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2),
               (unsigned long long) t[0], (unsigned long long) t[runs - 1]);
        free(t);
        return 0;
}
