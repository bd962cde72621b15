/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hand-off at the last exec, the inner side: filter this process, pass the listener out, wait for the go.
 * Apart from handoff.c (the outer side), so that sysbrokerctl's `exec` links it without the rules, the bus
 * and libsystemd. */

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fd-passing.h"
#include "handoff-protocol.h"
#include "macro.h"
#include "sysbroker-internal.h"

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
