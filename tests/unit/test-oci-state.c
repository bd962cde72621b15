/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OCI runtime's message and its listenerMetadata: what crun and runc send is taken, and the rules in it
 * reach the bus's own parser, which then says the same as it would to a bus caller. */

#include "oci-state.h"
#include "rule.h"
#include "unit.h"

static const RuleLimits limits = { .max_rules = 4, .max_string_length = 64, .max_total_length = 200 };

/* As crun 1.8.1 sends it (tests/fuzz/corpus/fuzz-oci/crun-1.8.1). */
#define CRUN_STATE                                                                                          \
        "{\n    \"ociVersion\": \"0.2.0\",\n    \"fds\": [\n        \"seccompFd\"\n    ],\n    \"pid\": 4711,\n" \
        "    \"metadata\": \"{\\\"Rules\\\": [{\\\"Syscall\\\": \\\"mknod\\\", \\\"Path\\\": \\\"/dev/fuse\\\", "    \
        "\\\"Major\\\": 10, \\\"Minor\\\": 229}]}\",\n    \"state\": {\n        \"ociVersion\": \"0.2.0\",\n"        \
        "        \"id\": \"c1\",\n        \"status\": \"creating\",\n        \"pid\": 4711,\n"                    \
        "        \"bundle\": \"/srv/c1\"\n    }\n}\n"

static int state(const char *text, OciState *ret, char **ret_error) {
        return oci_state_parse(text, strlen(text), ret, ret_error);
}

static void test_crun_state_is_taken(void) {
        OciState s = {};
        char *error = NULL;

        CHECK(state(CRUN_STATE, &s, &error) == 0);
        CHECK_STREQ(s.container_id, "c1");
        CHECK_STREQ(s.bundle, "/srv/c1");
        CHECK(s.pid == 4711);
        CHECK(s.n_fds == 1 && s.seccomp_fd_index == 0);
        CHECK(s.metadata && strstr(s.metadata, "/dev/fuse"));
        oci_state_done(&s);
        free(error);
}

static void check_refused(const char *text, const char *expect) {
        OciState s = {};
        char *error = NULL;

        CHECK(state(text, &s, &error) == -EINVAL);
        CHECK(error && strstr(error, expect));
        if (error && !strstr(error, expect))
                fprintf(stderr, "# got '%s', expected '%s'\n", error, expect);
        CHECK(!s.container_id);
        free(error);
}

#define GOOD_TAIL "\"state\": {\"id\": \"c\", \"pid\": 5, \"bundle\": \"/b\"}}"

static void test_bad_states_are_refused_with_a_reason(void) {
        check_refused("", "not complete JSON");
        check_refused("[1]", "not a JSON object");
        check_refused("{\"fds\": [\"seccompFd\"], \"pid\": 5, " GOOD_TAIL " trailing", "data after");
        check_refused("{\"pid\": 5, " GOOD_TAIL, "'fds' is missing");
        check_refused("{\"fds\": [\"other\"], \"pid\": 5, " GOOD_TAIL, "does not name 'seccompFd'");
        check_refused("{\"fds\": [\"seccompFd\", \"seccompFd\"], \"pid\": 5, " GOOD_TAIL, "twice");
        check_refused("{\"fds\": [\"a\", \"b\", \"c\", \"d\", \"seccompFd\"], \"pid\": 5, " GOOD_TAIL, "more than 4");
        check_refused("{\"fds\": [\"seccompFd\"], \"pid\": -1, " GOOD_TAIL, "not a process id");
        check_refused("{\"fds\": [\"seccompFd\"], \"pid\": 6, " GOOD_TAIL, "'state.pid' is not 'pid'");
        check_refused("{\"fds\": [\"seccompFd\"], \"pid\": 5, \"state\": {\"id\": \"a\\nb\", \"bundle\": \"/b\"}}",
                      "'state.id' is not a container id");
        check_refused("{\"fds\": [\"seccompFd\"], \"pid\": 5, \"state\": {\"id\": \"a\\u0000b\", \"bundle\": \"/b\"}}",
                      "'state.id' is not a container id");
        check_refused("{\"fds\": [\"seccompFd\"], \"pid\": 5, \"state\": {\"id\": \"c\", \"bundle\": \"b\"}}",
                      "not an absolute path");
        check_refused("{\"fds\": [\"seccompFd\"], \"pid\": 5, \"metadata\": 3, " GOOD_TAIL, "not a string");
        /* Deeper than any message needs: json-c stops before building it. */
        check_refused("{\"fds\": [\"seccompFd\"], \"pid\": 5, \"x\": [[[[[[[[[[]]]]]]]]]], " GOOD_TAIL,
                      "not valid JSON");
}

/* The metadata through the bus's parser: 0 and the rule set, or its error. */
static int metadata(const char *json, RuleSet **ret, char **ret_error) {
        sd_bus_message *m = NULL;
        int r;

        *ret = NULL;
        r = oci_metadata_to_message(json, unit_test_bus(), &m, ret_error);
        if (r < 0)
                return r;
        r = rule_set_parse(m, &limits, ret, ret_error);
        sd_bus_message_unref(m);
        return r;
}

static void test_metadata_rules_reach_the_rule_parser(void) {
        RuleSet *set = NULL;
        char *error = NULL;

        CHECK(metadata("{\"Rules\": [{\"Syscall\": \"mknod\", \"Path\": \"/dev/fuse\", \"Major\": 10, "
                       "\"Minor\": 229}, {\"Syscall\": \"open\", \"Path\": \"/s\", \"Access\": \"rw\", "
                       "\"Create\": true}, {\"Syscall\": \"mount\", \"FsType\": \"tmpfs\", \"Target\": \"/mnt\", "
                       "\"Options\": [\"size=*\"], \"MaxSize\": 1048576}, {\"Syscall\": \"mknod\", \"Action\": \"deny\", \"Errno\": 13, "
                       "\"Path\": \"/dev/x\", \"Major\": 1, \"Minor\": 5}], \"DefaultAction\": \"deny\"}",
                       &set, &error) == 0);
        CHECK(set && set->n_rules == 4);
        if (set && set->n_rules == 4) {
                CHECK(set->rules[0].major == 10 && set->rules[0].minor == 229);
                CHECK(set->rules[1].create);
                CHECK(set->rules[2].n_options == 1);
                CHECK(set->rules[2].max_size == 1048576);
                CHECK(set->rules[3].deny_errno == 13);
        }
        rule_set_free(set);
        free(error);
}

static void check_rule_error(const char *json, int expect_r, const char *expect) {
        RuleSet *set = NULL;
        char *error = NULL;
        int r = metadata(json, &set, &error);

        CHECK(r == expect_r);
        CHECK(error && strstr(error, expect));
        if (!error || !strstr(error, expect))
                fprintf(stderr, "# got %d '%s', expected '%s'\n", r, error ?: "(null)", expect);
        CHECK(!set);
        free(error);
}

static void test_metadata_errors_are_the_bus_errors(void) {
        /* The parser's own words, as a bus caller gets them. */
        check_rule_error("{\"Rules\": [{\"Syscall\": \"mknod\", \"Path\": \"dev\", \"Major\": 1, \"Minor\": 3}]}",
                         -EINVAL, "Rule 0: key 'Path'");
        check_rule_error("{\"Rules\": [{\"Syscall\": \"mknod\", \"Path\": \"/d\", \"Major\": \"1\"}]}",
                         -EINVAL, "Rule 0: key 'Major' must be of type 'u'");
        check_rule_error("{\"Rules\": [{\"Syscall\": \"mknod\", \"Path\": \"/d\", \"Major\": -1}]}",
                         -EINVAL, "Rule 0: key 'Major' must be of type 'u'");
        check_rule_error("{\"Rules\": [{\"Syscall\": \"open\", \"Path\": \"/d\", \"Bogus\": 1}]}",
                         -EINVAL, "Rule 0: unknown key 'Bogus'");
#define R "{\"Syscall\": \"open\", \"Path\": \"/a\"}"
        check_rule_error("{\"Rules\": [" R ", " R ", " R ", " R ", " R "]}", -E2BIG, "At most 4 rules");
#undef R
        /* What JSON can say and D-Bus cannot. */
        check_rule_error("{\"Rules\": [{\"Syscall\": null}]}", -EINVAL, "Rule 0: key 'Syscall' is null");
        check_rule_error("{\"Rules\": [{\"Options\": [1]}]}", -EINVAL, "must be a list of strings");
        check_rule_error("{\"Rules\": [3]}", -EINVAL, "Rule 0: not a JSON object");
        check_rule_error("{\"Rules\": {}}", -EINVAL, "no 'Rules' list");
        check_rule_error("[]", -EINVAL, "not a JSON object");
        check_rule_error("{\"Rules\": [{\"Path\": \"/a\\u0000b\"}]}", -EINVAL, "NUL byte");
}

UNIT_MAIN(T(test_crun_state_is_taken),
          T(test_bad_states_are_refused_with_a_reason),
          T(test_metadata_rules_reach_the_rule_parser),
          T(test_metadata_errors_are_the_bus_errors))
