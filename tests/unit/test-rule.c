/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rules: parsing aa{sv} (errors name the rule index and key), defaults, path patterns, matching, and the
 * polkit action and details each rule is authorized with. */

#include <sys/stat.h>
#include <systemd/sd-bus.h>

#include "rule.h"
#include "unit.h"

static const RuleLimits limits = { .max_rules = 4, .max_string_length = 64, .max_total_length = 200 };

static sd_bus_message *new_message(void) {
        sd_bus_message *m;

        if (sd_bus_message_new_method_call(unit_test_bus(), &m, "org.example", "/", "org.example", "Test") < 0)
                abort();
        return m;
}

/* Seals m and parses it back: what the daemon sees for a call's rules argument. */
static int parse(sd_bus_message *m, RuleSet **ret, char **ret_error) {
        int r;

        if (sd_bus_message_seal(m, 1, 0) < 0 || sd_bus_message_rewind(m, true) < 0)
                abort();
        r = rule_set_parse(m, &limits, ret, ret_error);
        sd_bus_message_unref(m);
        return r;
}

/* One rule given as "{sv}" pairs through the varargs of sd_bus_message_append. */
#define ONE_RULE(n, ...)                                                                 \
        ({                                                                               \
                sd_bus_message *_m_ = new_message();                                     \
                if (sd_bus_message_append(_m_, "aa{sv}", 1, n, __VA_ARGS__) < 0)         \
                        abort();                                                         \
                _m_;                                                                     \
        })

static void expect_invalid(sd_bus_message *m, const char *fragment) {
        RuleSet *set = NULL;
        char *error = NULL;
        int r = parse(m, &set, &error);

        CHECK(r == -EINVAL);
        CHECK(set == NULL);
        CHECK(error && strstr(error, fragment));
        if (error && !strstr(error, fragment))
                fprintf(stderr, "# error was: %s (wanted '%s')\n", error, fragment);
        free(error);
        rule_set_free(set);
}

static void test_mknod_rule_gets_defaults(void) {
        RuleSet *set = NULL;
        char *error = NULL;

        CHECK(parse(ONE_RULE(4, "Syscall", "s", "mknod", "Path", "s", "/dev/null", "Major", "u", 1,
                             "Minor", "u", 3), &set, &error) == 0);
        CHECK(error == NULL);
        CHECK(set && set->n_rules == 1);
        if (!set)
                return;
        CHECK(set->rules[0].syscall == RULE_SYSCALL_MKNOD);
        CHECK(set->rules[0].action == RULE_ACTION_EMULATE);
        CHECK(set->rules[0].device_type == 'c');
        CHECK(set->rules[0].max_mode == 0666);
        CHECK_STREQ(set->rules[0].path, "/dev/null");
        rule_set_free(set);
}

static void test_unknown_key_names_rule_and_key(void) {
        expect_invalid(ONE_RULE(5, "Syscall", "s", "mknod", "Path", "s", "/dev/null", "Major", "u", 1,
                                "Minor", "u", 3, "Foo", "s", "x"), "Rule 0: unknown key 'Foo'");
}

static void test_wrong_type_names_key(void) {
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mknod", "Path", "s", "/dev/null", "Major", "i", 1,
                                "Minor", "u", 3), "key 'Major' must be of type 'u'");
}

static void test_missing_major_is_invalid(void) {
        expect_invalid(ONE_RULE(3, "Syscall", "s", "mknod", "Path", "s", "/dev/null", "Minor", "u", 3),
                       "missing key 'Major'");
}

static void test_relative_path_is_invalid(void) {
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mknod", "Path", "s", "dev/null", "Major", "u", 1,
                                "Minor", "u", 3), "key 'Path' must be an absolute path");
}

static void test_dotdot_component_is_invalid(void) {
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mknod", "Path", "s", "/tmp/../dev/null", "Major", "u", 1,
                                "Minor", "u", 3), "'..' components");
}

static void test_overlong_string_is_invalid(void) {
        char path[100];

        memset(path, 'a', sizeof path - 1);
        path[0] = '/';
        path[sizeof path - 1] = 0;
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mknod", "Path", "s", path, "Major", "u", 1, "Minor", "u", 3),
                       "key 'Path' is longer than 64 bytes");
}

static void test_unsupported_syscall_is_invalid(void) {
        expect_invalid(ONE_RULE(1, "Syscall", "s", "ptrace"), "key 'Syscall' has unsupported value 'ptrace'");
}

static void test_errno_only_with_deny(void) {
        expect_invalid(ONE_RULE(5, "Syscall", "s", "mknod", "Path", "s", "/x", "Major", "u", 1, "Minor", "u", 3,
                                "Errno", "i", 13), "'Errno' applies only to Action 'deny'");
}

static void test_errno_must_be_a_process_errno(void) {
        expect_invalid(ONE_RULE(3, "Syscall", "s", "mknod", "Action", "s", "deny", "Errno", "i", 0),
                       "key 'Errno' must be between 1 and 511, not 0");
        /* ERESTARTSYS: the kernel would restart the call, or hand the process an errno it cannot name. */
        expect_invalid(ONE_RULE(3, "Syscall", "s", "mknod", "Action", "s", "deny", "Errno", "i", 512),
                       "key 'Errno' must be between 1 and 511, not 512");
}

static void test_control_characters_are_invalid(void) {
        /* A newline would write a line of the registrant's own into the administrator's polkit dialog. */
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mknod", "Path", "s", "/dev/x\n\nOnly /dev/null is created",
                                "Major", "u", 1, "Minor", "u", 3),
                       "Rule 0: key 'Path' contains a control character");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mknod", "Path", "s", "/dev/\x7f", "Major", "u", 1, "Minor", "u",
                                3),
                       "Rule 0: key 'Path' contains a control character");
        /* The same in UTF-8: a line separator (U+2028), a right-to-left override (U+202E), NEL (U+0085). */
        for (size_t i = 0; i < 3; i++) {
                static const char *const paths[] = { "/dev/x\xe2\x80\xa8y", "/dev/\xe2\x80\xaelun", "/dev/\xc2\x85" };
                expect_invalid(ONE_RULE(4, "Syscall", "s", "mknod", "Path", "s", paths[i], "Major", "u", 1, "Minor",
                                        "u", 3),
                               "Rule 0: key 'Path' contains a control character");
        }
        /* Other UTF-8 is a name like any. */
        RuleSet *set = NULL;
        char *error = NULL;
        CHECK(parse(ONE_RULE(4, "Syscall", "s", "mknod", "Path", "s", "/dev/caf\xc3\xa9-\xe2\x82\xac", "Major", "u", 1,
                             "Minor", "u", 3),
                    &set, &error) == 0);
        rule_set_free(set);
        free(error);
}

/* What an earlier daemon accepted is restored after an upgrade, not dropped with the sandbox's listener. */
static void test_restoring_keeps_what_was_accepted(void) {
        static const RuleLimits restoring = { .max_rules = 4, .max_string_length = 64, .max_total_length = 200,
                                              .restoring = true };
        sd_bus_message *m = ONE_RULE(6, "Syscall", "s", "mknod", "Action", "s", "deny", "Errno", "i", 512,
                                     "Path", "s", "/dev/a\nb", "Major", "u", 1, "Minor", "u", 3);
        RuleSet *set = NULL;
        char *error = NULL;

        if (sd_bus_message_seal(m, 1, 0) < 0 || sd_bus_message_rewind(m, true) < 0)
                abort();
        CHECK(rule_set_parse(m, &restoring, &set, &error) == 0);
        CHECK(set && set->n_rules == 1 && set->rules[0].deny_errno == EPERM);
        CHECK_STREQ(set ? set->rules[0].path : NULL, "/dev/a\nb");
        sd_bus_message_unref(m);
        rule_set_free(set);
        free(error);
}

static void test_second_rule_error_names_index_1(void) {
        sd_bus_message *m = new_message();

        if (sd_bus_message_append(m, "aa{sv}", 2,
                                  4, "Syscall", "s", "mknod", "Path", "s", "/a", "Major", "u", 1, "Minor", "u", 3,
                                  1, "Syscall", "s", "mknod") < 0)
                abort();
        expect_invalid(m, "Rule 1: missing key 'Path'");
}

static void test_empty_rule_set_is_invalid(void) {
        sd_bus_message *m = new_message();

        if (sd_bus_message_append(m, "aa{sv}", 0) < 0)
                abort();
        expect_invalid(m, "At least one rule");
}

static void test_too_many_rules_is_e2big(void) {
        sd_bus_message *m = new_message();
        RuleSet *set = NULL;
        char *error = NULL;

        if (sd_bus_message_open_container(m, 'a', "a{sv}") < 0)
                abort();
        for (int i = 0; i < 5; i++)
                if (sd_bus_message_append(m, "a{sv}", 4, "Syscall", "s", "mknod", "Path", "s", "/a",
                                          "Major", "u", 1, "Minor", "u", 3) < 0)
                        abort();
        if (sd_bus_message_close_container(m) < 0)
                abort();
        CHECK(parse(m, &set, &error) == -E2BIG);
        CHECK(error && strstr(error, "At most 4 rules"));
        free(error);
        rule_set_free(set);
}

/* Four rules within every other limit, whose strings are too many bytes together. */
static void test_rules_too_long_together_is_e2big(void) {
        sd_bus_message *m = new_message();
        const char *path = "/dev/a-path-of-sixty-bytes-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        RuleSet *set = NULL;
        char *error = NULL;

        CHECK(strlen(path) == 60);
        if (sd_bus_message_open_container(m, 'a', "a{sv}") < 0)
                abort();
        for (int i = 0; i < 4; i++)
                if (sd_bus_message_append(m, "a{sv}", 4, "Syscall", "s", "mknod", "Path", "s", path,
                                          "Major", "u", 1, "Minor", "u", 3) < 0)
                        abort();
        if (sd_bus_message_close_container(m) < 0)
                abort();
        CHECK(parse(m, &set, &error) == -E2BIG);
        CHECK_STREQ(error, "The rules of one listener may hold at most 200 bytes of strings (more at rule 3)");
        CHECK(!set);
        free(error);
}

static void test_path_patterns(void) {
        CHECK(rule_path_matches("/dev/null", "/dev/null"));
        CHECK(!rule_path_matches("/dev/null", "/dev/nullx"));
        CHECK(rule_path_matches("/tmp/*/null", "/tmp/a/null"));
        CHECK(!rule_path_matches("/tmp/*/null", "/tmp/a/b/null"));    /* '*' stays in one component */
        CHECK(rule_path_matches("/tmp/box/**", "/tmp/box/a"));
        CHECK(rule_path_matches("/tmp/box/**", "/tmp/box/a/b/c"));
        CHECK(!rule_path_matches("/tmp/box/**", "/tmp/box"));          /* below, not the directory itself */
        CHECK(!rule_path_matches("/tmp/box/**", "/tmp/boxer/a"));
        CHECK(rule_path_matches("/tmp/*/**", "/tmp/x/y"));
        CHECK(rule_path_matches("/**", "/anything"));
}

static void test_pattern_validation(void) {
        CHECK(rule_path_pattern_invalid("/a/b", 64) == NULL);
        CHECK(rule_path_pattern_invalid("/", 64) == NULL);
        CHECK(rule_path_pattern_invalid("/a/**", 64) == NULL);
        CHECK(rule_path_pattern_invalid("a", 64) != NULL);
        CHECK(rule_path_pattern_invalid("/a//b", 64) != NULL);
        CHECK(rule_path_pattern_invalid("/a/", 64) != NULL);
        CHECK(rule_path_pattern_invalid("/a/./b", 64) != NULL);
        CHECK(rule_path_pattern_invalid("/a/..", 64) != NULL);
        CHECK(rule_path_pattern_invalid("/a..b/c", 64) == NULL);
}

/* The contract's name tables (dbus/rule-names.c): every value has a name that reads back as itself. */
static void test_vocabulary_names_round_trip(void) {
        for (RuleSyscall i = 0; i < _RULE_SYSCALL_MAX; i++)
                CHECK(rule_syscall_from_string(rule_syscall_to_string(i)) == i);
        for (RuleAction i = 0; i < _RULE_ACTION_MAX; i++)
                CHECK(rule_action_from_string(rule_action_to_string(i)) == i);
        for (unsigned i = RULE_ACCESS_READ; i <= (RULE_ACCESS_READ | RULE_ACCESS_WRITE); i++)
                CHECK(rule_access_from_string(rule_access_to_string(i)) == i);
        CHECK_STREQ(rule_access_to_string(RULE_ACCESS_READ | RULE_ACCESS_WRITE), "rw");

        CHECK(rule_syscall_to_string(_RULE_SYSCALL_MAX) == NULL);
        CHECK(rule_syscall_to_string(_RULE_SYSCALL_INVALID) == NULL);
        CHECK(rule_syscall_from_string("mknodat") == _RULE_SYSCALL_INVALID);
        CHECK(rule_action_to_string(_RULE_ACTION_MAX) == NULL);
        CHECK(rule_action_from_string("allow") == _RULE_ACTION_INVALID);
        CHECK(rule_access_to_string(0) == NULL);
        CHECK(rule_access_to_string(4) == NULL);
        CHECK(rule_access_from_string("wr") == 0);
        CHECK(rule_access_from_string("") == 0);
}

static void test_literal_patterns(void) {
        CHECK(rule_pattern_is_literal("/dev/kvm"));
        CHECK(!rule_pattern_is_literal("/dev/k*"));
        CHECK(!rule_pattern_is_literal("/dev/kv?"));
        CHECK(!rule_pattern_is_literal("/dev/[k]vm"));
        CHECK(!rule_pattern_is_literal("/dev/k\\vm"));
}

static void test_mknod_match_checks_type_device_and_mode(void) {
        Rule r = { .syscall = RULE_SYSCALL_MKNOD, .device_type = 'c', .major = 1, .minor = 3, .max_mode = 0666,
                   .path = (char *) "/box/null" };
        RuleSet set = { .rules = &r, .n_rules = 1 };

        CHECK(rule_set_match_mknod(&set, "/box/null", S_IFCHR | 0666, 1, 3) == &r);
        CHECK(rule_set_match_mknod(&set, "/box/null", S_IFCHR | 0600, 1, 3) == &r);
        CHECK(!rule_set_match_mknod(&set, "/box/null", S_IFCHR | 04666, 1, 3)); /* setuid: beyond Mode */
        CHECK(!rule_set_match_mknod(&set, "/box/null", S_IFBLK | 0666, 1, 3));
        CHECK(!rule_set_match_mknod(&set, "/box/null", S_IFCHR | 0666, 1, 5));
        CHECK(!rule_set_match_mknod(&set, "/box/zero", S_IFCHR | 0666, 1, 3));
        CHECK(rule_set_find_mknod_device(&set, S_IFCHR | 0600, 1, 3) == &r);
        CHECK(!rule_set_find_mknod_device(&set, S_IFIFO | 0600, 0, 0));
}

/* A deny rule covers its device at any mode: asking for a wider mode than its Mode must not step past it to a
 * later emulate rule that allows that mode. */
static void test_mknod_deny_rule_covers_every_mode(void) {
        Rule r[2] = {
                { .syscall = RULE_SYSCALL_MKNOD, .action = RULE_ACTION_DENY, .device_type = 'c', .major = 1,
                  .minor = 3, .max_mode = 0666, .path = (char *) "/box/keep" },
                { .syscall = RULE_SYSCALL_MKNOD, .action = RULE_ACTION_EMULATE, .device_type = 'c', .major = 1,
                  .minor = 3, .max_mode = 0777, .path = (char *) "/box/*" },
        };
        RuleSet set = { .rules = r, .n_rules = 2 };

        CHECK(rule_set_match_mknod(&set, "/box/keep", S_IFCHR | 0777, 1, 3) == &r[0]);
        CHECK(rule_set_match_mknod(&set, "/box/keep", S_IFCHR | 04666, 1, 3) == &r[0]);
        CHECK(rule_set_match_mknod(&set, "/box/other", S_IFCHR | 0777, 1, 3) == &r[1]);
}

static void test_safe_list_devices_use_mknod_action(void) {
        Rule r = { .syscall = RULE_SYSCALL_MKNOD, .device_type = 'c', .major = 1, .minor = 3, .max_mode = 0666,
                   .path = (char *) "/box/null" };
        RuleAuthorization a;

        CHECK(rule_authorization(&r, &a) == 0);
        CHECK_STREQ(a.action_id, "org.sysbroker.Broker1.mknod");
        CHECK_STREQ(a.details[0], "syscall");
        CHECK_STREQ(a.details[1], "mknod");
        CHECK_STREQ(a.details[3], "/box/null");
        CHECK_STREQ(a.details[4], "device");
        CHECK_STREQ(a.details[5], "c 1:3");
        CHECK_STREQ(a.details[7], "0666");
        CHECK(a.details[8] == NULL);

        r.device_type = 'b';
        CHECK(rule_authorization(&r, &a) == 0);
        CHECK_STREQ(a.action_id, "org.sysbroker.Broker1.mknod-device");

        r = (Rule) { .syscall = RULE_SYSCALL_MKNOD, .device_type = 'c', .major = 10, .minor = 200 };
        CHECK(rule_authorization(&r, &a) == 0);
        CHECK_STREQ(a.action_id, "org.sysbroker.Broker1.mknod-device");
}

static void test_deny_rules_need_no_authorization(void) {
        Rule r = { .syscall = RULE_SYSCALL_MKNOD, .action = RULE_ACTION_DENY, .device_type = 'c', .major = 10,
                   .minor = 200, .path = (char *) "/x" };
        RuleAuthorization a;

        CHECK(rule_authorization(&r, &a) == 0);
        CHECK(a.action_id == NULL);
}

static void test_rules_property_round_trips(void) {
        RuleSet *set = NULL, *again = NULL;
        sd_bus_message *m;
        char *error = NULL;

        CHECK(parse(ONE_RULE(6, "Syscall", "s", "mknod", "Action", "s", "deny", "Errno", "i", 13,
                             "Path", "s", "/x/*", "Major", "u", 4, "Minor", "u", 64), &set, &error) == 0);
        if (!set)
                return;
        m = new_message();
        CHECK(rule_set_append(m, set) >= 0);
        CHECK(parse(m, &again, &error) == 0);
        if (again) {
                CHECK(again->rules[0].action == RULE_ACTION_DENY);
                CHECK(again->rules[0].deny_errno == 13);
                CHECK(again->rules[0].major == 4 && again->rules[0].minor == 64);
                CHECK_STREQ(again->rules[0].path, "/x/*");
        }
        rule_set_free(set);
        rule_set_free(again);
}

static void test_open_rule_gets_defaults(void) {
        RuleSet *set = NULL;
        char *error = NULL;

        CHECK(parse(ONE_RULE(2, "Syscall", "s", "open", "Path", "s", "/srv/**"), &set, &error) == 0);
        if (!set)
                return;
        CHECK(set->rules[0].access == RULE_ACCESS_READ);
        CHECK(!set->rules[0].create);
        CHECK(set->rules[0].host_path == NULL);
        rule_set_free(set);
}

static void test_open_rule_keys_are_checked(void) {
        expect_invalid(ONE_RULE(3, "Syscall", "s", "open", "Path", "s", "/x", "Access", "s", "x"),
                       "key 'Access' must be 'r', 'w' or 'rw'");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "open", "Path", "s", "/x", "Create", "s", "yes"),
                       "key 'Create' must be of type 'b'");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "open", "Path", "s", "/dev/*", "HostPath", "s", "/dev/kvm"),
                       "key 'Path' must be a literal path, or a literal directory followed by '/**', when "
                       "'HostPath' is set");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "open", "Path", "s", "/s*/**", "HostPath", "s", "/data"),
                       "key 'Path' must be a literal path, or a literal directory followed by '/**'");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "open", "Path", "s", "/srv/**", "HostPath", "s", "/data/../etc"),
                       "key 'HostPath' must not contain '.' or '..' components");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "open", "Path", "s", "/srv/**", "HostPath", "s", "/data/**"),
                       "key 'HostPath' must be a literal path, not a pattern");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "open", "Path", "s", "/srv/**", "HostPath", "s", "/data",
                                "Create", "b", 1), "'Create' cannot be combined with 'HostPath'");
        expect_invalid(ONE_RULE(5, "Syscall", "s", "mknod", "Path", "s", "/dev/fuse", "Major", "u", 10,
                                "Minor", "u", 229, "HostPath", "s", "/dev"),
                       "key 'HostPath' of a mknod rule needs a 'Path' of the form '/DIR/**'");
        expect_invalid(ONE_RULE(5, "Syscall", "s", "mknod", "Path", "s", "/sandbox/**", "Major", "u", 10,
                                "Minor", "u", 229, "HostPath", "s", "data"),
                       "key 'HostPath' must be an absolute path");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "open", "Path", "s", "/dev/kvm", "HostPath", "s", "dev/kvm"),
                       "key 'HostPath' must be an absolute path");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "open", "Path", "s", "/dev/kvm", "HostPath", "s", "/dev/kvm",
                                "Create", "b", 1), "'Create' cannot be combined with 'HostPath'");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "open", "Path", "s", "/x", "Major", "u", 1),
                       "key 'Major' does not apply to Syscall 'open'");
}

/* The same request for both kinds of rule. */
static const Rule *match_open(const RuleSet *set, const char *as_named, const char *resolved, const OpenRequest *req) {
        return rule_set_match_open(set, as_named, req, resolved, req);
}

static void test_read_only_rule_refuses_write_truncate_append_create(void) {
        Rule r = { .syscall = RULE_SYSCALL_OPEN, .access = RULE_ACCESS_READ, .path = (char *) "/srv/**" };
        RuleSet set = { .rules = &r, .n_rules = 1 };

        CHECK(match_open(&set, NULL, "/srv/a", &(OpenRequest) { .access = RULE_ACCESS_READ }) == &r);
        CHECK(!match_open(&set, NULL, "/srv/a", &(OpenRequest) { .access = RULE_ACCESS_WRITE }));
        CHECK(!match_open(&set, NULL, "/srv/a", &(OpenRequest) { .access = RULE_ACCESS_READ | RULE_ACCESS_WRITE }));
        CHECK(!match_open(&set, NULL, "/srv/a", &(OpenRequest) { .access = RULE_ACCESS_READ, .create = true }));
        CHECK(!match_open(&set, NULL, "/etc/a", &(OpenRequest) { .access = RULE_ACCESS_READ }));

        r.access = RULE_ACCESS_WRITE;
        r.create = true;
        CHECK(match_open(&set, NULL, "/srv/a", &(OpenRequest) { .access = RULE_ACCESS_WRITE, .create = true }) == &r);
        CHECK(!match_open(&set, NULL, "/srv/a", &(OpenRequest) { .access = RULE_ACCESS_READ }));
}

static void test_special_files_need_a_literal_rule(void) {
        Rule glob = { .syscall = RULE_SYSCALL_OPEN, .access = RULE_ACCESS_READ, .path = (char *) "/run/*" };
        Rule literal = { .syscall = RULE_SYSCALL_OPEN, .access = RULE_ACCESS_READ, .path = (char *) "/run/fifo" };
        RuleSet g = { .rules = &glob, .n_rules = 1 }, l = { .rules = &literal, .n_rules = 1 };
        OpenRequest fifo = { .access = RULE_ACCESS_READ, .special = true };

        CHECK(!match_open(&g, NULL, "/run/fifo", &fifo));
        CHECK(match_open(&l, NULL, "/run/fifo", &fifo) == &literal);
}

static void test_host_path_rules_match_only_literally(void) {
        Rule r = { .syscall = RULE_SYSCALL_OPEN, .access = RULE_ACCESS_READ | RULE_ACCESS_WRITE,
                   .path = (char *) "/dev/kvm", .host_path = (char *) "/dev/kvm" };
        RuleSet set = { .rules = &r, .n_rules = 1 };
        OpenRequest rw = { .access = RULE_ACCESS_READ | RULE_ACCESS_WRITE, .special = true };

        CHECK(rule_set_has_open_host(&set));
        CHECK(match_open(&set, "/dev/kvm", NULL, &rw) == &r);
        CHECK(!match_open(&set, "/dev/kvmx", NULL, &rw));
        /* A HostPath rule is never used for a path resolved in the sandbox. */
        CHECK(!match_open(&set, NULL, "/dev/kvm", &rw));
}

static void test_directory_mappings_parse(void) {
        RuleSet *set = NULL;
        char *error = NULL;

        CHECK(parse(ONE_RULE(3, "Syscall", "s", "open", "Path", "s", "/srv/secret/**", "HostPath", "s",
                             "/data/secret"), &set, &error) == 0);
        CHECK(set && set->rules[0].host_dir && streq(set->rules[0].host_path, "/data/secret"));
        CHECK(set && rule_set_has_open_mapping(set));
        set = rule_set_free(set);
        CHECK(parse(ONE_RULE(5, "Syscall", "s", "mknod", "Path", "s", "/sandboxdev/**", "Major", "u", 10,
                             "Minor", "u", 229, "HostPath", "s", "/srv/dev"), &set, &error) == 0);
        CHECK(set && set->rules[0].host_dir && streq(set->rules[0].host_path, "/srv/dev"));
        /* A mknod mapping gives opens nothing. */
        CHECK(set && !rule_set_has_open_host(set) && !rule_set_has_open_mapping(set));
        CHECK(set && rule_set_match_mknod(set, "/sandboxdev/fuse", S_IFCHR | 0600, 10, 229) == &set->rules[0]);
        CHECK(set && !rule_set_match_mknod(set, "/dev/fuse", S_IFCHR | 0600, 10, 229));
        set = rule_set_free(set);
        /* A literal Path with HostPath is still one file. */
        CHECK(parse(ONE_RULE(3, "Syscall", "s", "open", "Path", "s", "/dev/kvm", "HostPath", "s", "/dev/kvm"),
                    &set, &error) == 0);
        CHECK(set && !set->rules[0].host_dir && !rule_set_has_open_mapping(set));
        rule_set_free(set);
}

static void test_directory_mapping_matches_names_below_it(void) {
        Rule r = { .syscall = RULE_SYSCALL_OPEN, .access = RULE_ACCESS_READ, .path = (char *) "/srv/secret/**",
                   .host_path = (char *) "/data/secret", .host_dir = true };
        Rule deny = { .syscall = RULE_SYSCALL_OPEN, .action = RULE_ACTION_DENY, .access = RULE_ACCESS_READ,
                      .path = (char *) "/srv/**" };
        RuleSet set = { .rules = &r, .n_rules = 1 };
        OpenRequest read = { .access = RULE_ACCESS_READ };

        CHECK(match_open(&set, "/srv/secret/a/b.txt", NULL, &read) == &r);
        CHECK_STREQ(rule_mapped_relative(&r, "/srv/secret/a/b.txt"), "a/b.txt");
        /* The directory itself, a neighbour with the same prefix, and a name in the sandbox's view only. */
        CHECK(!match_open(&set, "/srv/secret", NULL, &read));
        CHECK(!match_open(&set, "/srv/secretx/a", NULL, &read));
        CHECK(!rule_mapped_relative(&r, "/srv/secretx/a"));
        CHECK(!match_open(&set, NULL, "/srv/secret/a", &read));
        CHECK(!match_open(&set, "/srv/secret/a", NULL, &(OpenRequest) { .access = RULE_ACCESS_WRITE }));
        /* ".." is the mapping's to resolve (beneath its directory): it matches, and the relative name keeps it. */
        CHECK(match_open(&set, "/srv/secret/a/../../../etc/shadow", NULL, &read) == &r);
        CHECK_STREQ(rule_mapped_relative(&r, "/srv/secret/a/../../../etc/shadow"), "a/../../../etc/shadow");

        /* No other rule matches a name with "..", not even standing in for a name that resolved to nothing. */
        RuleSet d = { .rules = &deny, .n_rules = 1 };
        CHECK(match_open(&d, "/srv/x", NULL, &read) == &deny);
        CHECK(!match_open(&d, "/srv/../etc/x", NULL, &read));

        /* The root's form maps everything below "/". */
        Rule all = r;
        all.path = (char *) "/**";
        CHECK_STREQ(rule_mapped_relative(&all, "/etc/x"), "etc/x");
        CHECK(!rule_mapped_relative(&all, "/"));
}

static void test_first_matching_rule_wins_host_path_or_not(void) {
        Rule rules[] = {
                { .syscall = RULE_SYSCALL_OPEN, .action = RULE_ACTION_DENY, .access = RULE_ACCESS_READ,
                  .path = (char *) "/dev/kvm" },
                { .syscall = RULE_SYSCALL_OPEN, .access = RULE_ACCESS_READ | RULE_ACCESS_WRITE,
                  .path = (char *) "/dev/kvm", .host_path = (char *) "/dev/kvm" },
        };
        RuleSet set = { .rules = rules, .n_rules = 2 };
        OpenRequest rw = { .access = RULE_ACCESS_READ | RULE_ACCESS_WRITE };

        /* The deny rule comes first: it wins, for any access (its Access does not bound a denial). */
        CHECK(match_open(&set, "/dev/kvm", "/dev/kvm", &rw) == &rules[0]);
        /* A name leading elsewhere: the deny rule does not apply, the HostPath rule does. */
        CHECK(match_open(&set, "/dev/kvm", "/elsewhere", &rw) == &rules[1]);
        /* A name leading nowhere: the deny rule stands for it, before the HostPath rule. */
        CHECK(match_open(&set, "/dev/kvm", NULL, &rw) == &rules[0]);
        /* The other way round: the HostPath rule first wins. */
        Rule swapped[] = { rules[1], rules[0] };
        RuleSet set2 = { .rules = swapped, .n_rules = 2 };
        CHECK(match_open(&set2, "/dev/kvm", "/dev/kvm", &rw) == &swapped[0]);
}

static void test_deny_rule_with_pattern_covers_special_files(void) {
        Rule r = { .syscall = RULE_SYSCALL_OPEN, .action = RULE_ACTION_DENY, .access = RULE_ACCESS_READ,
                   .path = (char *) "/dev/*" };
        RuleSet set = { .rules = &r, .n_rules = 1 };

        CHECK(match_open(&set, NULL, "/dev/sda",
                                  &(OpenRequest) { .access = RULE_ACCESS_WRITE, .create = true, .special = true }) == &r);
}

static void test_open_rule_authorization_details(void) {
        Rule r = { .syscall = RULE_SYSCALL_OPEN, .access = RULE_ACCESS_READ | RULE_ACCESS_WRITE,
                   .path = (char *) "/dev/kvm", .host_path = (char *) "/dev/kvm" };
        RuleAuthorization a;

        CHECK(rule_authorization(&r, &a) == 0);
        CHECK_STREQ(a.action_id, "org.sysbroker.Broker1.open");
        CHECK_STREQ(a.details[1], "open");
        CHECK_STREQ(a.details[3], "/dev/kvm");
        CHECK_STREQ(a.details[4], "access");
        CHECK_STREQ(a.details[5], "rw");
        CHECK_STREQ(a.details[6], "create");
        CHECK_STREQ(a.details[7], "false");
        CHECK_STREQ(a.details[8], "host-path");
        CHECK_STREQ(a.details[9], "/dev/kvm");
        /* The dialog names the host's file: the action's own message names only the sandbox's path. */
        CHECK_STREQ(a.details[10], "polkit.message");
        CHECK(a.details[11] && strstr(a.details[11], "$(host-path)"));
        CHECK(a.details[12] == NULL);
}

static void test_mapping_authorization_details(void) {
        Rule o = { .syscall = RULE_SYSCALL_OPEN, .access = RULE_ACCESS_READ, .path = (char *) "/srv/secret/**",
                   .host_path = (char *) "/data/secret", .host_dir = true };
        Rule m = { .syscall = RULE_SYSCALL_MKNOD, .device_type = 'c', .major = 10, .minor = 229, .max_mode = 0666,
                   .path = (char *) "/sandboxdev/**", .host_path = (char *) "/srv/dev", .host_dir = true };
        _cleanup_free_ char *described = NULL;
        RuleAuthorization a;

        CHECK(rule_authorization(&o, &a) == 0);
        CHECK_STREQ(a.details[8], "host-path");
        CHECK_STREQ(a.details[9], "/data/secret");
        CHECK(a.details[11] && strstr(a.details[11], "below the host's directory $(host-path)"));
        CHECK(rule_authorization(&m, &a) == 0);
        CHECK_STREQ(a.action_id, "org.sysbroker.Broker1.mknod-device");
        CHECK_STREQ(a.details[3], "/sandboxdev/**");
        CHECK_STREQ(a.details[8], "host-path");
        CHECK_STREQ(a.details[9], "/srv/dev");
        CHECK_STREQ(a.details[10], "polkit.message");
        CHECK(a.details[12] == NULL);
        described = rule_describe(&m);
        CHECK_STREQ(described, "emulate mknod c 10:229 /sandboxdev/** in host /srv/dev");
}

static void test_mount_rule_gets_defaults(void) {
        RuleSet *set = NULL;
        char *error = NULL;

        CHECK(parse(ONE_RULE(3, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/box/*"),
                    &set, &error) == 0);
        if (!set)
                return;
        CHECK(set->rules[0].fs_kind == RULE_FS_MEMORY);
        CHECK_STREQ(set->rules[0].path, "/box/*");
        CHECK(set->rules[0].source == NULL);
        CHECK(set->rules[0].allowed_flags == 0);
        CHECK(set->rules[0].forced_flags == (MS_NOSUID | MS_NODEV));
        CHECK(set->rules[0].n_options == 0);
        rule_set_free(set);
}

static void test_mount_rule_keys_are_checked(void) {
        expect_invalid(ONE_RULE(2, "Syscall", "s", "mount", "Target", "s", "/x"), "missing key 'FsType'");
        expect_invalid(ONE_RULE(2, "Syscall", "s", "mount", "FsType", "s", "tmpfs"), "missing key 'Target'");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "mount", "FsType", "s", "proc", "Target", "s", "/x"),
                       "key 'FsType': 'proc' is not supported");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "mount", "FsType", "s", "fuse", "Target", "s", "/x"),
                       "key 'FsType': 'fuse' is not supported");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "mount", "FsType", "s", "bind", "Target", "s", "/x"),
                       "missing key 'Source' (needed for FsType 'bind')");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mount", "FsType", "s", "ext4", "Source", "s", "dev/loop0",
                                "Target", "s", "/x"), "key 'Source' must be an absolute path");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/x/../y"),
                       "key 'Target' must not contain '.' or '..' components");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/x",
                                "AllowedFlags", "as", 2, "ro", "suid"),
                       "key 'AllowedFlags' names unknown flag 'suid'");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/x",
                                "ForcedFlags", "as", 1, "sync"),
                       "key 'ForcedFlags': 'sync' is not a flag a rule can force");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/x",
                                "Options", "as", 1, "size=1m,mode=0755"), "a pattern must be one option");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/x",
                                "Options", "as", 2, "size=*", "noexec"), "'noexec' is a mount flag");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/x",
                                "Options", "as", 1, "source=*"), "'source=*' is a mount flag or the source");
        expect_invalid(ONE_RULE(5, "Syscall", "s", "mount", "FsType", "s", "ext4", "Source", "s", "/dev/loop0",
                                "Target", "s", "/x", "Options", "as", 1, "journal_path=*"),
                       "'journal_path=*' names a device");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/x",
                                "Options", "s", "size=*"), "key 'Options' must be of type 'as'");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/x",
                                "Path", "s", "/x"), "key 'Path' does not apply to Syscall 'mount'");
        expect_invalid(ONE_RULE(3, "Syscall", "s", "open", "Path", "s", "/x", "Target", "s", "/x"),
                       "key 'Target' does not apply to Syscall 'open'");
}

static void test_mount_rule_lists_are_bounded(void) {
        sd_bus_message *m = new_message();

        /* 65 options: one too many. */
        CHECK(sd_bus_message_open_container(m, 'a', "a{sv}") >= 0);
        CHECK(sd_bus_message_open_container(m, 'a', "{sv}") >= 0);
        CHECK(sd_bus_message_append(m, "{sv}{sv}{sv}", "Syscall", "s", "mount", "FsType", "s", "tmpfs",
                                    "Target", "s", "/x") >= 0);
        CHECK(sd_bus_message_open_container(m, 'e', "sv") >= 0);
        CHECK(sd_bus_message_append(m, "s", "Options") >= 0);
        CHECK(sd_bus_message_open_container(m, 'v', "as") >= 0);
        CHECK(sd_bus_message_open_container(m, 'a', "s") >= 0);
        for (int i = 0; i < 65; i++)
                CHECK(sd_bus_message_append(m, "s", "size=*") >= 0);
        CHECK(sd_bus_message_close_container(m) >= 0);
        CHECK(sd_bus_message_close_container(m) >= 0);
        CHECK(sd_bus_message_close_container(m) >= 0);
        CHECK(sd_bus_message_close_container(m) >= 0);
        CHECK(sd_bus_message_close_container(m) >= 0);
        expect_invalid(m, "key 'Options' has more than 64 entries");
}

static void test_mount_match_resolved_target_and_source(void) {
        Rule rules[] = {
                { .syscall = RULE_SYSCALL_MOUNT, .fstype = (char *) "tmpfs", .fs_kind = RULE_FS_MEMORY,
                  .path = (char *) "/box/tmp" },
                { .syscall = RULE_SYSCALL_MOUNT, .fstype = (char *) "bind", .fs_kind = RULE_FS_BIND,
                  .source = (char *) "/srv/**", .path = (char *) "/box/srv/*" },
                { .syscall = RULE_SYSCALL_MOUNT, .fstype = (char *) "ext4", .fs_kind = RULE_FS_BLOCK,
                  .source = (char *) "/dev/loop7", .path = (char *) "/box/img" },
                { .syscall = RULE_SYSCALL_MOUNT, .fstype = (char *) "tmpfs", .fs_kind = RULE_FS_MEMORY,
                  .source = (char *) "cache*", .path = (char *) "/box/cache" },
        };
        RuleSet set = { .rules = rules, .n_rules = ELEMENTSOF(rules) };

        CHECK(rule_set_match_mount(&set, "tmpfs", "none", "/box/tmp") == &rules[0]);
        CHECK(rule_set_match_mount(&set, "tmpfs", "", "/box/tmp") == &rules[0]);
        CHECK(rule_set_match_mount(&set, "tmpfs", "none", "/box/tmp/x") == NULL);
        CHECK(rule_set_match_mount(&set, "ramfs", "none", "/box/tmp") == NULL);
        CHECK(rule_set_match_mount(&set, "bind", "/srv/a/b", "/box/srv/a") == &rules[1]);
        CHECK(rule_set_match_mount(&set, "bind", "/etc", "/box/srv/a") == NULL);
        CHECK(rule_set_match_mount(&set, "bind", NULL, "/box/srv/a") == NULL);
        CHECK(rule_set_match_mount(&set, "ext4", "/dev/loop7", "/box/img") == &rules[2]);
        CHECK(rule_set_match_mount(&set, "ext4", "/dev/loop8", "/box/img") == NULL);
        CHECK(rule_set_match_mount(&set, "tmpfs", "cache1", "/box/cache") == &rules[3]);
        CHECK(rule_set_match_mount(&set, "tmpfs", "other", "/box/cache") == NULL);
}

static void test_mount_options_need_a_pattern(void) {
        char *patterns[] = { (char *) "size=*", (char *) "mode=0[0-7][0-7][0-7]", NULL };
        Rule r = { .syscall = RULE_SYSCALL_MOUNT, .fstype = (char *) "tmpfs", .options = patterns, .n_options = 2 };
        const char *why = NULL;
        char buf[128];

        strcpy(buf, "size=1m,,mode=0755");
        CHECK(rule_mount_option_refused(&r, buf, &why) == NULL);
        strcpy(buf, "");
        CHECK(rule_mount_option_refused(&r, buf, &why) == NULL);
        strcpy(buf, "size=1m,mode=4777");
        CHECK_STREQ(rule_mount_option_refused(&r, buf, &why), "mode=4777");
        CHECK(why && strstr(why, "no Options pattern"));
        strcpy(buf, "size=1m,uid=0");
        CHECK_STREQ(rule_mount_option_refused(&r, buf, &why), "uid=0");
        /* Flags among the options are flags, whatever the patterns say; the source is never an option. */
        char *star[] = { (char *) "*", NULL };
        Rule any = { .syscall = RULE_SYSCALL_MOUNT, .fstype = (char *) "tmpfs", .options = star, .n_options = 1 };
        strcpy(buf, "size=1m,suid");
        CHECK_STREQ(rule_mount_option_refused(&any, buf, &why), "suid");
        CHECK(why && strstr(why, "mount flag"));
        strcpy(buf, "rw");
        CHECK_STREQ(rule_mount_option_refused(&any, buf, &why), "rw");
        strcpy(buf, "source=/dev/sda");
        CHECK_STREQ(rule_mount_option_refused(&any, buf, &why), "source=/dev/sda");
        strcpy(buf, "errors=remount-ro,journal_path=/dev/sdb");
        CHECK_STREQ(rule_mount_option_refused(&any, buf, &why), "journal_path=/dev/sdb");
        CHECK(why && strstr(why, "names a device"));
}

static void test_mount_rule_authorization_details(void) {
        char *patterns[] = { (char *) "size=*", (char *) "mode=*", NULL };
        Rule r = { .syscall = RULE_SYSCALL_MOUNT, .fstype = (char *) "bind", .fs_kind = RULE_FS_BIND,
                   .source = (char *) "/srv/**", .path = (char *) "/box/*", .allowed_flags = MS_RDONLY | MS_NOEXEC,
                   .forced_flags = MS_NOSUID | MS_NODEV, .options = patterns, .n_options = 2 };
        RuleAuthorization a;

        CHECK(rule_authorization(&r, &a) == 0);
        CHECK_STREQ(a.action_id, "org.sysbroker.Broker1.mount");
        CHECK_STREQ(a.details[0], "syscall");
        CHECK_STREQ(a.details[1], "mount");
        CHECK_STREQ(a.details[2], "fstype");
        CHECK_STREQ(a.details[3], "bind");
        CHECK_STREQ(a.details[4], "source");
        CHECK_STREQ(a.details[5], "/srv/**");
        CHECK_STREQ(a.details[6], "target");
        CHECK_STREQ(a.details[7], "/box/*");
        CHECK_STREQ(a.details[8], "allowed-flags");
        CHECK_STREQ(a.details[9], "ro,noexec");
        CHECK_STREQ(a.details[10], "forced-flags");
        CHECK_STREQ(a.details[11], "nosuid,nodev");
        CHECK_STREQ(a.details[12], "options");
        CHECK_STREQ(a.details[13], "size=*,mode=*");
        /* The dialog names the source too, which the action's message cannot: not every rule has one. */
        CHECK_STREQ(a.details[14], "polkit.message");
        CHECK(a.details[15] && strstr(a.details[15], "$(source)"));
        CHECK(a.details[16] == NULL);
        rule_authorization_done(&a);

        /* No Source: no "source" detail at all, rather than one an admin's rule could mistake for a path. */
        r = (Rule) { .syscall = RULE_SYSCALL_MOUNT, .fstype = (char *) "tmpfs", .path = (char *) "/box/t" };
        CHECK(rule_authorization(&r, &a) == 0);
        CHECK_STREQ(a.details[4], "target");
        CHECK_STREQ(a.details[9], "");
        CHECK_STREQ(a.details[11], "");
        CHECK(a.details[12] == NULL);
        rule_authorization_done(&a);
}

static void test_mount_rule_round_trips(void) {
        RuleSet *set = NULL, *again = NULL;
        sd_bus_message *m;
        char *error = NULL;

        CHECK(parse(ONE_RULE(6, "Syscall", "s", "mount", "FsType", "s", "ext4", "Source", "s", "/dev/loop*",
                             "Target", "s", "/mnt/**", "AllowedFlags", "as", 2, "ro", "noatime",
                             "Options", "as", 1, "errors=*"), &set, &error) == 0);
        if (!set)
                return;
        m = new_message();
        CHECK(rule_set_append(m, set) >= 0);
        CHECK(parse(m, &again, &error) == 0);
        if (again) {
                const Rule *r = &again->rules[0];
                CHECK_STREQ(r->fstype, "ext4");
                CHECK_STREQ(r->source, "/dev/loop*");
                CHECK_STREQ(r->path, "/mnt/**");
                CHECK(r->allowed_flags == (MS_RDONLY | MS_NOATIME));
                CHECK(r->forced_flags == (MS_NOSUID | MS_NODEV));
                CHECK(r->n_options == 1 && streq(r->options[0], "errors=*") && r->options[1] == NULL);
        }
        rule_set_free(set);
        rule_set_free(again);
}

/* MaxSize bounds what a tmpfs may be sized to, which an Options pattern "size=*" cannot: it is parsed for
 * tmpfs emulate rules only, sent back and to polkit (max-size), and a call is refused above it, at 0 (no
 * limit), in any unit tmpfs reads, and without a size at all (half of the memory). */
static void test_mount_max_size_bounds_tmpfs_size(void) {
        char *star[] = { (char *) "*", NULL };
        Rule r = { .syscall = RULE_SYSCALL_MOUNT, .action = RULE_ACTION_EMULATE, .fstype = (char *) "tmpfs",
                   .path = (char *) "/box/t", .options = star, .n_options = 1, .max_size = 64 << 20 };
        RuleSet *set = NULL, *again = NULL;
        RuleAuthorization a;
        const char *why = NULL;
        char *error = NULL;
        char buf[128];
        sd_bus_message *m;

        expect_invalid(ONE_RULE(4, "Syscall", "s", "mount", "FsType", "s", "ramfs", "Target", "s", "/x",
                                "MaxSize", "t", (uint64_t) 1024), "key 'MaxSize' applies only to FsType 'tmpfs'");
        expect_invalid(ONE_RULE(5, "Syscall", "s", "mount", "Action", "s", "deny", "FsType", "s", "tmpfs",
                                "Target", "s", "/x", "MaxSize", "t", (uint64_t) 1024),
                       "key 'MaxSize' applies only to Action 'emulate'");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/x",
                                "MaxSize", "t", (uint64_t) 0), "key 'MaxSize' must be at least 1 byte");
        expect_invalid(ONE_RULE(4, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/x",
                                "MaxSize", "u", (uint32_t) 1024), "key 'MaxSize' must be of type 't'");

        CHECK(parse(ONE_RULE(5, "Syscall", "s", "mount", "FsType", "s", "tmpfs", "Target", "s", "/x",
                             "Options", "as", 1, "size=*", "MaxSize", "t", (uint64_t) 1 << 20), &set, &error) == 0);
        if (set) {
                CHECK(set->rules[0].max_size == 1 << 20);
                m = new_message();
                CHECK(rule_set_append(m, set) >= 0);
                CHECK(parse(m, &again, &error) == 0);
                CHECK(again && again->rules[0].max_size == 1 << 20);
        }
        rule_set_free(set);
        rule_set_free(again);

        strcpy(buf, "size=64m,mode=0700");
        CHECK(rule_mount_size_refused(&r, buf, false, &why) == NULL);
        strcpy(buf, "size=65536k");
        CHECK(rule_mount_size_refused(&r, buf, false, &why) == NULL);
        strcpy(buf, "nr_blocks=16");
        CHECK(rule_mount_size_refused(&r, buf, false, &why) == NULL);
        strcpy(buf, "mode=0700,size=64M,size=1g");
        CHECK_STREQ(rule_mount_size_refused(&r, buf, false, &why), "size=1g");
        CHECK(why && strstr(why, "above the rule's MaxSize"));
        strcpy(buf, "size=67108865");
        CHECK_STREQ(rule_mount_size_refused(&r, buf, false, &why), "size=67108865");
        strcpy(buf, "size=0");
        CHECK_STREQ(rule_mount_size_refused(&r, buf, false, &why), "size=0");
        CHECK(why && strstr(why, "no limit"));
        strcpy(buf, "size=100%");
        CHECK_STREQ(rule_mount_size_refused(&r, buf, false, &why), "size=100%");
        strcpy(buf, "nr_blocks=1g");
        CHECK_STREQ(rule_mount_size_refused(&r, buf, false, &why), "nr_blocks=1g");
        strcpy(buf, "size=99999999999999999999");
        CHECK_STREQ(rule_mount_size_refused(&r, buf, false, &why), "size=99999999999999999999");
        strcpy(buf, "size=1x");
        CHECK_STREQ(rule_mount_size_refused(&r, buf, false, &why), "size=1x");
        strcpy(buf, "mode=0700");
        CHECK_STREQ(rule_mount_size_refused(&r, buf, false, &why), "");
        CHECK(why && strstr(why, "half of the memory"));
        /* A remount without a size keeps the mount's. */
        strcpy(buf, "mode=0700");
        CHECK(rule_mount_size_refused(&r, buf, true, &why) == NULL);
        strcpy(buf, "size=2g");
        CHECK_STREQ(rule_mount_size_refused(&r, buf, true, &why), "size=2g");

        CHECK(rule_authorization(&r, &a) == 0);
        CHECK_STREQ(a.details[10], "options");
        CHECK_STREQ(a.details[11], "*");
        CHECK_STREQ(a.details[12], "max-size");
        CHECK_STREQ(a.details[13], "67108864");
        CHECK(a.details[14] == NULL);
        rule_authorization_done(&a);
        free(error);
}

UNIT_MAIN(
        T(test_mknod_rule_gets_defaults),
        T(test_unknown_key_names_rule_and_key),
        T(test_wrong_type_names_key),
        T(test_missing_major_is_invalid),
        T(test_relative_path_is_invalid),
        T(test_dotdot_component_is_invalid),
        T(test_overlong_string_is_invalid),
        T(test_unsupported_syscall_is_invalid),
        T(test_errno_only_with_deny),
        T(test_errno_must_be_a_process_errno),
        T(test_control_characters_are_invalid),
        T(test_restoring_keeps_what_was_accepted),
        T(test_second_rule_error_names_index_1),
        T(test_empty_rule_set_is_invalid),
        T(test_too_many_rules_is_e2big),
        T(test_rules_too_long_together_is_e2big),
        T(test_path_patterns),
        T(test_pattern_validation),
        T(test_vocabulary_names_round_trip),
        T(test_literal_patterns),
        T(test_mknod_match_checks_type_device_and_mode),
        T(test_mknod_deny_rule_covers_every_mode),
        T(test_safe_list_devices_use_mknod_action),
        T(test_deny_rules_need_no_authorization),
        T(test_rules_property_round_trips),
        T(test_open_rule_gets_defaults),
        T(test_open_rule_keys_are_checked),
        T(test_read_only_rule_refuses_write_truncate_append_create),
        T(test_special_files_need_a_literal_rule),
        T(test_host_path_rules_match_only_literally),
        T(test_first_matching_rule_wins_host_path_or_not),
        T(test_directory_mappings_parse),
        T(test_directory_mapping_matches_names_below_it),
        T(test_mapping_authorization_details),
        T(test_deny_rule_with_pattern_covers_special_files),
        T(test_open_rule_authorization_details),
        T(test_mount_rule_gets_defaults),
        T(test_mount_rule_keys_are_checked),
        T(test_mount_rule_lists_are_bounded),
        T(test_mount_match_resolved_target_and_source),
        T(test_mount_options_need_a_pattern),
        T(test_mount_rule_authorization_details),
        T(test_mount_rule_round_trips),
        T(test_mount_max_size_bounds_tmpfs_size),
)
