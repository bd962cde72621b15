/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.freedesktop.LogControl1: the log level and target at runtime, with systemd's semantics.
 *
 * Writing is privileged the way systemd's own services have it: the properties carry no
 * SD_BUS_VTABLE_UNPRIVILEGED, so sd-bus lets a Set through only from a caller with CAP_SYS_ADMIN or our own
 * uid (root): nobody else may turn a sandbox's paths into debug lines, or silence the log with "null". Reading
 * is anyone's, as for systemd's services. Every change is logged with who asked for it. */

#include <stdlib.h>

#include "log.h"
#include "log-control.h"

static const char *sender_uid(sd_bus *bus, char buf[static 32]) {
        sd_bus_message *m = sd_bus_get_current_message(bus);
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;

        if (!m || sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds) < 0 ||
            sd_bus_creds_get_euid(creds, &uid) < 0)
                return "unknown";
        snprintf(buf, 32, "%u", uid);
        return buf;
}

static int property_get_log_level(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", log_level_to_string(log_get_max_level()) ?: "debug");
}

static int property_set_log_level(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *value, void *userdata, sd_bus_error *error) {
        const char *t;
        char uid[32], *end;
        int r, level;

        r = sd_bus_message_read(value, "s", &t);
        if (r < 0)
                return r;
        /* A name, or its number, as systemd takes it (`systemctl service-log-level` passes either on). */
        level = log_parse_level(t);
        if (level < 0 && t[0] >= '0' && t[0] <= '9') {
                long l = strtol(t, &end, 10);

                if (*end == 0 && l >= LOG_EMERG && l <= LOG_DEBUG)
                        level = (int) l;
        }
        if (level < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid log level '%s' (expected emerg, alert, crit, err, warning, "
                                         "notice, info, debug or 0…7).", t);

        /* Said at the level being left and the one being entered alike: notice, unless the log is made quieter
         * than that, when it is the last line at the old level. */
        log_full(MIN(LOG_NOTICE, log_get_max_level()), "Setting log level to %s (was %s), asked by uid %s.",
                 log_level_to_string(level), log_level_to_string(log_get_max_level()) ?: "?",
                 sender_uid(bus, uid));
        log_set_max_level(level);
        return 0;
}

static int property_get_log_target(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", log_target_to_string(log_get_target()));
}

static int property_set_log_target(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *value, void *userdata, sd_bus_error *error) {
        const char *t;
        char uid[32];
        LogTarget target, old = log_get_target();
        int r;

        r = sd_bus_message_read(value, "s", &t);
        if (r < 0)
                return r;
        target = log_target_from_string(t);
        /* systemd's kmsg and syslog targets are not ours: said as such, not taken for something else. */
        if (target < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Log target '%s' is not supported by sysbrokerd (expected auto, console, "
                                         "console-prefixed, journal or null).", t);

        /* Said where the log goes from now on, so that whoever reads there sees where it came from; to null
         * it is said where it went before, as its last line. */
        if (target == LOG_TARGET_NULL)
                log_notice("Setting log target to %s (was %s), asked by uid %s.", log_target_to_string(target),
                           log_target_to_string(old), sender_uid(bus, uid));
        r = log_set_target(target);
        if (r < 0) {
                log_warning_errno(r, "Cannot log to the journal, keeping log target %s: %m",
                                  log_target_to_string(old));
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED,
                                         "Cannot connect to the journal's socket: %s", strerror(-r));
        }
        if (target != LOG_TARGET_NULL)
                log_notice("Set log target to %s (was %s), asked by uid %s.", log_target_to_string(target),
                           log_target_to_string(old), sender_uid(bus, uid));
        return 0;
}

static int property_get_syslog_identifier(sd_bus *bus, const char *path, const char *interface,
                                          const char *property, sd_bus_message *reply, void *userdata,
                                          sd_bus_error *error) {
        /* What the journal entries say (log_struct()), whatever the binary is called. */
        return sd_bus_message_append(reply, "s", "sysbrokerd");
}

static const sd_bus_vtable log_control_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_WRITABLE_PROPERTY("LogLevel", "s", property_get_log_level, property_set_log_level, 0, 0),
        SD_BUS_WRITABLE_PROPERTY("LogTarget", "s", property_get_log_target, property_set_log_target, 0, 0),
        SD_BUS_PROPERTY("SyslogIdentifier", "s", property_get_syslog_identifier, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

int log_control_add_object(sd_bus *bus) {
        return sd_bus_add_object_vtable(bus, NULL, LOG_CONTROL_OBJECT_PATH, LOG_CONTROL_INTERFACE,
                                        log_control_vtable, NULL);
}
