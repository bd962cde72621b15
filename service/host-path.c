/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Safe resolution of host paths (see host-path.h). Each component is opened on its own with openat2() below
 * the directory reached so far, never following anything (RESOLVE_NO_SYMLINKS, O_NOFOLLOW): a symlink comes
 * back as itself, is judged, and only then its target is walked the same way. What the walk holds at every
 * step is an fd, so a rename or a swap behind it changes nothing already passed. */

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#include "host-path.h"
#include "macro.h"
#include "fs-util.h"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

/* Only root may have put this link where it is, and only root can change it: the ownership of both is what
 * the filesystem says, so not on a FUSE mount, whose owner says what it likes; and never a magic link. */
static bool symlink_is_safe(int link_fd, const struct stat *link, uint64_t link_mnt_id, const struct stat *dir) {
        struct statfs sf;

        if (link->st_uid != 0 || dir->st_uid != 0 || (dir->st_mode & 0022))
                return false;
        if (fd_stat_is_on_procfs(link_fd, link, link_mnt_id))
                return false;
        return fstatfs(link_fd, &sf) >= 0 && sf.f_type != FUSE_SUPER_MAGIC;
}

/* Whether only root can have put the name the walk takes next in this directory (a rename needs no right on
 * what is renamed, only on both directories): the directory is root's and writable by no group or others
 * (a user's ACL shows as the group's bits). In a sticky one, such as /tmp, anyone may add a name but not
 * replace another's: a directory of root's alone there is still root's doing, as moving a directory takes
 * the right to write it; a file there is not (next_is_dir false). */
static bool name_is_roots_doing(const struct stat *dir, bool next_is_dir) {
        if (dir->st_uid != 0)
                return false;
        if (!(dir->st_mode & 0022))
                return true;
        return next_is_dir && (dir->st_mode & S_ISVTX);
}

/* The directory at done ("/a/b" below root, every component a directory, no symlink, "" for root itself):
 * walked down again from root, for a ".." in a link's target or the caller's path. RESOLVE_BENEATH and no
 * symlinks keep it below root whatever was renamed meanwhile. */
static int reopen_done(int root, const char *done, int *ret, struct stat *ret_st) {
        struct open_how how = {
                .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd;

        fd = (int) syscall(SYS_openat2, root, done[0] ? done + 1 : ".", &how, sizeof how);
        if (fd < 0)
                return -errno;
        if (fstat(fd, ret_st) < 0) {
                int r = -errno;
                safe_close(fd);
                return r;
        }
        safe_close(*ret);
        *ret = fd;
        return 0;
}

/* The walk of host_path_open_in_root() (beneath false: root is "/", ".." stops there, an absolute target
 * starts there again) and of host_path_open_beneath() (beneath true: either is an escape, -EXDEV). */
static int walk(int root, const char *path, bool beneath, HostPathFlags flags, int *ret_fd,
                HostPathUnsafe *ret_unsafe) {
        struct open_how how = {
                .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                /* One component, below dir, and whatever it is, it is not followed. */
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        _cleanup_close_ int dir = -EBADF;
        /* What is left to walk, and what was walked (the path of dir below root, "" for root itself). */
        char todo[PATH_MAX * 2 + 2], done[PATH_MAX], target[PATH_MAX];
        size_t done_len = 0;
        struct stat dir_st;
        unsigned followed = 0;
        bool others_write = false;

        if (strlen(path) >= PATH_MAX)
                return -ENAMETOOLONG;

        /* The common case first, in one lookup: no symlink anywhere on the path, so nothing to judge. Any
         * other answer than ELOOP is what the walk below would meet too; EXDEV is a ".." above root, EAGAIN
         * a rename the kernel saw racing with a "..": the walk takes its own time over that. */
        struct open_how direct = {
                .flags = O_PATH | O_CLOEXEC,
                .resolve = (beneath ? RESOLVE_BENEATH : RESOLVE_IN_ROOT) | RESOLVE_NO_SYMLINKS |
                           RESOLVE_NO_MAGICLINKS,
        };
        /* Who may write the directories on the way is only seen by walking them one by one. */
        if (!(flags & HOST_PATH_CHECK_WRITERS)) {
                dir = (int) syscall(SYS_openat2, root, path[0] ? path : ".", &direct, sizeof direct);
                if (dir >= 0) {
                        *ret_fd = TAKE_FD(dir);
                        return 0;
                }
                if (errno != ELOOP && errno != EAGAIN)
                        return -errno;
        }

        dir = fcntl(root, F_DUPFD_CLOEXEC, 3);
        if (dir < 0 || fstat(dir, &dir_st) < 0)
                return -errno;
        snprintf(todo, sizeof todo, "%s", path);
        done[0] = 0;

        for (char *p = todo;;) {
                char name[NAME_MAX + 1];
                const char *end;
                struct stat st;
                uint64_t mnt_id;
                size_t l;
                ssize_t n;
                int fd, r;

                while (*p == '/')
                        p++;
                if (*p == 0)
                        break;
                end = strchrnul(p, '/');
                l = (size_t) (end - p);
                if (l > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(name, p, l);
                name[l] = 0;
                p += l;
                if (streq(name, "."))
                        continue;
                if (streq(name, "..")) {
                        /* Up one by name from root, never by the directory's own "..": that leads wherever
                         * the directory was moved to since. */
                        char *slash = strrchr(done, '/');

                        if (!slash) {
                                if (beneath)
                                        return -EXDEV;
                                continue; /* "/.." is "/" */
                        }
                        *slash = 0;
                        done_len = (size_t) (slash - done);
                        r = reopen_done(root, done, &dir, &dir_st);
                        if (r < 0)
                                return r;
                        continue;
                }

                fd = (int) syscall(SYS_openat2, dir, name, &how, sizeof how);
                if (fd < 0)
                        return -errno;
                r = fd_stat(fd, &st, &mnt_id);
                if (r < 0) {
                        safe_close(fd);
                        return r;
                }

                if (!S_ISLNK(st.st_mode)) {
                        /* More components, or a trailing slash: only a directory has them. */
                        if (*p != 0 && !S_ISDIR(st.st_mode)) {
                                safe_close(fd);
                                return -ENOTDIR;
                        }
                        if (done_len + 1 + l >= sizeof done) {
                                safe_close(fd);
                                return -ENAMETOOLONG;
                        }
                        done[done_len++] = '/';
                        memcpy(done + done_len, name, l + 1);
                        done_len += l;
                        /* A directory walked into, or what the walk ends at (counted as a file even when a
                         * directory: it is no longer just on the way). */
                        if (!name_is_roots_doing(&dir_st, S_ISDIR(st.st_mode) && *p != 0 && st.st_uid == 0 &&
                                                          !(st.st_mode & 0022)))
                                others_write = true;
                        safe_close(dir);
                        dir = fd;
                        dir_st = st;
                        continue;
                }

                /* The last component, not followed by a slash: that would ask for a directory, and follow
                 * even under O_NOFOLLOW, as the kernel does. */
                if (*p == 0 && (flags & HOST_PATH_NOFOLLOW)) {
                        safe_close(fd);
                        return -ELOOP;
                }
                if (++followed > HOST_PATH_SYMLINKS_MAX) {
                        safe_close(fd);
                        return -ELOOP;
                }
                if (!symlink_is_safe(fd, &st, mnt_id, &dir_st)) {
                        if (ret_unsafe) {
                                snprintf(ret_unsafe->path, sizeof ret_unsafe->path, "%s/%s", done, name);
                                ret_unsafe->uid = st.st_uid;
                                ret_unsafe->dir_uid = dir_st.st_uid;
                                ret_unsafe->dir_mode = dir_st.st_mode & 07777;
                        }
                        safe_close(fd);
                        return -ENOLINK;
                }
                n = readlinkat(fd, "", target, sizeof target);
                r = n < 0 ? -errno : 0;
                safe_close(fd);
                if (r < 0)
                        return r;
                if ((size_t) n >= sizeof target)
                        return -ENAMETOOLONG;
                if (n == 0)
                        return -ENOENT;
                target[n] = 0;

                /* An absolute target was written for the host's "/": below a directory it would name another
                 * file than its author meant, and at "/" it leaves. */
                if (target[0] == '/' && beneath)
                        return -EXDEV;

                /* The link's target, then what was left after the link: nothing, or from its '/' on. */
                if (strlen(p) + (size_t) n + 1 > sizeof todo)
                        return -ENAMETOOLONG;
                memmove(todo + n, p, strlen(p) + 1);
                memcpy(todo, target, (size_t) n);
                p = todo;
                if (target[0] == '/') {
                        done[0] = 0;
                        done_len = 0;
                        r = reopen_done(root, done, &dir, &dir_st);
                        if (r < 0)
                                return r;
                }
        }

        *ret_fd = TAKE_FD(dir);
        return (flags & HOST_PATH_CHECK_WRITERS) && others_write ? 1 : 0;
}

int host_path_open_in_root(int root, const char *path, HostPathFlags flags, int *ret_fd,
                           HostPathUnsafe *ret_unsafe) {
        if (root < 0)
                root = broker_root_dir();
        if (root < 0)
                return -EBADF;
        if (!path || path[0] != '/' || path_has_dot_dot(path))
                return -EINVAL;
        return walk(root, path, false, flags, ret_fd, ret_unsafe);
}

int host_path_open(const char *path, HostPathFlags flags, int *ret_fd, HostPathUnsafe *ret_unsafe) {
        return host_path_open_in_root(-EBADF, path, flags, ret_fd, ret_unsafe);
}

int host_path_open_beneath(int dir_fd, const char *path, HostPathFlags flags, int *ret_fd,
                           HostPathUnsafe *ret_unsafe) {
        if (dir_fd < 0)
                return -EBADF;
        if (!path || path[0] == '/')
                return -EINVAL;
        return walk(dir_fd, path, true, flags, ret_fd, ret_unsafe);
}

int host_path_same_in_root(int root, const char *path, const struct stat *st, bool directory,
                           HostPathUnsafe *ret_unsafe) {
        _cleanup_close_ int fd = -EBADF;
        struct stat host;
        uint64_t mnt_id;
        int r;

        r = host_path_open_in_root(root, path, 0, &fd, ret_unsafe);
        if (r < 0)
                return r;
        r = fd_stat(fd, &host, &mnt_id);
        if (r < 0)
                return r;
        if (directory)
                return S_ISDIR(host.st_mode) && host.st_dev == st->st_dev && host.st_ino == st->st_ino;
        if ((host.st_mode & S_IFMT) != (st->st_mode & S_IFMT))
                return 0;
        if (S_ISCHR(host.st_mode) || S_ISBLK(host.st_mode))
                return host.st_rdev == st->st_rdev;
        return host.st_dev == st->st_dev && host.st_ino == st->st_ino;
}

int host_path_same(const char *path, const struct stat *st, bool directory, HostPathUnsafe *ret_unsafe) {
        return host_path_same_in_root(-EBADF, path, st, directory, ret_unsafe);
}
