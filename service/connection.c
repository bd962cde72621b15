/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The peer-to-peer socket: each accepted connection is a private sd-bus server serving the same objects as
 * the system bus. There is no bus daemon to vouch for the peer, so identity comes from the socket itself
 * (SO_PEERCRED, SO_PEERPIDFD) and is fixed at accept time. */

#include <fcntl.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "broker.h"
#include "log.h"
#include "polkit.h"
#include "target.h"
#include "seccomp-kernel.h"

/* Replies a client may leave unread: beyond that it is disconnected, or sd-bus would queue them without
 * end in our memory. Plenty for a client that sends several calls before reading the replies. */
#define CONNECTION_MAX_QUEUED_WRITES 256

struct Connection {
        Broker *broker;
        sd_bus *bus;
        sd_bus_slot *disconnect_slot;
        sd_bus_slot *filter_slot;
        sd_event_source *free_source;
        sd_event_source *drain_source;
        pid_t pid;
        uid_t uid;
        uid_t account_uid;         /* whom its limits charge: account_uid_of() */
        uint64_t start_time;       /* clock ticks after boot, as /proc/<pid>/stat field 22 */
        int pidfd;
        Connection *next, *prev;
};

static Connection *connection_free(Connection *c) {
        if (!c)
                return NULL;
        if (c->broker) {
                Broker *b = c->broker;
                polkit_cancel_for_bus(b, c->bus);
                if (c->prev)
                        c->prev->next = c->next;
                else if (b->connections == c)
                        b->connections = c->next;
                if (c->next)
                        c->next->prev = c->prev;
                b->n_connections--;
        }
        sd_bus_slot_unref(c->disconnect_slot);
        sd_bus_slot_unref(c->filter_slot);
        sd_event_source_disable_unref(c->free_source);
        sd_event_source_disable_unref(c->drain_source);
        if (c->bus) {
                sd_bus_detach_event(c->bus);
                /* No flush: a client that does not read would block it for good. */
                sd_bus_close_unref(c->bus);
        }
        safe_close(c->pidfd);
        free(c);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Connection *, connection_free);

void connection_free_all(Broker *b) {
        while (b->connections)
                connection_free(b->connections);
        b->accept_source = sd_event_source_disable_unref(b->accept_source);
}

void broker_foreach_bus(Broker *b, void (*f)(sd_bus *bus, void *userdata), void *userdata) {
        if (b->system_bus)
                f(b->system_bus, userdata);
        for (Connection *c = b->connections; c; c = c->next)
                f(c->bus, userdata);
}

Connection *broker_find_connection(Broker *b, sd_bus *bus) {
        for (Connection *c = b->connections; c; c = c->next)
                if (c->bus == bus)
                        return c;
        return NULL;
}

uid_t connection_account_uid(Connection *c) {
        return c->account_uid;
}

int connection_get_peer(Connection *c, pid_t *ret_pid, uid_t *ret_uid, uint64_t *ret_start_time, int *ret_pidfd) {
        if (!c)
                return -ENOTCONN;
        *ret_pid = c->pid;
        *ret_uid = c->uid;
        *ret_start_time = c->start_time;
        *ret_pidfd = c->pidfd;
        return 0;
}

static int read_start_time(pid_t pid, uint64_t *ret) {
        char path[32], buf[2048];
        const char *p;
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "%i/stat", (int) pid);
        fd = openat(broker_proc_dir(), path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof buf - 1);
        safe_close(fd);
        if (n <= 0)
                return -EIO;
        buf[n] = 0;

        /* The command name may hold spaces and parentheses: fields count from the last ')'. */
        p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        /* p: the space before field 3; step to the space before field 22. */
        p++;
        for (unsigned field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EIO;
        }
        *ret = strtoull(p + 1, NULL, 10);
        return 0;
}

static int on_free_connection(sd_event_source *s, void *userdata) {
        connection_free(userdata);
        return 0;
}

static void connection_free_later(Connection *c) {
        /* Not from inside the bus's own dispatch: on the next loop iteration. */
        if (!c->free_source)
                (void) sd_event_add_defer(c->broker->event, &c->free_source, on_free_connection, c);
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;

        log_debug("Peer-to-peer client pid %i disconnected.", c->pid);
        broker_mark_active(c->broker);
        connection_free_later(c);
        return 0;
}

/* Drops c if it leaves too much unread. */
static bool connection_drop_if_backlogged(Connection *c) {
        uint64_t queued = 0;

        if (c->free_source)
                return true; /* being dropped already */
        if (sd_bus_get_n_queued_write(c->bus, &queued) < 0 || queued < CONNECTION_MAX_QUEUED_WRITES)
                return false;
        log_warning("Peer-to-peer client pid %i uid %u does not read what we send (%" PRIu64 " messages "
                    "waiting), disconnecting it.", c->pid, c->uid, queued);
        connection_free_later(c);
        return true;
}

/* Before each incoming message is dispatched: nothing more is processed for a client being dropped. */
static int on_incoming(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return connection_drop_if_backlogged(userdata) ? 1 : 0;
}

void broker_drop_backlogged_connections(Broker *b) {
        /* Signals go to every connection, also to those that never send anything. */
        for (Connection *c = b->connections; c; c = c->next)
                (void) connection_drop_if_backlogged(c);
}

/* sd-bus 252 as a server leaves bytes that arrived together with BEGIN in its read buffer and waits for the
 * socket to become readable again, which may never happen: a call sent in the same write as BEGIN would
 * not be answered. So after each loop iteration, until authentication is done, look at the connection;
 * once it is, process what is already buffered and stop looking. */
static int on_drain(sd_event_source *s, void *userdata) {
        Connection *c = userdata;
        int r;

        r = sd_bus_is_ready(c->bus);
        if (r == 0)
                return 0;
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        if (r < 0)
                return 0;
        while ((r = sd_bus_process(c->bus, NULL)) > 0)
                ;
        if (r < 0)
                log_debug_errno(r, "Failed to process connection from pid %i: %m", c->pid);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        _cleanup_(connection_freep) Connection *c = NULL;
        _cleanup_close_ int nfd = -EBADF;
        Broker *b = userdata;
        struct ucred ucred;
        socklen_t l = sizeof ucred;
        int r;

        nfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (nfd < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        log_warning_errno(-errno, "Failed to accept connection, ignoring: %m");
                return 0;
        }
        broker_mark_active(b);

        if (b->n_connections >= b->limits.max_connections) {
                log_warning("Too many peer-to-peer connections (%u), refusing one.", b->n_connections);
                return 0;
        }

        c = calloc(1, sizeof *c);
        if (!c)
                return log_oom(), 0;
        c->pidfd = -EBADF;

        if (getsockopt(nfd, SOL_SOCKET, SO_PEERCRED, &ucred, &l) < 0)
                return log_warning_errno(-errno, "Failed to get peer credentials, refusing: %m"), 0;
        c->pid = ucred.pid;
        c->uid = ucred.uid;
        /* Pinned below; if the number was reused meanwhile, that only charges another bucket. */
        c->account_uid = account_uid_of(c->pid, c->uid);

        /* One user cannot take every connection slot, nor with its subordinate uids. */
        unsigned n = 0;
        for (Connection *i = b->connections; i; i = i->next)
                if (i->account_uid == c->account_uid)
                        n++;
        if (n >= BROKER_MAX_CONNECTIONS_PER_USER) {
                log_warning("Too many peer-to-peer connections of uid %u (%u), refusing one.", c->account_uid, n);
                return 0;
        }

        /* The pidfd pins the peer process; a plain pid could be reused while polkit thinks. Only a kernel
         * without SO_PEERPIDFD (before 6.5) makes us pin it by number: any other failure means the peer is
         * gone already, and its number may be another process's now. */
        l = sizeof c->pidfd;
        if (getsockopt(nfd, SOL_SOCKET, SO_PEERPIDFD, &c->pidfd, &l) < 0) {
                if (errno != ENOPROTOOPT)
                        return log_warning_errno(-errno, "Peer pid %i went away while connecting: %m", c->pid), 0;
                c->pidfd = sys_pidfd_open(c->pid, 0);
                if (c->pidfd < 0)
                        return log_warning_errno(-errno, "Failed to pin peer pid %i, refusing: %m", c->pid), 0;
        }
        r = read_start_time(c->pid, &c->start_time);
        if (r < 0 || pidfd_process_is_gone(c->pidfd))
                return log_warning_errno(r, "Peer pid %i went away while connecting.", c->pid), 0;

        r = sd_bus_new(&c->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate bus: %m"), 0;
        (void) sd_bus_set_description(c->bus, "peer");
        r = sd_bus_set_fd(c->bus, nfd, nfd);
        if (r < 0)
                return log_error_errno(r, "Failed to set connection fd: %m"), 0;
        TAKE_FD(nfd);
        r = sd_bus_set_server(c->bus, 1, b->server_id);
        if (r < 0)
                return log_error_errno(r, "Failed to make connection a server: %m"), 0;
        r = sd_bus_negotiate_fds(c->bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable fd passing: %m"), 0;

        r = broker_add_objects(b, c->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to add objects to connection: %m"), 0;
        r = sd_bus_add_filter(c->bus, &c->filter_slot, on_incoming, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add connection filter: %m"), 0;
        r = sd_bus_match_signal(c->bus, &c->disconnect_slot, NULL, "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch for disconnection: %m"), 0;
        r = sd_bus_start(c->bus);
        if (r < 0)
                return log_warning_errno(r, "Failed to start connection from pid %i: %m", c->pid), 0;
        r = sd_bus_attach_event(c->bus, b->event, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to attach connection to event loop: %m"), 0;

        r = sd_event_add_post(b->event, &c->drain_source, on_drain, c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the connection's authentication: %m"), 0;

        log_debug("Peer-to-peer client pid %i uid %u connected.", c->pid, c->uid);
        c->broker = b;
        c->next = b->connections;
        if (b->connections)
                b->connections->prev = c;
        b->connections = c;
        b->n_connections++;
        TAKE_PTR(c);
        return 0;
}

int broker_start_accepting(Broker *b, int listen_fd) {
        int r;

        r = sd_is_socket_unix(listen_fd, SOCK_STREAM, 1, NULL, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to check the passed socket: %m");
        if (r == 0)
                return log_error_errno(-EINVAL, "The passed fd is not a listening AF_UNIX stream socket.");
        (void) fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);

        r = sd_event_add_io(b->event, &b->accept_source, listen_fd, EPOLLIN, on_accept, b);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the socket: %m");
        /* The event source closes the fd when it goes. */
        (void) sd_event_source_set_io_fd_own(b->accept_source, true);
        return 0;
}
