/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lookups in the mount-flag table and the kinds of mount options, as the client and the daemon both check
 * a mount rule's AllowedFlags, ForcedFlags and Options. */

#include <assert.h>

#include "macro.h"
#include "mount-flags.h"

static bool mount_option_key_is(const char *opt, size_t key_length, const char *const *words, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strlen(words[i]) == key_length && strncmp(opt, words[i], key_length) == 0)
                        return true;
        return false;
}

MountOptionKind mount_option_kind(const char *opt) {
        static const char *const flag_words[] = {
                "ro", "rw", "sync", "async", "dirsync", "lazytime", "nolazytime", "mand", "nomand",
                "posixacl", "noposixacl", "silent", "loud", "bind", "rbind", "defaults", "remount", "move",
                "exec", "noexec", "suid", "nosuid", "dev", "nodev", "atime", "noatime", "diratime",
                "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime", "nosymfollow",
                "symfollow",
        };
        /* ext4's journal_path, xfs's logdev, btrfs's device: looked up by the kernel, no Source check covers
         * them. */
        static const char *const device_keys[] = {
                "journal_path", "journal_dev", "logdev", "rtdev", "device",
        };
        static const char *const source_key[] = { "source" };
        size_t key_length = strcspn(opt, "=");

        if (mount_option_key_is(opt, key_length, flag_words, ELEMENTSOF(flag_words)))
                return MOUNT_OPTION_FLAG;
        if (mount_option_key_is(opt, key_length, source_key, ELEMENTSOF(source_key)))
                return MOUNT_OPTION_SOURCE;
        if (mount_option_key_is(opt, key_length, device_keys, ELEMENTSOF(device_keys)))
                return MOUNT_OPTION_DEVICE;
        return MOUNT_OPTION_DATA;
}

const MountFlagName *mount_flag_lookup(const char *name) {
        assert(name);

        for (size_t i = 0; i < ELEMENTSOF(mount_flag_names); i++)
                if (streq(name, mount_flag_names[i].name))
                        return &mount_flag_names[i];
        return NULL;
}

unsigned long mount_flag_from_string(const char *name) {
        const MountFlagName *f = mount_flag_lookup(name);

        return f ? f->flag : 0;
}

bool mount_flag_is_forcible(unsigned long flag) {
        for (size_t i = 0; i < ELEMENTSOF(mount_flag_names); i++)
                if (mount_flag_names[i].flag == flag)
                        return mount_flag_names[i].forcible;
        return false;
}

const char *mount_flags_to_string(unsigned long flags, char *buf, size_t size) {
        size_t n = 0;

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(mount_flag_names) && n < size; i++)
                if (flags & mount_flag_names[i].flag)
                        n += (size_t) snprintf(buf + n, size - n, "%s%s", n > 0 ? "," : "",
                                               mount_flag_names[i].name);
        return buf;
}

const char *mount_flag_list(bool forcible, char *buf, size_t size) {
        assert(buf);
        assert(size > 0);

        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(mount_flag_names); i++)
                if (!forcible || mount_flag_names[i].forcible) {
                        size_t l = strlen(buf);
                        (void) snprintf(buf + l, size - l, "%s%s", l > 0 ? ", " : "",
                                        mount_flag_names[i].name);
                }
        return buf;
}
