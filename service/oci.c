/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OCI listenerPath socket. crun and runc connect, send one message (the container state JSON, the
 * listener fd as SCM_RIGHTS) and go on without waiting: there is no reply in the protocol. Anyone may
 * connect, so everything is bounded: connections in all and per uid, bytes (BrokerLimits.max_message_size),
 * fds (exactly those the message names, at most OCI_MAX_FDS), time (connection_timeout_usec). What is refused
 * is logged with the container's id and the runtime's uid; the fds are closed, and with the runtime's own
 * copies gone the container's trapped calls fail with ENOSYS. */

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <json-c/json.h>
#include <systemd/sd-daemon.h>

#include "connection.h"
#include "fs-util.h"
#include "host-path.h"
#include "list.h"
#include "log-limit.h"
#include "log.h"
#include "manager.h"
#include "oci-state.h"
#include "oci.h"
#include "seccomp-kernel.h"
#include "target.h"

struct OciConnection {
        Broker *broker;
        int sock;
        pid_t pid;
        uid_t uid;
        gid_t gid;
        uid_t account_uid;
        uint64_t start_time;
        int pidfd;
        sd_event_source *read_source;
        sd_event_source *deadline_source;
        json_tokener *tok;         /* only to tell when the message is whole */
        char *buf;
        size_t len;
        int fds[OCI_MAX_FDS];
        size_t n_fds;
        OciConnection *next, *prev;
};

static OciConnection *oci_connection_free(OciConnection *c) {
        if (!c)
                return NULL;
        if (c->broker) {
                LIST_REMOVE(c->broker->oci_connections, c);
                c->broker->n_oci_connections--;
        }
        sd_event_source_disable_unref(c->read_source);
        sd_event_source_disable_unref(c->deadline_source);
        if (c->tok)
                json_tokener_free(c->tok);
        free(c->buf);
        for (size_t i = 0; i < c->n_fds; i++)
                safe_close(c->fds[i]);
        safe_close(c->sock);
        safe_close(c->pidfd);
        free(c);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(OciConnection *, oci_connection_free);

void oci_free_all(Broker *b) {
        while (b->oci_connections)
                oci_connection_free(b->oci_connections);
        b->oci_accept_source = sd_event_source_disable_unref(b->oci_accept_source);
}

#define oci_log_refused(c, container_id, format, ...)                                                     \
        do {                                                                                              \
                if (log_limit_owner_admit((c)->account_uid, 1))                                           \
                        log_warning("OCI runtime pid %i uid %u%s%s%s: nothing registered, " format,       \
                                    (c)->pid, (c)->uid, (container_id) ? ", container '" : "",            \
                                    strempty(container_id), (container_id) ? "'" : "", ##__VA_ARGS__);     \
        } while (0)

/* Invariant 4 at the door: the container's init must be the runtime user's to hand over (its uids, or a user
 * namespace that user created), as the listener's calls will be checked against that user. 1, 0 or -errno. */
static int oci_pid_controlled_by(pid_t pid, uid_t uid) {
        _cleanup_close_ int pidfd = -EBADF, proc_fd = -EBADF, status_fd = -EBADF;
        Target t = TARGET_NULL;
        char path[32], buf[8192];
        ssize_t n;
        int r;

        pidfd = sys_pidfd_open(pid, 0);
        if (pidfd < 0)
                return -errno;
        snprintf(path, sizeof path, "%i", (int) pid);
        proc_fd = openat(broker_proc_dir(), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (proc_fd < 0)
                return -errno;
        status_fd = openat(proc_fd, "status", O_RDONLY | O_CLOEXEC);
        if (status_fd < 0)
                return -errno;
        n = read(status_fd, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        r = target_parse_status(buf, &t);
        if (r < 0)
                return r;
        t.tid = pid;
        t.proc_fd = proc_fd;
        r = target_is_controlled_by(&t, uid);
        /* Opened after the pidfd: if that process still lives, /proc/<pid> was it throughout. */
        if (pidfd_process_is_gone(pidfd))
                return -ESRCH;
        return r;
}

/* The state's pids are the runtime's: they name the same processes here only if it shares our pid namespace.
 * 1 yes, 0 no, -errno. */
static int oci_runtime_shares_pid_namespace(const OciConnection *c) {
        struct stat ours, its;
        char path[64];

        snprintf(path, sizeof path, "%i/ns/pid", (int) c->pid);
        if (fstatat(broker_proc_dir(), "self/ns/pid", &ours, 0) < 0 || fstatat(broker_proc_dir(), path, &its, 0) < 0)
                return -errno;
        if (pidfd_process_is_gone(c->pidfd))
                return -ESRCH;
        return ours.st_dev == its.st_dev && ours.st_ino == its.st_ino;
}

/* The main loop's thread with uid's and gid's file system credentials and no supplementary groups, and back:
 * a runtime's user must not read through us what it could not read itself (a config.json linked to a file of
 * root's, a bundle in a directory it may not search). Per thread, raw syscalls: only the main loop's thread
 * changes, and only until oci_fs_creds_leave(). Nothing changes for uid 0. */
typedef struct OciFsCreds {
        bool changed;
        int n_groups;
        gid_t groups[64];
        uid_t fsuid;
        gid_t fsgid;
} OciFsCreds;

static int oci_fs_creds_enter(OciFsCreds *s, uid_t uid, gid_t gid) {
        *s = (OciFsCreds) { .fsuid = geteuid(), .fsgid = getegid() };
        if (uid == 0)
                return 0;
        s->n_groups = getgroups(ELEMENTSOF(s->groups), s->groups);
        if (s->n_groups < 0)
                return -errno;
        if (syscall(SYS_setgroups, 0, NULL) < 0)
                return -errno;
        /* fs ids from 0 to another clear the file system capabilities from the effective set, and back to 0
         * raise them again from the permitted set. */
        (void) syscall(SYS_setfsgid, gid);
        (void) syscall(SYS_setfsuid, uid);
        s->changed = true;
        return 0;
}

static void oci_fs_creds_leave(OciFsCreds *s) {
        if (!s->changed)
                return;
        (void) syscall(SYS_setfsuid, s->fsuid);
        (void) syscall(SYS_setfsgid, s->fsgid);
        if (syscall(SYS_setgroups, s->n_groups, s->groups) < 0 || (uid_t) syscall(SYS_setfsuid, -1) != s->fsuid) {
                /* The main loop would go on with another identity: nothing sensible is left to do. */
                log_error_errno(-errno, "Failed to restore our credentials after reading as another user: %m");
                abort();
        }
        s->changed = false;
}

/* The bundle as the runtime's user finds it (host_path_open(), with that user's search permissions on the
 * way), and its config.json opened for reading, without following a symlink. */
static int open_config_as(uid_t uid, gid_t gid, const char *bundle, int *ret_bundle_fd, HostPathUnsafe *unsafe,
                          int *ret_config_fd) {
        const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
        OciFsCreds creds;
        int r, fd = -EBADF;

        r = oci_fs_creds_enter(&creds, uid, gid);
        if (r < 0)
                return r;
        r = host_path_open(bundle, 0, ret_bundle_fd, unsafe);
        if (r >= 0) {
                fd = openat(*ret_bundle_fd, "config.json", flags);
                if (fd < 0)
                        r = -errno;
        }
        oci_fs_creds_leave(&creds);
        if (r < 0)
                return r;
        *ret_config_fd = fd;
        return 0;
}

/* The container's root in the broker's view: the config.json of the state's bundle (read as the runtime's
 * user, a regular file of bounded size), its root.path (relative to the bundle or absolute), resolved safely
 * (host-path.h: no symlink a user planted) to a directory; for a runtime not run by root, one of that
 * user's. */
static int oci_container_root(const OciConnection *c, const char *bundle, char **ret, char **ret_why) {
        _cleanup_close_ int bundle_fd = -EBADF, config_fd = -EBADF, root_fd = -EBADF;
        _cleanup_free_ char *text = NULL, *path = NULL, *joined = NULL;
        HostPathUnsafe unsafe;
        OciFsCreds creds;
        struct stat st;
        size_t size = 0;
        int r;

        /* Walked on the main loop: a FUSE server (fusermount3 lets any user mount one) that never answers would
         * hold every caller's requests. A bundle or rootfs on FUSE is refused before anything looks there. */
        r = path_under_fuse_mount(bundle);
        if (r != 0)
                return asprintf(ret_why, "the bundle '%s' is on a FUSE mount, or the mount table cannot be read "
                                "(%s)", bundle, r < 0 ? strerror(-r) : "FUSE") < 0 ? -ENOMEM : -EINVAL;
        r = open_config_as(c->uid, c->gid, bundle, &bundle_fd, &unsafe, &config_fd);
        if (r == -ENOLINK)
                return asprintf(ret_why, "the bundle's path leads through an unsafe symlink at '%s' (owned by uid "
                                "%u)", unsafe.path, unsafe.uid) < 0 ? -ENOMEM : -EINVAL;
        if (r < 0 && bundle_fd < 0)
                return asprintf(ret_why, "the bundle '%s' cannot be opened as uid %u: %s", bundle, c->uid,
                                strerror(-r)) < 0 ? -ENOMEM : -EINVAL;
        if (r < 0)
                return asprintf(ret_why, "the bundle's config.json cannot be read as uid %u: %s", c->uid,
                                strerror(-r)) < 0 ? -ENOMEM : -EINVAL;
        if (fstat(config_fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size > OCI_CONFIG_MAX)
                return asprintf(ret_why, "the bundle's config.json is not a regular file of at most %u bytes",
                                OCI_CONFIG_MAX) < 0 ? -ENOMEM : -EINVAL;
        text = malloc(OCI_CONFIG_MAX + 1);
        if (!text)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(config_fd, text + size, OCI_CONFIG_MAX + 1 - size);
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > OCI_CONFIG_MAX)
                        return asprintf(ret_why, "the bundle's config.json is longer than %u bytes",
                                        OCI_CONFIG_MAX) < 0 ? -ENOMEM : -EINVAL;
        }

        r = oci_config_root_path(text, size, &path, ret_why);
        if (r < 0)
                return r;
        if (path[0] != '/') {
                const char *p = path;
                while (startswith(p, "./"))
                        p += 2;
                if (asprintf(&joined, "%s/%s", bundle, p) < 0)
                        return -ENOMEM;
                free(path);
                path = TAKE_PTR(joined);
        }

        r = path_under_fuse_mount(path);
        if (r != 0)
                return asprintf(ret_why, "the container's root '%s' is on a FUSE mount, or the mount table cannot "
                                "be read (%s)", path, r < 0 ? strerror(-r) : "FUSE") < 0 ? -ENOMEM : -EINVAL;

        /* As the runtime's user, as the bundle: else the errors would tell what is there in a directory that
         * user may not search, and a directory of its own there (chowned to it) would pass. */
        r = oci_fs_creds_enter(&creds, c->uid, c->gid);
        if (r < 0)
                return r;
        r = host_path_open(path, 0, &root_fd, &unsafe);
        oci_fs_creds_leave(&creds);
        if (r == -ENOLINK)
                return asprintf(ret_why, "the container's root '%s' leads through an unsafe symlink at '%s' (owned "
                                "by uid %u)", path, unsafe.path, unsafe.uid) < 0 ? -ENOMEM : -EINVAL;
        if (r < 0)
                return asprintf(ret_why, "the container's root '%s' cannot be opened: %s", path, strerror(-r)) < 0 ?
                       -ENOMEM : -EINVAL;
        if (fstat(root_fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return asprintf(ret_why, "the container's root '%s' is not a directory", path) < 0 ? -ENOMEM : -EINVAL;
        /* The identity checks take what is below it as the container's files: a user may name only a tree of
         * its own (what the user put there, the user could reach anyway), not, say, /etc. */
        if (c->uid != 0 && st.st_uid != c->uid)
                return asprintf(ret_why, "the container's root '%s' belongs to uid %u, not to the runtime's uid %u",
                                path, st.st_uid, c->uid) < 0 ? -ENOMEM : -EINVAL;

        *ret = TAKE_PTR(path);
        return 0;
}

static void oci_connection_process(OciConnection *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *args = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(oci_state_done) OciState s = {};
        _cleanup_free_ char *why = NULL, *root = NULL;
        Broker *b = c->broker;
        PolkitSubject subject;
        int r;

        r = oci_state_parse(c->buf, c->len, &s, &why);
        if (r < 0) {
                oci_log_refused(c, (const char *) NULL, "the message is not a container state: %s",
                                why ?: strerror(-r));
                return;
        }
        if (c->n_fds != s.n_fds) {
                oci_log_refused(c, s.container_id, "it names %zu file descriptors and sent %zu.", s.n_fds,
                                c->n_fds);
                return;
        }
        if (!s.metadata) {
                oci_log_refused(c, s.container_id, "the seccomp profile has no listenerMetadata: no rules to "
                                "register.");
                return;
        }
        r = oci_runtime_shares_pid_namespace(c);
        if (r <= 0) {
                oci_log_refused(c, s.container_id, "the runtime %s, so its pid %i names nothing here.",
                                r == 0 ? "is in another pid namespace" : "cannot be looked at", s.pid);
                return;
        }
        r = oci_pid_controlled_by(s.pid, c->uid);
        if (r == 0) {
                oci_log_refused(c, s.container_id, "the container's pid %i is not the runtime user's.", s.pid);
                return;
        }
        if (r < 0) {
                oci_log_refused(c, s.container_id, "the container's pid %i cannot be looked at: %s.", s.pid,
                                strerror(-r));
                return;
        }
        r = oci_metadata_to_message(s.metadata, b->system_bus, &args, &why);
        if (r < 0) {
                oci_log_refused(c, s.container_id, "listenerMetadata: %s", why ?: strerror(-r));
                return;
        }

        r = oci_container_root(c, s.bundle, &root, &why);
        if (r < 0) {
                oci_log_refused(c, s.container_id, "%s.", why ?: strerror(-r));
                return;
        }

        subject = (PolkitSubject) {
                .pid = c->pid,
                .start_time = c->start_time,
                .uid = c->uid,
                .account_uid = c->account_uid,
                .pidfd = c->pidfd,
        };
        r = manager_register_oci(b, c->fds[s.seccomp_fd_index], args, &subject, s.container_id, root, &error);
        if (r < 0)
                oci_log_refused(c, s.container_id, "%s", error.message ?: strerror(-r));
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        OciConnection *c = userdata;

        oci_log_refused(c, (const char *) NULL, "it did not send a whole message within %" PRIu64 " s.",
                        c->broker->limits.connection_timeout_usec / USEC_PER_SEC);
        broker_mark_active(c->broker);
        oci_connection_free(c);
        return 0;
}

/* Reads what is there: 1 the message is whole, 0 more to come, or -errno (with a reason logged). */
static int oci_connection_read(OciConnection *c) {
        union {
                struct cmsghdr cmsghdr;
                uint8_t buf[CMSG_SPACE(sizeof(int) * OCI_MAX_FDS)];
        } control = {};
        size_t max = c->broker->limits.max_message_size;
        struct iovec iov;
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        json_object *o;
        ssize_t k;
        bool too_many = false;

        if (!c->buf) {
                c->buf = malloc(max + 1);
                if (!c->buf)
                        return -ENOMEM;
        }
        /* One byte more than allowed: receiving it means the message is too long. */
        iov = (struct iovec) { c->buf + c->len, max + 1 - c->len };
        k = recvmsg(c->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (k < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;

        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
                if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *fds = (int *) (void *) CMSG_DATA(cmsg);
                for (size_t i = 0; i < n; i++) {
                        if (c->n_fds < OCI_MAX_FDS)
                                c->fds[c->n_fds++] = fds[i];
                        else {
                                safe_close(fds[i]);
                                too_many = true;
                        }
                }
        }
        if (too_many || (mh.msg_flags & MSG_CTRUNC)) {
                oci_log_refused(c, (const char *) NULL, "it sent more than %u file descriptors.", OCI_MAX_FDS);
                return -ETOOMANYREFS;
        }
        if (k == 0) {
                oci_log_refused(c, (const char *) NULL, "it hung up before its message was whole (%zu bytes).",
                                c->len);
                return -ECONNRESET;
        }
        c->len += (size_t) k;
        if (c->len > max) {
                oci_log_refused(c, (const char *) NULL, "its message is longer than %zu bytes.", max);
                return -EMSGSIZE;
        }

        o = json_tokener_parse_ex(c->tok, c->buf + c->len - k, (int) k);
        if (o) {
                json_object_put(o);
                return 1;
        }
        if (json_tokener_get_error(c->tok) == json_tokener_continue)
                return 0;
        /* Broken JSON: oci_state_parse() says where, with the whole of it. */
        return 1;
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        OciConnection *c = userdata;
        int r;

        broker_mark_active(c->broker);
        /* A bounded number of reads per wake-up: other clients get their turn; what is left wakes us again. */
        for (unsigned i = 0; i < 16; i++) {
                r = oci_connection_read(c);
                if (r != 0)
                        break;
        }
        if (r == 0)
                return 0;
        if (r > 0)
                oci_connection_process(c);
        else if (r == -ENOMEM)
                log_oom();
        oci_connection_free(c);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        _cleanup_(oci_connection_freep) OciConnection *c = NULL;
        Broker *b = userdata;
        struct ucred ucred;
        socklen_t l = sizeof ucred;
        unsigned n = 0;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return log_oom(), 0;
        c->pidfd = -EBADF;
        c->sock = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c->sock < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        log_warning_errno(-errno, "Failed to accept an OCI runtime's connection, ignoring: %m");
                return 0;
        }
        broker_mark_active(b);

        if (getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &ucred, &l) < 0)
                return log_warning_errno(-errno, "Failed to get an OCI runtime's credentials, refusing: %m"), 0;
        c->pid = ucred.pid;
        c->uid = ucred.uid;
        c->gid = ucred.gid;
        c->account_uid = account_uid_of(c->pid, c->uid);

        if (b->n_oci_connections >= b->limits.max_connections) {
                oci_log_refused(c, (const char *) NULL, "too many OCI connections (%u).", b->n_oci_connections);
                return 0;
        }
        for (OciConnection *i = b->oci_connections; i; i = i->next)
                if (i->account_uid == c->account_uid)
                        n++;
        if (n >= BROKER_MAX_CONNECTIONS_PER_USER) {
                oci_log_refused(c, (const char *) NULL, "too many OCI connections of uid %u (%u).",
                                c->account_uid, n);
                return 0;
        }

        /* The runtime is the polkit subject: pinned, as on the peer-to-peer socket (connection.c). */
        l = sizeof c->pidfd;
        if (getsockopt(c->sock, SOL_SOCKET, SO_PEERPIDFD, &c->pidfd, &l) < 0) {
                if (errno != ENOPROTOOPT) {
                        oci_log_refused(c, (const char *) NULL, "it went away while connecting.");
                        return 0;
                }
                c->pidfd = sys_pidfd_open(c->pid, 0);
                if (c->pidfd < 0)
                        return log_warning_errno(-errno, "Failed to pin OCI runtime pid %i, refusing: %m",
                                                 c->pid), 0;
        }
        r = read_start_time(c->pid, &c->start_time);
        if (r < 0 || pidfd_process_is_gone(c->pidfd)) {
                oci_log_refused(c, (const char *) NULL, "it went away while connecting.");
                return 0;
        }

        c->tok = json_tokener_new_ex(OCI_JSON_MAX_DEPTH);
        if (!c->tok)
                return log_oom(), 0;
        r = sd_event_add_io(b->event, &c->read_source, c->sock, EPOLLIN, on_readable, c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch an OCI runtime's connection: %m"), 0;
        r = sd_event_add_time_relative(b->event, &c->deadline_source, CLOCK_MONOTONIC,
                                       b->limits.connection_timeout_usec, 0, on_deadline, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add an OCI connection's deadline: %m"), 0;

        log_debug("OCI runtime pid %i uid %u connected.", c->pid, c->uid);
        c->broker = b;
        LIST_PREPEND(b->oci_connections, c);
        b->n_oci_connections++;
        TAKE_PTR(c);
        return 0;
}

int oci_start_accepting(Broker *b, int listen_fd) {
        int r;

        assert(b);
        assert(listen_fd >= 0);

        if (b->oci_accept_source)
                return log_error_errno(-EINVAL, "Got a second OCI socket.");
        r = sd_is_socket_unix(listen_fd, SOCK_STREAM, 1, NULL, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to check the OCI socket: %m");
        if (r == 0)
                return log_error_errno(-EINVAL, "The OCI socket is not a listening AF_UNIX stream socket.");
        (void) fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);

        r = sd_event_add_io(b->event, &b->oci_accept_source, listen_fd, EPOLLIN, on_accept, b);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the OCI socket: %m");
        (void) sd_event_source_set_io_fd_own(b->oci_accept_source, true);
        return 0;
}

int oci_listen(const char *path, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;

        assert(path);
        assert(ret_fd);

        if (path[0] != '/' || strlen(path) >= sizeof sa.sun_path)
                return log_error_errno(-EINVAL, "OCI socket path '%s' is not absolute or too long.", path);
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to create the OCI socket: %m");
        /* A socket left by an earlier run is replaced; anything else at the path is not ours to remove. */
        if (lstat(path, &st) >= 0 && S_ISSOCK(st.st_mode))
                (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return log_error_errno(-errno, "Failed to bind the OCI socket '%s': %m", path);
        /* Anyone may connect, as with SocketMode=0666: the runtime's credentials are what polkit judges. */
        if (chmod(path, 0666) < 0)
                return log_error_errno(-errno, "Failed to make the OCI socket '%s' connectable: %m", path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(-errno, "Failed to listen on the OCI socket '%s': %m", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}
