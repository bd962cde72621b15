/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mount flags a mount rule names (AllowedFlags, ForcedFlags), one table for the daemon and the client so
 * the two cannot disagree. relatime, MS_SILENT and MS_REC on binds need no name: they grant nothing. */
#pragma once

#include <stdbool.h>
#include <sys/mount.h>

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256 /* Linux 5.10 */
#endif

/* Entries of one 'as' key of a mount rule (AllowedFlags, ForcedFlags, Options): enough for any real list. */
#define RULE_STRV_MAX 64

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
