/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Asynchronous polkit CheckAuthorization: the method call is kept and answered from the callback. Checks past
 * a user's bound in flight wait in a queue of their own. Invariant 1: an absent or failing polkit is a "no". */
#pragma once

#include <systemd/sd-bus.h>

#include "broker.h"

/* polkit checks in flight at polkitd (each holds a method call and, if interactive, may wait for minutes): in
 * all, and per caller uid. Checks past these wait in a queue, per user as deep as the listener limit per user
 * and in all as the listener limit (BrokerLimits), so that a burst of registrations is served in turn. */
#define POLKIT_MAX_QUERIES 1024
#define POLKIT_MAX_QUERIES_PER_USER 16

/* The daemon's checks, in flight and queued (Broker.polkit). Freeing it drops what is left unanswered, without
 * callbacks: only at exit. */
int polkit_registry_new(PolkitRegistry **ret);
PolkitRegistry *polkit_registry_free(PolkitRegistry *reg);
/* Checks in flight or queued: idle exit waits for them. */
unsigned polkit_registry_pending(const PolkitRegistry *reg);

typedef enum PolkitResult {
        POLKIT_YES,
        POLKIT_NO,
        POLKIT_CHALLENGE,          /* would be yes after interactive authentication */
        POLKIT_ERROR,              /* polkit failing: treated as no */
        POLKIT_NO_ANSWER,          /* polkit absent or too slow: no decision, treated as no; ask again later */
} PolkitResult;

/* Who is asking, in a form that outlives the connection: a bus name on the system bus, or a process
 * (pid, start time, uid, and a pidfd to re-check it is still that process) on the peer-to-peer socket. */
typedef struct PolkitSubject {
        char *bus_name;
        pid_t pid;
        uint64_t start_time;
        uid_t uid;
        uid_t account_uid;         /* whom the bound on pending queries per user charges */
        int pidfd;
} PolkitSubject;

#define POLKIT_SUBJECT_NULL ((PolkitSubject) { .pidfd = -EBADF })

/* A copy of from that holds its own bus name and pidfd. */
int polkit_subject_copy(const PolkitSubject *from, PolkitSubject *to);
void polkit_subject_done(PolkitSubject *s);

typedef void (*polkit_callback_t)(PolkitQuery *q, PolkitResult result, const sd_bus_error *error, void *userdata);

/* Asks polkit whether subject may do action (details: NULL-terminated key, value, ... list). Interactive
 * only if may_interact and call allows it. Returns 1: the reply to call is pending and will be sent by the
 * callback, at once or after the checks of the same user that came first; -ENOBUFS: that user's queue is full.
 * A check that polkit does not answer within BrokerLimits.polkit_timeout_usec is POLKIT_NO_ANSWER.
 * *ret_query (if not NULL) is the check, valid until its callback returns or it is abandoned. */
int polkit_check(Broker *b, sd_bus_message *call, const PolkitSubject *subject, const char *action,
                 const char *const *details, bool may_interact, polkit_callback_t callback, void *userdata,
                 PolkitQuery **ret_query);
/* Whether a check of that user would go to polkitd at once, not into the queue. */
bool polkit_has_room(Broker *b, uid_t account_uid);
/* The answer to q is no longer wanted (a registration decided by another check): it is dropped without its
 * callback, cancelled at polkitd if it may show a dialog, and its place goes to the next queued check. */
void polkit_query_abandon(PolkitQuery *q);
/* A peer-to-peer client went away: its pending queries are cancelled (polkit takes down their dialogs), and
 * their callbacks told POLKIT_ERROR; queued ones are dropped unasked. On the bus polkit notices by itself
 * for those in flight, and a queued one is dropped when its sender's name goes away. */
void polkit_cancel_for_bus(Broker *b, sd_bus *bus);

sd_bus_message *polkit_query_message(PolkitQuery *q);
Broker *polkit_query_broker(PolkitQuery *q);
const char *polkit_query_action(PolkitQuery *q);

/* Answers call with AccessDenied, InteractiveAuthorizationRequired, or Timeout (polkit did not answer: nothing
 * was decided, the caller may retry) as the result says. */
int polkit_reply_denied(sd_bus_message *call, PolkitResult result, const sd_bus_error *error,
                        const char *format, ...) _printf_(4, 5);
