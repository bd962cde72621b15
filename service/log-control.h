/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.freedesktop.LogControl1 at /org/freedesktop/LogControl1, as systemd's services have it: LogLevel and
 * LogTarget (read by anyone, written by privileged callers only), SyslogIdentifier. With the unit's BusName=,
 * `systemctl service-log-level sysbrokerd debug` sets it. */
#pragma once

#include <systemd/sd-bus.h>

#define LOG_CONTROL_OBJECT_PATH "/org/freedesktop/LogControl1"
#define LOG_CONTROL_INTERFACE "org.freedesktop.LogControl1"

/* On the system bus only: on a peer-to-peer connection there is nobody it is for. */
int log_control_add_object(sd_bus *bus);
