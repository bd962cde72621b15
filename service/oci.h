/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OCI front end (oci.c): the socket OCI runtimes' seccomp listenerPath points at. One connection is one
 * registration: the runtime's state JSON and the listener fd, read bounded and in time, then registered as
 * RegisterListener would, with the runtime as the subject. The runtime hears no answer; the journal does. */
#pragma once

#include "broker.h"

/* Takes listen_fd (socket-activated as "oci", or oci_listen()'s). */
int oci_start_accepting(Broker *b, int listen_fd);
/* Without a service manager (--oci-socket=PATH): binds PATH, connectable by anyone. */
int oci_listen(const char *path, int *ret_fd);
void oci_free_all(Broker *b);
