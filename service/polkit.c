/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* polkit client. */

#include <fcntl.h>
#include <inttypes.h>

#include "log.h"
#include "polkit.h"
#include "seccomp-kernel.h"

struct PolkitQuery {
        Broker *broker;
        sd_bus_message *call;
        PolkitSubject subject;
        char *action;
        polkit_callback_t callback;
        void *userdata;
        sd_bus_slot *slot;
        char cancellation_id[32];
        bool linked;               /* in broker->polkit_queries */
        PolkitQuery *next, *prev;
};

static void query_slot_release(Broker *b, uid_t uid) {
        for (unsigned i = 0; i < b->n_polkit_queries; i++)
                if (b->polkit_query_uids[i] == uid) {
                        b->polkit_query_uids[i] = b->polkit_query_uids[--b->n_polkit_queries];
                        return;
                }
}

static int query_slot_take(Broker *b, uid_t uid) {
        unsigned n = 0;

        if (b->n_polkit_queries >= BROKER_MAX_POLKIT_QUERIES)
                return -ENOBUFS;
        for (unsigned i = 0; i < b->n_polkit_queries; i++)
                if (b->polkit_query_uids[i] == uid)
                        n++;
        if (n >= BROKER_MAX_POLKIT_QUERIES_PER_USER)
                return -ENOBUFS;
        b->polkit_query_uids[b->n_polkit_queries++] = uid;
        return 0;
}

static PolkitQuery *polkit_query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        if (q->linked) {
                if (q->prev)
                        q->prev->next = q->next;
                else
                        q->broker->polkit_queries = q->next;
                if (q->next)
                        q->next->prev = q->prev;
        }
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->call);
        polkit_subject_done(&q->subject);
        free(q->action);
        free(q);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(PolkitQuery *, polkit_query_free);

sd_bus_message *polkit_query_message(PolkitQuery *q) {
        return q->call;
}

Broker *polkit_query_broker(PolkitQuery *q) {
        return q->broker;
}

void polkit_subject_done(PolkitSubject *s) {
        s->bus_name = mfree_ptr(s->bus_name);
        s->pidfd = safe_close(s->pidfd);
}

static int subject_copy(const PolkitSubject *from, PolkitSubject *to) {
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

int polkit_subject_from_caller(const Caller *caller, PolkitSubject *ret) {
        PolkitSubject s = POLKIT_SUBJECT_NULL;
        int pidfd = -EBADF, r;

        if (caller->bus_name) {
                s.bus_name = (char *) caller->bus_name;
                s.uid = caller->uid; /* for logs only: polkit asks the bus */
                s.account_uid = caller->account_uid;
        } else {
                r = connection_get_peer(caller->connection, &s.pid, &s.uid, &s.start_time, &pidfd);
                if (r < 0)
                        return r;
                s.pidfd = pidfd;
                s.account_uid = caller->account_uid;
        }
        return subject_copy(&s, ret);
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

static int on_check_authorization_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(polkit_query_freep) PolkitQuery *q = userdata;
        const sd_bus_error *e;
        PolkitResult result = POLKIT_ERROR;
        int authorized, challenge, r;

        query_slot_release(q->broker, q->subject.account_uid);
        broker_mark_active(q->broker);
        q->slot = sd_bus_slot_unref(q->slot);

        e = sd_bus_message_get_error(reply);
        if (e) {
                log_warning("polkit check of '%s' failed: %s: %s", q->action, e->name, strempty(e->message));
                q->callback(q, POLKIT_ERROR, e, q->userdata);
                return 0;
        }

        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error err = SD_BUS_ERROR_NULL;
                log_warning_errno(r, "polkit sent an unreadable answer for '%s': %m", q->action);
                sd_bus_error_set_errnof(&err, r, "polkit sent an unreadable answer");
                q->callback(q, POLKIT_ERROR, &err, q->userdata);
                return 0;
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
        q->callback(q, result, NULL, q->userdata);
        return 0;
}

int polkit_check(Broker *b, sd_bus_message *call, const PolkitSubject *subject, const char *action,
                 const char *const *details, bool may_interact, polkit_callback_t callback, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(polkit_query_freep) PolkitQuery *q = NULL;
        int interactive = may_interact && sd_bus_message_get_allow_interactive_authorization(call) > 0;
        int r;

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
        r = subject_copy(subject, &q->subject);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(b->system_bus, &m, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = append_subject(m, subject);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", action);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{ss}");
        if (r < 0)
                return r;
        for (const char *const *d = details; d && d[0] && d[1]; d += 2) {
                r = sd_bus_message_append(m, "{ss}", d[0], d[1]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        snprintf(q->cancellation_id, sizeof q->cancellation_id, "sysbroker-%" PRIu64, ++b->polkit_query_serial);
        r = sd_bus_message_append(m, "us", (uint32_t) interactive, q->cancellation_id);
        if (r < 0)
                return r;

        /* Interactive authentication waits for a human; otherwise polkit answers at once. */
        r = query_slot_take(b, subject->account_uid);
        if (r < 0)
                return log_warning_errno(r, "Too many polkit queries pending for uid %u, refusing another.",
                                         subject->account_uid);
        r = sd_bus_call_async(b->system_bus, &q->slot, m, on_check_authorization_reply, q,
                              interactive ? UINT64_C(300) * USEC_PER_SEC : 0);
        if (r < 0) {
                query_slot_release(b, subject->account_uid);
                return r;
        }

        if (subject->bus_name)
                log_debug("polkit: checking '%s' for bus name %s (uid %u).", action, subject->bus_name, subject->uid);
        else
                log_debug("polkit: checking '%s' for pid %i (uid %u).", action, subject->pid, subject->uid);
        q->next = b->polkit_queries;
        if (q->next)
                q->next->prev = q;
        b->polkit_queries = q;
        q->linked = true;
        TAKE_PTR(q);
        return 1;
}

void polkit_cancel_for_bus(Broker *b, sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error gone = SD_BUS_ERROR_NULL;

        (void) sd_bus_error_set(&gone, SD_BUS_ERROR_DISCONNECTED, "the caller disconnected");
        for (PolkitQuery *q = b->polkit_queries; q; ) {
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
                query_slot_release(b, q->subject.account_uid);
                q->slot = sd_bus_slot_unref(q->slot);
                /* Its owner lets go of what waited for the answer; the callback may change the list. */
                q->callback(q, POLKIT_ERROR, &gone, q->userdata);
                polkit_query_free(q);
                q = b->polkit_queries;
        }
}

int polkit_check_call(Broker *b, sd_bus_message *call, const Caller *caller, const char *action,
                      const char *const *details, bool may_interact, polkit_callback_t callback, void *userdata) {
        PolkitSubject s = POLKIT_SUBJECT_NULL;
        int r;

        r = polkit_subject_from_caller(caller, &s);
        if (r < 0)
                return r;
        r = polkit_check(b, call, &s, action, details, may_interact, callback, userdata);
        polkit_subject_done(&s);
        return r;
}

int polkit_reply_denied(sd_bus_message *call, PolkitResult result, const sd_bus_error *error,
                        const char *format, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&what, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        switch (result) {
        case POLKIT_CHALLENGE:
                return sd_bus_reply_method_errorf(call, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                                  "%s: interactive authentication required", what);
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
