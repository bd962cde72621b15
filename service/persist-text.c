/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The text a listener's state memfd holds after its header page: the registration (owner, options, rules as
 * D-Bus carries them) and the mounts it made. Written by this daemon, read back by its successor, which
 * trusts nothing in it: every line is parsed strictly, and the rules are validated like a registration's. */

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "bus-dict.h"
#include "log.h"
#include "persist.h"

void persisted_listener_done(PersistedListener *p) {
        free(p->description);
        free(p->root);
        rule_set_free(p->rules);
        *p = (PersistedListener) {};
}

/* Strings as hex: any byte survives, one token per string. */
static void put_hex(FILE *f, const char *s) {
        if (!*s)
                fputc('-', f);
        for (; *s; s++)
                fprintf(f, "%02x", (unsigned char) *s);
}

static int hex_digit_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static char *get_hex(const char *token) {
        size_t l = strlen(token);
        char *s;

        if (streq(token, "-"))
                return strdup("");
        if (l % 2 != 0)
                return NULL;
        s = malloc(l / 2 + 1);
        if (!s)
                return NULL;
        for (size_t i = 0; i < l / 2; i++) {
                int high = hex_digit_value(token[2 * i]), low = hex_digit_value(token[2 * i + 1]);

                /* Two hex digits, nothing else (sscanf would take a sign or a space), and no NUL byte. */
                if (high < 0 || low < 0 || (high | low) == 0) {
                        free(s);
                        return NULL;
                }
                s[i] = (char) (high << 4 | low);
        }
        s[l / 2] = 0;
        return s;
}

/* One rule key: "key TYPE NAME VALUE...", for the types rules use (s, u, i, t, b, as). */
static int format_rule_key(sd_bus_message *m, const char *key, const char *contents, void *userdata) {
        FILE *f = userdata;
        int r;

        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;
        fprintf(f, "key %s %s ", contents, key);
        if (streq(contents, "s")) {
                const char *s;
                r = sd_bus_message_read(m, "s", &s);
                if (r >= 0)
                        put_hex(f, s);
        } else if (streq(contents, "u")) {
                uint32_t u;
                r = sd_bus_message_read(m, "u", &u);
                fprintf(f, "%" PRIu32, u);
        } else if (streq(contents, "t")) {
                uint64_t t;
                r = sd_bus_message_read(m, "t", &t);
                fprintf(f, "%" PRIu64, t);
        } else if (streq(contents, "i")) {
                int32_t i;
                r = sd_bus_message_read(m, "i", &i);
                fprintf(f, "%" PRIi32, i);
        } else if (streq(contents, "b")) {
                int b;
                r = sd_bus_message_read(m, "b", &b);
                fprintf(f, "%i", !!b);
        } else if (streq(contents, "as")) {
                char **v = NULL;
                size_t n = 0;
                r = sd_bus_message_read_strv(m, &v);
                for (char **s = v; s && *s; s++)
                        n++;
                fprintf(f, "%zu", n);
                for (char **s = v; s && *s; s++) {
                        fputc(' ', f);
                        put_hex(f, *s);
                        free(*s);
                }
                free(v);
        } else
                r = -EINVAL;
        fputc('\n', f);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int persist_format_registration(const Listener *l, sd_bus *bus, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        /* The rules exactly as the D-Bus API carries them, so that reading them back goes through the same
         * validation as a registration. */
        r = sd_bus_message_new_method_call(bus, &m, NULL, "/", "org.sysbroker.State", "Rules");
        if (r >= 0)
                r = rule_set_append(m, l->rules);
        if (r >= 0)
                r = sd_bus_message_seal(m, 1, 0);
        if (r >= 0)
                r = sd_bus_message_rewind(m, true);
        if (r < 0)
                return r;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "id %" PRIu64 "\nowner-uid %u\naccount-uid %u\nowner-pid %i\nregistered-usec %" PRIu64
                "\ndefault-action %s\ndescription ",
                l->id, l->owner_uid, l->account_uid, (int) l->owner_pid, l->registered_usec,
                l->default_deny ? "deny" : "continue");
        put_hex(f, l->description);
        fputc('\n', f);
        /* Only when it is not the broker's: what an older daemon wrote and reads is unchanged, and one that
         * does not know the line refuses the state (drops the listener) rather than serve with the wrong root. */
        if (l->root) {
                fputs("root ", f);
                put_hex(f, l->root);
                fputc('\n', f);
        }

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        while (r >= 0 && (r = sd_bus_message_at_end(m, false)) == 0) {
                fputs("rule\n", f);
                r = bus_dict_foreach(m, format_rule_key, f);
                fputs("end\n", f);
        }
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(text);
        return 0;
}

/* A whole decimal token up to max: nothing a truncated or damaged line could make into another number. */
static int parse_number_token(const char *t, uint64_t max, uint64_t *ret) {
        char *end;
        uint64_t v;

        if (!t || !(*t >= '0' && *t <= '9'))
                return -EINVAL;
        errno = 0;
        v = strtoull(t, &end, 10);
        if (errno != 0 || *end != 0 || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Appends "key TYPE NAME VALUE..." (tokens, split in place) to m as one {sv} entry. */
static int parse_rule_key(sd_bus_message *m, char **tokens, size_t n) {
        _cleanup_free_ char *s = NULL;
        const char *type = tokens[1], *name = tokens[2];
        uint64_t v;
        int r;

        if (n < 4)
                return -EINVAL;
        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', type);
        if (r < 0)
                return r;
        if (streq(type, "s")) {
                s = get_hex(tokens[3]);
                r = s ? sd_bus_message_append(m, "s", s) : -EINVAL;
        } else if (streq(type, "u")) {
                r = parse_number_token(tokens[3], UINT32_MAX, &v);
                if (r >= 0)
                        r = sd_bus_message_append(m, "u", (uint32_t) v);
        } else if (streq(type, "t")) {
                r = parse_number_token(tokens[3], UINT64_MAX, &v);
                if (r >= 0)
                        r = sd_bus_message_append(m, "t", v);
        } else if (streq(type, "i")) {
                bool negative = tokens[3][0] == '-';

                r = parse_number_token(tokens[3] + negative, negative ? (uint64_t) INT32_MAX + 1 : INT32_MAX, &v);
                if (r >= 0)
                        r = sd_bus_message_append(m, "i", (int32_t) (negative ? -(int64_t) v : (int64_t) v));
        } else if (streq(type, "b") && (streq(tokens[3], "0") || streq(tokens[3], "1")))
                r = sd_bus_message_append(m, "b", (int) streq(tokens[3], "1"));
        else if (streq(type, "as")) {
                if (parse_number_token(tokens[3], RULE_STRV_MAX, &v) < 0 || v != n - 4)
                        return -EINVAL;
                size_t k = (size_t) v;
                r = sd_bus_message_open_container(m, 'a', "s");
                for (size_t i = 0; r >= 0 && i < k; i++) {
                        _cleanup_free_ char *e = get_hex(tokens[4 + i]);
                        r = e ? sd_bus_message_append(m, "s", e) : -EINVAL;
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        } else
                r = -EINVAL;
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

/* Header lines of the state, each at most once. */
enum {
        SEEN_ID             = 1 << 0,
        SEEN_OWNER_UID      = 1 << 1,
        SEEN_DEFAULT_ACTION = 1 << 2,
        SEEN_ACCOUNT_UID    = 1 << 3,
        SEEN_OWNER_PID      = 1 << 4,
        SEEN_DESCRIPTION    = 1 << 5,
        SEEN_ROOT           = 1 << 6,
        SEEN_REGISTERED     = 1 << 7,
        SEEN_REQUIRED       = SEEN_ID | SEEN_OWNER_UID | SEEN_DEFAULT_ACTION,
};

static int parse_header_line(char **tokens, size_t n, const RuleLimits *limits, unsigned *seen,
                             PersistedListener *p) {
        static const struct {
                const char *key;
                unsigned bit;
        } keys[] = {
                { "id",             SEEN_ID },
                { "owner-uid",      SEEN_OWNER_UID },
                { "account-uid",    SEEN_ACCOUNT_UID },
                { "owner-pid",      SEEN_OWNER_PID },
                { "default-action", SEEN_DEFAULT_ACTION },
                { "description",    SEEN_DESCRIPTION },
                { "root",           SEEN_ROOT },
                { "registered-usec", SEEN_REGISTERED },
        };
        uint64_t v = 0;
        unsigned bit = 0;
        int r = 0;

        for (size_t i = 0; i < ELEMENTSOF(keys) && !bit; i++)
                if (streq(tokens[0], keys[i].key))
                        bit = keys[i].bit;
        if (!bit || n != 2 || (*seen & bit))
                return -EINVAL;
        *seen |= bit;

        switch (bit) {
        case SEEN_ID:
                /* Not 0, and not the last id: the next one would wrap around to 0. */
                r = parse_number_token(tokens[1], UINT64_MAX - 1, &v);
                if (r >= 0 && v == 0)
                        r = -EINVAL;
                p->id = v;
                break;
        case SEEN_OWNER_UID:
        case SEEN_ACCOUNT_UID:
                /* (uid_t) -1 is no uid. */
                r = parse_number_token(tokens[1], UINT32_MAX - 1, &v);
                if (bit == SEEN_OWNER_UID)
                        p->owner_uid = (uid_t) v;
                else
                        p->account_uid = (uid_t) v;
                break;
        case SEEN_OWNER_PID:
                r = parse_number_token(tokens[1], INT32_MAX, &v);
                p->owner_pid = (pid_t) v;
                break;
        case SEEN_REGISTERED:
                r = parse_number_token(tokens[1], UINT64_MAX - 1, &v);
                p->registered_usec = v;
                break;
        case SEEN_DEFAULT_ACTION:
                if (streq(tokens[1], "deny"))
                        p->default_deny = true;
                else if (!streq(tokens[1], "continue"))
                        r = -EINVAL;
                break;
        case SEEN_DESCRIPTION:
                p->description = get_hex(tokens[1]);
                /* What ListListeners sends must be a D-Bus string, or the call fails for everyone. */
                if (!p->description || strlen(p->description) > limits->max_string_length ||
                    !utf8_is_valid(p->description))
                        r = -EINVAL;
                break;
        case SEEN_ROOT:
                /* Checked again when it is opened (listener_new()): absolute, no "..", safe on the way. */
                p->root = get_hex(tokens[1]);
                if (!p->root || p->root[0] != '/' || strlen(p->root) >= PATH_MAX)
                        r = -EINVAL;
                break;
        }
        return r;
}

int persist_parse(const char *text, sd_bus *bus, const RuleLimits *limits, PersistedListener *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *copy = strdup(text), *error = NULL;
        PersistedListener p = { .owner_pid = 0 };
        unsigned seen = 0;
        bool in_rule = false;
        int r;

        if (!copy)
                return -ENOMEM;
        r = sd_bus_message_new_method_call(bus, &m, NULL, "/", "org.sysbroker.State", "Rules");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;

        for (char *line = copy, *next; r >= 0 && line && *line; line = next) {
                char *tokens[4 + RULE_STRV_MAX + 1];
                size_t n = 0;

                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                char *save = NULL;
                for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
                        if (n >= ELEMENTSOF(tokens)) {
                                r = -EINVAL;
                                break;
                        }
                        tokens[n++] = t;
                }
                if (r < 0 || n == 0)
                        continue;

                /* Where the text ends, as the line says it does; anything after it is left over from a longer
                 * text written before (see persist_write()). A state without it is read to its end. */
                if (streq(tokens[0], "end-of-state") && !in_rule) {
                        uint64_t at;

                        if (n != 2 || parse_number_token(tokens[1], SIZE_MAX, &at) < 0 || at != (size_t) (line - copy))
                                r = -EINVAL;
                        break;
                }
                if (streq(tokens[0], "rule") && !in_rule) {
                        r = sd_bus_message_open_container(m, 'a', "{sv}");
                        in_rule = true;
                } else if (streq(tokens[0], "end") && in_rule) {
                        r = sd_bus_message_close_container(m);
                        in_rule = false;
                } else if (streq(tokens[0], "key") && in_rule)
                        r = parse_rule_key(m, tokens, n);
                else if (in_rule)
                        r = -EINVAL;
                else if (streq(tokens[0], "mount") && (n == 4 || n == 5)) {
                        uint64_t mnt_id, rule_index, kept_flags, mntns_id = 0;

                        if (p.n_mounts >= LISTENER_MOUNTS_MAX)
                                r = -E2BIG;
                        else if (parse_number_token(tokens[1], UINT64_MAX, &mnt_id) < 0 ||
                                 parse_number_token(tokens[2], limits->max_rules, &rule_index) < 0 ||
                                 parse_number_token(tokens[3], ULONG_MAX, &kept_flags) < 0 ||
                                 (n == 5 && parse_number_token(tokens[4], UINT64_MAX, &mntns_id) < 0))
                                r = -EINVAL;
                        else
                                p.mounts[p.n_mounts++] = (ListenerMount) {
                                        .mnt_id = mnt_id,
                                        .rule_index = (size_t) rule_index,
                                        .kept_flags = (unsigned long) kept_flags & MOUNT_FLAGS_NAMED,
                                        .mntns_id = mntns_id,
                                };
                } else
                        r = parse_header_line(tokens, n, limits, &seen, &p);
        }
        if (r >= 0 && (in_rule || (seen & SEEN_REQUIRED) != SEEN_REQUIRED))
                r = -EINVAL;
        /* Written by a version that did not record it: charged to the owner, as it then was. */
        if (r >= 0 && !(seen & SEEN_ACCOUNT_UID))
                p.account_uid = p.owner_uid;
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_seal(m, 1, 0);
        if (r >= 0)
                r = sd_bus_message_rewind(m, true);
        if (r >= 0)
                r = rule_set_parse(m, limits, &p.rules, &error);
        for (size_t i = 0; r >= 0 && i < p.n_mounts; i++)
                if (p.mounts[i].rule_index >= p.rules->n_rules ||
                    p.rules->rules[p.mounts[i].rule_index].syscall != RULE_SYSCALL_MOUNT)
                        r = -EINVAL;
        if (r < 0) {
                if (error)
                        log_warning("Stored listener state has invalid rules: %s", error);
                persisted_listener_done(&p);
                return r;
        }
        if (!p.description) {
                p.description = strdup("");
                if (!p.description) {
                        persisted_listener_done(&p);
                        return -ENOMEM;
                }
        }
        *ret = p;
        return 0;
}
