/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Manager object (manager.c): RegisterListener and its polkit steps, ListListeners, NListeners. The
 * registrations waiting for polkit are its own. */
#pragma once

#include <systemd/sd-bus.h>

#include "broker.h"

extern const sd_bus_vtable manager_vtable[];
/* At exit: the registrations still waiting for polkit, dropped unanswered. */
void registration_free_all(Broker *b);
