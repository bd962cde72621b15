/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A listener's bus face (listener-dbus.c): the object table's entries for it, and the signals that announce
 * listeners on every bus. Above listener.c: it calls listener_*, never the other way round. */
#pragma once

#include <systemd/sd-bus.h>

#include "listener.h"

extern const sd_bus_vtable listener_vtable[];
int listener_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                         sd_bus_error *error);
int listener_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes, sd_bus_error *error);

/* ListenerAdded / ListenerRemoved (reason: listener_end_to_string()) and NListeners, on the system bus and every
 * peer-to-peer connection. */
void listener_dbus_emit_added(Listener *l);
void listener_dbus_emit_removed(Listener *l, const char *reason);
/* RuleRefused on the listener's object, to its owner's connection only (refusal reasons name the sandbox's
 * paths): nothing if that connection is gone or unknown (a listener restored after a restart). */
void listener_dbus_emit_refused(Listener *l, const ListenerRefusal *refusal);
