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

/* The fd (O_CLOEXEC), -EPIPE if the peer closed or sent no fd (it gave up, and says why elsewhere),
 * -EBADMSG if more came than one fd, or -errno. */
static inline int fd_receive(int sock) {
        char byte;
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
        ssize_t n;
        int fd = -EBADF;

        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
                if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
                    cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));

        if (msg.msg_flags & MSG_CTRUNC) {
                if (fd >= 0)
                        (void) close(fd);
                return -EBADMSG;
        }
        if (n == 0 || fd < 0)
                return -EPIPE;
        return fd;
}
