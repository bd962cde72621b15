/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The seccomp filter of a supervised process: libseccomp builds it, we load it ourselves, because
 * libseccomp 2.5.4 can neither ask for WAIT_KILLABLE_RECV nor hand us the program in memory. Nothing here
 * needs the rules or the bus: sysbrokerctl's `exec` links this file without libsystemd. */

#include <linux/filter.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "macro.h"
#include "seccomp-kernel.h"
#include "sysbroker-internal.h"

static const char *const trapped_mknod[] = { "mknod", "mknodat", NULL };
static const char *const trapped_open[] = { "open", "openat", "openat2", "creat", NULL };
static const char *const trapped_mount[] = { "mount", "umount2", NULL };

const char *const *rule_syscall_trapped(RuleSyscall s) {
        switch (s) {
        case RULE_SYSCALL_MKNOD:
                return trapped_mknod;
        case RULE_SYSCALL_OPEN:
                return trapped_open;
        case RULE_SYSCALL_MOUNT:
                return trapped_mount;
        case _RULE_SYSCALL_MAX:
        case _RULE_SYSCALL_INVALID:
                break;
        }
        return NULL;
}

static inline void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

static int filter_build(unsigned syscall_mask, scmp_filter_ctx *ret) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        unsigned n_trapped = 0;
        int r;

        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;

        /* Real errnos from libseccomp instead of a blanket ECANCELED. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
        if (r < 0)
                return r;
        /* The daemon decodes only the native architecture. A process that switches to another one
         * (int 0x80 on x86_64) could otherwise make the calls we trap without being seen. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return r;

        for (RuleSyscall s = 0; s < _RULE_SYSCALL_MAX; s++) {
                if (!(syscall_mask & (1u << s)))
                        continue;

                for (const char *const *name = rule_syscall_trapped(s); name && *name; name++) {
                        int nr = seccomp_syscall_resolve_name(*name);

                        /* Not every architecture has every call (aarch64 has no mknod): nothing to trap. */
                        if (nr == __NR_SCMP_ERROR || nr < 0)
                                continue;

                        r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
                        if (r < 0)
                                return r;
                        n_trapped++;
                }
        }
        if (n_trapped == 0)
                return -EOPNOTSUPP;

        *ret = TAKE_PTR(ctx);
        return 0;
}

/* seccomp_export_bpf() only writes to an fd: let it write into memory we can read back. */
static int filter_export(scmp_filter_ctx ctx, struct sock_filter **ret_insns, size_t *ret_n) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ struct sock_filter *insns = NULL;
        struct stat st;
        int r;

        fd = memfd_create("sysbroker-filter", MFD_CLOEXEC);
        if (fd < 0)
                return negative_errno();

        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
            (size_t) st.st_size > BPF_MAXINSNS * sizeof(struct sock_filter))
                return -EBADMSG;

        insns = malloc(st.st_size);
        if (!insns)
                return -ENOMEM;

        for (size_t done = 0; done < (size_t) st.st_size;) {
                ssize_t n = pread(fd, (uint8_t *) insns + done, st.st_size - done, done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -EIO;
                done += n;
        }

        *ret_n = st.st_size / sizeof(struct sock_filter);
        *ret_insns = TAKE_PTR(insns);
        return 0;
}

int filter_install_mask(unsigned mask, unsigned flags) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        _cleanup_free_ struct sock_filter *insns = NULL;
        unsigned long kflags;
        size_t n_insns;
        int fd, r;

        if ((flags & ~(SYSBROKER_FILTER_TSYNC | SYSBROKER_FILTER_SPEC_ALLOW)) != 0)
                return -EINVAL;
        if (mask == 0 || (mask & ~((1u << _RULE_SYSCALL_MAX) - 1)) != 0)
                return -EINVAL; /* no rules, nothing to hand over; or kinds this version does not know */

        r = filter_build(mask, &ctx);
        if (r < 0)
                return r;
        r = filter_export(ctx, &insns, &n_insns);
        if (r < 0)
                return r;

        /* Unprivileged processes may only load a filter under no_new_privs. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return negative_errno();

        struct sock_fprog prog = {
                .len = (unsigned short) n_insns,
                .filter = insns,
        };

        kflags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if (flags & SYSBROKER_FILTER_TSYNC)
                /* Without TSYNC_ESRCH a failed sync returns a thread id, which the kernel cannot tell apart
                 * from the listener fd, so it refuses the combination. */
                kflags |= SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        if (flags & SYSBROKER_FILTER_SPEC_ALLOW)
                kflags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;

        /* Killable waits (5.19): a supervised task stuck in a trapped call can still be killed, and a
         * signal does not interrupt a call the daemon already received (so ADDFD then SEND is safe). */
        fd = sys_seccomp(SECCOMP_SET_MODE_FILTER, kflags | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
        if (fd < 0 && errno == EINVAL)
                fd = sys_seccomp(SECCOMP_SET_MODE_FILTER, kflags, &prog);
        if (fd < 0)
                return negative_errno();

        return fd;
}
