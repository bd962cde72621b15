/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listener lifecycle: creation, the thread's start and end, the watchdog that interrupts stuck calls, removal. */

#include <assert.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <time.h>
#include <sys/eventfd.h>

#include "fs-util.h"
#include "host-path.h"
#include "list.h"
#include "listener.h"
#include "log.h"
#include "message-id.h"
#include "persist.h"
#include "seccomp-kernel.h"
#include "supervise.h"

/* Listener threads need little stack: no recursion, PATH_MAX buffers at most. */
#define LISTENER_THREAD_STACK (256 * 1024)

static const char *const listener_end_table[_LISTENER_END_MAX] = {
        [LISTENER_END_NONE] = "none",
        [LISTENER_END_UNREGISTERED] = "unregistered",
        [LISTENER_END_EXITED] = "exited",
        [LISTENER_END_ERROR] = "error",
};

const char *listener_end_to_string(ListenerEnd e) {
        return e < _LISTENER_END_MAX ? listener_end_table[e] : "error";
}

static void listener_unlink(Listener *l) {
        Broker *b = l->broker;

        LIST_REMOVE(b->listeners, l);
}

/* Whether a call in progress may be cut short at shutdown. Not when the service manager keeps the listener:
 * the next daemon finds the call in the state page and does it (a restart loses no call); interrupted, the
 * sandbox would get EINTR from a FIFO's open. A listener nobody keeps is closed at exit: the kernel would
 * answer ENOSYS, so an interrupted call's EINTR is the better answer. */
static bool shutdown_interrupts_call_of(const Listener *l) {
        return !(l->stored && !l->removed);
}

/* Frees l once its thread ended, waiting until deadline at most. */
static Listener *listener_free_until(Listener *l, const struct timespec *deadline) {
        if (!l)
                return NULL;

        if (l->thread_running) {
                /* Only at shutdown. A thread still in a call by the deadline (a FIFO's open left to the next
                 * daemon, a hard NFS mount) is left behind rather than hang the exit. */
                listener_request_stop(l, LISTENER_END_UNREGISTERED);
                supervise_wake_for_stop(l, shutdown_interrupts_call_of(l));
                if (pthread_timedjoin_np(l->thread, NULL, deadline) != 0) {
                        log_warning("Listener %" PRIu64 ": its thread is still in a call, leaving it%s.", l->id,
                                    shutdown_interrupts_call_of(l) ? "" : " to the next daemon");
                        (void) pthread_detach(l->thread);
                        /* It still uses the listener: leave the struct to it, the process is going away. */
                        if (l->broker)
                                listener_unlink(l);
                        return NULL;
                }
        }
        if (l->broker)
                listener_unlink(l);
        sd_event_source_disable_unref(l->done_source);
        sd_event_source_disable_unref(l->hup_source);
        sd_event_source_disable_unref(l->announce_source);
        sd_event_source_disable_unref(l->refused_source);
        safe_close(l->done_fd);
        safe_close(l->refused_fd);
        for (size_t i = 0; i < l->n_refusals; i++)
                listener_refusal_done(&l->refusals[i]);
        pthread_mutex_destroy(&l->refusals_lock);
        sd_bus_unref(l->owner_bus);
        free(l->owner_bus_name);
        safe_close(l->fd);
        persist_listener_close(l);
        rule_set_free(l->rules);
        free(l->description);
        free(l->root);
        safe_close(l->root_fd);
        free(l->owner_groups);
        free(l->object_path);
        free(l);
        return NULL;
}

static struct timespec shutdown_deadline(void) {
        struct timespec deadline;

        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 2;
        return deadline;
}

Listener *listener_free(Listener *l) {
        struct timespec deadline = shutdown_deadline();

        return listener_free_until(l, &deadline);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Listener *, listener_free);

/* The thread queued refusals for the owner: taken under the lock, told after it (the thread never waits for
 * the bus). Dispatched before the bus's own sources (SD_EVENT_PRIORITY_IMPORTANT): a refusal queued before the
 * trapped call was answered is sent before anything the owner asks after that. */
static int on_listener_refused(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ListenerRefusal taken[LISTENER_REFUSALS_MAX];
        Listener *l = userdata;
        uint64_t n;
        size_t k;

        (void) !read(fd, &n, sizeof n);
        pthread_mutex_lock(&l->refusals_lock);
        k = l->n_refusals;
        memcpy(taken, l->refusals, k * sizeof *taken);
        l->n_refusals = 0;
        pthread_mutex_unlock(&l->refusals_lock);

        for (size_t i = 0; i < k; i++) {
                if (!l->removed && l->broker->listener_refused)
                        l->broker->listener_refused(l->broker, l, &taken[i]);
                listener_refusal_done(&taken[i]);
        }
        return 0;
}

int listener_set_owner_bus(Listener *l, sd_bus_message *message) {
        const char *sender = sd_bus_message_get_sender(message);

        assert(l);
        assert(!l->owner_bus);

        /* The reference keeps a closed peer-to-peer connection's bus from being freed, so that its address is
         * never another connection's: whether it is still connected is asked when a refusal is sent. */
        if (sender) {
                l->owner_bus_name = strdup(sender);
                if (!l->owner_bus_name)
                        return -ENOMEM;
        }
        l->owner_bus = sd_bus_ref(sd_bus_message_get_bus(message));
        return 0;
}

static int on_listener_hup(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Listener *l = userdata;

        /* Every task of the sandbox is gone. Before Linux 6.11 the thread's RECV would never return: wake it
         * (later kernels end it with ENOENT, and the thread stops by itself). */
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        listener_request_stop(l, LISTENER_END_EXITED);
        return 0;
}

static int on_listener_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Listener *l = userdata;
        ListenerEnd end;

        (void) pthread_join(l->thread, NULL);
        l->thread_running = false;

        end = __atomic_load_n(&l->end, __ATOMIC_ACQUIRE);
        if (!l->removed)
                listener_remove(l, end);
        log_debug("Listener %" PRIu64 " ended (%s).", l->id, listener_end_to_string(end));
        listener_free(l);
        return 0;
}

static uint64_t monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static int broker_start_watchdog(Broker *b);

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        Broker *b = userdata;
        /* The same clock the threads stamp busy_since_usec with. */
        uint64_t now = monotonic_usec();

        for (Listener *l = b->listeners; l; l = l->next)
                supervise_watchdog(l, now);

        /* Only while there is something to watch: an idle daemon sleeps, once it said what the owners' log
         * limits held back. */
        supervise_log_flush(!b->listeners);
        if (!b->listeners)
                return 0;
        return broker_start_watchdog(b);
}

static int broker_start_watchdog(Broker *b) {
        int r;

        if (!b->watchdog_source)
                return sd_event_add_time_relative(b->event, &b->watchdog_source, CLOCK_MONOTONIC, USEC_PER_SEC,
                                                  USEC_PER_SEC / 10, on_watchdog, b);
        r = sd_event_source_set_time_relative(b->watchdog_source, USEC_PER_SEC);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(b->watchdog_source, SD_EVENT_ONESHOT);
}

/* The groups a HostPath open of this listener runs with: the owner's as the user database has them. Looked
 * up once, here on the main loop, where the root is the broker's own (a listener thread is chrooted into
 * sandboxes' roots, whose /etc it must not read), and the same way for a registration and for a restore after
 * a restart, so the state file needs no field for them. The registrant's own groups at registration are not
 * taken: a client may have dropped or added groups for itself, and a rule is the owner's, not one process's.
 * An owner unknown to the database gets nogroup and no supplementary groups: nothing more than any user. */
static int listener_lookup_owner_groups(Listener *l) {
        _cleanup_free_ char *buffer = NULL;
        struct passwd pw, *found = NULL;
        size_t size = 16384;
        int n = 64, r;

        l->owner_gid = 65534;
        for (;;) {
                free(buffer);
                buffer = malloc(size);
                if (!buffer)
                        return -ENOMEM;
                r = getpwuid_r(l->owner_uid, &pw, buffer, size, &found);
                if (r != ERANGE || size >= 1024 * 1024)
                        break;
                size *= 2;
        }
        if (r != 0 || !found) {
                log_debug("Listener owner uid %u is not in the user database: HostPath opens get gid 65534 and no "
                          "supplementary groups.", l->owner_uid);
                return 0;
        }
        l->owner_gid = found->pw_gid;
        for (;;) {
                gid_t *groups = reallocarray(l->owner_groups, (size_t) n, sizeof *groups);
                int m = n;

                if (!groups)
                        return -ENOMEM;
                l->owner_groups = groups;
                if (getgrouplist(found->pw_name, found->pw_gid, groups, &m) >= 0) {
                        l->n_owner_groups = (size_t) m;
                        return 0;
                }
                if (m <= n || m > 65536)
                        return -E2BIG;
                n = m;
        }
}

/* The sandbox's root (listener_new()): opened once, here on the main loop in the broker's view with the broker's
 * credentials, safely: a symlink a user planted on the way must not make another directory the sandbox's "/".
 * The broker's own root is kept as none, so that its checks take the fast paths they always did. */
static int listener_open_root(Listener *l, const char *root) {
        _cleanup_close_ int fd = -EBADF;
        HostPathUnsafe unsafe = {};
        struct stat st, own;
        int r;

        if (!root)
                return 0;
        /* On the main loop, and at a restart's restore too: a FUSE mount its owner put there since (on a
         * directory of theirs) must not hold the loop with a lookup its server never answers. */
        r = path_under_fuse_mount(root);
        if (r != 0)
                return log_error_errno(r < 0 ? r : -EREMOTE, "Listener root '%s' is on a FUSE mount, or the mount "
                                       "table cannot be read.", root);
        r = host_path_open(root, 0, &fd, &unsafe);
        if (r == -ENOLINK)
                return log_error_errno(r, "Listener root '%s' leads through an unsafe symlink at '%s' (owned by "
                                       "uid %u, in a directory of uid %u, mode %04o).", root, unsafe.path,
                                       unsafe.uid, unsafe.dir_uid, (unsigned) unsafe.dir_mode);
        if (r < 0)
                return log_error_errno(r, "Failed to open listener root '%s': %m", root);
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(-ENOTDIR, "Listener root '%s' is not a directory.", root);
        /* Checked again on what is opened here: oci.c looked before polkit answered (a restored listener: before
         * the restart), and the owner may have renamed another directory, one not its own, to this path since. */
        if (l->owner_uid != 0 && st.st_uid != l->owner_uid)
                return log_error_errno(-EPERM, "Listener root '%s' belongs to uid %u, not to the listener's owner "
                                       "uid %u (replaced since it was checked?), refusing.", root, st.st_uid,
                                       l->owner_uid);
        if (fstat(broker_root_dir(), &own) >= 0 && own.st_dev == st.st_dev && own.st_ino == st.st_ino)
                return 0;
        l->root = strdup(root);
        if (!l->root)
                return -ENOMEM;
        l->root_fd = TAKE_FD(fd);
        return 0;
}

static uint64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

int listener_new(Broker *b, int fd, RuleSet *rules, uid_t owner_uid, uid_t account_uid, pid_t owner_pid,
                 const char *description, bool default_deny, const char *root, const ListenerRestore *restore,
                 Listener **ret) {
        _cleanup_(listener_freep) Listener *l = NULL;
        pthread_attr_t attr;
        int r;

        assert(b);
        assert(fd >= 0);
        assert(rules);
        assert(ret);

        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        *l = (Listener) {
                .id = restore ? restore->id : ++b->next_listener_id,
                .owner_uid = owner_uid,
                .account_uid = account_uid,
                .owner_pid = owner_pid,
                .registered_usec = restore && restore->registered_usec > 0 ? restore->registered_usec :
                                   realtime_usec(),
                .default_deny = default_deny,
                .fd = -EBADF,
                .done_fd = -EBADF,
                .refused_fd = -EBADF,
                .state_fd = -EBADF,
                .root_fd = -EBADF,
        };
        pthread_mutex_init(&l->refusals_lock, NULL);
        if (restore) {
                if (listener_find(b, restore->id))
                        return -EEXIST;
                b->next_listener_id = MAX(b->next_listener_id, restore->id);
                memcpy(l->mounts, restore->mounts, MIN(restore->n_mounts, LISTENER_MOUNTS_MAX) * sizeof *l->mounts);
                l->n_mounts = MIN(restore->n_mounts, LISTENER_MOUNTS_MAX);
        }
        if (rule_set_has_open_host(rules)) {
                r = listener_lookup_owner_groups(l);
                if (r < 0)
                        return log_error_errno(r, "Failed to look up the groups of uid %u: %m", owner_uid);
        }
        r = listener_open_root(l, root);
        if (r < 0)
                return r;
        l->description = strdup(strempty(description));
        if (!l->description || asprintf(&l->object_path, BROKER_LISTENER_PATH_PREFIX "/%" PRIu64, l->id) < 0)
                return -ENOMEM;

        l->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->done_fd < 0)
                return -errno;

        r = sd_event_add_io(b->event, &l->done_source, l->done_fd, EPOLLIN, on_listener_done, l);
        if (r < 0)
                return r;

        l->refused_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->refused_fd < 0)
                return -errno;
        r = sd_event_add_io(b->event, &l->refused_source, l->refused_fd, EPOLLIN, on_listener_refused, l);
        if (r < 0)
                return r;
        r = sd_event_source_set_priority(l->refused_source, SD_EVENT_PRIORITY_IMPORTANT);
        if (r < 0)
                return r;

        /* The fast path: wake the supervising thread on the CPU the target runs on (6.6+). */
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0 && errno != EINVAL)
                log_debug_errno(-errno, "Failed to set SYNC_WAKE_UP on listener, ignoring: %m");

        /* Events 0: epoll reports only EPOLLHUP and EPOLLERR, never the EPOLLIN of each notification, which
         * is the thread's business. */
        r = sd_event_add_io(b->event, &l->hup_source, fd, 0, on_listener_hup, l);
        if (r < 0)
                return r;

        /* Under a service manager that keeps fds for us, the listener survives our restarts. Its state must
         * be complete before the thread starts writing to it. */
        l->rules = rules;
        if (persist_enabled() || restore) {
                r = persist_listener_create(l, b->system_bus, restore ? restore->state_fd : -EBADF);
                if (r < 0) {
                        if (restore)
                                l->state_fd = -EBADF; /* not taken after all */
                        l->rules = NULL;
                        return log_error_errno(r, "Failed to set up the listener's state: %m");
                }
        }

        /* From here on the listener owns fd and rules; nothing below can fail except starting the thread. */
        l->fd = fd;
        l->broker = b;
        LIST_PREPEND(b->listeners, l);

        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, LISTENER_THREAD_STACK);
        r = -pthread_create(&l->thread, &attr, listener_thread, l);
        pthread_attr_destroy(&attr);
        if (r < 0) {
                l->fd = -EBADF; /* ownership not taken after all */
                l->rules = NULL;
                if (restore)
                        l->state_fd = -EBADF;
                return r;
        }
        l->thread_running = true;
        b->n_listeners++;

        r = broker_start_watchdog(b);
        if (r < 0)
                log_warning_errno(r, "Failed to start the watchdog for stuck calls, ignoring: %m");

        *ret = TAKE_PTR(l);
        return 0;
}

void listener_request_stop(Listener *l, ListenerEnd reason) {
        ListenerEnd none = LISTENER_END_NONE;

        assert(l);

        /* The first reason counts. A thread sleeping in RECV is woken by a signal (EINTR); the watchdog
         * repeats it every second in case it came just before the thread went to sleep. */
        (void) __atomic_compare_exchange_n(&l->stop, &none, reason, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        supervise_wake_for_stop(l, false);
}

/* Through the hook the bus objects registered (Broker.listener_added): they are above us. */
static void listener_emit_added(Listener *l) {
        if (l->broker->listener_added)
                l->broker->listener_added(l->broker, l);
}

static int on_announce(sd_event_source *s, void *userdata) {
        Listener *l = userdata;

        l->announce_source = sd_event_source_disable_unref(l->announce_source);
        listener_emit_added(l);
        return 0;
}

void listener_announce(Listener *l) {
        assert(l);

        if (sd_event_add_defer(l->broker->event, &l->announce_source, on_announce, l) < 0)
                listener_emit_added(l); /* now, then */
}

size_t listener_log_fields(const Listener *l, char id[static 64], char owner[static 64], char **description,
                           const char **fields) {
        size_t n = 0;

        snprintf(id, 64, "SYSBROKER_LISTENER=%" PRIu64, l->id);
        fields[n++] = id;
        snprintf(owner, 64, "SYSBROKER_OWNER_UID=%u", l->owner_uid);
        fields[n++] = owner;
        *description = NULL;
        if (l->description && l->description[0] &&
            asprintf(description, "SYSBROKER_DESCRIPTION=%s", l->description) >= 0)
                fields[n++] = *description;
        return n;
}

void listener_log(const Listener *l, int level, const char *message_id, const char *const *extra,
                  const char *format, ...) {
        char id[64], owner[64], message[2048];
        _cleanup_free_ char *description = NULL, *mid = NULL;
        const char *fields[16];
        size_t n = 0;
        va_list ap;

        assert(l);
        assert(message_id);

        if (level > log_get_max_level())
                return;
        if (asprintf(&mid, "MESSAGE_ID=%s", message_id) >= 0)
                fields[n++] = mid;
        n += listener_log_fields(l, id, owner, &description, fields + n);
        for (const char *const *e = extra; e && *e && n < ELEMENTSOF(fields) - 1; e++)
                fields[n++] = *e;
        fields[n] = NULL;

        va_start(ap, format);
        (void) vsnprintf(message, sizeof message, format, ap);
        va_end(ap);
        log_struct(level, fields, message);
}

void listener_remove(Listener *l, ListenerEnd reason) {
        char reason_field[64];

        assert(l);

        if (l->removed)
                return;
        /* Gone before it was announced: announce it first, so that every Removed follows its Added. */
        if (l->announce_source)
                on_announce(l->announce_source, l);
        l->removed = true;
        l->broker->n_listeners--;

        snprintf(reason_field, sizeof reason_field, "SYSBROKER_REASON=%s", listener_end_to_string(reason));
        listener_log(l, LOG_INFO, SB_MESSAGE_LISTENER_REMOVED, LOG_FIELDS(reason_field), "Listener %" PRIu64 " (owner uid %u) removed: %s.", l->id,
                     l->owner_uid, listener_end_to_string(reason));
        /* For good: a restarted daemon must not serve it again. */
        persist_listener_forget(l);
        if (l->broker->listener_removed)
                l->broker->listener_removed(l->broker, l, listener_end_to_string(reason));
        broker_mark_active(l->broker);
        listener_request_stop(l, reason);
}

void listener_free_all(Broker *b) {
        struct timespec deadline;

        assert(b);

        /* Every thread asked (and interrupted, where it may be) first, so that they end together, within one
         * deadline for all. */
        for (Listener *l = b->listeners; l; l = l->next)
                if (l->thread_running) {
                        listener_request_stop(l, LISTENER_END_UNREGISTERED);
                        supervise_wake_for_stop(l, shutdown_interrupts_call_of(l));
                }
        deadline = shutdown_deadline();
        while (b->listeners)
                listener_free_until(b->listeners, &deadline);
        supervise_log_flush(true);
}

Listener *listener_find(Broker *b, uint64_t id) {
        assert(b);

        for (Listener *l = b->listeners; l; l = l->next)
                if (l->id == id && !l->removed)
                        return l;
        return NULL;
}

unsigned listener_count_of(Broker *b, uid_t account_uid) {
        unsigned n = 0;

        assert(b);

        /* Removed ones whose thread still runs count too: they still hold a thread and an fd. */
        for (Listener *l = b->listeners; l; l = l->next)
                if (l->account_uid == account_uid)
                        n++;
        return n;
}
