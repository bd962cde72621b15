/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mount flags a mount rule names (AllowedFlags, ForcedFlags), one table for the daemon and the client so
 * the two cannot disagree. relatime, MS_SILENT and MS_REC on binds need no name: they grant nothing. */
#pragma once

#include <stdbool.h>
#include <string.h>
#include <sys/mount.h>

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256 /* Linux 5.10 */
#endif

typedef struct MountFlagName {
        const char *name;
        unsigned long flag;
        bool forcible;             /* a per-mount flag a rule may impose; the others belong to the superblock */
} MountFlagName;

static const MountFlagName mount_flag_names[] = {
        { "ro",          MS_RDONLY,      true  },
        { "nosuid",      MS_NOSUID,      true  },
        { "nodev",       MS_NODEV,       true  },
        { "noexec",      MS_NOEXEC,      true  },
        { "sync",        MS_SYNCHRONOUS, false },
        { "dirsync",     MS_DIRSYNC,     false },
        { "noatime",     MS_NOATIME,     true  },
        { "nodiratime",  MS_NODIRATIME,  true  },
        { "strictatime", MS_STRICTATIME, false },
        { "lazytime",    MS_LAZYTIME,    false },
        { "nosymfollow", MS_NOSYMFOLLOW, true  },
};

/* What a data option (KEY or KEY=VALUE) among a mount's options is to a rule, by its key. */
typedef enum MountOptionKind {
        MOUNT_OPTION_DATA,   /* the file system's own business: an Options pattern decides */
        MOUNT_OPTION_FLAG,   /* a word the kernel takes as a mount flag: AllowedFlags and ForcedFlags decide */
        MOUNT_OPTION_SOURCE, /* "source": the source is the call's, checked against Source */
        MOUNT_OPTION_DEVICE, /* another device or file the file system opens itself, with the broker's privileges */
} MountOptionKind;

static inline bool mount_option_key_is(const char *opt, size_t key_length, const char *const *words, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strlen(words[i]) == key_length && strncmp(opt, words[i], key_length) == 0)
                        return true;
        return false;
}

static inline MountOptionKind mount_option_kind(const char *opt) {
        static const char *const flag_words[] = {
                "ro", "rw", "sync", "async", "dirsync", "lazytime", "nolazytime", "mand", "nomand",
                "posixacl", "noposixacl", "silent", "loud", "bind", "rbind", "defaults", "remount", "move",
                "exec", "noexec", "suid", "nosuid", "dev", "nodev", "atime", "noatime", "diratime",
                "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime", "nosymfollow",
                "symfollow",
        };
        /* ext4's journal_path, xfs's logdev, btrfs's device: looked up by the kernel, no Source check covers them. */
        static const char *const device_keys[] = { "journal_path", "journal_dev", "logdev", "rtdev", "device" };
        static const char *const source_key[] = { "source" };
        size_t key_length = strcspn(opt, "=");

        if (mount_option_key_is(opt, key_length, flag_words, sizeof flag_words / sizeof flag_words[0]))
                return MOUNT_OPTION_FLAG;
        if (mount_option_key_is(opt, key_length, source_key, 1))
                return MOUNT_OPTION_SOURCE;
        if (mount_option_key_is(opt, key_length, device_keys, sizeof device_keys / sizeof device_keys[0]))
                return MOUNT_OPTION_DEVICE;
        return MOUNT_OPTION_DATA;
}
