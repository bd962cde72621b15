/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The walk over an a{sv} dictionary that every reader of rules, options and properties does: enter, one
 * callback per entry with its key and the variant's signature, leave. sd-bus only, no sysbroker names. */
#pragma once

#include <systemd/sd-bus.h>

/* Called with m at the entry's variant ('v', not yet entered), which it must read or skip whole. A negative
 * return ends the walk and is returned. */
typedef int (*BusDictEntryFunc)(sd_bus_message *m, const char *key, const char *contents, void *userdata);

/* Reads one a{sv} from m, calling f for each entry in order. Returns 0, or a negative errno (m's, or f's). */
int bus_dict_foreach(sd_bus_message *m, BusDictEntryFunc f, void *userdata);
