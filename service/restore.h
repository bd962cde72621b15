/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Restoring, at startup, the listeners the service manager kept across a restart of the daemon. */
#pragma once

#include "broker.h"

/* Listeners from the fds the service manager passed back. Takes (or closes) the fds it knows by name
 * ("listener-<id>", "state-<id>"), setting them to -EBADF in fds; leaves the rest to the caller. */
int restore_listeners(Broker *b, int *fds, char **names, size_t n);
