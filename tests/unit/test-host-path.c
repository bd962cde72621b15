/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The safe host path resolver on a tree made for each test: which symlinks it follows (root's, in root's
 * directories writable by no one else) and which it refuses, with where and whose; ".." only from a link
 * and never above the root; loops; O_NOFOLLOW; the host comparison built on it; and the same walk in another
 * root and beneath a directory, which nothing leaves. What needs files of
 * root's (chown) runs only as root, as the suite does in CI. */

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host-path.h"
#include "macro.h"
#include "target.h"
#include "unit.h"

static char base[PATH_MAX];

static void make_tree(void) {
        char p[PATH_MAX + 64];
        int fd;

        snprintf(base, sizeof base, "/tmp/test-host-path.XXXXXX");
        CHECK(mkdtemp(base));
        CHECK(chmod(base, 0755) == 0);
        snprintf(p, sizeof p, "%s/dir", base);
        CHECK(mkdir(p, 0755) == 0);
        snprintf(p, sizeof p, "%s/dir/file", base);
        fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        safe_close(fd);
        snprintf(p, sizeof p, "%s/sticky", base);
        CHECK(mkdir(p, 01777) == 0);
        CHECK(chmod(p, 01777) == 0);
}

static void link_at(const char *target, const char *name, uid_t uid) {
        char p[PATH_MAX + 64];

        snprintf(p, sizeof p, "%s/%s", base, name);
        CHECK(symlink(target, p) == 0);
        if (uid != geteuid())
                CHECK(lchown(p, uid, (gid_t) -1) == 0);
}

static void remove_tree(void) {
        char cmd[PATH_MAX + 32];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        CHECK(system(cmd) == 0);
}

/* Resolves base/name: the errno, or 0 and whether it is base/dir/file. */
static int resolve_at(const char *name, HostPathFlags flags, bool *ret_is_file, HostPathUnsafe *unsafe) {
        char p[PATH_MAX * 2 + 64], file[PATH_MAX + 64];
        struct stat a, b;
        int fd, r;

        snprintf(p, sizeof p, "%s/%s", base, name);
        snprintf(file, sizeof file, "%s/dir/file", base);
        r = host_path_open(p, flags, &fd, unsafe);
        if (r < 0)
                return r;
        *ret_is_file = fstat(fd, &a) == 0 && stat(file, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
        safe_close(fd);
        return 0;
}

static void test_plain_paths_and_bad_input(void) {
        HostPathUnsafe unsafe;
        bool is_file = false;
        int fd;

        make_tree();
        CHECK(resolve_at("dir/file", 0, &is_file, NULL) == 0 && is_file);
        CHECK(resolve_at("dir//./file", 0, &is_file, NULL) == 0 && is_file);
        CHECK(resolve_at("dir/none", 0, &is_file, NULL) == -ENOENT);
        CHECK(resolve_at("dir/file/more", 0, &is_file, NULL) == -ENOTDIR);
        /* The caller's own ".." is refused: only a safe link's target may hold one. */
        CHECK(resolve_at("dir/../dir/file", 0, &is_file, &unsafe) == -EINVAL);
        CHECK(host_path_open("relative/path", 0, &fd, NULL) == -EINVAL);
        remove_tree();
}

static void test_links_anyone_but_root_could_place_are_refused(void) {
        HostPathUnsafe unsafe = {};
        bool is_file = false;
        char expected[PATH_MAX + 64];

        make_tree();
        /* As root, the link is given to nobody; otherwise it is the caller's own, which is not root's. */
        link_at("file", "dir/users", geteuid() == 0 ? 65534 : geteuid());
        CHECK(resolve_at("dir/users", 0, &is_file, &unsafe) == -ENOLINK);
        snprintf(expected, sizeof expected, "%s/dir/users", base);
        CHECK_STREQ(unsafe.path, expected);
        CHECK(unsafe.uid == (geteuid() == 0 ? 65534 : geteuid()));
        /* On the way, not only at the end. */
        link_at("dir", "dirlink", geteuid() == 0 ? 65534 : geteuid());
        CHECK(resolve_at("dirlink/file", 0, &is_file, &unsafe) == -ENOLINK);
        snprintf(expected, sizeof expected, "%s/dirlink", base);
        CHECK_STREQ(unsafe.path, expected);
        /* procfs: "self" there is the resolver itself. */
        CHECK(host_path_open("/proc/self/status", 0, &(int) { -1 }, &unsafe) == -ENOLINK);
        CHECK_STREQ(unsafe.path, "/proc/self");
        remove_tree();
}

static void test_roots_links_in_roots_directories(void) {
        HostPathUnsafe unsafe = {};
        bool is_file = false;
        char target[PATH_MAX + 64];

        if (geteuid() != 0) {
                printf("# skipped: needs root (links and directories of root's)\n");
                return;
        }
        make_tree();
        snprintf(target, sizeof target, "%s/dir/file", base);
        link_at(target, "dir/abs", 0);
        link_at("../dir/file", "dir/rel", 0);
        link_at("../../../../../../../../../../../..", "dir/up", 0);
        link_at("loop2", "dir/loop1", 0);
        link_at("loop1", "dir/loop2", 0);
        link_at(target, "sticky/roots", 0);

        CHECK(resolve_at("dir/abs", 0, &is_file, &unsafe) == 0 && is_file);
        CHECK(resolve_at("dir/rel", 0, &is_file, &unsafe) == 0 && is_file);
        /* Above the root there is nothing: ".." stays at the root, and the rest of the path is below it. */
        snprintf(target, sizeof target, "dir/up%s/dir/file", base);
        CHECK(resolve_at(target, 0, &is_file, &unsafe) == 0 && is_file);
        CHECK(resolve_at("dir/loop1", 0, &is_file, &unsafe) == -ELOOP);
        CHECK(resolve_at("dir/abs", HOST_PATH_NOFOLLOW, &is_file, &unsafe) == -ELOOP);
        /* A trailing slash asks for a directory: followed even so (and then not one). */
        CHECK(resolve_at("dir/abs/", HOST_PATH_NOFOLLOW, &is_file, &unsafe) == -ENOTDIR);
        /* Root's link, but in a sticky world-writable directory. */
        CHECK(resolve_at("sticky/roots", 0, &is_file, &unsafe) == -ENOLINK);
        CHECK(unsafe.uid == 0 && unsafe.dir_mode == 01777);
        remove_tree();
}

static void test_same_as_the_host(void) {
        char p[PATH_MAX + 64];
        struct stat st, dir;

        make_tree();
        snprintf(p, sizeof p, "%s/dir/file", base);
        CHECK(stat(p, &st) == 0);
        CHECK(host_path_same(p, &st, false, NULL) == 1);
        snprintf(p, sizeof p, "%s/dir", base);
        CHECK(stat(p, &dir) == 0);
        CHECK(host_path_same(p, &dir, true, NULL) == 1);
        CHECK(host_path_same(p, &st, true, NULL) == 0);
        snprintf(p, sizeof p, "%s/dir/file", base);
        CHECK(host_path_same(p, &dir, false, NULL) == 0);
        CHECK(stat("/dev/null", &st) == 0);
        CHECK(host_path_same("/dev/null", &st, false, NULL) == 1);
        remove_tree();
}

/* A listener whose "/" is base: "the host's file at /dir/file" is base/dir/file, not the broker's /dir/file. */
static void test_same_in_another_root(void) {
        _cleanup_close_ int root = -EBADF;
        char p[PATH_MAX + 64];
        struct stat st, dir;

        make_tree();
        root = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(root >= 0);
        snprintf(p, sizeof p, "%s/dir/file", base);
        CHECK(stat(p, &st) == 0);
        snprintf(p, sizeof p, "%s/dir", base);
        CHECK(stat(p, &dir) == 0);
        CHECK(host_path_same_in_root(root, "/dir/file", &st, false, NULL) == 1);
        CHECK(host_path_same_in_root(root, "/dir", &dir, true, NULL) == 1);
        CHECK(host_path_same_in_root(root, "/dir", &st, true, NULL) == 0);
        /* The broker's own root does not have it there, and the path as the broker sees it is not below it. */
        CHECK(host_path_same_in_root(-EBADF, "/dir/file", &st, false, NULL) < 0);
        snprintf(p, sizeof p, "%s/dir/file", base);
        CHECK(host_path_same_in_root(root, p, &st, false, NULL) == -ENOENT);
        remove_tree();
}

/* Resolves name beneath base (or with "/" first, in the view whose root is base): the errno, or 0 and
 * whether it is base/dir/file. */
static int resolve_below(const char *name, bool in_root, bool *ret_is_file, HostPathUnsafe *unsafe) {
        _cleanup_close_ int root = -EBADF;
        char file[PATH_MAX + 64];
        struct stat a, b;
        int fd, r;

        root = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(root >= 0);
        snprintf(file, sizeof file, "%s/dir/file", base);
        r = in_root ? host_path_open_in_root(root, name, 0, &fd, unsafe) :
                      host_path_open_beneath(root, name, 0, &fd, unsafe);
        if (r < 0)
                return r;
        *ret_is_file = fstat(fd, &a) == 0 && stat(file, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
        safe_close(fd);
        return 0;
}

static void test_beneath_nothing_leaves_the_directory(void) {
        HostPathUnsafe unsafe = {};
        bool is_file = false;
        char p[PATH_MAX + 64];
        struct stat st;

        make_tree();
        CHECK(resolve_below("dir/file", false, &is_file, NULL) == 0 && is_file);
        CHECK(resolve_below("dir//./file", false, &is_file, NULL) == 0 && is_file);
        /* ".." within is followed; above the directory it is an escape, however it is spelled. */
        CHECK(resolve_below("dir/../dir/file", false, &is_file, NULL) == 0 && is_file);
        CHECK(resolve_below("..", false, &is_file, NULL) == -EXDEV);
        CHECK(resolve_below("dir/../../dir/file", false, &is_file, NULL) == -EXDEV);
        snprintf(p, sizeof p, "dir/../..%s/dir/file", base);
        CHECK(resolve_below(p, false, &is_file, NULL) == -EXDEV);
        CHECK(resolve_below("/dir/file", false, &is_file, NULL) == -EINVAL);
        CHECK(resolve_below("dir/none", false, &is_file, NULL) == -ENOENT);
        /* The empty path is the directory itself. */
        CHECK(resolve_below("", false, &is_file, NULL) == 0 && !is_file);
        CHECK(host_path_open_beneath(-EBADF, "dir/file", 0, &(int) { -1 }, NULL) == -EBADF);

        /* A user's link, pointing out or within, is never followed. */
        link_at("/etc/passwd", "dir/out", geteuid() == 0 ? 65534 : geteuid());
        CHECK(resolve_below("dir/out", false, &is_file, &unsafe) == -ENOLINK);
        CHECK_STREQ(unsafe.path, "/dir/out");
        link_at("file", "dir/users", geteuid() == 0 ? 65534 : geteuid());
        CHECK(resolve_below("dir/users", false, &is_file, &unsafe) == -ENOLINK);
        CHECK_STREQ(unsafe.path, "/dir/users");
        link_at(".", "sticky/dot", geteuid() == 0 ? 65534 : geteuid());
        CHECK(resolve_below("sticky/dot/../dir/file", false, &is_file, &unsafe) == -ENOLINK);
        snprintf(p, sizeof p, "%s/dir/out", base);
        CHECK(lstat(p, &st) == 0);
        remove_tree();
}

static void test_beneath_roots_links(void) {
        HostPathUnsafe unsafe = {};
        bool is_file = false;
        char target[PATH_MAX + 64];

        if (geteuid() != 0) {
                printf("# skipped: needs root (links and directories of root's)\n");
                return;
        }
        make_tree();
        snprintf(target, sizeof target, "%s/dir/file", base);
        link_at(target, "dir/abs", 0);
        link_at("/dir/file", "dir/abs-in-root", 0);
        link_at("../dir/file", "dir/rel", 0);
        link_at("../..", "dir/up", 0);
        link_at("../../../../../../../../../../../..", "dir/way-up", 0);
        link_at("../dir/loop", "dir/loop", 0);

        /* Root's link within the directory is followed, ".." in its target too while it stays within. */
        CHECK(resolve_below("dir/rel", false, &is_file, &unsafe) == 0 && is_file);
        /* An absolute target is an escape, even one that names a file within on the host. */
        CHECK(resolve_below("dir/abs", false, &is_file, &unsafe) == -EXDEV);
        CHECK(resolve_below("dir/abs-in-root", false, &is_file, &unsafe) == -EXDEV);
        /* Root's ".." out of the directory is an escape too. */
        CHECK(resolve_below("dir/up/dir/file", false, &is_file, &unsafe) == -EXDEV);
        CHECK(resolve_below("dir/loop", false, &is_file, &unsafe) == -ELOOP);

        /* In a view whose root is base: an absolute target starts at base, ".." stops there. */
        CHECK(resolve_below("/dir/abs-in-root", true, &is_file, &unsafe) == 0 && is_file);
        CHECK(resolve_below("/dir/way-up/dir/file", true, &is_file, &unsafe) == 0 && is_file);
        CHECK(resolve_below("/dir/abs", true, &is_file, &unsafe) == -ENOENT);
        CHECK(resolve_below("dir/file", true, &is_file, &unsafe) == -EINVAL);
        remove_tree();
}

/* Swaps base/m/d, a directory, with a symlink that leads out (as the user's, or root's), atomically, until
 * told to stop: whatever the walk meets, it must never come back with the file outside. */
typedef struct Swapper {
        int dir_fd;
        volatile bool stop;
        unsigned swaps;
} Swapper;

static void *swap_loop(void *userdata) {
        Swapper *w = userdata;

        while (!w->stop)
                if (renameat2(w->dir_fd, "d", w->dir_fd, "swap", RENAME_EXCHANGE) == 0)
                        w->swaps++;
        return NULL;
}

static void race_against_swaps(uid_t link_owner, int expected_refusal) {
        _cleanup_close_ int m = -EBADF;
        char p[PATH_MAX + 64];
        struct stat inside, outside, st;
        unsigned refused = 0, found = 0;
        Swapper w = {};
        pthread_t thread;
        int fd;

        make_tree();
        snprintf(p, sizeof p, "%s/m", base);
        CHECK(mkdir(p, 0755) == 0);
        snprintf(p, sizeof p, "%s/m/d", base);
        CHECK(mkdir(p, 0755) == 0);
        snprintf(p, sizeof p, "%s/m/d/file", base);
        safe_close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        CHECK(stat(p, &inside) == 0);
        snprintf(p, sizeof p, "%s/dir/file", base);
        CHECK(stat(p, &outside) == 0);
        link_at("../dir", "m/swap", link_owner);
        snprintf(p, sizeof p, "%s/m", base);
        m = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(m >= 0);

        w.dir_fd = m;
        CHECK(pthread_create(&thread, NULL, swap_loop, &w) == 0);
        for (unsigned i = 0; i < 20000 && !unit_failed; i++) {
                int r = host_path_open_beneath(m, "d/file", 0, &fd, NULL);

                if (r == expected_refusal || r == -ENOENT) {
                        refused++;
                        continue;
                }
                CHECK(r == 0);
                if (r < 0)
                        break;
                CHECK(fstat(fd, &st) == 0);
                CHECK(!(st.st_dev == outside.st_dev && st.st_ino == outside.st_ino));
                found += st.st_dev == inside.st_dev && st.st_ino == inside.st_ino;
                safe_close(fd);
        }
        w.stop = true;
        CHECK(pthread_join(thread, NULL) == 0);
        printf("# %u swaps: %u times the file within, %u refused\n", w.swaps, found, refused);
        CHECK(w.swaps > 0);
        remove_tree();
}

static void test_beneath_symlink_swaps_mid_walk(void) {
        /* The user's link is unsafe, root's leads out: either is refused, never followed out. */
        race_against_swaps(geteuid() == 0 ? 65534 : geteuid(), -ENOLINK);
        if (geteuid() == 0)
                race_against_swaps(0, -EXDEV);
}

/* HOST_PATH_CHECK_WRITERS: 1 if a directory on the way, the starting one included, is not root's alone,
 * which a user could have moved the file into; 0 for directories only root writes, through root's links. */
static int writers_below(const char *name) {
        _cleanup_close_ int root = -EBADF, fd = -EBADF;
        int r;

        root = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(root >= 0);
        r = host_path_open_beneath(root, name, HOST_PATH_CHECK_WRITERS, &fd, NULL);
        CHECK(r < 0 || fd >= 0);
        return r;
}

static void test_beneath_check_writers(void) {
        _cleanup_close_ int root = -EBADF;
        char p[PATH_MAX + 64];
        int fd;

        if (geteuid() != 0) {
                printf("# skipped: needs root (directories of root's alone)\n");
                return;
        }
        make_tree();
        CHECK(writers_below("dir/file") == 0);
        CHECK(writers_below("dir/../dir/file") == 0);
        link_at("file", "dir/rel", 0);
        CHECK(writers_below("dir/rel") == 0);

        /* A user's directory on the way, a group-writable one, and the sticky world-writable one. */
        snprintf(p, sizeof p, "%s/dir/user", base);
        CHECK(mkdir(p, 0755) == 0);
        CHECK(chown(p, 65534, 65534) == 0);
        snprintf(p, sizeof p, "%s/dir/user/f", base);
        fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        safe_close(fd);
        CHECK(writers_below("dir/user/f") == 1);
        /* Without the flag: 0, as before. */
        root = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(root >= 0);
        CHECK(host_path_open_beneath(root, "dir/user/f", 0, &fd, NULL) == 0);
        safe_close(fd);
        /* Back up by name: the file is in root's directory, whatever was walked before. */
        CHECK(writers_below("dir/user/../file") == 0);
        snprintf(p, sizeof p, "%s/dir", base);
        CHECK(chmod(p, 0775) == 0);
        CHECK(writers_below("dir/file") == 1);
        CHECK(chmod(p, 0755) == 0);
        snprintf(p, sizeof p, "%s/sticky/f", base);
        fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        safe_close(fd);
        CHECK(writers_below("sticky/f") == 1);
        /* In a sticky directory a directory of root's alone is root's doing (moving one takes the right to
         * write it), and so is what is in it; a user's is not. */
        snprintf(p, sizeof p, "%s/sticky/rootdir", base);
        CHECK(mkdir(p, 0755) == 0);
        snprintf(p, sizeof p, "%s/sticky/rootdir/f", base);
        fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        safe_close(fd);
        CHECK(writers_below("sticky/rootdir/f") == 0);
        snprintf(p, sizeof p, "%s/sticky/rootdir", base);
        CHECK(chown(p, 65534, 65534) == 0);
        CHECK(writers_below("sticky/rootdir/f") == 1);
        /* The starting directory itself, sticky or not. */
        CHECK(chmod(base, 0777) == 0);
        CHECK(writers_below("dir/file") == 1);
        CHECK(chmod(base, 01777) == 0);
        CHECK(writers_below("dir/file") == 0);
        CHECK(chmod(base, 0755) == 0);
        remove_tree();
}

static void setup(void) {
        CHECK(target_setup_process() >= 0);
}

UNIT_MAIN(T(setup), T(test_plain_paths_and_bad_input), T(test_links_anyone_but_root_could_place_are_refused),
          T(test_roots_links_in_roots_directories), T(test_same_as_the_host),
          T(test_same_in_another_root), T(test_beneath_nothing_leaves_the_directory),
          T(test_beneath_roots_links), T(test_beneath_symlink_swaps_mid_walk), T(test_beneath_check_writers))
