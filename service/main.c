/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysbrokerd: command line, the Broker context, bus setup, idle exit. */

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/prctl.h>
#include <systemd/sd-daemon.h>

#include "broker.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "persist.h"
#include "notify.h"
#include "supervise.h"
#include "capabilities.h"
#include "fs-util.h"
#include "target.h"

#define DEFAULT_IDLE_TIMEOUT_SEC 30
#define DEFAULT_CONNECTION_TIMEOUT_SEC 30

static bool arg_idle_exit = true;
static uint64_t arg_idle_timeout_sec = DEFAULT_IDLE_TIMEOUT_SEC;
static BrokerLimits arg_limits = {
        .rules = { .max_rules = 256, .max_string_length = 4096, .max_total_length = 64 * 1024 },
        .max_listeners = 4096,
        .max_listeners_per_user = 64,
        .max_connections = 1024,
        .max_description = 256,
        .polkit_timeout_usec = BROKER_DEFAULT_POLKIT_TIMEOUT_USEC,
        .max_message_size = 256 * 1024,
        .connection_timeout_usec = DEFAULT_CONNECTION_TIMEOUT_SEC * USEC_PER_SEC,
};

void broker_mark_active(Broker *b) {
        uint64_t now;

        if (sd_event_now(b->event, CLOCK_MONOTONIC, &now) >= 0)
                b->last_activity_usec = now;
}

int broker_get_caller(Broker *b, sd_bus_message *m, Caller *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        sd_bus *bus = sd_bus_message_get_bus(m);
        uint64_t start_time;
        int pidfd, r;

        if (bus != b->system_bus) {
                Connection *c = broker_find_connection(b, bus);
                r = connection_get_peer(c, &ret->pid, &ret->uid, &start_time, &pidfd);
                if (r < 0)
                        return r;
                ret->account_uid = connection_account_uid(c);
                ret->bus_name = NULL;
                ret->connection = c;
                return 0;
        }

        /* On the system bus the bus daemon vouches for the sender. */
        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &ret->uid);
        if (r < 0)
                return r;
        if (sd_bus_creds_get_pid(creds, &ret->pid) < 0)
                ret->pid = 0;
        ret->account_uid = account_uid_of(ret->pid, ret->uid);
        ret->bus_name = sd_bus_message_get_sender(m);
        ret->connection = NULL;
        return ret->bus_name ? 0 : -ENXIO;
}

/* Set once idle exit has begun giving the bus name back: from then on this instance serves nothing more. */
static bool giving_up_name = false;

/* Every method call is activity, whatever it asks (a property, an introspection, a ping): idle exit counts
 * from the last one. Once idle exit has begun, a call that still reaches us (it was on its way before the bus
 * took the name back) is answered with the error the bus itself gives for a name nobody owns: a client
 * calls again, and the bus starts a new instance for it (libsysbroker does so once). */
static int on_incoming_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        if (sd_bus_message_is_method_call(m, NULL, NULL) <= 0)
                return 0;
        if (giving_up_name) {
                log_debug("%s.%s() came in while giving up the bus name, asking the caller to call again.",
                          strempty(sd_bus_message_get_interface(m)), strempty(sd_bus_message_get_member(m)));
                (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                                  "sysbrokerd is exiting after being idle; call again to start "
                                                  "a new instance.");
                return 1; /* handled */
        }
        broker_mark_active(userdata);
        return 0; /* not handled: on to the vtables */
}

int broker_add_objects(Broker *b, sd_bus *bus) {
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

typedef struct Emission {
        Listener *listener;
        const char *reason;        /* NULL: ListenerAdded */
} Emission;

static void emit_on_bus(sd_bus *bus, void *userdata) {
        const Emission *e = userdata;
        int r;

        if (e->reason)
                r = sd_bus_emit_signal(bus, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "ListenerRemoved", "tos",
                                       e->listener->id, e->listener->object_path, e->reason);
        else
                r = sd_bus_emit_signal(bus, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "ListenerAdded", "to",
                                       e->listener->id, e->listener->object_path);
        if (r >= 0)
                r = sd_bus_emit_properties_changed(bus, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE,
                                                   "NListeners", NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to emit signal, ignoring: %m");
}

static void broker_notify_status(Broker *b) {
        (void) sd_notifyf(false, "STATUS=Serving %u listener%s.", b->n_listeners, b->n_listeners == 1 ? "" : "s");
}

void broker_emit_listener_added(Broker *b, Listener *l) {
        broker_foreach_bus(b, emit_on_bus, &(Emission) { .listener = l });
        broker_drop_backlogged_connections(b);
        broker_notify_status(b);
}

void broker_emit_listener_removed(Broker *b, Listener *l, const char *reason) {
        broker_foreach_bus(b, emit_on_bus, &(Emission) { .listener = l, .reason = reason });
        broker_drop_backlogged_connections(b);
        broker_notify_status(b);
}

static Broker *broker_free(Broker *b) {
        if (!b)
                return NULL;
        /* Connections first: a peer's pending polkit checks are cancelled, and their callbacks let go of the
         * registrations that waited for them, which must still be there. */
        connection_free_all(b);
        registration_free_all(b);
        listener_free_all(b);
        sd_event_source_disable_unref(b->watchdog_source);
        sd_bus_flush_close_unref(b->system_bus);
        sd_event_unref(b->event);
        free(b);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Broker *, broker_free);

/* How long until idle exit: UINT64_MAX while there is anything to serve (its end marks activity and wakes
 * the loop), 0 once idle for the whole timeout. */
static uint64_t broker_idle_remaining_usec(Broker *b) {
        uint64_t now;

        if (!b->idle_exit || b->listeners || b->registrations || b->n_polkit_queries > 0 || b->connections)
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

static int broker_new(Broker **ret) {
        _cleanup_(broker_freep) Broker *b = NULL;
        _cleanup_(strv_freep) char **names = NULL;
        _cleanup_free_ int *fds = NULL;
        int n, r;

        b = calloc(1, sizeof *b);
        if (!b)
                return log_oom();
        b->limits = arg_limits;
        b->idle_exit = arg_idle_exit;
        b->idle_timeout_usec = arg_idle_timeout_sec * USEC_PER_SEC;

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
                if (b->accept_source)
                        return log_error_errno(-EINVAL, "Expected at most one socket, got another: '%s'.",
                                               names && names[i] ? names[i] : "?");
                r = broker_start_accepting(b, fds[i]);
                if (r < 0)
                        return r;
                fds[i] = -EBADF;
        }

        r = broker_connect_system_bus(b);
        if (r < 0)
                return r;

        /* After the bus: restored listeners appear on it, and their rules are read back as D-Bus would
         * carry them. */
        if (names)
                (void) persist_restore(b, fds, names, (size_t) n);

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
                        giving_up_name = true;
                        (void) sd_bus_release_name(b->system_bus, BROKER_BUS_NAME);
                        while (sd_bus_process(b->system_bus, NULL) > 0)
                                ;
                        log_info("Idle for %" PRIu64 " s, exiting.", b->idle_timeout_usec / USEC_PER_SEC);
                        return 0;
                }
        }
}

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Performs privileged system calls for sandboxed processes, under polkit-authorized rules.\n\n"
               "  -h --help                     Show this help\n"
               "     --version                 Show package version\n"
               "     --no-idle-exit            Keep running when idle\n"
               "     --idle-timeout=SEC        Exit after SEC seconds idle (default: %u)\n"
               "     --log-level=LEVEL         err, warning, notice, info (default), debug\n"
               "     --max-listeners=N         Listeners in all (default: %u)\n"
               "     --max-listeners-per-user=N\n"
               "                               Listeners per owner uid (default: %u)\n"
               "     --max-rules=N             Rules per listener (default: %zu)\n"
               "     --max-string-length=N     Bytes per rule string (default: %zu)\n"
               "     --max-rules-length=N      Bytes of all rule strings of a listener (default: %zu)\n"
               "     --polkit-timeout=SEC      Wait SEC seconds for polkit's answer (default: %" PRIu64 ")\n"
               "     --max-message-size=N      Bytes of one message on the socket (default: %zu)\n"
               "     --connection-timeout=SEC  Drop a socket client that takes longer to authenticate\n"
               "                               or to send a message (default: %u)\n",
               program_invocation_short_name, DEFAULT_IDLE_TIMEOUT_SEC, arg_limits.max_listeners,
               arg_limits.max_listeners_per_user, arg_limits.rules.max_rules, arg_limits.rules.max_string_length,
               arg_limits.rules.max_total_length, BROKER_DEFAULT_POLKIT_TIMEOUT_USEC / USEC_PER_SEC,
               arg_limits.max_message_size, DEFAULT_CONNECTION_TIMEOUT_SEC);
}

static int parse_number(const char *option, const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != 0 || s[0] == '-' || v < min || v > max)
                return log_error_errno(-EINVAL, "Invalid value for --%s: '%s' (expected %" PRIu64 "…%" PRIu64 ").",
                                       option, s, min, max);
        *ret = v;
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_NO_IDLE_EXIT,
                ARG_IDLE_TIMEOUT,
                ARG_LOG_LEVEL,
                ARG_MAX_LISTENERS,
                ARG_MAX_LISTENERS_PER_USER,
                ARG_MAX_RULES,
                ARG_MAX_STRING_LENGTH,
                ARG_MAX_RULES_LENGTH,
                ARG_POLKIT_TIMEOUT,
                ARG_MAX_MESSAGE_SIZE,
                ARG_CONNECTION_TIMEOUT,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "no-idle-exit", no_argument, NULL, ARG_NO_IDLE_EXIT },
                { "idle-timeout", required_argument, NULL, ARG_IDLE_TIMEOUT },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "max-listeners", required_argument, NULL, ARG_MAX_LISTENERS },
                { "max-listeners-per-user", required_argument, NULL, ARG_MAX_LISTENERS_PER_USER },
                { "max-rules", required_argument, NULL, ARG_MAX_RULES },
                { "max-string-length", required_argument, NULL, ARG_MAX_STRING_LENGTH },
                { "max-rules-length", required_argument, NULL, ARG_MAX_RULES_LENGTH },
                { "polkit-timeout", required_argument, NULL, ARG_POLKIT_TIMEOUT },
                { "max-message-size", required_argument, NULL, ARG_MAX_MESSAGE_SIZE },
                { "connection-timeout", required_argument, NULL, ARG_CONNECTION_TIMEOUT },
                {}
        };
        uint64_t v;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                const char *name = c >= ARG_VERSION ? options[c - ARG_VERSION + 1].name : "help";

                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("sysbrokerd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_NO_IDLE_EXIT:
                        arg_idle_exit = false;
                        break;
                case ARG_IDLE_TIMEOUT:
                        r = parse_number(name, optarg, 1, 24 * 3600, &arg_idle_timeout_sec);
                        if (r < 0)
                                return r;
                        /* Asking for a timeout means wanting one, after --no-idle-exit too. */
                        arg_idle_exit = true;
                        break;
                case ARG_LOG_LEVEL:
                        r = log_parse_level(optarg);
                        if (r < 0)
                                return log_error_errno(r, "Unknown log level '%s'.", optarg);
                        log_set_max_level(r);
                        break;
                case ARG_MAX_LISTENERS:
                        r = parse_number(name, optarg, 1, 1 << 20, &v);
                        if (r < 0)
                                return r;
                        arg_limits.max_listeners = (unsigned) v;
                        break;
                case ARG_MAX_LISTENERS_PER_USER:
                        r = parse_number(name, optarg, 1, 1 << 20, &v);
                        if (r < 0)
                                return r;
                        arg_limits.max_listeners_per_user = (unsigned) v;
                        break;
                case ARG_MAX_RULES:
                        r = parse_number(name, optarg, 1, 1 << 16, &v);
                        if (r < 0)
                                return r;
                        arg_limits.rules.max_rules = v;
                        break;
                case ARG_MAX_STRING_LENGTH:
                        r = parse_number(name, optarg, 16, 4096, &v);
                        if (r < 0)
                                return r;
                        arg_limits.rules.max_string_length = v;
                        break;
                case ARG_MAX_RULES_LENGTH:
                        r = parse_number(name, optarg, 256, 16 << 20, &v);
                        if (r < 0)
                                return r;
                        arg_limits.rules.max_total_length = v;
                        break;
                case ARG_POLKIT_TIMEOUT:
                        r = parse_number(name, optarg, 1, 3600, &v);
                        if (r < 0)
                                return r;
                        arg_limits.polkit_timeout_usec = v * USEC_PER_SEC;
                        break;
                case ARG_MAX_MESSAGE_SIZE:
                        r = parse_number(name, optarg, 1024, 64 << 20, &v);
                        if (r < 0)
                                return r;
                        arg_limits.max_message_size = v;
                        break;
                case ARG_CONNECTION_TIMEOUT:
                        r = parse_number(name, optarg, 1, 3600, &v);
                        if (r < 0)
                                return r;
                        arg_limits.connection_timeout_usec = v * USEC_PER_SEC;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc)
                return log_error_errno(-EINVAL, "%s takes no arguments.", program_invocation_short_name);
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(broker_freep) Broker *b = NULL;
        sigset_t mask;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        /* Before any thread exists, so every thread inherits it: the main loop takes these via signalfd. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGPIPE);
        /* Defence in depth: job control and hangup signals a terminal could send (the daemon never takes
         * a controlling terminal: every open it makes for a sandbox has O_NOCTTY). */
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGQUIT);
        sigaddset(&mask, SIGTSTP);
        sigaddset(&mask, SIGTTIN);
        sigaddset(&mask, SIGTTOU);
        /* Listener threads start with it blocked too, and take it only once their handler can tell what
         * it interrupts (supervise.c). */
        sigaddset(&mask, SIGNAL_INTERRUPT);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);

        r = broker_new(&b);
        if (r < 0)
                return r;
        persist_mark_up(b);

        log_info("sysbrokerd %s running%s.", PACKAGE_VERSION, b->accept_source ? " (with socket)" : "");
        (void) sd_notify(false, "READY=1");
        broker_notify_status(b);

        r = broker_loop(b);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down.");
        return r;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
