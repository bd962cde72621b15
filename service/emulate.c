/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The closed list of privileged operations. */

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "emulate.h"
#include "log.h"

static bool is_single_component(const char *name) {
        return name && name[0] && !strchr(name, '/') && !streq(name, ".") && !streq(name, "..");
}

static int64_t emulate_mknod(const Target *t, const EmulateRequest *req) {
        int r;

        /* Better safe than sorry: only device nodes, only a single name below a resolved directory. */
        if (!S_ISCHR(req->mode) && !S_ISBLK(req->mode))
                return -EPERM;
        if (!is_single_component(req->name) || req->dir_fd < 0)
                return -EPERM;

        r = target_raise_capability(t, CAP_MKNOD);
        if (r < 0)
                return r;
        r = mknodat(req->dir_fd, req->name, req->mode, makedev(req->major, req->minor));
        return r < 0 ? -errno : 0;
}

/* The capability an open needs beyond the target's own: to read, or to write (which also reads). */
static int open_capability(int flags) {
        return (flags & O_ACCMODE) == O_RDONLY && !(flags & (O_TRUNC | O_APPEND | O_CREAT))
                ? CAP_DAC_READ_SEARCH : CAP_DAC_OVERRIDE;
}

static int64_t emulate_open_existing(const Target *t, const EmulateRequest *req) {
        int fd, r;

        /* The O_PATH fd pins what resolution reached: reopening it cannot be redirected by a rename or a
         * symlink swapped in meanwhile. No creation here. */
        if (req->file_fd < 0 || (req->flags & (O_CREAT | O_PATH)) || (req->flags & __O_TMPFILE) == __O_TMPFILE)
                return -EPERM;

        r = target_raise_capability(t, open_capability(req->flags));
        if (r < 0)
                return r;
        /* O_NOCTTY always: a terminal opened for a sandbox must never become the daemon's controlling tty,
         * or the sandbox could signal the daemon through it. */
        fd = fd_reopen(req->file_fd, (req->flags & ~(O_NOFOLLOW | O_EXCL)) | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? -errno : fd;
}

static int64_t emulate_open_create(const Target *t, const EmulateRequest *req) {
        struct open_how how = {
                /* O_EXCL always: a name that appeared since the check is not opened with our capability here
                 * (the caller checks it again as an existing file). O_NOCTTY: see above. */
                .flags = (uint64_t) (req->flags | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY),
                .mode = req->mode & 07777,
                /* One component below the directory resolution reached, and never a symlink: a link
                 * planted there after the check must not be followed with our capability. */
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        int fd, r;

        if (!is_single_component(req->name) || req->dir_fd < 0 || (req->flags & O_PATH))
                return -EPERM;

        r = target_raise_capability(t, CAP_DAC_OVERRIDE);
        if (r < 0)
                return r;
        fd = (int) syscall(SYS_openat2, req->dir_fd, req->name, &how, sizeof how);
        return fd < 0 ? -errno : fd;
}

int64_t emulate(const Target *t, const EmulateRequest *req) {
        switch (req->operation) {
        case EMULATE_MKNOD:
                return emulate_mknod(t, req);
        case EMULATE_OPEN_EXISTING:
                return emulate_open_existing(t, req);
        case EMULATE_OPEN_CREATE:
                return emulate_open_create(t, req);
        case _EMULATE_OPERATION_MAX:
        default:
                return -EPERM;
        }
}
