/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RegisterListener's rules (aa{sv}) as a caller on the bus can send them: the input chooses the rules, their
 * keys (the known ones or any other string), each value's D-Bus type (the right one or a wrong one) and the
 * value. What parses is then used as the daemon uses it: described, authorized, matched, sent back by
 * GetRules; and what GetRules sends must parse again to the same rules. */

#include <stdio.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "log.h"
#include "macro.h"
#include "rule.h"

static const char *const keys[] = {
        "Syscall", "Action", "Errno", "Path", "Type", "Major", "Minor", "Mode", "Access", "Create",
        "HostPath", "FsType", "Source", "Target", "AllowedFlags", "ForcedFlags", "Options",
};

/* Values that reach deeper than random bytes would: what the keys take. */
static const char *const words[] = {
        "mknod", "open", "mount", "emulate", "deny", "continue", "c", "b", "r", "w", "rw", "tmpfs", "ext4",
        "bind", "ramfs", "/dev/null", "/dev/**", "/srv/*", "/tmp/x", "ro", "nosuid", "nodev", "noexec",
        "size=*", "mode=*", "source=*", "uid=0",
};

static const char *const types[] = { "s", "u", "i", "b", "as", "t", "y", "o", "ai", "v" };

/* The string the input gives, or (more often) one of the words. */
static char *word_or_string(FuzzInput *in) {
        uint8_t b = fuzz_byte(in);
        char *s;

        if (b < 128) {
                s = strdup(words[b % ELEMENTSOF(words)]);
                if (!s)
                        abort();
                return s;
        }
        return fuzz_string(in);
}

static int append_value(sd_bus_message *m, const char *type, FuzzInput *in) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = sd_bus_message_open_container(m, 'v', type);
        if (r < 0)
                return r;
        switch (type[0]) {
        case 's':
        case 'o':
                s = word_or_string(in);
                r = sd_bus_message_append_basic(m, type[0], s);
                break;
        case 'u':
        case 'i': {
                uint32_t v = fuzz_u32(in);

                r = sd_bus_message_append_basic(m, type[0], &v);
                break;
        }
        case 'b': {
                int v = fuzz_byte(in) & 1;

                r = sd_bus_message_append_basic(m, 'b', &v);
                break;
        }
        case 't': {
                uint64_t v = (uint64_t) fuzz_u32(in) << 32 | fuzz_u32(in);

                r = sd_bus_message_append_basic(m, 't', &v);
                break;
        }
        case 'y': {
                uint8_t v = fuzz_byte(in);

                r = sd_bus_message_append_basic(m, 'y', &v);
                break;
        }
        case 'a':
                r = sd_bus_message_open_container(m, 'a', type + 1);
                for (size_t n = fuzz_byte(in) % 8; r >= 0 && n > 0; n--) {
                        if (type[1] == 's') {
                                free(s);
                                s = word_or_string(in);
                                r = sd_bus_message_append_basic(m, 's', s);
                        } else {
                                int32_t v = (int32_t) fuzz_u32(in);

                                r = sd_bus_message_append_basic(m, 'i', &v);
                        }
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                break;
        case 'v':
                /* A variant in the variant: a type nothing expects. */
                r = sd_bus_message_append(m, "v", "s", "x");
                break;
        default:
                abort();
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

/* Builds the call's rules argument from the input. < 0 where sd-bus itself refuses what the input asks for
 * (a string that is not UTF-8, say): no caller could send that. */
static int build_rules(sd_bus_message *m, FuzzInput *in) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "a{sv}");
        for (size_t n_rules = fuzz_byte(in) % 6; r >= 0 && n_rules > 0; n_rules--) {
                r = sd_bus_message_open_container(m, 'a', "{sv}");
                for (size_t n_keys = fuzz_byte(in) % 12; r >= 0 && n_keys > 0; n_keys--) {
                        _cleanup_free_ char *key = NULL;
                        uint8_t b = fuzz_byte(in);
                        const char *type;

                        if (b < 240) {
                                key = strdup(keys[b % ELEMENTSOF(keys)]);
                                if (!key)
                                        abort();
                        } else
                                key = fuzz_string(in);
                        /* Mostly the type the daemon expects (it is in the key table; a wrong guess is
                         * refused early), sometimes another. */
                        type = types[fuzz_choice(in, ELEMENTSOF(types))];
                        r = sd_bus_message_open_container(m, 'e', "sv");
                        if (r >= 0)
                                r = sd_bus_message_append_basic(m, 's', key);
                        if (r >= 0)
                                r = append_value(m, type, in);
                        if (r >= 0)
                                r = sd_bus_message_close_container(m);
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_seal(m, 1, 0);
        if (r >= 0)
                r = sd_bus_message_rewind(m, true);
        return r;
}

static void use_rule(const Rule *rule, FuzzInput *in) {
        RuleAuthorization a = {};
        _cleanup_free_ char *d = NULL;

        d = rule_describe(rule);
        if (!d)
                abort();
        if (rule_authorization(rule, &a) < 0)
                abort();
        for (size_t i = 0; a.action_id && a.details[i]; i += 2)
                if (!a.details[i + 1])
                        abort(); /* a key without its value */
        rule_authorization_done(&a);

        if (rule->syscall == RULE_SYSCALL_MOUNT) {
                _cleanup_free_ char *options = word_or_string(in);
                const char *why = NULL, *refused;

                refused = rule_mount_option_refused(rule, options, &why);
                if (refused && !why)
                        abort();
        }
}

/* rule_describe() of every rule, joined: what must survive GetRules and a new RegisterListener. */
static char *describe_all(const RuleSet *set) {
        char *all = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&all, &size);

        if (!f)
                abort();
        for (size_t i = 0; i < set->n_rules; i++) {
                _cleanup_free_ char *d = rule_describe(&set->rules[i]);

                if (!d)
                        abort();
                fprintf(f, "%s\n", d);
        }
        if (fclose(f) != 0)
                abort();
        return all;
}

static void round_trip(const RuleSet *set, const RuleLimits *limits) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(rule_set_freep) RuleSet *again = NULL;
        _cleanup_free_ char *error = NULL, *before = NULL, *after = NULL;
        /* GetRules fills in every default: more strings than were sent, which the limits must not count. */
        RuleLimits generous = *limits;

        generous.max_total_length = SIZE_MAX;
        generous.max_string_length = SIZE_MAX;
        if (sd_bus_message_new_method_call(fuzz_bus(), &m, "org.example", "/", "org.example", "Test") < 0 ||
            rule_set_append(m, set) < 0 || sd_bus_message_seal(m, 1, 0) < 0 ||
            sd_bus_message_rewind(m, true) < 0)
                abort();
        if (rule_set_parse(m, &generous, &again, &error) < 0) {
                fprintf(stderr, "GetRules' rules do not parse again: %s\n", error ?: "(no error message)");
                abort();
        }
        before = describe_all(set);
        after = describe_all(again);
        if (strcmp(before, after) != 0) {
                fprintf(stderr, "GetRules' rules parse to other rules:\n%s---\n%s", before, after);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* The daemon's own limits, but fewer rules: the fuzzer learns nothing more from the 257th. */
        static const RuleLimits limits = { .max_rules = 8, .max_string_length = 4096, .max_total_length = 64 * 1024 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(rule_set_freep) RuleSet *set = NULL;
        _cleanup_free_ char *error = NULL;
        FuzzInput in = { data, size };
        int r;

        log_set_max_level(-1);
        if (sd_bus_message_new_method_call(fuzz_bus(), &m, "org.example", "/", "org.example", "Test") < 0)
                abort();
        if (build_rules(m, &in) < 0)
                return 0;

        r = rule_set_parse(m, &limits, &set, &error);
        if (r < 0) {
                /* Refused: with a reason for the caller, and nothing half-built. */
                if (set || (r == -EINVAL && !error))
                        abort();
                return 0;
        }
        if (!set || set->n_rules == 0 || error)
                abort();

        for (size_t i = 0; i < set->n_rules; i++)
                use_rule(&set->rules[i], &in);
        round_trip(set, &limits);

        /* Matching, with paths and devices the rest of the input gives. */
        while (!fuzz_empty(&in)) {
                _cleanup_free_ char *path = word_or_string(&in), *other = word_or_string(&in);
                OpenRequest req = { .access = fuzz_byte(&in) & 3, .create = fuzz_byte(&in) & 1 };
                uint32_t major = fuzz_byte(&in), minor = fuzz_byte(&in);

                (void) rule_set_match_mknod(set, path, S_IFCHR | 0666, major, minor);
                (void) rule_set_match_open(set, path, &req, other, &req);
                (void) rule_set_match_mount(set, other, path, path);
        }
        return 0;
}
