/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state text a restarted daemon reads back from a listener's memfd (persist_parse()). It trusts nothing
 * in it; whatever it accepts, written again by persist_format_registration() and read back, must come out
 * the same: a second restart changes nothing. */

#include <stdio.h>

#include "fuzz.h"
#include "listener.h"
#include "log.h"
#include "macro.h"
#include "persist.h"

static char *describe(const PersistedListener *p) {
        char *all = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&all, &size);

        if (!f)
                abort();
        fprintf(f, "%" PRIu64 " %u %u %i %i '%s' %zu\n", p->id, p->owner_uid, p->account_uid, (int) p->owner_pid,
                p->default_deny, p->description, p->rules->n_rules);
        for (size_t i = 0; i < p->rules->n_rules; i++) {
                _cleanup_free_ char *d = rule_describe(&p->rules->rules[i]);

                if (!d)
                        abort();
                fprintf(f, "%s\n", d);
        }
        if (fclose(f) != 0)
                abort();
        return all;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* persist.c's restore_limits: rules an earlier daemon accepted. */
        static const RuleLimits limits = { .max_rules = 1u << 16, .max_string_length = 4096,
                                           .max_total_length = SIZE_MAX, .restoring = true };
        PersistedListener p = {}, again = {};
        _cleanup_free_ char *text = NULL, *written = NULL, *before = NULL, *after = NULL;
        Listener l = {};

        log_set_max_level(-1);
        /* The memfd's text ends at its first NUL, as persist_restore() reads it. */
        text = strndup((const char *) data, size);
        if (!text)
                abort();
        if (persist_parse(text, fuzz_bus(), &limits, &p) < 0) {
                if (p.rules || p.description)
                        abort(); /* half a listener */
                return 0;
        }
        if (!p.rules || p.rules->n_rules == 0 || !p.description)
                abort();

        l = (Listener) {
                .id = p.id,
                .owner_uid = p.owner_uid,
                .account_uid = p.account_uid,
                .owner_pid = p.owner_pid,
                .description = p.description,
                .default_deny = p.default_deny,
                .rules = p.rules,
        };
        if (persist_format_registration(&l, fuzz_bus(), &written) < 0)
                abort();
        if (persist_parse(written, fuzz_bus(), &limits, &again) < 0) {
                fprintf(stderr, "What the daemon writes it does not read back:\n%s", written);
                abort();
        }
        before = describe(&p);
        after = describe(&again);
        if (strcmp(before, after) != 0) {
                fprintf(stderr, "Read back as another listener:\n%s---\n%s", before, after);
                abort();
        }
        persisted_listener_done(&p);
        persisted_listener_done(&again);
        return 0;
}
