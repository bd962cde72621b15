/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names org.sysbroker.Broker1.xml, the bus policy and the polkit policy spell, once for C: what the
 * daemon answers to and the client calls. Installed with libsysbroker (sysbroker.h includes it). */
#pragma once

#define SYSBROKER_BUS_NAME "org.sysbroker.Broker1"
#define SYSBROKER_OBJECT_PATH "/org/sysbroker/Broker1"
#define SYSBROKER_MANAGER_INTERFACE SYSBROKER_BUS_NAME ".Manager"
#define SYSBROKER_LISTENER_INTERFACE SYSBROKER_BUS_NAME ".Listener"

/* Listener objects live below this path, one per id: SYSBROKER_LISTENER_PATH_PREFIX "<id>". The subtree is
 * an object path itself (what a fallback vtable is registered on), so it has no trailing slash. */
#define SYSBROKER_LISTENER_SUBTREE SYSBROKER_OBJECT_PATH "/listener"
#define SYSBROKER_LISTENER_PATH_PREFIX SYSBROKER_LISTENER_SUBTREE "/"

/* The interface's own errors. Besides these the daemon answers with the standard ones sd-bus names
 * (SD_BUS_ERROR_ACCESS_DENIED, _INVALID_ARGS, _LIMITS_EXCEEDED, _UNKNOWN_OBJECT,
 * _INTERACTIVE_AUTHORIZATION_REQUIRED, ...), as the interface's documentation says. */
#define SYSBROKER_ERROR_NOT_A_LISTENER SYSBROKER_BUS_NAME ".Error.NotAListener"
#define SYSBROKER_ERROR_INVALID_RULE SYSBROKER_BUS_NAME ".Error.InvalidRule"

/* The polkit actions (polkit/org.sysbroker.Broker1.policy) a registration is checked against. */
#define SYSBROKER_POLKIT_ACTION_REGISTER SYSBROKER_BUS_NAME ".register"
#define SYSBROKER_POLKIT_ACTION_MANAGE SYSBROKER_BUS_NAME ".manage"
#define SYSBROKER_POLKIT_ACTION_MKNOD SYSBROKER_BUS_NAME ".mknod"
#define SYSBROKER_POLKIT_ACTION_MKNOD_DEVICE SYSBROKER_BUS_NAME ".mknod-device"
#define SYSBROKER_POLKIT_ACTION_OPEN SYSBROKER_BUS_NAME ".open"
#define SYSBROKER_POLKIT_ACTION_MOUNT SYSBROKER_BUS_NAME ".mount"
