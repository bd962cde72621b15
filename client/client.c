/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The connection to sysbrokerd — the system bus or the daemon's own peer-to-peer socket — and the calls
 * a launcher makes on it. */

#include <inttypes.h>

#include "config.h"
#include "macro.h"
#include "sysbroker-internal.h"

/* Registration may wait for a person typing a password; plain calls use sd-bus's default. */
#define INTERACTIVE_TIMEOUT_USEC (5 * 60 * USEC_PER_SEC)

struct sysbroker_client {
        sd_bus *bus;
        bool is_bus; /* a message bus, not a direct connection to the daemon */
};

static int client_new(sd_bus *bus, bool is_bus, sysbroker_client **ret) {
        sysbroker_client *c = calloc(1, sizeof(sysbroker_client));
        if (!c)
                return -ENOMEM;

        *c = (sysbroker_client) {
                .bus = bus,
                .is_bus = is_bus,
        };
        *ret = c;
        return 0;
}

int sysbroker_client_open_system(sysbroker_client **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (!ret)
                return -EINVAL;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;

        r = client_new(bus, true, ret);
        if (r < 0)
                return r;
        TAKE_PTR(bus);
        return 0;
}

const char *sysbroker_default_socket_path(void) {
        return SYSBROKER_SOCKET_PATH;
}

/* D-Bus addresses escape everything but a few safe bytes as %XX. */
static char *address_escape(const char *s) {
        static const char hex[] = "0123456789abcdef";
        char *e = malloc(strlen(s) * 3 + 1), *p = e;

        if (!e)
                return NULL;
        for (; *s; s++) {
                unsigned char c = *s;

                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("-_/.\\*", c))
                        *p++ = c;
                else {
                        *p++ = '%';
                        *p++ = hex[c >> 4];
                        *p++ = hex[c & 15];
                }
        }
        *p = '\0';
        return e;
}

int sysbroker_client_open_socket(const char *path, sysbroker_client **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *escaped = NULL, *address = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        if (!path)
                path = SYSBROKER_SOCKET_PATH;
        if (path[0] == '\0')
                return -EINVAL;

        escaped = address_escape(path);
        if (!escaped)
                return -ENOMEM;
        if (asprintf(&address, "unix:path=%s", escaped) < 0)
                return -ENOMEM;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        /* The daemon is the server at the other end: no bus, no Hello(), no names. */
        r = sd_bus_set_bus_client(bus, false);
        if (r < 0)
                return r;
        r = sd_bus_negotiate_fds(bus, true);
        if (r < 0)
                return r;
        (void) sd_bus_set_description(bus, "sysbroker");
        r = sd_bus_start(bus);
        if (r < 0)
                return r;

        r = client_new(bus, false, ret);
        if (r < 0)
                return r;
        TAKE_PTR(bus);
        return 0;
}

sysbroker_client *sysbroker_client_free(sysbroker_client *client) {
        if (!client)
                return NULL;

        sd_bus_flush_close_unref(client->bus);
        free(client);
        return NULL;
}

sd_bus *sysbroker_client_get_bus(sysbroker_client *client) {
        return client ? client->bus : NULL;
}

const char *sysbroker_client_get_destination(sysbroker_client *client) {
        return client && client->is_bus ? SYSBROKER_BUS_NAME : NULL;
}

static int client_new_call(sysbroker_client *client, const char *path, const char *interface,
                           const char *member, unsigned flags, sd_bus_message **ret) {
        sd_bus_message *m = NULL;
        int r;

        if ((flags & ~SYSBROKER_CALL_ALLOW_INTERACTIVE_AUTHORIZATION) != 0)
                return -EINVAL;

        r = sd_bus_message_new_method_call(client->bus, &m, sysbroker_client_get_destination(client),
                                           path, interface, member);
        if (r < 0)
                return r;

        r = sd_bus_message_set_allow_interactive_authorization(
                        m, !!(flags & SYSBROKER_CALL_ALLOW_INTERACTIVE_AUTHORIZATION));
        if (r < 0) {
                sd_bus_message_unref(m);
                return r;
        }

        *ret = m;
        return 0;
}

static uint64_t call_timeout(unsigned flags) {
        return flags & SYSBROKER_CALL_ALLOW_INTERACTIVE_AUTHORIZATION ? INTERACTIVE_TIMEOUT_USEC : 0;
}

/* The errors of a call that no instance of the daemon took on: the bus found no owner of the name, or the
 * daemon got the call as it gave the name up at idle exit (it answers those with ServiceUnknown, serving
 * nothing). Calling again reaches the next instance, which the bus starts for it. */
static bool error_is_daemon_gone(const sd_bus_error *error) {
        return sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

static int client_call_register(sysbroker_client *client, int listener_fd, const sysbroker_rules *rules,
                                unsigned flags, sd_bus_error *error, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = client_new_call(client, SYSBROKER_OBJECT_PATH, SYSBROKER_MANAGER_INTERFACE, "RegisterListener",
                            flags, &m);
        if (r < 0)
                return r;

        /* sd-bus sends a duplicate: the caller's fd stays the caller's. */
        r = sd_bus_message_append(m, "h", listener_fd);
        if (r < 0)
                return r;
        r = rules_append_to_message(rules, m);
        if (r < 0)
                return r;

        return sd_bus_call(client->bus, m, call_timeout(flags), error, ret_reply);
}

int sysbroker_client_register(
                sysbroker_client *client,
                int listener_fd,
                const sysbroker_rules *rules,
                unsigned flags,
                sd_bus_error *error,
                char **ret_path,
                uint64_t *ret_id) {

        _cleanup_(sd_bus_error_free) sd_bus_error first = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        uint64_t id;
        int r;

        if (!client || listener_fd < 0 || !rules)
                return -EINVAL;

        /* Once more, and only once, if the daemon was exiting: a registration is never lost to its idle
         * exit, and a daemon that cannot start is still reported at once. */
        r = client_call_register(client, listener_fd, rules, flags, &first, &reply);
        if (r < 0 && error_is_daemon_gone(&first))
                r = client_call_register(client, listener_fd, rules, flags, error, &reply);
        else if (r < 0 && error)
                sd_bus_error_move(error, &first);
        if (r < 0)
                return r;

        r = sd_bus_message_read(reply, "ot", &path, &id);
        if (r < 0)
                return r;

        if (ret_path) {
                char *p = strdup(path);
                if (!p)
                        return -ENOMEM;
                *ret_path = p;
        }
        if (ret_id)
                *ret_id = id;
        return 0;
}

int sysbroker_client_unregister(sysbroker_client *client, uint64_t id, unsigned flags, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        char path[sizeof(SYSBROKER_LISTENER_PATH_PREFIX) + 20];
        int r;

        if (!client || id == 0)
                return -EINVAL;

        (void) snprintf(path, sizeof path, SYSBROKER_LISTENER_PATH_PREFIX "%" PRIu64, id);

        r = client_new_call(client, path, SYSBROKER_LISTENER_INTERFACE, "Unregister", flags, &m);
        if (r < 0)
                return r;

        r = sd_bus_call(client->bus, m, call_timeout(flags), error, NULL);
        if (r < 0)
                return r;
        return 0;
}
