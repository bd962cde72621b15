/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The listener state a restarted daemon reads back: what it takes, and the damaged or forged lines it refuses
 * rather than read as something else (an owner of uid 0, another default action, a wrapped id). */

#include <systemd/sd-bus.h>

#include "persist.h"
#include "unit.h"

static const RuleLimits limits = { .max_rules = 16, .max_string_length = 4096, .max_total_length = SIZE_MAX,
                                   .restoring = true };

/* One mknod rule for c 1:3 at /dev/null, as the state writes it (strings in hex). */
#define RULE_LINES                                                                                  \
        "rule\n"                                                                                    \
        "key s Syscall 6d6b6e6f64\n"                                                                \
        "key s Path 2f6465762f6e756c6c\n"                                                           \
        "key u Major 1\n"                                                                           \
        "key u Minor 3\n"                                                                           \
        "end\n"

/* A tmpfs mount rule (index 1 after RULE_LINES) and an open rule that may create (index 2). */
#define MOUNT_RULE_LINES                                                                            \
        "rule\n"                                                                                    \
        "key s Syscall 6d6f756e74\n"                                                                \
        "key s FsType 746d706673\n"                                                                 \
        "key s Target 2f6d6e742f78\n"                                                               \
        "key t MaxSize 1048576\n"                                                                   \
        "end\n"
#define OPEN_RULE_LINES(create)                                                                     \
        "rule\n"                                                                                    \
        "key s Syscall 6f70656e\n"                                                                  \
        "key s Path 2f746d702f78\n"                                                                 \
        "key b Create " create "\n"                                                                 \
        "end\n"
#define ALL_RULES(create) RULE_LINES MOUNT_RULE_LINES OPEN_RULE_LINES(create)

#define HEADER_LINES                                                                                \
        "id 7\n"                                                                                    \
        "owner-uid 1000\n"                                                                          \
        "account-uid 1001\n"                                                                        \
        "owner-pid 42\n"                                                                            \
        "registered-usec 1700000000000000\n"                                                        \
        "default-action deny\n"                                                                     \
        "description 766d\n"

static int parse(const char *text, PersistedListener *ret) {
        return persist_parse(text, unit_test_bus(), &limits, ret);
}

static void test_valid_state_is_read(void) {
        PersistedListener p = {};

        CHECK(parse(HEADER_LINES RULE_LINES, &p) == 0);
        CHECK(p.id == 7);
        CHECK(p.owner_uid == 1000);
        CHECK(p.account_uid == 1001);
        CHECK(p.owner_pid == 42);
        CHECK(p.registered_usec == UINT64_C(1700000000000000));
        CHECK(p.default_deny);
        CHECK_STREQ(p.description, "vm");
        CHECK(p.rules && p.rules->n_rules == 1);
        /* A state without a root line (every one written before there were roots): the broker's. */
        CHECK(!p.root);
        persisted_listener_done(&p);
}

/* A state written before the account uid was recorded charges the owner, as that daemon did. */
static void test_account_uid_defaults_to_owner(void) {
        PersistedListener p = {};

        CHECK(parse("id 7\nowner-uid 1000\ndefault-action continue\n" RULE_LINES, &p) == 0);
        CHECK(p.account_uid == 1000);
        CHECK(p.registered_usec == 0); /* a state from before registered-usec: listener_new() takes now */
        CHECK(!p.default_deny);
        CHECK_STREQ(p.description, "");
        persisted_listener_done(&p);
}

static void expect_refused(const char *text) {
        PersistedListener p = {};
        int r = parse(text, &p);

        if (r != -EINVAL && r != -E2BIG) {
                fprintf(stderr, "# accepted (%d): %s\n", r, text);
                unit_failed = 1;
        }
        persisted_listener_done(&p);
}

static void test_damaged_header_lines_are_refused(void) {
        /* Read loosely, each of these was a valid state with another meaning. */
        expect_refused("id 7\nowner-uid x\ndefault-action continue\n" RULE_LINES);          /* root */
        expect_refused("id 7\nowner-uid 4294967296\ndefault-action continue\n" RULE_LINES); /* root */
        expect_refused("id 7\nowner-uid 10x0\ndefault-action continue\n" RULE_LINES);       /* uid 10 */
        expect_refused("id 7\nowner-uid 4294967295\ndefault-action continue\n" RULE_LINES); /* no uid */
        expect_refused("id 7\nowner-uid -1\ndefault-action continue\n" RULE_LINES);
        expect_refused("id 7\nowner-uid 1000\ndefault-action den\n" RULE_LINES);            /* continue */
        expect_refused("id 18446744073709551615\nowner-uid 1000\ndefault-action deny\n" RULE_LINES);
        expect_refused("id 0\nowner-uid 1000\ndefault-action deny\n" RULE_LINES);
        expect_refused("id 7\nowner-uid 1000\naccount-uid 1000x\ndefault-action deny\n" RULE_LINES);
        expect_refused("id 7\nowner-uid 1000\nowner-pid 2147483648\ndefault-action deny\n" RULE_LINES);
        expect_refused("id 7\nowner-uid 1000\nregistered-usec 12a\ndefault-action deny\n" RULE_LINES);
        /* Each key once: a leftover of a longer text must not win. */
        expect_refused("id 7\nowner-uid 1000\nowner-uid 0\ndefault-action deny\n" RULE_LINES);
        expect_refused("id 7\nowner-uid 1000\ndefault-action deny\ndefault-action continue\n" RULE_LINES);
        expect_refused("id 7\nowner-uid 1000\ndefault-action deny\nid 8\n" RULE_LINES);
        /* A key without its value, or with one more. */
        expect_refused("id 7\nowner-uid\ndefault-action deny\n" RULE_LINES);
        expect_refused("id 7\nowner-uid 1000 0\ndefault-action deny\n" RULE_LINES);
        /* ListListeners sends descriptions as D-Bus strings: one that is not UTF-8 would fail it for all. */
        expect_refused("id 7\nowner-uid 1000\ndefault-action deny\ndescription ff\n" RULE_LINES);
        expect_refused("id 7\nowner-uid 1000\ndefault-action deny\ndescription 7\n" RULE_LINES);
        /* A root is absolute, once. */
        expect_refused("id 7\nowner-uid 1000\ndefault-action deny\nroot 7372\n" RULE_LINES);     /* "sr" */
        expect_refused("id 7\nowner-uid 1000\ndefault-action deny\nroot -\n" RULE_LINES);        /* "" */
        expect_refused("id 7\nowner-uid 1000\ndefault-action deny\nroot 2f\nroot 2f61\n" RULE_LINES);
        /* Required lines. */
        expect_refused("owner-uid 1000\ndefault-action deny\n" RULE_LINES);
        expect_refused("id 7\ndefault-action deny\n" RULE_LINES);
        expect_refused("id 7\nowner-uid 1000\n" RULE_LINES);
}

/* The lines the damaged cases below start from, valid as they are. */
static void test_mount_and_open_rules_are_read(void) {
        PersistedListener p = {};

        CHECK(parse(HEADER_LINES ALL_RULES("1") "mount 12 1 0\nmount 13 1 1 4026531840\n", &p) == 0);
        CHECK(p.rules && p.rules->n_rules == 3);
        CHECK(p.rules && p.rules->n_rules == 3 && p.rules->rules[1].max_size == 1048576);
        CHECK(p.n_mounts == 2);
        CHECK(p.mounts[0].mnt_id == 12 && p.mounts[0].rule_index == 1 && p.mounts[0].mntns_id == 0);
        CHECK(p.mounts[1].mnt_id == 13 && p.mounts[1].kept_flags == 1 && p.mounts[1].mntns_id == 4026531840u);
        persisted_listener_done(&p);
}

static void test_damaged_rule_and_mount_lines_are_refused(void) {
        /* A bool is 0 or 1. */
        expect_refused(HEADER_LINES ALL_RULES("2"));
        expect_refused(HEADER_LINES ALL_RULES("1x"));
        /* Of a mount line, every number whole. */
        expect_refused(HEADER_LINES ALL_RULES("1") "mount 12x 1 0\n");
        expect_refused(HEADER_LINES ALL_RULES("1") "mount 12 1x 0\n");
        expect_refused(HEADER_LINES ALL_RULES("1") "mount 12 1 0x\n");
        expect_refused(HEADER_LINES ALL_RULES("1") "mount 12 1 0 40265x\n");
        expect_refused(HEADER_LINES ALL_RULES("1") "mount 12 1 0 1 2\n");
        /* Hex strings are two digits per byte: a sign or a space (which sscanf takes) is no digit. */
        expect_refused("id 7\nowner-uid 1000\ndefault-action deny\ndescription +1\n" RULE_LINES);
        expect_refused("id 7\nowner-uid 1000\ndefault-action deny\ndescription -1\n" RULE_LINES);
        expect_refused("id 7\nowner-uid 1000\ndefault-action deny\ndescription 7g\n" RULE_LINES);
        /* A number cut short or run into garbage is not another number. */
        expect_refused(HEADER_LINES "rule\nkey s Syscall 6d6b6e6f64\nkey s Path 2f6465762f6e756c6c\n"
                       "key u Major 4294967297\nkey u Minor 3\nend\n");
        expect_refused(HEADER_LINES "rule\nkey s Syscall 6d6b6e6f64\nkey s Path 2f6465762f6e756c6c\n"
                       "key u Major 1x\nkey u Minor 3\nend\n");
        expect_refused(HEADER_LINES "rule\nkey s Syscall 6d6b6e6f64\nkey s Path 2f6465762f6e756c6c\n"
                       "key u Major 1\nkey u Minor 3\nkey b Create 2\nend\n");
        expect_refused(HEADER_LINES "rule\nkey s Syscall 6d6f756e74\nkey s FsType 746d706673\n"
                       "key s Target 2f6d6e742f78\nkey t MaxSize 18446744073709551616\nend\n");
        expect_refused(HEADER_LINES "rule\nkey s Syscall 6d6f756e74\nkey s FsType 746d706673\n"
                       "key s Target 2f6d6e742f78\nkey t MaxSize -1\nend\n");
        expect_refused(HEADER_LINES RULE_LINES "mount 12 0 0\n");      /* rule 0 is no mount rule */
        expect_refused(HEADER_LINES RULE_LINES "rule\n");              /* cut off inside a rule */
}

/* A crash between writing a shorter text over a longer one and cutting the file leaves the longer one's end
 * behind the new end line: it is ignored. An end line at another place than its own is damage. */
static void test_text_ends_where_it_says(void) {
        const char *text = HEADER_LINES ALL_RULES("1") "mount 12 1 0\n";
        _cleanup_free_ char *torn = NULL, *misplaced = NULL;
        PersistedListener p = {};

        CHECK(asprintf(&torn, "%send-of-state %zu\n2 1 0\nmount 13 1 0\nmount 14 1 0\nend-of-state 999\n", text,
                       strlen(text)) > 0);
        CHECK(parse(torn, &p) == 0);
        CHECK(p.n_mounts == 1);
        persisted_listener_done(&p);

        CHECK(asprintf(&misplaced, "%send-of-state %zu\n", text, strlen(text) - 1) > 0);
        expect_refused(misplaced);
}

/* What this daemon writes, its successor reads back as it was. */
static void test_registration_round_trips(void) {
        PersistedListener read_back = {}, p = {};
        _cleanup_free_ char *text = NULL;

        /* The rules as a restore would have them, through the same text. */
        CHECK(parse("id 9\nowner-uid 1000\ndefault-action deny\n" ALL_RULES("1"), &p) == 0);
        if (!p.rules)
                return;
        Listener l = { .id = 9, .owner_uid = 1000, .account_uid = 1001, .owner_pid = 77,
                       .registered_usec = 1234567, .default_deny = false,
                       .description = (char *) "-", .rules = p.rules };
        CHECK(persist_format_registration(&l, unit_test_bus(), &text) == 0);
        CHECK(text && parse(text, &read_back) == 0);
        CHECK(read_back.id == 9 && read_back.owner_uid == 1000 && read_back.account_uid == 1001);
        CHECK(read_back.owner_pid == 77 && !read_back.default_deny);
        CHECK(read_back.registered_usec == 1234567);
        CHECK_STREQ(read_back.description, "-");
        CHECK(!read_back.root);
        CHECK(text && !strstr(text, "root "));
        CHECK(read_back.rules && read_back.rules->n_rules == 3);
        if (read_back.rules && read_back.rules->n_rules == 3) {
                CHECK(read_back.rules->rules[1].max_size == 1048576);
                CHECK_STREQ(read_back.rules->rules[2].path, "/tmp/x");
                CHECK(read_back.rules->rules[2].create);
        }
        persisted_listener_done(&read_back);

        /* A listener whose "/" is another directory keeps it across a restart. */
        l.root = (char *) "/var/lib/machines/c 1";
        text = mfree_ptr(text);
        CHECK(persist_format_registration(&l, unit_test_bus(), &text) == 0);
        CHECK(text && parse(text, &read_back) == 0);
        CHECK(read_back.root && streq(read_back.root, "/var/lib/machines/c 1"));
        persisted_listener_done(&read_back);
        persisted_listener_done(&p);
}

UNIT_MAIN(
        T(test_valid_state_is_read),
        T(test_mount_and_open_rules_are_read),
        T(test_registration_round_trips),
        T(test_text_ends_where_it_says),
        T(test_account_uid_defaults_to_owner),
        T(test_damaged_header_lines_are_refused),
        T(test_damaged_rule_and_mount_lines_are_refused),
)
