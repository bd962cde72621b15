/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysbrokerd: the command line, read into a BrokerConfig; then run(), which hands it to broker.c. */

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>

#include "broker.h"
#include "config.h"
#include "log.h"
#include "rule-names.h"
#include "supervise.h"

#define DEFAULT_IDLE_TIMEOUT_SEC 30
#define DEFAULT_CONNECTION_TIMEOUT_SEC 30

static bool arg_idle_exit = true;
static const char *arg_oci_socket = NULL;
static uint64_t arg_idle_timeout_sec = DEFAULT_IDLE_TIMEOUT_SEC;
static BrokerLimits arg_limits = {
        .rules = {
                .max_rules = RULE_MAX_RULES_DEFAULT,
                .max_string_length = RULE_STRING_MAX_DEFAULT,
                .max_total_length = RULE_TOTAL_LENGTH_MAX_DEFAULT,
        },
        .max_listeners = 4096,
        .max_listeners_per_user = 64,
        .max_connections = 1024,
        .max_description = RULE_DESCRIPTION_MAX,
        .polkit_timeout_usec = BROKER_DEFAULT_POLKIT_TIMEOUT_USEC,
        .max_message_size = 256 * 1024,
        .connection_timeout_usec = DEFAULT_CONNECTION_TIMEOUT_SEC * USEC_PER_SEC,
};

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
               "                               or to send a message (default: %u)\n"
               "     --oci-socket=PATH         Listen for OCI runtimes (listenerPath) on PATH, without\n"
               "                               a service manager (else: sysbrokerd-oci.socket)\n",
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
                ARG_OCI_SOCKET,
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
                { "oci-socket", required_argument, NULL, ARG_OCI_SOCKET },
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
                case ARG_OCI_SOCKET:
                        if (optarg[0] != '/')
                                return log_error_errno(-EINVAL, "--oci-socket= takes an absolute path, not '%s'.",
                                                       optarg);
                        arg_oci_socket = optarg;
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

        r = broker_new(&(BrokerConfig) {
                                .limits = arg_limits,
                                .idle_exit = arg_idle_exit,
                                .idle_timeout_usec = arg_idle_timeout_sec * USEC_PER_SEC,
                                .oci_socket_path = arg_oci_socket,
                        }, &b);
        if (r < 0)
                return r;
        return broker_run(b);
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
