/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A mount call's data options (the string its fifth argument points to) against a mount rule's Options
 * patterns, both from the input. Checked against the kernel's view of the same string: whatever the rule
 * lets through, split at ',' and cut at '=' as the kernel does it, is never a key the kernel takes as the
 * source or as a superblock flag, never a device the file system would open itself, and always matches one
 * of the rule's patterns. */

#include <fnmatch.h>
#include <stdio.h>

#include "fuzz.h"
#include "log.h"
#include "macro.h"
#include "rule.h"

/* The daemon's MOUNT_DATA_MAX: a page, what the kernel copies. */
#define DATA_MAX 4096

/* Keys the kernel itself acts on (fs/fs_context.c: the "source" parameter, common_set_sb_flag and
 * common_clear_sb_flag), and the device keys of ext4, xfs and btrfs. Written out here, not taken from
 * mount-flags.h: the point is a second opinion. */
static const char *const forbidden_keys[] = {
        "source", "dirsync", "lazytime", "mand", "posixacl", "ro", "sync", "async", "nolazytime", "nomand",
        "rw", "journal_path", "journal_dev", "logdev", "rtdev", "device",
};

static int build_rule(sd_bus_message *m, char **patterns) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "a{sv}");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}", "Syscall", "s", "mount", "FsType", "s", "tmpfs",
                                          "Target", "s", "/srv/**");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "Options");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, patterns);
        for (unsigned i = 0; r >= 0 && i < 4; i++)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_seal(m, 1, 0);
        if (r >= 0)
                r = sd_bus_message_rewind(m, true);
        return r;
}

static void check_accepted(const Rule *rule, const char *options) {
        _cleanup_free_ char *copy = strdup(options);
        char *s = copy, *opt;

        if (!copy)
                abort();
        while ((opt = strsep(&s, ","))) {
                size_t key_length = strcspn(opt, "=");
                bool matched = false;

                if (opt[0] == 0)
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(forbidden_keys); i++)
                        if (strlen(forbidden_keys[i]) == key_length &&
                            strncmp(opt, forbidden_keys[i], key_length) == 0) {
                                fprintf(stderr, "Option '%s' let through in '%s'\n", opt, options);
                                abort();
                        }
                for (size_t i = 0; i < rule->n_options && !matched; i++)
                        matched = fnmatch(rule->options[i], opt, 0) == 0;
                if (!matched) {
                        fprintf(stderr, "Option '%s' matches no pattern but was let through\n", opt);
                        abort();
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const RuleLimits limits = { .max_rules = 1, .max_string_length = 4096, .max_total_length = 64 * 1024 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(rule_set_freep) RuleSet *set = NULL;
        _cleanup_free_ char *error = NULL, *options = NULL, *scratch = NULL;
        char *patterns[9] = {};
        FuzzInput in = { data, size };
        const char *refused, *why = NULL;
        size_t n;

        log_set_max_level(-1);
        n = fuzz_byte(&in) % ELEMENTSOF(patterns);
        for (size_t i = 0; i < n; i++)
                patterns[i] = fuzz_string(&in);
        options = strndup((const char *) in.data, MIN(in.size, (size_t) DATA_MAX - 1));
        scratch = options ? strdup(options) : NULL;
        if (!scratch)
                abort();

        if (sd_bus_message_new_method_call(fuzz_bus(), &m, "org.example", "/", "org.example", "Test") < 0)
                abort();
        if (build_rule(m, patterns) < 0 || rule_set_parse(m, &limits, &set, &error) < 0)
                goto finish; /* patterns sd-bus or the daemon refuse: no such rule exists */

        /* Modifies its argument (splits it at ','), as in handle-mount.c. */
        refused = rule_mount_option_refused(&set->rules[0], scratch, &why);
        if (refused) {
                if (!why || refused < scratch || refused >= scratch + strlen(options) + 1)
                        abort();
        } else
                check_accepted(&set->rules[0], options);

finish:
        for (size_t i = 0; i < n; i++)
                free(patterns[i]);
        return 0;
}
