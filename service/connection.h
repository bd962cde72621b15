/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Peer-to-peer clients on the socket-activated socket (connection.c): accepting, authenticating, bounded
 * reading, and who is on the other end. Their pending polkit checks are cancelled when they go. */
#pragma once

#include <systemd/sd-bus.h>

#include "broker.h"

int connection_start_accepting(Broker *b, int listen_fd);
void connection_free_all(Broker *b);
/* ret_pidfd is borrowed: it stays the connection's. */
int connection_get_peer(Connection *c, pid_t *ret_pid, uid_t *ret_uid, uint64_t *ret_start_time, int *ret_pidfd);
uid_t connection_account_uid(Connection *c);
/* The connection whose bus is bus, NULL for the system bus. */
Connection *connection_find(Broker *b, sd_bus *bus);
/* The system bus, then every peer-to-peer connection. */
void connection_foreach_bus(Broker *b, void (*f)(sd_bus *bus, void *userdata), void *userdata);
/* Disconnects peer-to-peer clients that leave too much unread (after signals, which go to all of them). */
void connection_drop_backlogged(Broker *b);
/* The start time of pid (clock ticks after boot, /proc/<pid>/stat field 22), as polkit's unix-process wants it;
 * also for the OCI socket's peers (oci.c). */
int read_start_time(pid_t pid, uint64_t *ret);
