/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A registered listener's life on the bus: listing and Describe(), unregistering, its child exiting, how
 * unmatched calls are answered, how open rules answer a sandbox's opens; the Manager's properties, the
 * interface XML against the live objects, and the same API over the socket-activated peer-to-peer socket. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

/* A rule no test call matches, so that unmatched calls meet the default action; deny rules grant
 * nothing, so polkit is asked only about the registration itself. */
#define RULE_UNRELATED \
        "[{'Syscall': <'mknod'>, 'Action': <'deny'>, 'Path': <'/nonexistent/never'>," \
        "  'Major': <uint32 1>, 'Minor': <uint32 3>}]"

static void expect_n_listeners_changed(Harness *h, guint32 expected) {
        g_autoptr(BrokerSignal) changed = harness_wait_signal(h, "org.freedesktop.DBus.Properties",
                                                              "PropertiesChanged");
        g_autoptr(GVariant) props = NULL, n = NULL;
        const char *interface;

        g_assert_cmpstr(changed->path, ==, BROKER_OBJECT_PATH);
        g_variant_get(changed->parameters, "(&s@a{sv}@as)", &interface, &props, NULL);
        g_assert_cmpstr(interface, ==, BROKER_MANAGER_INTERFACE);
        n = g_variant_lookup_value(props, "NListeners", G_VARIANT_TYPE_UINT32);
        g_assert_nonnull(n);
        g_assert_cmpuint(g_variant_get_uint32(n), ==, expected);
}

static void expect_listener_removed(Harness *h, guint64 id, const char *path, const char *reason) {
        g_autoptr(BrokerSignal) removed = harness_wait_signal(h, BROKER_MANAGER_INTERFACE, "ListenerRemoved");
        const char *signal_path, *signal_reason;
        guint64 signal_id;

        g_assert_cmpstr(removed->path, ==, BROKER_OBJECT_PATH);
        g_assert_cmpstr(g_variant_get_type_string(removed->parameters), ==, "(tos)");
        g_variant_get(removed->parameters, "(t&o&s)", &signal_id, &signal_path, &signal_reason);
        g_assert_cmpuint(signal_id, ==, id);
        g_assert_cmpstr(signal_path, ==, path);
        g_assert_cmpstr(signal_reason, ==, reason);
}

/* Registers c's listener with rules that match nothing the tests call, and lets go of the test's copy
 * of the fd so that only the daemon holds it. */
static char *register_plain(Harness *h, ListenerChild *c, const char *default_action, const char *description,
                            guint64 *ret_id) {
        GVariantBuilder options;
        char *path;

        g_variant_builder_init(&options, G_VARIANT_TYPE("a{sv}"));
        if (default_action)
                g_variant_builder_add(&options, "{sv}", "DefaultAction", g_variant_new_string(default_action));
        if (description)
                g_variant_builder_add(&options, "{sv}", "Description", g_variant_new_string(description));

        path = harness_register_ok(h, h->client, c, parse_variant(RULE_UNRELATED), g_variant_builder_end(&options),
                                   ret_id);
        listener_child_close_listener(c);
        return path;
}

/* ---- the registry ---- */

static void test_list_listeners_returns_callers_listeners(Harness *h, gconstpointer data) {
        ListenerChild *c1 = harness_spawn_listener_child(h), *c2 = harness_spawn_listener_child(h);
        g_autofree char *p1 = NULL, *p2 = NULL;
        g_autoptr(GVariant) list = NULL;
        gboolean seen1 = FALSE, seen2 = FALSE;
        guint64 id1, id2;

        p1 = register_plain(h, c1, NULL, "first", &id1);
        p2 = register_plain(h, c2, NULL, "second", &id2);
        g_assert_cmpuint(id1, !=, id2);
        g_assert_cmpstr(p1, !=, p2);

        g_assert_cmpuint(harness_n_listeners(h), ==, 2);
        list = harness_list_listeners(h, h->client);
        g_assert_cmpuint(g_variant_n_children(list), ==, 2);
        for (gsize i = 0; i < 2; i++) {
                const char *path, *description;
                guint64 id;
                guint32 uid;

                g_variant_get_child(list, i, "(t&ou&s)", &id, &path, &uid, &description);
                g_assert_cmpuint(uid, ==, getuid());
                if (id == id1) {
                        g_assert_false(seen1);
                        seen1 = TRUE;
                        g_assert_cmpstr(path, ==, p1);
                        g_assert_cmpstr(description, ==, "first");
                } else {
                        g_assert_cmpuint(id, ==, id2);
                        g_assert_false(seen2);
                        seen2 = TRUE;
                        g_assert_cmpstr(path, ==, p2);
                        g_assert_cmpstr(description, ==, "second");
                }
        }
        g_assert_true(seen1 && seen2);
}

static json_object *json_get(json_object *o, const char *key, json_type type) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v))
                harness_fail("Describe(): no key '%s' in %s", key, json_object_to_json_string(o));
        if (!json_object_is_type(v, type))
                harness_fail("Describe(): '%s' is %s, not %s", key, json_type_to_name(json_object_get_type(v)),
                             json_type_to_name(type));
        return v;
}

/* Describe() is json-c's text of the state: the manager's properties, and each listener with its properties,
 * its counters as they stand, and its rules with only the keys that apply. */
static void test_describe_returns_state_as_json(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(GVariant) reply = NULL, version = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *path = NULL, *fifo = NULL;
        json_object *root, *listeners, *l, *rules, *rule, *unused;
        guint64 id, before = g_get_real_time(), after;
        const char *text;

        path = harness_register_ok(
                h, h->client, c,
                parse_variant("[{'Syscall': <'open'>, 'Action': <'deny'>, 'Errno': <int32 13>,"
                              "  'Path': <'/nonexistent/never'>, 'Access': <'rw'>}]"),
                parse_variant("{'Description': <'described'>, 'DefaultAction': <'deny'>}"), &id);
        listener_child_close_listener(c);
        after = g_get_real_time();
        fifo = g_build_filename(h->tmpdir, "fifo", NULL);
        g_assert_cmpint(listener_child_mknod(c, fifo, S_IFIFO | 0600, 0), ==, EPERM);

        reply = harness_call(h, h->client, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "Describe", NULL,
                             G_VARIANT_TYPE("(s)"), &error);
        g_assert_no_error(error);
        g_variant_get(reply, "(&s)", &text);
        root = json_tokener_parse(text);
        if (!root || !json_object_is_type(root, json_type_object))
                harness_fail("Describe() is not a JSON object: %s", text);

        version = harness_get_property_ok(h, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "Version");
        g_assert_cmpstr(json_object_get_string(json_get(root, "Version", json_type_string)), ==,
                        g_variant_get_string(version, NULL));
        json_get(root, "KernelFeatures", json_type_array);
        g_assert_cmpint(json_object_get_int64(json_get(root, "NListeners", json_type_int)), ==, 1);

        listeners = json_get(root, "Listeners", json_type_array);
        g_assert_cmpuint(json_object_array_length(listeners), ==, 1);
        l = json_object_array_get_idx(listeners, 0);
        g_assert_cmpuint(json_object_get_uint64(json_get(l, "Id", json_type_int)), ==, id);
        g_assert_cmpstr(json_object_get_string(json_get(l, "ObjectPath", json_type_string)), ==, path);
        g_assert_cmpuint(json_object_get_uint64(json_get(l, "OwnerUID", json_type_int)), ==, getuid());
        g_assert_cmpuint(json_object_get_uint64(json_get(l, "OwnerPID", json_type_int)), ==, getpid());
        g_assert_cmpuint(json_object_get_uint64(json_get(l, "RegisteredTimestamp", json_type_int)), >=, before);
        g_assert_cmpuint(json_object_get_uint64(json_get(l, "RegisteredTimestamp", json_type_int)), <=, after);
        g_assert_cmpstr(json_object_get_string(json_get(l, "Description", json_type_string)), ==, "described");
        g_assert_cmpstr(json_object_get_string(json_get(l, "DefaultAction", json_type_string)), ==, "deny");
        /* The mknod above met the default action. */
        g_assert_cmpuint(json_object_get_uint64(json_get(l, "Notifications", json_type_int)), ==, 1);
        g_assert_cmpuint(json_object_get_uint64(json_get(l, "Denied", json_type_int)), ==, 1);
        g_assert_cmpuint(json_object_get_uint64(json_get(l, "Emulated", json_type_int)), ==, 0);
        g_assert_cmpuint(json_object_get_uint64(json_get(l, "Continued", json_type_int)), ==, 0);
        g_assert_cmpuint(json_object_get_uint64(json_get(l, "Failed", json_type_int)), ==, 0);

        rules = json_get(l, "Rules", json_type_array);
        g_assert_cmpuint(json_object_array_length(rules), ==, 1);
        rule = json_object_array_get_idx(rules, 0);
        g_assert_cmpstr(json_object_get_string(json_get(rule, "Syscall", json_type_string)), ==, "open");
        g_assert_cmpstr(json_object_get_string(json_get(rule, "Action", json_type_string)), ==, "deny");
        g_assert_cmpint(json_object_get_int(json_get(rule, "Errno", json_type_int)), ==, 13);
        g_assert_cmpstr(json_object_get_string(json_get(rule, "Path", json_type_string)), ==,
                        "/nonexistent/never");
        /* A deny rule covers every open of its path: Access and Create do not apply, so they are not shown. */
        g_assert_false(json_object_object_get_ex(rule, "Access", &unused));
        g_assert_false(json_object_object_get_ex(rule, "Create", &unused));
        g_assert_cmpint(json_object_object_length(rule), ==, 4);
        json_object_put(root);
}

static void test_unregister_by_owner_removes_listener(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autofree char *path = NULL, *fifo = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;
        guint64 id;

        path = register_plain(h, c, NULL, NULL, &id);
        broker_signal_free(harness_wait_signal(h, BROKER_MANAGER_INTERFACE, "ListenerAdded"));
        expect_n_listeners_changed(h, 1);

        reply = harness_call(h, h->client, path, BROKER_LISTENER_INTERFACE, "Unregister", NULL,
                             G_VARIANT_TYPE_UNIT, &error);
        g_assert_no_error(error);

        expect_listener_removed(h, id, path, "unregistered");
        expect_n_listeners_changed(h, 0);
        harness_assert_no_listeners(h);
        harness_assert_object_gone(h, path);

        /* With its last listener fd closed, the kernel fails trapped calls with ENOSYS: proof that the
         * daemon let go of the fd rather than just hiding the object. */
        fifo = g_build_filename(h->tmpdir, "fifo", NULL);
        g_assert_cmpint(listener_child_mknod(c, fifo, S_IFIFO | 0600, 0), ==, ENOSYS);
}

static void test_child_exit_removes_listener_as_exited(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autofree char *path = NULL;
        guint64 id;

        path = register_plain(h, c, NULL, NULL, &id);
        broker_signal_free(harness_wait_signal(h, BROKER_MANAGER_INTERFACE, "ListenerAdded"));
        expect_n_listeners_changed(h, 1);

        listener_child_kill(c);

        expect_listener_removed(h, id, path, "exited");
        expect_n_listeners_changed(h, 0);
        harness_assert_no_listeners(h);
        harness_assert_object_gone(h, path);
}

/* ---- answering trapped calls ---- */

static void assert_counters(Harness *h, const char *path, guint64 notifications, guint64 emulated,
                            guint64 denied, guint64 continued, guint64 failed) {
        harness_assert_counter(h, path, "Notifications", notifications);
        harness_assert_counter(h, path, "Emulated", emulated);
        harness_assert_counter(h, path, "Denied", denied);
        harness_assert_counter(h, path, "Continued", continued);
        harness_assert_counter(h, path, "Failed", failed);
}

/* A FIFO is something an unprivileged process may create: if it appears, the kernel decided. */
static void test_default_continue_lets_kernel_decide(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autofree char *path = NULL, *fifo = NULL;
        struct stat st;

        path = register_plain(h, c, "continue", NULL, NULL);
        fifo = g_build_filename(h->tmpdir, "fifo", NULL);

        g_assert_cmpint(listener_child_mknod(c, fifo, S_IFIFO | 0600, 0), ==, 0);
        g_assert_cmpint(lstat(fifo, &st), ==, 0);
        g_assert_true(S_ISFIFO(st.st_mode));
        assert_counters(h, path, 1, 0, 0, 1, 0);
}

static void test_default_deny_answers_eperm(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autofree char *path = NULL, *fifo = NULL;
        struct stat st;

        path = register_plain(h, c, "deny", NULL, NULL);
        fifo = g_build_filename(h->tmpdir, "fifo", NULL);

        g_assert_cmpint(listener_child_mknod(c, fifo, S_IFIFO | 0600, 0), ==, EPERM);
        g_assert_cmpint(lstat(fifo, &st), ==, -1);
        g_assert_cmpint(errno, ==, ENOENT);
        assert_counters(h, path, 1, 0, 1, 0, 0);
}

/* Matching a rule's path means resolving the call's path in the target's own context (mount namespace,
 * root, cwd, credentials), which an unprivileged sysbrokerd cannot enter: root only. */
static const HarnessOptions as_root = { .needs = HARNESS_NEEDS_ROOT };

static void test_deny_rule_answers_its_errno(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autofree char *path = NULL, *pattern = NULL, *node = NULL, *fifo = NULL;
        struct stat st;

        pattern = g_build_filename(h->tmpdir, "denied-*", NULL);
        path = harness_register_ok(h, h->client, c,
                                   g_variant_new_parsed("[{'Syscall': <'mknod'>, 'Action': <'deny'>,"
                                                        "  'Errno': <int32 30>, 'Path': <%s>,"
                                                        "  'Major': <uint32 1>, 'Minor': <uint32 3>}]",
                                                        pattern),
                                   g_variant_new_parsed("@a{sv} {}"), NULL);

        node = g_build_filename(h->tmpdir, "denied-null", NULL);
        g_assert_cmpint(listener_child_mknod(c, node, S_IFCHR | 0600, makedev(1, 3)), ==, EROFS);
        g_assert_cmpint(lstat(node, &st), ==, -1);
        assert_counters(h, path, 1, 0, 1, 0, 0);

        /* The same directory, but a FIFO: no rule is about FIFOs, so the default (continue) applies. */
        fifo = g_build_filename(h->tmpdir, "denied-fifo", NULL);
        g_assert_cmpint(listener_child_mknod(c, fifo, S_IFIFO | 0600, 0), ==, 0);
        assert_counters(h, path, 2, 0, 1, 1, 0);
}

/* Nothing is done for a registration polkit has not authorized, not even for a call already waiting: it is
 * not answered while polkit decides, and after a refusal the daemon's copy of the listener is closed without
 * answering it, so the kernel does (ENOSYS once no listener is left). The rule would have created the node. */
static void test_waiting_call_is_left_alone_until_authorized(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        g_autofree char *node = g_build_filename(h->tmpdir, "null", NULL);
        GDBusMethodInvocation *question, *rule_question;
        gint64 until;
        struct stat st;

        listener_child_mknod_start(c, node, S_IFCHR | 0666, makedev(1, 3));
        call = harness_register_async(h, h->client, c->listener_fd,
                                      g_variant_new_parsed("[{'Syscall': <'mknod'>, 'Path': <%s>,"
                                                           "  'Major': <uint32 1>, 'Minor': <uint32 3>}]", node),
                                      g_variant_new_parsed("@a{sv} {}"), G_DBUS_CALL_FLAGS_NONE);
        /* The register action and the rule, asked at once. */
        question = harness_pop_polkit_call(h, call);
        g_assert_nonnull(question);
        rule_question = harness_pop_polkit_call(h, call);
        g_assert_nonnull(rule_question);

        /* A while with the question open: the call still waits, and nothing was made for it. */
        until = g_get_monotonic_time() + G_USEC_PER_SEC / 2;
        while (g_get_monotonic_time() < until)
                harness_spin(h);
        g_assert_false(listener_child_has_answered(c));
        g_assert_cmpint(lstat(node, &st), ==, -1);

        polkit_answer(rule_question, TRUE, FALSE);
        polkit_answer(question, FALSE, FALSE);
        harness_wait(h, call);
        harness_assert_call_error(call, DBUS_ERROR_ACCESS_DENIED, NULL);
        listener_child_close_listener(c);
        g_assert_cmpint(listener_child_mknod_finish(c), ==, ENOSYS);
        g_assert_cmpint(lstat(node, &st), ==, -1);
}

/* ---- open rules (root: the daemon resolves paths in the target's context) ---- */

static void write_file(const char *path, const char *contents, mode_t mode) {
        g_autoptr(GError) error = NULL;

        g_file_set_contents(path, contents, -1, &error);
        g_assert_no_error(error);
        g_assert_cmpint(chmod(path, mode), ==, 0);
}

static void assert_open_failed(ListenerChild *c, const char *path, int flags, int expected) {
        ListenerChildOpenResult r;

        listener_child_openat(c, path, flags, 0, &r);
        if (r.error != expected)
                harness_fail("openat('%s', 0%o) in the sandbox: expected %s, got %s", path, (unsigned) flags,
                             g_strerror(expected), r.error ? g_strerror(r.error) : "an fd");
        g_assert_cmpint(r.fd_flags, ==, -1);
}

/* Opens for reading and returns what the child read (at most 63 bytes). */
static char *assert_open_reads(ListenerChild *c, const char *path, int flags, gboolean cloexec) {
        ListenerChildOpenResult r;

        listener_child_openat(c, path, flags, 0, &r);
        if (r.error != 0)
                harness_fail("openat('%s', 0%o) in the sandbox failed: %s", path, (unsigned) flags,
                             g_strerror(r.error));
        g_assert_cmpint(r.fd_flags, >=, 0);
        if (!!(r.fd_flags & FD_CLOEXEC) != !!cloexec)
                harness_fail("openat('%s', 0%o): the sandbox's fd has FD_CLOEXEC %s", path, (unsigned) flags,
                             cloexec ? "clear" : "set");
        g_assert_cmpint(r.n_read, >=, 0);
        return g_strndup(r.data, MIN((size_t) r.n_read, sizeof r.data - 1));
}

static void test_open_deny_rule_answers_its_errno(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child_trapping(h, LISTENER_CHILD_TRAP_OPEN);
        g_autofree char *path = NULL, *pattern = NULL, *secret = NULL, *public = NULL, *contents = NULL;

        secret = g_build_filename(h->tmpdir, "secret-key", NULL);
        public = g_build_filename(h->tmpdir, "public", NULL);
        write_file(secret, "secret", 0600);
        write_file(public, "public", 0644);

        pattern = g_build_filename(h->tmpdir, "secret-*", NULL);
        path = harness_register_ok(h, h->client, c,
                                   g_variant_new_parsed("[{'Syscall': <'open'>, 'Action': <'deny'>,"
                                                        "  'Errno': <int32 13>, 'Path': <%s>, 'Access': <'rw'>}]",
                                                        pattern),
                                   g_variant_new_parsed("@a{sv} {}"), NULL);
        listener_child_close_listener(c);

        /* The child runs as root: without the rule, this open would succeed. */
        assert_open_failed(c, secret, O_RDONLY | O_CLOEXEC, EACCES);
        assert_counters(h, path, 1, 0, 1, 0, 0);

        /* No rule is about this file: the default (continue) lets the kernel open it. */
        contents = assert_open_reads(c, public, O_RDONLY | O_CLOEXEC, TRUE);
        g_assert_cmpstr(contents, ==, "public");
        assert_counters(h, path, 2, 0, 1, 1, 0);
}

/* The rule is matched against the file resolution reached, not the string the process passed. */
static void test_open_rule_matches_resolved_path(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child_trapping(h, LISTENER_CHILD_TRAP_OPEN);
        g_autofree char *path = NULL, *pattern = NULL, *secret = NULL, *public = NULL, *contents = NULL;
        g_autofree char *innocent_link = NULL, *secret_link = NULL, *subdir = NULL, *dotdot = NULL;

        secret = g_build_filename(h->tmpdir, "secret-key", NULL);
        public = g_build_filename(h->tmpdir, "public", NULL);
        innocent_link = g_build_filename(h->tmpdir, "innocent", NULL);
        secret_link = g_build_filename(h->tmpdir, "secret-link", NULL);
        subdir = g_build_filename(h->tmpdir, "sub", NULL);
        dotdot = g_build_filename(h->tmpdir, "sub", "..", "secret-key", NULL);
        write_file(secret, "secret", 0600);
        write_file(public, "public", 0644);
        g_assert_cmpint(symlink("secret-key", innocent_link), ==, 0);
        g_assert_cmpint(symlink("public", secret_link), ==, 0);
        g_assert_cmpint(mkdir(subdir, 0755), ==, 0);

        pattern = g_build_filename(h->tmpdir, "secret-*", NULL);
        path = harness_register_ok(h, h->client, c,
                                   g_variant_new_parsed("[{'Syscall': <'open'>, 'Action': <'deny'>,"
                                                        "  'Errno': <int32 13>, 'Path': <%s>}]", pattern),
                                   g_variant_new_parsed("@a{sv} {}"), NULL);
        listener_child_close_listener(c);

        /* A name the pattern does not match, leading to a file it does. */
        assert_open_failed(c, innocent_link, O_RDONLY, EACCES);
        assert_open_failed(c, dotdot, O_RDONLY, EACCES);
        assert_counters(h, path, 2, 0, 2, 0, 0);

        /* A name the pattern matches, leading to a file it does not. */
        contents = assert_open_reads(c, secret_link, O_RDONLY, FALSE);
        g_assert_cmpstr(contents, ==, "public");
        assert_counters(h, path, 3, 0, 2, 1, 0);
}

/* An emulated open hands the process an fd of the file, with FD_CLOEXEC as it asked; a read-only rule
 * grants neither writing nor truncating (the default, deny, answers those). */
static void test_open_emulate_rule_installs_fd(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child_trapping(h, LISTENER_CHILD_TRAP_OPEN);
        g_autofree char *path = NULL, *pattern = NULL, *file = NULL, *a = NULL, *b = NULL;
        struct stat st;

        file = g_build_filename(h->tmpdir, "data-1", NULL);
        write_file(file, "readable", 0600);

        pattern = g_build_filename(h->tmpdir, "data-*", NULL);
        path = harness_register_ok(h, h->client, c,
                                   g_variant_new_parsed("[{'Syscall': <'open'>, 'Path': <%s>}]", pattern),
                                   g_variant_new_parsed("{'DefaultAction': <'deny'>}"), NULL);
        listener_child_close_listener(c);

        a = assert_open_reads(c, file, O_RDONLY | O_CLOEXEC, TRUE);
        g_assert_cmpstr(a, ==, "readable");
        b = assert_open_reads(c, file, O_RDONLY, FALSE);
        g_assert_cmpstr(b, ==, "readable");
        assert_counters(h, path, 2, 2, 0, 0, 0);

        assert_open_failed(c, file, O_WRONLY, EPERM);
        assert_open_failed(c, file, O_RDWR, EPERM);
        assert_open_failed(c, file, O_RDONLY | O_TRUNC, EPERM);
        assert_open_failed(c, file, O_WRONLY | O_APPEND, EPERM);
        assert_counters(h, path, 6, 2, 4, 0, 0);
        g_assert_cmpint(stat(file, &st), ==, 0);
        g_assert_cmpint(st.st_size, ==, strlen("readable"));
}

/* With Create, a missing file is created as the process would have created it: its umask applied, owned
 * by it, close-on-exec as asked. Without Create, O_CREAT of a missing file is not granted. */
static void test_open_create_rule_creates_with_umask(Harness *h, gconstpointer data) {
        ListenerChild *c;
        g_autofree char *path = NULL, *pattern = NULL, *created = NULL, *dir = NULL, *other = NULL;
        ListenerChildOpenResult r;
        mode_t old_umask;
        struct stat st;

        /* The child inherits this umask; the broker must apply the child's, not its own (022 or 0). */
        old_umask = umask(027);
        c = harness_spawn_listener_child_trapping(h, LISTENER_CHILD_TRAP_OPEN);
        umask(old_umask);

        pattern = g_build_filename(h->tmpdir, "new-*", NULL);
        dir = g_build_filename(h->tmpdir, "no-create", NULL);
        g_assert_cmpint(mkdir(dir, 0755), ==, 0);
        other = g_build_filename(dir, "file", NULL);
        path = harness_register_ok(h, h->client, c,
                                   g_variant_new_parsed("[{'Syscall': <'open'>, 'Path': <%s>, 'Access': <'w'>,"
                                                        "  'Create': <true>},"
                                                        " {'Syscall': <'open'>, 'Path': <%s>, 'Access': <'w'>}]",
                                                        pattern, other),
                                   g_variant_new_parsed("{'DefaultAction': <'deny'>}"), NULL);
        listener_child_close_listener(c);

        created = g_build_filename(h->tmpdir, "new-1", NULL);
        listener_child_openat(c, created, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666, &r);
        if (r.error != 0)
                harness_fail("openat('%s', O_CREAT) in the sandbox failed: %s", created, g_strerror(r.error));
        g_assert_true(r.fd_flags & FD_CLOEXEC);
        g_assert_cmpint(lstat(created, &st), ==, 0);
        g_assert_true(S_ISREG(st.st_mode));
        g_assert_cmpuint(st.st_mode & 07777, ==, 0640);
        g_assert_cmpuint(st.st_uid, ==, geteuid());
        assert_counters(h, path, 1, 1, 0, 0, 0);

        /* Without Create, O_CREAT of a missing file is not granted: the default (deny) answers. */
        assert_open_failed(c, other, O_WRONLY | O_CREAT, EPERM);
        g_assert_cmpint(lstat(other, &st), ==, -1);
        assert_counters(h, path, 2, 1, 1, 0, 0);
}

/* A HostPath rule gives the process a file in the broker's view for a literal path, whether or not that
 * path exists in its own. */
static void test_open_host_path_rule_opens_brokers_file(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child_trapping(h, LISTENER_CHILD_TRAP_OPEN);
        g_autofree char *path = NULL, *host = NULL, *named = NULL, *contents = NULL;

        host = g_build_filename(h->tmpdir, "host-file", NULL);
        named = g_build_filename(h->tmpdir, "not-there", "device", NULL);
        write_file(host, "from the host", 0600);

        path = harness_register_ok(h, h->client, c,
                                   g_variant_new_parsed("[{'Syscall': <'open'>, 'Path': <%s>, 'HostPath': <%s>}]",
                                                        named, host),
                                   g_variant_new_parsed("{'DefaultAction': <'deny'>}"), NULL);
        listener_child_close_listener(c);

        contents = assert_open_reads(c, named, O_RDONLY | O_CLOEXEC, TRUE);
        g_assert_cmpstr(contents, ==, "from the host");
        assert_counters(h, path, 1, 1, 0, 0, 0);

        /* Read-only: writing is not what was authorized. */
        assert_open_failed(c, named, O_WRONLY, EPERM);
        assert_counters(h, path, 2, 1, 1, 0, 0);
}

static void count_signal(GDBusConnection *conn, const char *sender, const char *path, const char *interface,
                         const char *member, GVariant *parameters, gpointer user_data) {
        GPtrArray *members = user_data;
        g_ptr_array_add(members, g_strdup(member));
}

static gboolean members_contain(GPtrArray *members, const char *member) {
        for (guint i = 0; i < members->len; i++)
                if (g_str_equal(members->pdata[i], member))
                        return TRUE;
        return FALSE;
}

/* A HostPath through a symlink a user could have placed is refused for a reason the owner can fix: the
 * connection that registered the listener hears which rule and why (RuleRefused), and another connection,
 * subscribed to everything the daemon sends, hears the broadcast ListenerAdded but not that: the reason names
 * the sandbox's paths. */
static void test_rule_refused_is_told_to_the_owner_only(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child_trapping(h, LISTENER_CHILD_TRAP_OPEN);
        g_autofree char *path = NULL, *host = NULL, *link = NULL, *named = NULL, *never = NULL, *unsafe = NULL;
        g_autoptr(GPtrArray) other_heard = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDBusConnection) other = NULL;
        g_autoptr(BrokerSignal) refused = NULL;
        g_autoptr(GError) error = NULL;
        const char *description, *refused_path, *reason;
        guint32 rule, pid, missed;
        guint subscription;
        gint64 until;

        host = g_build_filename(h->tmpdir, "host-file", NULL);
        link = g_build_filename(h->tmpdir, "users-link", NULL);
        named = g_build_filename(h->tmpdir, "not-there", "device", NULL);
        never = g_build_filename(h->tmpdir, "never", NULL);
        write_file(host, "from the host", 0600);
        g_assert_cmpint(symlink(host, link), ==, 0);
        g_assert_cmpint(lchown(link, 65534, 65534), ==, 0);

        other = g_dbus_connection_new_for_address_sync(h->bus_address,
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
        g_assert_no_error(error);
        subscription = g_dbus_connection_signal_subscribe(other, h->daemon_unique_name, NULL, NULL, NULL, NULL,
                                                          G_DBUS_SIGNAL_FLAGS_NONE, count_signal, other_heard,
                                                          NULL);
        /* Its AddMatch is in effect once a later call of its is answered. */
        g_variant_unref(g_dbus_connection_call_sync(other, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                    "org.freedesktop.DBus", "GetId", NULL, NULL,
                                                    G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
        g_assert_no_error(error);

        path = harness_register_ok(h, h->client, c,
                                   g_variant_new_parsed("[{'Syscall': <'open'>, 'Action': <'deny'>, 'Path': <%s>},"
                                                        " {'Syscall': <'open'>, 'Path': <%s>, 'HostPath': <%s>}]",
                                                        never, named, link),
                                   g_variant_new_parsed("{'DefaultAction': <'deny'>}"), NULL);
        listener_child_close_listener(c);

        /* Refused with the default action, deny. */
        assert_open_failed(c, named, O_RDONLY | O_CLOEXEC, EPERM);

        refused = harness_wait_signal(h, BROKER_LISTENER_INTERFACE, "RuleRefused");
        g_assert_cmpstr(refused->path, ==, path);
        g_variant_get(refused->parameters, "(u&su&s&su)", &rule, &description, &pid, &refused_path, &reason,
                      &missed);
        g_assert_cmpuint(rule, ==, 1);
        g_assert_nonnull(strstr(description, "emulate open"));
        g_assert_nonnull(strstr(description, link));
        g_assert_cmpuint(pid, ==, (guint32) c->pid);
        g_assert_cmpstr(refused_path, ==, named);
        unsafe = g_strdup_printf("unsafe symlink at '%s' (owned by uid 65534", link);
        g_assert_nonnull(strstr(reason, unsafe));
        g_assert_cmpuint(missed, ==, 0);

        until = g_get_monotonic_time() + G_USEC_PER_SEC / 2;
        while (g_get_monotonic_time() < until)
                harness_spin(h);
        g_assert_true(members_contain(other_heard, "ListenerAdded"));
        g_assert_false(members_contain(other_heard, "RuleRefused"));
        g_dbus_connection_signal_unsubscribe(other, subscription);
}

/* ---- the Manager object ---- */

/* ---- idle exit ---- */

/* Long enough that a registration made right after start, on a loaded machine, comes before it. */
#define IDLE_TIMEOUT_SEC 5

static const HarnessOptions with_idle_exit = {
        .daemon_args = (const char *const[]) { "--idle-timeout=" G_STRINGIFY(IDLE_TIMEOUT_SEC), NULL },
};

/* Spins for `seconds` and asserts the daemon is still running at the end. */
static void assert_daemon_stays(Harness *h, guint seconds, const char *why) {
        gint64 until = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;

        while (g_get_monotonic_time() < until)
                harness_spin(h);
        if (h->daemon_exited)
                harness_fail("sysbrokerd exited after less than %u s although %s", seconds, why);
}

/* Waits (generously) for the daemon to exit by itself, and checks it did so cleanly. */
static void assert_daemon_exits_idle(Harness *h) {
        gint64 deadline = g_get_monotonic_time() + (IDLE_TIMEOUT_SEC * 5 + 5) * G_USEC_PER_SEC;

        while (!h->daemon_exited && g_get_monotonic_time() < deadline)
                harness_spin(h);
        if (!h->daemon_exited)
                harness_fail("sysbrokerd did not exit while idle (--idle-timeout=%d)", IDLE_TIMEOUT_SEC);
        g_assert_true(g_subprocess_get_if_exited(h->daemon));
        g_assert_cmpint(g_subprocess_get_exit_status(h->daemon), ==, 0);
}

static void test_idle_daemon_exits(Harness *h, gconstpointer data) {
        assert_daemon_exits_idle(h);
}

static void test_idle_exit_waits_for_listeners(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autofree char *path = NULL;
        guint64 id;

        path = register_plain(h, c, NULL, NULL, &id);
        broker_signal_free(harness_wait_signal(h, BROKER_MANAGER_INTERFACE, "ListenerAdded"));
        assert_daemon_stays(h, IDLE_TIMEOUT_SEC + 2, "it holds a listener");

        /* The sandbox is gone, and with it the listener: now it is idle. */
        listener_child_kill(c);
        expect_listener_removed(h, id, path, "exited");
        assert_daemon_exits_idle(h);
}

static void test_idle_exit_waits_for_polkit(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        GDBusMethodInvocation *question;

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant(RULE_UNRELATED),
                                      parse_variant("@a{sv} {}"), G_DBUS_CALL_FLAGS_NONE);
        question = harness_pop_polkit_call(h, call);
        g_assert_nonnull(question);
        assert_daemon_stays(h, IDLE_TIMEOUT_SEC + 2, "a polkit check is pending");

        polkit_answer(question, FALSE, FALSE);
        harness_wait(h, call);
        harness_assert_call_error(call, "org.freedesktop.DBus.Error.AccessDenied", NULL);
        assert_daemon_exits_idle(h);
}

static void test_manager_properties_are_served(Harness *h, gconstpointer data) {
        static const char *const known_features[] = {
                "addfd", "addfd-send", "sync-wake-up", "wait-killable-recv", "pidfd-getfd", NULL,
        };
        g_autoptr(GVariant) version = NULL, features = NULL, n = NULL;
        const char *expected_version = g_getenv("SYSBROKER_VERSION");
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

        version = harness_get_property_ok(h, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "Version");
        g_assert_cmpstr(g_variant_get_type_string(version), ==, "s");
        g_assert_cmpstr(g_variant_get_string(version, NULL), !=, "");
        if (expected_version)
                g_assert_cmpstr(g_variant_get_string(version, NULL), ==, expected_version);

        features = harness_get_property_ok(h, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "KernelFeatures");
        g_assert_cmpstr(g_variant_get_type_string(features), ==, "as");
        for (gsize i = 0; i < g_variant_n_children(features); i++) {
                const char *f;

                g_variant_get_child(features, i, "&s", &f);
                if (!g_strv_contains(known_features, f))
                        harness_fail("KernelFeatures lists unknown feature '%s'", f);
                if (!g_hash_table_add(seen, (gpointer) f))
                        harness_fail("KernelFeatures lists '%s' twice", f);
        }

        n = harness_get_property_ok(h, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "NListeners");
        g_assert_cmpstr(g_variant_get_type_string(n), ==, "u");
        g_assert_cmpuint(g_variant_get_uint32(n), ==, 0);
}

static const HarnessOptions with_notify_socket = { .notify_socket = TRUE };

static void test_daemon_notifies_ready(Harness *h, gconstpointer data) {
        gint64 deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;

        for (;;) {
                g_autofree char *message = harness_wait_notify(h);
                g_auto(GStrv) lines = g_strsplit(message, "\n", -1);

                if (g_strv_contains((const char *const *) lines, "READY=1"))
                        break;
                if (g_get_monotonic_time() > deadline)
                        harness_fail("sysbrokerd never sent READY=1");
        }
}

/* ---- the interface XML ---- */

static const char *string_or_empty(const char *s) {
        return s ? s : "";
}

static void compare_annotations(GString *diff, const char *where, GDBusAnnotationInfo **xml,
                                GDBusAnnotationInfo **live) {
        for (size_t i = 0; xml && xml[i]; i++) {
                const char *v = g_dbus_annotation_info_lookup(live, xml[i]->key);

                if (!v)
                        g_string_append_printf(diff, "\n  %s: annotation %s=%s is not served", where,
                                               xml[i]->key, xml[i]->value);
                else if (!g_str_equal(v, xml[i]->value))
                        g_string_append_printf(diff, "\n  %s: annotation %s is %s in the XML, %s live", where,
                                               xml[i]->key, xml[i]->value, v);
        }
        for (size_t i = 0; live && live[i]; i++)
                if (!g_dbus_annotation_info_lookup(xml, live[i]->key))
                        g_string_append_printf(diff, "\n  %s: annotation %s=%s is served but not in the XML",
                                               where, live[i]->key, live[i]->value);
}

static size_t n_args(GDBusArgInfo **args) {
        size_t n = 0;

        while (args && args[n])
                n++;
        return n;
}

static void compare_args(GString *diff, const char *where, GDBusArgInfo **xml, GDBusArgInfo **live) {
        size_t nx = n_args(xml), nl = n_args(live);

        if (nx != nl) {
                g_string_append_printf(diff, "\n  %s: %zu arguments in the XML, %zu live", where, nx, nl);
                return;
        }
        for (size_t i = 0; i < nx; i++) {
                g_autofree char *arg = g_strdup_printf("%s argument %zu", where, i);

                if (!g_str_equal(xml[i]->signature, live[i]->signature))
                        g_string_append_printf(diff, "\n  %s: signature %s in the XML, %s live", arg,
                                               xml[i]->signature, live[i]->signature);
                if (!g_str_equal(string_or_empty(xml[i]->name), string_or_empty(live[i]->name)))
                        g_string_append_printf(diff, "\n  %s: named '%s' in the XML, '%s' live", arg,
                                               string_or_empty(xml[i]->name), string_or_empty(live[i]->name));
                compare_annotations(diff, arg, xml[i]->annotations, live[i]->annotations);
        }
}

static void compare_interfaces(GString *diff, GDBusInterfaceInfo *xml, GDBusInterfaceInfo *live) {
        compare_annotations(diff, xml->name, xml->annotations, live->annotations);

        for (size_t i = 0; xml->methods && xml->methods[i]; i++) {
                GDBusMethodInfo *x = xml->methods[i], *l = g_dbus_interface_info_lookup_method(live, x->name);
                g_autofree char *in = g_strdup_printf("%s.%s() in", xml->name, x->name);
                g_autofree char *out = g_strdup_printf("%s.%s() out", xml->name, x->name);
                g_autofree char *where = g_strdup_printf("%s.%s()", xml->name, x->name);

                if (!l) {
                        g_string_append_printf(diff, "\n  method %s is not served", where);
                        continue;
                }
                compare_args(diff, in, x->in_args, l->in_args);
                compare_args(diff, out, x->out_args, l->out_args);
                compare_annotations(diff, where, x->annotations, l->annotations);
        }
        for (size_t i = 0; live->methods && live->methods[i]; i++)
                if (!g_dbus_interface_info_lookup_method(xml, live->methods[i]->name))
                        g_string_append_printf(diff, "\n  method %s.%s() is served but not in the XML",
                                               xml->name, live->methods[i]->name);

        for (size_t i = 0; xml->signals && xml->signals[i]; i++) {
                GDBusSignalInfo *x = xml->signals[i], *l = g_dbus_interface_info_lookup_signal(live, x->name);
                g_autofree char *where = g_strdup_printf("signal %s.%s", xml->name, x->name);

                if (!l) {
                        g_string_append_printf(diff, "\n  %s is not served", where);
                        continue;
                }
                compare_args(diff, where, x->args, l->args);
                compare_annotations(diff, where, x->annotations, l->annotations);
        }
        for (size_t i = 0; live->signals && live->signals[i]; i++)
                if (!g_dbus_interface_info_lookup_signal(xml, live->signals[i]->name))
                        g_string_append_printf(diff, "\n  signal %s.%s is served but not in the XML", xml->name,
                                               live->signals[i]->name);

        for (size_t i = 0; xml->properties && xml->properties[i]; i++) {
                GDBusPropertyInfo *x = xml->properties[i],
                                  *l = g_dbus_interface_info_lookup_property(live, x->name);
                g_autofree char *where = g_strdup_printf("property %s.%s", xml->name, x->name);

                if (!l) {
                        g_string_append_printf(diff, "\n  %s is not served", where);
                        continue;
                }
                if (!g_str_equal(x->signature, l->signature))
                        g_string_append_printf(diff, "\n  %s: type %s in the XML, %s live", where, x->signature,
                                               l->signature);
                if (x->flags != l->flags)
                        g_string_append_printf(diff, "\n  %s: access flags %u in the XML, %u live", where,
                                               (unsigned) x->flags, (unsigned) l->flags);
                compare_annotations(diff, where, x->annotations, l->annotations);
        }
        for (size_t i = 0; live->properties && live->properties[i]; i++)
                if (!g_dbus_interface_info_lookup_property(xml, live->properties[i]->name))
                        g_string_append_printf(diff, "\n  property %s.%s is served but not in the XML",
                                               xml->name, live->properties[i]->name);
}

static GDBusNodeInfo *introspect(Harness *h, const char *path) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;
        GDBusNodeInfo *node;
        const char *xml;

        reply = harness_call(h, h->client, path, "org.freedesktop.DBus.Introspectable", "Introspect", NULL,
                             G_VARIANT_TYPE("(s)"), &error);
        g_assert_no_error(error);
        g_variant_get(reply, "(&s)", &xml);
        node = g_dbus_node_info_new_for_xml(xml, &error);
        g_assert_no_error(error);
        return node;
}

static void test_interface_xml_matches_live_introspection(Harness *h, gconstpointer data) {
        const char *const *files = harness_interface_xml_paths();
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autofree char *path = register_plain(h, c, NULL, NULL, NULL);
        g_autoptr(GDBusNodeInfo) manager_node = introspect(h, BROKER_OBJECT_PATH);
        g_autoptr(GDBusNodeInfo) listener_node = introspect(h, path);
        g_autoptr(GHashTable) documented = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GString) diff = g_string_new(NULL);
        GDBusNodeInfo *live_nodes[] = { manager_node, listener_node };

        g_assert_nonnull(files[0]);
        for (size_t f = 0; files[f]; f++) {
                g_autofree char *contents = NULL;
                g_autoptr(GDBusNodeInfo) node = NULL;
                g_autoptr(GError) error = NULL;

                g_file_get_contents(files[f], &contents, NULL, &error);
                g_assert_no_error(error);
                node = g_dbus_node_info_new_for_xml(contents, &error);
                if (!node)
                        harness_fail("%s does not parse: %s", files[f], error->message);

                for (size_t i = 0; node->interfaces && node->interfaces[i]; i++) {
                        GDBusInterfaceInfo *x = node->interfaces[i], *l;

                        g_hash_table_add(documented, g_strdup(x->name));
                        l = g_dbus_node_info_lookup_interface(g_str_equal(x->name, BROKER_LISTENER_INTERFACE)
                                                                      ? listener_node
                                                                      : manager_node,
                                                              x->name);
                        if (!l) {
                                g_string_append_printf(diff, "\n  interface %s is not served", x->name);
                                continue;
                        }
                        compare_interfaces(diff, x, l);
                }
        }

        if (!g_hash_table_contains(documented, BROKER_MANAGER_INTERFACE))
                g_string_append_printf(diff, "\n  the XML lacks %s", BROKER_MANAGER_INTERFACE);
        if (!g_hash_table_contains(documented, BROKER_LISTENER_INTERFACE))
                g_string_append_printf(diff, "\n  the XML lacks %s", BROKER_LISTENER_INTERFACE);
        for (size_t n = 0; n < G_N_ELEMENTS(live_nodes); n++)
                for (size_t i = 0; live_nodes[n]->interfaces && live_nodes[n]->interfaces[i]; i++) {
                        const char *name = live_nodes[n]->interfaces[i]->name;

                        if (g_str_has_prefix(name, "org.sysbroker.") && !g_hash_table_contains(documented, name))
                                g_string_append_printf(diff, "\n  interface %s is served but not in the XML",
                                                       name);
                }

        if (diff->len > 0)
                harness_fail("the interface XML and the live objects differ:%s", diff->str);
}

/* ---- the peer-to-peer socket ---- */

static const HarnessOptions with_socket_activation = {
        .socket_activation = TRUE,
        .needs = HARNESS_NEEDS_SOCKET_ACTIVATE,
};

static void test_peer_socket_register_uses_unix_process_subject(Harness *h, gconstpointer data) {
        GDBusConnection *peer = h->peer;
        g_autoptr(GDBusConnection) second = NULL;
        g_autoptr(GVariant) second_list = NULL;
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        g_autoptr(GVariant) list = NULL, owner_pid = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *expected_path = NULL;
        const char *path, *entry_path, *entry_description;
        guint64 id, entry_id;
        guint32 entry_uid;
        GDBusMethodInvocation *inv;

        call = harness_register_async(h, peer, c->listener_fd, parse_variant(RULE_UNRELATED),
                                      parse_variant("{'Description': <'over the socket'>}"), G_DBUS_CALL_FLAGS_NONE);
        inv = harness_pop_polkit_call(h, NULL);
        harness_assert_polkit_call(inv, "unix-process",
                                   g_variant_new_parsed("{'pid': <%u>, 'start-time': <%t>, 'uid': <%i>}",
                                                        (guint32) getpid(), proc_start_time(getpid()),
                                                        (gint32) getuid()),
                                   ACTION_REGISTER, 0,
                                   STRV("default-action", "continue", "rules", "1",
                                        "description", "over the socket"));
        polkit_answer(inv, TRUE, FALSE);
        harness_wait(h, call);
        g_assert_no_error(call->error);

        g_variant_get(call->reply, "(&ot)", &path, &id);
        expected_path = g_strdup_printf(BROKER_LISTENER_PATH_PREFIX "%" G_GUINT64_FORMAT, id);
        g_assert_cmpstr(path, ==, expected_path);

        list = harness_list_listeners(h, peer);
        g_assert_cmpuint(g_variant_n_children(list), ==, 1);
        g_variant_get_child(list, 0, "(t&ou&s)", &entry_id, &entry_path, &entry_uid, &entry_description);
        g_assert_cmpuint(entry_id, ==, id);
        g_assert_cmpstr(entry_path, ==, path);
        g_assert_cmpuint(entry_uid, ==, getuid());
        g_assert_cmpstr(entry_description, ==, "over the socket");

        owner_pid = harness_get_property(h, peer, path, BROKER_LISTENER_INTERFACE, "OwnerPID", &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_variant_get_uint32(owner_pid), ==, getpid());

        /* Every accepted connection is served, and one registry is behind all doors. */
        second = harness_connect_peer(h);
        second_list = harness_list_listeners(h, second);
        g_assert_cmpuint(g_variant_n_children(second_list), ==, 1);
        g_assert_cmpuint(harness_n_listeners(h), ==, 1);
}

/* A peer that goes away while polkit is asked about its registration: the check is cancelled (polkit takes
 * the dialog down), and no listener comes of it. On the bus polkit notices by itself (the subject is the
 * caller's bus name); a peer's subject is a process, which may live on. */
static void test_peer_socket_disconnect_cancels_polkit_check(Harness *h, gconstpointer data) {
        g_autoptr(GDBusConnection) second = harness_connect_peer(h);
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        GDBusMethodInvocation *check, *cancel;
        const char *check_id = NULL, *cancel_id = NULL;

        call = harness_register_async(h, second, c->listener_fd, parse_variant(RULE_UNRELATED),
                                      parse_variant("@a{sv} {}"), G_DBUS_CALL_FLAGS_NONE);
        check = harness_pop_polkit_call(h, NULL);
        g_assert_cmpstr(g_dbus_method_invocation_get_method_name(check), ==, "CheckAuthorization");
        g_variant_get(g_dbus_method_invocation_get_parameters(check), "((sa{sv})sa{ss}u&s)", NULL, NULL, NULL,
                      NULL, NULL, &check_id);

        g_assert_true(g_dbus_connection_close_sync(second, NULL, NULL));
        cancel = harness_pop_polkit_call(h, NULL);
        g_assert_cmpstr(g_dbus_method_invocation_get_method_name(cancel), ==, "CancelCheckAuthorization");
        g_variant_get(g_dbus_method_invocation_get_parameters(cancel), "(&s)", &cancel_id);
        g_assert_cmpstr(cancel_id, ==, check_id);

        /* polkit's late answer (a yes) finds nobody waiting: no listener. */
        polkit_answer(check, TRUE, FALSE);
        for (int i = 0; i < 20; i++)
                harness_spin(h);
        g_assert_cmpuint(harness_n_listeners(h), ==, 0);
        g_object_unref(cancel);
}

/* Stopped while a peer's registration waits for polkit: SIGTERM must find a clean exit (the check is
 * cancelled, and the registration let go of once, in that order), and the call an error. */
static void test_peer_socket_shutdown_with_check_pending(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        GDBusMethodInvocation *check;
        gint64 deadline;

        call = harness_register_async(h, h->peer, c->listener_fd, parse_variant(RULE_UNRELATED),
                                      parse_variant("@a{sv} {}"), G_DBUS_CALL_FLAGS_NONE);
        check = harness_pop_polkit_call(h, NULL);
        g_assert_cmpstr(g_dbus_method_invocation_get_method_name(check), ==, "CheckAuthorization");

        g_subprocess_send_signal(h->daemon, SIGTERM);
        /* The daemon exits meanwhile, maybe before the call's end is seen here: not a failure in this test,
         * as harness_wait() would take it. */
        deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;
        while (!call->done && g_get_monotonic_time() < deadline)
                harness_spin(h);
        g_assert_true(call->done);
        g_assert_nonnull(call->error);
        while (!h->daemon_exited)
                harness_spin(h);
        g_assert_true(g_subprocess_get_if_exited(h->daemon));
        g_assert_cmpint(g_subprocess_get_exit_status(h->daemon), ==, 0);
        g_object_unref(check);
}

static gboolean recv_with_timeout(int fd, void *buf, size_t size, size_t *ret_n) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&p, 1, (int) (HARNESS_TIMEOUT_USEC / 1000)) <= 0)
                return FALSE;
        n = recv(fd, buf, size, 0);
        g_assert_cmpint(n, >, 0);
        *ret_n = (size_t) n;
        return TRUE;
}

/* A client may send BEGIN and its first call in one write, and the daemon may read them in one go (sd-bus
 * clients pipeline exactly like this; GDBus does when the daemon is slow to read). The call must still be
 * answered. Done by hand, since no client library lets a test choose how its bytes are packed. */
static void test_peer_socket_call_sent_with_begin_is_answered(Harness *h, gconstpointer data) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        g_autoptr(GDBusMessage) call = NULL, reply = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GByteArray) out = g_byte_array_new(), in = g_byte_array_new();
        g_autofree char *auth = NULL, *uid = g_strdup_printf("%u", (unsigned) getuid());
        g_autofree guchar *blob = NULL;
        g_autoptr(GString) hex = g_string_new(NULL);
        guint8 buf[4096];
        gsize blob_size;
        size_t n;
        gssize needed;
        int fd;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpuint(strlen(h->socket_path), <, sizeof sa.sun_path);
        strcpy(sa.sun_path, h->socket_path);
        g_assert_cmpint(connect(fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);

        for (const char *c = uid; *c; c++)
                g_string_append_printf(hex, "%02x", (unsigned char) *c);
        auth = g_strdup_printf("AUTH EXTERNAL %s\r\n", hex->str);
        g_assert_cmpint(send(fd, "", 1, MSG_NOSIGNAL), ==, 1);
        g_assert_cmpint(send(fd, auth, strlen(auth), MSG_NOSIGNAL), ==, (ssize_t) strlen(auth));
        while (in->len == 0 || !memmem(in->data, in->len, "\r\n", 2)) {
                if (!recv_with_timeout(fd, buf, sizeof buf, &n))
                        harness_fail("no answer to AUTH EXTERNAL on %s", h->socket_path);
                g_byte_array_append(in, buf, n);
        }
        if (in->len < 3 || memcmp(in->data, "OK ", 3) != 0)
                harness_fail("AUTH EXTERNAL was answered '%.*s', expected OK", (int) in->len, in->data);
        g_byte_array_set_size(in, 0);

        call = g_dbus_message_new_method_call(NULL, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "ListListeners");
        g_dbus_message_set_serial(call, 1);
        blob = g_dbus_message_to_blob(call, &blob_size, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
        g_assert_no_error(error);
        g_byte_array_append(out, (const guint8 *) "BEGIN\r\n", 7);
        g_byte_array_append(out, blob, blob_size);
        g_assert_cmpint(send(fd, out->data, out->len, MSG_NOSIGNAL), ==, (ssize_t) out->len);

        for (;;) {
                if (in->len >= 16) {
                        needed = g_dbus_message_bytes_needed(in->data, in->len, &error);
                        g_assert_no_error(error);
                        if (in->len >= (gsize) needed)
                                break;
                }
                if (!recv_with_timeout(fd, buf, sizeof buf, &n))
                        harness_fail("ListListeners() sent in the same write as BEGIN got no reply within %d s",
                                     (int) (HARNESS_TIMEOUT_USEC / G_USEC_PER_SEC));
                g_byte_array_append(in, buf, n);
        }
        reply = g_dbus_message_new_from_blob(in->data, needed, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
        g_assert_no_error(error);
        g_assert_cmpint(g_dbus_message_get_message_type(reply), ==, G_DBUS_MESSAGE_TYPE_METHOD_RETURN);
        g_assert_cmpuint(g_dbus_message_get_reply_serial(reply), ==, 1);
        g_assert_cmpstr(g_dbus_message_get_signature(reply), ==, "a(tous)");
        close(fd);
}

/* A listener's existence is its owner's business: someone else without the manage authorization gets the
 * same answer for Unregister as for reading it, or for a listener that does not exist, whatever polkit
 * answered (no, a challenge, an error). The stranger is a second uid on the peer-to-peer socket, whose
 * credentials are the socket's: root only. */
static const HarnessOptions with_socket_activation_as_root = {
        .socket_activation = TRUE,
        .needs = HARNESS_NEEDS_SOCKET_ACTIVATE | HARNESS_NEEDS_ROOT,
};

#define STRANGER_UID 65534

/* A peer-to-peer connection whose credentials (SO_PEERCRED, taken at connect) are STRANGER_UID's. */
static GDBusConnection *connect_peer_as_stranger(Harness *h) {
        g_autofree char *run_dir = g_path_get_dirname(h->tmpdir);
        GDBusConnection *conn;

        /* The scratch directories are root's, 0700: let the stranger reach the socket, and only that. */
        g_assert_cmpint(chmod(run_dir, 0711), ==, 0);
        g_assert_cmpint(chmod(h->tmpdir, 0711), ==, 0);
        g_assert_cmpint(chmod(h->socket_path, 0666), ==, 0);
        g_assert_cmpint(setresuid(-1, STRANGER_UID, 0), ==, 0);
        conn = harness_connect_peer(h);
        g_assert_cmpint(setresuid(-1, 0, 0), ==, 0);
        return conn;
}

static char *call_error(Harness *h, GDBusConnection *conn, const char *path, const char *interface,
                        const char *method, GVariant *parameters, char **ret_name) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;

        reply = harness_call(h, conn, path, interface, method, parameters, NULL, &error);
        if (!error)
                harness_fail("%s on %s succeeded for a stranger", method, path);
        *ret_name = g_dbus_error_get_remote_error(error);
        g_dbus_error_strip_remote_error(error);
        return g_strdup(error->message);
}

/* Unregister, with polkit's answer to the manage check given by answer(). */
static char *unregister_error(Harness *h, GDBusConnection *conn, const char *path,
                              void (*answer)(GDBusMethodInvocation *inv), char **ret_name) {
        g_autoptr(PendingCall) call = NULL;
        GDBusMethodInvocation *inv;

        call = harness_call_async(h, conn, path, BROKER_LISTENER_INTERFACE, "Unregister", NULL, NULL,
                                  G_DBUS_CALL_FLAGS_NONE, NULL);
        inv = harness_pop_polkit_call(h, NULL);
        g_assert_cmpstr(polkit_call_action_id(inv), ==, ACTION_MANAGE);
        answer(inv);
        harness_wait(h, call);
        if (!call->error)
                harness_fail("Unregister of %s succeeded for a stranger", path);
        *ret_name = g_dbus_error_get_remote_error(call->error);
        g_dbus_error_strip_remote_error(call->error);
        return g_strdup(call->error->message);
}

static void answer_no(GDBusMethodInvocation *inv) {
        polkit_answer(inv, FALSE, FALSE);
}

static void answer_challenge(GDBusMethodInvocation *inv) {
        polkit_answer(inv, FALSE, TRUE);
}

static void answer_error(GDBusMethodInvocation *inv) {
        polkit_answer_error(inv, "org.freedesktop.PolicyKit1.Error.Failed", "polkit broke");
}

static void test_peer_socket_foreign_unregister_answers_as_read(Harness *h, gconstpointer data) {
        void (*const answers[])(GDBusMethodInvocation *inv) = { answer_no, answer_challenge, answer_error };
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(GDBusConnection) stranger = NULL;
        g_autofree char *path = NULL, *missing = NULL, *read_name = NULL, *read_message = NULL;
        g_autofree char *missing_name = NULL, *missing_message = NULL, *expected = NULL;
        g_autoptr(GVariant) description = NULL, introspection = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *node = NULL;
        const char *xml;
        guint64 id;

        path = register_plain(h, c, NULL, "root's", &id);
        missing = g_strdup_printf(BROKER_LISTENER_PATH_PREFIX "%" G_GUINT64_FORMAT, id + 1000);
        stranger = connect_peer_as_stranger(h);

        /* What reading it says, and what a listener that does not exist says. */
        read_message = call_error(h, stranger, path, "org.freedesktop.DBus.Properties", "Get",
                                  g_variant_new("(ss)", BROKER_LISTENER_INTERFACE, "Description"), &read_name);
        g_assert_cmpstr(read_name, ==, "org.freedesktop.DBus.Error.UnknownObject");
        missing_message = call_error(h, stranger, missing, BROKER_LISTENER_INTERFACE, "Unregister", NULL,
                                     &missing_name);
        g_assert_cmpstr(missing_name, ==, read_name);
        expected = g_strdup_printf("Unknown object '%s'.", path);
        g_assert_cmpstr(read_message, ==, expected);

        for (size_t i = 0; i < G_N_ELEMENTS(answers); i++) {
                g_autofree char *name = NULL, *message = NULL;

                message = unregister_error(h, stranger, path, answers[i], &name);
                g_assert_cmpstr(name, ==, read_name);
                g_assert_cmpstr(message, ==, read_message);
        }

        /* Nor is it among the nodes the stranger's introspection lists. */
        introspection = harness_call(h, stranger, BROKER_OBJECT_PATH "/listener",
                                     "org.freedesktop.DBus.Introspectable", "Introspect", NULL,
                                     G_VARIANT_TYPE("(s)"), &error);
        g_assert_no_error(error);
        g_variant_get(introspection, "(&s)", &xml);
        node = g_strdup_printf("<node name=\"%" G_GUINT64_FORMAT "\"", id);
        g_assert_null(strstr(xml, node));

        /* Still there, for its owner, who sees it listed. */
        g_clear_pointer(&introspection, g_variant_unref);
        introspection = harness_call(h, h->client, BROKER_OBJECT_PATH "/listener",
                                     "org.freedesktop.DBus.Introspectable", "Introspect", NULL,
                                     G_VARIANT_TYPE("(s)"), &error);
        g_assert_no_error(error);
        g_variant_get(introspection, "(&s)", &xml);
        g_assert_nonnull(strstr(xml, node));
        description = harness_get_property_ok(h, path, BROKER_LISTENER_INTERFACE, "Description");
        g_assert_cmpstr(g_variant_get_string(description, NULL), ==, "root's");
}

/* Describe() by a stranger: another user's listener only with manage (asked without interaction), and then
 * only as ListListeners lists it: no rules, counters or process. */
static void test_peer_socket_describe_shows_stranger_only_a_summary(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(GDBusConnection) stranger = NULL;
        g_autofree char *path = NULL;
        guint64 id;

        path = register_plain(h, c, NULL, "root's", &id);
        stranger = connect_peer_as_stranger(h);

        for (int manage = 0; manage < 2; manage++) {
                g_autoptr(PendingCall) call = NULL;
                GDBusMethodInvocation *inv;
                json_object *root, *listeners, *l;
                const char *text;

                call = harness_call_async(h, stranger, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "Describe",
                                          NULL, G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE, NULL);
                inv = harness_pop_polkit_call(h, NULL);
                g_assert_cmpstr(polkit_call_action_id(inv), ==, ACTION_MANAGE);
                polkit_answer(inv, manage, FALSE);
                harness_wait(h, call);
                g_assert_no_error(call->error);
                g_variant_get(call->reply, "(&s)", &text);
                root = json_tokener_parse(text);
                g_assert_nonnull(root);
                g_assert_cmpint(json_object_get_int64(json_get(root, "NListeners", json_type_int)), ==, 1);
                listeners = json_get(root, "Listeners", json_type_array);
                if (!manage) {
                        g_assert_cmpuint(json_object_array_length(listeners), ==, 0);
                        json_object_put(root);
                        continue;
                }
                g_assert_cmpuint(json_object_array_length(listeners), ==, 1);
                l = json_object_array_get_idx(listeners, 0);
                g_assert_cmpuint(json_object_get_uint64(json_get(l, "Id", json_type_int)), ==, id);
                g_assert_cmpstr(json_object_get_string(json_get(l, "ObjectPath", json_type_string)), ==, path);
                g_assert_cmpuint(json_object_get_uint64(json_get(l, "OwnerUID", json_type_int)), ==, getuid());
                g_assert_cmpstr(json_object_get_string(json_get(l, "Description", json_type_string)), ==,
                                "root's");
                if (json_object_object_length(l) != 4)
                        harness_fail("a stranger sees more than ListListeners lists: %s",
                                     json_object_to_json_string(l));
                json_object_put(root);
        }
}

static const HarnessOptions with_interface_xml = { .needs = HARNESS_NEEDS_INTERFACE_XML };

int main(int argc, char **argv) {
        harness_init(&argc, &argv);

        harness_add_test("/listener/list-listeners-returns-callers-listeners", NULL,
                         test_list_listeners_returns_callers_listeners, NULL);
        harness_add_test("/listener/describe-returns-state-as-json", NULL, test_describe_returns_state_as_json, NULL);
        harness_add_test("/listener/unregister-by-owner-removes-listener", NULL,
                         test_unregister_by_owner_removes_listener, NULL);
        harness_add_test("/listener/child-exit-removes-listener-as-exited", NULL,
                         test_child_exit_removes_listener_as_exited, NULL);

        harness_add_test("/listener/default-continue-lets-kernel-decide", NULL,
                         test_default_continue_lets_kernel_decide, NULL);
        harness_add_test("/listener/default-deny-answers-eperm", NULL, test_default_deny_answers_eperm, NULL);
        harness_add_test("/listener/deny-rule-answers-its-errno", &as_root, test_deny_rule_answers_its_errno, NULL);
        harness_add_test("/listener/waiting-call-left-alone-until-authorized", &as_root,
                         test_waiting_call_is_left_alone_until_authorized, NULL);

        harness_add_test("/open/deny-rule-answers-its-errno", &as_root, test_open_deny_rule_answers_its_errno, NULL);
        harness_add_test("/open/rule-matches-resolved-path", &as_root, test_open_rule_matches_resolved_path, NULL);
        harness_add_test("/open/emulate-rule-installs-fd", &as_root, test_open_emulate_rule_installs_fd, NULL);
        harness_add_test("/open/create-rule-creates-with-umask", &as_root, test_open_create_rule_creates_with_umask,
                         NULL);
        harness_add_test("/open/host-path-rule-opens-brokers-file", &as_root,
                         test_open_host_path_rule_opens_brokers_file, NULL);

        harness_add_test("/open/rule-refused-is-told-to-the-owner-only", &as_root,
                         test_rule_refused_is_told_to_the_owner_only, NULL);
        harness_add_test("/manager/properties-are-served", NULL, test_manager_properties_are_served, NULL);
        harness_add_test("/manager/idle-daemon-exits", &with_idle_exit, test_idle_daemon_exits, NULL);
        harness_add_test("/manager/idle-exit-waits-for-listeners", &with_idle_exit,
                         test_idle_exit_waits_for_listeners, NULL);
        harness_add_test("/manager/idle-exit-waits-for-polkit", &with_idle_exit, test_idle_exit_waits_for_polkit,
                         NULL);
        harness_add_test("/manager/daemon-notifies-ready", &with_notify_socket, test_daemon_notifies_ready, NULL);
        harness_add_test("/manager/interface-xml-matches-live-introspection", &with_interface_xml,
                         test_interface_xml_matches_live_introspection, NULL);

        harness_add_test("/peer-socket/register-uses-unix-process-subject", &with_socket_activation,
                         test_peer_socket_register_uses_unix_process_subject, NULL);
        harness_add_test("/peer-socket/disconnect-cancels-polkit-check", &with_socket_activation,
                         test_peer_socket_disconnect_cancels_polkit_check, NULL);
        harness_add_test("/peer-socket/shutdown-with-check-pending", &with_socket_activation,
                         test_peer_socket_shutdown_with_check_pending, NULL);
        harness_add_test("/peer-socket/call-sent-with-begin-is-answered", &with_socket_activation,
                         test_peer_socket_call_sent_with_begin_is_answered, NULL);
        harness_add_test("/peer-socket/foreign-unregister-answers-as-read", &with_socket_activation_as_root,
                         test_peer_socket_foreign_unregister_answers_as_read, NULL);
        harness_add_test("/peer-socket/describe-shows-stranger-only-a-summary", &with_socket_activation_as_root,
                         test_peer_socket_describe_shows_stranger_only_a_summary, NULL);

        return g_test_run();
}
