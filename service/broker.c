/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Broker context's life: event loop, bus connections and the objects on them, restoring what a previous
 * run left, idle exit. main.c hands it a BrokerConfig and runs it; the layers below call back up only through
 * the hooks broker_new() sets in the context. */

#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/prctl.h>
#include <systemd/sd-daemon.h>

#include "broker.h"
#include "capabilities.h"
#include "config.h"
#include "connection.h"
#include "listener-dbus.h"
#include "listener.h"
#include "log.h"
#include "log-control.h"
#include "manager.h"
#include "notify.h"
#include "oci.h"
#include "persist.h"
#include "polkit.h"
#include "restore.h"
#include "supervise.h"
#include "target.h"

/* Every method call is activity, whatever it asks (a property, an introspection, a ping): idle exit counts
 * from the last one. Once idle exit has begun, a call that still reaches us (it was on its way before the bus
 * took the name back) is answered with the error the bus itself gives for a name nobody owns: a client
 * calls again, and the bus starts a new instance for it (libsysbroker does so once). */
static int on_incoming_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Broker *b = userdata;

        if (sd_bus_message_is_method_call(m, NULL, NULL) <= 0)
                return 0;
        if (b->giving_up_name) {
                log_debug("%s.%s() came in while giving up the bus name, asking the caller to call again.",
                          strempty(sd_bus_message_get_interface(m)), strempty(sd_bus_message_get_member(m)));
                (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                                  "sysbrokerd is exiting after being idle; call again to start "
                                                  "a new instance.");
                return 1; /* handled */
        }
        broker_mark_active(b);
        return 0; /* not handled: on to the vtables */
}

static int broker_add_objects(Broker *b, sd_bus *bus) {
        int r;

        r = sd_bus_add_filter(bus, NULL, on_incoming_message, b);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, NULL, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, manager_vtable, b);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(bus, NULL, BROKER_LISTENER_PATH_PREFIX, BROKER_LISTENER_INTERFACE,
                                       listener_vtable, listener_object_find, b);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(bus, NULL, BROKER_LISTENER_PATH_PREFIX, listener_node_enumerator, b);
}

static void broker_notify_status(Broker *b) {
        (void) sd_notifyf(false, "STATUS=Serving %u listener%s.", b->n_listeners, b->n_listeners == 1 ? "" : "s");
}

static void broker_emit_listener_added(Broker *b, Listener *l) {
        listener_dbus_emit_added(l);
        connection_drop_backlogged(b);
        broker_notify_status(b);
}

static void broker_emit_listener_removed(Broker *b, Listener *l, const char *reason) {
        listener_dbus_emit_removed(l, reason);
        connection_drop_backlogged(b);
        broker_notify_status(b);
}

static void broker_emit_listener_refused(Broker *b, Listener *l, const ListenerRefusal *refusal) {
        listener_dbus_emit_refused(l, refusal);
        connection_drop_backlogged(b);
}

Broker *broker_free(Broker *b) {
        if (!b)
                return NULL;
        /* Connections first: a peer's pending polkit checks are cancelled, and their callbacks let go of the
         * registrations that waited for them, which must still be there. */
        connection_free_all(b);
        oci_free_all(b);
        registration_free_all(b);
        listener_free_all(b);
        sd_event_source_disable_unref(b->watchdog_source);
        polkit_registry_free(b->polkit);
        sd_bus_flush_close_unref(b->system_bus);
        sd_event_unref(b->event);
        free(b);
        return NULL;
}

/* How long until idle exit: UINT64_MAX while there is anything to serve (its end marks activity and wakes
 * the loop), 0 once idle for the whole timeout. */
static uint64_t broker_idle_remaining_usec(Broker *b) {
        uint64_t now;

        if (!b->idle_exit || b->listeners || b->registrations || polkit_registry_pending(b->polkit) > 0 || b->connections ||
            b->oci_connections)
                return UINT64_MAX;
        if (sd_event_now(b->event, CLOCK_MONOTONIC, &now) < 0)
                return UINT64_MAX;
        if (now - b->last_activity_usec >= b->idle_timeout_usec)
                return 0;
        return b->idle_timeout_usec - (now - b->last_activity_usec);
}

static int broker_connect_system_bus(Broker *b) {
        int r;

        r = sd_bus_open_system_with_description(&b->system_bus, "system");
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = broker_add_objects(b, b->system_bus);
        if (r < 0)
                return log_error_errno(r, "Failed to add objects: %m");
        r = log_control_add_object(b->system_bus);
        if (r < 0)
                return log_error_errno(r, "Failed to add the LogControl1 object: %m");
        r = sd_bus_attach_event(b->system_bus, b->event, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        r = sd_bus_request_name(b->system_bus, BROKER_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to own the name " BROKER_BUS_NAME ": %m");
        return 0;
}

static void strv_freep(char ***p) {
        for (char **s = *p; s && *s; s++)
                free(*s);
        free(*p);
}

int broker_new(const BrokerConfig *config, Broker **ret) {
        _cleanup_(broker_freep) Broker *b = NULL;
        _cleanup_(strv_freep) char **names = NULL;
        _cleanup_free_ int *fds = NULL;
        int n, r;

        assert(config);
        assert(ret);

        b = calloc(1, sizeof *b);
        if (!b)
                return log_oom();
        b->limits = config->limits;
        b->idle_exit = config->idle_exit;
        b->idle_timeout_usec = config->idle_timeout_usec;
        /* What the layers below call back up into. */
        b->add_objects = broker_add_objects;
        b->listener_added = broker_emit_listener_added;
        b->listener_removed = broker_emit_listener_removed;
        b->listener_refused = broker_emit_listener_refused;

        r = polkit_registry_new(&b->polkit);
        if (r < 0)
                return log_oom();

        r = sd_event_default(&b->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");
        (void) sd_event_add_signal(b->event, NULL, SIGTERM, NULL, NULL);
        (void) sd_event_add_signal(b->event, NULL, SIGINT, NULL, NULL);
        r = sd_event_set_watchdog(b->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");
        r = sd_id128_randomize(&b->server_id);
        if (r < 0)
                return log_error_errno(r, "Failed to generate a server id: %m");

        r = kernel_features_probe(&b->kernel_features);
        if (r < 0)
                log_warning_errno(r, "Failed to probe kernel features, assuming none: %m");
        if (!(b->kernel_features & (1u << KERNEL_FEATURE_SYNC_WAKE_UP)))
                log_notice("Kernel lacks SYNC_WAKE_UP (6.6+): notifications will be slower.");

        log_open_journal();

        /* Never traceable or dumpable by anyone but root, whatever fs.suid_dumpable says: it holds every
         * sandbox's listener and the system bus connection, and briefly runs children in namespaces of
         * its own. */
        if (prctl(PR_SET_DUMPABLE, 0) < 0)
                return log_error_errno(-errno, "Failed to make ourselves non-dumpable: %m");

        r = target_setup_process();
        if (r < 0)
                return r;
        (void) capabilities_check_required();
        r = supervise_setup();
        if (r < 0)
                return r;

        /* The activation socket, and what the service manager kept for us across a restart. */
        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to read passed file descriptors: %m");
        fds = calloc(MAX(n, 1), sizeof *fds);
        if (!fds)
                return log_oom();
        for (int i = 0; i < n; i++)
                fds[i] = SD_LISTEN_FDS_START + i;
        for (int i = 0; i < n; i++) {
                if (names && names[i] && (startswith(names[i], "listener-") || startswith(names[i], "state-")))
                        continue;
                /* sysbrokerd-oci.socket (FileDescriptorName=oci): OCI runtimes' listenerPath. */
                if (names && names[i] && streq(names[i], "oci")) {
                        r = oci_start_accepting(b, fds[i]);
                        if (r < 0)
                                return r;
                        fds[i] = -EBADF;
                        continue;
                }
                if (b->accept_source)
                        return log_error_errno(-EINVAL, "Expected at most one socket, got another: '%s'.",
                                               names && names[i] ? names[i] : "?");
                r = connection_start_accepting(b, fds[i]);
                if (r < 0)
                        return r;
                fds[i] = -EBADF;
        }

        if (config->oci_socket_path) {
                int fd;

                r = oci_listen(config->oci_socket_path, &fd);
                if (r < 0)
                        return r;
                r = oci_start_accepting(b, fd);
                if (r < 0) {
                        safe_close(fd);
                        return r;
                }
        }

        r = broker_connect_system_bus(b);
        if (r < 0)
                return r;

        /* After the bus: restored listeners appear on it, and their rules are read back as D-Bus would
         * carry them. */
        if (names)
                (void) restore_listeners(b, fds, names, (size_t) n);

        broker_mark_active(b);
        *ret = TAKE_PTR(b);
        return 0;
}

static int broker_loop(Broker *b) {
        int r;

        for (;;) {
                r = sd_event_get_state(b->event);
                if (r < 0)
                        return r;
                if (r == SD_EVENT_FINISHED)
                        return 0;

                /* Only the rest of the idle time: other wake-ups (the watchdog's pings) must not push the
                 * exit back. */
                r = sd_event_run(b->event, broker_idle_remaining_usec(b));
                if (r < 0)
                        return log_error_errno(r, "Event loop failed: %m");

                if (broker_idle_remaining_usec(b) == 0) {
                        /* Give the name back first so a new call activates a new instance instead of being
                         * lost. Whatever reached us before the bus took it back is answered "call again",
                         * never served: serving it would keep this instance running without its name, where
                         * a new instance (started by the bus for the next call) cannot take the name, and
                         * systemd stops a Type=dbus service whose name went away, dropping the call. */
                        b->giving_up_name = true;
                        (void) sd_bus_release_name(b->system_bus, BROKER_BUS_NAME);
                        while (sd_bus_process(b->system_bus, NULL) > 0)
                                ;
                        log_info("Idle for %" PRIu64 " s, exiting.", b->idle_timeout_usec / USEC_PER_SEC);
                        return 0;
                }
        }
}

static bool broker_holds_listener(uint64_t id, void *userdata) {
        return listener_find(userdata, id);
}

int broker_run(Broker *b) {
        int r;

        assert(b);

        persist_mark_up(broker_holds_listener, b);

        log_info("sysbrokerd %s running%s%s.", PACKAGE_VERSION, b->accept_source ? " (with socket)" : "",
                 b->oci_accept_source ? " (with OCI socket)" : "");
        (void) sd_notify(false, "READY=1");
        broker_notify_status(b);

        r = broker_loop(b);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down.");
        return r;
}
