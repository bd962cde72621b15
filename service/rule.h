/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rules: what a listener's owner asked for, parsed from aa{sv}, validated, matched against decoded calls,
 * and described to polkit. A rule set is immutable once a listener exists, so threads read it unlocked. */
#pragma once

#include <stdint.h>
#include <sys/mount.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "macro.h"
#include "mount-flags.h"
#include "rule-names.h"

typedef struct Rule {
        RuleSyscall syscall;
        RuleAction action;
        int deny_errno;            /* positive; only for RULE_ACTION_DENY */
        char *path;                /* absolute pattern in the supervised process's view (mount: Target) */

        /* open and mknod: with a Path of "<prefix>" + slash-star-star, host_path is a directory mapping (host_dir): the
         * sandbox's "<prefix>/a/b" is the host's "<host_path>/a/b", resolved beneath host_path (open), and the
         * directory a node goes in must be the host's (mknod). Otherwise (open only) the literal file opened
         * for the literal path. */
        char *host_path;           /* in the broker's view */
        bool host_dir;

        /* mknod */
        char device_type;          /* 'c' or 'b' */
        uint32_t major, minor;
        mode_t max_mode;           /* permission bits the call may ask for */

        /* open */
        unsigned access;           /* RULE_ACCESS_* */
        bool create;               /* O_CREAT and O_TRUNC allowed */

        /* mount */
        char *fstype;
        RuleFsKind fs_kind;
        char *source;              /* pattern, or NULL: any (memory filesystems only) */
        unsigned long allowed_flags; /* MS_* the call may set */
        unsigned long forced_flags;  /* MS_* always applied */
        char **options;            /* patterns of data options, NULL-terminated (or NULL) */
        size_t n_options;
        uint64_t max_size;         /* tmpfs: the most size=/nr_blocks= may ask for, in bytes; 0: unbounded */
} Rule;

typedef struct RuleLimits {
        size_t max_rules;
        size_t max_string_length;
        size_t max_total_length;   /* of all the strings of one listener's rules together */
        bool restoring;            /* rules an earlier daemon accepted: what it let through stays */
} RuleLimits;

typedef struct RuleSet {
        Rule *rules;
        size_t n_rules;
        uint64_t syscalls;         /* bit per RuleSyscall that some rule names */
} RuleSet;

RuleSet *rule_set_free(RuleSet *set);
DEFINE_TRIVIAL_CLEANUP_FUNC(RuleSet *, rule_set_free);

/* Reads aa{sv} from m. On invalid input returns -EINVAL with ret_error set to a message naming the rule
 * index and key (for org.sysbroker.Broker1.Error.InvalidRule), or -E2BIG when over max_rules. */
int rule_set_parse(sd_bus_message *m, const RuleLimits *limits, RuleSet **ret, char **ret_error);

/* The D-Bus signature of a rule key ("s", "u", "as", …), NULL for a key rules do not have: for readers that
 * translate another encoding (the OCI metadata's JSON) into the aa{sv} that rule_set_parse() validates. */
const char *rule_key_signature(const char *key);

/* Appends the rule set as aa{sv}, with every default filled in. */
int rule_set_append(sd_bus_message *reply, const RuleSet *set);

/* fnmatch(FNM_PATHNAME); a pattern ending in slash-star-star matches anything below that directory. */
bool rule_path_matches(const char *pattern, const char *path);

/* The device fields of a mknod call, before any memory of the target is read. */
bool rule_mknod_device_matches(const Rule *r, mode_t mode, uint32_t major, uint32_t minor);
const Rule *rule_set_find_mknod_device(const RuleSet *set, mode_t mode, uint32_t major, uint32_t minor);
const Rule *rule_set_match_mknod(const RuleSet *set, const char *path, mode_t mode, uint32_t major, uint32_t minor);

/* What an open(2) asks for, from its flags: access bits, and whether it creates or truncates. */
typedef struct OpenRequest {
        unsigned access;
        bool create;
        bool special;              /* the file reached is a FIFO, socket or device node */
} OpenRequest;
/* The first rule, in order, that applies: a HostPath rule to the path as the process named it (made
 * absolute, not resolved: it need not exist in the process's view), any other to the path resolution
 * reached (deny and continue rules to the name when resolution reached nothing); each with what the call
 * asks of that file. Either path may be NULL (not known). A name may hold ".." components only for
 * directory mappings, which resolve them beneath their directory: no other rule matches such a name. */
const Rule *rule_set_match_open(const RuleSet *set, const char *as_named, const OpenRequest *named_req,
                                const char *resolved, const OpenRequest *resolved_req);
bool rule_set_has_open_host(const RuleSet *set);
bool rule_set_has_open_mapping(const RuleSet *set);
/* For a directory mapping (host_dir) and a path below its prefix, the rest of the path after the prefix and
 * its '/' (never empty); NULL if the path is not below it. */
const char *rule_mapped_relative(const Rule *r, const char *path);

/* The first mount rule for this kind of mount whose Target matches the resolved target and whose Source
 * matches: for binds and block filesystems the resolved source path, for memory filesystems the name. */
const Rule *rule_set_match_mount(const RuleSet *set, const char *fstype, const char *source,
                                 const char *target);
/* A data option no Options pattern of r matches, or NULL if all do. options is modified (split at ','). */
const char *rule_mount_option_refused(const Rule *r, char *options, const char **ret_why);
/* Whether the data options keep a tmpfs within the rule's MaxSize: NULL if so (or the rule has none), else the
 * offending option (or "" if none said a size) with why in *ret_why. A remount without a size keeps the
 * mount's, which was checked when it was made. */
const char *rule_mount_size_refused(const Rule *r, char *options, bool remount, const char **ret_why);

/* The polkit action that authorizes a rule, and its details as NULL-terminated key/value pairs
 * (strings owned by the caller's buffer `buf`). NULL action: the rule grants nothing, no check needed. */
#define RULE_DETAILS_MAX 9
typedef struct RuleAuthorization {
        const char *action_id;
        const char *details[RULE_DETAILS_MAX * 2 + 1];
        char device[64];
        char mode[16];
        char access[4];
        char allowed_flags[128];
        char forced_flags[128];
        char max_size[24];
        char *options;             /* joined Options; freed by rule_authorization_done() */
} RuleAuthorization;
int rule_authorization(const Rule *r, RuleAuthorization *ret);
void rule_authorization_done(RuleAuthorization *a);

bool device_is_on_safe_list(char type, uint32_t major, uint32_t minor);
char *rule_describe(const Rule *r);
