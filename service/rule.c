/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rule parsing from D-Bus, validation, matching and the polkit description of each rule. */

#include <assert.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bus-dict.h"
#include "fs-util.h"
#include "log.h"
#include "mount-flags.h"
#include "rule.h"
#include "sysbroker-bus.h"

static void strv_free_n(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static void rule_done(Rule *r) {
        free(r->path);
        free(r->host_path);
        free(r->fstype);
        free(r->source);
        strv_free_n(r->options, r->n_options);
}

RuleSet *rule_set_free(RuleSet *set) {
        if (!set)
                return NULL;
        for (size_t i = 0; i < set->n_rules; i++)
                rule_done(&set->rules[i]);
        free(set->rules);
        free(set);
        return NULL;
}

/* Every key a rule may carry. `syscalls` says for which Syscall values the key is allowed. */
typedef enum RuleKey {
        KEY_SYSCALL,
        KEY_ACTION,
        KEY_ERRNO,
        KEY_PATH,
        KEY_TYPE,
        KEY_MAJOR,
        KEY_MINOR,
        KEY_MODE,
        KEY_ACCESS,
        KEY_CREATE,
        KEY_HOST_PATH,
        KEY_FS_TYPE,
        KEY_SOURCE,
        KEY_TARGET,
        KEY_ALLOWED_FLAGS,
        KEY_FORCED_FLAGS,
        KEY_OPTIONS,
        KEY_MAX_SIZE,
        _KEY_MAX,
} RuleKey;

#define SYSCALLS_ALL UINT64_MAX
#define SYSCALL_BIT(s) (UINT64_C(1) << (s))

static const struct {
        const char *name;
        const char *signature;
        uint64_t syscalls;
} rule_keys[_KEY_MAX] = {
        [KEY_SYSCALL] = { "Syscall", "s", SYSCALLS_ALL },
        [KEY_ACTION] = { "Action", "s", SYSCALLS_ALL },
        [KEY_ERRNO] = { "Errno", "i", SYSCALLS_ALL },
        [KEY_PATH] = { "Path", "s", SYSCALL_BIT(RULE_SYSCALL_MKNOD) | SYSCALL_BIT(RULE_SYSCALL_OPEN) },
        [KEY_TYPE] = { "Type", "s", SYSCALL_BIT(RULE_SYSCALL_MKNOD) },
        [KEY_MAJOR] = { "Major", "u", SYSCALL_BIT(RULE_SYSCALL_MKNOD) },
        [KEY_MINOR] = { "Minor", "u", SYSCALL_BIT(RULE_SYSCALL_MKNOD) },
        [KEY_MODE] = { "Mode", "u", SYSCALL_BIT(RULE_SYSCALL_MKNOD) },
        [KEY_ACCESS] = { "Access", "s", SYSCALL_BIT(RULE_SYSCALL_OPEN) },
        [KEY_CREATE] = { "Create", "b", SYSCALL_BIT(RULE_SYSCALL_OPEN) },
        [KEY_HOST_PATH] = { "HostPath", "s", SYSCALL_BIT(RULE_SYSCALL_MKNOD) | SYSCALL_BIT(RULE_SYSCALL_OPEN) },
        [KEY_FS_TYPE] = { "FsType", "s", SYSCALL_BIT(RULE_SYSCALL_MOUNT) },
        [KEY_SOURCE] = { "Source", "s", SYSCALL_BIT(RULE_SYSCALL_MOUNT) },
        [KEY_TARGET] = { "Target", "s", SYSCALL_BIT(RULE_SYSCALL_MOUNT) },
        [KEY_ALLOWED_FLAGS] = { "AllowedFlags", "as", SYSCALL_BIT(RULE_SYSCALL_MOUNT) },
        [KEY_FORCED_FLAGS] = { "ForcedFlags", "as", SYSCALL_BIT(RULE_SYSCALL_MOUNT) },
        [KEY_OPTIONS] = { "Options", "as", SYSCALL_BIT(RULE_SYSCALL_MOUNT) },
        [KEY_MAX_SIZE] = { "MaxSize", "t", SYSCALL_BIT(RULE_SYSCALL_MOUNT) },
};

const char *rule_key_signature(const char *key) {
        for (size_t k = 0; k < _KEY_MAX; k++)
                if (streq(key, rule_keys[k].name))
                        return rule_keys[k].signature;
        return NULL;
}


/* The raw values of one rule's dictionary, before they are interpreted. */
typedef struct RuleFields {
        uint64_t present;          /* bit per RuleKey */
        char *strings[_KEY_MAX];
        char **strvs[_KEY_MAX];
        size_t n_strv[_KEY_MAX];
        uint32_t u32[_KEY_MAX];
        int32_t i32[_KEY_MAX];
        uint64_t u64[_KEY_MAX];
} RuleFields;

static size_t rule_fields_length(const RuleFields *f) {
        size_t n = 0;

        for (size_t i = 0; i < _KEY_MAX; i++) {
                if (f->strings[i])
                        n += strlen(f->strings[i]);
                for (size_t j = 0; j < f->n_strv[i]; j++)
                        n += strlen(f->strvs[i][j]);
        }
        return n;
}

static void rule_fields_done(RuleFields *f) {
        for (size_t i = 0; i < _KEY_MAX; i++) {
                free(f->strings[i]);
                strv_free_n(f->strvs[i], f->n_strv[i]);
        }
}

static int rule_error(char **ret_error, size_t index, const char *format, ...) _printf_(3, 4);
static int rule_error(char **ret_error, size_t index, const char *format, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&what, format, ap) < 0)
                what = NULL;
        va_end(ap);
        if (!what)
                return -ENOMEM;
        if (asprintf(ret_error, "Rule %zu: %s", index, what) < 0)
                return -ENOMEM;
        return -EINVAL;
}

static int rule_string_read(sd_bus_message *m, size_t index, const char *key, const RuleLimits *limits,
                            char **ret, char **ret_error) {
        const char *s;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;
        if (strlen(s) > limits->max_string_length)
                return rule_error(ret_error, index, "key '%s' is longer than %zu bytes", key,
                                  limits->max_string_length);
        /* Paths and patterns go into polkit's authentication dialog: no line of their own making there. */
        if (string_has_control(s) && !limits->restoring)
                return rule_error(ret_error, index, "key '%s' contains a control character", key);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int rule_strv_read(sd_bus_message *m, size_t index, const char *key, const RuleLimits *limits,
                          char ***ret, size_t *ret_n, char **ret_error) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        for (;;) {
                char **n;

                r = sd_bus_message_at_end(m, false);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
                if (*ret_n >= RULE_STRV_MAX)
                        return rule_error(ret_error, index, "key '%s' has more than %d entries", key,
                                          RULE_STRV_MAX);
                /* Kept NULL-terminated, for sd_bus_message_append_strv(). */
                n = reallocarray(*ret, *ret_n + 2, sizeof *n);
                if (!n)
                        return -ENOMEM;
                *ret = n;
                n[*ret_n] = n[*ret_n + 1] = NULL;
                r = rule_string_read(m, index, key, limits, &n[*ret_n], ret_error);
                if (r < 0)
                        return r;
                (*ret_n)++;
        }
        return sd_bus_message_exit_container(m);
}

typedef struct RuleFieldsRead {
        size_t index;
        const RuleLimits *limits;
        RuleFields *fields;
        char **ret_error;
} RuleFieldsRead;

static int rule_field_read(sd_bus_message *m, const char *key, const char *contents, void *userdata) {
        RuleFieldsRead *c = userdata;
        RuleFields *f = c->fields;
        size_t index = c->index;
        RuleKey k;
        int r;

        for (k = 0; k < _KEY_MAX; k++)
                if (streq(key, rule_keys[k].name))
                        break;
        if (k == _KEY_MAX)
                return rule_error(c->ret_error, index, "unknown key '%.64s'", key);
        if (f->present & (UINT64_C(1) << k))
                return rule_error(c->ret_error, index, "duplicate key '%s'", key);

        if (!streq(contents, rule_keys[k].signature))
                return rule_error(c->ret_error, index, "key '%s' must be of type '%s', not '%.16s'",
                                  key, rule_keys[k].signature, contents);

        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;

        switch (rule_keys[k].signature[0]) {
        case 's':
                r = rule_string_read(m, index, key, c->limits, &f->strings[k], c->ret_error);
                break;
        case 'a':
                r = rule_strv_read(m, index, key, c->limits, &f->strvs[k], &f->n_strv[k], c->ret_error);
                break;
        case 'u':
                r = sd_bus_message_read(m, "u", &f->u32[k]);
                break;
        case 'i':
                r = sd_bus_message_read(m, "i", &f->i32[k]);
                break;
        case 't':
                r = sd_bus_message_read(m, "t", &f->u64[k]);
                break;
        case 'b': {
                int b;
                r = sd_bus_message_read(m, "b", &b);
                f->u32[k] = !!b;
                break;
        }
        default:
                return -EINVAL; /* the key table only names the types above */
        }
        if (r < 0)
                return r;

        f->present |= UINT64_C(1) << k;

        return sd_bus_message_exit_container(m); /* v */
}

static int rule_fields_read(sd_bus_message *m, size_t index, const RuleLimits *limits, RuleFields *f,
                            char **ret_error) {
        RuleFieldsRead c = { .index = index, .limits = limits, .fields = f, .ret_error = ret_error };

        return bus_dict_foreach(m, rule_field_read, &c);
}

static bool has(const RuleFields *f, RuleKey k) {
        return f->present & (UINT64_C(1) << k);
}

static int mount_flags_from_names(char **names, size_t n, bool forced, size_t index, const char *key,
                                  unsigned long *ret, char **ret_error) {
        unsigned long flags = 0;

        for (size_t i = 0; i < n; i++) {
                unsigned long flag = mount_flag_from_string(names[i]);

                if (flag == 0)
                        return rule_error(ret_error, index, "key '%s' names unknown flag '%.64s'", key, names[i]);
                if (forced && !mount_flag_is_forcible(flag))
                        return rule_error(ret_error, index,
                                          "key '%s': '%s' is not a flag a rule can force (ro, nosuid, nodev, "
                                          "noexec, noatime, nodiratime, nosymfollow)", key, names[i]);
                flags |= flag;
        }
        *ret = flags;
        return 0;
}

static int rule_mount_from_fields(RuleFields *f, size_t index, const RuleLimits *limits, Rule *rule,
                                  char **ret_error) {
        const char *why;
        int r;

        if (!has(f, KEY_FS_TYPE))
                return rule_error(ret_error, index, "missing key 'FsType'");
        rule->fs_kind = rule_fs_kind(f->strings[KEY_FS_TYPE]);
        if (rule->fs_kind < 0)
                return rule_error(ret_error, index,
                                  "key 'FsType': '%.64s' is not supported (bind, tmpfs, ramfs, or a disk filesystem "
                                  "such as ext4; filesystems that show the mounter's namespaces, like proc or "
                                  "sysfs, cannot be made for a sandbox)", f->strings[KEY_FS_TYPE]);
        rule->fstype = TAKE_PTR(f->strings[KEY_FS_TYPE]);

        if (has(f, KEY_SOURCE)) {
                /* Binds and disk filesystems name a path in the sandbox's view; a memory filesystem's source
                 * is only a name. */
                if (rule->fs_kind != RULE_FS_MEMORY) {
                        why = rule_path_pattern_invalid(f->strings[KEY_SOURCE], limits->max_string_length);
                        if (why)
                                return rule_error(ret_error, index, "key 'Source' %s", why);
                }
                rule->source = TAKE_PTR(f->strings[KEY_SOURCE]);
        } else if (rule->fs_kind != RULE_FS_MEMORY)
                return rule_error(ret_error, index, "missing key 'Source' (needed for FsType '%s')", rule->fstype);

        r = mount_flags_from_names(f->strvs[KEY_ALLOWED_FLAGS], f->n_strv[KEY_ALLOWED_FLAGS], false, index,
                                   "AllowedFlags", &rule->allowed_flags, ret_error);
        if (r < 0)
                return r;
        rule->forced_flags = MOUNT_FLAGS_FORCED_DEFAULT;
        if (has(f, KEY_FORCED_FLAGS)) {
                r = mount_flags_from_names(f->strvs[KEY_FORCED_FLAGS], f->n_strv[KEY_FORCED_FLAGS], true, index,
                                           "ForcedFlags", &rule->forced_flags, ret_error);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < f->n_strv[KEY_OPTIONS]; i++) {
                const char *o = f->strvs[KEY_OPTIONS][i];
                MountOptionKind kind;

                if (o[0] == 0 || strchr(o, ','))
                        return rule_error(ret_error, index, "key 'Options': a pattern must be one option, "
                                          "not empty and without ','");
                /* It could never match: calls with such an option are refused whatever the patterns say. */
                kind = mount_option_kind(o);
                if (kind == MOUNT_OPTION_FLAG || kind == MOUNT_OPTION_SOURCE)
                        return rule_error(ret_error, index, "key 'Options': '%.64s' is a mount flag or the "
                                          "source, not an option (use AllowedFlags)", o);
                if (kind == MOUNT_OPTION_DEVICE)
                        return rule_error(ret_error, index, "key 'Options': '%.64s' names a device the kernel "
                                          "would open with the broker's privileges", o);
        }
        rule->options = TAKE_PTR(f->strvs[KEY_OPTIONS]);
        rule->n_options = f->n_strv[KEY_OPTIONS];
        f->n_strv[KEY_OPTIONS] = 0;

        if (has(f, KEY_MAX_SIZE)) {
                /* A size= pattern such as "size=*" cannot be bounded by a polkit rule; this can. Only tmpfs
                 * has a size to bound (ramfs takes none and grows as it is written). */
                if (rule->action != RULE_ACTION_EMULATE)
                        return rule_error(ret_error, index, "key 'MaxSize' applies only to Action 'emulate'");
                if (!streq(rule->fstype, "tmpfs"))
                        return rule_error(ret_error, index, "key 'MaxSize' applies only to FsType 'tmpfs'");
                if (f->u64[KEY_MAX_SIZE] == 0)
                        return rule_error(ret_error, index, "key 'MaxSize' must be at least 1 byte");
                rule->max_size = f->u64[KEY_MAX_SIZE];
        }
        return 0;
}

/* HostPath: a literal absolute host path without "." or "..", standing for the literal Path (open), or for
 * a directory mapping when Path is a literal prefix + slash-star-star (open and mknod). The sandbox names a file it need
 * not see: there is nothing to match any other pattern against. */
static int rule_host_path_from_fields(RuleFields *f, size_t index, const RuleLimits *limits, Rule *rule,
                                      char **ret_error) {
        const char *host = f->strings[KEY_HOST_PATH], *why;
        size_t l = strlen(rule->path);

        why = rule_path_pattern_invalid(host, limits->max_string_length);
        if (why)
                return rule_error(ret_error, index, "key 'HostPath' %s", why);
        if (!rule_pattern_is_literal(host))
                return rule_error(ret_error, index, "key 'HostPath' must be a literal path, not a pattern");
        if (l >= 3 && streq(rule->path + l - 3, "/**")) {
                _cleanup_free_ char *prefix = strndup(rule->path, l - 3);

                if (!prefix)
                        return -ENOMEM;
                if (!rule_pattern_is_literal(prefix))
                        return rule_error(ret_error, index, "key 'Path' must be a literal path, or a literal "
                                          "directory followed by '/**', when 'HostPath' is set");
                rule->host_dir = true;
        } else if (!rule_pattern_is_literal(rule->path))
                return rule_error(ret_error, index, "key 'Path' must be a literal path, or a literal directory "
                                  "followed by '/**', when 'HostPath' is set");
        rule->host_path = TAKE_PTR(f->strings[KEY_HOST_PATH]);
        return 0;
}

static int rule_from_fields(RuleFields *f, size_t index, const RuleLimits *limits, Rule *rule,
                            char **ret_error) {
        const char *why;
        int r;

        if (!has(f, KEY_SYSCALL))
                return rule_error(ret_error, index, "missing key 'Syscall'");
        rule->syscall = rule_syscall_from_string(f->strings[KEY_SYSCALL]);
        if (rule->syscall < 0)
                return rule_error(ret_error, index, "key 'Syscall' has unsupported value '%s'",
                                  f->strings[KEY_SYSCALL]);

        for (RuleKey k = 0; k < _KEY_MAX; k++)
                if (has(f, k) && !(rule_keys[k].syscalls & SYSCALL_BIT(rule->syscall)))
                        return rule_error(ret_error, index, "key '%s' does not apply to Syscall '%s'",
                                          rule_keys[k].name, f->strings[KEY_SYSCALL]);

        rule->action = RULE_ACTION_EMULATE;
        if (has(f, KEY_ACTION)) {
                rule->action = rule_action_from_string(f->strings[KEY_ACTION]);
                if (rule->action < 0)
                        return rule_error(ret_error, index,
                                          "key 'Action' must be 'emulate', 'deny' or 'continue', not '%s'",
                                          f->strings[KEY_ACTION]);
        }

        rule->deny_errno = EPERM;
        if (has(f, KEY_ERRNO)) {
                if (rule->action != RULE_ACTION_DENY)
                        return rule_error(ret_error, index, "key 'Errno' applies only to Action 'deny'");
                /* 512 and up are the kernel's own (ERESTARTSYS...): never meant for a process to see. An
                 * earlier daemon let them through: EPERM then, rather than dropping the listener. */
                if (f->i32[KEY_ERRNO] > RULE_ERRNO_MAX && f->i32[KEY_ERRNO] <= 4095 && limits->restoring)
                        log_warning("Rule %zu: Errno %" PRIi32 " is the kernel's own, answering EPERM instead.",
                                    index, f->i32[KEY_ERRNO]);
                else if (f->i32[KEY_ERRNO] <= 0 || f->i32[KEY_ERRNO] > RULE_ERRNO_MAX)
                        return rule_error(ret_error, index,
                                          "key 'Errno' must be between 1 and %d, not %" PRIi32,
                                          RULE_ERRNO_MAX, f->i32[KEY_ERRNO]);
                else
                        rule->deny_errno = f->i32[KEY_ERRNO];
        }

        /* Every kind of rule names a path pattern: mknod and open rules as Path, mount rules as Target. */
        RuleKey path_key = rule->syscall == RULE_SYSCALL_MOUNT ? KEY_TARGET : KEY_PATH;
        if (!has(f, path_key))
                return rule_error(ret_error, index, "missing key '%s'", rule_keys[path_key].name);
        why = rule_path_pattern_invalid(f->strings[path_key], limits->max_string_length);
        if (why)
                return rule_error(ret_error, index, "key '%s' %s", rule_keys[path_key].name, why);
        rule->path = TAKE_PTR(f->strings[path_key]);

        switch (rule->syscall) {
        case RULE_SYSCALL_MKNOD:
                rule->device_type = 'c';
                if (has(f, KEY_TYPE)) {
                        const char *t = f->strings[KEY_TYPE];
                        if (!streq(t, "c") && !streq(t, "b"))
                                return rule_error(ret_error, index, "key 'Type' must be 'c' or 'b', not '%s'", t);
                        rule->device_type = t[0];
                }

                if (!has(f, KEY_MAJOR))
                        return rule_error(ret_error, index, "missing key 'Major'");
                if (!has(f, KEY_MINOR))
                        return rule_error(ret_error, index, "missing key 'Minor'");
                /* The kernel's mknod takes a 32-bit dev_t: 12 bits of major, 20 of minor. */
                if (f->u32[KEY_MAJOR] > RULE_MAJOR_MAX)
                        return rule_error(ret_error, index, "key 'Major' must be at most %u",
                                          RULE_MAJOR_MAX);
                if (f->u32[KEY_MINOR] > RULE_MINOR_MAX)
                        return rule_error(ret_error, index, "key 'Minor' must be at most %u",
                                          RULE_MINOR_MAX);
                rule->major = f->u32[KEY_MAJOR];
                rule->minor = f->u32[KEY_MINOR];

                rule->max_mode = 0666;
                if (has(f, KEY_MODE)) {
                        /* No setuid, setgid or sticky device nodes: nothing needs them, and the unit's
                         * RestrictSUIDSGID= would refuse to create them anyway. */
                        if (f->u32[KEY_MODE] & ~0777u)
                                return rule_error(ret_error, index,
                                                  "key 'Mode' may only hold permission bits (0777)");
                        rule->max_mode = f->u32[KEY_MODE];
                }
                if (has(f, KEY_HOST_PATH)) {
                        r = rule_host_path_from_fields(f, index, limits, rule, ret_error);
                        if (r < 0)
                                return r;
                        /* A node is made where the sandbox names it; only a mapping says where that is. */
                        if (!rule->host_dir)
                                return rule_error(ret_error, index, "key 'HostPath' of a mknod rule needs a "
                                                  "'Path' of the form '/DIR/**' (a directory mapping)");
                }
                break;

        case RULE_SYSCALL_OPEN:
                rule->access = RULE_ACCESS_READ;
                if (has(f, KEY_ACCESS)) {
                        const char *a = f->strings[KEY_ACCESS];
                        rule->access = rule_access_from_string(a);
                        if (rule->access == 0)
                                return rule_error(ret_error, index, "key 'Access' must be 'r', 'w' or 'rw', not '%s'", a);
                }
                rule->create = has(f, KEY_CREATE) && f->u32[KEY_CREATE];
                if (has(f, KEY_HOST_PATH)) {
                        r = rule_host_path_from_fields(f, index, limits, rule, ret_error);
                        if (r < 0)
                                return r;
                        if (rule->create)
                                return rule_error(ret_error, index, "key 'Create' cannot be combined with 'HostPath'");
                }
                break;

        case RULE_SYSCALL_MOUNT:
                return rule_mount_from_fields(f, index, limits, rule, ret_error);

        case _RULE_SYSCALL_MAX:
        case _RULE_SYSCALL_INVALID:
        default:
                return rule_error(ret_error, index, "key 'Syscall' has unsupported value");
        }

        return 0;
}

int rule_set_parse(sd_bus_message *m, const RuleLimits *limits, RuleSet **ret, char **ret_error) {
        _cleanup_(rule_set_freep) RuleSet *set = NULL;
        size_t total_length = 0;
        int r;

        assert(m);
        assert(limits);
        assert(ret);
        assert(ret_error);

        set = calloc(1, sizeof *set);
        if (!set)
                return -ENOMEM;

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;

        for (;;) {
                RuleFields f = {};

                r = sd_bus_message_at_end(m, false);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;

                if (set->n_rules >= limits->max_rules) {
                        if (asprintf(ret_error, "At most %zu rules may be registered for one listener",
                                     limits->max_rules) < 0)
                                return -ENOMEM;
                        return -E2BIG;
                }

                Rule *n = reallocarray(set->rules, set->n_rules + 1, sizeof *n);
                if (!n)
                        return -ENOMEM;
                set->rules = n;
                set->rules[set->n_rules] = (Rule) {};

                r = rule_fields_read(m, set->n_rules, limits, &f, ret_error);
                /* Each string is bounded, and so is their number, but not yet what they take together. */
                if (r >= 0) {
                        total_length += rule_fields_length(&f);
                        if (total_length > limits->max_total_length) {
                                rule_fields_done(&f);
                                if (asprintf(ret_error, "The rules of one listener may hold at most %zu bytes of "
                                             "strings (more at rule %zu)", limits->max_total_length,
                                             set->n_rules) < 0)
                                        return -ENOMEM;
                                return -E2BIG;
                        }
                }
                if (r >= 0)
                        r = rule_from_fields(&f, set->n_rules, limits, &set->rules[set->n_rules], ret_error);
                rule_fields_done(&f);
                if (r < 0) {
                        rule_done(&set->rules[set->n_rules]);
                        return r;
                }

                set->syscalls |= SYSCALL_BIT(set->rules[set->n_rules].syscall);
                set->n_rules++;
        }

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        if (set->n_rules == 0) {
                *ret_error = strdup("At least one rule is needed");
                return *ret_error ? -EINVAL : -ENOMEM;
        }

        *ret = TAKE_PTR(set);
        return 0;
}

static int mount_flags_append(sd_bus_message *reply, const char *key, unsigned long flags) {
        int r;

        r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "s");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(mount_flag_names); i++)
                if (flags & mount_flag_names[i].flag)
                        r = sd_bus_message_append(reply, "s", mount_flag_names[i].name);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int rule_mount_append(sd_bus_message *reply, const Rule *rule) {
        int r;

        r = sd_bus_message_append(reply, "{sv}{sv}", "FsType", "s", rule->fstype, "Target", "s", rule->path);
        if (r >= 0 && rule->source)
                r = sd_bus_message_append(reply, "{sv}", "Source", "s", rule->source);
        /* Flags and options bound what an emulate rule grants; shown for the others they would read as if
         * they mattered (rule_set_match_mount() does not look at them). */
        if (r < 0 || rule->action != RULE_ACTION_EMULATE)
                return r;
        r = mount_flags_append(reply, "AllowedFlags", rule->allowed_flags);
        if (r >= 0)
                r = mount_flags_append(reply, "ForcedFlags", rule->forced_flags);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", "Options");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_append_strv(reply, rule->options ?: (char *[]) { NULL });
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0 && rule->max_size > 0)
                r = sd_bus_message_append(reply, "{sv}", "MaxSize", "t", rule->max_size);
        return r;
}

int rule_set_append(sd_bus_message *reply, const RuleSet *set) {
        int r;

        assert(reply);
        assert(set);

        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        if (r < 0)
                return r;

        for (size_t i = 0; i < set->n_rules; i++) {
                const Rule *rule = &set->rules[i];
                char type[2] = { rule->device_type, 0 };

                r = sd_bus_message_open_container(reply, 'a', "{sv}");
                if (r < 0)
                        return r;

                r = sd_bus_message_append(reply, "{sv}{sv}", "Syscall", "s", rule_syscall_to_string(rule->syscall),
                                          "Action", "s", rule_action_to_string(rule->action));
                if (r >= 0 && rule->action == RULE_ACTION_DENY)
                        r = sd_bus_message_append(reply, "{sv}", "Errno", "i", (int32_t) rule->deny_errno);
                /* Only the keys that apply: Access, Create and Mode bound what an emulate rule grants, and a
                 * deny or continue rule covers every call of its path (rule_open_allows(),
                 * rule_mknod_device_matches()). The state text is written from this too, and reads back the
                 * same rule. */
                if (r >= 0 && rule->syscall == RULE_SYSCALL_OPEN)
                        r = sd_bus_message_append(reply, "{sv}", "Path", "s", rule->path);
                if (r >= 0 && rule->syscall == RULE_SYSCALL_OPEN && rule->action == RULE_ACTION_EMULATE)
                        r = sd_bus_message_append(reply, "{sv}{sv}",
                                                  "Access", "s", rule_access_to_string(rule->access),
                                                  "Create", "b", (int) rule->create);
                if (r >= 0 && rule->host_path)
                        r = sd_bus_message_append(reply, "{sv}", "HostPath", "s", rule->host_path);
                if (r >= 0 && rule->syscall == RULE_SYSCALL_MOUNT)
                        r = rule_mount_append(reply, rule);
                if (r >= 0 && rule->syscall == RULE_SYSCALL_MKNOD)
                        r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}",
                                                  "Path", "s", rule->path,
                                                  "Type", "s", type,
                                                  "Major", "u", rule->major,
                                                  "Minor", "u", rule->minor);
                if (r >= 0 && rule->syscall == RULE_SYSCALL_MKNOD && rule->action == RULE_ACTION_EMULATE)
                        r = sd_bus_message_append(reply, "{sv}", "Mode", "u", (uint32_t) rule->max_mode);
                if (r < 0)
                        return r;

                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }

        return sd_bus_message_close_container(reply);
}

bool rule_path_matches(const char *pattern, const char *path) {
        size_t l = strlen(pattern);

        if (l >= 3 && streq(pattern + l - 3, "/**")) {
                char prefix[l - 2];

                /* "/dir" + slash-star-star: some leading part of path, ending at a '/', matches "/dir", and
                 * something follows that '/'. The root's own form matches every path. */
                memcpy(prefix, pattern, l - 3);
                prefix[l - 3] = 0;
                if (prefix[0] == 0)
                        return path[0] == '/' && path[1] != 0;

                size_t pl = strlen(path);
                char buf[pl + 1];
                memcpy(buf, path, pl + 1);
                for (size_t i = 1; i < pl; i++) {
                        if (buf[i] != '/' || buf[i + 1] == 0)
                                continue;
                        buf[i] = 0;
                        bool m = fnmatch(prefix, buf, FNM_PATHNAME) == 0;
                        buf[i] = '/';
                        if (m)
                                return true;
                }
                return false;
        }

        return fnmatch(pattern, path, FNM_PATHNAME) == 0;
}

bool rule_mknod_device_matches(const Rule *r, mode_t mode, uint32_t major, uint32_t minor) {
        char type = S_ISCHR(mode) ? 'c' : S_ISBLK(mode) ? 'b' : 0;

        /* Mode bounds what an emulate rule grants; deny and continue rules grant nothing and cover the
         * device whatever mode is asked (else a wider mode would step past a deny rule). */
        return r->syscall == RULE_SYSCALL_MKNOD &&
                r->device_type == type &&
                r->major == major && r->minor == minor &&
                (r->action != RULE_ACTION_EMULATE || (mode & 07777 & ~r->max_mode) == 0);
}

const Rule *rule_set_find_mknod_device(const RuleSet *set, mode_t mode, uint32_t major, uint32_t minor) {
        for (size_t i = 0; i < set->n_rules; i++)
                if (rule_mknod_device_matches(&set->rules[i], mode, major, minor))
                        return &set->rules[i];
        return NULL;
}

const Rule *rule_set_match_mknod(const RuleSet *set, const char *path, mode_t mode, uint32_t major,
                                 uint32_t minor) {
        for (size_t i = 0; i < set->n_rules; i++) {
                const Rule *r = &set->rules[i];
                if (rule_mknod_device_matches(r, mode, major, minor) && rule_path_matches(r->path, path))
                        return r;
        }
        return NULL;
}

static bool rule_open_allows(const Rule *r, const OpenRequest *req) {
        if (r->syscall != RULE_SYSCALL_OPEN)
                return false;
        /* Access, Create and the literal-path condition bound what an emulate rule grants; deny and continue
         * rules grant nothing and cover every open of their path. */
        if (r->action != RULE_ACTION_EMULATE)
                return true;
        if (req->access & ~r->access)
                return false;
        if (req->create && !r->create)
                return false;
        /* A FIFO can block its opener, a device is hardware: only a rule that names it exactly. */
        if (req->special && !rule_pattern_is_literal(r->path))
                return false;
        return true;
}

const char *rule_mapped_relative(const Rule *r, const char *path) {
        size_t l;

        if (!r->host_dir || !path)
                return NULL;
        l = strlen(r->path) - 3; /* the prefix */
        if (strncmp(path, r->path, l) != 0 || path[l] != '/' || path[l + 1] == 0)
                return NULL;
        return path + l + 1;
}

const Rule *rule_set_match_open(const RuleSet *set, const char *as_named, const OpenRequest *named_req,
                                const char *resolved, const OpenRequest *resolved_req) {
        bool named_dots = as_named && path_has_dot_dot(as_named);

        for (size_t i = 0; i < set->n_rules; i++) {
                const Rule *r = &set->rules[i];

                if (r->host_path) {
                        /* A literal Path never holds "..": such a name only ever matches a mapping. */
                        if (as_named && rule_open_allows(r, named_req) &&
                            (r->host_dir ? !!rule_mapped_relative(r, as_named) : streq(r->path, as_named)))
                                return r;
                        continue;
                }
                if (resolved && rule_open_allows(r, resolved_req) && rule_path_matches(r->path, resolved))
                        return r;
                /* A name that resolves to nothing has only itself to be matched by. Deny and continue rules
                 * grant nothing, so they may stand in for it: one before a HostPath rule for a name the
                 * sandbox lacks still applies. Not a name with "..": where it leads is not what it says. */
                if (!resolved && r->action != RULE_ACTION_EMULATE && as_named && !named_dots &&
                    rule_path_matches(r->path, as_named))
                        return r;
        }
        return NULL;
}

static bool rule_mount_source_matches(const Rule *r, const char *source) {
        if (r->fs_kind == RULE_FS_MEMORY)
                return !r->source || fnmatch(r->source, strempty(source), 0) == 0;
        return r->source && source && rule_path_matches(r->source, source);
}

const Rule *rule_set_match_mount(const RuleSet *set, const char *fstype, const char *source,
                                 const char *target) {
        for (size_t i = 0; i < set->n_rules; i++) {
                const Rule *r = &set->rules[i];

                if (r->syscall == RULE_SYSCALL_MOUNT && streq(r->fstype, fstype) &&
                    rule_path_matches(r->path, target) && rule_mount_source_matches(r, source))
                        return r;
        }
        return NULL;
}

const char *rule_mount_option_refused(const Rule *r, char *options, const char **ret_why) {
        for (char *opt = options, *next; opt; opt = next) {
                MountOptionKind kind;
                bool allowed = false;

                next = strchr(opt, ',');
                if (next)
                        *next++ = 0;
                if (opt[0] == 0)
                        continue; /* the kernel skips empty options too */

                kind = mount_option_kind(opt);
                if (kind == MOUNT_OPTION_SOURCE || kind == MOUNT_OPTION_DEVICE) {
                        *ret_why = "it names a device or file the kernel would open with the broker's privileges";
                        return opt;
                }
                if (kind == MOUNT_OPTION_FLAG) {
                        *ret_why = "it is a mount flag, decided by AllowedFlags and ForcedFlags";
                        return opt;
                }
                for (size_t i = 0; i < r->n_options && !allowed; i++)
                        allowed = fnmatch(r->options[i], opt, 0) == 0;
                if (!allowed) {
                        *ret_why = "no Options pattern of the rule matches it";
                        return opt;
                }
        }
        return NULL;
}

/* A size as tmpfs reads it (the kernel's memparse(): a number, then k, m, g, t, p or e in either case), or a
 * percentage of the memory with '%' where percent is allowed. -ERANGE past 2^64 bytes. */
static int tmpfs_size_parse(const char *s, bool percent, uint64_t *ret) {
        static const char units[] = "kmgtpe";
        unsigned __int128 v;
        const char *u;
        char *end;

        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 0);
        if (errno != 0)
                return -ERANGE;
        if (*end && (u = strchr(units, *end | 0x20)) && *end != '%') {
                v <<= 10 * (unsigned) (u - units + 1);
                end++;
        } else if (percent && *end == '%') {
                struct sysinfo si;

                if (v > UINT32_MAX)
                        return -ERANGE;
                if (sysinfo(&si) < 0)
                        return -errno;
                v = v * si.totalram * si.mem_unit / 100;
                end++;
        }
        if (*end)
                return -EINVAL;
        if (v > UINT64_MAX)
                return -ERANGE;
        *ret = (uint64_t) v;
        return 0;
}

const char *rule_mount_size_refused(const Rule *r, char *options, bool remount, const char **ret_why) {
        bool sized = false;

        if (r->max_size == 0)
                return NULL;

        for (char *opt = options, *next; opt; opt = next) {
                const char *value;
                uint64_t bytes;
                int k;

                next = strchr(opt, ',');
                if (next)
                        *next++ = 0;
                /* Both set the size; the kernel takes the last. Each must fit. */
                if ((value = startswith(opt, "size=")))
                        k = tmpfs_size_parse(value, true, &bytes);
                else if ((value = startswith(opt, "nr_blocks="))) {
                        k = tmpfs_size_parse(value, false, &bytes);
                        if (k >= 0 && bytes > UINT64_MAX / (uint64_t) sysconf(_SC_PAGESIZE))
                                k = -ERANGE;
                        if (k >= 0)
                                bytes *= (uint64_t) sysconf(_SC_PAGESIZE);
                } else
                        continue;
                if (k < 0) {
                        *ret_why = "it is not a size the broker can bound by MaxSize";
                        return opt;
                }
                if (bytes == 0) {
                        *ret_why = "0 means no limit at all, above the rule's MaxSize";
                        return opt;
                }
                if (bytes > r->max_size) {
                        *ret_why = "it is above the rule's MaxSize";
                        return opt;
                }
                sized = true;
        }
        /* A new tmpfs without a size takes half of the memory. */
        if (!sized && !remount) {
                *ret_why = "the rule has a MaxSize: a size= option is needed (without one tmpfs takes half of "
                           "the memory)";
                return "";
        }
        return NULL;
}

bool rule_set_has_open_host(const RuleSet *set) {
        for (size_t i = 0; i < set->n_rules; i++)
                if (set->rules[i].syscall == RULE_SYSCALL_OPEN && set->rules[i].host_path)
                        return true;
        return false;
}

bool rule_set_has_open_mapping(const RuleSet *set) {
        for (size_t i = 0; i < set->n_rules; i++)
                if (set->rules[i].syscall == RULE_SYSCALL_OPEN && set->rules[i].host_dir)
                        return true;
        return false;
}

bool device_is_on_safe_list(char type, uint32_t major, uint32_t minor) {
        static const struct {
                uint32_t major, minor;
        } safe[] = {
                { 1, 3 }, /* null */
                { 1, 5 }, /* zero */
                { 1, 7 }, /* full */
                { 1, 8 }, /* random */
                { 1, 9 }, /* urandom */
                { 5, 0 }, /* tty */
                { 5, 2 }, /* ptmx */
                { 0, 0 }, /* overlayfs whiteout */
        };

        if (type != 'c')
                return false;
        for (size_t i = 0; i < ELEMENTSOF(safe); i++)
                if (safe[i].major == major && safe[i].minor == minor)
                        return true;
        return false;
}

/* The Options patterns joined with ',' (none: ""). */
static char *rule_options_join(const Rule *r) {
        size_t l = 1;
        char *s, *p;

        for (size_t i = 0; i < r->n_options; i++)
                l += strlen(r->options[i]) + 1;
        p = s = malloc(l);
        if (!s)
                return NULL;
        *p = 0;
        for (size_t i = 0; i < r->n_options; i++)
                p = stpcpy(stpcpy(p, i > 0 ? "," : ""), r->options[i]);
        return s;
}

int rule_authorization(const Rule *r, RuleAuthorization *ret) {
        size_t n = 0;

        assert(r);
        assert(ret);

        *ret = (RuleAuthorization) {};

        /* deny and continue hand out no privilege: nothing to authorize. */
        if (r->action != RULE_ACTION_EMULATE)
                return 0;

        switch (r->syscall) {
        case RULE_SYSCALL_MKNOD:
                ret->action_id = device_is_on_safe_list(r->device_type, r->major, r->minor)
                        ? SYSBROKER_POLKIT_ACTION_MKNOD : SYSBROKER_POLKIT_ACTION_MKNOD_DEVICE;
                snprintf(ret->device, sizeof ret->device, "%c %" PRIu32 ":%" PRIu32,
                         r->device_type, r->major, r->minor);
                snprintf(ret->mode, sizeof ret->mode, "%04o", (unsigned) r->max_mode);
                ret->details[n++] = "syscall";
                ret->details[n++] = "mknod";
                ret->details[n++] = "path";
                ret->details[n++] = r->path;
                ret->details[n++] = "device";
                ret->details[n++] = ret->device;
                ret->details[n++] = "mode";
                ret->details[n++] = ret->mode;
                if (r->host_path) {
                        ret->details[n++] = "host-path";
                        ret->details[n++] = r->host_path;
                        ret->details[n++] = "polkit.message";
                        ret->details[n++] = "Authentication is required to let a sandbox create the device node "
                                            "$(device) in the host's directory $(host-path), which it sees as "
                                            "$(path).";
                }
                break;
        case RULE_SYSCALL_OPEN:
                ret->action_id = SYSBROKER_POLKIT_ACTION_OPEN;
                snprintf(ret->access, sizeof ret->access, "%s", rule_access_to_string(r->access));
                ret->details[n++] = "syscall";
                ret->details[n++] = "open";
                ret->details[n++] = "path";
                ret->details[n++] = r->path;
                ret->details[n++] = "access";
                ret->details[n++] = ret->access;
                ret->details[n++] = "create";
                ret->details[n++] = r->create ? "true" : "false";
                if (r->host_path) {
                        ret->details[n++] = "host-path";
                        ret->details[n++] = r->host_path;
                        /* The action's message names only the sandbox's path: an admin must see which
                         * file of the host it stands for. polkit takes this from uid 0. */
                        ret->details[n++] = "polkit.message";
                        ret->details[n++] = r->host_dir ?
                                "Authentication is required to let a sandbox open the files below the host's "
                                "directory $(host-path) as $(path), with sysbrokerd's privileges." :
                                "Authentication is required to let a sandbox open the host's file "
                                "$(host-path) as $(path), with sysbrokerd's privileges.";
                }
                break;
        case RULE_SYSCALL_MOUNT:
                ret->action_id = SYSBROKER_POLKIT_ACTION_MOUNT;
                ret->options = rule_options_join(r);
                if (!ret->options)
                        return -ENOMEM;
                ret->details[n++] = "syscall";
                ret->details[n++] = "mount";
                ret->details[n++] = "fstype";
                ret->details[n++] = r->fstype;
                if (r->source) {
                        ret->details[n++] = "source";
                        ret->details[n++] = r->source;
                }
                ret->details[n++] = "target";
                ret->details[n++] = r->path;
                ret->details[n++] = "allowed-flags";
                ret->details[n++] = mount_flags_to_string(r->allowed_flags, ret->allowed_flags,
                                                          sizeof ret->allowed_flags);
                ret->details[n++] = "forced-flags";
                ret->details[n++] = mount_flags_to_string(r->forced_flags, ret->forced_flags,
                                                          sizeof ret->forced_flags);
                ret->details[n++] = "options";
                ret->details[n++] = ret->options;
                if (r->max_size > 0) {
                        snprintf(ret->max_size, sizeof ret->max_size, "%" PRIu64, r->max_size);
                        ret->details[n++] = "max-size";
                        ret->details[n++] = ret->max_size;
                }
                /* The action's message names what every mount rule has; an admin must also see the source
                 * (a disk, a directory to bind), which only some have. */
                if (r->source) {
                        ret->details[n++] = "polkit.message";
                        ret->details[n++] = "Authentication is required to let a sandbox mount $(fstype) $(source) "
                                            "on $(target).";
                }
                break;
        case _RULE_SYSCALL_MAX:
        case _RULE_SYSCALL_INVALID:
        default:
                break;
        }
        ret->details[n] = NULL;
        return 0;
}

void rule_authorization_done(RuleAuthorization *a) {
        free(a->options);
        a->options = NULL;
}



char *rule_describe(const Rule *r) {
        char *s = NULL;

        assert(r);

        switch (r->syscall) {
        case RULE_SYSCALL_MKNOD:
                if (asprintf(&s, "%s mknod %c %" PRIu32 ":%" PRIu32 " %s%s%s", rule_action_to_string(r->action),
                             r->device_type, r->major, r->minor, r->path, r->host_path ? " in host " : "",
                             strempty(r->host_path)) < 0)
                        return NULL;
                return s;
        case RULE_SYSCALL_OPEN:
                /* Access and Create only where they bound something: an emulate rule's grant (as
                 * rule_set_append() sends them; a deny or continue rule covers every open of its path). */
                if (asprintf(&s, "%s open %s%s%s%s%s%s", rule_action_to_string(r->action), r->path,
                             r->action == RULE_ACTION_EMULATE ? " " : "",
                             r->action == RULE_ACTION_EMULATE ? rule_access_to_string(r->access) : "",
                             r->action == RULE_ACTION_EMULATE && r->create ? " create" : "",
                             r->host_path ? " from host " : "", strempty(r->host_path)) < 0)
                        return NULL;
                return s;
        case RULE_SYSCALL_MOUNT:
                if (asprintf(&s, "%s mount %s %s on %s", rule_action_to_string(r->action), r->fstype,
                             r->source ?: "(any source)", r->path) < 0)
                        return NULL;
                return s;
        case _RULE_SYSCALL_MAX:
        case _RULE_SYSCALL_INVALID:
        default:
                return NULL;
        }
}
