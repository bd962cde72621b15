/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Notification decoding and target memory reads: foreign architectures are refused, strings are read up to
 * an unmapped page without failing, and listener fds are told from other fds. */

#include <linux/audit.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "notify.h"
#include "unit.h"

static void test_native_mknodat_is_decoded(void) {
        struct seccomp_data d = { .arch = seccomp_arch_native(), .nr = seccomp_syscall_resolve_name("mknodat") };
        NotifySyscall s;

        CHECK(notify_syscall_decode(&d, &s) == 0);
        CHECK(s == NOTIFY_SYSCALL_MKNODAT);
}

static void test_unknown_syscall_is_not_guessed(void) {
        struct seccomp_data d = { .arch = seccomp_arch_native(), .nr = seccomp_syscall_resolve_name("getpid") };
        NotifySyscall s;

        CHECK(notify_syscall_decode(&d, &s) == 0);
        CHECK(s == _NOTIFY_SYSCALL_UNKNOWN);
}

static void test_foreign_architecture_is_refused(void) {
        struct seccomp_data d = { .arch = AUDIT_ARCH_I386, .nr = 14 /* mknod on i386 */ };
        NotifySyscall s;

        CHECK(notify_syscall_decode(&d, &s) == -EAFNOSUPPORT);
#ifdef __x86_64__
        d = (struct seccomp_data) { .arch = AUDIT_ARCH_X86_64, .nr = 0x40000000 | 259 /* x32 mknodat */ };
        CHECK(notify_syscall_decode(&d, &s) == -EAFNOSUPPORT);
#endif
}

static void test_string_ending_before_unmapped_page_is_read(void) {
        long page = sysconf(_SC_PAGESIZE);
        char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        char buf[4096];

        CHECK(p != MAP_FAILED);
        if (p == MAP_FAILED)
                return;
        CHECK(mprotect(p + page, page, PROT_NONE) == 0);
        memcpy(p + page - 6, "/dev/", 6); /* the NUL is the page's last byte */

        CHECK(notify_read_string(getpid(), (uintptr_t) (p + page - 6), buf, sizeof buf) == 0);
        CHECK_STREQ(buf, "/dev/");

        /* No NUL before the hole: a fault, as the kernel would report. */
        memset(p + page - 100, 'x', 100);
        CHECK(notify_read_string(getpid(), (uintptr_t) (p + page - 100), buf, sizeof buf) == -EFAULT);
        CHECK(notify_read_string(getpid(), 0, buf, sizeof buf) == -EFAULT);
        munmap(p, 2 * page);
}

static void test_string_without_nul_is_too_long(void) {
        static char big[8192];
        char buf[64];

        memset(big, 'a', sizeof big - 1);
        CHECK(notify_read_string(getpid(), (uintptr_t) big, buf, sizeof buf) == -ENAMETOOLONG);
}

static void test_pipe_is_not_a_listener(void) {
        int p[2];

        CHECK(pipe(p) == 0);
        CHECK(fd_is_seccomp_listener(p[0]) == 0);
        close(p[0]);
        close(p[1]);
}

static void test_listener_is_recognized(void) {
        pid_t pid = fork();
        int status;

        if (pid == 0) {
                struct sock_filter insns[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
                struct sock_fprog prog = { .len = 1, .filter = insns };
                int fd;

                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(2);
                fd = sys_seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
                _exit(fd >= 0 && fd_is_seccomp_listener(fd) == 1 ? 0 : 1);
        }
        CHECK(pid > 0);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_kernel_has_required_features(void) {
        unsigned f = 0;

        /* sysbroker needs 5.14: ADDFD with SEND. */
        CHECK(kernel_features_probe(&f) == 0);
        CHECK(f & (1u << KERNEL_FEATURE_ADDFD));
        CHECK(f & (1u << KERNEL_FEATURE_ADDFD_SEND));
        CHECK(f & (1u << KERNEL_FEATURE_PIDFD_GETFD));
}

int main(void) {
        static const UnitTest tests[] = {
                T(test_native_mknodat_is_decoded),
                T(test_unknown_syscall_is_not_guessed),
                T(test_foreign_architecture_is_refused),
                T(test_string_ending_before_unmapped_page_is_read),
                T(test_string_without_nul_is_too_long),
                T(test_pipe_is_not_a_listener),
                T(test_listener_is_recognized),
                T(test_kernel_has_required_features),
        };

        notify_syscalls_init();
        return unit_run(tests, ELEMENTSOF(tests));
}
