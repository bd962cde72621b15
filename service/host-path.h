/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host paths a rule names or the broker compares against, resolved in the broker's own view one component at
 * a time, following a symlink only where nobody but root could have put it there (systemd's "safe
 * transition" rule): the link and the directory holding it belong to root, that directory is writable by no
 * one else (a sticky world-writable /tmp is not safe), and the link is neither a magic link (procfs) nor on a
 * FUSE mount (whose owner makes up the ownership it reports). ".." is only met in such a link's target and
 * never climbs above the broker's root. The same walk resolves below another root (a listener's, whose "/" it
 * is) and beneath a directory (a mapping's), which nothing leaves. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

/* At most this many symlinks on the way, as the kernel's path walk: more is ELOOP. */
#define HOST_PATH_SYMLINKS_MAX 40

typedef enum HostPathFlags {
        HOST_PATH_NOFOLLOW = 1 << 0, /* a symlink as the last component is not followed: ELOOP (O_NOFOLLOW) */
        /* Returns 1 rather than 0 if a name on the way, the last one included, is in a directory (the
         * starting one included) that is not root's alone (another owner, or writable by group or others;
         * in a sticky one, only a directory of root's alone counts as root's): someone else may have put
         * the file there, by a rename or a link, whatever its owner and mode (HostPath, handle-open.c). */
        HOST_PATH_CHECK_WRITERS = 1 << 1,
} HostPathFlags;

/* Where a resolution refused a symlink, for the log. */
typedef struct HostPathUnsafe {
        char path[PATH_MAX];       /* the symlink, "/…" below the root or directory the walk started at */
        uid_t uid;                 /* its owner */
        uid_t dir_uid;             /* the owner of the directory holding it */
        mode_t dir_mode;           /* that directory's permission bits */
} HostPathUnsafe;

/* Opens the absolute path (no ".." components) as O_PATH in the broker's own view, whatever root the thread
 * is chrooted into, with the thread's current credentials: their search permissions apply on the way.
 * -ENOLINK if an unsafe symlink is on the way (*ret_unsafe says which, if given), -ELOOP for too many symlinks
 * or a last one under HOST_PATH_NOFOLLOW, -EINVAL for a relative path or one with "..", else the -errno the
 * walk met; 1 for a success under HOST_PATH_CHECK_WRITERS through a directory not root's alone. */
int host_path_open(const char *path, HostPathFlags flags, int *ret_fd, HostPathUnsafe *ret_unsafe);
/* The same in the view whose "/" is the directory root (O_PATH is enough; negative: the broker's root): ".."
 * in a link's target stops at it, an absolute target starts there again. A listener's root (listener.h). */
int host_path_open_in_root(int root, const char *path, HostPathFlags flags, int *ret_fd,
                           HostPathUnsafe *ret_unsafe);
/* Opens the relative path (empty: dir_fd itself) beneath the directory dir_fd as O_PATH, by the same rule,
 * and nothing leaves that directory: a ".." above it, in path or in a link's target, and a link with an
 * absolute target are -EXDEV, an escape (an absolute target was written for the host's "/": below the
 * directory it would name another file than its author meant, and at "/" it would leave). ".." within is
 * followed, by name from dir_fd, never above it. -EINVAL for an absolute path; else as host_path_open(). */
int host_path_open_beneath(int dir_fd, const char *path, HostPathFlags flags, int *ret_fd,
                           HostPathUnsafe *ret_unsafe);

/* Is st (found at path in a target's view; with directory, the directory a new name at path goes in, path
 * being that directory's) the file the broker finds at path, resolved as above? A device node is its device,
 * wherever the node itself lives. 1 if it is, 0 if not, -ENOLINK (and *ret_unsafe) for an unsafe symlink on
 * the way, or another -errno when the broker finds nothing there. */
int host_path_same(const char *path, const struct stat *st, bool directory, HostPathUnsafe *ret_unsafe);
/* The same, path resolved in the view whose "/" is root (host_path_open_in_root()). */
int host_path_same_in_root(int root, const char *path, const struct stat *st, bool directory,
                           HostPathUnsafe *ret_unsafe);
