/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A sandbox that races its own root against the broker: a child in its own user and mount namespace puts
 * SECRET over ALLOWED with a bind mount; this process (in a user namespace of its own, for chroot) keeps
 * switching its root between the host's "/" and the child's root on one thread while the main thread opens
 * ALLOWED. The broker must never hand over SECRET's bytes.
 *
 *   sb-root-race ALLOWED SECRET MARKER ITERATIONS
 * prints "opens=N leaked=N refused=N other=N granted=N switches=N switch-error=ERRNO|none" and exits 0 once
 * the run is over: granted counts opens that read ALLOWED, switches the root changes made meanwhile, so that
 * a run in which the race never happened shows. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

static int host_root = -1, child_root = -1;
static volatile int stop;
static unsigned long switches;
static int switch_error;

static int write_file(const char *path, const char *s) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -1;
        n = write(fd, s, strlen(s));
        close(fd);
        return n == (ssize_t) strlen(s) ? 0 : -1;
}

static void *switch_roots(void *arg) {
        while (!stop) {
                if (fchdir(child_root) < 0 || chroot(".") < 0 || fchdir(host_root) < 0 || chroot(".") < 0) {
                        switch_error = errno;
                        break;
                }
                switches++;
        }
        return NULL;
}

int main(int argc, char *argv[]) {
        const char *allowed, *secret, *marker;
        unsigned long iterations, leaked = 0, refused = 0, other = 0, granted = 0, n;
        char buf[256], path[64], c;
        int ready[2];
        uid_t uid = getuid();
        pthread_t thread;
        pid_t child;

        if (argc != 5) {
                fprintf(stderr, "usage: %s ALLOWED SECRET MARKER ITERATIONS\n", argv[0]);
                return 2;
        }
        allowed = argv[1], secret = argv[2], marker = argv[3];
        iterations = strtoul(argv[4], NULL, 10);

        if (pipe(ready) < 0)
                return 2;
        child = fork();
        if (child < 0)
                return 2;
        if (child == 0) {
                char map[64];

                snprintf(map, sizeof map, "0 %u 1", (unsigned) uid);
                if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 || write_file("/proc/self/setgroups", "deny") < 0 ||
                    write_file("/proc/self/uid_map", map) < 0 ||
                    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount(secret, allowed, NULL, MS_BIND, NULL) < 0) {
                        perror("child namespace");
                        _exit(1);
                }
                (void) !write(ready[1], "x", 1);
                pause();
                _exit(0);
        }
        if (read(ready[0], &c, 1) != 1) {
                fprintf(stderr, "the child did not set up its namespace\n");
                return 2;
        }

        snprintf(path, sizeof path, "/proc/%d/root", (int) child);
        child_root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        host_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (child_root < 0 || host_root < 0 || unshare(CLONE_NEWUSER) < 0) {
                perror("roots");
                return 2;
        }
        if (pthread_create(&thread, NULL, switch_roots, NULL) != 0)
                return 2;

        for (n = 0; n < iterations; n++) {
                int fd = open(allowed, O_RDONLY | O_CLOEXEC);
                ssize_t l;

                if (fd < 0) {
                        if (errno == EPERM || errno == EACCES)
                                refused++;
                        else
                                other++;
                        continue;
                }
                l = pread(fd, buf, sizeof buf - 1, 0);
                close(fd);
                buf[l > 0 ? l : 0] = 0;
                if (strstr(buf, marker))
                        leaked++;
                else if (l > 0)
                        granted++;
        }

        stop = 1;
        pthread_join(thread, NULL);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        printf("opens=%lu leaked=%lu refused=%lu other=%lu granted=%lu switches=%lu switch-error=%s\n", n, leaked,
               refused, other, granted, switches, switch_error ? strerrorname_np(switch_error) : "none");
        return 0;
}
