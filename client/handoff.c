/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hand-off at the last exec: the outer side (which talks to sysbrokerd) of one socket pair; the inner side
 * (which filters itself and execs the sandbox's command) is handoff-child.c. See sysbroker.h for the
 * protocol. */

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fd-passing.h"
#include "macro.h"
#include "sysbroker-internal.h"

#include "handoff-protocol.h"

struct sysbroker_handoff {
        int sock;
        int child_fd;
        bool answered;
};

static ssize_t send_packet(int sock, const void *p, size_t n) {
        ssize_t k;

        do
                /* MSG_NOSIGNAL: a peer that died is an error to report, not our SIGPIPE. */
                k = send(sock, p, n, MSG_NOSIGNAL);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return negative_errno();
        return (size_t) k == n ? 0 : -EIO;
}

int sysbroker_handoff_new(const sysbroker_rules *rules, unsigned filter_flags, sysbroker_handoff **ret) {
        _cleanup_close_ int a = -EBADF, b = -EBADF;
        HandoffHello hello = { .magic = HANDOFF_MAGIC };
        sysbroker_handoff *h;
        int pair[2], r;

        if (!rules || !ret || (filter_flags & ~(SYSBROKER_FILTER_TSYNC | SYSBROKER_FILTER_SPEC_ALLOW)) != 0)
                return -EINVAL;
        hello.syscall_mask = rules_syscall_mask(rules);
        hello.filter_flags = filter_flags;
        if (hello.syscall_mask == 0)
                return -EINVAL;

        /* Datagram boundaries: the answer cannot be mistaken for part of anything else. */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();
        a = pair[0];
        b = pair[1];

        /* Queued now, read whenever the inner side starts: nothing to wait for here. */
        r = send_packet(a, &hello, sizeof hello);
        if (r < 0)
                return r;

        h = malloc(sizeof *h);
        if (!h)
                return -ENOMEM;
        *h = (sysbroker_handoff) { .sock = TAKE_FD(a), .child_fd = TAKE_FD(b) };
        *ret = h;
        return 0;
}

sysbroker_handoff *sysbroker_handoff_free(sysbroker_handoff *h) {
        if (!h)
                return NULL;
        safe_close(h->sock);
        safe_close(h->child_fd);
        free(h);
        return NULL;
}

int sysbroker_handoff_get_fd(sysbroker_handoff *h) {
        if (!h)
                return -EINVAL;
        return h->sock;
}

int sysbroker_handoff_get_child_fd(sysbroker_handoff *h) {
        if (!h)
                return -EINVAL;
        return h->child_fd >= 0 ? h->child_fd : -EBADF;
}

int handoff_detach_child_fd(sysbroker_handoff *h) {
        h->sock = safe_close(h->sock);
        return TAKE_FD(h->child_fd);
}

void sysbroker_handoff_close_child_fd(sysbroker_handoff *h) {
        if (h)
                h->child_fd = safe_close(h->child_fd);
}

int sysbroker_handoff_receive_listener(sysbroker_handoff *h, int *ret_listener) {
        int fd;

        if (!h || h->answered)
                return -EINVAL;

        /* One byte and one fd, and nothing else stays open (fd_receive()): what sends it is the launcher's
         * to choose, not ours. */
        fd = fd_receive(h->sock);
        /* A peer that closes with our first message unread resets the connection: it went away all the
         * same. */
        if (fd == -ECONNRESET)
                return -EPIPE;
        if (fd < 0)
                return fd;
        if (ret_listener)
                *ret_listener = fd;
        else
                safe_close(fd);
        return 0;
}

int sysbroker_handoff_answer(sysbroker_handoff *h, int error, const char *message) {
        HandoffAnswer answer = { .error = error };
        size_t n = 0;
        int r;

        if (!h || h->answered || error > 0 || error < -4095)
                return -EINVAL;

        if (error < 0) {
                message = message ?: strerror(-error);
                n = MIN(strlen(message), sizeof answer.message);
                memcpy(answer.message, message, n);
        }
        r = send_packet(h->sock, &answer, offsetof(HandoffAnswer, message) + n);
        if (r < 0)
                return r;
        h->answered = true;
        return 0;
}
