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

/* The caller as a subject that outlives the call. */
int caller_get_polkit_subject(const Caller *caller, PolkitSubject *ret);
/* polkit_check() for the caller of call. */
int caller_check_polkit(Broker *b, sd_bus_message *call, const Caller *caller, const char *action,
                        const char *const *details, bool may_interact, polkit_callback_t callback, void *userdata);
