/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's own view of the file system and of /proc: its root and /proc opened at startup, what an fd
 * is (path, stat, mount, procfs or not), reopening it, and whom a caller's user namespace charges. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "macro.h"

/* Process-wide, once, before any listener thread (target_setup_process() does it). */
int fs_setup_process(void);
/* Per listener thread, at its start and end (target_setup_thread(), target_finish_thread()). */
void fs_setup_thread(void);
void fs_finish_thread(void);
/* In a child forked by a listener thread: the thread's fd directory is not the child's. */
void fs_forget_thread_in_child(void);

/* Our /proc, opened at startup: what a sandbox later mounts over /proc (in our namespace) does not change it. */
int broker_proc_dir(void);
/* The broker's own root, opened at startup (-EBADF before): where host paths are resolved (host-path.h). */
int broker_root_dir(void);

/* The inode of the broker's user namespace (0 before fs_setup_process()). */
ino_t broker_userns_inode(void);

/* Whom the limits per user charge for a caller (pid, with uid in our namespace): uid itself, or, for a process
 * in a user namespace below ours, the owner of the outermost one, unless that is root (a container's uids
 * are its own tenants). A user's subordinate uids (newuidmap) are that user's. uid if it cannot be told. */
uid_t account_uid_of(pid_t pid, uid_t uid);

/* fstat() of fd, and the unique id of its mount (0 before Linux 6.8): one statx(). */
int fd_stat(int fd, struct stat *ret, uint64_t *ret_mnt_id);
/* On a procfs, any instance (fd, its stat and mount id from fd_stat()): every one of them that shows the
 * broker's pid namespace has the broker's own /proc/<pid> (as "self" too), and a file there reopened by a
 * listener thread passes the kernel's ptrace check, the thread being the broker's. The mount's kind is asked
 * once per mount (fstatfs), when its id is unique; true if it cannot be told. */
bool fd_stat_is_on_procfs(int fd, const struct stat *st, uint64_t mnt_id);
/* The same, for an fd not yet stat'ed: true also if it cannot be. */
bool fd_is_on_procfs(int fd);
/* The unique id of the mount "fd/name" is on, and whether it is that mount's root. -EOPNOTSUPP before
 * Linux 6.8 (no STATX_MNT_ID_UNIQUE). */
int fd_mount_id(int fd, const char *name, int flags, uint64_t *ret_id, bool *ret_is_mount_root);
/* Whether mount mnt_id still exists in mount namespace mntns_id: 0 gone (or the namespace is), 1 there,
 * -errno when it cannot be told (before Linux 6.11). */
int mount_exists(uint64_t mnt_id, uint64_t mntns_id);

/* A /proc link naming a path, as seen from this thread's root: -ENOENT if not absolute (outside that root)
 * or deleted, since neither names anything a rule could mean. */
int read_path_link(int dir_fd, const char *name, char **ret);

/* Opens the file an O_PATH fd refers to again, with flags, through our /proc (the magic link of the fd):
 * what the fd pins is what is opened. Sets errno, returns the fd or -1. */
int fd_reopen(int fd, int flags);

/* The absolute path of an fd as seen from the current root (the target's, after target_enter_dirs()). */
int fd_get_path(int fd, char **ret);

/* Whether path has a ".." component (what "a/../b" climbs, not "a..b"). */
bool path_has_dot_dot(const char *path);

/* Whether path (absolute, in the broker's view, taken literally: no symlink is followed) is on a FUSE mount or
 * below one, by the broker's mount table: 1 or 0, or -errno. For paths a user names that the main loop walks
 * before anything else: a FUSE server that never answers a lookup would hold the main loop, and every caller
 * with it, without this being asked first. */
int path_under_fuse_mount(const char *path);
