/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's one context: event loop, bus connections (system bus and peer-to-peer clients), the listener
 * registry, pending registrations and limits. Made and run by broker.c for run() in main.c; everything else
 * borrows it. */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "rule.h"
#include "sysbroker-bus.h"

/* The contract's names (dbus/sysbroker-bus.h), under the names the daemon's files use. */
#define BROKER_BUS_NAME SYSBROKER_BUS_NAME
#define BROKER_OBJECT_PATH SYSBROKER_OBJECT_PATH
#define BROKER_MANAGER_INTERFACE SYSBROKER_MANAGER_INTERFACE
#define BROKER_LISTENER_INTERFACE SYSBROKER_LISTENER_INTERFACE
#define BROKER_LISTENER_PATH_PREFIX SYSBROKER_LISTENER_SUBTREE

#define BROKER_ERROR_NOT_A_LISTENER SYSBROKER_ERROR_NOT_A_LISTENER
#define BROKER_ERROR_INVALID_RULE SYSBROKER_ERROR_INVALID_RULE

typedef struct Broker Broker;
typedef struct Listener Listener;
typedef struct ListenerRefusal ListenerRefusal;
typedef struct Registration Registration;
typedef struct Connection Connection;
typedef struct OciConnection OciConnection;
typedef struct PolkitQuery PolkitQuery;
typedef struct PolkitRegistry PolkitRegistry;

#define BROKER_DEFAULT_POLKIT_TIMEOUT_USEC (25 * USEC_PER_SEC)
/* Peer-to-peer connections of one uid. */
#define BROKER_MAX_CONNECTIONS_PER_USER 16

typedef struct BrokerLimits {
        RuleLimits rules;
        unsigned max_listeners;
        unsigned max_listeners_per_user;
        unsigned max_connections;
        size_t max_description;
        uint64_t polkit_timeout_usec;    /* how long polkit may take to answer a non-interactive check */
        size_t max_message_size;          /* what one peer-to-peer message may announce */
        uint64_t connection_timeout_usec; /* to authenticate, and to complete each message once begun */
} BrokerLimits;

struct Broker {
        sd_event *event;
        sd_bus *system_bus;
        sd_id128_t server_id;

        sd_event_source *accept_source;  /* the socket-activated peer-to-peer socket, if any */
        Connection *connections;
        unsigned n_connections;

        sd_event_source *oci_accept_source; /* the OCI runtimes' listenerPath socket, if any (oci.c) */
        OciConnection *oci_connections;
        unsigned n_oci_connections;

        Listener *listeners;             /* every listener whose thread still runs, visible or not */
        unsigned n_listeners;            /* visible on the bus (not yet removed) */
        uint64_t next_listener_id;

        Registration *registrations;     /* waiting for polkit */
        unsigned n_registrations;
        PolkitRegistry *polkit;          /* checks in flight and queued (polkit.c) */

        sd_event_source *watchdog_source; /* interrupts listener threads stuck in a call, every second */

        BrokerLimits limits;
        unsigned kernel_features;

        bool idle_exit;
        uint64_t idle_timeout_usec;
        uint64_t last_activity_usec;
        bool giving_up_name;             /* idle exit began giving the name back: nothing more is served */

        /* Set by broker_new(): the only ways the layers below reach the bus objects above them. */
        int (*add_objects)(Broker *b, sd_bus *bus);      /* a new peer-to-peer connection's */
        void (*listener_added)(Broker *b, Listener *l);   /* announced on every bus */
        void (*listener_removed)(Broker *b, Listener *l, const char *reason);
        void (*listener_refused)(Broker *b, Listener *l, const ListenerRefusal *refusal); /* to its owner only */
};

/* What main.c read from the command line. */
typedef struct BrokerConfig {
        BrokerLimits limits;
        bool idle_exit;
        uint64_t idle_timeout_usec;
        const char *oci_socket_path;     /* --oci-socket: bound by the daemon itself, without a service manager */
} BrokerConfig;

/* broker.c */
int broker_new(const BrokerConfig *config, Broker **ret);
/* Until SIGTERM, or idle exit. */
int broker_run(Broker *b);
Broker *broker_free(Broker *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Broker *, broker_free);

/* Anything that is served (a call, an answer from polkit, a listener's end) counts as activity: idle exit
 * counts from the last one. */
static inline void broker_mark_active(Broker *b) {
        uint64_t now;

        if (sd_event_now(b->event, CLOCK_MONOTONIC, &now) >= 0)
                b->last_activity_usec = now;
}
