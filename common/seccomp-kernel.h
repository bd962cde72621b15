/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The seccomp user-notification kernel interface, with the definitions Debian 12's 6.1 headers lack.
 * Used by the daemon, the client library and the benchmark's raw supervisor alike. */
#pragma once

#include <errno.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV /* 5.19 */
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_ADDFD_FLAG_SEND /* 5.14 */
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS /* 6.6 */
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP /* 6.6 */
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef PIDFD_THREAD /* 6.9: a pidfd for a thread, not only a thread-group leader */
#define PIDFD_THREAD O_EXCL
#endif
#ifndef SO_PEERPIDFD /* 6.5 */
#define SO_PEERPIDFD 77
#endif

/* The file a seccomp listener fd refers to, as /proc/self/fd/N shows it. */
#define SECCOMP_LISTENER_LINK "anon_inode:seccomp notify"

static inline int sys_seccomp(unsigned op, unsigned flags, void *args) {
        return (int) syscall(__NR_seccomp, op, flags, args);
}

static inline int sys_pidfd_open(pid_t pid, unsigned flags) {
        return (int) syscall(__NR_pidfd_open, pid, flags);
}

static inline int sys_pidfd_getfd(int pidfd, int targetfd, unsigned flags) {
        return (int) syscall(__NR_pidfd_getfd, pidfd, targetfd, flags);
}

static inline int sys_pidfd_send_signal(int pidfd, int sig, void *info, unsigned flags) {
        return (int) syscall(__NR_pidfd_send_signal, pidfd, sig, info, flags);
}

/* Whether the process a pidfd refers to is gone. Signal 0 checks permission too: without CAP_KILL another
 * user's process says EPERM, which means it is there. */
static inline bool pidfd_process_is_gone(int pidfd) {
        return sys_pidfd_send_signal(pidfd, 0, NULL, 0) < 0 && errno == ESRCH;
}
