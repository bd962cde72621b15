/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hand-off at the last exec: the outer side (which talks to sysbrokerd) and the inner side (which filters
 * itself and execs the sandbox's command) of one socket pair. See sysbroker.h for the protocol. */

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fd-passing.h"
#include "macro.h"
#include "sysbroker-internal.h"

#define HANDOFF_MAGIC "SBH1"
#define HANDOFF_MESSAGE_MAX 1024

/* Outer to inner, first: what the filter traps, and how it is installed. */
typedef struct HandoffHello {
        char magic[4];
        uint32_t syscall_mask;
        uint32_t filter_flags;
} HandoffHello;

/* Outer to inner, last: 0 (go) or a negative errno, followed by a message (no NUL) on failure. */
typedef struct HandoffAnswer {
        int32_t error;
        char message[HANDOFF_MESSAGE_MAX];
} HandoffAnswer;

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

/* Whether fd is what sysbroker_handoff_new() makes: an end of an AF_UNIX SOCK_SEQPACKET pair, whose peer
 * has no address (a connection to a listening socket has the listener's). A number that names another
 * socket (a stale $SYSBROKER_HANDOFF_FD that now names the bus connection, a socket on stdin, a connection to
 * someone's named socket) is refused before anything is read from it or sent into it: its data is not ours
 * to eat, and whoever is at its other end is not the outer side, and must not get our listener. */
static bool fd_is_handoff_socket(int fd) {
        struct sockaddr_un sa;
        socklen_t len;
        int v;

        len = sizeof v;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != AF_UNIX)
                return false;
        len = sizeof v;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_SEQPACKET)
                return false;
        len = sizeof sa;
        if (getpeername(fd, (struct sockaddr *) &sa, &len) < 0)
                return false;
        return len == offsetof(struct sockaddr_un, sun_path);
}

/* The fd $SYSBROKER_HANDOFF_FD names, if it is a hand-off socket; the variable is unset so that the command
 * does not inherit a stale number. */
static int handoff_fd_from_env(void) {
        const char *e = getenv(SYSBROKER_HANDOFF_FD_ENV);
        char *end;
        long v;

        if (!e || e[0] == '\0')
                return -ENXIO;
        errno = 0;
        v = strtol(e, &end, 10);
        if (errno != 0 || *end != '\0' || v < 0 || v > INT_MAX)
                return -ENXIO;
        if (!fd_is_handoff_socket((int) v))
                return -ENXIO;
        (void) unsetenv(SYSBROKER_HANDOFF_FD_ENV);
        return (int) v;
}

int sysbroker_handoff_child(int fd, char **ret_message) {
        _cleanup_close_ int sock = -EBADF, listener = -EBADF;
        HandoffHello hello;
        HandoffAnswer answer;
        ssize_t n;
        int r;

        sock = fd >= 0 ? fd : handoff_fd_from_env();
        if (sock < 0)
                return sock;
        if (!fd_is_handoff_socket(sock))
                return -ENXIO;
        /* Whatever happens, the command must not inherit the socket: it could answer for the outer side. */
        if (fcntl(sock, F_SETFD, FD_CLOEXEC) < 0)
                return negative_errno();

        do
                n = recv(sock, &hello, sizeof hello, MSG_TRUNC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return -EPIPE;
        if ((size_t) n != sizeof hello || memcmp(hello.magic, HANDOFF_MAGIC, sizeof hello.magic) != 0)
                return -EPROTO;

        listener = filter_install_mask(hello.syscall_mask, hello.filter_flags);
        if (listener < 0)
                return listener == -EINVAL ? -EPROTO : listener;

        r = fd_send(sock, listener);
        if (r < 0)
                return r;
        /* Only sysbrokerd may hold the listener: whoever holds it can answer our calls. */
        listener = safe_close(listener);

        do
                n = recv(sock, &answer, sizeof answer, MSG_TRUNC);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno == ECONNRESET)
                return -EPIPE;
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return -EPIPE;
        if ((size_t) n < offsetof(HandoffAnswer, message) || (size_t) n > sizeof answer ||
            answer.error > 0 || answer.error < -4095)
                return -EPROTO;
        if (answer.error == 0)
                return 0;

        if (ret_message) {
                size_t len = (size_t) n - offsetof(HandoffAnswer, message);
                char *m = strndup(answer.message, len);

                if (!m)
                        return -ENOMEM;
                *ret_message = m;
        }
        return answer.error;
}
