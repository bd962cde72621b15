/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rule set a launcher builds: generic rules of typed keys (strings, numbers, booleans, string lists),
 * per-syscall helpers that check what is obviously wrong, and the encoding into RegisterListener()'s
 * "aa{sv} a{sv}". */

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>

#include "macro.h"
#include "mount-flags.h"
#include "sysbroker-internal.h"

/* How much of a spec an error message quotes. */
#define SPEC_QUOTE_MAX 128U
/* Enough for the biggest rule kind (mount: FsType, Source, Target, three flag/option lists). */
#define RULE_KEYS_MAX 12

typedef enum KeyType {
        KEY_STRING,
        KEY_UINT32,
        KEY_UINT64,
        KEY_BOOL,
        KEY_STRV,
} KeyType;

typedef struct RuleKey {
        const char *name; /* always a literal */
        KeyType type;
        union {
                char *string;
                uint32_t uint32;
                uint64_t uint64;
                bool boolean;
                char **strv;
        };
} RuleKey;

typedef struct Rule {
        RuleSyscall syscall;
        sysbroker_action action;
        int error; /* 0: the daemon's default (EPERM) */
        RuleKey keys[RULE_KEYS_MAX];
        size_t n_keys;
} Rule;

struct sysbroker_rules {
        Rule *rules;
        size_t n_rules;
        char *description;
        sysbroker_action default_action;
        bool default_action_set;
        char error[512];
};

/* The public enums are the contract's, under the API's names: the strings come from one table. */
_Static_assert((int) SYSBROKER_ACTION_EMULATE == RULE_ACTION_EMULATE &&
               (int) SYSBROKER_ACTION_DENY == RULE_ACTION_DENY &&
               (int) SYSBROKER_ACTION_CONTINUE == RULE_ACTION_CONTINUE, "sysbroker_action is RuleAction");
_Static_assert(SYSBROKER_ACCESS_READ == RULE_ACCESS_READ && SYSBROKER_ACCESS_WRITE == RULE_ACCESS_WRITE,
               "sysbroker_access is the RULE_ACCESS_* bits");

const char *sysbroker_action_to_string(sysbroker_action action) {
        return rule_action_to_string((RuleAction) action);
}

int sysbroker_action_from_string(const char *s, sysbroker_action *ret) {
        RuleAction a;

        if (!s)
                return -EINVAL;
        a = rule_action_from_string(s);
        if (a < 0)
                return -EINVAL;
        if (ret)
                *ret = (sysbroker_action) a;
        return 0;
}

const char *sysbroker_access_to_string(sysbroker_access access) {
        return rule_access_to_string((unsigned) access);
}

int sysbroker_access_from_string(const char *s, sysbroker_access *ret) {
        unsigned a;

        if (!s)
                return -EINVAL;
        a = rule_access_from_string(s);
        if (a == 0)
                return -EINVAL;
        if (ret)
                *ret = (sysbroker_access) a;
        return 0;
}

static void rule_key_done(RuleKey *k) {
        switch (k->type) {
        case KEY_STRING:
                free(k->string);
                break;
        case KEY_STRV:
                if (k->strv)
                        for (char **s = k->strv; *s; s++)
                                free(*s);
                free(k->strv);
                break;
        case KEY_UINT32:
        case KEY_UINT64:
        case KEY_BOOL:
                break;
        }
}

static void rule_done(Rule *rule) {
        for (size_t i = 0; i < rule->n_keys; i++)
                rule_key_done(&rule->keys[i]);
        rule->n_keys = 0;
}

static char **strv_copy(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;

        char **c = calloc(n + 1, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[i] = strdup(l[i]);
                if (!c[i]) {
                        while (i > 0)
                                free(c[--i]);
                        free(c);
                        return NULL;
                }
        }
        return c;
}

/* Deep copy, so the caller's strings may go away after the call. */
static int rule_key_copy(const RuleKey *from, RuleKey *to) {
        *to = (RuleKey) { .name = from->name, .type = from->type };

        switch (from->type) {
        case KEY_STRING:
                to->string = strdup(from->string);
                if (!to->string)
                        return -ENOMEM;
                break;
        case KEY_STRV:
                to->strv = strv_copy(from->strv);
                if (!to->strv)
                        return -ENOMEM;
                break;
        case KEY_UINT32:
                to->uint32 = from->uint32;
                break;
        case KEY_UINT64:
                to->uint64 = from->uint64;
                break;
        case KEY_BOOL:
                to->boolean = from->boolean;
                break;
        }
        return 0;
}

int sysbroker_rules_new(sysbroker_rules **ret) {
        if (!ret)
                return -EINVAL;

        sysbroker_rules *rules = calloc(1, sizeof(sysbroker_rules));
        if (!rules)
                return -ENOMEM;

        *ret = rules;
        return 0;
}

sysbroker_rules *sysbroker_rules_free(sysbroker_rules *rules) {
        if (!rules)
                return NULL;

        for (size_t i = 0; i < rules->n_rules; i++)
                rule_done(&rules->rules[i]);
        free(rules->rules);
        free(rules->description);
        free(rules);
        return NULL;
}

size_t sysbroker_rules_count(const sysbroker_rules *rules) {
        return rules ? rules->n_rules : 0;
}

const char *sysbroker_rules_get_error(const sysbroker_rules *rules) {
        if (!rules || rules->error[0] == '\0')
                return NULL;
        return rules->error;
}

static int rules_fail(sysbroker_rules *rules, int error, const char *format, ...) _printf_(3, 4);
static int rules_fail(sysbroker_rules *rules, int error, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(rules->error, sizeof rules->error, format, ap);
        va_end(ap);
        return error;
}

static void rules_clear_error(sysbroker_rules *rules) {
        rules->error[0] = '\0';
}

/* Prefixes the error of a failed spec with the spec: a command line may carry many. */
static int rules_fail_spec(sysbroker_rules *rules, int error, const char *spec) {
        char detail[sizeof rules->error];

        if (rules->error[0] == '\0')
                return error;
        memcpy(detail, rules->error, sizeof detail);
        /* Enough of a long spec to recognize it; the reason after it must fit. */
        if (strlen(spec) > SPEC_QUOTE_MAX)
                return rules_fail(rules, error, "rule '%.*s...': %s", (int) SPEC_QUOTE_MAX - 3, spec, detail);
        return rules_fail(rules, error, "rule '%s': %s", spec, detail);
}

/* How every spec parser starts: no error left from before, and a copy of the spec to cut up. */
static int rules_spec_copy(sysbroker_rules *rules, const char *spec, const char *kind, char **ret) {
        rules_clear_error(rules);
        if (!spec)
                return rules_fail(rules, -EINVAL, "no %s rule given", kind);

        *ret = strdup(spec);
        return *ret ? 0 : -ENOMEM;
}

/* Whether some '/'-separated component of an absolute path is exactly name ("" for "//" or a trailing
 * '/'; the root "/" alone has none). */
static bool path_has_component(const char *path, const char *name) {
        size_t l = strlen(name);

        if (streq(path, "/"))
                return false;
        for (const char *p = path; *p == '/'; ) {
                const char *end = strchrnul(p + 1, '/');

                if ((size_t) (end - p - 1) == l && memcmp(p + 1, name, l) == 0)
                        return true;
                p = end;
        }
        return false;
}

/* What every string key must be for the daemon to take it. */
static int rules_check_string(sysbroker_rules *rules, const char *what, const char *s) {
        if (!s || s[0] == '\0')
                return rules_fail(rules, -EINVAL, "%s is empty", what);
        if (strlen(s) > RULE_STRING_MAX_DEFAULT)
                return rules_fail(rules, -ENAMETOOLONG, "%s is longer than %u bytes", what,
                                  RULE_STRING_MAX_DEFAULT);
        if (!utf8_is_valid(s))
                return rules_fail(rules, -EINVAL, "%s is not valid UTF-8", what);
        return 0;
}

static int rules_check_path(sysbroker_rules *rules, const char *what, const char *path) {
        int r;

        r = rules_check_string(rules, what, path);
        if (r < 0)
                return r;
        /* Patterns are matched against the path as the kernel resolves it, which is always absolute. */
        if (path[0] != '/')
                return rules_fail(rules, -EINVAL, "%s '%s' is not absolute", what, path);
        /* The daemon refuses these too; a pattern with them could never match a resolved path. */
        if (path_has_component(path, ".."))
                return rules_fail(rules, -EINVAL, "%s '%s' contains a '..' component", what, path);
        if (path_has_component(path, "."))
                return rules_fail(rules, -EINVAL, "%s '%s' contains a '.' component", what, path);
        if (path_has_component(path, ""))
                return rules_fail(rules, -EINVAL, "%s '%s' contains an empty component ('//' or a trailing '/')",
                                  what, path);
        return 0;
}

/* The generic adder every per-syscall helper ends in: copies the keys, so a kind of rule needs only a
 * helper that checks and names its keys. */
static int rules_add(sysbroker_rules *rules, RuleSyscall syscall, sysbroker_action action,
                     const RuleKey *keys, size_t n_keys) {
        if (!rule_syscall_to_string(syscall) || n_keys > RULE_KEYS_MAX)
                return -EINVAL;
        if (!sysbroker_action_to_string(action))
                return rules_fail(rules, -EINVAL, "unknown action %d", (int) action);
        if (rules->n_rules >= INT_MAX)
                return rules_fail(rules, -E2BIG, "too many rules");

        Rule *n = reallocarray(rules->rules, rules->n_rules + 1, sizeof(Rule));
        if (!n)
                return -ENOMEM;
        rules->rules = n;

        Rule *rule = &rules->rules[rules->n_rules];
        *rule = (Rule) { .syscall = syscall, .action = action };
        for (size_t i = 0; i < n_keys; i++) {
                int r = rule_key_copy(&keys[i], &rule->keys[i]);
                if (r < 0) {
                        rule_done(rule);
                        return r;
                }
                rule->n_keys++;
        }

        return (int) rules->n_rules++;
}

/* path is a directory mapping's: a literal directory followed by slash-star-star. */
static bool path_is_mapping(const char *path) {
        size_t l = strlen(path);
        _cleanup_free_ char *prefix = NULL;

        if (l < 3 || !streq(path + l - 3, "/**"))
                return false;
        prefix = strndup(path, l - 3);
        return prefix && rule_pattern_is_literal(prefix);
}

/* A HostPath as the daemon takes it: absolute, clean, literal. */
static int rules_check_host_path(sysbroker_rules *rules, const char *host_path) {
        int r;

        r = rules_check_path(rules, "host path", host_path);
        if (r < 0)
                return r;
        if (!rule_pattern_is_literal(host_path))
                return rules_fail(rules, -EINVAL, "host path '%s' is a pattern, not a literal path", host_path);
        return 0;
}

/* sysbroker_rules_add_mknod() with a directory mapping (host_dir, for a path "/DIR/" + "**"): not in the
 * library's interface yet, reached through the spec form "PATH=HOSTDIR". */
static int rules_add_mknod_full(
                sysbroker_rules *rules,
                sysbroker_action action,
                char type,
                uint32_t major,
                uint32_t minor,
                const char *path,
                uint32_t mode,
                const char *host_dir) {

        RuleKey keys[6];
        size_t n = 0;
        int r;

        if (!rules)
                return -EINVAL;
        rules_clear_error(rules);

        if (type != 'c' && type != 'b')
                return rules_fail(rules, -EINVAL, "device type '%c' is neither 'c' nor 'b'", type);
        if (major > RULE_MAJOR_MAX)
                return rules_fail(rules, -ERANGE, "major %" PRIu32 " is larger than %u", major,
                                  RULE_MAJOR_MAX);
        if (minor > RULE_MINOR_MAX)
                return rules_fail(rules, -ERANGE, "minor %" PRIu32 " is larger than %u", minor,
                                  RULE_MINOR_MAX);
        /* As the daemon: no set-user-ID, set-group-ID or sticky nodes. */
        if (mode != SYSBROKER_MODE_DEFAULT && (mode & ~0777U) != 0)
                return rules_fail(rules, -EINVAL, "mode %#" PRIo32 " has bits beyond 0777", mode);
        r = rules_check_path(rules, "path", path);
        if (r < 0)
                return r;

        keys[n++] = (RuleKey) { .name = "Path", .type = KEY_STRING, .string = (char *) path };
        keys[n++] = (RuleKey) { .name = "Type", .type = KEY_STRING, .string = type == 'b' ? "b" : "c" };
        keys[n++] = (RuleKey) { .name = "Major", .type = KEY_UINT32, .uint32 = major };
        keys[n++] = (RuleKey) { .name = "Minor", .type = KEY_UINT32, .uint32 = minor };
        if (mode != SYSBROKER_MODE_DEFAULT)
                keys[n++] = (RuleKey) { .name = "Mode", .type = KEY_UINT32, .uint32 = mode };
        if (host_dir) {
                r = rules_check_host_path(rules, host_dir);
                if (r < 0)
                        return r;
                if (!path_is_mapping(path))
                        return rules_fail(rules, -EINVAL, "path '%s': with a host directory it must be a literal "
                                          "directory followed by '/**'", path);
                keys[n++] = (RuleKey) { .name = "HostPath", .type = KEY_STRING, .string = (char *) host_dir };
        }

        return rules_add(rules, RULE_SYSCALL_MKNOD, action, keys, n);
}

int sysbroker_rules_add_mknod(
                sysbroker_rules *rules,
                sysbroker_action action,
                char type,
                uint32_t major,
                uint32_t minor,
                const char *path,
                uint32_t mode) {

        return rules_add_mknod_full(rules, action, type, major, minor, path, mode, NULL);
}

/* Digits only: strtoul() alone would take signs, spaces and "0x". */
static int parse_u32(const char *s, int base, uint32_t *ret) {
        char *end;

        if (!s || s[0] == '\0' || strspn(s, "0123456789") != strlen(s))
                return -EINVAL;
        if (base == 8 && strspn(s, "01234567") != strlen(s))
                return -EINVAL;

        errno = 0;
        unsigned long v = strtoul(s, &end, base);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        if (v > UINT32_MAX)
                return -ERANGE;

        *ret = (uint32_t) v;
        return 0;
}

int sysbroker_rules_add_mknod_spec(sysbroker_rules *rules, sysbroker_action action, const char *spec) {
        static const char separators[] = " \t";
        _cleanup_free_ char *copy = NULL;
        char *fields[5], *state = NULL;
        size_t n = 0;
        uint32_t major, minor, mode = SYSBROKER_MODE_DEFAULT;
        int r;

        if (!rules)
                return -EINVAL;
        r = rules_spec_copy(rules, spec, "mknod", &copy);
        if (r < 0)
                return r;

        for (char *f = strtok_r(copy, separators, &state); f; f = strtok_r(NULL, separators, &state)) {
                if (n >= ELEMENTSOF(fields))
                        break;
                fields[n++] = f;
        }
        if (n < 3 || n > 4)
                return rules_fail(rules, -EINVAL,
                                  "rule '%s' is not of the form 'TYPE MAJ:MIN PATH[=HOSTDIR] [MODE]'", spec);

        if (!streq(fields[0], "c") && !streq(fields[0], "b"))
                return rules_fail(rules, -EINVAL, "rule '%s': device type '%s' is neither 'c' nor 'b'",
                                  spec, fields[0]);

        char *colon = strchr(fields[1], ':');
        if (!colon)
                return rules_fail(rules, -EINVAL, "rule '%s': device '%s' is not of the form MAJ:MIN",
                                  spec, fields[1]);
        *colon = '\0';
        if (parse_u32(fields[1], 10, &major) < 0 || parse_u32(colon + 1, 10, &minor) < 0)
                return rules_fail(rules, -EINVAL, "rule '%s': device '%s:%s' is not of the form MAJ:MIN",
                                  spec, fields[1], colon + 1);

        /* (Also keeps a huge number from reading as SYSBROKER_MODE_DEFAULT.) */
        if (n == 4 && (parse_u32(fields[3], 8, &mode) < 0 || mode > 0777))
                return rules_fail(rules, -EINVAL, "rule '%s': mode '%s' is not an octal number up to 0777",
                                  spec, fields[3]);

        /* PATH ends at the first '=': a directory mapping's host directory follows. */
        char *host_dir = strchr(fields[2], '=');
        if (host_dir)
                *host_dir++ = '\0';

        r = rules_add_mknod_full(rules, action, fields[0][0], major, minor, fields[2], mode, host_dir);
        if (r < 0)
                return rules_fail_spec(rules, r, spec);
        return r;
}

int sysbroker_rules_add_open(
                sysbroker_rules *rules,
                sysbroker_action action,
                const char *path,
                sysbroker_access access,
                bool create,
                const char *host_path) {

        RuleKey keys[4];
        size_t n = 0;
        int r;

        if (!rules)
                return -EINVAL;
        rules_clear_error(rules);

        if (!sysbroker_access_to_string(access))
                return rules_fail(rules, -EINVAL, "access %d is not one of r, w, rw", (int) access);
        r = rules_check_path(rules, "path", path);
        if (r < 0)
                return r;
        if (host_path) {
                r = rules_check_host_path(rules, host_path);
                if (r < 0)
                        return r;
                /* The process names a file it may not see: there is nothing to match a pattern against, but
                 * a directory mapping's prefix. */
                if (!rule_pattern_is_literal(path) && !path_is_mapping(path))
                        return rules_fail(rules, -EINVAL,
                                          "path '%s' is a pattern; with a host path it must be a literal path, "
                                          "or a literal directory followed by '/**'", path);
                if (create)
                        return rules_fail(rules, -EINVAL, "a rule with a host path cannot create files");
        }

        keys[n++] = (RuleKey) { .name = "Path", .type = KEY_STRING, .string = (char *) path };
        keys[n++] = (RuleKey) { .name = "Access", .type = KEY_STRING,
                                .string = (char *) sysbroker_access_to_string(access) };
        keys[n++] = (RuleKey) { .name = "Create", .type = KEY_BOOL, .boolean = create };
        if (host_path)
                keys[n++] = (RuleKey) { .name = "HostPath", .type = KEY_STRING, .string = (char *) host_path };

        return rules_add(rules, RULE_SYSCALL_OPEN, action, keys, n);
}

/* Cuts ":r", ":w" or ":rw" off the end of s, if it is there. */
static void strip_access_suffix(char *s, sysbroker_access *access) {
        char *colon = strrchr(s, ':');

        if (colon && sysbroker_access_from_string(colon + 1, access) >= 0)
                *colon = '\0';
}

int sysbroker_rules_add_open_spec(sysbroker_rules *rules, sysbroker_action action, const char *spec) {
        _cleanup_free_ char *copy = NULL;
        sysbroker_access access = SYSBROKER_ACCESS_READ;
        bool create = false;
        char *colon;
        int r;

        if (!rules)
                return -EINVAL;
        r = rules_spec_copy(rules, spec, "open", &copy);
        if (r < 0)
                return r;

        /* From the end: paths may hold colons (/dev/disk/by-path/pci-0000:00:1f.2-ata-1). */
        colon = strrchr(copy, ':');
        if (colon && streq(colon + 1, "create")) {
                create = true;
                *colon = '\0';
        }
        strip_access_suffix(copy, &access);
        /* "PATH:create:rw" would otherwise quietly become a rule for a file called "PATH:create", and so would
         * "PATH:create:create". */
        if (endswith(copy, ":create"))
                return rules_fail(rules, -EINVAL,
                                  "rule '%s' is not of the form 'PATH[:r|w|rw][:create]': "
                                  "':create' must come last, and a PATH may not end in it", spec);

        r = sysbroker_rules_add_open(rules, action, copy, access, create, NULL);
        if (r < 0)
                return rules_fail_spec(rules, r, spec);
        return r;
}

int sysbroker_rules_add_open_host_spec(sysbroker_rules *rules, sysbroker_action action, const char *spec) {
        _cleanup_free_ char *copy = NULL;
        sysbroker_access access = SYSBROKER_ACCESS_READ;
        char *host;
        int r;

        if (!rules)
                return -EINVAL;
        r = rules_spec_copy(rules, spec, "open", &copy);
        if (r < 0)
                return r;

        host = strchr(copy, '=');
        if (!host)
                return rules_fail(rules, -EINVAL, "rule '%s' is not of the form 'PATH=HOSTPATH[:r|w|rw]'", spec);
        *host++ = '\0';

        strip_access_suffix(host, &access);
        if (endswith(host, ":create"))
                return rules_fail(rules, -EINVAL, "rule '%s': a rule with a host path cannot create files", spec);

        r = sysbroker_rules_add_open(rules, action, copy, access, false, host);
        if (r < 0)
                return rules_fail_spec(rules, r, spec);
        return r;
}

static int rules_check_mount_flags(sysbroker_rules *rules, const char *const *flags, bool forced) {
        char names[256];

        for (size_t i = 0; flags && flags[i]; i++) {
                const MountFlagName *f = mount_flag_lookup(flags[i]);

                if (!f || (forced && !f->forcible))
                        return rules_fail(rules, -EINVAL, "%s flag '%s' is not one of %s",
                                          forced ? "forced" : "allowed", flags[i],
                                          mount_flag_list(forced, names, sizeof names));
        }
        return 0;
}

int sysbroker_rules_add_mount(
                sysbroker_rules *rules,
                sysbroker_action action,
                const char *fstype,
                const char *source,
                const char *target,
                const char *const *allowed_flags,
                const char *const *forced_flags,
                const char *const *options) {

        static char *const none[] = { NULL };
        RuleKey keys[6];
        char names[256];
        size_t n = 0, n_options = 0;
        int r;

        if (!rules)
                return -EINVAL;
        rules_clear_error(rules);

        r = rules_check_string(rules, "file system type", fstype);
        if (r < 0)
                return r;
        if (rule_fs_kind(fstype) == RULE_FS_MEMORY) {
                if (source) {
                        r = rules_check_string(rules, "source", source);
                        if (r < 0)
                                return r;
                }
        } else {
                /* A bind or block device source is a file the process names: it must say which. */
                if (!source)
                        return rules_fail(rules, -EINVAL,
                                          "file system '%s' needs a source; only tmpfs and ramfs have none",
                                          fstype);
                r = rules_check_path(rules, "source", source);
                if (r < 0)
                        return r;
        }
        r = rules_check_path(rules, "target", target);
        if (r < 0)
                return r;
        r = rules_check_mount_flags(rules, allowed_flags, false);
        if (r < 0)
                return r;
        r = rules_check_mount_flags(rules, forced_flags, true);
        if (r < 0)
                return r;
        for (; options && options[n_options]; n_options++) {
                r = rules_check_string(rules, "option pattern", options[n_options]);
                if (r < 0)
                        return r;
                /* The daemon matches the data options one by one, split at ','. */
                if (strchr(options[n_options], ','))
                        return rules_fail(rules, -EINVAL,
                                          "option pattern '%s' contains ','; a pattern matches one option",
                                          options[n_options]);
                /* The daemon refuses these in any call, so it refuses a pattern for them too: say so now. */
                switch (mount_option_kind(options[n_options])) {
                case MOUNT_OPTION_FLAG:
                case MOUNT_OPTION_SOURCE:
                        return rules_fail(rules, -EINVAL,
                                          "option pattern '%s' is a mount flag or the source, not a data option "
                                          "(flags a rule may allow: %s)", options[n_options],
                                          mount_flag_list(false, names, sizeof names));
                case MOUNT_OPTION_DEVICE:
                        return rules_fail(rules, -EINVAL,
                                          "option pattern '%s' names a device the kernel would open with the "
                                          "broker's privileges", options[n_options]);
                case MOUNT_OPTION_DATA:
                        break;
                }
        }
        if (n_options > RULE_STRV_MAX)
                return rules_fail(rules, -E2BIG, "more than %d option patterns", RULE_STRV_MAX);

        keys[n++] = (RuleKey) { .name = "FsType", .type = KEY_STRING, .string = (char *) fstype };
        if (source)
                keys[n++] = (RuleKey) { .name = "Source", .type = KEY_STRING, .string = (char *) source };
        keys[n++] = (RuleKey) { .name = "Target", .type = KEY_STRING, .string = (char *) target };
        keys[n++] = (RuleKey) { .name = "AllowedFlags", .type = KEY_STRV,
                                .strv = (char **) (allowed_flags ?: (const char *const *) none) };
        /* Left out, the daemon's default applies; an empty list is sent: it forces nothing. */
        if (forced_flags)
                keys[n++] = (RuleKey) { .name = "ForcedFlags", .type = KEY_STRV,
                                        .strv = (char **) forced_flags };
        if (n_options > 0)
                keys[n++] = (RuleKey) { .name = "Options", .type = KEY_STRV, .strv = (char **) options };

        return rules_add(rules, RULE_SYSCALL_MOUNT, action, keys, n);
}

static bool strv_contains(const char *const *l, const char *s) {
        for (; *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

/* Appends s to the NULL-terminated l, which has room for it. */
static void strv_push(const char **l, const char *s) {
        while (*l)
                l++;
        *l = s;
}

static bool strv_remove(const char **l, const char *s) {
        for (; *l; l++)
                if (streq(*l, s)) {
                        do
                                l[0] = l[1];
                        while (*l++);
                        return true;
                }
        return false;
}

/* The items after a mount spec's target into the three lists, which have room for every item (forced
 * holds the defaults already). */
/* "64M" and the like: a number with an optional K, M, G or T (powers of 1024). */
static int size_parse(const char *s, uint64_t *ret) {
        static const char units[] = "KMGT";
        unsigned long long v;
        const char *u;
        char *end;

        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -ERANGE;
        if (*end && (u = strchr(units, *end & ~0x20))) {
                unsigned shift = 10 * (unsigned) (u - units + 1);

                if (v > UINT64_MAX >> shift)
                        return -ERANGE;
                v <<= shift;
                end++;
        }
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int mount_items_parse(sysbroker_rules *rules, char *items, const char **allowed, const char **forced,
                             const char **options, bool *forced_given, uint64_t *max_size) {
        char names[256];

        for (char *p = items, *item; (item = strsep(&p, ",")); ) {
                const MountFlagName *f;
                const char *value;

                if (item[0] == '\0')
                        return rules_fail(rules, -EINVAL, "an item after the target is empty");

                if ((value = startswith(item, "max-size="))) {
                        if (size_parse(value, max_size) < 0 || *max_size == 0)
                                return rules_fail(rules, -EINVAL, "'%s': the size must be a positive number of "
                                                  "bytes, with K, M, G or T", item);
                        continue;
                }

                if (item[0] == '+' || item[0] == '-') {
                        f = mount_flag_lookup(item + 1);
                        if (!f || !f->forcible)
                                return rules_fail(rules, -EINVAL, "'%s': only %s can be forced", item,
                                                  mount_flag_list(true, names, sizeof names));
                        if (item[0] == '-' && !strv_remove(forced, f->name))
                                return rules_fail(rules, -EINVAL, "'%s' removes a flag that is not forced",
                                                  item);
                        if (item[0] == '+' && !strv_contains(forced, f->name))
                                strv_push(forced, f->name);
                        *forced_given = true;
                } else if ((f = mount_flag_lookup(item))) {
                        if (!strv_contains(allowed, f->name))
                                strv_push(allowed, f->name);
                } else
                        strv_push(options, item);
        }
        return 0;
}

int sysbroker_rules_add_mount_spec(sysbroker_rules *rules, sysbroker_action action, const char *spec) {
        _cleanup_free_ const char **allowed = NULL, **forced = NULL, **options = NULL;
        _cleanup_free_ char *copy = NULL;
        char *fields[3] = {}, *items = NULL, *colon;
        const char *action_name = sysbroker_action_to_string(action);
        bool forced_given = false;
        uint64_t max_size = 0;
        size_t n_items = 1;
        int r;

        if (!rules)
                return -EINVAL;
        r = rules_spec_copy(rules, spec, "mount", &copy);
        if (r < 0)
                return r;

        /* Exactly three fields and single spaces: "tmpfs - /mnt ro" must not quietly become a mount point
         * called "/mnt ro". */
        fields[0] = copy;
        for (size_t i = 1; i < ELEMENTSOF(fields); i++) {
                char *space = strchr(fields[i - 1], ' ');

                if (!space)
                        break;
                *space = '\0';
                fields[i] = space + 1;
        }
        if (!fields[2] || fields[0][0] == '\0' || fields[1][0] == '\0' || strchr(fields[2], ' '))
                return rules_fail(rules, -EINVAL,
                                  "rule '%s' is not of the form 'FSTYPE SOURCE TARGET[:ITEM,...]' "
                                  "(three fields, single spaces)", spec);

        /* From the end: a mount point may hold colons; one that does ends in ':' to say "no items". */
        colon = strrchr(fields[2], ':');
        if (colon) {
                *colon = '\0';
                items = colon + 1;
                for (const char *p = items; *p; p++)
                        n_items += *p == ',';
        }

        allowed = calloc(n_items + 1, sizeof(char *));
        forced = calloc(ELEMENTSOF(mount_flag_names) + n_items + 1, sizeof(char *));
        options = calloc(n_items + 1, sizeof(char *));
        if (!allowed || !forced || !options)
                return -ENOMEM;
        /* What a rule forces when it does not say: the daemon's default ForcedFlags. */
        for (size_t i = 0, n = 0; i < ELEMENTSOF(mount_flag_names); i++)
                if (mount_flag_names[i].flag & MOUNT_FLAGS_FORCED_DEFAULT)
                        forced[n++] = mount_flag_names[i].name;

        if (items && items[0] != '\0') {
                r = mount_items_parse(rules, items, allowed, forced, options, &forced_given, &max_size);
                if (r < 0)
                        return rules_fail_spec(rules, r, spec);
        }

        /* Flags and options only limit what is emulated; on a deny rule they would read as a narrower rule
         * than the daemon applies. */
        if (action != SYSBROKER_ACTION_EMULATE && action_name &&
            (allowed[0] || forced_given || options[0] || max_size > 0))
                return rules_fail_spec(rules,
                                       rules_fail(rules, -EINVAL, "a %s rule takes no flags or options",
                                                  action_name),
                                       spec);

        /* The daemon refuses these too; said here with the spec. */
        if (max_size > 0 && !streq(fields[0], "tmpfs"))
                return rules_fail_spec(rules,
                                       rules_fail(rules, -EINVAL, "max-size applies only to tmpfs, not '%s'",
                                                  fields[0]),
                                       spec);

        r = sysbroker_rules_add_mount(rules, action, fields[0], streq(fields[1], "-") ? NULL : fields[1],
                                      fields[2], allowed, forced_given ? forced : NULL, options);
        if (r < 0)
                return rules_fail_spec(rules, r, spec);
        if (max_size > 0) {
                /* sysbroker_rules_add_mount() leaves room for it (RULE_KEYS_MAX). */
                Rule *rule = &rules->rules[r];
                assert(rule->n_keys < RULE_KEYS_MAX);
                rule->keys[rule->n_keys++] = (RuleKey) { .name = "MaxSize", .type = KEY_UINT64,
                                                         .uint64 = max_size };
        }
        return r;
}

int sysbroker_rules_set_errno(sysbroker_rules *rules, size_t index, int error) {
        if (!rules)
                return -EINVAL;
        rules_clear_error(rules);

        if (index >= rules->n_rules)
                return rules_fail(rules, -ENOENT, "there is no rule %zu", index);
        if (rules->rules[index].action != SYSBROKER_ACTION_DENY)
                return rules_fail(rules, -EINVAL, "rule %zu is not a deny rule", index);
        if (error <= 0 || error > RULE_ERRNO_MAX)
                return rules_fail(rules, -ERANGE, "errno %d is not between 1 and %d", error, RULE_ERRNO_MAX);

        rules->rules[index].error = error;
        return 0;
}

int sysbroker_rules_set_description(sysbroker_rules *rules, const char *description) {
        char *d = NULL;

        if (!rules)
                return -EINVAL;
        rules_clear_error(rules);

        if (description) {
                if (strlen(description) > RULE_DESCRIPTION_MAX)
                        return rules_fail(rules, -ENAMETOOLONG, "description is longer than %u bytes",
                                          RULE_DESCRIPTION_MAX);
                if (!utf8_is_valid(description))
                        return rules_fail(rules, -EINVAL, "description is not valid UTF-8");
                d = strdup(description);
                if (!d)
                        return -ENOMEM;
        }

        free(rules->description);
        rules->description = d;
        return 0;
}

int sysbroker_rules_set_default_action(sysbroker_rules *rules, sysbroker_action action) {
        if (!rules)
                return -EINVAL;
        rules_clear_error(rules);

        /* Emulating a call no rule describes would mean guessing what was authorized. */
        if (action != SYSBROKER_ACTION_CONTINUE && action != SYSBROKER_ACTION_DENY)
                return rules_fail(rules, -EINVAL, "the default action must be 'continue' or 'deny'");

        rules->default_action = action;
        rules->default_action_set = true;
        return 0;
}

unsigned rules_syscall_mask(const sysbroker_rules *rules) {
        unsigned mask = 0;

        if (!rules)
                return 0;
        for (size_t i = 0; i < rules->n_rules; i++)
                mask |= 1u << rules->rules[i].syscall;
        return mask;
}

/* A dict entry "{sv}" of the rule or option dict; the caller appends the value in between. */
static int open_entry(sd_bus_message *m, const char *key, const char *signature) {
        int r;

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, 's', key);
        if (r < 0)
                return r;
        return sd_bus_message_open_container(m, 'v', signature);
}

static int close_entry(sd_bus_message *m) {
        int r;

        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_entry(sd_bus_message *m, const char *key, const char *signature, ...) {
        va_list ap;
        int r;

        r = open_entry(m, key, signature);
        if (r < 0)
                return r;
        va_start(ap, signature);
        r = sd_bus_message_appendv(m, signature, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return close_entry(m);
}

static int append_key(sd_bus_message *m, const RuleKey *k) {
        int r;

        switch (k->type) {
        case KEY_STRING:
                return append_entry(m, k->name, "s", k->string);
        case KEY_UINT32:
                return append_entry(m, k->name, "u", k->uint32);
        case KEY_UINT64:
                return append_entry(m, k->name, "t", k->uint64);
        case KEY_BOOL:
                return append_entry(m, k->name, "b", (int) k->boolean);
        case KEY_STRV:
                r = open_entry(m, k->name, "as");
                if (r < 0)
                        return r;
                r = sd_bus_message_append_strv(m, k->strv);
                if (r < 0)
                        return r;
                return close_entry(m);
        }
        return -EINVAL;
}

int rules_append_to_message(const sysbroker_rules *rules, sd_bus_message *m) {
        int r;

        if (!rules || !m)
                return -EINVAL;

        r = sd_bus_message_open_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < rules->n_rules; i++) {
                const Rule *rule = &rules->rules[i];

                r = sd_bus_message_open_container(m, 'a', "{sv}");
                if (r < 0)
                        return r;
                r = append_entry(m, "Syscall", "s", rule_syscall_to_string(rule->syscall));
                if (r < 0)
                        return r;
                r = append_entry(m, "Action", "s", sysbroker_action_to_string(rule->action));
                if (r < 0)
                        return r;
                if (rule->error > 0) {
                        r = append_entry(m, "Errno", "i", (int32_t) rule->error);
                        if (r < 0)
                                return r;
                }
                for (size_t k = 0; k < rule->n_keys; k++) {
                        r = append_key(m, &rule->keys[k]);
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;

        /* Options the caller did not set are left out: the daemon's defaults apply. */
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        if (rules->description) {
                r = append_entry(m, "Description", "s", rules->description);
                if (r < 0)
                        return r;
        }
        if (rules->default_action_set) {
                r = append_entry(m, "DefaultAction", "s", sysbroker_action_to_string(rules->default_action));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* Here and not in filter.c, which the inner side of the hand-off (`sysbrokerctl exec`) links without the
 * rules and their D-Bus encoding. */
int sysbroker_install_filter(const sysbroker_rules *rules, unsigned flags) {
        if (!rules)
                return -EINVAL;
        return filter_install_mask(rules_syscall_mask(rules), flags);
}
