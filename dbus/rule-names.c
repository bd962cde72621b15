/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rule vocabulary both sides of the bus spell: name tables and the path-pattern checks. */

#include <assert.h>

#include "macro.h"
#include "rule-names.h"

static const char *const rule_syscall_table[_RULE_SYSCALL_MAX] = {
        [RULE_SYSCALL_MKNOD] = "mknod",
        [RULE_SYSCALL_OPEN] = "open",
        [RULE_SYSCALL_MOUNT] = "mount",
};

static const char *const rule_action_table[_RULE_ACTION_MAX] = {
        [RULE_ACTION_EMULATE] = "emulate",
        [RULE_ACTION_DENY] = "deny",
        [RULE_ACTION_CONTINUE] = "continue",
};

static const char *const rule_access_table[] = {
        [RULE_ACCESS_READ] = "r",
        [RULE_ACCESS_WRITE] = "w",
        [RULE_ACCESS_READ | RULE_ACCESS_WRITE] = "rw",
};

const char *rule_syscall_to_string(RuleSyscall s) {
        return s >= 0 && s < _RULE_SYSCALL_MAX ? rule_syscall_table[s] : NULL;
}

RuleSyscall rule_syscall_from_string(const char *s) {
        assert(s);

        for (int i = 0; i < _RULE_SYSCALL_MAX; i++)
                if (streq(s, rule_syscall_table[i]))
                        return (RuleSyscall) i;
        return _RULE_SYSCALL_INVALID;
}

const char *rule_action_to_string(RuleAction a) {
        return a >= 0 && a < _RULE_ACTION_MAX ? rule_action_table[a] : NULL;
}

RuleAction rule_action_from_string(const char *s) {
        assert(s);

        for (int i = 0; i < _RULE_ACTION_MAX; i++)
                if (streq(s, rule_action_table[i]))
                        return (RuleAction) i;
        return _RULE_ACTION_INVALID;
}

const char *rule_access_to_string(unsigned access) {
        return access < ELEMENTSOF(rule_access_table) ? rule_access_table[access] : NULL; /* NULL for 0 */
}

unsigned rule_access_from_string(const char *s) {
        assert(s);

        for (unsigned i = 0; i < ELEMENTSOF(rule_access_table); i++)
                if (rule_access_table[i] && streq(s, rule_access_table[i]))
                        return i;
        return 0;
}

/* Filesystems whose contents come only from their source and options. Anything that shows the mounter's
 * own namespaces (proc: its pid namespace, sysfs: its network namespace, mqueue, cgroup, devpts) would
 * show the broker's, not the sandbox's; fuse and network filesystems take fds and credentials of the
 * mounter. Those are refused outright rather than guessed about. */
static const struct {
        const char *fstype;
        RuleFsKind kind;
} fs_kind_table[] = {
        { "bind",     RULE_FS_BIND   },
        { "tmpfs",    RULE_FS_MEMORY },
        { "ramfs",    RULE_FS_MEMORY },
        { "ext2",     RULE_FS_BLOCK  },
        { "ext3",     RULE_FS_BLOCK  },
        { "ext4",     RULE_FS_BLOCK  },
        { "xfs",      RULE_FS_BLOCK  },
        { "btrfs",    RULE_FS_BLOCK  },
        { "vfat",     RULE_FS_BLOCK  },
        { "exfat",    RULE_FS_BLOCK  },
        { "iso9660",  RULE_FS_BLOCK  },
        { "udf",      RULE_FS_BLOCK  },
        { "squashfs", RULE_FS_BLOCK  },
        { "erofs",    RULE_FS_BLOCK  },
        { "f2fs",     RULE_FS_BLOCK  },
        { "ntfs3",    RULE_FS_BLOCK  },
};

RuleFsKind rule_fs_kind(const char *fstype) {
        for (size_t i = 0; i < ELEMENTSOF(fs_kind_table); i++)
                if (streq(fstype, fs_kind_table[i].fstype))
                        return fs_kind_table[i].kind;
        return _RULE_FS_KIND_INVALID;
}

const char *rule_path_pattern_invalid(const char *pattern, size_t max_length) {
        if (!pattern || pattern[0] != '/')
                return "must be an absolute path";
        if (strlen(pattern) > max_length)
                return "is too long";

        for (const char *p = pattern; *p; ) {
                const char *end;
                size_t l;

                p++; /* skip the '/' */
                end = strchrnul(p, '/');
                l = end - p;
                if (l == 0 && (*end || p != pattern + 1))
                        return "must not contain empty components ('//' or a trailing '/')";
                if ((l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
                        return "must not contain '.' or '..' components";
                p = end;
        }
        return NULL;
}

bool rule_pattern_is_literal(const char *pattern) {
        return !strpbrk(pattern, "*?[\\");
}
