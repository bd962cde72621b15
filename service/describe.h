/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.Describe(): the daemon's state, and the listeners a caller may see, as one JSON text (json-c). The
 * main loop's alone. */
#pragma once

#include <stdbool.h>

#include "broker.h"

typedef struct Listener Listener;

/* How much of a listener a caller may see: as ListListeners and the listener objects show it. */
typedef enum DescribeVisibility {
        DESCRIBE_HIDDEN,
        DESCRIBE_SUMMARY,          /* id, object path, owner uid, description: what ListListeners lists */
        DESCRIBE_FULL,             /* everything its object's properties say: to its owner and root */
} DescribeVisibility;

typedef DescribeVisibility (*describe_visibility_t)(const Listener *l, const void *userdata);

/* ret: a JSON object (see org.sysbroker.Broker1(5)) with each listener as visibility() says. bus: for the
 * scratch message the rules are written into, the same way the Rules property sends them. */
int describe_broker(Broker *b, sd_bus *bus, describe_visibility_t visibility, const void *userdata, char **ret);
