/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper for the integration suite: mount(2) and umount2(2) called directly. util-linux mount and
 * umount refuse a non-root caller in userspace before any system call is made, so a plain unprivileged
 * process needs this to reach the kernel (and the broker's filter) at all; it also lets a test pass flag
 * combinations (remount without nodev, a non-recursive bind) that the tools would rewrite.
 *
 *   sb-mount mount SOURCE TARGET FSTYPE FLAGS DATA
 *   sb-mount umount TARGET [FLAGS]
 *   sb-mount clear TARGET FLAGS     mount_setattr(2) clearing ro,nosuid,nodev,noexec (not trapped: the kernel
 *                                   alone decides, as for a sandbox that calls it)
 *
 * SOURCE, FSTYPE and DATA of '-' pass NULL; FLAGS is a comma-separated list of names (ro,nosuid,bind,...)
 * or '-' for none. Success prints nothing and exits 0; a failed call prints the errno name ("EPERM") and
 * exits 1, so a script can compare the exact errno; a usage error exits 2. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#include "macro.h"

/* Debian 12's glibc headers predate it (Linux 5.10). */
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

typedef struct FlagName {
        const char *name;
        unsigned long flag;
} FlagName;

static const FlagName mount_flag_names[] = {
        { "ro",          MS_RDONLY      },
        { "nosuid",      MS_NOSUID      },
        { "nodev",       MS_NODEV       },
        { "noexec",      MS_NOEXEC      },
        { "sync",        MS_SYNCHRONOUS },
        { "remount",     MS_REMOUNT     },
        { "mandlock",    MS_MANDLOCK    },
        { "dirsync",     MS_DIRSYNC     },
        { "nosymfollow", MS_NOSYMFOLLOW },
        { "noatime",     MS_NOATIME     },
        { "nodiratime",  MS_NODIRATIME  },
        { "bind",        MS_BIND        },
        { "move",        MS_MOVE        },
        { "rec",         MS_REC         },
        { "silent",      MS_SILENT      },
        { "unbindable",  MS_UNBINDABLE  },
        { "private",     MS_PRIVATE     },
        { "slave",       MS_SLAVE       },
        { "shared",      MS_SHARED      },
        { "relatime",    MS_RELATIME    },
        { "strictatime", MS_STRICTATIME },
        { "lazytime",    MS_LAZYTIME    },
};

static const FlagName umount_flag_names[] = {
        { "force",    MNT_FORCE       },
        { "detach",   MNT_DETACH      },
        { "expire",   MNT_EXPIRE      },
        { "nofollow", UMOUNT_NOFOLLOW },
};

/* "a,b,c" → the OR of their values; '-' or "" → 0. */
static int parse_flags(const char *s, const FlagName *names, size_t n_names, unsigned long *ret) {
        unsigned long flags = 0;
        const char *p = s;

        if (streq(s, "-")) {
                *ret = 0;
                return 0;
        }

        while (*p) {
                size_t len = strcspn(p, ",");
                bool found = false;

                for (size_t i = 0; i < n_names; i++)
                        if (strlen(names[i].name) == len && strncmp(names[i].name, p, len) == 0) {
                                flags |= names[i].flag;
                                found = true;
                                break;
                        }
                if (!found && len > 0) {
                        fprintf(stderr, "sb-mount: unknown flag '%.*s'\n", (int) len, p);
                        return -EINVAL;
                }
                p += len;
                if (*p == ',')
                        p++;
        }
        *ret = flags;
        return 0;
}

static const char *arg_or_null(const char *s) {
        return streq(s, "-") ? NULL : s;
}

static int report(int r) {
        if (r >= 0)
                return 0;
        printf("%s\n", strerrorname_np(errno) ?: "unknown");
        return 1;
}

static const FlagName attr_flag_names[] = {
        { "ro",     MOUNT_ATTR_RDONLY },
        { "nosuid", MOUNT_ATTR_NOSUID },
        { "nodev",  MOUNT_ATTR_NODEV  },
        { "noexec", MOUNT_ATTR_NOEXEC },
};

int main(int argc, char **argv) {
        unsigned long flags;

        if (argc == 7 && streq(argv[1], "mount")) {
                if (parse_flags(argv[5], mount_flag_names, ELEMENTSOF(mount_flag_names), &flags) < 0)
                        return 2;
                return report(mount(arg_or_null(argv[2]), argv[3], arg_or_null(argv[4]), flags,
                                    arg_or_null(argv[6])));
        }
        if ((argc == 3 || argc == 4) && streq(argv[1], "umount")) {
                if (parse_flags(argc == 4 ? argv[3] : "-", umount_flag_names, ELEMENTSOF(umount_flag_names),
                                &flags) < 0)
                        return 2;
                return report(umount2(argv[2], (int) flags));
        }

        if (argc == 4 && streq(argv[1], "clear")) {
                struct mount_attr attr = {};

                if (parse_flags(argv[3], attr_flag_names, ELEMENTSOF(attr_flag_names), &flags) < 0)
                        return 2;
                attr.attr_clr = flags;
                return report((int) syscall(SYS_mount_setattr, AT_FDCWD, argv[2], 0, &attr, sizeof attr));
        }

        fprintf(stderr,
                "Usage: sb-mount mount SOURCE|- TARGET FSTYPE|- FLAGS|- DATA|-\n"
                "       sb-mount umount TARGET [force,detach,expire,nofollow]\n"
                "       sb-mount clear TARGET ro,nosuid,nodev,noexec\n");
        return 2;
}
