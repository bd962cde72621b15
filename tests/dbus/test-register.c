/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RegisterListener against a mocked polkit: which questions sysbrokerd asks, in which order, what it does
 * with each answer, and how it refuses bad input without leaving anything behind. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RULE_DEV_NULL \
        "{'Syscall': <'mknod'>, 'Path': <'/dev/null'>, 'Major': <uint32 1>, 'Minor': <uint32 3>}"
#define RULE_TUN \
        "{'Syscall': <'mknod'>, 'Path': <'/dev/net/tun'>, 'Major': <uint32 10>, 'Minor': <uint32 200>}"
#define RULE_DEV_ZERO \
        "{'Syscall': <'mknod'>, 'Path': <'/dev/zero'>, 'Major': <uint32 1>, 'Minor': <uint32 5>}"
#define RULE_OPEN_DATA \
        "{'Syscall': <'open'>, 'Path': <'/srv/data/**'>}"
#define RULE_OPEN_KVM \
        "{'Syscall': <'open'>, 'Path': <'/dev/kvm'>, 'HostPath': <'/dev/kvm'>, 'Access': <'rw'>}"
#define RULE_CONTINUE \
        "{'Syscall': <'mknod'>, 'Action': <'continue'>, 'Path': <'/tmp/**'>," \
        " 'Major': <uint32 1>, 'Minor': <uint32 3>}"
#define NO_OPTIONS "@a{sv} {}"

/* ---- the questions ---- */

/* All checks at once, without interaction, in rule order: the daemon does not wait for one answer before
 * asking the next. */
static void test_register_asks_register_and_each_emulate_rule_at_once(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        GDBusMethodInvocation *inv[4];

        call = harness_register_async(
                h, h->client, c->listener_fd,
                parse_variant("[" RULE_DEV_NULL ","
                      /* deny and continue rules grant nothing: polkit is not asked about them */
                      " {'Syscall': <'mknod'>, 'Action': <'deny'>, 'Path': <'/dev/mem'>,"
                      "  'Major': <uint32 1>, 'Minor': <uint32 1>},"
                      " {'Syscall': <'mknod'>, 'Path': <'/dev/net/tun'>, 'Major': <uint32 10>,"
                      "  'Minor': <uint32 200>, 'Mode': <uint32 384>},"
                      /* 1:3 is on the safe list as a character device only */
                      " {'Syscall': <'mknod'>, 'Type': <'b'>, 'Path': <'/dev/sandbox/*'>,"
                      "  'Major': <uint32 1>, 'Minor': <uint32 3>},"
                      " {'Syscall': <'mknod'>, 'Action': <'continue'>, 'Path': <'/tmp/**'>,"
                      "  'Major': <uint32 5>, 'Minor': <uint32 1>}]"),
                parse_variant("{'Description': <'test sandbox'>, 'DefaultAction': <'deny'>}"),
                G_DBUS_CALL_FLAGS_NONE);

        /* Every one arrives while none is answered, each with the interactive flag clear. */
        inv[0] = harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                            STRV("default-action", "deny", "rules", "5",
                                                 "description", "test sandbox"));
        inv[1] = harness_expect_polkit_call(h, ACTION_MKNOD, 0,
                                            STRV("syscall", "mknod", "path", "/dev/null",
                                                 "device", "c 1:3", "mode", "0666"));
        inv[2] = harness_expect_polkit_call(h, ACTION_MKNOD_DEVICE, 0,
                                            STRV("syscall", "mknod", "path", "/dev/net/tun",
                                                 "device", "c 10:200", "mode", "0600"));
        inv[3] = harness_expect_polkit_call(h, ACTION_MKNOD_DEVICE, 0,
                                            STRV("syscall", "mknod", "path", "/dev/sandbox/*",
                                                 "device", "b 1:3", "mode", "0666"));
        harness_assert_no_polkit_call(h);
        g_assert_false(call->done);
        /* In any order: the last "yes" registers. */
        for (guint i = G_N_ELEMENTS(inv); i > 0; i--) {
                g_assert_false(call->done);
                polkit_answer(inv[i - 1], TRUE, FALSE);
        }

        harness_wait(h, call);
        g_assert_no_error(call->error);
        harness_assert_no_polkit_call(h);
}

static void test_register_details_omit_unset_description(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_DEV_NULL "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                 STRV("default-action", "continue", "rules", "1")),
                      TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD, 0,
                                                 STRV("syscall", "mknod", "path", "/dev/null",
                                                      "device", "c 1:3", "mode", "0666")),
                      TRUE, FALSE);
        harness_wait(h, call);
        g_assert_no_error(call->error);
}

static void test_register_interactive_call_allows_user_interaction(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_TUN "]"),
                                      parse_variant("{'DefaultAction': <'continue'>}"),
                                      G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION);
        /* First without interaction; only what wants authentication is asked again, with it. */
        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                 STRV("default-action", "continue", "rules", "1")),
                      TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD_DEVICE, 0,
                                                 STRV("syscall", "mknod", "path", "/dev/net/tun",
                                                      "device", "c 10:200", "mode", "0666")),
                      FALSE, TRUE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD_DEVICE, POLKIT_FLAG_ALLOW_USER_INTERACTION,
                                                 STRV("syscall", "mknod", "path", "/dev/net/tun",
                                                      "device", "c 10:200", "mode", "0666")),
                      TRUE, FALSE);
        harness_wait(h, call);
        g_assert_no_error(call->error);
}

static void test_register_only_safe_list_devices_use_mknod_action(Harness *h, gconstpointer data) {
        static const struct {
                char type;
                unsigned major, minor;
                const char *action;
        } devices[] = {
                { 'c', 1, 3, ACTION_MKNOD },          /* null */
                { 'c', 1, 5, ACTION_MKNOD },          /* zero */
                { 'c', 1, 7, ACTION_MKNOD },          /* full */
                { 'c', 1, 8, ACTION_MKNOD },          /* random */
                { 'c', 1, 9, ACTION_MKNOD },          /* urandom */
                { 'c', 5, 0, ACTION_MKNOD },          /* tty */
                { 'c', 5, 2, ACTION_MKNOD },          /* ptmx */
                { 'c', 0, 0, ACTION_MKNOD },          /* whiteout */
                { 'c', 1, 1, ACTION_MKNOD_DEVICE },   /* mem */
                { 'c', 1, 2, ACTION_MKNOD_DEVICE },
                { 'c', 5, 1, ACTION_MKNOD_DEVICE },   /* console */
                { 'b', 1, 5, ACTION_MKNOD_DEVICE },
                { 'b', 0, 0, ACTION_MKNOD_DEVICE },
        };
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        g_autofree char *n_rules = g_strdup_printf("%zu", G_N_ELEMENTS(devices));
        GVariantBuilder rules;

        g_variant_builder_init(&rules, G_VARIANT_TYPE("aa{sv}"));
        for (size_t i = 0; i < G_N_ELEMENTS(devices); i++) {
                g_autofree char *path = g_strdup_printf("/dev/node%zu", i);
                char type[2] = { devices[i].type, 0 };

                g_variant_builder_open(&rules, G_VARIANT_TYPE("a{sv}"));
                g_variant_builder_add(&rules, "{sv}", "Syscall", g_variant_new_string("mknod"));
                g_variant_builder_add(&rules, "{sv}", "Path", g_variant_new_string(path));
                g_variant_builder_add(&rules, "{sv}", "Type", g_variant_new_string(type));
                g_variant_builder_add(&rules, "{sv}", "Major", g_variant_new_uint32(devices[i].major));
                g_variant_builder_add(&rules, "{sv}", "Minor", g_variant_new_uint32(devices[i].minor));
                g_variant_builder_close(&rules);
        }

        call = harness_register_async(h, h->client, c->listener_fd, g_variant_builder_end(&rules),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                 STRV("default-action", "continue", "rules", n_rules)),
                      TRUE, FALSE);
        for (size_t i = 0; i < G_N_ELEMENTS(devices); i++) {
                g_autofree char *path = g_strdup_printf("/dev/node%zu", i);
                g_autofree char *device = g_strdup_printf("%c %u:%u", devices[i].type, devices[i].major,
                                                          devices[i].minor);

                polkit_answer(harness_expect_polkit_call(h, devices[i].action, 0,
                                                         STRV("syscall", "mknod", "path", path,
                                                              "device", device, "mode", "0666")),
                              TRUE, FALSE);
        }
        harness_wait(h, call);
        g_assert_no_error(call->error);
}

/* What the authentication dialog says for a HostPath rule, instead of the action's message. */
#define HOST_PATH_MESSAGE "Authentication is required to let a sandbox open the host's file $(host-path) as $(path), " \
        "with sysbrokerd's privileges."

/* What the authentication dialog says for a mount rule with a Source. */
#define MOUNT_SOURCE_MESSAGE "Authentication is required to let a sandbox mount $(fstype) $(source) on $(target)."

/* Open rules are asked about as .open, in rule order among the others; "access" and "create" always carry
 * the rule's value (defaults filled in), "host-path" and a message naming it only when the rule has one. */
static void test_register_open_rules_ask_open_action_with_details(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        GDBusMethodInvocation *inv;

        call = harness_register_async(
                h, h->client, c->listener_fd,
                parse_variant("[" RULE_OPEN_DATA ","
                      " {'Syscall': <'open'>, 'Action': <'deny'>, 'Errno': <int32 13>, 'Path': <'/etc/shadow'>},"
                      " {'Syscall': <'open'>, 'Path': <'/var/tmp/sandbox/*'>, 'Access': <'rw'>,"
                      "  'Create': <true>},"
                      " " RULE_DEV_NULL ","
                      " {'Syscall': <'open'>, 'Path': <'/run/app/log'>, 'Access': <'w'>, 'Create': <false>},"
                      " {'Syscall': <'open'>, 'Action': <'continue'>, 'Path': <'/tmp/**'>, 'Access': <'rw'>},"
                      " " RULE_OPEN_KVM "]"),
                parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);

        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                 STRV("default-action", "continue", "rules", "7")),
                      TRUE, FALSE);

        inv = harness_expect_polkit_call(h, ACTION_OPEN, 0,
                                         STRV("syscall", "open", "path", "/srv/data/**",
                                              "access", "r", "create", "false"));
        polkit_answer(inv, TRUE, FALSE);

        /* Rule 1 denies: nothing to authorize. */
        polkit_answer(harness_expect_polkit_call(h, ACTION_OPEN, 0,
                                                 STRV("syscall", "open", "path", "/var/tmp/sandbox/*",
                                                      "access", "rw", "create", "true")),
                      TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD, 0,
                                                 STRV("syscall", "mknod", "path", "/dev/null",
                                                      "device", "c 1:3", "mode", "0666")),
                      TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_OPEN, 0,
                                                 STRV("syscall", "open", "path", "/run/app/log",
                                                      "access", "w", "create", "false")),
                      TRUE, FALSE);
        /* Rule 5 continues: nothing to authorize either. */
        polkit_answer(harness_expect_polkit_call(h, ACTION_OPEN, 0,
                                                 STRV("syscall", "open", "path", "/dev/kvm",
                                                      "access", "rw", "create", "false",
                                                      "host-path", "/dev/kvm",
                                                      "polkit.message", HOST_PATH_MESSAGE)),
                      TRUE, FALSE);

        harness_wait(h, call);
        g_assert_no_error(call->error);
        harness_assert_no_polkit_call(h);
}

/* Mount rules are asked about as .mount: fstype, target and the flag and option lists always (defaults filled
 * in, lists joined with ','), source and max-size only when the rule has one. */
static void test_register_mount_rules_ask_mount_action_with_details(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;

        call = harness_register_async(
                h, h->client, c->listener_fd,
                parse_variant("[{'Syscall': <'mount'>, 'FsType': <'tmpfs'>, 'Target': <'/run/app/*'>,"
                              "  'Options': <['size=*', 'mode=0700']>, 'MaxSize': <uint64 67108864>},"
                              " {'Syscall': <'mount'>, 'Action': <'deny'>, 'FsType': <'bind'>,"
                              "  'Source': <'/etc/**'>, 'Target': <'/srv/**'>},"
                              " {'Syscall': <'mount'>, 'FsType': <'bind'>, 'Source': <'/srv/data'>,"
                              "  'Target': <'/home/u/data'>, 'AllowedFlags': <['ro', 'noatime']>,"
                              "  'ForcedFlags': <['nosuid', 'nodev', 'noexec']>}]"),
                parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);

        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                 STRV("default-action", "continue", "rules", "3")),
                      TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MOUNT, 0,
                                                 STRV("syscall", "mount", "fstype", "tmpfs",
                                                      "target", "/run/app/*", "allowed-flags", "",
                                                      "forced-flags", "nosuid,nodev",
                                                      "options", "size=*,mode=0700",
                                                      "max-size", "67108864")),
                      TRUE, FALSE);
        /* Rule 1 denies: nothing to authorize. */
        polkit_answer(harness_expect_polkit_call(h, ACTION_MOUNT, 0,
                                                 STRV("syscall", "mount", "fstype", "bind",
                                                      "source", "/srv/data", "target", "/home/u/data",
                                                      "allowed-flags", "ro,noatime",
                                                      "forced-flags", "nosuid,nodev,noexec", "options", "",
                                                      "polkit.message", MOUNT_SOURCE_MESSAGE)),
                      TRUE, FALSE);

        harness_wait(h, call);
        g_assert_no_error(call->error);
        harness_assert_no_polkit_call(h);
}

static void test_register_open_interactive_call_allows_user_interaction(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_OPEN_KVM "]"),
                                      parse_variant("{'Description': <'vm'>}"),
                                      G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION);
        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                 STRV("default-action", "continue", "rules", "1",
                                                      "description", "vm")),
                      FALSE, TRUE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_OPEN, 0,
                                                 STRV("syscall", "open", "path", "/dev/kvm",
                                                      "access", "rw", "create", "false",
                                                      "host-path", "/dev/kvm",
                                                      "polkit.message", HOST_PATH_MESSAGE)),
                      TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, POLKIT_FLAG_ALLOW_USER_INTERACTION,
                                                 STRV("default-action", "continue", "rules", "1",
                                                      "description", "vm")),
                      TRUE, FALSE);
        harness_assert_no_polkit_call(h);
        harness_wait(h, call);
        g_assert_no_error(call->error);
}

/* ---- "yes" ---- */

static void test_register_authorized_creates_and_announces_listener(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        g_autoptr(BrokerSignal) added = NULL, changed = NULL;
        g_autoptr(GVariant) list = NULL, changed_props = NULL, n = NULL;
        g_autofree char *expected_path = NULL;
        const char *path, *signal_path, *changed_interface, *entry_path, *entry_description;
        guint64 id, signal_id, entry_id;
        guint32 entry_uid;

        g_assert_cmpuint(harness_n_listeners(h), ==, 0);

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_DEV_NULL "]"),
                                      parse_variant("{'Description': <'my sandbox'>}"), G_DBUS_CALL_FLAGS_NONE);
        polkit_answer(harness_pop_polkit_call(h, NULL), TRUE, FALSE);
        polkit_answer(harness_pop_polkit_call(h, NULL), TRUE, FALSE);
        harness_wait(h, call);
        g_assert_no_error(call->error);

        g_variant_get(call->reply, "(&ot)", &path, &id);
        g_assert_cmpuint(id, >=, 1);
        expected_path = g_strdup_printf(BROKER_LISTENER_PATH_PREFIX "%" G_GUINT64_FORMAT, id);
        g_assert_cmpstr(path, ==, expected_path);

        added = harness_wait_signal(h, BROKER_MANAGER_INTERFACE, "ListenerAdded");
        g_assert_cmpstr(added->path, ==, BROKER_OBJECT_PATH);
        g_assert_cmpstr(g_variant_get_type_string(added->parameters), ==, "(to)");
        g_variant_get(added->parameters, "(t&o)", &signal_id, &signal_path);
        g_assert_cmpuint(signal_id, ==, id);
        g_assert_cmpstr(signal_path, ==, path);

        changed = harness_wait_signal(h, "org.freedesktop.DBus.Properties", "PropertiesChanged");
        g_assert_cmpstr(changed->path, ==, BROKER_OBJECT_PATH);
        g_variant_get(changed->parameters, "(&s@a{sv}@as)", &changed_interface, &changed_props, NULL);
        g_assert_cmpstr(changed_interface, ==, BROKER_MANAGER_INTERFACE);
        n = g_variant_lookup_value(changed_props, "NListeners", G_VARIANT_TYPE_UINT32);
        g_assert_nonnull(n);
        g_assert_cmpuint(g_variant_get_uint32(n), ==, 1);

        g_assert_cmpuint(harness_n_listeners(h), ==, 1);

        list = harness_list_listeners(h, h->client);
        g_assert_cmpuint(g_variant_n_children(list), ==, 1);
        g_variant_get_child(list, 0, "(t&ou&s)", &entry_id, &entry_path, &entry_uid, &entry_description);
        g_assert_cmpuint(entry_id, ==, id);
        g_assert_cmpstr(entry_path, ==, path);
        g_assert_cmpuint(entry_uid, ==, getuid());
        g_assert_cmpstr(entry_description, ==, "my sandbox");
}

static void test_register_listener_properties_describe_registration(Harness *h, gconstpointer data) {
        static const char *const counters[] = { "Notifications", "Emulated", "Denied", "Continued", "Failed" };
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autofree char *path = NULL;
        g_autoptr(GVariant) v = NULL, rules = NULL, expected = NULL;
        guint64 id, started = g_get_real_time();

        path = harness_register_ok(
                h, h->client, c,
                parse_variant("[" RULE_DEV_NULL ","
                      " {'Syscall': <'mknod'>, 'Action': <'deny'>, 'Path': <'/dev/block/*'>, 'Type': <'b'>,"
                      "  'Major': <uint32 8>, 'Minor': <uint32 0>, 'Mode': <uint32 416>},"
                      " {'Syscall': <'mknod'>, 'Action': <'deny'>, 'Errno': <int32 13>, 'Path': <'/dev/x'>,"
                      "  'Major': <uint32 1>, 'Minor': <uint32 1>},"
                      " {'Syscall': <'mknod'>, 'Action': <'continue'>, 'Path': <'/run/**'>,"
                      "  'Major': <uint32 5>, 'Minor': <uint32 1>}]"),
                parse_variant("{'Description': <'props'>, 'DefaultAction': <'deny'>}"), &id);

        v = harness_get_property_ok(h, path, BROKER_LISTENER_INTERFACE, "Id");
        g_assert_cmpstr(g_variant_get_type_string(v), ==, "t");
        g_assert_cmpuint(g_variant_get_uint64(v), ==, id);
        g_clear_pointer(&v, g_variant_unref);

        v = harness_get_property_ok(h, path, BROKER_LISTENER_INTERFACE, "OwnerUID");
        g_assert_cmpstr(g_variant_get_type_string(v), ==, "u");
        g_assert_cmpuint(g_variant_get_uint32(v), ==, getuid());
        g_clear_pointer(&v, g_variant_unref);

        v = harness_get_property_ok(h, path, BROKER_LISTENER_INTERFACE, "OwnerPID");
        g_assert_cmpstr(g_variant_get_type_string(v), ==, "u");
        g_assert_cmpuint(g_variant_get_uint32(v), ==, getpid());
        g_clear_pointer(&v, g_variant_unref);

        /* Registered within this test: after it began, not after now. */
        v = harness_get_property_ok(h, path, BROKER_LISTENER_INTERFACE, "RegisteredTimestamp");
        g_assert_cmpstr(g_variant_get_type_string(v), ==, "t");
        g_assert_cmpuint(g_variant_get_uint64(v), >=, started);
        g_assert_cmpuint(g_variant_get_uint64(v), <=, (guint64) g_get_real_time());
        g_clear_pointer(&v, g_variant_unref);

        v = harness_get_property_ok(h, path, BROKER_LISTENER_INTERFACE, "Description");
        g_assert_cmpstr(g_variant_get_type_string(v), ==, "s");
        g_assert_cmpstr(g_variant_get_string(v, NULL), ==, "props");
        g_clear_pointer(&v, g_variant_unref);

        v = harness_get_property_ok(h, path, BROKER_LISTENER_INTERFACE, "DefaultAction");
        g_assert_cmpstr(g_variant_get_type_string(v), ==, "s");
        g_assert_cmpstr(g_variant_get_string(v, NULL), ==, "deny");
        g_clear_pointer(&v, g_variant_unref);

        for (size_t i = 0; i < G_N_ELEMENTS(counters); i++)
                harness_assert_counter(h, path, counters[i], 0);

        /* Every default filled in; Errno only where the action is deny, Mode only where it emulates. */
        rules = harness_get_property_ok(h, path, BROKER_LISTENER_INTERFACE, "Rules");
        g_assert_cmpstr(g_variant_get_type_string(rules), ==, "aa{sv}");
        expected = parse_variant(
                "[{'Syscall': <'mknod'>, 'Action': <'emulate'>, 'Path': <'/dev/null'>, 'Type': <'c'>,"
                "  'Major': <uint32 1>, 'Minor': <uint32 3>, 'Mode': <uint32 438>},"
                " {'Syscall': <'mknod'>, 'Action': <'deny'>, 'Errno': <int32 1>, 'Path': <'/dev/block/*'>,"
                "  'Type': <'b'>, 'Major': <uint32 8>, 'Minor': <uint32 0>},"
                " {'Syscall': <'mknod'>, 'Action': <'deny'>, 'Errno': <int32 13>, 'Path': <'/dev/x'>,"
                "  'Type': <'c'>, 'Major': <uint32 1>, 'Minor': <uint32 1>},"
                " {'Syscall': <'mknod'>, 'Action': <'continue'>, 'Path': <'/run/**'>, 'Type': <'c'>,"
                "  'Major': <uint32 5>, 'Minor': <uint32 1>}]");
        g_assert_cmpuint(g_variant_n_children(rules), ==, g_variant_n_children(expected));
        for (gsize i = 0; i < g_variant_n_children(expected); i++) {
                g_autoptr(GVariant) a = g_variant_get_child_value(rules, i);
                g_autoptr(GVariant) e = g_variant_get_child_value(expected, i);
                g_autofree char *what = g_strdup_printf("Rules[%zu]", (size_t) i);

                assert_vardict_equal(a, e, what);
        }
}

static void assert_rules_property(Harness *h, const char *path, const char *expected_text) {
        g_autoptr(GVariant) rules = harness_get_property_ok(h, path, BROKER_LISTENER_INTERFACE, "Rules");
        g_autoptr(GVariant) expected = parse_variant(expected_text);

        g_assert_cmpstr(g_variant_get_type_string(rules), ==, "aa{sv}");
        g_assert_cmpuint(g_variant_n_children(rules), ==, g_variant_n_children(expected));
        for (gsize i = 0; i < g_variant_n_children(expected); i++) {
                g_autoptr(GVariant) a = g_variant_get_child_value(rules, i);
                g_autoptr(GVariant) e = g_variant_get_child_value(expected, i);
                g_autofree char *what = g_strdup_printf("Rules[%zu]", (size_t) i);

                assert_vardict_equal(a, e, what);
        }
}

/* Open rules come back with Access and Create filled in where they emulate (a deny or continue rule
 * covers every open of its path: the keys would not apply), HostPath only where one was given, Errno only
 * for deny, and no mknod keys. */
static void test_register_open_rules_property_fills_defaults(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autofree char *path = NULL;

        path = harness_register_ok(
                h, h->client, c,
                parse_variant("[" RULE_OPEN_DATA ","
                      " " RULE_OPEN_KVM ","
                      " {'Syscall': <'open'>, 'Action': <'deny'>, 'Errno': <int32 13>, 'Path': <'/etc/shadow'>},"
                      " {'Syscall': <'open'>, 'Action': <'deny'>, 'Path': <'/etc/gshadow'>, 'Access': <'w'>},"
                      " {'Syscall': <'open'>, 'Action': <'continue'>, 'Path': <'/tmp/*'>, 'Access': <'rw'>,"
                      "  'Create': <true>},"
                      " {'Syscall': <'open'>, 'Path': <'/dev/dri/card0'>, 'HostPath': <'/dev/dri/card1'>},"
                      " " RULE_DEV_NULL "]"),
                parse_variant(NO_OPTIONS), NULL);

        assert_rules_property(
                h, path,
                "[{'Syscall': <'open'>, 'Action': <'emulate'>, 'Path': <'/srv/data/**'>, 'Access': <'r'>,"
                "  'Create': <false>},"
                " {'Syscall': <'open'>, 'Action': <'emulate'>, 'Path': <'/dev/kvm'>, 'Access': <'rw'>,"
                "  'Create': <false>, 'HostPath': <'/dev/kvm'>},"
                " {'Syscall': <'open'>, 'Action': <'deny'>, 'Errno': <int32 13>, 'Path': <'/etc/shadow'>},"
                " {'Syscall': <'open'>, 'Action': <'deny'>, 'Errno': <int32 1>, 'Path': <'/etc/gshadow'>},"
                " {'Syscall': <'open'>, 'Action': <'continue'>, 'Path': <'/tmp/*'>},"
                " {'Syscall': <'open'>, 'Action': <'emulate'>, 'Path': <'/dev/dri/card0'>, 'Access': <'r'>,"
                "  'Create': <false>, 'HostPath': <'/dev/dri/card1'>},"
                " {'Syscall': <'mknod'>, 'Action': <'emulate'>, 'Path': <'/dev/null'>, 'Type': <'c'>,"
                "  'Major': <uint32 1>, 'Minor': <uint32 3>, 'Mode': <uint32 438>}]");
}

/* ---- anything but "yes" ---- */

static void assert_nothing_created(Harness *h, guint fds_before) {
        harness_assert_no_polkit_call(h);
        harness_assert_no_listeners(h);
        harness_assert_no_signal(h, BROKER_MANAGER_INTERFACE, "ListenerAdded");
        harness_assert_daemon_fd_count(h, fds_before);
}

static guint warm_up_and_count_fds(Harness *h) {
        /* A first call may make the daemon set up per-peer state; count after it. */
        harness_assert_no_listeners(h);
        return harness_daemon_fd_count(h);
}

static void test_register_refused_is_access_denied(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        GDBusMethodInvocation *register_check, *rule_check;
        guint fds = warm_up_and_count_fds(h);

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_DEV_NULL "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        register_check = harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                    STRV("default-action", "continue", "rules", "1"));
        rule_check = harness_pop_polkit_call(h, NULL);
        polkit_answer(register_check, FALSE, FALSE);
        harness_wait(h, call);
        harness_assert_call_error(call, DBUS_ERROR_ACCESS_DENIED, STRV(ACTION_REGISTER));
        /* The rule's "yes" after the refusal changes nothing. */
        polkit_answer(rule_check, TRUE, FALSE);
        assert_nothing_created(h, fds);
}

/* A "no" that arrives after every other check said yes: nothing registered, the refusing rule named. */
static void test_register_rule_refused_last_registers_nothing(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        g_autofree char *message = NULL;
        GDBusMethodInvocation *tun;
        guint fds = warm_up_and_count_fds(h);

        call = harness_register_async(h, h->client, c->listener_fd,
                                      parse_variant("[" RULE_DEV_NULL "," RULE_TUN "," RULE_DEV_ZERO "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                 STRV("default-action", "continue", "rules", "3")),
                      TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD, 0,
                                                 STRV("syscall", "mknod", "path", "/dev/null",
                                                      "device", "c 1:3", "mode", "0666")),
                      TRUE, FALSE);
        tun = harness_expect_polkit_call(h, ACTION_MKNOD_DEVICE, 0,
                                         STRV("syscall", "mknod", "path", "/dev/net/tun",
                                              "device", "c 10:200", "mode", "0666"));
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD, 0,
                                                 STRV("syscall", "mknod", "path", "/dev/zero",
                                                      "device", "c 1:5", "mode", "0666")),
                      TRUE, FALSE);
        harness_assert_no_polkit_call(h);
        g_assert_false(call->done);
        polkit_answer(tun, FALSE, FALSE);
        harness_wait(h, call);
        harness_assert_call_error(call, DBUS_ERROR_ACCESS_DENIED, STRV(ACTION_MKNOD_DEVICE));
        message = g_ascii_strdown(call->error->message, -1);
        if (!strstr(message, "rule 1"))
                harness_fail("error message \"%s\" does not name rule 1", call->error->message);
        assert_nothing_created(h, fds);
}

static void test_register_open_rule_refused_names_action_and_rule(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        g_autofree char *message = NULL;
        guint fds = warm_up_and_count_fds(h);

        call = harness_register_async(h, h->client, c->listener_fd,
                                      parse_variant("[" RULE_OPEN_DATA "," RULE_OPEN_KVM "," RULE_DEV_NULL "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                 STRV("default-action", "continue", "rules", "3")),
                      TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_OPEN, 0,
                                                 STRV("syscall", "open", "path", "/srv/data/**",
                                                      "access", "r", "create", "false")),
                      TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_OPEN, 0,
                                                 STRV("syscall", "open", "path", "/dev/kvm",
                                                      "access", "rw", "create", "false",
                                                      "host-path", "/dev/kvm",
                                                      "polkit.message", HOST_PATH_MESSAGE)),
                      FALSE, FALSE);
        /* Rule 2 was asked at the same time; its answer no longer matters. */
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD, 0,
                                                 STRV("syscall", "mknod", "path", "/dev/null",
                                                      "device", "c 1:3", "mode", "0666")),
                      TRUE, FALSE);
        harness_wait(h, call);
        harness_assert_call_error(call, DBUS_ERROR_ACCESS_DENIED, STRV(ACTION_OPEN));
        message = g_ascii_strdown(call->error->message, -1);
        if (!strstr(message, "rule 1"))
                harness_fail("error message \"%s\" does not name rule 1", call->error->message);
        assert_nothing_created(h, fds);
}

static void test_register_challenge_without_interactive_requires_it(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        guint fds = warm_up_and_count_fds(h);

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_DEV_NULL "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                 STRV("default-action", "continue", "rules", "1")),
                      FALSE, TRUE);
        polkit_answer(harness_pop_polkit_call(h, NULL), TRUE, FALSE);
        harness_wait(h, call);
        harness_assert_call_error(call, DBUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, NULL);
        assert_nothing_created(h, fds);
}

static void test_register_rule_challenge_without_interactive_requires_it(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        guint fds = warm_up_and_count_fds(h);

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_TUN "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        polkit_answer(harness_pop_polkit_call(h, NULL), TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD_DEVICE, 0,
                                                 STRV("syscall", "mknod", "path", "/dev/net/tun",
                                                      "device", "c 10:200", "mode", "0666")),
                      FALSE, TRUE);
        harness_wait(h, call);
        harness_assert_call_error(call, DBUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, NULL);
        assert_nothing_created(h, fds);
}

static void test_register_polkit_error_is_access_denied(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        guint fds = warm_up_and_count_fds(h);

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_DEV_NULL "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        polkit_answer_error(harness_pop_polkit_call(h, NULL), "org.freedesktop.PolicyKit1.Error.Failed",
                            "Action org.sysbroker.Broker1.register is not registered");
        polkit_answer(harness_pop_polkit_call(h, NULL), TRUE, FALSE);
        harness_wait(h, call);
        harness_assert_call_error(call, DBUS_ERROR_ACCESS_DENIED, STRV("Authorization check failed"));
        assert_nothing_created(h, fds);
}

static void test_register_rule_polkit_error_is_access_denied(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        guint fds = warm_up_and_count_fds(h);

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_DEV_NULL "," RULE_TUN "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        polkit_answer(harness_pop_polkit_call(h, NULL), TRUE, FALSE);
        polkit_answer(harness_pop_polkit_call(h, NULL), TRUE, FALSE);
        polkit_answer_error(harness_pop_polkit_call(h, NULL), "org.freedesktop.PolicyKit1.Error.Failed",
                            "Something went wrong");
        harness_wait(h, call);
        harness_assert_call_error(call, DBUS_ERROR_ACCESS_DENIED, STRV("Authorization check failed"));
        assert_nothing_created(h, fds);
}

/* ---- all at once, then interaction one dialog at a time ---- */

#define DEV_NULL_DETAILS STRV("syscall", "mknod", "path", "/dev/null", "device", "c 1:3", "mode", "0666")
#define TUN_DETAILS STRV("syscall", "mknod", "path", "/dev/net/tun", "device", "c 10:200", "mode", "0666")
#define DEV_ZERO_DETAILS STRV("syscall", "mknod", "path", "/dev/zero", "device", "c 1:5", "mode", "0666")

/* The checks that want authentication are asked again with interaction, one at a time, in rule order; the
 * others are not asked again. */
static void test_register_challenges_asked_again_one_at_a_time(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        GDBusMethodInvocation *inv;

        call = harness_register_async(h, h->client, c->listener_fd,
                                      parse_variant("[" RULE_DEV_NULL "," RULE_TUN "," RULE_DEV_ZERO "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION);
        inv = harness_expect_polkit_call(h, ACTION_REGISTER, 0, STRV("default-action", "continue", "rules", "3"));
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD, 0, DEV_NULL_DETAILS), FALSE, TRUE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD_DEVICE, 0, TUN_DETAILS), TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD, 0, DEV_ZERO_DETAILS), FALSE, TRUE);
        /* No dialog before every check answered: the register action's "no" would make it pointless. */
        harness_assert_no_polkit_call(h);
        polkit_answer(inv, TRUE, FALSE);

        inv = harness_expect_polkit_call(h, ACTION_MKNOD, POLKIT_FLAG_ALLOW_USER_INTERACTION, DEV_NULL_DETAILS);
        harness_assert_no_polkit_call(h);
        polkit_answer(inv, TRUE, FALSE);
        inv = harness_expect_polkit_call(h, ACTION_MKNOD, POLKIT_FLAG_ALLOW_USER_INTERACTION, DEV_ZERO_DETAILS);
        harness_assert_no_polkit_call(h);
        g_assert_false(call->done);
        polkit_answer(inv, TRUE, FALSE);

        harness_wait(h, call);
        g_assert_no_error(call->error);
        g_assert_cmpuint(harness_n_listeners(h), ==, 1);
}

/* A "no" after authentication ends it: the next challenged check is not asked, nothing is registered. */
static void test_register_no_after_authentication_stops(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        guint fds = warm_up_and_count_fds(h);

        call = harness_register_async(h, h->client, c->listener_fd,
                                      parse_variant("[" RULE_DEV_NULL "," RULE_TUN "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION);
        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                 STRV("default-action", "continue", "rules", "2")),
                      FALSE, TRUE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD, 0, DEV_NULL_DETAILS), TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD_DEVICE, 0, TUN_DETAILS), FALSE, TRUE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, POLKIT_FLAG_ALLOW_USER_INTERACTION,
                                                 STRV("default-action", "continue", "rules", "2")),
                      FALSE, FALSE);
        harness_wait(h, call);
        harness_assert_call_error(call, DBUS_ERROR_ACCESS_DENIED, STRV(ACTION_REGISTER));
        assert_nothing_created(h, fds);
}

/* Rules that would ask polkit the same question are asked once. */
static void test_register_identical_checks_asked_once(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;

        call = harness_register_async(h, h->client, c->listener_fd,
                                      parse_variant("[" RULE_DEV_NULL "," RULE_TUN "," RULE_DEV_NULL "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                 STRV("default-action", "continue", "rules", "3")),
                      TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD, 0, DEV_NULL_DETAILS), TRUE, FALSE);
        polkit_answer(harness_expect_polkit_call(h, ACTION_MKNOD_DEVICE, 0, TUN_DETAILS), TRUE, FALSE);
        harness_wait(h, call);
        g_assert_no_error(call->error);
        harness_assert_no_polkit_call(h);
}

#define POLKIT_MAX_IN_FLIGHT_PER_USER 16u
#define MANY_RULES 24u

static GPtrArray *pop_all_polkit_calls(Harness *h);

/* A registration keeps at most the per-user bound of checks at polkit, and asks the next as each answers. */
static void test_register_many_rules_keep_bound_at_polkit(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(GString) rules = g_string_new("[");
        g_autoptr(PendingCall) call = NULL;
        g_autoptr(GPtrArray) in_flight = NULL;
        guint n_checks = 0;

        for (guint i = 0; i < MANY_RULES; i++)
                g_string_append_printf(rules, "%s{'Syscall': <'mknod'>, 'Path': <'/dev/box/%u'>,"
                                       " 'Major': <uint32 1>, 'Minor': <uint32 3>}", i > 0 ? "," : "", i);
        g_string_append(rules, "]");
        call = harness_register_async(h, h->client, c->listener_fd, parse_variant(rules->str),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);

        in_flight = pop_all_polkit_calls(h);
        g_assert_cmpuint(in_flight->len, ==, POLKIT_MAX_IN_FLIGHT_PER_USER);
        /* One answer, one more question: rule 15, the next in order. */
        polkit_answer(g_ptr_array_steal_index(in_flight, 0), TRUE, FALSE);
        n_checks++;
        g_ptr_array_add(in_flight, harness_expect_polkit_call(h, ACTION_MKNOD, 0,
                                                              STRV("syscall", "mknod", "path", "/dev/box/15",
                                                                   "device", "c 1:3", "mode", "0666")));
        harness_assert_no_polkit_call(h);
        while (in_flight->len > 0) {
                n_checks += in_flight->len;
                for (guint i = 0; i < in_flight->len; i++)
                        polkit_answer(g_object_ref(in_flight->pdata[i]), TRUE, FALSE);
                g_clear_pointer(&in_flight, g_ptr_array_unref);
                in_flight = pop_all_polkit_calls(h);
                g_assert_cmpuint(in_flight->len, <=, POLKIT_MAX_IN_FLIGHT_PER_USER);
        }
        g_assert_cmpuint(n_checks, ==, MANY_RULES + 1);
        harness_wait(h, call);
        g_assert_no_error(call->error);
}

/* A peer-to-peer caller that leaves while its checks are at polkit takes the registration along: nothing is
 * registered, whatever polkit answers afterwards, and what it held (the listener's copy, pidfds) is let go. */
static void test_register_peer_leaving_mid_batch_leaves_nothing(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        g_autoptr(GPtrArray) in_flight = NULL, cancels = NULL;
        g_autoptr(GError) error = NULL;
        guint fds = harness_daemon_fd_count(h);
        gint64 deadline;

        call = harness_register_async(h, h->peer, c->listener_fd,
                                      parse_variant("[" RULE_DEV_NULL "," RULE_TUN "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        in_flight = pop_all_polkit_calls(h);
        g_assert_cmpuint(in_flight->len, ==, 3);
        polkit_answer(g_object_ref(in_flight->pdata[0]), TRUE, FALSE);
        g_assert_cmpuint(harness_daemon_fd_count(h), >, fds);

        g_dbus_connection_close_sync(h->peer, NULL, &error);
        g_assert_no_error(error);
        /* Its connection's fd goes too: below what there was before it registered. */
        deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;
        while (harness_daemon_fd_count(h) >= fds) {
                if (g_get_monotonic_time() > deadline)
                        harness_fail("the registration whose peer left still holds fds (%u, %u before it)",
                                     harness_daemon_fd_count(h), fds);
                harness_spin(h);
        }
        /* The two checks still at polkit are cancelled there (and the first too, if the daemon heard of the
         * hang-up before its answer). */
        cancels = pop_all_polkit_calls(h);
        g_assert_cmpuint(cancels->len, >=, 2);
        g_assert_cmpuint(cancels->len, <=, 3);
        for (guint i = 0; i < cancels->len; i++) {
                GDBusMethodInvocation *cancel = cancels->pdata[i];

                g_assert_cmpstr(g_dbus_method_invocation_get_method_name(cancel), ==,
                                "CancelCheckAuthorization");
                g_dbus_method_invocation_return_value(g_object_ref(cancel), NULL);
        }
        for (guint i = 1; i < in_flight->len; i++)
                polkit_answer(g_object_ref(in_flight->pdata[i]), TRUE, FALSE);
        harness_assert_no_polkit_call(h);
        harness_assert_no_signal(h, BROKER_MANAGER_INTERFACE, "ListenerAdded");
        g_assert_cmpuint(harness_n_listeners(h), ==, 0);
}

static const HarnessOptions with_socket_activation = {
        .socket_activation = TRUE,
        .needs = HARNESS_NEEDS_SOCKET_ACTIVATE,
};

static const HarnessOptions without_polkit = { .no_polkit = TRUE };

/* No polkit on the bus is no answer, not a "no": nothing registered, and an error the caller may retry. */
static void test_register_polkit_absent_is_retryable_timeout(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        guint fds = warm_up_and_count_fds(h);

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_DEV_NULL "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        harness_wait(h, call);
        harness_assert_call_error(call, DBUS_ERROR_TIMEOUT,
                                  STRV("polkit did not answer", ACTION_REGISTER, "nothing was registered"));
        assert_nothing_created(h, fds);
}

static const HarnessOptions polkit_timeout_1s = {
        .daemon_args = (const char *const[]) { "--polkit-timeout=1", NULL },
};

/* polkit that takes the call and never answers (stopped): after --polkit-timeout the same error. */
static void test_register_polkit_silent_is_retryable_timeout(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        g_autoptr(GDBusMethodInvocation) unanswered = NULL, rule_unanswered = NULL;
        guint fds = warm_up_and_count_fds(h);

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_DEV_NULL "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        unanswered = harness_expect_polkit_call(h, ACTION_REGISTER, 0,
                                                STRV("default-action", "continue", "rules", "1"));
        rule_unanswered = harness_pop_polkit_call(h, NULL);
        harness_wait(h, call);
        harness_assert_call_error(call, DBUS_ERROR_TIMEOUT,
                                  STRV("polkit did not answer", ACTION_REGISTER, "nothing was registered"));
        assert_nothing_created(h, fds);
}

/* ---- bad input ---- */

typedef enum BadFd {
        BAD_FD_NONE,          /* a good listener */
        BAD_FD_PIPE,          /* not a seccomp listener at all */
        BAD_FD_EXITED,        /* a listener whose only task is gone */
} BadFd;

typedef struct BadInput {
        const char *name;
        const HarnessOptions *options;
        BadFd fd;
        const char *rules;
        const char *options_text;
        const char *error;
        const char *const *fragments;
} BadInput;

static const HarnessOptions small_limits = {
        .daemon_args = (const char *const[]) { "--max-string-length=64", "--max-rules=2", NULL },
};

#define LONG_PATH "/dev/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const BadInput bad_inputs[] = {
        { "pipe-is-not-a-listener", NULL, BAD_FD_PIPE, "[" RULE_DEV_NULL "]", NO_OPTIONS,
          BROKER_ERROR_NOT_A_LISTENER, NULL },
        { "exited-listener-is-not-a-listener", NULL, BAD_FD_EXITED, "[" RULE_DEV_NULL "]", NO_OPTIONS,
          BROKER_ERROR_NOT_A_LISTENER, STRV("no tasks left") },
        { "unknown-rule-key", &small_limits, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Syscall': <'mknod'>, 'Path': <'/dev/zero'>, 'Major': <uint32 1>,"
          " 'Minor': <uint32 5>, 'Foo': <'bar'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "'Foo'") },
        { "rule-key-of-wrong-type", &small_limits, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Syscall': <'mknod'>, 'Path': <'/dev/zero'>, 'Major': <'1'>,"
          " 'Minor': <uint32 5>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "'Major'") },
        { "rule-without-major", &small_limits, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Syscall': <'mknod'>, 'Path': <'/dev/zero'>, 'Minor': <uint32 5>}]",
          NO_OPTIONS, BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "'Major'") },
        { "rule-with-relative-path", &small_limits, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Syscall': <'mknod'>, 'Path': <'dev/zero'>, 'Major': <uint32 1>,"
          " 'Minor': <uint32 5>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "'Path'") },
        { "rule-with-dotdot-component", &small_limits, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Syscall': <'mknod'>, 'Path': <'/dev/../etc/zero'>, 'Major': <uint32 1>,"
          " 'Minor': <uint32 5>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "'Path'") },
        { "rule-with-overlong-string", &small_limits, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Syscall': <'mknod'>, 'Path': <'" LONG_PATH "'>, 'Major': <uint32 1>,"
          " 'Minor': <uint32 5>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "'Path'") },
        { "rule-with-unknown-syscall", &small_limits, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Syscall': <'reboot'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "'Syscall'") },
        { "rule-without-syscall", &small_limits, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Path': <'/dev/zero'>, 'Major': <uint32 1>, 'Minor': <uint32 5>}]",
          NO_OPTIONS, BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "'Syscall'") },
        { "rule-with-unknown-action", &small_limits, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Syscall': <'mknod'>, 'Action': <'allow'>, 'Path': <'/dev/zero'>,"
          " 'Major': <uint32 1>, 'Minor': <uint32 5>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "'Action'") },
        { "first-rule-bad-names-index-0", &small_limits, BAD_FD_NONE,
          "[{'Syscall': <'mknod'>, 'Path': <'/dev/null'>, 'Major': <uint32 1>, 'Minor': <uint32 3>,"
          " 'Bar': <uint32 1>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'Bar'") },
        { "mknod-mode-beyond-permission-bits", NULL, BAD_FD_NONE,
          "[{'Syscall': <'mknod'>, 'Path': <'/dev/null'>, 'Major': <uint32 1>, 'Minor': <uint32 3>,"
          " 'Mode': <uint32 2486>}]", NO_OPTIONS,   /* 04666: set-uid */
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'Mode'") },
        { "mknod-rule-with-open-key", NULL, BAD_FD_NONE,
          "[{'Syscall': <'mknod'>, 'Path': <'/dev/null'>, 'Major': <uint32 1>, 'Minor': <uint32 3>,"
          " 'Access': <'r'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'Access'", "'mknod'") },
        { "open-access-not-r-w-rw", NULL, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Syscall': <'open'>, 'Path': <'/srv/data/x'>, 'Access': <'x'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "'Access'", "'x'") },
        { "open-access-of-wrong-type", NULL, BAD_FD_NONE,
          "[{'Syscall': <'open'>, 'Path': <'/srv/data/x'>, 'Access': <uint32 4>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'Access'") },
        { "open-create-of-wrong-type", NULL, BAD_FD_NONE,
          "[{'Syscall': <'open'>, 'Path': <'/srv/data/x'>, 'Create': <'yes'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'Create'") },
        { "open-without-path", NULL, BAD_FD_NONE,
          "[" RULE_OPEN_DATA ", {'Syscall': <'open'>, 'Access': <'rw'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "'Path'") },
        { "open-relative-path", NULL, BAD_FD_NONE,
          "[{'Syscall': <'open'>, 'Path': <'srv/data/x'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'Path'") },
        { "open-path-with-dotdot", NULL, BAD_FD_NONE,
          "[{'Syscall': <'open'>, 'Path': <'/srv/data/../../etc/shadow'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'Path'") },
        { "open-pattern-path-with-host-path", NULL, BAD_FD_NONE,
          "[{'Syscall': <'open'>, 'Path': <'/dev/*'>, 'HostPath': <'/dev/kvm'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "key 'Path' must be a literal path, or a literal directory "
                                          "followed by '/**', when 'HostPath' is set") },
        { "open-create-with-host-path", NULL, BAD_FD_NONE,
          "[" RULE_OPEN_DATA ", {'Syscall': <'open'>, 'Path': <'/dev/kvm'>, 'HostPath': <'/dev/kvm'>,"
          " 'Create': <true>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "key 'Create' cannot be combined with 'HostPath'") },
        { "open-relative-host-path", NULL, BAD_FD_NONE,
          "[{'Syscall': <'open'>, 'Path': <'/dev/kvm'>, 'HostPath': <'dev/kvm'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'HostPath'") },
        { "open-host-path-with-dotdot", NULL, BAD_FD_NONE,
          "[{'Syscall': <'open'>, 'Path': <'/dev/kvm'>, 'HostPath': <'/srv/../etc/shadow'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'HostPath'") },
        { "open-pattern-host-path", NULL, BAD_FD_NONE,
          "[{'Syscall': <'open'>, 'Path': <'/dev/kvm'>, 'HostPath': <'/dev/kv?'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'HostPath'") },
        { "open-overlong-host-path", &small_limits, BAD_FD_NONE,
          "[{'Syscall': <'open'>, 'Path': <'/dev/kvm'>, 'HostPath': <'" LONG_PATH "'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'HostPath'") },
        { "open-rule-with-mknod-key", NULL, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Syscall': <'open'>, 'Path': <'/srv/data/x'>, 'Major': <uint32 1>}]",
          NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "key 'Major' does not apply to Syscall 'open'") },
        { "open-errno-without-deny", NULL, BAD_FD_NONE,
          "[{'Syscall': <'open'>, 'Path': <'/srv/data/x'>, 'Errno': <int32 13>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'Errno'") },
        { "mount-without-fstype", NULL, BAD_FD_NONE,
          "[" RULE_DEV_NULL ", {'Syscall': <'mount'>, 'Target': <'/srv/mnt'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 1", "missing key 'FsType'") },
        { "mount-proc-is-refused", NULL, BAD_FD_NONE,
          "[{'Syscall': <'mount'>, 'FsType': <'proc'>, 'Target': <'/srv/proc'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'FsType'", "'proc' is not supported") },
        { "mount-bind-without-source", NULL, BAD_FD_NONE,
          "[{'Syscall': <'mount'>, 'FsType': <'bind'>, 'Target': <'/srv/mnt'>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'Source'") },
        { "mount-unknown-flag", NULL, BAD_FD_NONE,
          "[{'Syscall': <'mount'>, 'FsType': <'tmpfs'>, 'Target': <'/srv/mnt'>,"
          " 'AllowedFlags': <['ro', 'suid']>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'AllowedFlags'", "'suid'") },
        { "mount-flags-of-wrong-type", NULL, BAD_FD_NONE,
          "[{'Syscall': <'mount'>, 'FsType': <'tmpfs'>, 'Target': <'/srv/mnt'>, 'ForcedFlags': <'nodev'>}]",
          NO_OPTIONS, BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'ForcedFlags'", "'as'") },
        { "mount-overlong-option", &small_limits, BAD_FD_NONE,
          "[{'Syscall': <'mount'>, 'FsType': <'tmpfs'>, 'Target': <'/srv/mnt'>,"
          " 'Options': <['size=*', '" LONG_PATH "']>}]", NO_OPTIONS,
          BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "'Options'") },
        { "mount-rule-with-path", NULL, BAD_FD_NONE,
          "[{'Syscall': <'mount'>, 'FsType': <'tmpfs'>, 'Target': <'/srv/mnt'>, 'Path': <'/srv/mnt'>}]",
          NO_OPTIONS, BROKER_ERROR_INVALID_RULE, STRV("Rule 0", "key 'Path' does not apply to Syscall 'mount'") },
        { "no-rules", NULL, BAD_FD_NONE, "@aa{sv} []", NO_OPTIONS, BROKER_ERROR_INVALID_RULE, NULL },
        { "too-many-rules", &small_limits, BAD_FD_NONE,
          "[" RULE_DEV_NULL "," RULE_DEV_ZERO "," RULE_TUN "]", NO_OPTIONS, DBUS_ERROR_LIMITS_EXCEEDED, NULL },
        { "unknown-option", NULL, BAD_FD_NONE, "[" RULE_DEV_NULL "]", "{'Foo': <'bar'>}",
          DBUS_ERROR_INVALID_ARGS, NULL },
        { "unknown-default-action", NULL, BAD_FD_NONE, "[" RULE_DEV_NULL "]", "{'DefaultAction': <'emulate'>}",
          DBUS_ERROR_INVALID_ARGS, NULL },
        { "option-of-wrong-type", NULL, BAD_FD_NONE, "[" RULE_DEV_NULL "]", "{'Description': <uint32 1>}",
          DBUS_ERROR_INVALID_ARGS, NULL },
        { "overlong-description", NULL, BAD_FD_NONE, "[" RULE_DEV_NULL "]",
          "{'Description': <'"
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" "x'>}",
          DBUS_ERROR_INVALID_ARGS, NULL },
        /* Both go into polkit's authentication dialog: no lines of the registrant's making there. */
        { "description-with-newline", NULL, BAD_FD_NONE, "[" RULE_DEV_NULL "]",
          "{'Description': <'vm\\n\\nAuthenticate to create /dev/null only'>}", DBUS_ERROR_INVALID_ARGS,
          STRV("'Description' contains a control character") },
        { "path-with-newline", NULL, BAD_FD_NONE,
          "[{'Syscall': <'mknod'>, 'Path': <'/dev/x\\nOnly /dev/null'>, 'Major': <uint32 1>,"
          " 'Minor': <uint32 3>}]", NO_OPTIONS, BROKER_ERROR_INVALID_RULE,
          STRV("Rule 0", "'Path' contains a control character") },
};

static void test_register_rejects_bad_input(Harness *h, gconstpointer data) {
        const BadInput *b = data;
        g_autoptr(PendingCall) call = NULL;
        ListenerChild *c = NULL;
        int fd, pipe_fds[2] = { -1, -1 };
        guint fds, n_polkit;

        switch (b->fd) {
        case BAD_FD_PIPE:
                g_assert_cmpint(pipe2(pipe_fds, O_CLOEXEC), ==, 0);
                fd = pipe_fds[0];
                break;
        case BAD_FD_EXITED:
                c = harness_spawn_listener_child(h);
                fd = c->listener_fd;
                c->listener_fd = -1;
                listener_child_kill(c);
                c->listener_fd = fd;
                break;
        case BAD_FD_NONE:
        default:
                c = harness_spawn_listener_child(h);
                fd = c->listener_fd;
                break;
        }

        fds = warm_up_and_count_fds(h);
        call = harness_register_async(h, h->client, fd, parse_variant(b->rules), parse_variant(b->options_text),
                                      G_DBUS_CALL_FLAGS_NONE);
        /* Should sysbrokerd ask polkit anyway, "yes" must not rescue bad input: check the error first. */
        n_polkit = harness_wait_answering(h, call, TRUE);
        harness_assert_call_error(call, b->error, b->fragments);
        /* Input is validated before anyone is asked to authorize it (and perhaps to authenticate). */
        if (n_polkit > 0)
                harness_fail("sysbrokerd asked polkit %u time(s) before refusing bad input", n_polkit);
        assert_nothing_created(h, fds);

        if (pipe_fds[0] >= 0) {
                close(pipe_fds[0]);
                close(pipe_fds[1]);
        }
}

static void test_register_same_listener_twice_is_invalid(Harness *h, gconstpointer data) {
        ListenerChild *c = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        g_autofree char *path = NULL;
        g_autoptr(GVariant) list = NULL;
        guint fds;

        path = harness_register_ok(h, h->client, c, parse_variant("[" RULE_DEV_NULL "]"), parse_variant(NO_OPTIONS), NULL);
        broker_signal_free(harness_wait_signal(h, BROKER_MANAGER_INTERFACE, "ListenerAdded"));
        fds = harness_daemon_fd_count_with_threads_set_up(h, 1);

        call = harness_register_async(h, h->client, c->listener_fd, parse_variant("[" RULE_DEV_NULL "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        harness_wait_answering(h, call, TRUE);
        harness_assert_call_error(call, DBUS_ERROR_INVALID_ARGS, NULL);

        g_assert_cmpuint(harness_n_listeners(h), ==, 1);
        list = harness_list_listeners(h, h->client);
        g_assert_cmpuint(g_variant_n_children(list), ==, 1);
        harness_assert_no_signal(h, BROKER_MANAGER_INTERFACE, "ListenerAdded");
        harness_assert_daemon_fd_count(h, fds);
}

static const HarnessOptions one_listener_per_user = {
        .daemon_args = (const char *const[]) { "--max-listeners-per-user=1", NULL },
};
static const HarnessOptions one_listener = {
        .daemon_args = (const char *const[]) { "--max-listeners=1", NULL },
};

static void test_register_beyond_listener_limit_is_refused(Harness *h, gconstpointer data) {
        ListenerChild *first = harness_spawn_listener_child(h), *second = harness_spawn_listener_child(h);
        g_autoptr(PendingCall) call = NULL;
        g_autofree char *path = NULL;
        g_autoptr(GVariant) list = NULL;
        guint fds, n_polkit;

        path = harness_register_ok(h, h->client, first, parse_variant("[" RULE_DEV_NULL "]"), parse_variant(NO_OPTIONS), NULL);
        broker_signal_free(harness_wait_signal(h, BROKER_MANAGER_INTERFACE, "ListenerAdded"));
        fds = harness_daemon_fd_count_with_threads_set_up(h, 1);

        call = harness_register_async(h, h->client, second->listener_fd, parse_variant("[" RULE_DEV_NULL "]"),
                                      parse_variant(NO_OPTIONS), G_DBUS_CALL_FLAGS_NONE);
        n_polkit = harness_wait_answering(h, call, TRUE);
        harness_assert_call_error(call, DBUS_ERROR_LIMITS_EXCEEDED, NULL);
        if (n_polkit > 0)
                harness_fail("sysbrokerd asked polkit %u time(s) before refusing a registration over the limit",
                             n_polkit);

        g_assert_cmpuint(harness_n_listeners(h), ==, 1);
        list = harness_list_listeners(h, h->client);
        g_assert_cmpuint(g_variant_n_children(list), ==, 1);
        harness_assert_no_signal(h, BROKER_MANAGER_INTERFACE, "ListenerAdded");
        harness_assert_daemon_fd_count(h, fds);
}

/* ---- a burst of registrations waits its turn ---- */

static const char *polkit_call_description(GDBusMethodInvocation *invocation) {
        GVariant *parameters = g_dbus_method_invocation_get_parameters(invocation);
        g_autoptr(GVariant) details = g_variant_get_child_value(parameters, 2);
        const char *description = NULL;

        if (!g_variant_lookup(details, "description", "&s", &description))
                harness_fail("CheckAuthorization of %s without a description", polkit_call_action_id(invocation));
        return description;
}

static PendingCall *register_described(Harness *h, GDBusConnection *conn, ListenerChild *c, const char *name) {
        g_autofree char *options = g_strdup_printf("{'Description': <'%s'>}", name);

        /* A rule that grants nothing asks nothing: one check per registration, which the tests of the queue
         * count in registrations. */
        return harness_register_async(h, conn, c->listener_fd, parse_variant("[" RULE_CONTINUE "]"),
                                      parse_variant(options), G_DBUS_CALL_FLAGS_NONE);
}

/* Every CheckAuthorization call that comes while none is answered: what the daemon has in flight. */
static GPtrArray *pop_all_polkit_calls(Harness *h) {
        GPtrArray *calls = g_ptr_array_new_with_free_func(g_object_unref);
        gint64 quiet_since = g_get_monotonic_time();

        while (g_get_monotonic_time() - quiet_since < HARNESS_SETTLE_USEC) {
                GDBusMethodInvocation *invocation = gt_dbus_queue_get_n_messages(h->queue) > 0 ?
                        harness_pop_polkit_call(h, NULL) : NULL;

                if (invocation) {
                        g_ptr_array_add(calls, invocation);
                        quiet_since = g_get_monotonic_time();
                } else
                        harness_spin(h);
        }
        return calls;
}

#define BURST 24u

/* 24 registrations at once by one user: 16 checks go to polkit, the others wait in the order they came
 * (never LimitsExceeded), polkit never has more than 16 of them, and all of them succeed. */
static void test_register_burst_is_queued_in_order(Harness *h, gconstpointer data) {
        PendingCall *calls[BURST];
        g_autoptr(GPtrArray) in_flight = NULL;
        GDBusMethodInvocation *next;
        guint n_checks = 0;

        for (guint i = 0; i < BURST; i++) {
                g_autofree char *name = g_strdup_printf("burst-%u", i);
                calls[i] = register_described(h, h->client, harness_spawn_listener_child(h), name);
        }

        in_flight = pop_all_polkit_calls(h);
        g_assert_cmpuint(in_flight->len, ==, POLKIT_MAX_IN_FLIGHT_PER_USER);
        for (guint i = 0; i < in_flight->len; i++) {
                g_autofree char *name = g_strdup_printf("burst-%u", i);
                g_assert_cmpstr(polkit_call_action_id(in_flight->pdata[i]), ==, ACTION_REGISTER);
                g_assert_cmpstr(polkit_call_description(in_flight->pdata[i]), ==, name);
        }
        for (guint i = 0; i < BURST; i++)
                if (calls[i]->done)
                        harness_fail("registration %u was answered while waiting for its turn: %s", i,
                                     calls[i]->error ? calls[i]->error->message : "success");

        /* One answer makes room for exactly one more: the oldest waiting registration's. */
        polkit_answer(g_ptr_array_steal_index(in_flight, 0), TRUE, FALSE);
        next = harness_pop_polkit_call(h, NULL);
        g_assert_cmpstr(polkit_call_action_id(next), ==, ACTION_REGISTER);
        g_assert_cmpstr(polkit_call_description(next), ==, "burst-16");
        g_ptr_array_add(in_flight, next);
        harness_assert_no_polkit_call(h);

        /* Answer what polkit holds, round after round; it never holds more than the bound. */
        while (in_flight->len > 0) {
                n_checks += in_flight->len;
                for (guint i = 0; i < in_flight->len; i++)
                        polkit_answer(g_object_ref(in_flight->pdata[i]), TRUE, FALSE);
                g_clear_pointer(&in_flight, g_ptr_array_unref);
                in_flight = pop_all_polkit_calls(h);
                g_assert_cmpuint(in_flight->len, <=, POLKIT_MAX_IN_FLIGHT_PER_USER);
        }
        /* the register action, for each: BURST, of which one answered before the rounds */
        g_assert_cmpuint(n_checks + 1, ==, BURST);

        for (guint i = 0; i < BURST; i++) {
                harness_wait(h, calls[i]);
                if (calls[i]->error)
                        harness_fail("registration %u of the burst failed: %s", i, calls[i]->error->message);
                pending_call_free(calls[i]);
        }
        g_assert_cmpuint(harness_n_listeners(h), ==, BURST);
}

static GDBusConnection *second_bus_connection(Harness *h) {
        g_autoptr(GError) error = NULL;
        GDBusConnection *conn = g_dbus_connection_new_for_address_sync(
                h->bus_address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);

        g_assert_no_error(error);
        return conn;
}

typedef enum Leaving {
        LEAVING_BUS,          /* a second connection to the bus, closed while its registration waits */
        LEAVING_BUS_AT_ONCE,  /* the same, closed right after sending: perhaps before the daemon watches (a
                               * race: without the daemon's check of names that left before, this fails in
                               * about one run of three here, not always) */
        LEAVING_PEER,         /* the peer-to-peer connection */
} Leaving;

/* A queued registration whose caller goes away (its bus name vanishes, or its peer-to-peer connection
 * closes) is dropped without asking polkit; the one queued after it is next. */
static void test_register_queued_dropped_when_caller_leaves(Harness *h, gconstpointer data) {
        Leaving how = GPOINTER_TO_INT(data);
        g_autoptr(GDBusConnection) leaving =
                how == LEAVING_PEER ? g_object_ref(h->peer) : second_bus_connection(h);
        PendingCall *calls[POLKIT_MAX_IN_FLIGHT_PER_USER];
        g_autoptr(PendingCall) gone = NULL, last = NULL;
        g_autoptr(GPtrArray) in_flight = NULL;
        g_autoptr(GError) error = NULL;
        GDBusMethodInvocation *next;
        gint64 deadline;
        guint fds, left;

        for (guint i = 0; i < POLKIT_MAX_IN_FLIGHT_PER_USER; i++) {
                g_autofree char *name = g_strdup_printf("first-%u", i);
                calls[i] = register_described(h, h->client, harness_spawn_listener_child(h), name);
        }
        in_flight = pop_all_polkit_calls(h);
        g_assert_cmpuint(in_flight->len, ==, POLKIT_MAX_IN_FLIGHT_PER_USER);

        if (how == LEAVING_BUS_AT_ONCE) {
                /* The first registration to wait for its turn, so the daemon starts watching names only now,
                 * perhaps after its caller left; or it sees the call only after that. Either way polkit must
                 * not hear of it. What last holds while it waits is the same as what leaves held. */
                fds = harness_daemon_fd_count(h);
                gone = register_described(h, leaving, harness_spawn_listener_child(h), "leaves");
                g_dbus_connection_flush_sync(leaving, NULL, &error);
                g_assert_no_error(error);
                g_dbus_connection_close_sync(leaving, NULL, &error);
                g_assert_no_error(error);
                harness_assert_no_polkit_call(h);
                last = register_described(h, h->client, harness_spawn_listener_child(h), "last");
                harness_assert_no_polkit_call(h);
                left = fds + 2;   /* last's copy of its listener, and the fd its call carried */
        } else {
                guint held;

                /* Both wait, polkit hears of neither; what the leaving one holds (its copy of the listener,
                 * and on the peer socket pidfds of its caller) is counted. */
                fds = harness_daemon_fd_count(h);
                gone = register_described(h, leaving, harness_spawn_listener_child(h), "leaves");
                harness_assert_no_polkit_call(h);
                held = harness_daemon_fd_count(h) - fds;
                g_assert_cmpuint(held, >, 0);
                last = register_described(h, h->client, harness_spawn_listener_child(h), "last");
                harness_assert_no_polkit_call(h);
                fds = harness_daemon_fd_count(h);
                left = fds - held;

                g_dbus_connection_close_sync(leaving, NULL, &error);
                g_assert_no_error(error);
        }

        /* Dropped: what it held is let go (a peer's connection takes its own fds along). */
        deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;
        while (harness_daemon_fd_count(h) > left) {
                if (g_get_monotonic_time() > deadline)
                        harness_fail("the registration whose caller left still holds its fds (%u, expected %u)",
                                     harness_daemon_fd_count(h), left);
                harness_spin(h);
        }

        /* A "no" ends first-0 and frees its place: the next check is last's, not the one that left. */
        polkit_answer(g_ptr_array_steal_index(in_flight, 0), FALSE, FALSE);
        next = harness_pop_polkit_call(h, NULL);
        harness_assert_polkit_call_from_client(h, next, ACTION_REGISTER, 0,
                                               STRV("default-action", "continue", "rules", "1",
                                                    "description", "last"));
        g_ptr_array_add(in_flight, next);
        harness_assert_no_polkit_call(h);

        while (in_flight->len > 0) {
                for (guint i = 0; i < in_flight->len; i++) {
                        /* Its first check would be the register action, the one with the description. */
                        if (g_str_equal(polkit_call_action_id(in_flight->pdata[i]), ACTION_REGISTER) &&
                            g_str_equal(polkit_call_description(in_flight->pdata[i]), "leaves"))
                                harness_fail("polkit was asked about the registration whose caller left");
                        polkit_answer(g_object_ref(in_flight->pdata[i]), TRUE, FALSE);
                }
                g_clear_pointer(&in_flight, g_ptr_array_unref);
                in_flight = pop_all_polkit_calls(h);
        }
        harness_wait(h, last);
        g_assert_no_error(last->error);
        for (guint i = 0; i < POLKIT_MAX_IN_FLIGHT_PER_USER; i++) {
                harness_wait(h, calls[i]);
                pending_call_free(calls[i]);
        }
        while (!gone->done)
                harness_spin(h);
        g_assert_cmpuint(harness_n_listeners(h), ==, POLKIT_MAX_IN_FLIGHT_PER_USER);
}


int main(int argc, char **argv) {
        harness_init(&argc, &argv);

        harness_add_test("/register/polkit/asks-register-and-each-emulate-rule-at-once", NULL,
                         test_register_asks_register_and_each_emulate_rule_at_once, NULL);
        harness_add_test("/register/polkit/details-omit-unset-description", NULL,
                         test_register_details_omit_unset_description, NULL);
        harness_add_test("/register/polkit/interactive-call-allows-user-interaction", NULL,
                         test_register_interactive_call_allows_user_interaction, NULL);
        harness_add_test("/register/polkit/only-safe-list-devices-use-mknod-action", NULL,
                         test_register_only_safe_list_devices_use_mknod_action, NULL);
        harness_add_test("/register/polkit/open-rules-ask-open-action-with-details", NULL,
                         test_register_open_rules_ask_open_action_with_details, NULL);
        harness_add_test("/register/polkit/mount-rules-ask-mount-action-with-details", NULL,
                         test_register_mount_rules_ask_mount_action_with_details, NULL);
        harness_add_test("/register/polkit/open-interactive-call-allows-user-interaction", NULL,
                         test_register_open_interactive_call_allows_user_interaction, NULL);

        harness_add_test("/register/authorized/creates-and-announces-listener", NULL,
                         test_register_authorized_creates_and_announces_listener, NULL);
        harness_add_test("/register/authorized/listener-properties-describe-registration", NULL,
                         test_register_listener_properties_describe_registration, NULL);
        harness_add_test("/register/authorized/open-rules-property-fills-defaults", NULL,
                         test_register_open_rules_property_fills_defaults, NULL);

        harness_add_test("/register/unauthorized/register-refused-is-access-denied", NULL,
                         test_register_refused_is_access_denied, NULL);
        harness_add_test("/register/unauthorized/rule-refused-last-registers-nothing", NULL,
                         test_register_rule_refused_last_registers_nothing, NULL);
        harness_add_test("/register/unauthorized/open-rule-refused-names-action-and-rule", NULL,
                         test_register_open_rule_refused_names_action_and_rule, NULL);
        harness_add_test("/register/unauthorized/challenge-without-interactive-requires-interaction", NULL,
                         test_register_challenge_without_interactive_requires_it, NULL);
        harness_add_test("/register/unauthorized/rule-challenge-without-interactive-requires-interaction", NULL,
                         test_register_rule_challenge_without_interactive_requires_it, NULL);
        harness_add_test("/register/unauthorized/polkit-error-is-access-denied", NULL,
                         test_register_polkit_error_is_access_denied, NULL);
        harness_add_test("/register/unauthorized/rule-polkit-error-is-access-denied", NULL,
                         test_register_rule_polkit_error_is_access_denied, NULL);
        harness_add_test("/register/interactive/challenges-asked-again-one-at-a-time", NULL,
                         test_register_challenges_asked_again_one_at_a_time, NULL);
        harness_add_test("/register/interactive/no-after-authentication-stops", NULL,
                         test_register_no_after_authentication_stops, NULL);
        harness_add_test("/register/polkit/identical-checks-asked-once", NULL,
                         test_register_identical_checks_asked_once, NULL);
        harness_add_test("/register/polkit/many-rules-keep-bound-at-polkit", NULL,
                         test_register_many_rules_keep_bound_at_polkit, NULL);
        harness_add_test("/register/unauthorized/peer-leaving-mid-batch-leaves-nothing", &with_socket_activation,
                         test_register_peer_leaving_mid_batch_leaves_nothing, NULL);
        harness_add_test("/register/unanswered/polkit-absent-is-retryable-timeout", &without_polkit,
                         test_register_polkit_absent_is_retryable_timeout, NULL);
        harness_add_test("/register/unanswered/polkit-silent-is-retryable-timeout", &polkit_timeout_1s,
                         test_register_polkit_silent_is_retryable_timeout, NULL);

        harness_add_test("/register/queue/burst-is-queued-in-order", NULL,
                         test_register_burst_is_queued_in_order, NULL);
        harness_add_test("/register/queue/dropped-when-bus-caller-leaves", NULL,
                         test_register_queued_dropped_when_caller_leaves, GINT_TO_POINTER(LEAVING_BUS));
        harness_add_test("/register/queue/dropped-when-bus-caller-leaves-at-once", NULL,
                         test_register_queued_dropped_when_caller_leaves, GINT_TO_POINTER(LEAVING_BUS_AT_ONCE));
        harness_add_test("/register/queue/dropped-when-peer-disconnects", &with_socket_activation,
                         test_register_queued_dropped_when_caller_leaves, GINT_TO_POINTER(LEAVING_PEER));

        for (size_t i = 0; i < G_N_ELEMENTS(bad_inputs); i++) {
                g_autofree char *path = g_strdup_printf("/register/bad-input/%s", bad_inputs[i].name);

                harness_add_test(path, bad_inputs[i].options, test_register_rejects_bad_input, &bad_inputs[i]);
        }
        harness_add_test("/register/bad-input/same-listener-twice", NULL,
                         test_register_same_listener_twice_is_invalid, NULL);
        harness_add_test("/register/limits/listeners-per-user", &one_listener_per_user,
                         test_register_beyond_listener_limit_is_refused, NULL);
        harness_add_test("/register/limits/listeners-in-all", &one_listener,
                         test_register_beyond_listener_limit_is_refused, NULL);

        return g_test_run();
}
