/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* polkit client. */

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>

#include "list.h"
#include "log-limit.h"
#include "log.h"
#include "polkit.h"
#include "seccomp-kernel.h"

typedef struct PolkitUser PolkitUser;

struct PolkitQuery {
        Broker *broker;
        sd_bus_message *call;
        sd_bus_message *check;     /* CheckAuthorization, built at once and sent when its turn comes */
        uint64_t timeout_usec;
        PolkitSubject subject;
        PolkitUser *user;
        char *action;
        polkit_callback_t callback;
        void *userdata;
        sd_bus_slot *slot;
        char cancellation_id[32];
        bool interactive;          /* may show a dialog: one abandoned in flight is cancelled at polkitd */
        bool linked;               /* in the registry's queries (in flight) or its queue */
        bool queued;               /* in its queue */
        PolkitQuery *next, *prev;
};

/* Every check of the daemon: in flight at polkitd, or queued for its turn; and who has how many. */
struct PolkitRegistry {
        unsigned n_queries;              /* of any kind, in flight or queued; idle exit waits for them */
        unsigned n_in_flight;
        PolkitQuery *queries;            /* in flight, to cancel those of a peer that goes away */
        PolkitQuery *queue, *queue_tail; /* waiting for their turn, oldest first */
        PolkitUser *users;               /* what each user has in flight and queued */
        sd_bus_slot *name_watch;         /* NameOwnerChanged, while checks wait: a bus caller that leaves */
        sd_event_source *dispatch_source; /* the queue's turn, after a check in flight was abandoned */
        uint64_t query_serial;           /* for their cancellation ids */
};

/* What one user (account uid) has at polkit. Exists while a query of its exists. */
struct PolkitUser {
        uid_t uid;
        unsigned n_ref;            /* its PolkitQuery objects, counted or not */
        unsigned n_in_flight;
        unsigned n_queued;
        bool answering;            /* in its callback: a check asked now takes the answered one's place */
        PolkitUser *next, *prev;
};

static PolkitUser *polkit_user_get(Broker *b, uid_t uid) {
        PolkitUser *u;

        for (u = b->polkit->users; u; u = u->next)
                if (u->uid == uid)
                        return u;
        u = calloc(1, sizeof *u);
        if (!u)
                return NULL;
        u->uid = uid;
        LIST_PREPEND(b->polkit->users, u);
        return u;
}

static void polkit_user_unref(Broker *b, PolkitUser *u) {
        assert(u->n_ref > 0);
        if (--u->n_ref > 0)
                return;
        LIST_REMOVE(b->polkit->users, u);
        free(u);
}

static unsigned polkit_queue_depth(Broker *b) {
        return b->polkit->n_queries - b->polkit->n_in_flight;
}

/* Takes q off whichever list holds it and gives back what it counted for; its user stays while q exists. */
static void polkit_query_unlink(PolkitQuery *q) {
        Broker *b = q->broker;

        if (!q->linked)
                return;
        if (q->queued) {
                LIST_REMOVE_TAIL(b->polkit->queue, b->polkit->queue_tail, q);
                q->user->n_queued--;
        } else {
                LIST_REMOVE(b->polkit->queries, q);
                q->user->n_in_flight--;
                b->polkit->n_in_flight--;
        }
        b->polkit->n_queries--;
        q->linked = q->queued = false;
        /* Nobody left waiting whose bus name could vanish: stop hearing of every disconnect on the bus. */
        if (!b->polkit->queue)
                b->polkit->name_watch = sd_bus_slot_unref(b->polkit->name_watch);
}

static PolkitQuery *polkit_query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        polkit_query_unlink(q);
        if (q->user)
                polkit_user_unref(q->broker, q->user);
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->check);
        sd_bus_message_unref(q->call);
        polkit_subject_done(&q->subject);
        free(q->action);
        free(q);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(PolkitQuery *, polkit_query_free);

int polkit_registry_new(PolkitRegistry **ret) {
        PolkitRegistry *reg;

        assert(ret);

        reg = calloc(1, sizeof *reg);
        if (!reg)
                return -ENOMEM;
        *ret = reg;
        return 0;
}

PolkitRegistry *polkit_registry_free(PolkitRegistry *reg) {
        if (!reg)
                return NULL;
        /* At exit: what polkit never answered is let go of without an answer (its callbacks' objects are
         * gone already). */
        while (reg->queue)
                polkit_query_free(reg->queue);
        while (reg->queries)
                polkit_query_free(reg->queries);
        reg->name_watch = sd_bus_slot_unref(reg->name_watch);
        sd_event_source_disable_unref(reg->dispatch_source);
        free(reg);
        return NULL;
}

unsigned polkit_registry_pending(const PolkitRegistry *reg) {
        return reg ? reg->n_queries : 0;
}

sd_bus_message *polkit_query_message(PolkitQuery *q) {
        return q->call;
}

Broker *polkit_query_broker(PolkitQuery *q) {
        return q->broker;
}

const char *polkit_query_action(PolkitQuery *q) {
        return q->action;
}

void polkit_subject_done(PolkitSubject *s) {
        s->bus_name = mfree_ptr(s->bus_name);
        s->pidfd = safe_close(s->pidfd);
}

int polkit_subject_copy(const PolkitSubject *from, PolkitSubject *to) {
        *to = (PolkitSubject) {
                .pid = from->pid,
                .start_time = from->start_time,
                .uid = from->uid,
                .account_uid = from->account_uid,
                .pidfd = -EBADF,
        };
        if (from->bus_name) {
                to->bus_name = strdup(from->bus_name);
                if (!to->bus_name)
                        return -ENOMEM;
        }
        if (from->pidfd >= 0) {
                to->pidfd = fcntl(from->pidfd, F_DUPFD_CLOEXEC, 3);
                if (to->pidfd < 0) {
                        polkit_subject_done(to);
                        return -errno;
                }
        }
        return 0;
}

static int append_subject(sd_bus_message *m, const PolkitSubject *s) {
        int r;

        if (s->bus_name)
                return sd_bus_message_append(m, "(sa{sv})", "system-bus-name", 1, "name", "s", s->bus_name);

        /* polkit 122 understands pid, start-time and uid for unix-process; not pidfd. */
        r = sd_bus_message_append(m, "(sa{sv})", "unix-process", 3,
                                  "pid", "u", (uint32_t) s->pid,
                                  "start-time", "t", s->start_time,
                                  "uid", "i", (int32_t) s->uid);
        return r;
}

/* Errors that mean polkit gave no answer at all (not running, not activatable, too slow): nothing was decided,
 * and the caller may ask again. Any other error is polkit's own, and a "no". */
static bool error_is_no_answer(const sd_bus_error *e) {
        return sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT,
                                      "org.freedesktop.DBus.Error.TimedOut", SD_BUS_ERROR_SERVICE_UNKNOWN,
                                      SD_BUS_ERROR_NAME_HAS_NO_OWNER, SD_BUS_ERROR_DISCONNECTED) ||
                (e->name && startswith(e->name, "org.freedesktop.DBus.Error.Spawn."));
}

static void polkit_dispatch(Broker *b);

static int on_check_authorization_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(polkit_query_freep) PolkitQuery *q = userdata;
        Broker *b = q->broker;
        const sd_bus_error *e;
        PolkitResult result = POLKIT_ERROR;
        int authorized, challenge, r;

        /* Its place at polkit goes to the next in the queue once the callback is done with it. */
        polkit_query_unlink(q);
        broker_mark_active(b);
        q->slot = sd_bus_slot_unref(q->slot);

        e = sd_bus_message_get_error(reply);
        if (e) {
                result = error_is_no_answer(e) ? POLKIT_NO_ANSWER : POLKIT_ERROR;
                log_warning("polkit check of '%s' failed%s: %s: %s", q->action,
                            result == POLKIT_NO_ANSWER ? ", polkit did not answer" : "", e->name,
                            strempty(e->message));
                q->user->answering = true;
                q->callback(q, result, e, q->userdata);
                q->user->answering = false;
                goto next;
        }

        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
                log_warning_errno(r, "polkit sent an unreadable answer for '%s': %m", q->action);
                sd_bus_error_set_errnof(&err, r, "polkit sent an unreadable answer");
                q->user->answering = true;
                q->callback(q, POLKIT_ERROR, &err, q->userdata);
                q->user->answering = false;
                goto next;
        }

        result = authorized ? POLKIT_YES : challenge ? POLKIT_CHALLENGE : POLKIT_NO;

        /* A process subject is a pid: make sure the answer is about the process that asked. */
        if (result == POLKIT_YES && q->subject.pidfd >= 0 &&
            pidfd_process_is_gone(q->subject.pidfd)) {
                log_warning("Caller pid %i went away during the polkit check of '%s', denying.",
                            q->subject.pid, q->action);
                result = POLKIT_NO;
        }

        log_debug("polkit: %s for '%s'.", result == POLKIT_YES ? "yes" : result == POLKIT_CHALLENGE ? "challenge" : "no",
                  q->action);
        /* A registration's next check goes behind the user's checks that came before it, but is never
         * refused for a full queue: it takes the place of this one. */
        q->user->answering = true;
        q->callback(q, result, NULL, q->userdata);
        q->user->answering = false;
next:
        polkit_dispatch(b);
        return 0;
}

static int polkit_query_send(PolkitQuery *q) {
        Broker *b = q->broker;
        int r;

        /* Whether its caller is still there (on_name_watch_installed()) no longer matters. */
        q->slot = sd_bus_slot_unref(q->slot);
        r = sd_bus_call_async(b->system_bus, &q->slot, q->check, on_check_authorization_reply, q,
                              q->timeout_usec);
        if (r < 0)
                return r;

        LIST_PREPEND(b->polkit->queries, q);
        q->linked = true;
        q->user->n_in_flight++;
        b->polkit->n_in_flight++;
        b->polkit->n_queries++;

        /* The count in flight is what a test of the bound reads: polkitd itself shows nothing. */
        if (q->subject.bus_name)
                log_debug("polkit: checking '%s' for bus name %s (uid %u), in flight for uid %u: %u, queued: %u.",
                          q->action, q->subject.bus_name, q->subject.uid, q->user->uid, q->user->n_in_flight,
                          q->user->n_queued);
        else
                log_debug("polkit: checking '%s' for pid %i (uid %u), in flight for uid %u: %u, queued: %u.",
                          q->action, q->subject.pid, q->subject.uid, q->user->uid, q->user->n_in_flight,
                          q->user->n_queued);
        return 0;
}

/* The user with the fewest checks in flight goes first, so that one user's queue does not delay another's
 * checks; among a user's own checks the oldest goes first. */
static PolkitQuery *polkit_queue_next(Broker *b) {
        PolkitQuery *best = NULL;

        if (b->polkit->n_in_flight >= POLKIT_MAX_QUERIES)
                return NULL;
        for (PolkitQuery *q = b->polkit->queue; q; q = q->next) {
                if (q->user->n_in_flight >= POLKIT_MAX_QUERIES_PER_USER)
                        continue;
                if (!best || q->user->n_in_flight < best->user->n_in_flight)
                        best = q;
                if (best->user->n_in_flight == 0)
                        break;
        }
        return best;
}

static void polkit_dispatch(Broker *b) {
        PolkitQuery *q;

        while ((q = polkit_queue_next(b))) {
                _cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
                int r;

                polkit_query_unlink(q);
                r = polkit_query_send(q);
                if (r >= 0)
                        continue;

                log_warning_errno(r, "Failed to ask polkit about '%s': %m", q->action);
                (void) sd_bus_error_set_errnof(&err, r, "Failed to ask polkit: %m");
                q->callback(q, POLKIT_ERROR, &err, q->userdata);
                polkit_query_free(q);
        }
}

static void polkit_query_enqueue(PolkitQuery *q) {
        Broker *b = q->broker;

        LIST_APPEND_TAIL(b->polkit->queue, b->polkit->queue_tail, q);
        q->linked = q->queued = true;
        q->user->n_queued++;
        b->polkit->n_queries++;
}

/* A queued check of a caller that left the bus is dropped before polkit is asked. (One in flight is polkit's
 * to notice.) */
static void polkit_drop_queued(Broker *b, bool (*gone)(PolkitQuery *q, const void *userdata),
                               const void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;

        (void) sd_bus_error_set(&err, SD_BUS_ERROR_DISCONNECTED, "the caller disconnected");
        for (PolkitQuery *q = b->polkit->queue; q; ) {
                if (!gone(q, userdata)) {
                        q = q->next;
                        continue;
                }
                log_debug("polkit: dropped the queued check of '%s' for uid %u, whose caller went away.",
                          q->action, q->subject.uid);
                polkit_query_unlink(q);
                /* Its owner lets go of what waited for the answer; the callback may change the queue. */
                q->callback(q, POLKIT_ERROR, &err, q->userdata);
                polkit_query_free(q);
                q = b->polkit->queue;
        }
}

static bool query_is_of_bus_name(PolkitQuery *q, const void *name) {
        return sd_bus_message_get_bus(q->call) == q->broker->system_bus && q->subject.bus_name &&
                streq(q->subject.bus_name, name);
}

static bool query_is_on_bus(PolkitQuery *q, const void *bus) {
        return sd_bus_message_get_bus(q->call) == bus;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Broker *b = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !new_owner || new_owner[0])
                return 0;
        polkit_drop_queued(b, query_is_of_bus_name, name);
        return 0;
}

static int on_name_owner_checked(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        Broker *b = q->broker;
        _cleanup_free_ char *name = NULL;

        q->slot = sd_bus_slot_unref(q->slot);
        if (!sd_bus_error_has_name(sd_bus_message_get_error(reply), SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                return 0;
        /* q goes with the others of that name. */
        name = strdup(q->subject.bus_name);
        if (!name)
                return log_oom();
        polkit_drop_queued(b, query_is_of_bus_name, name);
        return 0;
}

/* The match is in effect from now on; a caller that left before is not heard of: ask about each waiting. */
static int on_name_watch_installed(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Broker *b = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int r;

        if (e) {
                log_warning("Failed to watch for callers leaving the bus, their queued polkit checks are asked "
                            "anyway: %s: %s", e->name, strempty(e->message));
                return 0;
        }
        for (PolkitQuery *q = b->polkit->queue; q; q = q->next) {
                if (!q->subject.bus_name || q->slot)
                        continue;
                r = sd_bus_call_method_async(b->system_bus, &q->slot, "org.freedesktop.DBus",
                                             "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                                             on_name_owner_checked, q, "s", q->subject.bus_name);
                if (r < 0)
                        log_debug_errno(r, "Failed to ask whether %s is still there, ignoring: %m",
                                        q->subject.bus_name);
        }
        return 0;
}

static int polkit_watch_names(Broker *b) {
        int r;

        if (b->polkit->name_watch)
                return 0;
        /* Only names that go away (no new owner); unique names are never taken over. */
        r = sd_bus_add_match_async(b->system_bus, &b->polkit->name_watch,
                                   "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                   "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg2=''",
                                   on_name_owner_changed, on_name_watch_installed, b);
        return r < 0 ? log_warning_errno(r, "Failed to watch for callers leaving the bus: %m") : 0;
}

int polkit_check(Broker *b, sd_bus_message *call, const PolkitSubject *subject, const char *action,
                 const char *const *details, bool may_interact, polkit_callback_t callback, void *userdata,
                 PolkitQuery **ret_query) {
        _cleanup_(polkit_query_freep) PolkitQuery *q = NULL;
        int interactive = may_interact && sd_bus_message_get_allow_interactive_authorization(call) > 0;
        PolkitUser *u;
        int r;

        assert(b);
        assert(call);
        assert(subject);
        assert(action);
        assert(callback);

        q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->subject = POLKIT_SUBJECT_NULL;
        q->broker = b;
        q->call = sd_bus_message_ref(call);
        q->callback = callback;
        q->userdata = userdata;
        q->action = strdup(action);
        if (!q->action)
                return -ENOMEM;
        r = polkit_subject_copy(subject, &q->subject);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(b->system_bus, &q->check, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = append_subject(q->check, subject);
        if (r < 0)
                return r;
        r = sd_bus_message_append(q->check, "s", action);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(q->check, 'a', "{ss}");
        if (r < 0)
                return r;
        for (const char *const *d = details; d && d[0] && d[1]; d += 2) {
                r = sd_bus_message_append(q->check, "{ss}", d[0], d[1]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(q->check);
        if (r < 0)
                return r;
        snprintf(q->cancellation_id, sizeof q->cancellation_id, "sysbroker-%" PRIu64, ++b->polkit->query_serial);
        q->interactive = interactive;
        r = sd_bus_message_append(q->check, "us", (uint32_t) interactive, q->cancellation_id);
        if (r < 0)
                return r;
        /* Interactive authentication waits for a human, though less than the 5 minutes libsysbroker gives
         * the call, so the caller hears that polkit did not answer; otherwise polkit answers at once, or is
         * not well. */
        q->timeout_usec = interactive ? MAX(UINT64_C(280) * USEC_PER_SEC, b->limits.polkit_timeout_usec) :
                b->limits.polkit_timeout_usec;

        u = polkit_user_get(b, subject->account_uid);
        if (!u)
                return -ENOMEM;
        u->n_ref++;
        q->user = u;

        /* Nothing of this user's waits (others' may, at their own bound) and there is room: its turn is now. */
        if (u->n_in_flight < POLKIT_MAX_QUERIES_PER_USER && u->n_queued == 0 &&
            b->polkit->n_in_flight < POLKIT_MAX_QUERIES) {
                r = polkit_query_send(q);
                if (r < 0)
                        return r;
                if (ret_query)
                        *ret_query = q;
                TAKE_PTR(q);
                return 1;
        }

        /* The queue is the user's to fill, up to as many checks as it may hold listeners. */
        if (u->n_queued >= b->limits.max_listeners_per_user + u->answering ||
            polkit_queue_depth(b) >= b->limits.max_listeners + u->answering) {
                if (log_limit_owner_admit(subject->account_uid, 1))
                        log_warning("Too many polkit checks queued for uid %u, refusing another.",
                                    subject->account_uid);
                return -ENOBUFS;
        }
        if (subject->bus_name) {
                r = polkit_watch_names(b);
                if (r < 0)
                        return r;
        }
        polkit_query_enqueue(q);
        log_debug("polkit: queued '%s' for uid %u, in flight for it: %u, queued: %u.", action, u->uid,
                  u->n_in_flight, u->n_queued);
        if (ret_query)
                *ret_query = q;
        TAKE_PTR(q);
        return 1;
}

static int on_dispatch(sd_event_source *s, void *userdata) {
        Broker *b = userdata;

        b->polkit->dispatch_source = sd_event_source_disable_unref(b->polkit->dispatch_source);
        polkit_dispatch(b);
        return 0;
}

void polkit_query_abandon(PolkitQuery *q) {
        Broker *b;
        bool in_flight;
        int r;

        if (!q)
                return;
        b = q->broker;
        in_flight = q->linked && !q->queued;
        if (in_flight && q->interactive)
                /* Its dialog would ask a human about something already decided. No answer wanted. */
                (void) sd_bus_call_method_async(b->system_bus, NULL, "org.freedesktop.PolicyKit1",
                                                "/org/freedesktop/PolicyKit1/Authority",
                                                "org.freedesktop.PolicyKit1.Authority", "CancelCheckAuthorization",
                                                NULL, NULL, "s", q->cancellation_id);
        log_debug("polkit: abandoned the %s check of '%s' for uid %u.", in_flight ? "pending" : "queued",
                  q->action, q->subject.uid);
        polkit_query_free(q);
        if (!in_flight || b->polkit->dispatch_source)
                return;
        /* Its place goes to the next in the queue, from the event loop: the caller is amid its own freeing,
         * and a check that cannot be sent is answered through its callback. */
        r = sd_event_add_defer(b->event, &b->polkit->dispatch_source, on_dispatch, b);
        if (r == -ESTALE)
                return;    /* the loop has finished: the daemon exits, nothing more is asked */
        if (r < 0) {
                log_warning_errno(r, "Failed to schedule the polkit queue, serving it now: %m");
                polkit_dispatch(b);
        }
}

bool polkit_has_room(Broker *b, uid_t account_uid) {
        unsigned n_in_flight = 0, n_queued = 0;

        for (PolkitUser *u = b->polkit->users; u; u = u->next)
                if (u->uid == account_uid) {
                        n_in_flight = u->n_in_flight;
                        n_queued = u->n_queued;
                        break;
                }
        /* The same test as polkit_check()'s for sending at once. */
        return n_in_flight < POLKIT_MAX_QUERIES_PER_USER && n_queued == 0 &&
                b->polkit->n_in_flight < POLKIT_MAX_QUERIES;
}

void polkit_cancel_for_bus(Broker *b, sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error gone = SD_BUS_ERROR_NULL;

        assert(b);
        assert(bus);

        /* Queued ones first, so that the in-flight ones cancelled below make no room for them. */
        polkit_drop_queued(b, query_is_on_bus, bus);

        (void) sd_bus_error_set(&gone, SD_BUS_ERROR_DISCONNECTED, "the caller disconnected");
        for (PolkitQuery *q = b->polkit->queries; q; ) {
                if (sd_bus_message_get_bus(q->call) != bus) {
                        q = q->next;
                        continue;
                }
                /* A dialog nobody waits for any more: polkit takes it down. No answer wanted. */
                (void) sd_bus_call_method_async(b->system_bus, NULL, "org.freedesktop.PolicyKit1",
                                                "/org/freedesktop/PolicyKit1/Authority",
                                                "org.freedesktop.PolicyKit1.Authority", "CancelCheckAuthorization",
                                                NULL, NULL, "s", q->cancellation_id);
                log_debug("polkit: cancelled '%s' for pid %i, which disconnected.", q->action, q->subject.pid);
                polkit_query_unlink(q);
                q->slot = sd_bus_slot_unref(q->slot);
                /* Its owner lets go of what waited for the answer; the callback may change the list. */
                q->callback(q, POLKIT_ERROR, &gone, q->userdata);
                polkit_query_free(q);
                q = b->polkit->queries;
        }
        polkit_dispatch(b);
}

int polkit_reply_denied(sd_bus_message *call, PolkitResult result, const sd_bus_error *error,
                        const char *format, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;
        int r;

        assert(call);
        assert(format);

        va_start(ap, format);
        r = vasprintf(&what, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        switch (result) {
        case POLKIT_CHALLENGE:
                return sd_bus_reply_method_errorf(call, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                                  "%s: interactive authentication required", what);
        case POLKIT_NO_ANSWER:
                return sd_bus_reply_method_errorf(call, SD_BUS_ERROR_TIMEOUT,
                                                  "%s: polkit did not answer (%s); nothing was decided, "
                                                  "try again",
                                                  what, error && error->message ? error->message : "no reply");
        case POLKIT_ERROR:
                return sd_bus_reply_method_errorf(call, SD_BUS_ERROR_ACCESS_DENIED,
                                                  "%s: Authorization check failed: %s", what,
                                                  error && error->message ? error->message : "polkit is not available");
        case POLKIT_NO:
        case POLKIT_YES:
        default:
                return sd_bus_reply_method_errorf(call, SD_BUS_ERROR_ACCESS_DENIED, "%s", what);
        }
}
