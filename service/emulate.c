/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The closed list of privileged operations. */

#include <linux/capability.h>
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

int64_t emulate(const Target *t, const EmulateRequest *req) {
        switch (req->operation) {
        case EMULATE_MKNOD:
                return emulate_mknod(t, req);
        case _EMULATE_OPERATION_MAX:
        default:
                return -EPERM;
        }
}
