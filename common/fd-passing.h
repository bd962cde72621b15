/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One fd over a Unix socket (SCM_RIGHTS) with one byte of data: how a sandbox hands its seccomp listener to
 * whoever registers it (sysbrokerctl run, the bench, the client library's tests). */
#pragma once

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* 0, or -errno. */
static inline int fd_send(int sock, int fd) {
        char byte = 0;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        union {
                struct cmsghdr header;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));

        while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

/* The fd (O_CLOEXEC); -EPIPE if the peer closed or sent no fd (it gave up, and says why elsewhere); -EBADMSG,
 * with everything that came closed, for anything but one fd with one byte; or -errno. The sender may not be
 * ours to trust (a launcher chooses what runs the hand-off's inner side), so no fd that arrives stays open
 * unseen: a batch of fds in one message is received (room for a few) and closed, the rest never gets in. */
static inline int fd_receive(int sock) {
        char byte;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        union {
                struct cmsghdr header;
                char buf[CMSG_SPACE(sizeof(int) * 8)];
        } control = {};
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        unsigned n_fds = 0;
        int fd = -EBADF;
        ssize_t n;

        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
                if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
                        continue;
                for (size_t i = 0; i < (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
                        int k;

                        memcpy(&k, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
                        if (n_fds++ == 0)
                                fd = k;
                        else
                                (void) close(k);
                }
        }

        if (n_fds == 0)
                return -EPIPE;
        if (n != 1 || n_fds != 1 || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
                (void) close(fd);
                return -EBADMSG;
        }
        return fd;
}
