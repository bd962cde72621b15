/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysbrokerctl's rule options (--mknod, --open, --open-host, --deny-open, --continue-open, --mount, --deny-mount,
 * --default, --description), parsed by libsysbroker's *_spec() functions, then put on the wire as sysbrokerctl run
 * sends them. The input is the options: one byte to choose each, then its argument. A refused option must
 * say why, and leave the rules as they were. */

#include <stdio.h>

#include "fuzz.h"
#include "macro.h"
#include "sysbroker-internal.h"
#include "sysbroker.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(sysbroker_rules *, sysbroker_rules_free);

/* --deny-open and --continue-open: every access mode, no creation. */
static int add_every_open(sysbroker_rules *rules, sysbroker_action action, const char *path) {
        return sysbroker_rules_add_open(rules, action, path, SYSBROKER_ACCESS_READ_WRITE, true, NULL);
}

static int set_default(sysbroker_rules *rules, sysbroker_action action, const char *s) {
        if (sysbroker_action_from_string(s, &action) < 0)
                return -EINVAL;
        return sysbroker_rules_set_default_action(rules, action);
}

static int set_description(sysbroker_rules *rules, sysbroker_action action, const char *s) {
        return sysbroker_rules_set_description(rules, s);
}

static const struct {
        int (*add)(sysbroker_rules *rules, sysbroker_action action, const char *spec);
        sysbroker_action action;
        bool adds_rule;
} options[] = {
        { sysbroker_rules_add_mknod_spec,     SYSBROKER_ACTION_EMULATE, true  },
        { sysbroker_rules_add_mknod_spec,     SYSBROKER_ACTION_DENY,    true  },
        { sysbroker_rules_add_open_spec,      SYSBROKER_ACTION_EMULATE, true  },
        { sysbroker_rules_add_open_host_spec, SYSBROKER_ACTION_EMULATE, true  },
        { add_every_open,                     SYSBROKER_ACTION_DENY,    true  },
        { add_every_open,                     SYSBROKER_ACTION_CONTINUE, true },
        { sysbroker_rules_add_mount_spec,     SYSBROKER_ACTION_EMULATE, true  },
        { sysbroker_rules_add_mount_spec,     SYSBROKER_ACTION_DENY,    true  },
        { set_default,                        SYSBROKER_ACTION_CONTINUE, false },
        { set_description,                    SYSBROKER_ACTION_CONTINUE, false },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(sysbroker_rules_freep) sysbroker_rules *rules = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        FuzzInput in = { data, size };

        if (sysbroker_rules_new(&rules) < 0)
                abort();
        while (!fuzz_empty(&in)) {
                size_t o = fuzz_choice(&in, ELEMENTSOF(options)), before = sysbroker_rules_count(rules);
                _cleanup_free_ char *arg = fuzz_string(&in);
                int r;

                r = options[o].add(rules, options[o].action, arg);
                if (r < 0 && sysbroker_rules_count(rules) != before)
                        abort(); /* half a rule */
                if (r < 0 && options[o].adds_rule && !sysbroker_rules_get_error(rules)) {
                        fprintf(stderr, "Refused '%s' without saying why\n", arg);
                        abort();
                }
                if (r >= 0 && sysbroker_rules_count(rules) != before + options[o].adds_rule)
                        abort();
        }

        if (sd_bus_message_new_method_call(fuzz_bus(), &m, "org.example", "/", "org.example", "Test") < 0)
                abort();
        if (rules_append_to_message(rules, m) < 0 || sd_bus_message_seal(m, 1, 0) < 0)
                abort();
        return 0;
}
