/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel side of a seccomp listener: probing features, decoding notifications for the native
 * architecture, reading target memory, and answering. No policy here. */
#pragma once

#include <stdint.h>

#include "seccomp-kernel.h"
#include "macro.h"

typedef enum KernelFeature {
        KERNEL_FEATURE_ADDFD,
        KERNEL_FEATURE_ADDFD_SEND,
        KERNEL_FEATURE_SYNC_WAKE_UP,
        KERNEL_FEATURE_WAIT_KILLABLE_RECV,
        KERNEL_FEATURE_PIDFD_GETFD,
        _KERNEL_FEATURE_MAX,
} KernelFeature;

const char *kernel_feature_to_string(KernelFeature f);

/* Forks a child that installs a throwaway listener and tries each ioctl; returns a bit per feature. */
int kernel_features_probe(unsigned *ret);

/* The calls sysbrokerd decodes, as numbers of the native architecture (-1 where it has none). */
typedef enum NotifySyscall {
        NOTIFY_SYSCALL_MKNOD,
        NOTIFY_SYSCALL_MKNODAT,
        NOTIFY_SYSCALL_OPEN,
        NOTIFY_SYSCALL_OPENAT,
        NOTIFY_SYSCALL_OPENAT2,
        NOTIFY_SYSCALL_CREAT,
        NOTIFY_SYSCALL_MOUNT,
        NOTIFY_SYSCALL_UMOUNT2,
        _NOTIFY_SYSCALL_MAX,
        _NOTIFY_SYSCALL_UNKNOWN = -1,
} NotifySyscall;

int notify_syscalls_init(void);
const char *notify_syscall_to_string(NotifySyscall s);
/* Maps (arch, nr) of a notification; -EAFNOSUPPORT for a foreign architecture (invariant 6). */
int notify_syscall_decode(const struct seccomp_data *data, NotifySyscall *ret);

typedef struct NotifyBuffers {
        struct seccomp_notif *req;
        struct seccomp_notif_resp *resp;
        size_t req_size, resp_size;
} NotifyBuffers;

int notify_buffers_init(NotifyBuffers *b);
void notify_buffers_done(NotifyBuffers *b);

/* RECV into b->req (zeroed first). -ENOENT: the target died before we read it. */
int notify_receive(int listener_fd, NotifyBuffers *b);
/* Answer with a value, an errno (positive), or CONTINUE. -ENOENT: target gone, nothing to do. */
int notify_respond(int listener_fd, NotifyBuffers *b, uint64_t id, int64_t value, int error, bool cont);
int notify_id_valid(int listener_fd, uint64_t id);

/* Copies a NUL-terminated string of at most `size` bytes (including the NUL) from the target, a page at a
 * time so a string that ends just before an unmapped page is read. -ENAMETOOLONG if no NUL within size. */
int notify_read_string(pid_t pid, uint64_t address, char *buf, size_t size);

/* Copies exactly size bytes from the target. */
int notify_read_memory(pid_t pid, uint64_t address, void *buf, size_t size);

/* Installs fd in the target as the result of its call (ADDFD with SEND): returns the target's fd number.
 * The kernel applies the target's RLIMIT_NOFILE (EMFILE). */
int notify_add_fd_and_send(int listener_fd, uint64_t id, int fd, bool cloexec);

/* Is fd a seccomp listener? 1 yes, 0 no. */
int fd_is_seccomp_listener(int fd);
