/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dbus suite's harness: a private bus whose polkit is a GtDBusQueue mock, sysbrokerd running on it,
 * and forked children whose seccomp listeners the tests hand to the daemon and whose calls they trigger. */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <libglib-testing/dbus-queue.h>
#include <sys/types.h>

#define BROKER_BUS_NAME                 "org.sysbroker.Broker1"
#define BROKER_OBJECT_PATH              "/org/sysbroker/Broker1"
#define BROKER_MANAGER_INTERFACE        "org.sysbroker.Broker1.Manager"
#define BROKER_LISTENER_INTERFACE       "org.sysbroker.Broker1.Listener"
#define BROKER_LISTENER_PATH_PREFIX     BROKER_OBJECT_PATH "/listener/"
#define BROKER_ERROR_NOT_A_LISTENER     "org.sysbroker.Broker1.Error.NotAListener"
#define BROKER_ERROR_INVALID_RULE       "org.sysbroker.Broker1.Error.InvalidRule"

#define DBUS_ERROR_INVALID_ARGS         "org.freedesktop.DBus.Error.InvalidArgs"
#define DBUS_ERROR_ACCESS_DENIED        "org.freedesktop.DBus.Error.AccessDenied"
#define DBUS_ERROR_LIMITS_EXCEEDED      "org.freedesktop.DBus.Error.LimitsExceeded"
#define DBUS_ERROR_TIMEOUT              "org.freedesktop.DBus.Error.Timeout"
#define DBUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED \
        "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"

#define POLKIT_BUS_NAME                 "org.freedesktop.PolicyKit1"
#define POLKIT_OBJECT_PATH              "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_AUTHORITY_INTERFACE      "org.freedesktop.PolicyKit1.Authority"

#define ACTION_REGISTER                 "org.sysbroker.Broker1.register"
#define ACTION_MKNOD                    "org.sysbroker.Broker1.mknod"
#define ACTION_MKNOD_DEVICE             "org.sysbroker.Broker1.mknod-device"
#define ACTION_OPEN                     "org.sysbroker.Broker1.open"
#define ACTION_MOUNT                    "org.sysbroker.Broker1.mount"
#define ACTION_MANAGE                   "org.sysbroker.Broker1.manage"

/* polkit's CheckAuthorization flag for "the caller may be asked to authenticate" */
#define POLKIT_FLAG_ALLOW_USER_INTERACTION 1u

/* How long the harness waits for anything the daemon should do promptly, before failing the test. */
#define HARNESS_TIMEOUT_USEC (10 * G_USEC_PER_SEC)
/* How long to watch for something that must NOT happen (another polkit call, a signal). */
#define HARNESS_SETTLE_USEC (300 * G_TIME_SPAN_MILLISECOND)

typedef enum HarnessNeeds {
        HARNESS_NEEDS_SOCKET_ACTIVATE = 1 << 0,  /* systemd-socket-activate */
        HARNESS_NEEDS_INTERFACE_XML   = 1 << 1,  /* the XML from dbus/ passed on the command line */
        HARNESS_NEEDS_ROOT            = 1 << 2,  /* sysbrokerd (run as the test's user) must be root */
} HarnessNeeds;

typedef struct HarnessOptions {
        gboolean no_polkit;                /* leave org.freedesktop.PolicyKit1 unowned */
        gboolean socket_activation;        /* run sysbrokerd under systemd-socket-activate */
        gboolean notify_socket;            /* give sysbrokerd a NOTIFY_SOCKET and record what it sends */
        HarnessNeeds needs;
        const char *const *daemon_args;    /* extra options, NULL-terminated */
} HarnessOptions;

/* What a listener child's seccomp filter sends to its listener. */
typedef enum ListenerChildTraps {
        LISTENER_CHILD_TRAP_MKNOD = 1 << 0,  /* mknod, mknodat */
        LISTENER_CHILD_TRAP_OPEN  = 1 << 1,  /* openat (what glibc's open() and openat() call) */
} ListenerChildTraps;

/* A forked child that installed a seccomp filter trapping some system calls with a listener, and that
 * runs mknodat or openat for the test on request. */
typedef struct ListenerChild {
        pid_t pid;
        int sock;            /* commands to the child and its answers */
        int listener_fd;     /* the test's copy of the listener; -1 once closed */
} ListenerChild;

typedef struct BrokerSignal {
        char *path;
        char *interface;
        char *member;
        GVariant *parameters;
} BrokerSignal;

typedef struct Harness {
        const HarnessOptions *options;
        char *tmpdir;                      /* canonical path of this test's scratch directory */

        GtDBusQueue *queue;
        GDBusConnection *client;           /* the caller of the Manager; owned by the queue */
        char *bus_address;
        GDBusNodeInfo *polkit_node;

        GSubprocess *daemon;
        gboolean daemon_exited;
        pid_t daemon_pid;
        char *daemon_unique_name;
        char *socket_path;                 /* socket_activation only */
        GDBusConnection *peer;             /* socket_activation only: the connection that started it */
        int notify_fd;                     /* notify_socket only */

        guint signal_subscription;
        GPtrArray *signals;                /* BrokerSignal, in arrival order */
        GPtrArray *children;               /* ListenerChild, killed at teardown */
} Harness;

typedef struct PendingCall {
        gboolean done;
        GVariant *reply;
        GError *error;
} PendingCall;

typedef void (*HarnessTestFunc)(Harness *h, gconstpointer data);

/* g_test_init(), plus the suite's preconditions: prints a TAP skip and exits 77 if they are not met. */
void harness_init(int *argc, char ***argv);
/* Registers a test that runs in its own subprocess with a fresh bus and daemon, so one failure (or
 * a hung daemon) does not take the other tests with it. */
void harness_add_test(const char *test_path, const HarnessOptions *options, HarnessTestFunc func,
                      gconstpointer data);
/* The interface XML files given on the command line (may be empty). */
const char *const *harness_interface_xml_paths(void);

/* Fails the running test with a formatted message (aborts it, like any g_assert). */
#define harness_fail(...) \
        harness_fail_impl(__FILE__, __LINE__, G_STRFUNC, g_strdup_printf(__VA_ARGS__))
__attribute__((noreturn)) void harness_fail_impl(const char *file, int line, const char *func, char *message);

/* Runs the main loop once, waking up at least every few milliseconds. */
void harness_spin(Harness *h);

/* ---- polkit mock ---- */

/* The daemon's next CheckAuthorization call; NULL if `until` completed first. Fails on timeout. */
GDBusMethodInvocation *harness_pop_polkit_call(Harness *h, PendingCall *until);
/* Asserts the call is CheckAuthorization(subject, action_id, details, flags, "") for the given subject;
 * details are key/value pairs ending with NULL and must match exactly. */
void harness_assert_polkit_call(GDBusMethodInvocation *invocation, const char *subject_kind,
                                GVariant *subject_details, const char *action_id, guint32 flags,
                                const char *const *details);
/* The same, with the subject of a caller on the bus: ("system-bus-name", {"name": client's unique name}). */
void harness_assert_polkit_call_from_client(Harness *h, GDBusMethodInvocation *invocation,
                                            const char *action_id, guint32 flags,
                                            const char *const *details);
/* Pops the next call and checks it as above. */
GDBusMethodInvocation *harness_expect_polkit_call(Harness *h, const char *action_id, guint32 flags,
                                                  const char *const *details);
const char *polkit_call_action_id(GDBusMethodInvocation *invocation);
/* Answers (and releases) a popped call. */
void polkit_answer(GDBusMethodInvocation *invocation, gboolean authorized, gboolean challenge);
void polkit_answer_error(GDBusMethodInvocation *invocation, const char *name, const char *message);
/* Watches the queue for HARNESS_SETTLE_USEC and fails if the daemon asks polkit anything. */
void harness_assert_no_polkit_call(Harness *h);

/* ---- calls to the daemon ---- */

/* Starts a method call on conn (the bus client, or a peer-to-peer connection: no destination). */
PendingCall *harness_call_async(Harness *h, GDBusConnection *conn, const char *path, const char *interface,
                                const char *method, GVariant *parameters, const GVariantType *reply_type,
                                GDBusCallFlags flags, GUnixFDList *fds);
PendingCall *harness_register_async(Harness *h, GDBusConnection *conn, int listener_fd, GVariant *rules,
                                    GVariant *options, GDBusCallFlags flags);
/* Waits for the call to complete; fails if the daemon asks polkit something meanwhile, except
 * `org.sysbroker.Broker1.manage` checks, which are answered "no". */
void harness_wait(Harness *h, PendingCall *call);
/* Waits for the call, answering every polkit call with `authorized`; returns how many there were. */
guint harness_wait_answering(Harness *h, PendingCall *call, gboolean authorized);
void pending_call_free(PendingCall *call);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PendingCall, pending_call_free)

/* Asserts the call failed with this D-Bus error name and a message containing each of the NULL-terminated
 * fragments. */
void harness_assert_call_error(PendingCall *call, const char *error_name, const char *const *fragments);
/* Synchronous call (by the rules of harness_wait); returns the reply or NULL with *error set. */
GVariant *harness_call(Harness *h, GDBusConnection *conn, const char *path, const char *interface,
                       const char *method, GVariant *parameters, const GVariantType *reply_type,
                       GError **error);

/* Registers c's listener over conn (answering every polkit call "yes"), asserts success and a
 * well-formed reply; returns the object path, and the id in *ret_id. */
char *harness_register_ok(Harness *h, GDBusConnection *conn, ListenerChild *c, GVariant *rules,
                          GVariant *options, guint64 *ret_id);

/* Properties.Get, unboxed; NULL with *error set on failure. */
GVariant *harness_get_property(Harness *h, GDBusConnection *conn, const char *path, const char *interface,
                               const char *name, GError **error);
GVariant *harness_get_property_ok(Harness *h, const char *path, const char *interface, const char *name);
guint32 harness_n_listeners(Harness *h);
/* ListListeners() over conn: a(tous). */
GVariant *harness_list_listeners(Harness *h, GDBusConnection *conn);
/* Asserts the Manager reports no listeners at all (NListeners 0, ListListeners empty). */
void harness_assert_no_listeners(Harness *h);
/* Polls a Listener counter (no change signals) until it equals `expected`, then asserts it. */
void harness_assert_counter(Harness *h, const char *listener_path, const char *counter, guint64 expected);
/* Asserts no object answers on path any more. */
void harness_assert_object_gone(Harness *h, const char *path);

/* ---- signals of the daemon, as seen by the bus client ---- */

/* The first recorded signal with that member (removing it), waiting for it; fails on timeout. */
BrokerSignal *harness_wait_signal(Harness *h, const char *interface, const char *member);
/* Watches for HARNESS_SETTLE_USEC; fails if a signal with that member was or is emitted. */
void harness_assert_no_signal(Harness *h, const char *interface, const char *member);
void broker_signal_free(BrokerSignal *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BrokerSignal, broker_signal_free)

/* ---- the daemon process ---- */

guint harness_daemon_fd_count(Harness *h);
/* The daemon's open fd count once each of its `n_listeners` listener threads has set itself up: a thread
 * opens its own fd directory when it starts, after the registration was answered. A baseline to compare
 * with, taken with listeners registered. */
guint harness_daemon_fd_count_with_threads_set_up(Harness *h, guint n_listeners);
/* Waits (briefly) for the daemon's open fd count to come back to `expected`; fails listing them. */
void harness_assert_daemon_fd_count(Harness *h, guint expected);
/* A new connection to the daemon's peer-to-peer socket (socket_activation only). */
GDBusConnection *harness_connect_peer(Harness *h);
/* Waits for a datagram on the NOTIFY_SOCKET (notify_socket only); returns its text. */
char *harness_wait_notify(Harness *h);

/* ---- listener children ---- */

/* What the child's openat() gave it. */
typedef struct ListenerChildOpenResult {
        int error;           /* its errno, 0 if it got an fd */
        int fd_flags;        /* F_GETFD of that fd, -1 without one */
        int n_read;          /* what read() of up to sizeof data returned; -1 if not readable or none */
        char data[64];
} ListenerChildOpenResult;

/* Starts a child without a harness; FALSE with a reason if seccomp user notification is unavailable.
 * Without _trapping, the child traps mknod and mknodat only. */
gboolean listener_child_start(ListenerChild *c, char **ret_reason);
gboolean listener_child_start_trapping(ListenerChild *c, ListenerChildTraps traps, char **ret_reason);
ListenerChild *harness_spawn_listener_child(Harness *h);
ListenerChild *harness_spawn_listener_child_trapping(Harness *h, ListenerChildTraps traps);
/* Makes the child call mknodat(AT_FDCWD, path, mode, dev); returns 0 or its errno. Fails on timeout. */
int listener_child_mknod(ListenerChild *c, const char *path, mode_t mode, dev_t dev);
/* The same in two steps, for a call left waiting meanwhile: has_answered() says whether its answer came. */
void listener_child_mknod_start(ListenerChild *c, const char *path, mode_t mode, dev_t dev);
gboolean listener_child_has_answered(ListenerChild *c);
int listener_child_mknod_finish(ListenerChild *c);
/* Makes the child call openat(AT_FDCWD, path, flags, mode), look at the fd it got, read from it unless
 * O_WRONLY, and close it. Fails on timeout. */
void listener_child_openat(ListenerChild *c, const char *path, int flags, mode_t mode,
                           ListenerChildOpenResult *ret);
void listener_child_close_listener(ListenerChild *c);
/* SIGKILL and reap: the listener has no tasks left afterwards. */
void listener_child_kill(ListenerChild *c);

/* ---- small helpers ---- */

/* A NULL-terminated string list literal, for details and message fragments. */
#define STRV(...) ((const char *const[]) { __VA_ARGS__, NULL })

/* A GVariant from its text form (floating); fails the test on a syntax error. */
GVariant *parse_variant(const char *text);

/* Field 22 of /proc/<pid>/stat: what polkit calls the start time. */
guint64 proc_start_time(pid_t pid);
/* Asserts an a{sv} holds exactly the given entries (order does not matter); a{ss} alike. */
void assert_vardict_equal(GVariant *actual, GVariant *expected, const char *what);
