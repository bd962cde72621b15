/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The peer-to-peer socket: each accepted connection is a private sd-bus server serving the same objects as
 * the system bus. There is no bus daemon to vouch for the peer, so identity comes from the socket itself
 * (SO_PEERCRED, SO_PEERPIDFD) and is fixed at accept time.
 *
 * sd-bus does not read the client's socket: we do, and hand it whole authentication lines and whole
 * messages through a socket pair. sd-bus would buffer whatever size a header announces (up to 128 MiB) and
 * wait for it without end, and it forgets, without closing them, the fds that came with a message it
 * refuses. Here a message larger than the limit ends the connection before its body is read, one not
 * complete within the deadline too, and sd-bus receives only stand-ins for fds (see fd_stand_ins). */

#include <assert.h>
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/kcmp.h>
#include <systemd/sd-daemon.h>

#include "broker.h"
#include "connection.h"
#include "list.h"
#include "log-limit.h"
#include "log.h"
#include "polkit.h"
#include "fs-util.h"
#include "seccomp-kernel.h"

/* Replies a client may leave unread: beyond that it is disconnected, or sd-bus would queue them without
 * end in our memory. Plenty for a client that sends several calls before reading the replies. */
#define CONNECTION_MAX_QUEUED_WRITES 256

/* File descriptors one message may carry: RegisterListener takes one. */
#define CONNECTION_MAX_FDS 4
/* Bytes of the authentication lines up to BEGIN; a client sends well under 100. */
#define CONNECTION_MAX_AUTH 4096
/* The fixed part of a D-Bus message header; sd-bus reads 8 bytes more before it looks at the sizes, and a
 * valid message is never shorter than that. */
#define DBUS_FIXED_HEADER_SIZE 16
#define DBUS_MIN_MESSAGE_SIZE 24
#define ALIGN_TO(x, a) (((x) + (a) - 1) & ~((size_t) (a) - 1))

/* sd-bus receives a message's fds as copies of these memfds, stand-in i for the message's fd i. Once it
 * hands the message to on_incoming(), the copies (found by what they are, not by number) are replaced by
 * the client's fds, in place. A message sd-bus refuses never gets there: then the copies it forgot are
 * closed, and they are ours, unlike the client's fds, which the daemon may hold for good elsewhere (a
 * listener fd sent again). */
static int fd_stand_ins[CONNECTION_MAX_FDS] = { -EBADF, -EBADF, -EBADF, -EBADF };

struct Connection {
        Broker *broker;
        sd_bus *bus;
        sd_bus_slot *disconnect_slot;
        sd_bus_slot *filter_slot;
        sd_event_source *free_source;
        pid_t pid;
        uid_t uid;
        uid_t account_uid;         /* whom its limits charge: account_uid_of() */
        uint64_t start_time;       /* clock ticks after boot, as /proc/<pid>/stat field 22 */
        int pidfd;

        int sock;                  /* the accepted socket: we read it, sd-bus writes to a copy of it */
        int feed;                  /* our end of the socket pair sd-bus reads from */
        sd_event_source *read_source;
        sd_event_source *deadline_source; /* armed while authentication or a message is incomplete */
        bool authenticated;        /* BEGIN went to sd-bus: messages follow */
        bool fds_in_flight;        /* stand-ins went with the last message: on_incoming() swaps them */
        uint8_t *buf;              /* the line or the message being received */
        size_t buf_size, buf_len;
        size_t msg_size;           /* the whole message's size, once its fixed header is in; else 0 */
        size_t auth_len;
        int fds[CONNECTION_MAX_FDS];
        size_t n_fds;

        Connection *next, *prev;
};

static void connection_close_fds(Connection *c) {
        for (size_t i = 0; i < c->n_fds; i++)
                safe_close(c->fds[i]);
        c->n_fds = 0;
}

static Connection *connection_free(Connection *c) {
        if (!c)
                return NULL;
        if (c->broker) {
                Broker *b = c->broker;
                polkit_cancel_for_bus(b, c->bus);
                LIST_REMOVE(b->connections, c);
                b->n_connections--;
        }
        sd_bus_slot_unref(c->disconnect_slot);
        sd_bus_slot_unref(c->filter_slot);
        sd_event_source_disable_unref(c->free_source);
        sd_event_source_disable_unref(c->read_source);
        sd_event_source_disable_unref(c->deadline_source);
        if (c->bus) {
                sd_bus_detach_event(c->bus);
                /* No flush: a client that does not read would block it for good. */
                sd_bus_close_unref(c->bus);
        }
        safe_close(c->sock);
        safe_close(c->feed);
        connection_close_fds(c);
        free(c->buf);
        safe_close(c->pidfd);
        free(c);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Connection *, connection_free);

void connection_free_all(Broker *b) {
        assert(b);

        while (b->connections)
                connection_free(b->connections);
        b->accept_source = sd_event_source_disable_unref(b->accept_source);
        for (size_t i = 0; i < CONNECTION_MAX_FDS; i++)
                fd_stand_ins[i] = safe_close(fd_stand_ins[i]);
}

void connection_foreach_bus(Broker *b, void (*f)(sd_bus *bus, void *userdata), void *userdata) {
        assert(b);
        assert(f);

        if (b->system_bus)
                f(b->system_bus, userdata);
        for (Connection *c = b->connections; c; c = c->next)
                f(c->bus, userdata);
}

Connection *connection_find(Broker *b, sd_bus *bus) {
        assert(b);

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

int read_start_time(pid_t pid, uint64_t *ret) {
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
        /* Nothing more is read from it. */
        if (c->read_source)
                (void) sd_event_source_set_enabled(c->read_source, SD_EVENT_OFF);
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

/* Finds our copies of the stand-ins: copies[i] gets the copy of stand-in i, for i < n; any other copy makes
 * it -EEXIST, as then it is not clear which one the message holds. Without copies, every copy is closed:
 * called when no message holds one. kcmp() compares open files without asking their file system, which for
 * a user's FUSE file could block. */
static int fd_stand_ins_find(int copies[], size_t n) {
        _cleanup_close_ int dfd = -EBADF;
        struct dirent *de;
        bool extra = false;
        DIR *d;
        pid_t pid = getpid();

        for (size_t i = 0; i < n; i++)
                copies[i] = -EBADF;

        /* The fd table of this thread, the event loop's: listener threads share it. */
        dfd = openat(broker_proc_dir(), "thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        d = fdopendir(dfd);
        if (!d)
                return -errno;
        dfd = -EBADF;
        while ((de = readdir(d))) {
                char *end;
                long fd;
                bool ours = false;

                errno = 0;
                fd = strtol(de->d_name, &end, 10);
                if (errno != 0 || *end != 0 || end == de->d_name || fd < 0 || fd > INT_MAX || fd == dirfd(d))
                        continue;
                for (size_t i = 0; i < CONNECTION_MAX_FDS; i++)
                        ours = ours || fd == fd_stand_ins[i];
                if (ours)
                        continue;
                for (size_t i = 0; i < CONNECTION_MAX_FDS; i++) {
                        if (syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd_stand_ins[i], (int) fd) != 0)
                                continue;
                        if (!copies)
                                safe_close((int) fd);
                        else if (i < n && copies[i] < 0)
                                copies[i] = (int) fd;
                        else
                                extra = true;
                        break;
                }
        }
        closedir(d);
        return extra ? -EEXIST : 0;
}

static int fd_stand_ins_setup(void) {
        for (size_t i = 0; i < CONNECTION_MAX_FDS; i++) {
                if (fd_stand_ins[i] >= 0)
                        continue;
                fd_stand_ins[i] = memfd_create("sysbroker-fd-stand-in", MFD_CLOEXEC);
                if (fd_stand_ins[i] < 0)
                        return -errno;
        }
        /* Without kcmp() the copies could not be found. */
        if (syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, fd_stand_ins[0], fd_stand_ins[0]) != 0)
                return -errno;
        return 0;
}

/* The message sd-bus hands us got stand-ins: put the client's fds in their place. */
static int connection_swap_in_fds(Connection *c) {
        int copies[CONNECTION_MAX_FDS];
        int r;

        c->fds_in_flight = false;
        /* On failure the message keeps its stand-ins, and closes them when it goes. */
        r = fd_stand_ins_find(copies, c->n_fds);
        for (size_t i = 0; r >= 0 && i < c->n_fds; i++)
                if (copies[i] < 0)
                        r = -ENOENT;
        for (size_t i = 0; r >= 0 && i < c->n_fds; i++)
                if (dup3(c->fds[i], copies[i], O_CLOEXEC) < 0)
                        r = -errno;
        connection_close_fds(c);
        return r;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Connection *c = userdata;

        if (log_limit_owner_admit(c->account_uid, 1))
                log_warning("Peer-to-peer client pid %i uid %u did not complete %s within %" PRIu64 " s, "
                            "disconnecting it.", c->pid, c->uid, c->authenticated ? "a message" : "authentication",
                            c->broker->limits.connection_timeout_usec / USEC_PER_SEC);
        connection_free_later(c);
        return 0;
}

static int connection_arm_deadline(Connection *c, bool on) {
        int r;

        if (!on)
                return sd_event_source_set_enabled(c->deadline_source, SD_EVENT_OFF);
        r = sd_event_source_set_time_relative(c->deadline_source, c->broker->limits.connection_timeout_usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->deadline_source, SD_EVENT_ONESHOT);
}

static int connection_reserve(Connection *c, size_t size) {
        uint8_t *p;

        if (size <= c->buf_size)
                return 0;
        p = realloc(c->buf, size);
        if (!p)
                return -ENOMEM;
        c->buf = p;
        c->buf_size = size;
        return 0;
}

/* Reads at most n bytes, and the fds that come with them, onto the buffer. Stopping at the end of the
 * current line or message keeps fds with the message they were sent with, as sd-bus would count them.
 * Returns the bytes read, 0 if none are there yet, or a negative errno: drop the connection. */
static ssize_t connection_recv(Connection *c, size_t n) {
        union {
                struct cmsghdr cmsghdr;
                uint8_t buf[CMSG_SPACE(sizeof(int) * CONNECTION_MAX_FDS)];
        } control = {};
        struct iovec iov;
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        ssize_t k;
        int r = 0;

        r = connection_reserve(c, c->buf_len + n);
        if (r < 0)
                return r;
        iov = (struct iovec) { c->buf + c->buf_len, n };
        k = recvmsg(c->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (k < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;

        /* Fds that do not fit the control buffer the kernel closes (MSG_CTRUNC); those that do are ours
         * now, whatever happens next. */
        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
                size_t m;

                if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
                        continue;
                m = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < m; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof fd);
                        if (c->authenticated && c->n_fds < CONNECTION_MAX_FDS)
                                c->fds[c->n_fds++] = fd;
                        else {
                                safe_close(fd);
                                r = c->authenticated ? -ETOOMANYREFS : -EPROTO;
                        }
                }
        }
        if (mh.msg_flags & MSG_CTRUNC)
                r = -ETOOMANYREFS;
        if (r < 0)
                return r;
        if (k == 0)
                return -ECONNRESET;
        c->buf_len += k;
        return k;
}

/* Hands the line or message in the buffer to sd-bus and lets sd-bus take it at once: the next one is read
 * only after this one was dispatched or refused, so sd-bus never holds more than one. */
static int connection_forward(Connection *c) {
        union {
                struct cmsghdr cmsghdr;
                uint8_t buf[CMSG_SPACE(sizeof(int) * CONNECTION_MAX_FDS)];
        } control = {};
        size_t sent = 0;
        unsigned stuck = 0;
        int r;

        while (sent < c->buf_len) {
                struct iovec iov = { c->buf + sent, c->buf_len - sent };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
                ssize_t k;

                if (sent == 0 && c->n_fds > 0) {
                        struct cmsghdr *cmsg;

                        mh.msg_control = &control;
                        mh.msg_controllen = CMSG_SPACE(sizeof(int) * c->n_fds);
                        cmsg = CMSG_FIRSTHDR(&mh);
                        cmsg->cmsg_level = SOL_SOCKET;
                        cmsg->cmsg_type = SCM_RIGHTS;
                        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * c->n_fds);
                        memcpy(CMSG_DATA(cmsg), fd_stand_ins, sizeof(int) * c->n_fds);
                }
                k = sendmsg(c->feed, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (k > 0) {
                        if (mh.msg_control)
                                c->fds_in_flight = true;
                        sent += k;
                        stuck = 0;
                        continue;
                }
                if (k < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                /* The pair is full: let sd-bus read from it. */
                r = sd_bus_process(c->bus, NULL);
                if (r < 0)
                        return r;
                if (r == 0 && ++stuck > 3)
                        return -ENOBUFS;
        }
        c->buf_len = c->msg_size = 0;
        /* An idle connection keeps no large buffer. */
        if (c->buf_size > CONNECTION_MAX_AUTH) {
                c->buf = mfree_ptr(c->buf);
                c->buf_size = 0;
        }

        while ((r = sd_bus_process(c->bus, NULL)) > 0)
                if (c->free_source)
                        return 0;
        if (r < 0)
                return r;
        if (c->fds_in_flight) {
                /* sd-bus refused the message (its header does not count the fds, say) and forgot the
                 * stand-ins without closing them. */
                c->fds_in_flight = false;
                connection_close_fds(c);
                (void) fd_stand_ins_find(NULL, 0);
                return -EBADMSG;
        }
        return 0;
}

/* One step of the authentication: reads up to the end of a line, and passes complete lines on. Nothing
 * after BEGIN is read here: what follows is messages. */
static int connection_read_auth(Connection *c) {
        char peek[256];
        const char *nl;
        ssize_t n, k;
        size_t want;
        int r;

        if (c->auth_len >= CONNECTION_MAX_AUTH)
                return -EMSGSIZE;
        n = recv(c->sock, peek, MIN(sizeof peek, CONNECTION_MAX_AUTH - c->auth_len), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                return -ECONNRESET;
        nl = memchr(peek, '\n', n);
        want = nl ? (size_t) (nl - peek) + 1 : (size_t) n;
        k = connection_recv(c, want);
        if (k <= 0)
                return k;
        c->auth_len += k;
        if (c->buf[c->buf_len - 1] != '\n')
                return 1;
        c->authenticated = c->buf_len == strlen("BEGIN\r\n") && memcmp(c->buf, "BEGIN\r\n", c->buf_len) == 0;
        r = connection_forward(c);
        if (r < 0 || !c->authenticated)
                return r < 0 ? r : 1;
        /* sd-bus took BEGIN and runs now, or it refused the authentication and everything after BEGIN
         * would be read as authentication lines: then we are done with the client. */
        if (!c->free_source && sd_bus_is_ready(c->bus) <= 0)
                return -EACCES;
        (void) connection_arm_deadline(c, false);
        return 1;
}

static uint32_t message_u32(const Connection *c, size_t offset) {
        uint32_t v;

        memcpy(&v, c->buf + offset, sizeof v);
        return c->buf[0] == 'l' ? le32toh(v) : be32toh(v);
}

/* The number of fds the whole message in the buffer announces (header field UNIX_FDS), or -EBADMSG for a header
 * this reader does not follow to the end. Asked only of a message that came with fds: sd-bus 252 refuses one
 * whose count is not the fds that came, and frees nothing it read them into, so such a message never reaches
 * it. The fields are the specification's: code, signature, value, each field aligned to 8. */
static int message_unix_fds(const Connection *c) {
        size_t end = DBUS_FIXED_HEADER_SIZE + message_u32(c, 12), pos = DBUS_FIXED_HEADER_SIZE;
        int found = 0;

        if (end > c->buf_len)
                return -EBADMSG;
        while (pos < end) {
                uint8_t code, sig_len;
                char type;

                pos = ALIGN_TO(pos, 8);
                if (pos + 4 > end)
                        return -EBADMSG;
                code = c->buf[pos];
                sig_len = c->buf[pos + 1];
                if (sig_len != 1 || c->buf[pos + 3] != 0)
                        return -EBADMSG;
                type = (char) c->buf[pos + 2];
                pos += 4;
                switch (type) {
                case 'o':
                case 's':
                        pos = ALIGN_TO(pos, 4);
                        if (pos + 4 > end)
                                return -EBADMSG;
                        pos += 4 + (size_t) message_u32(c, pos) + 1;
                        break;
                case 'g':
                        if (pos + 1 > end)
                                return -EBADMSG;
                        pos += 1 + (size_t) c->buf[pos] + 1;
                        break;
                case 'u':
                        pos = ALIGN_TO(pos, 4);
                        if (pos + 4 > end)
                                return -EBADMSG;
                        if (code == 9 /* UNIX_FDS */)
                                found = (int) MIN(message_u32(c, pos), (uint32_t) INT_MAX);
                        pos += 4;
                        break;
                default:
                        return -EBADMSG;
                }
                if (pos > end)
                        return -EBADMSG;
        }
        return found;
}

/* One step of a message: its fixed header first, which says how long it is, then the rest. */
static int connection_read_message(Connection *c) {
        bool first = c->buf_len == 0;
        size_t want;
        ssize_t k;
        int r;

        want = c->msg_size == 0 ? DBUS_FIXED_HEADER_SIZE - c->buf_len : c->msg_size - c->buf_len;
        k = connection_recv(c, want);
        if (k <= 0)
                return k;
        if (first)
                (void) connection_arm_deadline(c, true);

        if (c->msg_size == 0) {
                uint32_t body, fields;
                uint64_t size;

                if (c->buf_len < DBUS_FIXED_HEADER_SIZE)
                        return 1;
                memcpy(&body, c->buf + 4, sizeof body);
                memcpy(&fields, c->buf + 12, sizeof fields);
                if (c->buf[0] == 'l') {
                        body = le32toh(body);
                        fields = le32toh(fields);
                } else if (c->buf[0] == 'B') {
                        body = be32toh(body);
                        fields = be32toh(fields);
                } else
                        return -EBADMSG;
                /* As sd-bus counts it: the header fields are padded to 8 bytes. */
                size = DBUS_FIXED_HEADER_SIZE + (((uint64_t) fields + 7) & ~UINT64_C(7)) + body;
                if (size > c->broker->limits.max_message_size) {
                        if (log_limit_owner_admit(c->account_uid, 1))
                                log_warning("Peer-to-peer client pid %i uid %u announces a message of %" PRIu64
                                            " bytes, more than %zu, disconnecting it.",
                                            c->pid, c->uid, size, c->broker->limits.max_message_size);
                        return -EMSGSIZE;
                }
                /* Shorter than what sd-bus reads before it looks at the size: it would take the next
                 * message's first bytes too. */
                if (size < DBUS_MIN_MESSAGE_SIZE)
                        return -EBADMSG;
                c->msg_size = size;
        }
        if (c->buf_len < c->msg_size)
                return 1;

        if (c->n_fds > 0 && message_unix_fds(c) != (int) c->n_fds)
                return -EBADR;

        (void) connection_arm_deadline(c, false);
        r = connection_forward(c);
        return r < 0 ? r : 1;
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Connection *c = userdata;
        int r = 0;

        /* A bounded number of steps per wakeup: other clients get their turn. What is left wakes us again. */
        for (unsigned i = 0; i < 16 && !c->free_source; i++) {
                r = c->authenticated ? connection_read_message(c) : connection_read_auth(c);
                if (r <= 0)
                        break;
        }
        if (r == -ECONNRESET)
                log_debug("Peer-to-peer client pid %i hung up.", c->pid);
        else if (r < 0 && !log_limit_owner_admit(c->account_uid, 1))
                ; /* Over its user's budget for log lines: a client must not flood the journal either. */
        else if (r == -ETOOMANYREFS)
                log_warning("Peer-to-peer client pid %i uid %u sent more than %u file descriptors with one "
                            "message, disconnecting it.", c->pid, c->uid, CONNECTION_MAX_FDS);
        else if (r == -EPROTO)
                log_warning("Peer-to-peer client pid %i uid %u sent file descriptors while authenticating, "
                            "disconnecting it.", c->pid, c->uid);
        else if (r == -EBADR)
                log_warning("Peer-to-peer client pid %i uid %u sent file descriptors with a message whose header "
                            "does not announce exactly those, disconnecting it.", c->pid, c->uid);
        else if (r == -EACCES)
                log_warning("Peer-to-peer client pid %i uid %u sent BEGIN without a successful authentication, "
                            "disconnecting it.", c->pid, c->uid);
        else if (r == -EMSGSIZE && !c->authenticated)
                log_warning("Peer-to-peer client pid %i uid %u sent more than %u bytes to authenticate, "
                            "disconnecting it.", c->pid, c->uid, CONNECTION_MAX_AUTH);
        else if (r < 0 && r != -EMSGSIZE)
                log_warning_errno(r, "Peer-to-peer client pid %i uid %u sent what we cannot take, disconnecting "
                                  "it: %m", c->pid, c->uid);
        if (r < 0) {
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                broker_mark_active(c->broker);
                connection_free_later(c);
        }
        return 0;
}

/* Drops c if it leaves too much unread. */
static bool connection_drop_if_backlogged(Connection *c) {
        uint64_t queued = 0;

        if (c->free_source)
                return true; /* being dropped already */
        if (sd_bus_get_n_queued_write(c->bus, &queued) < 0 || queued < CONNECTION_MAX_QUEUED_WRITES)
                return false;
        if (log_limit_owner_admit(c->account_uid, 1))
                log_warning("Peer-to-peer client pid %i uid %u does not read what we send (%" PRIu64 " messages "
                            "waiting), disconnecting it.", c->pid, c->uid, queued);
        connection_free_later(c);
        return true;
}

/* Before each incoming message is dispatched: it gets the client's fds, and nothing more is processed for a
 * client being dropped. */
static int on_incoming(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;
        int r;

        if (c->fds_in_flight) {
                r = connection_swap_in_fds(c);
                if (r < 0) {
                        log_error_errno(r, "Failed to hand the file descriptors of pid %i to its message, "
                                        "disconnecting it: %m", c->pid);
                        connection_free_later(c);
                        return 1;
                }
        }
        return connection_drop_if_backlogged(c) ? 1 : 0;
}

void connection_drop_backlogged(Broker *b) {
        /* Signals go to every connection, also to those that never send anything. */
        for (Connection *c = b->connections; c; c = c->next)
                (void) connection_drop_if_backlogged(c);
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
        c->pidfd = c->sock = c->feed = -EBADF;

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
                if (log_limit_owner_admit(c->account_uid, 1))
                        log_warning("Too many peer-to-peer connections of uid %u (%u), refusing one.",
                                    c->account_uid, n);
                return 0;
        }

        /* The pidfd pins the peer process; a plain pid could be reused while polkit thinks. Only a kernel
         * without SO_PEERPIDFD (before 6.5) makes us pin it by number: any other failure means the peer is
         * gone already, and its number may be another process's now. */
        l = sizeof c->pidfd;
        if (getsockopt(nfd, SOL_SOCKET, SO_PEERPIDFD, &c->pidfd, &l) < 0) {
                if (errno != ENOPROTOOPT) {
                        if (log_limit_owner_admit(c->account_uid, 1))
                                log_warning_errno(-errno, "Peer pid %i went away while connecting: %m", c->pid);
                        return 0;
                }
                c->pidfd = sys_pidfd_open(c->pid, 0);
                if (c->pidfd < 0)
                        return log_warning_errno(-errno, "Failed to pin peer pid %i, refusing: %m", c->pid), 0;
        }
        r = read_start_time(c->pid, &c->start_time);
        if (r < 0 || pidfd_process_is_gone(c->pidfd)) {
                if (log_limit_owner_admit(c->account_uid, 1))
                        log_warning_errno(r, "Peer pid %i went away while connecting.", c->pid);
                return 0;
        }

        /* sd-bus reads pair[0], which only we write to, and writes to a copy of the client's socket. */
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return log_error_errno(-errno, "Failed to create socket pair: %m"), 0;
        c->feed = pair[1];
        _cleanup_close_ int bus_in = pair[0], bus_out = fcntl(nfd, F_DUPFD_CLOEXEC, 3);
        if (bus_out < 0)
                return log_error_errno(-errno, "Failed to duplicate connection fd: %m"), 0;
        /* Room for a whole message: it is written at once. */
        (void) setsockopt(c->feed, SOL_SOCKET, SO_SNDBUFFORCE,
                          &(int) { (int) MIN(b->limits.max_message_size * 2, (size_t) INT_MAX / 2) }, sizeof(int));
        c->sock = TAKE_FD(nfd);

        r = sd_bus_new(&c->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate bus: %m"), 0;
        (void) sd_bus_set_description(c->bus, "peer");
        r = sd_bus_set_fd(c->bus, bus_in, bus_out);
        if (r < 0)
                return log_error_errno(r, "Failed to set connection fd: %m"), 0;
        TAKE_FD(bus_in);
        TAKE_FD(bus_out);
        r = sd_bus_set_server(c->bus, 1, b->server_id);
        if (r < 0)
                return log_error_errno(r, "Failed to make connection a server: %m"), 0;
        /* sd-bus sees the socket pair, whose peer is us: the client's uid it would compare with
         * AUTH EXTERNAL is on c->sock, checked above, and that is the one the calls are charged to. */
        r = sd_bus_set_anonymous(c->bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to accept the client's authentication: %m"), 0;
        r = sd_bus_negotiate_fds(c->bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable fd passing: %m"), 0;

        assert(b->add_objects);
        r = b->add_objects(b, c->bus);
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

        r = sd_event_add_io(b->event, &c->read_source, c->sock, EPOLLIN, on_readable, c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the connection: %m"), 0;
        /* Authentication is the first thing to complete in time. */
        r = sd_event_add_time_relative(b->event, &c->deadline_source, CLOCK_MONOTONIC,
                                       b->limits.connection_timeout_usec, 0, on_deadline, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the connection's deadline: %m"), 0;

        log_debug("Peer-to-peer client pid %i uid %u connected.", c->pid, c->uid);
        c->broker = b;
        LIST_PREPEND(b->connections, c);
        b->n_connections++;
        TAKE_PTR(c);
        return 0;
}

int connection_start_accepting(Broker *b, int listen_fd) {
        int r;

        assert(b);
        assert(listen_fd >= 0);

        r = sd_is_socket_unix(listen_fd, SOCK_STREAM, 1, NULL, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to check the passed socket: %m");
        if (r == 0)
                return log_error_errno(-EINVAL, "The passed fd is not a listening AF_UNIX stream socket.");
        (void) fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);

        r = fd_stand_ins_setup();
        if (r < 0)
                return log_error_errno(r, "Failed to set up file descriptor stand-ins (kcmp() is needed): %m");

        r = sd_event_add_io(b->event, &b->accept_source, listen_fd, EPOLLIN, on_accept, b);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the socket: %m");
        /* The event source closes the fd when it goes. */
        (void) sd_event_source_set_io_fd_own(b->accept_source, true);
        return 0;
}
