/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel features, notification decoding and answering, target memory reads. */

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "log.h"
#include "notify.h"
#include "fs-util.h"

static const char *const kernel_feature_table[_KERNEL_FEATURE_MAX] = {
        [KERNEL_FEATURE_ADDFD] = "addfd",
        [KERNEL_FEATURE_ADDFD_SEND] = "addfd-send",
        [KERNEL_FEATURE_SYNC_WAKE_UP] = "sync-wake-up",
        [KERNEL_FEATURE_WAIT_KILLABLE_RECV] = "wait-killable-recv",
        [KERNEL_FEATURE_PIDFD_GETFD] = "pidfd-getfd",
};

const char *kernel_feature_to_string(KernelFeature f) {
        return f < _KERNEL_FEATURE_MAX ? kernel_feature_table[f] : NULL;
}

/* Runs in the probe child: it may change its own seccomp state freely, then it exits. */
static unsigned probe_in_child(void) {
        struct sock_filter insns[] = {
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(insns), .filter = insns };
        struct seccomp_notif_addfd addfd = {};
        unsigned features = 0;
        int fd;

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return 0;

        fd = sys_seccomp(SECCOMP_SET_MODE_FILTER,
                         SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
        if (fd >= 0)
                features |= 1u << KERNEL_FEATURE_WAIT_KILLABLE_RECV;
        else
                fd = sys_seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (fd < 0)
                return features;

        /* An unknown notification id gives ENOENT once the ioctl and its flags are understood;
         * an unknown ioctl or flag gives EINVAL or ENOTTY first. */
        addfd = (struct seccomp_notif_addfd) { .id = 1, .srcfd = fd };
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) < 0 && errno == ENOENT)
                features |= 1u << KERNEL_FEATURE_ADDFD;
        addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) < 0 && errno == ENOENT)
                features |= 1u << KERNEL_FEATURE_ADDFD_SEND;
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0)
                features |= 1u << KERNEL_FEATURE_SYNC_WAKE_UP;
        if (sys_pidfd_getfd(-1, 0, 0) < 0 && errno == EBADF)
                features |= 1u << KERNEL_FEATURE_PIDFD_GETFD;

        return features;
}

int kernel_features_probe(unsigned *ret) {
        int pipefd[2];
        unsigned features = 0;
        pid_t pid;
        int status;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;

        pid = fork();
        if (pid < 0) {
                safe_close(pipefd[0]);
                safe_close(pipefd[1]);
                return -errno;
        }
        if (pid == 0) {
                features = probe_in_child();
                (void) !write(pipefd[1], &features, sizeof features);
                _exit(0);
        }

        safe_close(pipefd[1]);
        if (read(pipefd[0], &features, sizeof features) != sizeof features)
                features = 0;
        safe_close(pipefd[0]);
        (void) waitpid(pid, &status, 0);

        *ret = features;
        return 0;
}

static const char *const notify_syscall_names[_NOTIFY_SYSCALL_MAX] = {
        [NOTIFY_SYSCALL_MKNOD] = "mknod",
        [NOTIFY_SYSCALL_MKNODAT] = "mknodat",
        [NOTIFY_SYSCALL_OPEN] = "open",
        [NOTIFY_SYSCALL_OPENAT] = "openat",
        [NOTIFY_SYSCALL_OPENAT2] = "openat2",
        [NOTIFY_SYSCALL_CREAT] = "creat",
        [NOTIFY_SYSCALL_MOUNT] = "mount",
        [NOTIFY_SYSCALL_UMOUNT2] = "umount2",
};

static int native_nr[_NOTIFY_SYSCALL_MAX];
static uint32_t native_arch;

int notify_syscalls_init(void) {
        native_arch = seccomp_arch_native();
        for (size_t i = 0; i < _NOTIFY_SYSCALL_MAX; i++) {
                int nr = seccomp_syscall_resolve_name(notify_syscall_names[i]);
                /* libseccomp gives negative pseudo numbers for calls the architecture lacks. */
                native_nr[i] = nr >= 0 ? nr : -1;
        }
        return 0;
}

const char *notify_syscall_to_string(NotifySyscall s) {
        return s >= 0 && s < _NOTIFY_SYSCALL_MAX ? notify_syscall_names[s] : "unknown";
}

int notify_syscall_decode(const struct seccomp_data *data, NotifySyscall *ret) {
        if (data->arch != native_arch)
                return -EAFNOSUPPORT;
#ifdef __x86_64__
        /* x32 shares AUDIT_ARCH_X86_64 and marks its numbers with this bit: a foreign ABI. */
        if (data->nr & 0x40000000)
                return -EAFNOSUPPORT;
#endif
        for (size_t i = 0; i < _NOTIFY_SYSCALL_MAX; i++)
                if (native_nr[i] >= 0 && data->nr == native_nr[i]) {
                        *ret = (NotifySyscall) i;
                        return 0;
                }
        *ret = _NOTIFY_SYSCALL_UNKNOWN;
        return 0;
}

int notify_buffers_init(NotifyBuffers *b) {
        struct seccomp_notif_sizes sizes = {};

        if (sys_seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
                return -errno;

        /* The kernel may know a longer struct than our headers; never give it less than it writes. */
        b->req_size = MAX((size_t) sizes.seccomp_notif, sizeof(struct seccomp_notif));
        b->resp_size = MAX((size_t) sizes.seccomp_notif_resp, sizeof(struct seccomp_notif_resp));
        b->req = calloc(1, b->req_size);
        b->resp = calloc(1, b->resp_size);
        if (!b->req || !b->resp) {
                notify_buffers_done(b);
                return -ENOMEM;
        }
        return 0;
}

void notify_buffers_done(NotifyBuffers *b) {
        b->req = mfree_ptr(b->req);
        b->resp = mfree_ptr(b->resp);
}

int notify_receive(int listener_fd, NotifyBuffers *b) {
        memset(b->req, 0, b->req_size);
        if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_RECV, b->req) < 0)
                return -errno;
        return 0;
}

int notify_respond(int listener_fd, NotifyBuffers *b, uint64_t id, int64_t value, int error, bool cont) {
        memset(b->resp, 0, b->resp_size);
        b->resp->id = id;
        if (cont)
                b->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        else if (error > 0)
                b->resp->error = -error;
        else
                b->resp->val = value;

        if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_SEND, b->resp) < 0)
                return -errno;
        return 0;
}

int notify_id_valid(int listener_fd, uint64_t id) {
        if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
                return -errno;
        return 0;
}

int notify_read_string(pid_t pid, uint64_t address, char *buf, size_t size) {
        static size_t page_size;
        size_t done = 0;

        if (!page_size)
                page_size = (size_t) sysconf(_SC_PAGESIZE);
        if (address == 0)
                return -EFAULT;

        while (done < size) {
                uint64_t at = address + done;
                size_t chunk = MIN(page_size - (at % page_size), size - done);
                struct iovec local = { .iov_base = buf + done, .iov_len = chunk };
                struct iovec remote = { .iov_base = (void *) (uintptr_t) at, .iov_len = chunk };
                ssize_t n;

                n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
                if (n < 0)
                        return errno == ESRCH ? -ESRCH : -EFAULT;
                if (n == 0)
                        return -EFAULT;

                char *nul = memchr(buf + done, 0, (size_t) n);
                if (nul)
                        return 0;
                done += (size_t) n;
        }

        return -ENAMETOOLONG;
}

int notify_read_memory(pid_t pid, uint64_t address, void *buf, size_t size) {
        struct iovec local = { .iov_base = buf, .iov_len = size };
        struct iovec remote = { .iov_base = (void *) (uintptr_t) address, .iov_len = size };
        ssize_t n;

        if (size == 0)
                return 0;
        n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (n < 0)
                return errno == ESRCH ? -ESRCH : -EFAULT;
        return (size_t) n == size ? 0 : -EFAULT;
}

int notify_add_fd_and_send(int listener_fd, uint64_t id, int fd, bool cloexec) {
        struct seccomp_notif_addfd addfd = {
                .id = id,
                .flags = SECCOMP_ADDFD_FLAG_SEND,
                .srcfd = fd,
                .newfd_flags = cloexec ? O_CLOEXEC : 0,
        };
        int r;

        r = ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
        return r < 0 ? -errno : r;
}

int fd_is_seccomp_listener(int fd) {
        char path[64], target[64];
        ssize_t n;

        snprintf(path, sizeof path, "self/fd/%i", fd);
        n = readlinkat(broker_proc_dir(), path, target, sizeof target - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        return streq(target, SECCOMP_LISTENER_LINK);
}
