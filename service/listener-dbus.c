/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A listener's bus face: its object (found and enumerated only for its owner and root), properties, Unregister,
 * and the Manager's ListenerAdded/ListenerRemoved signals. The listener itself is listener.c's. */

#include <inttypes.h>

#include "caller.h"
#include "connection.h"
#include "listener-dbus.h"
#include "listener.h"
#include "log.h"
#include "polkit.h"

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
        l = listener_find(b, id);
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
                r = caller_check_polkit(b, m, &caller, SYSBROKER_POLKIT_ACTION_MANAGE, NULL, true,
                                      on_unregister_authorized, (void *) (uintptr_t) l->id);
                /* A full queue is answered as a refusal is, not LimitsExceeded: that would come only for
                 * listeners that exist, and tell them from those that do not. */
                if (r == -ENOBUFS)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "Unknown object '%s'.",
                                                 sd_bus_message_get_path(m));
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
        l = listener_find(polkit_query_broker(q), id);
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
        SD_BUS_PROPERTY("RegisteredTimestamp", "t", NULL, offsetof(Listener, registered_usec),
                        SD_BUS_VTABLE_PROPERTY_CONST),
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
        /* Sent to the owner only, never broadcast: listener_dbus_emit_refused(). */
        SD_BUS_SIGNAL_WITH_ARGS("RuleRefused",
                                SD_BUS_ARGS("u", rule, "s", rule_description, "u", pid, "s", path, "s", reason,
                                            "u", missed), 0),
        SD_BUS_VTABLE_END
};

typedef struct Emission {
        Listener *listener;
        const char *reason;        /* NULL: ListenerAdded */
} Emission;

static void emit_on_bus(sd_bus *bus, void *userdata) {
        const Emission *e = userdata;
        int r;

        if (e->reason)
                r = sd_bus_emit_signal(bus, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "ListenerRemoved", "tos",
                                       e->listener->id, e->listener->object_path, e->reason);
        else
                r = sd_bus_emit_signal(bus, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "ListenerAdded", "to",
                                       e->listener->id, e->listener->object_path);
        if (r >= 0)
                r = sd_bus_emit_properties_changed(bus, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE,
                                                   "NListeners", NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to emit signal, ignoring: %m");
}

void listener_dbus_emit_added(Listener *l) {
        connection_foreach_bus(l->broker, emit_on_bus, &(Emission) { .listener = l });
}

void listener_dbus_emit_removed(Listener *l, const char *reason) {
        connection_foreach_bus(l->broker, emit_on_bus, &(Emission) { .listener = l, .reason = reason });
}

void listener_dbus_emit_refused(Listener *l, const ListenerRefusal *f) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Broker *b = l->broker;
        int r;

        /* A refusal names the sandbox's paths, which are its owner's business (as the listener object is): to
         * the registrant's own connection, never broadcast. On the system bus that is a destination the bus
         * daemon delivers to that unique name alone; a peer-to-peer connection is the owner's by itself. A
         * connection that is gone is not replaced by another: nobody else is told. */
        if (!l->owner_bus)
                return;
        if (l->owner_bus_name ? l->owner_bus != b->system_bus : !connection_find(b, l->owner_bus))
                return;

        r = sd_bus_message_new_signal(l->owner_bus, &m, l->object_path, BROKER_LISTENER_INTERFACE, "RuleRefused");
        if (r >= 0 && l->owner_bus_name)
                r = sd_bus_message_set_destination(m, l->owner_bus_name);
        if (r >= 0)
                r = sd_bus_message_append(m, "usussu", f->rule, f->rule_description, (uint32_t) f->pid, f->path,
                                          f->reason, f->missed);
        if (r >= 0)
                r = sd_bus_send(l->owner_bus, m, NULL);
        if (r < 0)
                log_debug_errno(r, "Listener %" PRIu64 ": failed to send RuleRefused to its owner, ignoring: %m",
                                l->id);
}
