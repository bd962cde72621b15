/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysbrokerctl: run a command under sysbrokerd's supervision, and inspect or drop registered listeners.
 * `run` exits with the command's status, or 125 for its own failures, like env(1). */

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <limits.h>
#include <sys/wait.h>
#include <time.h>

#include <dlfcn.h>
#include <json-c/json.h>

#include "bus-dict.h"
#include "config.h"
#include "ctl.h"
#include "macro.h"
#include "seccomp-kernel.h"
#include "sysbroker.h"

#define PKTTYAGENT "/usr/bin/pkttyagent"

typedef enum Transport {
        TRANSPORT_SYSTEM,
        TRANSPORT_SOCKET,
} Transport;

static Transport arg_transport = TRANSPORT_SYSTEM;
static const char *arg_socket_path = NULL;
static bool arg_ask_password = true;

DEFINE_TRIVIAL_CLEANUP_FUNC(sysbroker_rules *, sysbroker_rules_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(sysbroker_client *, sysbroker_client_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(sysbroker_handoff *, sysbroker_handoff_free);

/* json-c is for list and status only: they load it (json_c_load()), so that run, on a sandbox's way to its
 * command, does not pay for loading and relocating it (about 0.15 ms per start here). */
#define JSON_C_FUNCTIONS(X) \
        X(json_object_array_add) \
        X(json_object_array_get_idx) \
        X(json_object_array_length) \
        X(json_object_get_string) \
        X(json_object_get_uint64) \
        X(json_object_is_type) \
        X(json_object_new_array) \
        X(json_object_new_boolean) \
        X(json_object_new_double) \
        X(json_object_new_int) \
        X(json_object_new_int64) \
        X(json_object_new_object) \
        X(json_object_new_string) \
        X(json_object_new_uint64) \
        X(json_object_object_add) \
        X(json_object_object_get_ex) \
        X(json_object_put) \
        X(json_object_to_json_string_ext) \
        X(json_tokener_parse)

#define JSON_C_DECLARE(f) static __typeof__(f) *sym_##f;
JSON_C_FUNCTIONS(JSON_C_DECLARE)

static int json_c_load(void) {
        static void *dl = NULL;

        if (dl)
                return 0;
        dl = dlopen(JSON_C_SONAME, RTLD_NOW);
        if (!dl) {
                error_msg("Failed to load %s: %s", JSON_C_SONAME, dlerror());
                return -EOPNOTSUPP;
        }
#define JSON_C_RESOLVE(f)                                                               \
        sym_##f = (__typeof__(f) *) dlsym(dl, #f);                                      \
        if (!sym_##f) {                                                                 \
                error_msg("Failed to load %s: %s", JSON_C_SONAME, dlerror());           \
                return -EOPNOTSUPP;                                                     \
        }
        JSON_C_FUNCTIONS(JSON_C_RESOLVE)
        return 0;
}

#define json_object_array_add sym_json_object_array_add
#define json_object_array_get_idx sym_json_object_array_get_idx
#define json_object_array_length sym_json_object_array_length
#define json_object_get_string sym_json_object_get_string
#define json_object_get_uint64 sym_json_object_get_uint64
#define json_object_is_type sym_json_object_is_type
#define json_object_new_array sym_json_object_new_array
#define json_object_new_boolean sym_json_object_new_boolean
#define json_object_new_double sym_json_object_new_double
#define json_object_new_int sym_json_object_new_int
#define json_object_new_int64 sym_json_object_new_int64
#define json_object_new_object sym_json_object_new_object
#define json_object_new_string sym_json_object_new_string
#define json_object_new_uint64 sym_json_object_new_uint64
#define json_object_object_add sym_json_object_object_add
#define json_object_object_get_ex sym_json_object_object_get_ex
#define json_object_put sym_json_object_put
#define json_object_to_json_string_ext sym_json_object_to_json_string_ext
#define json_tokener_parse sym_json_tokener_parse

/* The message the daemon sent if there is one, else what errno says. */
static const char *bus_error_message(const sd_bus_error *error, int r) {
        if (sd_bus_error_is_set(error) && error->message)
                return error->message;
        return strerror(abs(r));
}

/* Descriptions and patterns come from other users: keep their control characters off the terminal. */
static void print_escaped(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < ' ' || *p == 0x7f || *p == '\\')
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
}

static int help(void) {
        printf("sysbrokerctl [OPTIONS...] COMMAND ...\n\n"
               "Run a command whose mknod, open and mount calls sysbrokerd answers, and manage\n"
               "registered listeners.\n\n"
               "Commands:\n"
               "  run [RUN OPTIONS...] [--] CMD [ARG...]\n"
               "                            Run CMD with a seccomp filter registered with sysbrokerd\n"
               "  exec [--] CMD [ARG...]    As the sandbox's command under 'run --handoff': filter\n"
               "                            this process, hand the listener out, then execute CMD\n"
               "  list [--json]             List registered listeners, as a table or as JSON\n"
               "  status [--json] ID        Show a listener's properties and rules\n"
               "  unregister ID             Unregister a listener\n\n"
               "Options:\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the package version\n"
               "     --system               Talk to sysbrokerd on the system bus (default)\n"
               "     --socket[=PATH]        Talk to sysbrokerd on its socket (default: %s)\n"
               "     --no-ask-password      Do not ask for a password when polkit wants one\n\n"
               "Run options (rules; the first that matches a call decides):\n"
               "     --mknod='TYPE MAJ:MIN PATH[=HOSTDIR] [MODE]'\n"
               "                            Create device nodes matching this rule (TYPE c or b,\n"
               "                            PATH a pattern without spaces, MODE the maximum octal mode;\n"
               "                            with HOSTDIR, PATH is DIR/** and DIR must be HOSTDIR)\n"
               "     --deny-mknod='TYPE MAJ:MIN PATH'\n"
               "                            Fail mknod calls matching this rule with EPERM\n"
               "     --open='PATH[:r|w|rw][:create]'\n"
               "                            Open files matching PATH for reading (r, the default),\n"
               "                            writing (w) or both (rw), even without permission;\n"
               "                            ':create' also allows O_CREAT of a missing file and O_TRUNC\n"
               "     --open-host='PATH=HOSTPATH[:r|w|rw]'\n"
               "                            Answer opens of the literal PATH with the file HOSTPATH as\n"
               "                            sysbrokerd sees it (PATH ends at the first '='); a PATH\n"
               "                            DIR/** maps DIR/a/b to HOSTPATH/a/b, resolved beneath it\n"
               "     --deny-open=PATH       Fail every open of files matching PATH with EPERM\n"
               "     --continue-open=PATH   Let every open of files matching PATH go to the kernel, as\n"
               "                            if there were no filter (under --default=deny, what the\n"
               "                            sandbox may open itself: its libraries, /etc/ld.so.cache)\n"
               "     --mount='FSTYPE SOURCE TARGET[:ITEM,...]'\n"
               "                            Mount FSTYPE (bind, tmpfs, ext4, ...) from SOURCE ('-': any,\n"
               "                            tmpfs and ramfs only) on mount points matching TARGET;\n"
               "                            each ITEM is a flag calls may set (ro, noexec, ...), +FLAG\n"
               "                            or -FLAG to add FLAG to or drop it from the flags forced on\n"
               "                            every mount (nosuid,nodev), a data option pattern (size=*),\n"
               "                            or max-size=SIZE (tmpfs: the largest size=, with K/M/G/T)\n"
               "     --deny-mount='FSTYPE SOURCE TARGET'\n"
               "                            Fail mounts matching this rule with EPERM\n"
               "     --default=continue|deny\n"
               "                            What happens to trapped calls no rule matches\n"
               "     --description=TEXT     Describe the listener for 'list'\n"
               "     --tsync                Apply the filter to all threads\n"
               "     --handoff              Run CMD (a launcher) unfiltered; the filter is installed\n"
               "                            by the 'sysbrokerctl exec' it runs, through the socket\n"
               "                            named by $SYSBROKER_HANDOFF_FD\n"
               "  -v --verbose              Print on stderr why a matching rule was refused, as it\n"
               "                            happens (the file is not the host's, a nodev mount, ...)\n\n"
               "PATH is an absolute pattern in CMD's view: * and ? stay within one component,\n"
               "a trailing /** matches everything below a directory. A FIFO, socket or device node\n"
               "is only opened for a rule that names it without wildcards. The suffixes of --open are\n"
               "read from the end, so PATH may contain ':'; one ending in ':r', ':w' or ':rw' needs an\n"
               "explicit access mode after it, and one ending in ':create' is refused as ambiguous. The\n"
               "ITEMs of --mount follow the last ':', so a TARGET containing ':' ends in one more.\n\n"
               "'run' and 'exec' exit with CMD's status (128+N if killed by signal N), 125 if\n"
               "sysbrokerctl itself failed (for 'exec': registration too), 126 if CMD could not be\n"
               "executed, 127 if it was not found.\n",
               SYSBROKER_SOCKET_PATH);
        return 0;
}

/* Global options come before the command; report errors in the exit code of that command. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_SYSTEM,
                ARG_SOCKET,
                ARG_NO_ASK_PASSWORD,
        };
        static const struct option options[] = {
                { "help",            no_argument,       NULL, 'h'                 },
                { "version",         no_argument,       NULL, ARG_VERSION         },
                { "system",          no_argument,       NULL, ARG_SYSTEM          },
                { "socket",          optional_argument, NULL, ARG_SOCKET          },
                { "no-ask-password", no_argument,       NULL, ARG_NO_ASK_PASSWORD },
                {}
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help();
                case ARG_VERSION:
                        printf("sysbrokerctl %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_SYSTEM:
                        arg_transport = TRANSPORT_SYSTEM;
                        arg_socket_path = NULL;
                        break;
                case ARG_SOCKET:
                        arg_transport = TRANSPORT_SOCKET;
                        arg_socket_path = optarg;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        arg_ask_password = false;
                        break;
                case ':':
                        error_msg("Option '%s' needs an argument.", argv[optind - 1]);
                        return -EINVAL;
                case '?':
                default:
                        error_msg("Unknown option '%s'.", argv[optind - 1]);
                        return -EINVAL;
                }

        return 1;
}

static unsigned call_flags(void) {
        return arg_ask_password ? SYSBROKER_CALL_ALLOW_INTERACTIVE_AUTHORIZATION : 0;
}

static int connect_broker(sysbroker_client **ret) {
        int r;

        switch (arg_transport) {
        case TRANSPORT_SYSTEM:
                r = sysbroker_client_open_system(ret);
                if (r < 0)
                        error_msg("Failed to connect to the system bus: %s", strerror(-r));
                return r;
        case TRANSPORT_SOCKET:
                r = sysbroker_client_open_socket(arg_socket_path, ret);
                if (r < 0)
                        error_msg("Failed to connect to '%s': %s",
                                  arg_socket_path ?: sysbroker_default_socket_path(), strerror(-r));
                return r;
        }
        return -EINVAL;
}

/* Whether polkit_agent_open() starts one. A graphical agent may answer without a terminal; this one needs
 * ours. */
static bool polkit_agent_wanted(void) {
        return arg_ask_password && isatty(STDIN_FILENO) && access(PKTTYAGENT, X_OK) >= 0;
}

/* A text-mode polkit agent, so that a password can be asked on this terminal if no graphical agent
 * runs. Best effort: without one polkit simply says no. Returns the agent's pid, or 0. */
static pid_t polkit_agent_open(void) {
        _cleanup_close_ int notify_read = -EBADF, notify_write = -EBADF;
        int pipe_fds[2];
        pid_t agent, parent = getpid();

        if (!polkit_agent_wanted())
                return 0;

        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return 0;
        notify_read = pipe_fds[0];
        notify_write = pipe_fds[1];

        agent = fork();
        if (agent < 0)
                return 0;
        if (agent == 0) {
                char fd_str[12], pid_str[12];
                /* The write end must survive the exec; the copy F_DUPFD makes has no O_CLOEXEC. */
                int fd = fcntl(notify_write, F_DUPFD, 3);

                if (fd < 0)
                        _exit(EXIT_FAILURE);
                (void) snprintf(fd_str, sizeof fd_str, "%d", fd);
                (void) snprintf(pid_str, sizeof pid_str, "%d", (int) parent);
                execl(PKTTYAGENT, PKTTYAGENT, "--notify-fd", fd_str, "--fallback", "--process", pid_str,
                      (char *) NULL);
                _exit(EXIT_FAILURE);
        }

        /* The agent writes (or exits, closing the pipe) once it has registered with polkit. */
        notify_write = safe_close(notify_write);
        struct pollfd p = { .fd = notify_read, .events = POLLIN };
        (void) poll(&p, 1, 10 * 1000);
        return agent;
}

static void polkit_agent_close(pid_t agent) {
        if (agent <= 0)
                return;
        (void) kill(agent, SIGTERM);
        (void) kill(agent, SIGCONT);
        while (waitpid(agent, NULL, 0) < 0 && errno == EINTR)
                ;
}

static volatile sig_atomic_t child_pid = 0;

static void forward_signal(int sig) {
        if (child_pid <= 0)
                return;
        (void) kill(child_pid, sig);
        /* A stopped command would keep SIGTERM pending, and us waiting, until someone continued it: as
         * systemd's kill_and_sigcont(). */
        (void) kill(child_pid, SIGCONT);
}

/* From now on the command's fate is ours: Ctrl-C reaches it through the terminal already, the signals aimed
 * at us only are passed on. */
static void forward_signals_to(pid_t pid) {
        struct sigaction forward = { .sa_handler = forward_signal, .sa_flags = SA_RESTART };
        struct sigaction ignore = { .sa_handler = SIG_IGN };

        child_pid = pid;
        (void) sigaction(SIGTERM, &forward, NULL);
        (void) sigaction(SIGHUP, &forward, NULL);
        (void) sigaction(SIGINT, &ignore, NULL);
        (void) sigaction(SIGQUIT, &ignore, NULL);
}

static int wait_child(pid_t pid) {
        siginfo_t info = {};
        int status;

        /* Wait without reaping first: until the zombie is reaped its pid cannot be reused, so a signal
         * forwarded meanwhile reaches the child or nobody. Only then stop forwarding, and reap. */
        while (waitid(P_PID, (id_t) pid, &info, WEXITED | WNOWAIT) < 0)
                if (errno != EINTR)
                        break;
        child_pid = 0;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return EXIT_RUN_FAILURE;

        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return EXIT_RUN_FAILURE;
}

/* Why a registration failed, in words for the user. */
static char *registration_message(const sd_bus_error *error, int r) {
        char *m;
        int k;

        if (sd_bus_error_is_set(error) && !startswith(error->name, "System.Error."))
                k = asprintf(&m, "Registration refused: %s: %s", error->name, strempty(error->message));
        else
                k = asprintf(&m, "Failed to register the listener: %s", bus_error_message(error, r));
        return k < 0 ? NULL : m;
}

/* RegisterListener() with a polkit agent at hand. On failure *ret_message says why, in words for the
 * user. */
static int register_listener(sysbroker_client *client, int listener, const sysbroker_rules *rules,
                             uint64_t *ret_id, char **ret_message) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t id;
        pid_t agent;
        int r;

        /* The terminal agent costs a process and its registration with polkitd (about 4 ms here) before
         * the call, and most registrations need no password: ask without interaction first, and with the
         * agent only if polkit wants authentication. The daemon asks the same checks either way; it keeps
         * nothing of a refused registration, so the listener can be sent again. */
        r = -EAGAIN;
        if (polkit_agent_wanted()) {
                r = sysbroker_client_register(client, listener, rules, 0, &error, &path, &id);
                if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED)) {
                        sd_bus_error_free(&error);
                        r = -EAGAIN;
                }
        }
        if (r == -EAGAIN) {
                agent = polkit_agent_open();
                r = sysbroker_client_register(client, listener, rules, call_flags(), &error, &path, &id);
                polkit_agent_close(agent);
        }
        if (r < 0) {
                *ret_message = registration_message(&error, r);
                return r;
        }
        if (ret_id)
                *ret_id = id;
        return r;
}

/* What poll() may wait before the bus has something to time out (a method call's reply), -1 if nothing. */
static int bus_poll_timeout_msec(sd_bus *bus) {
        struct timespec ts;
        uint64_t timeout_usec, now;

        if (sd_bus_get_timeout(bus, &timeout_usec) < 0 || timeout_usec == UINT64_MAX)
                return -1;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
        return timeout_usec > now ? (int) MIN((timeout_usec - now + 999) / 1000, (uint64_t) INT_MAX) : 0;
}

/* Until the listener is there to read (0), or the launcher has exited, which ends the hand-off even with a
 * listener waiting: -EPIPE if nothing holds its end any more, -ECHILD if something still does. Any copy of
 * the launcher's end keeps the socket open, and the launcher's children inherit it: one left running in
 * the background (sh -c 'helper & …; exit') would otherwise keep us waiting forever, with SIGINT ignored
 * and SIGTERM forwarded to an exited launcher. What hands off after the launcher is gone is not the
 * launcher's last exec, and run's status would not be its own. */
static int wait_handoff(sysbroker_handoff *h, int pidfd, sd_bus *bus) {
        struct pollfd p[] = {
                { .fd = pidfd, .events = POLLIN },
                { .fd = sysbroker_handoff_get_fd(h), .events = POLLIN },
                { .fd = -EBADF },
        };

        for (;;) {
                int timeout_msec = -1;

                /* Meanwhile the connection's authentication and Hello() (two round trips, with the bus
                 * answering while the launcher sets the sandbox up), not after the hand-off, when the
                 * sandbox's command waits for them. Nothing is sent but what sd_bus_start() queued; a
                 * connection that fails here is left alone, and the registration reports its error. */
                p[2].fd = -EBADF;
                if (bus && sd_bus_is_ready(bus) == 0) {
                        int r;

                        while ((r = sd_bus_process(bus, NULL)) > 0)
                                ;
                        if (r == 0 && sd_bus_is_ready(bus) == 0) {
                                p[2].fd = sd_bus_get_fd(bus);
                                r = sd_bus_get_events(bus);
                                p[2].events = r > 0 ? (short) r : POLLIN;
                                timeout_msec = bus_poll_timeout_msec(bus);
                        }
                        if (p[2].fd < 0)
                                bus = NULL; /* ready, or failed: nothing more to do for it here */
                }

                if (poll(p, ELEMENTSOF(p), timeout_msec) < 0) {
                        /* Our forwarding handler: poll() is never restarted. */
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (p[0].revents != 0) {
                        /* An exiting process closes its fds before its pidfd turns readable: if the
                         * launcher held the last copy, the hang-up is there already. */
                        p[1].revents = 0;
                        (void) poll(p + 1, 1, 0);
                        return p[1].revents & POLLHUP ? -EPIPE : -ECHILD;
                }
                if (p[1].revents != 0)
                        return 0;
                /* p[2]: the bus, processed at the top of the loop. */
        }
}

/* run --verbose: the daemon's RuleRefused signals for our own listener. They are sent to this connection
 * alone (never broadcast), so no match on the bus is needed, only a filter here: the signal must come from
 * the daemon (on the system bus, the unique name that owns its name; a peer-to-peer connection is the
 * daemon's by itself), for our listener's object. */
typedef struct RefusalWatch {
        char *path;                /* our listener's object */
        char *daemon;              /* the daemon's unique name; NULL on the socket */
        sd_bus_slot *slot;
} RefusalWatch;

static void refusal_watch_done(RefusalWatch *w) {
        w->slot = sd_bus_slot_unref(w->slot);
        free(w->path);
        free(w->daemon);
        *w = (RefusalWatch) {};
}

static int on_bus_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const RefusalWatch *w = userdata;
        const char *description, *path, *reason;
        uint32_t rule, pid, missed;

        if (sd_bus_message_is_signal(m, SYSBROKER_LISTENER_INTERFACE, "RuleRefused") <= 0 ||
            !streq_ptr(sd_bus_message_get_path(m), w->path) ||
            (w->daemon && !streq_ptr(sd_bus_message_get_sender(m), w->daemon)))
                return 0;
        if (sd_bus_message_read(m, "usussu", &rule, &description, &pid, &path, &reason, &missed) < 0)
                return 0;

        /* One write per line: the command shares our stderr, and its own lines must not cut through ours. */
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&line, &size);
        if (!f)
                return 0;
        if (missed > 0)
                fprintf(f, "sysbrokerctl: (%" PRIu32 " more refusal%s not reported)\n", missed,
                        missed == 1 ? "" : "s");
        fprintf(f, "sysbrokerctl: rule %" PRIu32 " (", rule);
        print_escaped(f, description);
        fprintf(f, ") refused for pid %" PRIu32 ": ", pid);
        print_escaped(f, reason);
        fputc('\n', f);
        if (fclose(f) == 0)
                (void) !write(STDERR_FILENO, line, size);
        return 1;
}

/* Before the command runs, so that nothing it is refused goes unseen. */
static int refusal_watch_start(sysbroker_client *client, uint64_t id, RefusalWatch *w) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        sd_bus *bus = sysbroker_client_get_bus(client);
        const char *destination = sysbroker_client_get_destination(client), *unique;
        int r;

        if (asprintf(&w->path, SYSBROKER_LISTENER_PATH_PREFIX "%" PRIu64, id) < 0) {
                w->path = NULL;
                return -ENOMEM;
        }
        if (destination) {
                r = sd_bus_get_name_creds(bus, destination, SD_BUS_CREDS_UNIQUE_NAME, &creds);
                if (r < 0)
                        return r;
                r = sd_bus_creds_get_unique_name(creds, &unique);
                if (r < 0)
                        return r;
                w->daemon = strdup(unique);
                if (!w->daemon)
                        return -ENOMEM;
        }
        return sd_bus_add_filter(bus, &w->slot, on_bus_message, w);
}

/* A diagnostic: without it the command still runs, as without --verbose. */
static bool refusal_watch_begin(sysbroker_client *client, uint64_t id, RefusalWatch *w) {
        int r = refusal_watch_start(client, id, w);

        if (r < 0)
                error_msg("Cannot watch the listener's refusals, running without --verbose: %s", strerror(-r));
        return r >= 0;
}

/* wait_child(), printing refusals while the command runs. After it ended, one round trip to the daemon:
 * a refusal is queued before its call is answered and sent before any later call of ours is served, so
 * every refusal of the command's has arrived by the reply. */
static int wait_child_watching(pid_t pid, sysbroker_client *client) {
        sd_bus *bus = sysbroker_client_get_bus(client);
        _cleanup_close_ int pidfd = sys_pidfd_open(pid, 0);
        bool bus_up = true;
        int r;

        if (pidfd < 0)
                return wait_child(pid);

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = pidfd, .events = POLLIN },
                        { .fd = -1 },
                };
                int timeout_msec = -1;

                while (bus_up && (r = sd_bus_process(bus, NULL)) > 0)
                        ;
                if (bus_up && r < 0) {
                        /* The daemon went away: nothing more to hear, the command runs on. */
                        bus_up = false;
                }
                if (bus_up) {
                        p[1].fd = sd_bus_get_fd(bus);
                        r = sd_bus_get_events(bus);
                        p[1].events = r > 0 ? (short) r : POLLIN;
                        timeout_msec = bus_poll_timeout_msec(bus);
                }
                if (poll(p, 2, timeout_msec) < 0 && errno != EINTR)
                        break;
                if (p[0].revents & POLLIN)
                        break;
        }

        r = wait_child(pid);
        if (bus_up) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

                (void) sd_bus_call_method(bus, sysbroker_client_get_destination(client), SYSBROKER_OBJECT_PATH,
                                          "org.freedesktop.DBus.Peer", "Ping", &error, NULL, NULL);
                while (sd_bus_process(bus, NULL) > 0)
                        ;
        }
        return r;
}

/* run --handoff: the launcher runs unfiltered with the other end of the hand-off socket; whatever it runs
 * as the sandbox's command (sysbrokerctl exec) sends the listener back, which is registered here as `run`
 * registers its child's. Returns the exit status. */
static int run_handoff(sysbroker_client *client, const sysbroker_rules *rules, unsigned filter_flags,
                       bool verbose, char **cmd) {
        _cleanup_(sysbroker_handoff_freep) sysbroker_handoff *h = NULL;
        _cleanup_(refusal_watch_done) RefusalWatch watch = {};
        _cleanup_close_ int listener = -EBADF, pidfd = -EBADF;
        _cleanup_free_ char *message = NULL;
        uint64_t id = 0;
        pid_t pid;
        int r;

        r = sysbroker_handoff_new(rules, filter_flags, &h);
        if (r < 0) {
                error_msg("Failed to create the hand-off socket: %s", strerror(-r));
                return EXIT_RUN_FAILURE;
        }

        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                error_msg("Failed to fork: %m");
                return EXIT_RUN_FAILURE;
        }
        if (pid == 0) {
                char fd_str[12];
                /* The launcher and what it runs inherit the end; the copy F_DUPFD makes has no O_CLOEXEC. */
                int fd = fcntl(sysbroker_handoff_get_child_fd(h), F_DUPFD, 3);

                if (fd < 0) {
                        error_msg("Failed to pass on the hand-off socket: %m");
                        _exit(EXIT_RUN_FAILURE);
                }
                (void) snprintf(fd_str, sizeof fd_str, "%d", fd);
                if (setenv(SYSBROKER_HANDOFF_FD_ENV, fd_str, 1) < 0) {
                        error_msg("Failed to set $" SYSBROKER_HANDOFF_FD_ENV ": %m");
                        _exit(EXIT_RUN_FAILURE);
                }
                execvp(cmd[0], cmd);
                r = errno;
                error_msg("Failed to execute '%s': %s", cmd[0], strerror(r));
                _exit(r == ENOENT ? EXIT_ENOENT : EXIT_CANNOT_INVOKE);
        }
        /* Ours closed, a launcher that exits without handing off ends the wait below. */
        sysbroker_handoff_close_child_fd(h);

        /* The launcher may take its time setting the sandbox up: it gets our signals already. */
        forward_signals_to(pid);

        /* Not reaped before wait_child(): the pid, and so the pidfd, are still the launcher's. */
        pidfd = sys_pidfd_open(pid, 0);
        if (pidfd < 0) {
                r = negative_errno();
                error_msg("Failed to watch the command (pidfd_open): %s", strerror(-r));
                h = sysbroker_handoff_free(h);
                (void) kill(pid, SIGKILL);
                (void) wait_child(pid);
                return EXIT_RUN_FAILURE;
        }

        r = wait_handoff(h, pidfd, sysbroker_client_get_bus(client));
        if (r >= 0)
                r = sysbroker_handoff_receive_listener(h, &listener);
        if (r < 0) {
                /* Closed first: an inner side still waiting for an answer then gives up. */
                h = sysbroker_handoff_free(h);
                int status = wait_child(pid);

                /* The launcher or the inner side has said why; pass on its exit code. */
                if (r == -ECHILD && status == 0)
                        error_msg("The command exited before handing off a listener: a 'sysbrokerctl exec' "
                                  "it left behind is refused.");
                else if (r == -EPIPE && status == 0)
                        error_msg("The command exited without handing off a listener "
                                  "(it did not run 'sysbrokerctl exec').");
                else if (r != -EPIPE && r != -ECHILD)
                        error_msg("Failed to receive the listener: %s", strerror(-r));
                return status != 0 ? status : EXIT_RUN_FAILURE;
        }

        r = register_listener(client, listener, rules, &id, &message);
        listener = safe_close(listener);
        if (r >= 0 && verbose)
                verbose = refusal_watch_begin(client, id, &watch);
        if (r < 0) {
                /* The inner side prints it (it owns the sandbox's stderr); say it here only if it cannot. */
                if (sysbroker_handoff_answer(h, r, message) < 0)
                        error_msg("%s", message ?: strerror(-r));
                h = sysbroker_handoff_free(h);
                (void) wait_child(pid);
                return EXIT_RUN_FAILURE;
        }

        r = sysbroker_handoff_answer(h, 0, NULL);
        h = sysbroker_handoff_free(h);
        if (r < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

                /* Nobody took the go, so nothing runs as the sandbox's command; whatever the filter is still
                 * on (what the inner side forked, say) is not served in its name. As run without --handoff
                 * does when its child cannot be started: 125, nothing left registered. */
                error_msg("Failed to start the command: %s", strerror(-r));
                r = sysbroker_client_unregister(client, id, 0, &error);
                if (r < 0)
                        error_msg("Failed to unregister listener %" PRIu64 ": %s", id,
                                  bus_error_message(&error, r));
                (void) wait_child(pid);
                return EXIT_RUN_FAILURE;
        }

        return verbose ? wait_child_watching(pid, client) : wait_child(pid);
}

static int verb_exec(int argc, char *argv[]) {
        int r = ctl_exec(argc, argv);

        return r == CTL_EXEC_HELP ? help() : r;
}

/* Every open of PATH. A deny or continue rule covers every open of its path whatever its Access and Create
 * say; they are sent as the widest anyway, so the rule reads as what it does (in `status` too). PATH is
 * taken as it is, colons and all. */
static int add_every_open(sysbroker_rules *rules, sysbroker_action action, const char *path) {
        return sysbroker_rules_add_open(rules, action, path, SYSBROKER_ACCESS_READ_WRITE, true, NULL);
}

static int verb_run(int argc, char *argv[]) {
        enum {
                ARG_MKNOD = 0x100,
                ARG_DENY_MKNOD,
                ARG_OPEN,
                ARG_OPEN_HOST,
                ARG_DENY_OPEN,
                ARG_CONTINUE_OPEN,
                ARG_MOUNT,
                ARG_DENY_MOUNT,
                ARG_DEFAULT,
                ARG_DESCRIPTION,
                ARG_TSYNC,
                ARG_HANDOFF,
        };
        static const struct option options[] = {
                { "help",        no_argument,       NULL, 'h'             },
                { "mknod",       required_argument, NULL, ARG_MKNOD       },
                { "deny-mknod",  required_argument, NULL, ARG_DENY_MKNOD  },
                { "open",        required_argument, NULL, ARG_OPEN        },
                { "open-host",   required_argument, NULL, ARG_OPEN_HOST   },
                { "deny-open",   required_argument, NULL, ARG_DENY_OPEN   },
                { "continue-open", required_argument, NULL, ARG_CONTINUE_OPEN },
                { "mount",       required_argument, NULL, ARG_MOUNT       },
                { "deny-mount",  required_argument, NULL, ARG_DENY_MOUNT  },
                { "default",     required_argument, NULL, ARG_DEFAULT     },
                { "description", required_argument, NULL, ARG_DESCRIPTION },
                { "tsync",       no_argument,       NULL, ARG_TSYNC       },
                { "handoff",     no_argument,       NULL, ARG_HANDOFF     },
                { "verbose",     no_argument,       NULL, 'v'             },
                {}
        };
        /* The rule options, in the order of their ARG_ values. */
        static const struct {
                const char *name;
                int (*add)(sysbroker_rules *rules, sysbroker_action action, const char *spec);
                sysbroker_action action;
        } rule_options[] = {
                { "mknod",      sysbroker_rules_add_mknod_spec,     SYSBROKER_ACTION_EMULATE },
                { "deny-mknod", sysbroker_rules_add_mknod_spec,     SYSBROKER_ACTION_DENY    },
                { "open",       sysbroker_rules_add_open_spec,      SYSBROKER_ACTION_EMULATE },
                { "open-host",  sysbroker_rules_add_open_host_spec, SYSBROKER_ACTION_EMULATE },
                { "deny-open",  add_every_open,                      SYSBROKER_ACTION_DENY    },
                { "continue-open", add_every_open,                   SYSBROKER_ACTION_CONTINUE },
                { "mount",      sysbroker_rules_add_mount_spec,     SYSBROKER_ACTION_EMULATE },
                { "deny-mount", sysbroker_rules_add_mount_spec,     SYSBROKER_ACTION_DENY    },
        };
        _Static_assert(ELEMENTSOF(rule_options) == ARG_DENY_MOUNT - ARG_MKNOD + 1, "a row per option");
        _cleanup_(sysbroker_rules_freep) sysbroker_rules *rules = NULL;
        _cleanup_(sysbroker_client_freep) sysbroker_client *client = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(refusal_watch_done) RefusalWatch watch = {};
        uint64_t id = 0;
        unsigned filter_flags = 0;
        bool handoff = false, verbose = false;
        sysbroker_action action;
        pid_t agent, pid;
        int c, r;

        r = sysbroker_rules_new(&rules);
        if (r < 0) {
                error_msg("Failed to allocate rules: %s", strerror(-r));
                return EXIT_RUN_FAILURE;
        }

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:hv", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help();
                case 'v':
                        verbose = true;
                        break;
                case ARG_MKNOD:
                case ARG_DENY_MKNOD:
                case ARG_OPEN:
                case ARG_OPEN_HOST:
                case ARG_DENY_OPEN:
                case ARG_CONTINUE_OPEN:
                case ARG_MOUNT:
                case ARG_DENY_MOUNT: {
                        const __typeof__(rule_options[0]) *o = &rule_options[c - ARG_MKNOD];

                        r = o->add(rules, o->action, optarg);
                        if (r < 0) {
                                error_msg("Invalid --%s: %s", o->name,
                                          sysbroker_rules_get_error(rules) ?: strerror(-r));
                                return EXIT_RUN_FAILURE;
                        }
                        break;
                }
                case ARG_DEFAULT:
                        if (sysbroker_action_from_string(optarg, &action) < 0 ||
                            sysbroker_rules_set_default_action(rules, action) < 0) {
                                error_msg("Invalid --default '%s': expected 'continue' or 'deny'.", optarg);
                                return EXIT_RUN_FAILURE;
                        }
                        break;
                case ARG_DESCRIPTION:
                        r = sysbroker_rules_set_description(rules, optarg);
                        if (r < 0) {
                                error_msg("Invalid --description: %s",
                                          sysbroker_rules_get_error(rules) ?: strerror(-r));
                                return EXIT_RUN_FAILURE;
                        }
                        break;
                case ARG_TSYNC:
                        filter_flags |= SYSBROKER_FILTER_TSYNC;
                        break;
                case ARG_HANDOFF:
                        handoff = true;
                        break;
                case ':':
                        error_msg("Option '%s' needs an argument.", argv[optind - 1]);
                        return EXIT_RUN_FAILURE;
                case '?':
                default:
                        error_msg("Unknown option '%s'.", argv[optind - 1]);
                        return EXIT_RUN_FAILURE;
                }

        if (optind >= argc) {
                error_msg("No command given: 'run [OPTIONS] -- CMD [ARG...]'.");
                return EXIT_RUN_FAILURE;
        }
        if (sysbroker_rules_count(rules) == 0) {
                error_msg("No rules given: use --mknod, --deny-mknod, --open, --open-host, --deny-open, "
                          "--continue-open, --mount or --deny-mount.");
                return EXIT_RUN_FAILURE;
        }

        /* Connect first: if sysbrokerd cannot be reached, the command never starts. */
        if (connect_broker(&client) < 0)
                return EXIT_RUN_FAILURE;

        if (handoff)
                return run_handoff(client, rules, filter_flags, verbose, argv + optind);

        /* The filter, the registration (with a polkit agent at hand) and the exec, in one call: the command
         * runs only once its listener is registered. */
        fflush(NULL);
        /* Without interaction first, as register_listener() does: the agent only if polkit wants a password.
         * A refused spawn ran nothing and left nothing, so it can be made again. */
        r = -EAGAIN;
        if (polkit_agent_wanted()) {
                r = sysbroker_spawn(client, rules, filter_flags, 0, argv + optind, NULL, &error, &pid, &id);
                if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED)) {
                        sd_bus_error_free(&error);
                        r = -EAGAIN;
                }
        }
        if (r == -EAGAIN) {
                agent = polkit_agent_open();
                r = sysbroker_spawn(client, rules, filter_flags, call_flags(), argv + optind, NULL, &error,
                                    &pid, &id);
                polkit_agent_close(agent);
        }
        /* The command may be refused before the watch is set up: the daemon's signals wait in the
         * connection's queue meanwhile, as sd_bus_call() leaves them there. */
        if (r >= 0 && verbose)
                verbose = refusal_watch_begin(client, id, &watch);
        /* Only --verbose still needs the daemon. */
        if (!verbose)
                client = sysbroker_client_free(client);
        if (r < 0) {
                _cleanup_free_ char *message = NULL;

                if (sd_bus_error_has_name(&error, SYSBROKER_SPAWN_ERROR_EXEC)) {
                        error_msg("%s", error.message);
                        return r == -ENOENT ? EXIT_ENOENT : EXIT_CANNOT_INVOKE;
                }
                if (sd_bus_error_has_name(&error, SYSBROKER_SPAWN_ERROR_FILTER))
                        error_msg("%s", error.message);
                else {
                        message = registration_message(&error, r);
                        error_msg("%s", message ?: strerror(-r));
                }
                return EXIT_RUN_FAILURE;
        }

        forward_signals_to(pid);
        return verbose ? wait_child_watching(pid, client) : wait_child(pid);
}

static int parse_id(const char *s, uint64_t *ret) {
        char *end;

        if (!s || strspn(s, "0123456789") != strlen(s) || s[0] == '\0')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0' || v == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int new_call(sysbroker_client *client, const char *path, const char *interface, const char *member,
                    sd_bus_message **ret) {
        int r;

        r = sd_bus_message_new_method_call(sysbroker_client_get_bus(client), ret,
                                           sysbroker_client_get_destination(client), path, interface, member);
        if (r < 0)
                return r;
        return sd_bus_message_set_allow_interactive_authorization(*ret, arg_ask_password);
}

/* json_object_put() returns an int, not NULL: no DEFINE_TRIVIAL_CLEANUP_FUNC. */
static void json_object_putp(json_object **o) {
        if (*o)
                (void) json_object_put(*o);
}

/* Takes "--json" from a verb's arguments (anywhere among them); the rest stay in argv, in order. */
static bool take_json_flag(int *argc, char *argv[]) {
        bool json = false;
        int n = 1;

        for (int i = 1; i < *argc; i++)
                if (streq(argv[i], "--json"))
                        json = true;
                else
                        argv[n++] = argv[i];
        *argc = n;
        argv[n] = NULL;
        return json;
}

static void print_json(json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                JSON_C_TO_STRING_NOSLASHESCAPE));
}

static uint64_t json_u64(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

static const char *json_str(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
                json_object_get_string(v) : "";
}

/* A realtime timestamp in µs as local time, like systemd's tools ("-" for none). */
static void format_timestamp(char *buf, size_t size, uint64_t usec) {
        struct tm tm;
        time_t t = (time_t) (usec / 1000000);

        if (usec == 0 || !localtime_r(&t, &tm) || strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                (void) snprintf(buf, size, "-");
}

#define CELL_MAX 64

/* A number of the listener's, or "-" where Describe() leaves it out (another user's listener, seen by a
 * manager: only what ListListeners would list). */
static void cell_number(char cell[static CELL_MAX], json_object *l, const char *key) {
        if (json_object_object_get_ex(l, key, NULL))
                (void) snprintf(cell, CELL_MAX, "%" PRIu64, json_u64(l, key));
        else
                strcpy(cell, "-");
}

/* The columns of 'list'; the description last, unpadded, since it alone may be long. */
enum {
        COLUMN_ID,
        COLUMN_UID,
        COLUMN_PID,
        COLUMN_REGISTERED,
        COLUMN_DEFAULT,
        COLUMN_RULES,
        COLUMN_CALLS,
        COLUMN_DENIED,
        _COLUMN_MAX,
};

static void print_listener_table(json_object *listeners) {
        static const char *const headers[_COLUMN_MAX] = {
                "ID", "UID", "PID", "REGISTERED", "DEFAULT", "RULES", "CALLS", "DENIED",
        };
        size_t n = json_object_array_length(listeners);
        int widths[_COLUMN_MAX];

        if (n == 0) {
                puts("No listeners.");
                return;
        }

        /* Two passes: the first sizes the columns. */
        for (int c = 0; c < _COLUMN_MAX; c++)
                widths[c] = (int) strlen(headers[c]);
        for (int pass = 0; pass < 2; pass++) {
                if (pass == 1) {
                        for (int c = 0; c < _COLUMN_MAX; c++)
                                printf("%-*s ", widths[c], headers[c]);
                        puts("DESCRIPTION");
                }
                for (size_t i = 0; i < n; i++) {
                        json_object *l = json_object_array_get_idx(listeners, i), *rules;
                        char cells[_COLUMN_MAX][CELL_MAX];

                        cell_number(cells[COLUMN_ID], l, "Id");
                        cell_number(cells[COLUMN_UID], l, "OwnerUID");
                        cell_number(cells[COLUMN_PID], l, "OwnerPID");
                        if (json_object_object_get_ex(l, "RegisteredTimestamp", NULL))
                                format_timestamp(cells[COLUMN_REGISTERED], sizeof cells[0],
                                                 json_u64(l, "RegisteredTimestamp"));
                        else
                                strcpy(cells[COLUMN_REGISTERED], "-");
                        (void) snprintf(cells[COLUMN_DEFAULT], sizeof cells[0], "%s",
                                        json_str(l, "DefaultAction")[0] ? json_str(l, "DefaultAction") : "-");
                        if (json_object_object_get_ex(l, "Rules", &rules))
                                (void) snprintf(cells[COLUMN_RULES], sizeof cells[0], "%zu",
                                                json_object_array_length(rules));
                        else
                                strcpy(cells[COLUMN_RULES], "-");
                        cell_number(cells[COLUMN_CALLS], l, "Notifications");
                        cell_number(cells[COLUMN_DENIED], l, "Denied");

                        for (int c = 0; c < _COLUMN_MAX; c++) {
                                if (pass == 0)
                                        widths[c] = MAX(widths[c], (int) strlen(cells[c]));
                                else
                                        printf("%-*s ", widths[c], cells[c]);
                        }
                        if (pass == 1) {
                                print_escaped(stdout, json_str(l, "Description"));
                                putchar('\n');
                        }
                }
        }
}

/* The state as a sysbrokerd before Describe() tells it: ListListeners' (id, path, uid, description) as the
 * same JSON, so that the table and --json read one form; the rest is unknown and shows as "-". */
static int list_listeners_as_json(sysbroker_client *client, sd_bus_error *error, json_object **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(json_object_putp) json_object *state = json_object_new_object();
        json_object *listeners = json_object_new_array();
        const char *path, *description;
        uint64_t id;
        uint32_t uid;
        int r;

        if (!state || !listeners || json_object_object_add(state, "Listeners", listeners) < 0) {
                json_object_put(listeners);
                return -ENOMEM;
        }
        r = new_call(client, SYSBROKER_OBJECT_PATH, SYSBROKER_MANAGER_INTERFACE, "ListListeners", &m);
        if (r >= 0)
                r = sd_bus_call(sysbroker_client_get_bus(client), m, 0, error, &reply);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(tous)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(tous)", &id, &path, &uid, &description)) > 0) {
                json_object *l = json_object_new_object();

                if (!l || json_object_array_add(listeners, l) < 0) {
                        json_object_put(l);
                        return -ENOMEM;
                }
                if (json_object_object_add(l, "Id", json_object_new_uint64(id)) < 0 ||
                    json_object_object_add(l, "ObjectPath", json_object_new_string(path)) < 0 ||
                    json_object_object_add(l, "OwnerUID", json_object_new_uint64(uid)) < 0 ||
                    json_object_object_add(l, "Description", json_object_new_string(description)) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(state);
        return 0;
}

static int verb_list(int argc, char *argv[]) {
        _cleanup_(sysbroker_client_freep) sysbroker_client *client = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(json_object_putp) json_object *state = NULL;
        json_object *listeners;
        bool json = take_json_flag(&argc, argv);
        const char *text;
        pid_t agent;
        int r;

        if (argc > 1) {
                error_msg("'list' takes no arguments but --json.");
                return EXIT_FAILURE;
        }
        if (json_c_load() < 0)
                return EXIT_FAILURE;
        if (connect_broker(&client) < 0)
                return EXIT_FAILURE;

        /* Describe() has everything a row needs in one call; the listeners in it are those ListListeners
         * would return. */
        r = new_call(client, SYSBROKER_OBJECT_PATH, SYSBROKER_MANAGER_INTERFACE, "Describe", &m);
        if (r >= 0) {
                agent = polkit_agent_open();
                r = sd_bus_call(sysbroker_client_get_bus(client), m, 0, &error, &reply);
                if (sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                        /* A daemon older than Describe(): what it can tell. */
                        sd_bus_error_free(&error);
                        r = list_listeners_as_json(client, &error, &state);
                } else if (r >= 0) {
                        r = sd_bus_message_read(reply, "s", &text);
                        if (r >= 0)
                                state = json_tokener_parse(text);
                }
                polkit_agent_close(agent);
        }
        if (r < 0) {
                error_msg("Failed to list listeners: %s", bus_error_message(&error, r));
                return EXIT_FAILURE;
        }
        if (!state || !json_object_object_get_ex(state, "Listeners", &listeners) ||
            !json_object_is_type(listeners, json_type_array)) {
                error_msg("Failed to parse the list of listeners: not the JSON sysbrokerd sends.");
                return EXIT_FAILURE;
        }

        if (json)
                print_json(state);
        else
                print_listener_table(listeners);
        return EXIT_SUCCESS;
}

/* One value of a variant, of the types the listener's properties and rules use. */
static int print_basic_value(FILE *f, sd_bus_message *m, const char *key, char type) {
        union {
                const char *s;
                uint32_t u;
                int32_t i;
                uint64_t t;
                int64_t x;
                int b;
                uint8_t y;
                uint16_t q;
                int16_t n;
                double d;
        } v;
        const char *name;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;

        switch (type) {
        case 's':
        case 'o':
        case 'g':
                print_escaped(f, v.s);
                break;
        case 'u':
                /* Permission bits read best in octal, errno values by name. */
                if (key && streq(key, "Mode"))
                        fprintf(f, "0%" PRIo32, v.u);
                else
                        fprintf(f, "%" PRIu32, v.u);
                break;
        case 'i':
                name = key && streq(key, "Errno") ? strerrorname_np(v.i) : NULL;
                if (name)
                        fputs(name, f);
                else
                        fprintf(f, "%" PRIi32, v.i);
                break;
        case 't':
                fprintf(f, "%" PRIu64, v.t);
                break;
        case 'x':
                fprintf(f, "%" PRIi64, v.x);
                break;
        case 'b':
                fputs(v.b ? "yes" : "no", f);
                break;
        case 'y':
                fprintf(f, "%u", (unsigned) v.y);
                break;
        case 'q':
                fprintf(f, "%u", (unsigned) v.q);
                break;
        case 'n':
                fprintf(f, "%d", (int) v.n);
                break;
        case 'd':
                fprintf(f, "%g", v.d);
                break;
        default:
                return -EBADMSG;
        }
        return 0;
}

/* The value inside the variant the message is positioned at: basic types and arrays of them. */
static int print_variant(FILE *f, sd_bus_message *m, const char *key) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;

        if (contents[0] == 'a' && contents[1] != '\0' && contents[2] == '\0') {
                bool first = true;

                r = sd_bus_message_enter_container(m, 'a', contents + 1);
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_peek_type(m, &type, NULL)) > 0) {
                        if (!first)
                                fputc(',', f);
                        first = false;
                        r = print_basic_value(f, m, key, type);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
        } else if (contents[0] != '\0' && contents[1] == '\0')
                r = print_basic_value(f, m, key, contents[0]);
        else {
                fprintf(f, "(%s)", contents);
                r = sd_bus_message_skip(m, contents);
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

typedef struct RulePrint {
        const char *syscall, *action;
        FILE *rest;
} RulePrint;

/* Keys that bound what an emulate rule grants. A deny or continue rule covers every call of its path or
 * device whatever they say, so they are not shown for it; sysbrokerd no longer sends them, older ones did. */
static bool rule_key_applies_to_emulate_only(const char *key) {
        static const char *const keys[] = { "Access", "Create", "Mode", "AllowedFlags", "ForcedFlags", "Options" };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(key, keys[i]))
                        return true;
        return false;
}

static int print_rule_key(sd_bus_message *m, const char *key, const char *contents, void *userdata) {
        RulePrint *p = userdata;

        if (streq(key, "Syscall") && streq(contents, "s"))
                return sd_bus_message_read(m, "v", "s", &p->syscall);
        if (streq(key, "Action") && streq(contents, "s"))
                return sd_bus_message_read(m, "v", "s", &p->action);
        /* sysbrokerd sends Action second, before any of these. */
        if (!streq(p->action, "emulate") && rule_key_applies_to_emulate_only(key))
                return sd_bus_message_skip(m, "v");
        fprintf(p->rest, " %s=", key);
        return print_variant(p->rest, m, key);
}

/* A rule on one line: "mknod emulate Path=/dev/null Type=c Major=1 Minor=3 Mode=0666". Syscall and
 * Action lead; every other key, including ones this version does not know, follows as sent. */
static int print_rule(sd_bus_message *m) {
        _cleanup_free_ char *rest = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        RulePrint p = { .syscall = "?", .action = "emulate" };
        size_t size;
        int r;

        f = open_memstream(&rest, &size);
        if (!f)
                return -ENOMEM;

        p.rest = f;
        r = bus_dict_foreach(m, print_rule_key, &p);
        if (r < 0)
                return r;

        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        print_escaped(stdout, p.syscall);
        putchar(' ');
        print_escaped(stdout, p.action);
        fputs(rest, stdout);
        return 0;
}

static int print_rules(sd_bus_message *m) {
        int r;

        r = sd_bus_message_enter_container(m, 'v', "aa{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        for (unsigned i = 0;; i++) {
                r = sd_bus_message_at_end(m, false);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
                printf("        %u: ", i);
                r = print_rule(m);
                if (r < 0)
                        return r;
                putchar('\n');
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Property names are padded to this, so that the values form a column. */
#define STATUS_NAME_WIDTH 20

static int print_property(sd_bus_message *m, const char *name, const char *contents, void *userdata) {
        int r;

        if (streq(name, "Rules")) {
                printf("%*s:\n", STATUS_NAME_WIDTH, name);
                return print_rules(m);
        }
        printf("%*s: ", STATUS_NAME_WIDTH, name);
        if (streq(name, "RegisteredTimestamp") && streq(contents, "t")) {
                char buf[64];
                uint64_t usec;

                r = sd_bus_message_read(m, "v", "t", &usec);
                if (r < 0)
                        return r;
                format_timestamp(buf, sizeof buf, usec);
                puts(buf);
                return 0;
        }
        r = print_variant(stdout, m, name);
        putchar('\n');
        return r;
}

/* A D-Bus value as JSON: basic types, arrays, and string-keyed dictionaries (a{sv}) as objects. */
static int bus_value_to_json(sd_bus_message *m, json_object **ret);

static int bus_container_to_json(sd_bus_message *m, char type, const char *contents, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        bool dict = type == 'a' && contents[0] == '{' && contents[1] == 's';
        int r;

        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;
        if (type == 'v') {
                r = bus_value_to_json(m, &o);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(o);
                return 0;
        }
        if (type != 'a')
                return -EBADMSG; /* no structs among the properties */

        /* "{sv}" holds entries of "sv". */
        char entry[strlen(contents) + 1];
        if (dict) {
                size_t l = strlen(contents);
                memcpy(entry, contents + 1, l - 2);
                entry[l - 2] = 0;
        }

        o = dict ? json_object_new_object() : json_object_new_array();
        if (!o)
                return -ENOMEM;
        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                json_object *v = NULL;
                const char *key;

                if (dict) {
                        r = sd_bus_message_enter_container(m, 'e', entry);
                        if (r >= 0)
                                r = sd_bus_message_read(m, "s", &key);
                        if (r >= 0)
                                r = bus_value_to_json(m, &v);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                        if (r >= 0 && json_object_object_add(o, key, v) < 0)
                                r = -ENOMEM;
                } else {
                        r = bus_value_to_json(m, &v);
                        if (r >= 0 && json_object_array_add(o, v) < 0) {
                                json_object_put(v);
                                r = -ENOMEM;
                        }
                }
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int bus_value_to_json(sd_bus_message *m, json_object **ret) {
        union {
                const char *s;
                uint32_t u;
                int32_t i;
                uint64_t t;
                int64_t x;
                int b;
                uint8_t y;
                uint16_t q;
                int16_t n;
                double d;
        } v;
        const char *contents;
        json_object *o;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;
        if (type == 'a' || type == 'v' || type == 'r' || type == 'e')
                return bus_container_to_json(m, type, contents, ret);

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        switch (type) {
        case 's':
        case 'o':
        case 'g':
                o = json_object_new_string(v.s);
                break;
        case 'u':
                o = json_object_new_uint64(v.u);
                break;
        case 'i':
                o = json_object_new_int(v.i);
                break;
        case 't':
                o = json_object_new_uint64(v.t);
                break;
        case 'x':
                o = json_object_new_int64(v.x);
                break;
        case 'b':
                o = json_object_new_boolean(v.b);
                break;
        case 'y':
                o = json_object_new_int(v.y);
                break;
        case 'q':
                o = json_object_new_int(v.q);
                break;
        case 'n':
                o = json_object_new_int(v.n);
                break;
        case 'd':
                o = json_object_new_double(v.d);
                break;
        default:
                return -EBADMSG;
        }
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

static int verb_status(int argc, char *argv[]) {
        _cleanup_(sysbroker_client_freep) sysbroker_client *client = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(json_object_putp) json_object *properties = NULL;
        char path[sizeof(SYSBROKER_LISTENER_PATH_PREFIX) + 20];
        bool json = take_json_flag(&argc, argv);
        uint64_t id;
        int r;

        if (argc != 2 || parse_id(argv[1], &id) < 0) {
                error_msg("'status' takes one listener ID, a positive number (and --json).");
                return EXIT_FAILURE;
        }
        if (json_c_load() < 0)
                return EXIT_FAILURE;
        if (connect_broker(&client) < 0)
                return EXIT_FAILURE;

        (void) snprintf(path, sizeof path, SYSBROKER_LISTENER_PATH_PREFIX "%" PRIu64, id);
        r = new_call(client, path, "org.freedesktop.DBus.Properties", "GetAll", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", SYSBROKER_LISTENER_INTERFACE);
        if (r >= 0)
                r = sd_bus_call(sysbroker_client_get_bus(client), m, 0, &error, &reply);
        if (r < 0) {
                error_msg("Failed to get the properties of listener %" PRIu64 ": %s", id,
                          bus_error_message(&error, r));
                return EXIT_FAILURE;
        }

        if (json) {
                /* The properties as sent, Rules included: the same keys as a listener in Describe(). */
                r = bus_value_to_json(reply, &properties);
                if (r >= 0)
                        print_json(properties);
        } else
                r = bus_dict_foreach(reply, print_property, NULL);
        if (r < 0) {
                fflush(stdout);
                error_msg("Failed to parse the properties of listener %" PRIu64 ": %s", id, strerror(-r));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

static int verb_unregister(int argc, char *argv[]) {
        _cleanup_(sysbroker_client_freep) sysbroker_client *client = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t id;
        pid_t agent;
        int r;

        if (argc != 2 || parse_id(argv[1], &id) < 0) {
                error_msg("'unregister' takes one listener ID, a positive number.");
                return EXIT_FAILURE;
        }
        if (connect_broker(&client) < 0)
                return EXIT_FAILURE;

        agent = polkit_agent_open();
        r = sysbroker_client_unregister(client, id, call_flags(), &error);
        polkit_agent_close(agent);
        if (r < 0) {
                error_msg("Failed to unregister listener %" PRIu64 ": %s", id, bus_error_message(&error, r));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

/* The command is the first argument that is not an option (no global option takes a separate value). */
static const char *find_verb(int argc, char *argv[]) {
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--"))
                        return i + 1 < argc ? argv[i + 1] : NULL;
                if (argv[i][0] != '-')
                        return argv[i];
        }
        return NULL;
}

/* Called by ctl-main.c, which loads this module for every command but a plain `exec`. */
int sysbrokerctl_main(int argc, char *argv[]) {
        static const struct {
                const char *name;
                int (*func)(int argc, char *argv[]);
        } verbs[] = {
                { "run",        verb_run        },
                { "list",       verb_list       },
                { "status",     verb_status     },
                { "unregister", verb_unregister },
                { "exec",       verb_exec       },
        };
        const char *verb = find_verb(argc, argv);
        int failure = streq_ptr(verb, "run") || streq_ptr(verb, "exec") ? EXIT_RUN_FAILURE : EXIT_FAILURE;
        int r;

        r = parse_argv(argc, argv);
        if (r < 0)
                return failure;
        if (r == 0)
                return EXIT_SUCCESS;

        if (optind >= argc) {
                error_msg("No command given; see --help.");
                return EXIT_FAILURE;
        }

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[optind], verbs[i].name))
                        return verbs[i].func(argc - optind, argv + optind);

        error_msg("Unknown command '%s'; see --help.", argv[optind]);
        return EXIT_FAILURE;
}
