/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mount flags a mount rule names (AllowedFlags, ForcedFlags), one table for the daemon and the client so
 * the two cannot disagree. relatime, MS_SILENT and MS_REC on binds need no name: they grant nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/mount.h>

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256 /* Linux 5.10 */
#endif

/* The flags that are names in rules; the others a trapped call may carry only where the handler says. */
#define MOUNT_FLAGS_NAMED (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS | MS_DIRSYNC | \
                           MS_NOATIME | MS_NODIRATIME | MS_STRICTATIME | MS_LAZYTIME | MS_NOSYMFOLLOW)
/* What a mount rule forces when its ForcedFlags key is left out. */
#define MOUNT_FLAGS_FORCED_DEFAULT (MS_NOSUID | MS_NODEV)

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

/* What kind of option opt (KEY or KEY=VALUE) is, by its key. */
MountOptionKind mount_option_kind(const char *opt);

/* The table's entry for a flag name, or NULL. */
const MountFlagName *mount_flag_lookup(const char *name);
/* Mount flags by name ("nosuid" → MS_NOSUID): the names AllowedFlags and ForcedFlags take; 0 for none. */
unsigned long mount_flag_from_string(const char *name);
/* Whether a rule may force flag (a per-mount flag; the others belong to the superblock). */
bool mount_flag_is_forcible(unsigned long flag);
/* The names of the flags set in flags, joined with ',' into buf. */
const char *mount_flags_to_string(unsigned long flags, char *buf, size_t size);
/* "ro, nosuid, ..." of every name (or only the forcible ones) into buf, for error messages. */
const char *mount_flag_list(bool forcible, char *buf, size_t size);
