/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysbrokerctl: run a command under sysbrokerd's supervision, and inspect or drop registered listeners.
 * `run` exits with the command's status, or 125 for its own failures, like env(1). */

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bus-dict.h"
#include "config.h"
#include "fd-passing.h"
#include "macro.h"
#include "sysbroker.h"

#define EXIT_RUN_FAILURE 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_ENOENT 127

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

static void error_msg(const char *format, ...) _printf_(1, 2);
static void error_msg(const char *format, ...) {
        va_list ap;

        fputs("sysbrokerctl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

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
               "  list                      List registered listeners\n"
               "  status ID                 Show all properties of a listener\n"
               "  unregister ID             Unregister a listener\n\n"
               "Options:\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the package version\n"
               "     --system               Talk to sysbrokerd on the system bus (default)\n"
               "     --socket[=PATH]        Talk to sysbrokerd on its socket (default: %s)\n"
               "     --no-ask-password      Do not ask for a password when polkit wants one\n\n"
               "Run options (rules; the first that matches a call decides):\n"
               "     --mknod='TYPE MAJ:MIN PATH [MODE]'\n"
               "                            Create device nodes matching this rule (TYPE c or b,\n"
               "                            PATH a pattern without spaces, MODE the maximum octal mode)\n"
               "     --deny-mknod='TYPE MAJ:MIN PATH'\n"
               "                            Fail mknod calls matching this rule with EPERM\n"
               "     --open='PATH[:r|w|rw][:create]'\n"
               "                            Open files matching PATH for reading (r, the default),\n"
               "                            writing (w) or both (rw), even without permission;\n"
               "                            ':create' also allows O_CREAT of a missing file and O_TRUNC\n"
               "     --open-host='PATH=HOSTPATH[:r|w|rw]'\n"
               "                            Answer opens of the literal PATH with the file HOSTPATH as\n"
               "                            sysbrokerd sees it (PATH ends at the first '=')\n"
               "     --deny-open=PATH       Fail every open of files matching PATH with EPERM\n"
               "     --mount='FSTYPE SOURCE TARGET[:ITEM,...]'\n"
               "                            Mount FSTYPE (bind, tmpfs, ext4, ...) from SOURCE ('-': any,\n"
               "                            tmpfs and ramfs only) on mount points matching TARGET;\n"
               "                            each ITEM is a flag calls may set (ro, noexec, ...), +FLAG\n"
               "                            or -FLAG to add FLAG to or drop it from the flags forced on\n"
               "                            every mount (nosuid,nodev), or a data option pattern (size=*)\n"
               "     --deny-mount='FSTYPE SOURCE TARGET'\n"
               "                            Fail mounts matching this rule with EPERM\n"
               "     --default=continue|deny\n"
               "                            What happens to trapped calls no rule matches\n"
               "     --description=TEXT     Describe the listener for 'list'\n"
               "     --tsync                Apply the filter to all threads\n"
               "     --handoff              Run CMD (a launcher) unfiltered; the filter is installed\n"
               "                            by the 'sysbrokerctl exec' it runs, through the socket\n"
               "                            named by $SYSBROKER_HANDOFF_FD\n\n"
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

/* In the forked child: filter, hand the listener over, wait for the go, exec. Never returns. */
static _Noreturn void run_child(int sock, const sysbroker_rules *rules, unsigned filter_flags, char **cmd) {
        int fd, r;
        char go;

        fd = sysbroker_install_filter(rules, filter_flags);
        if (fd < 0) {
                if (fd == -EBUSY)
                        error_msg("Failed to install the seccomp filter: "
                                  "this process already runs under a seccomp listener.");
                else
                        error_msg("Failed to install the seccomp filter: %s", strerror(-fd));
                _exit(EXIT_RUN_FAILURE);
        }

        r = fd_send(sock, fd);
        if (r < 0) {
                error_msg("Failed to pass the listener to the parent: %s", strerror(-r));
                _exit(EXIT_RUN_FAILURE);
        }
        /* Only sysbrokerd may hold the listener: whoever holds it can answer our calls. */
        safe_close(fd);

        /* No go (the parent refused or died): the command must not run unsupervised-but-filtered. */
        ssize_t n;
        do
                n = read(sock, &go, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                _exit(EXIT_RUN_FAILURE);
        safe_close(sock);

        execvp(cmd[0], cmd);
        r = errno;
        error_msg("Failed to execute '%s': %s", cmd[0], strerror(r));
        _exit(r == ENOENT ? EXIT_ENOENT : EXIT_CANNOT_INVOKE);
}

static volatile sig_atomic_t child_pid = 0;

static void forward_signal(int sig) {
        if (child_pid > 0)
                (void) kill(child_pid, sig);
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

/* RegisterListener() with a polkit agent at hand. On failure *ret_message says why, in words for the
 * user. */
static int register_listener(sysbroker_client *client, int listener, const sysbroker_rules *rules,
                             char **ret_message) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t id;
        pid_t agent;
        int r, k;

        /* The terminal agent costs a process and its registration with polkitd (about 4 ms here) before
         * the call, and most registrations need no password: ask without interaction first, and with the
         * agent only if polkit wants authentication. The daemon asks the same checks either way; it keeps
         * nothing of a refused registration, so the listener can be sent again. */
        if (polkit_agent_wanted()) {
                r = sysbroker_client_register(client, listener, rules, 0, &error, &path, &id);
                if (r >= 0)
                        return r;
                if (!sd_bus_error_has_name(&error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
                        goto failed;
                sd_bus_error_free(&error);
        }
        agent = polkit_agent_open();
        r = sysbroker_client_register(client, listener, rules, call_flags(), &error, &path, &id);
        polkit_agent_close(agent);
        if (r >= 0)
                return r;

failed:
        if (sd_bus_error_is_set(&error) && !startswith(error.name, "System.Error."))
                k = asprintf(ret_message, "Registration refused: %s: %s",
                             error.name, strempty(error.message));
        else
                k = asprintf(ret_message, "Failed to register the listener: %s",
                             bus_error_message(&error, r));
        if (k < 0)
                *ret_message = NULL;
        return r;
}

/* run --handoff: the launcher runs unfiltered with the other end of the hand-off socket; whatever it runs
 * as the sandbox's command (sysbrokerctl exec) sends the listener back, which is registered here as `run`
 * registers its child's. Returns the exit status. */
static int run_handoff(sysbroker_client *client, const sysbroker_rules *rules, unsigned filter_flags,
                       char **cmd) {
        _cleanup_(sysbroker_handoff_freep) sysbroker_handoff *h = NULL;
        _cleanup_close_ int listener = -EBADF;
        _cleanup_free_ char *message = NULL;
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

        r = sysbroker_handoff_receive_listener(h, &listener);
        if (r < 0) {
                /* Closed first: an inner side still waiting for an answer then gives up. */
                h = sysbroker_handoff_free(h);
                int status = wait_child(pid);

                /* The launcher or the inner side has said why; pass on its exit code. */
                if (r != -EPIPE)
                        error_msg("Failed to receive the listener: %s", strerror(-r));
                else if (status == 0)
                        error_msg("The command exited without handing off a listener "
                                  "(it did not run 'sysbrokerctl exec').");
                return status != 0 ? status : EXIT_RUN_FAILURE;
        }

        r = register_listener(client, listener, rules, &message);
        listener = safe_close(listener);
        if (r < 0) {
                /* The inner side prints it (it owns the sandbox's stderr); say it here only if it cannot. */
                if (sysbroker_handoff_answer(h, r, message) < 0)
                        error_msg("%s", message ?: strerror(-r));
                h = sysbroker_handoff_free(h);
                (void) wait_child(pid);
                return EXIT_RUN_FAILURE;
        }

        r = sysbroker_handoff_answer(h, 0, NULL);
        if (r < 0)
                /* Nobody waits for the go any more: the launcher's exit status tells what happened. */
                error_msg("Failed to start the command: %s", strerror(-r));
        h = sysbroker_handoff_free(h);

        return wait_child(pid);
}

/* exec: the inner side of run --handoff. Exits 125 without running CMD unless the listener is registered. */
static int verb_exec(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_free_ char *message = NULL;
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help();
                default:
                        error_msg("Unknown option '%s'.", argv[optind - 1]);
                        return EXIT_RUN_FAILURE;
                }
        if (optind >= argc) {
                error_msg("No command given: 'exec [--] CMD [ARG...]'.");
                return EXIT_RUN_FAILURE;
        }

        r = sysbroker_handoff_child(-1, &message);
        if (r < 0) {
                if (message)
                        error_msg("%s", message);
                else if (r == -ENXIO)
                        error_msg("No hand-off socket in $" SYSBROKER_HANDOFF_FD_ENV
                                  ": 'exec' runs as the command of 'run --handoff'.");
                else if (r == -EBUSY)
                        error_msg("Failed to install the seccomp filter: "
                                  "this process already runs under a seccomp listener.");
                else if (r == -EPIPE)
                        error_msg("The other side of the hand-off went away before registering "
                                  "the listener.");
                else
                        error_msg("Hand-off failed: %s", strerror(-r));
                return EXIT_RUN_FAILURE;
        }

        fflush(NULL);
        execvp(argv[optind], argv + optind);
        r = errno;
        error_msg("Failed to execute '%s': %s", argv[optind], strerror(r));
        return r == ENOENT ? EXIT_ENOENT : EXIT_CANNOT_INVOKE;
}

/* Every open of PATH. A deny rule covers every open of its path whatever its Access and Create say; they
 * are sent as the widest anyway, so the rule reads as what it does (in `status` too). PATH is taken as it
 * is, colons and all. */
static int add_deny_open(sysbroker_rules *rules, sysbroker_action action, const char *path) {
        return sysbroker_rules_add_open(rules, action, path, SYSBROKER_ACCESS_READ_WRITE, true, NULL);
}

static int verb_run(int argc, char *argv[]) {
        enum {
                ARG_MKNOD = 0x100,
                ARG_DENY_MKNOD,
                ARG_OPEN,
                ARG_OPEN_HOST,
                ARG_DENY_OPEN,
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
                { "mount",       required_argument, NULL, ARG_MOUNT       },
                { "deny-mount",  required_argument, NULL, ARG_DENY_MOUNT  },
                { "default",     required_argument, NULL, ARG_DEFAULT     },
                { "description", required_argument, NULL, ARG_DESCRIPTION },
                { "tsync",       no_argument,       NULL, ARG_TSYNC       },
                { "handoff",     no_argument,       NULL, ARG_HANDOFF     },
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
                { "deny-open",  add_deny_open,                      SYSBROKER_ACTION_DENY    },
                { "mount",      sysbroker_rules_add_mount_spec,     SYSBROKER_ACTION_EMULATE },
                { "deny-mount", sysbroker_rules_add_mount_spec,     SYSBROKER_ACTION_DENY    },
        };
        _Static_assert(ELEMENTSOF(rule_options) == ARG_DENY_MOUNT - ARG_MKNOD + 1, "a row per option");
        _cleanup_(sysbroker_rules_freep) sysbroker_rules *rules = NULL;
        _cleanup_(sysbroker_client_freep) sysbroker_client *client = NULL;
        _cleanup_close_ int listener = -EBADF, sock = -EBADF;
        _cleanup_free_ char *message = NULL;
        unsigned filter_flags = 0;
        bool handoff = false;
        sysbroker_action action;
        int pair[2], c, r;
        pid_t pid;

        r = sysbroker_rules_new(&rules);
        if (r < 0) {
                error_msg("Failed to allocate rules: %s", strerror(-r));
                return EXIT_RUN_FAILURE;
        }

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help();
                case ARG_MKNOD:
                case ARG_DENY_MKNOD:
                case ARG_OPEN:
                case ARG_OPEN_HOST:
                case ARG_DENY_OPEN:
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
                          "--mount or --deny-mount.");
                return EXIT_RUN_FAILURE;
        }

        /* Connect first: if sysbrokerd cannot be reached, the command never starts. */
        if (connect_broker(&client) < 0)
                return EXIT_RUN_FAILURE;

        if (handoff)
                return run_handoff(client, rules, filter_flags, argv + optind);

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
                error_msg("Failed to create a socket pair: %m");
                return EXIT_RUN_FAILURE;
        }
        sock = pair[0];

        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                error_msg("Failed to fork: %m");
                safe_close(pair[1]);
                return EXIT_RUN_FAILURE;
        }
        if (pid == 0) {
                safe_close(sock);
                run_child(pair[1], rules, filter_flags, argv + optind);
        }
        safe_close(pair[1]);

        listener = fd_receive(sock);
        if (listener < 0) {
                /* The child has said why; pass on its exit code. */
                if (listener != -EPIPE)
                        error_msg("Failed to receive the listener: %s", strerror(-listener));
                (void) kill(pid, SIGKILL);
                (void) wait_child(pid);
                return EXIT_RUN_FAILURE;
        }

        r = register_listener(client, listener, rules, &message);
        listener = safe_close(listener);
        client = sysbroker_client_free(client);
        if (r < 0) {
                error_msg("%s", message ?: strerror(-r));
                (void) kill(pid, SIGKILL);
                (void) wait_child(pid);
                return EXIT_RUN_FAILURE;
        }

        forward_signals_to(pid);

        char go = 1;
        /* MSG_NOSIGNAL: a child that died meanwhile is an error to report, not our SIGPIPE. */
        if (send(sock, &go, 1, MSG_NOSIGNAL) != 1) {
                error_msg("Failed to start the command: %m");
                (void) kill(pid, SIGKILL);
                (void) wait_child(pid);
                return EXIT_RUN_FAILURE;
        }
        sock = safe_close(sock);

        return wait_child(pid);
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

static int verb_list(int argc, char *argv[]) {
        _cleanup_(sysbroker_client_freep) sysbroker_client *client = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r, w_id = 2, w_owner = 5, w_path = 4;
        pid_t agent;

        if (argc > 1) {
                error_msg("'list' takes no arguments.");
                return EXIT_FAILURE;
        }
        if (connect_broker(&client) < 0)
                return EXIT_FAILURE;

        r = new_call(client, SYSBROKER_OBJECT_PATH, SYSBROKER_MANAGER_INTERFACE, "ListListeners", &m);
        if (r >= 0) {
                agent = polkit_agent_open();
                r = sd_bus_call(sysbroker_client_get_bus(client), m, 0, &error, &reply);
                polkit_agent_close(agent);
        }
        if (r < 0) {
                error_msg("Failed to list listeners: %s", bus_error_message(&error, r));
                return EXIT_FAILURE;
        }

        /* Two passes: the first sizes the columns. */
        for (int pass = 0; pass < 2; pass++) {
                uint64_t id;
                const char *path, *description;
                uint32_t uid;

                if (pass == 1)
                        printf("%-*s %-*s %-*s %s\n", w_id, "ID", w_owner, "OWNER", w_path, "PATH", "DESCRIPTION");

                r = sd_bus_message_enter_container(reply, 'a', "(tous)");
                if (r < 0)
                        goto parse_error;
                while ((r = sd_bus_message_read(reply, "(tous)", &id, &path, &uid, &description)) > 0) {
                        char id_str[21], uid_str[11];

                        (void) snprintf(id_str, sizeof id_str, "%" PRIu64, id);
                        (void) snprintf(uid_str, sizeof uid_str, "%" PRIu32, uid);
                        if (pass == 0) {
                                w_id = MAX(w_id, (int) strlen(id_str));
                                w_owner = MAX(w_owner, (int) strlen(uid_str));
                                w_path = MAX(w_path, (int) strlen(path));
                                continue;
                        }
                        printf("%-*s %-*s %-*s ", w_id, id_str, w_owner, uid_str, w_path, path);
                        print_escaped(stdout, description);
                        putchar('\n');
                }
                if (r < 0)
                        goto parse_error;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        goto parse_error;
                r = sd_bus_message_rewind(reply, true);
                if (r < 0)
                        goto parse_error;
        }
        return EXIT_SUCCESS;

parse_error:
        error_msg("Failed to parse the list of listeners: %s", strerror(-r));
        return EXIT_FAILURE;
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

static int print_rule_key(sd_bus_message *m, const char *key, const char *contents, void *userdata) {
        RulePrint *p = userdata;

        if (streq(key, "Syscall") && streq(contents, "s"))
                return sd_bus_message_read(m, "v", "s", &p->syscall);
        if (streq(key, "Action") && streq(contents, "s"))
                return sd_bus_message_read(m, "v", "s", &p->action);
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

static int print_property(sd_bus_message *m, const char *name, const char *contents, void *userdata) {
        int r;

        if (streq(name, "Rules")) {
                printf("%s:\n", name);
                return print_rules(m);
        }
        printf("%s: ", name);
        r = print_variant(stdout, m, name);
        putchar('\n');
        return r;
}

static int verb_status(int argc, char *argv[]) {
        _cleanup_(sysbroker_client_freep) sysbroker_client *client = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char path[sizeof(SYSBROKER_LISTENER_PATH_PREFIX) + 20];
        uint64_t id;
        int r;

        if (argc != 2 || parse_id(argv[1], &id) < 0) {
                error_msg("'status' takes one listener ID, a positive number.");
                return EXIT_FAILURE;
        }
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

int main(int argc, char *argv[]) {
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
