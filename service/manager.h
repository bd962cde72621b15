/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Manager object (manager.c): RegisterListener and its polkit steps, ListListeners, NListeners. The
 * registrations waiting for polkit are its own. */
#pragma once

#include <systemd/sd-bus.h>

#include "broker.h"
#include "polkit.h"

extern const sd_bus_vtable manager_vtable[];
/* At exit: the registrations still waiting for polkit, dropped unanswered. */
void registration_free_all(Broker *b);

/* A listener fd from an OCI runtime (oci.c): args holds "aa{sv}a{sv}" (rules, options) as RegisterListener
 * takes them, validated the same way; the subject is the runtime. Returns a negative errno with error set
 * (the same errors as RegisterListener) when refused at once; else 0: polkit is asked, and the outcome is
 * logged with the container's id. The Description defaults to the container's id. root: the container's root
 * in the broker's view, the listener's root (listener_new()). */
int manager_register_oci(Broker *b, int fd, sd_bus_message *args, const PolkitSubject *subject,
                         const char *container_id, const char *root, sd_bus_error *error);
