/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listener lifecycle and its D-Bus object. */

#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <time.h>
#include <sys/eventfd.h>

#include "caller.h"
#include "listener.h"
#include "log.h"
#include "persist.h"
#include "polkit.h"
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

        if (l->prev)
                l->prev->next = l->next;
        else if (b->listeners == l)
                b->listeners = l->next;
        if (l->next)
                l->next->prev = l->prev;
        l->next = l->prev = NULL;
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
        safe_close(l->done_fd);
        safe_close(l->fd);
        persist_listener_close(l);
        rule_set_free(l->rules);
        free(l->description);
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

int listener_new(Broker *b, int fd, RuleSet *rules, uid_t owner_uid, uid_t account_uid, pid_t owner_pid,
                 const char *description, bool default_deny, const ListenerRestore *restore, Listener **ret) {
        _cleanup_(listener_freep) Listener *l = NULL;
        pthread_attr_t attr;
        int r;

        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        *l = (Listener) {
                .id = restore ? restore->id : ++b->next_listener_id,
                .owner_uid = owner_uid,
                .account_uid = account_uid,
                .owner_pid = owner_pid,
                .default_deny = default_deny,
                .fd = -EBADF,
                .done_fd = -EBADF,
                .state_fd = -EBADF,
        };
        if (restore) {
                if (broker_find_listener(b, restore->id))
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
        l->description = strdup(strempty(description));
        if (!l->description || asprintf(&l->object_path, BROKER_LISTENER_PATH_PREFIX "/%" PRIu64, l->id) < 0)
                return -ENOMEM;

        l->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->done_fd < 0)
                return -errno;

        r = sd_event_add_io(b->event, &l->done_source, l->done_fd, EPOLLIN, on_listener_done, l);
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
        l->next = b->listeners;
        if (b->listeners)
                b->listeners->prev = l;
        b->listeners = l;

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
        if (sd_event_add_defer(l->broker->event, &l->announce_source, on_announce, l) < 0)
                listener_emit_added(l); /* now, then */
}

void listener_remove(Listener *l, ListenerEnd reason) {
        if (l->removed)
                return;
        /* Gone before it was announced: announce it first, so that every Removed follows its Added. */
        if (l->announce_source)
                on_announce(l->announce_source, l);
        l->removed = true;
        l->broker->n_listeners--;

        log_info("Listener %" PRIu64 " (owner uid %u) removed: %s.", l->id, l->owner_uid,
                 listener_end_to_string(reason));
        /* For good: a restarted daemon must not serve it again. */
        persist_listener_forget(l);
        if (l->broker->listener_removed)
                l->broker->listener_removed(l->broker, l, listener_end_to_string(reason));
        broker_mark_active(l->broker);
        listener_request_stop(l, reason);
}

void listener_free_all(Broker *b) {
        struct timespec deadline;

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

Listener *broker_find_listener(Broker *b, uint64_t id) {
        for (Listener *l = b->listeners; l; l = l->next)
                if (l->id == id && !l->removed)
                        return l;
        return NULL;
}

unsigned broker_count_listeners_of(Broker *b, uid_t account_uid) {
        unsigned n = 0;

        /* Removed ones whose thread still runs count too: they still hold a thread and an fd. */
        for (Listener *l = b->listeners; l; l = l->next)
                if (l->account_uid == account_uid)
                        n++;
        return n;
}

static int listener_id_from_path(const char *path, uint64_t *ret) {
        const char *e = startswith(path, BROKER_LISTENER_PATH_PREFIX "/");
        char *end;
        uint64_t id;

        if (!e || *e < '1' || *e > '9')
                return -ENOENT;
        errno = 0;
        id = strtoull(e, &end, 10);
        if (errno != 0 || *end != 0)
                return -ENOENT;
        *ret = id;
        return 0;
}

/* A listener's rules and owner are its owner's business: others (but root) do not see the object. Unregister
 * is the exception, since it asks polkit (manage) for anyone but the owner; refused, it answers as if the
 * object were not there (on_unregister_authorized()). */
static bool listener_visible_to_caller(Broker *b, sd_bus *bus, const Listener *l) {
        sd_bus_message *m = sd_bus_get_current_message(bus);
        Caller caller;

        if (!m)
                return false;
        if (sd_bus_message_is_method_call(m, BROKER_LISTENER_INTERFACE, "Unregister") > 0)
                return true;
        if (caller_get(b, m, &caller) < 0)
                return false;
        return caller.uid == 0 || caller.uid == l->owner_uid;
}

int listener_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                         sd_bus_error *error) {
        Broker *b = userdata;
        Listener *l;
        uint64_t id;

        if (listener_id_from_path(path, &id) < 0)
                return 0;
        l = broker_find_listener(b, id);
        if (!l || !listener_visible_to_caller(b, bus, l))
                return 0;
        *ret_found = l;
        return 1;
}

int listener_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        Broker *b = userdata;
        char **nodes;
        size_t n = 0;

        nodes = calloc(b->n_listeners + 1, sizeof *nodes);
        if (!nodes)
                return -ENOMEM;
        for (Listener *l = b->listeners; l; l = l->next) {
                if (l->removed || !listener_visible_to_caller(b, bus, l))
                        continue;
                nodes[n] = strdup(l->object_path);
                if (!nodes[n]) {
                        while (n > 0)
                                free(nodes[--n]);
                        free(nodes);
                        return -ENOMEM;
                }
                n++;
        }
        *ret_nodes = nodes;
        return 1;
}

static int property_get_default_action(sd_bus *bus, const char *path, const char *interface, const char *property,
                                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Listener *l = userdata;
        return sd_bus_message_append(reply, "s", l->default_deny ? "deny" : "continue");
}

static int property_get_rules(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Listener *l = userdata;
        return rule_set_append(reply, l->rules);
}

static int property_get_counter(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        uint64_t *counter = userdata; /* sd-bus passed the listener plus the property's offset */
        return sd_bus_message_append(reply, "t", __atomic_load_n(counter, __ATOMIC_RELAXED));
}

static void on_unregister_authorized(PolkitQuery *q, PolkitResult result, const sd_bus_error *error,
                                     void *userdata);

static int method_unregister(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Listener *l = userdata;
        Broker *b = l->broker;
        Caller caller;
        int r;

        broker_mark_active(b);
        r = caller_get(b, m, &caller);
        if (r < 0)
                return r;

        if (caller.uid != l->owner_uid && caller.uid != 0) {
                /* Someone else's listener: only with the manage action. Looked up again by id when polkit
                 * answers, since the listener may be gone by then. */
                r = caller_check_polkit(b, m, &caller, "org.sysbroker.Broker1.manage", NULL, true,
                                      on_unregister_authorized, (void *) (uintptr_t) l->id);
                if (r == -ENOBUFS)
                        return sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                                "Too many authorization checks pending for this user");
                return r;
        }

        log_info("Listener %" PRIu64 " unregistered by uid %u.", l->id, caller.uid);
        listener_remove(l, LISTENER_END_UNREGISTERED);
        return sd_bus_reply_method_return(m, NULL);
}

static void on_unregister_authorized(PolkitQuery *q, PolkitResult result, const sd_bus_error *error,
                                     void *userdata) {
        uint64_t id = (uintptr_t) userdata;
        Listener *l;

        /* Without the manage authorization, whatever polkit's reason (no, a challenge, an error), the listener
         * is not there for the caller: answered exactly as reading it or a listener that does not exist is
         * (sd-bus's words for an object it does not find), so that Unregister does not tell its existence. */
        if (result != POLKIT_YES) {
                sd_bus_message *m = polkit_query_message(q);

                (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_OBJECT, "Unknown object '%s'.",
                                                  sd_bus_message_get_path(m));
                return;
        }
        l = broker_find_listener(polkit_query_broker(q), id);
        if (!l) {
                (void) sd_bus_reply_method_errorf(polkit_query_message(q), SD_BUS_ERROR_UNKNOWN_OBJECT,
                                                  "Listener %" PRIu64 " is gone", id);
                return;
        }
        log_info("Listener %" PRIu64 " unregistered by a manager.", l->id);
        listener_remove(l, LISTENER_END_UNREGISTERED);
        (void) sd_bus_reply_method_return(polkit_query_message(q), NULL);
}

const sd_bus_vtable listener_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "t", NULL, offsetof(Listener, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("OwnerUID", "u", NULL, offsetof(Listener, owner_uid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("OwnerPID", "u", NULL, offsetof(Listener, owner_pid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Description", "s", NULL, offsetof(Listener, description), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DefaultAction", "s", property_get_default_action, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Rules", "aa{sv}", property_get_rules, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        /* Counters change with every notification: no change signals (they would flood the bus). */
        SD_BUS_PROPERTY("Notifications", "t", property_get_counter, offsetof(Listener, counters.notifications), 0),
        SD_BUS_PROPERTY("Emulated", "t", property_get_counter, offsetof(Listener, counters.emulated), 0),
        SD_BUS_PROPERTY("Denied", "t", property_get_counter, offsetof(Listener, counters.denied), 0),
        SD_BUS_PROPERTY("Continued", "t", property_get_counter, offsetof(Listener, counters.continued), 0),
        SD_BUS_PROPERTY("Failed", "t", property_get_counter, offsetof(Listener, counters.failed), 0),
        SD_BUS_METHOD_WITH_ARGS("Unregister", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_unregister,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
