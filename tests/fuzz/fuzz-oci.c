/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an OCI runtime sends to the OCI socket (oci_state_parse()) and the listenerMetadata in it
 * (oci_metadata_to_message()), down to the rule parser the bus uses: anyone may connect, so all of it is
 * untrusted. Whatever the metadata turns into must be a well-formed "aa{sv}a{sv}" for rule_set_parse() and
 * the options after it. */

#include "bus-dict.h"
#include "fuzz.h"
#include "log.h"
#include "macro.h"
#include "oci-state.h"
#include "rule.h"

static int skip_entry(sd_bus_message *m, const char *key, const char *contents, void *userdata) {
        return sd_bus_message_skip(m, "v");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const RuleLimits limits = { .max_rules = 256, .max_string_length = 4096,
                                           .max_total_length = 1 << 20 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(oci_state_done) OciState s = {};
        _cleanup_free_ char *error = NULL;
        RuleSet *rules = NULL;
        int r;

        log_set_max_level(LOG_CRIT);
        r = oci_state_parse((const char *) data, size, &s, &error);
        if (r < 0) {
                /* Every refusal says why. */
                if (r == -EINVAL && !error)
                        abort();
                return 0;
        }
        if (!s.container_id || !s.bundle || s.bundle[0] != '/' || s.pid <= 0 || s.seccomp_fd_index >= s.n_fds ||
            s.n_fds > OCI_MAX_FDS || (s.metadata && !s.metadata[0]))
                abort();
        if (!s.metadata)
                return 0;

        r = oci_metadata_to_message(s.metadata, fuzz_bus(), &m, &error);
        if (r < 0) {
                if (r == -EINVAL && !error)
                        abort();
                return 0;
        }
        if (rule_set_parse(m, &limits, &rules, &error) >= 0) {
                rule_set_free(rules);
                /* The options follow, as a dictionary whatever the JSON held. */
                if (bus_dict_foreach(m, skip_entry, NULL) < 0)
                        abort();
        }
        return 0;
}
