/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who is on the other end of a method call (the bus daemon's word on the system bus, the socket's credentials on
 * a peer-to-peer connection), and that caller as a polkit subject. */
#pragma once

#include <systemd/sd-bus.h>

#include "broker.h"
#include "polkit.h"

typedef struct Caller {
        uid_t uid;
        uid_t account_uid;               /* whom the limits per user charge (account_uid_of()) */
        pid_t pid;
        const char *bus_name;            /* system bus: unique name; NULL on a peer-to-peer connection */
        Connection *connection;          /* peer-to-peer: the connection, with its pidfd */
} Caller;

/* ret is untouched on failure. */
int caller_get(Broker *b, sd_bus_message *m, Caller *ret);

/* Whether the caller's process runs in a user namespace other than init's (pid 1's; the daemon's own where
 * it may not look at init's, as unprivileged in the tests): 1 yes, 0 no, negative if it cannot be told
 * (the process is gone). Read from /proc/PID/ns/user, and only trusted if the pidfd pinned before reading
 * still names a live process: the peer's from accept, or one opened for the bus daemon's pid. */
int caller_in_user_namespace(const Caller *caller);

/* The caller as a subject that outlives the call. */
int caller_get_polkit_subject(const Caller *caller, PolkitSubject *ret);
/* polkit_check() for the caller of call. */
int caller_check_polkit(Broker *b, sd_bus_message *call, const Caller *caller, const char *action,
                        const char *const *details, bool may_interact, polkit_callback_t callback, void *userdata);
