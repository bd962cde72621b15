/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysbroker-bench: the per-call cost of a trapped syscall natively, under a minimal supervisor written
 * here (the floor for any supervisor), and under sysbrokerd.
 *
 * Each configuration runs in a forked target process, so each gets a fresh filter: a filter cannot be
 * removed once installed. The supervised targets install the same filter with the same flags; only the
 * thing answering the listener differs. Two calls are measured:
 *
 * mknodat() of an existing path, which the kernel answers with EEXIST whatever the caller's privileges:
 * cheap and deterministic natively, trapped by the filter, and matching no rule of the broker's (a-c).
 *
 * openat() of a small file, then close(): natively (d); emulated, i.e. opened by the supervisor and
 * installed into the target with ADDFD, by a raw supervisor (e) and by sysbrokerd through an open rule
 * naming the file (f); and answered with CONTINUE, by the raw supervisor (g) and by sysbrokerd (h), whose
 * rule names the file of (e, f) while the target opens another. The raw supervisors are the floor: they do
 * what any correct supervisor must and nothing more; a supervisor that emulates one path must read the path
 * of every call to find the ones it continues. When the bench runs as root, the supervised open targets
 * are what a sandbox is: uid 65534 without capabilities, and the file of (e, f) is root's alone (0600), so
 * that only the supervisor's open can read it; (d) opens it as root.
 *
 * A pair of calls, mount() of a small tmpfs and umount2() of it: by root without a filter (i), and by an
 * unprivileged target (uid 65534, which the kernel would refuse) whose mount rule makes sysbrokerd emulate
 * both calls (j). Mounts are slow, so these rows take their own, smaller, iteration count; their figure is
 * per pair.
 *
 * A registration, RegisterListener with 1, 8 or 64 open rules (each a distinct polkit check, so the batch is
 * as large as the rules) and then Unregister, timed as a pair from the caller's side: what a launcher pays
 * before its sandbox runs, polkitd's answers included (--rows=register). Each pair gets a fresh listener,
 * from a child forked before the run is timed: the daemon refuses a listener it still serves. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fd-passing.h"
#include "macro.h"
#include "seccomp-kernel.h"

#define BROKER_NAME "org.sysbroker.Broker1"
#define BROKER_PATH "/org/sysbroker/Broker1"
#define MANAGER_IFACE "org.sysbroker.Broker1.Manager"
#define LISTENER_IFACE "org.sysbroker.Broker1.Listener"

#define RATIO_TARGET 1.5
#define MAX_RUNS 101
#define MAX_ROUNDS 21
/* How long the first trapped call may take before we call the supervisor dead. */
#define PROBE_TIMEOUT_MS 5000
/* The raw supervisor recognizes the target's last call by this dirfd and stops after answering it. */
#define STOP_DIRFD (-4242)
/* What the opened file holds: the first open's fd must read exactly this. */
#define OPEN_FILE_DATA "sysbroker-bench open target\n"
/* The mount rows' filesystem, and whom the sandboxed mount target runs as. */
#define MOUNT_FSTYPE "tmpfs"
#define MOUNT_SOURCE "sysbroker-bench"
#define MOUNT_DATA "size=64k"
/* Whom the sandboxed targets run as when the bench runs as root. */
#define SANDBOX_UID 65534

typedef enum AddFdMode {
        ADDFD_MODE_SEND,        /* one ioctl: ADDFD with SECCOMP_ADDFD_FLAG_SEND answers the call */
        ADDFD_MODE_SEPARATE,    /* ADDFD, then SEND with the new fd number as the return value */
} AddFdMode;

typedef enum Rows {
        ROWS_ALL,
        ROWS_MKNOD,
        ROWS_OPEN,
        ROWS_MOUNT,
        ROWS_REGISTER,
} Rows;

static unsigned arg_iterations = 200000;
static unsigned arg_runs = 5;
static unsigned arg_rounds = 1;
static unsigned arg_warmup = 20000;
static unsigned arg_mount_iterations = 2000;
static unsigned arg_register_iterations = 20;
static const char *arg_socket = NULL;
static bool arg_check = false;
static AddFdMode arg_addfd_mode = ADDFD_MODE_SEND;
static Rows arg_rows = ROWS_ALL;

typedef enum Mode {
        MODE_NATIVE,
        MODE_RAW,
        MODE_BROKER,
        MODE_OPEN_NATIVE,
        MODE_OPEN_RAW_EMULATE,
        MODE_OPEN_BROKER_EMULATE,
        MODE_OPEN_RAW_CONTINUE,
        MODE_OPEN_BROKER_CONTINUE,
        MODE_MOUNT_NATIVE,
        MODE_MOUNT_BROKER,
        _MODE_MAX,
} Mode;

static const char *const mode_label[_MODE_MAX] = {
        [MODE_NATIVE] = "(a) native, no filter",
        [MODE_RAW] = "(b) raw supervisor, CONTINUE",
        [MODE_BROKER] = "(c) sysbrokerd, default continue",
        [MODE_OPEN_NATIVE] = "(d) open: native, no filter",
        [MODE_OPEN_RAW_EMULATE] = "(e) open: raw supervisor, emulated",
        [MODE_OPEN_BROKER_EMULATE] = "(f) open: sysbrokerd, emulated by rule",
        [MODE_OPEN_RAW_CONTINUE] = "(g) open: raw supervisor, CONTINUE",
        [MODE_OPEN_BROKER_CONTINUE] = "(h) open: sysbrokerd, no rule matches",
        [MODE_MOUNT_NATIVE] = "(i) mount+umount: native root, no filter",
        [MODE_MOUNT_BROKER] = "(j) mount+umount: sysbrokerd, emulated",
};

/* The ratios the issue sets a target for: sysbrokerd over the raw supervisor doing the same thing. */
static const struct {
        Mode broker, raw;
        const char *what;
} ratios[] = {
        { MODE_BROKER,               MODE_RAW,               "c/b mknod, continue" },
        { MODE_OPEN_BROKER_EMULATE,  MODE_OPEN_RAW_EMULATE,  "f/e open, emulated"  },
        { MODE_OPEN_BROKER_CONTINUE, MODE_OPEN_RAW_CONTINUE, "h/g open, continue"  },
};

static bool mode_is_open(Mode mode) {
        return mode >= MODE_OPEN_NATIVE && mode <= MODE_OPEN_BROKER_CONTINUE;
}

static bool mode_is_mount(Mode mode) {
        return mode == MODE_MOUNT_NATIVE || mode == MODE_MOUNT_BROKER;
}

static bool mode_is_native(Mode mode) {
        return mode == MODE_NATIVE || mode == MODE_OPEN_NATIVE || mode == MODE_MOUNT_NATIVE;
}

static bool mode_is_raw(Mode mode) {
        return mode == MODE_RAW || mode == MODE_OPEN_RAW_EMULATE || mode == MODE_OPEN_RAW_CONTINUE;
}

static bool mode_is_broker(Mode mode) {
        return mode == MODE_BROKER || mode == MODE_OPEN_BROKER_EMULATE || mode == MODE_OPEN_BROKER_CONTINUE ||
                mode == MODE_MOUNT_BROKER;
}

/* Whether sysbrokerd emulates this mode's calls (else it continues them). */
static bool mode_is_emulated(Mode mode) {
        return mode == MODE_OPEN_BROKER_EMULATE || mode == MODE_MOUNT_BROKER;
}

static bool mode_selected(Mode mode) {
        switch (arg_rows) {
        case ROWS_MKNOD:
                return !mode_is_open(mode) && !mode_is_mount(mode);
        case ROWS_OPEN:
                return mode_is_open(mode);
        case ROWS_MOUNT:
                return mode_is_mount(mode);
        case ROWS_REGISTER:
                return false;
        case ROWS_ALL:
        default:
                /* Only root can measure the native mount row (the bench also runs as a user). */
                return !mode_is_mount(mode) || geteuid() == 0;
        }
}

/* What a target sends back to the bench over the control socket, once. */
typedef struct Result {
        int probe_errno;        /* errno of the first call (0: success); every later call must match it */
        bool probe_data_ok;     /* open: the first fd read OPEN_FILE_DATA */
        unsigned mismatches;    /* calls whose result differed from the probe's */
        int mismatch_errno;
        double ns_per_call[MAX_RUNS];
} Result;

typedef struct Measurement {
        double median, min, max;
} Measurement;

static char node_path[4096];
static char open_path[4096];        /* root's alone: (d) by root, (e, f) through the supervisor */
static char public_path[4096];      /* anyone's: (g, h), continued */
static char mount_path[4096];
static unsigned long filter_flags;

/* As the daemon's log_error_errno(): print a line, return the negative error, and %m means that error. */
static _printf_(2, 3) int error_errno(int error, const char *format, ...) {
        va_list ap;

        errno = abs(error);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -abs(error);
}

static uint64_t now_ns(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* The mount rows count pairs: their calls are fewer, and so are their warm-up calls. */
static unsigned mode_iterations(Mode mode) {
        return mode_is_mount(mode) ? arg_mount_iterations : arg_iterations;
}

static unsigned mode_warmup(Mode mode) {
        return mode_is_mount(mode) ? MIN(arg_warmup, arg_mount_iterations / 10) : arg_warmup;
}

static bool mount_shows(bool forced_flags);

/* A mount row's call: mount() of the tmpfs and umount2() of it, 0 or the errno of the first to fail. With
 * ret_shows, whether the mount showed in between (with nosuid,nodev where sysbrokerd forces them). */
static int mount_pair(Mode mode, bool *ret_shows) {
        if (mount(MOUNT_SOURCE, mount_path, MOUNT_FSTYPE, 0, MOUNT_DATA) < 0)
                return errno;
        if (ret_shows)
                *ret_shows = mount_shows(mode == MODE_MOUNT_BROKER);
        if (umount2(mount_path, 0) < 0)
                return errno;
        return 0;
}

/* What an open row's target opens: the continued rows a file it may open itself. */
static const char *mode_open_path(Mode mode) {
        return mode == MODE_OPEN_RAW_CONTINUE || mode == MODE_OPEN_BROKER_CONTINUE ? public_path : open_path;
}

/* Whether the target drops to SANDBOX_UID: the supervised open rows (when the bench is root) and the
 * emulated mount row. */
static bool mode_runs_as_sandbox(Mode mode) {
        return mode == MODE_MOUNT_BROKER || (mode_is_open(mode) && !mode_is_native(mode) && geteuid() == 0);
}

static int trapped_call(Mode mode, int dirfd) {
        int fd;

        if (mode_is_mount(mode))
                return mount_pair(mode, NULL);

        if (!mode_is_open(mode)) {
                if (mknodat(dirfd, node_path, S_IFCHR | 0600, makedev(1, 7)) >= 0)
                        return 0;
                return errno;
        }

        /* close() is not trapped; it is part of the native row too, so the rows stay comparable. */
        fd = openat(dirfd, mode_open_path(mode), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno;
        safe_close(fd);
        return 0;
}

static bool has_option(const char *list, const char *option) {
        size_t len = strlen(option);

        for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (strncmp(p, option, len) == 0 && (p[len] == ',' || p[len] == '\0'))
                        return true;
        return false;
}

/* Whether the reading process's mount table has our tmpfs at mount_path, with nosuid,nodev if asked. */
static bool mount_shows(bool forced_flags) {
        _cleanup_fclose_ FILE *f = NULL;
        char line[8192];

        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return false;
        while (fgets(line, sizeof line, f)) {
                char point[4096], options[1024];
                const char *sep;

                /* ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS */
                if (sscanf(line, "%*s %*s %*s %*s %4095s %1023s", point, options) != 2 || !streq(point, mount_path))
                        continue;
                sep = strstr(line, " - ");
                if (!sep || !startswith(sep, " - " MOUNT_FSTYPE " " MOUNT_SOURCE " "))
                        continue;
                return !forced_flags || (has_option(options, "nosuid") && has_option(options, "nodev"));
        }
        return false;
}

/* The first open also checks that the fd it got is the file, whoever opened it; the first mount, that it
 * shows in the caller's mount table (sysbrokerd's with the flags a mount rule forces by default). */
static int probe_call(Mode mode, bool *ret_data_ok) {
        char buf[sizeof OPEN_FILE_DATA];
        ssize_t n;
        int fd;

        *ret_data_ok = false;
        if (mode_is_mount(mode))
                return mount_pair(mode, ret_data_ok);
        if (!mode_is_open(mode))
                return trapped_call(mode, AT_FDCWD);

        fd = openat(AT_FDCWD, mode_open_path(mode), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno;
        n = read(fd, buf, sizeof buf);
        *ret_data_ok = n == (ssize_t) strlen(OPEN_FILE_DATA) && memcmp(buf, OPEN_FILE_DATA, n) == 0 &&
                fcntl(fd, F_GETFD) == FD_CLOEXEC;
        safe_close(fd);
        return 0;
}

static int install_filter(Mode mode) {
        /* Trap mknod and mknodat, openat, or mount and umount2, of the native architecture; everything else
         * runs. seccomp_arch_native() returns the AUDIT_ARCH_* value the kernel puts into seccomp_data.arch.
         * The open targets call nothing but openat() (glibc's open() is openat too). */
        uint32_t nr1, nr2;
        if (mode_is_mount(mode)) {
                nr1 = __NR_mount;
                nr2 = __NR_umount2;
        } else if (mode_is_open(mode))
                nr1 = nr2 = __NR_openat;
        else {
                nr1 = __NR_mknodat;
#ifdef __NR_mknod
                nr2 = __NR_mknod;
#else
                nr2 = __NR_mknodat;
#endif
        }
        struct sock_filter insns[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr1, 2, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr2, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        };
        struct sock_fprog prog = {
                .len = ELEMENTSOF(insns),
                .filter = insns,
        };
        int fd;

        /* What a real launcher does; also lets a non-root user run the bench. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        fd = sys_seccomp(SECCOMP_SET_MODE_FILTER, (unsigned) filter_flags, &prog);
        if (fd < 0)
                return -errno;
        return fd;
}

static int read_full(int fd, void *buf, size_t size, int timeout_ms) {
        uint8_t *p = buf;

        while (size > 0) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                ssize_t n;
                int r;

                r = poll(&pfd, 1, timeout_ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                n = read(fd, p, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EPIPE;
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

static int write_full(int fd, const void *buf, size_t size) {
        const uint8_t *p = buf;

        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

/* A file for the open rows, holding OPEN_FILE_DATA. */
static int create_open_file(const char *path, mode_t mode) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

        if (fd < 0 || write_full(fd, OPEN_FILE_DATA, strlen(OPEN_FILE_DATA)) < 0)
                return error_errno(errno, "Failed to create '%s': %m", path);
        return 0;
}

/* The target: (filter,) probe, warm-up, timed runs, report, wait to be told to exit. It exits rather than
 * returns: it is a forked copy of the bench. */
static _Noreturn void target_main(int sock, Mode mode) {
        Result result = {};
        char c;

        if (!mode_is_native(mode)) {
                int fd = install_filter(mode);
                if (fd < 0) {
                        error_errno(fd, "Failed to install the seccomp filter: %m");
                        _exit(EXIT_FAILURE);
                }
                if (fd_send(sock, fd) < 0)
                        _exit(EXIT_FAILURE);
                safe_close(fd);
        }

        /* A sandbox: the kernel would refuse its mounts and its opens of root's file. */
        if (mode_runs_as_sandbox(mode)) {
                gid_t gid = SANDBOX_UID;
                if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
                    setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID) < 0) {
                        error_errno(errno, "Failed to drop to uid %d: %m", SANDBOX_UID);
                        _exit(EXIT_FAILURE);
                }
        }

        /* Wait for the supervisor to be in place. */
        if (read(sock, &c, 1) != 1)
                _exit(EXIT_FAILURE);

        result.probe_errno = probe_call(mode, &result.probe_data_ok);
        c = 'P';
        if (write_full(sock, &c, 1) < 0)
                _exit(EXIT_FAILURE);

        for (unsigned i = 0; i < mode_warmup(mode); i++) {
                int e = trapped_call(mode, AT_FDCWD);
                if (e != result.probe_errno) {
                        result.mismatches++;
                        result.mismatch_errno = e;
                }
        }

        for (unsigned run = 0; run < arg_runs; run++) {
                uint64_t start = now_ns();
                for (unsigned i = 0; i < mode_iterations(mode); i++) {
                        int e = trapped_call(mode, AT_FDCWD);
                        if (_unlikely_(e != result.probe_errno)) {
                                result.mismatches++;
                                result.mismatch_errno = e;
                        }
                }
                result.ns_per_call[run] = (double) (now_ns() - start) / mode_iterations(mode);
        }

        /* Tells the raw supervisor to stop; not counted. */
        if (mode_is_raw(mode))
                (void) trapped_call(mode, STOP_DIRFD);

        if (write_full(sock, &result, sizeof result) < 0)
                _exit(EXIT_FAILURE);
        /* Stay alive until the bench has read the broker's counters off our listener. */
        (void) read(sock, &c, 1);
        _exit(EXIT_SUCCESS);
}

/* The raw supervisor: the least any supervisor must do per call. Blocking RECV, then either SEND with
 * CONTINUE, or the open emulated: the path copied out of the target once, the copy confirmed with ID_VALID
 * (without that check the bytes may be another process's: invariant 2, which no correct supervisor can
 * skip), openat2(), and the fd installed with ADDFD. It opens what the target names, from its own root and
 * cwd (the bench's: the target passes an absolute path with AT_FDCWD), with its own credentials. A
 * supervisor that emulates one path reads the path of every call, and continues the others: no ID_VALID
 * for those, since continuing grants nothing. */
typedef enum RawPolicy {
        RAW_CONTINUE_ALL,       /* (b) */
        RAW_EMULATE_ALL,        /* (e) */
        RAW_EMULATE_ONE_PATH,   /* (g): open_path emulated, other paths continued */
} RawPolicy;

typedef struct RawSupervisor {
        int listener;
        RawPolicy policy;
        uint64_t answered;
        int error;
} RawSupervisor;

static int raw_respond(int listener, struct seccomp_notif_resp *resp, size_t resp_size, uint64_t id,
                       int64_t val, int error, bool cont) {
        memset(resp, 0, resp_size);
        resp->id = id;
        resp->val = val;
        resp->error = -error;
        resp->flags = cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* Copies the trapped openat()'s path out of the target: 0, or the errno to answer. */
static int raw_read_path(const struct seccomp_notif *req, char path[static PATH_MAX]) {
        static long page_size = 0;
        uint64_t address = req->data.args[1];
        struct iovec local, remote;
        ssize_t n;

        if (page_size == 0)
                page_size = sysconf(_SC_PAGESIZE);

        /* Up to the end of the page: the string may end right before an unmapped one. A path that goes on
         * past it is not what the bench's target passes; a real supervisor would read on. */
        local = (struct iovec) { .iov_base = path, .iov_len = MIN(PATH_MAX, page_size - address % page_size) };
        remote = (struct iovec) { .iov_base = (void *) (uintptr_t) address, .iov_len = local.iov_len };
        n = process_vm_readv(req->pid, &local, 1, &remote, 1, 0);
        if (n <= 0)
                return EFAULT;
        if (!memchr(path, 0, (size_t) n))
                return ENAMETOOLONG;
        return 0;
}

/* Answers the trapped openat() as the policy says; 0 once the call is answered (whatever the answer),
 * -errno if the listener failed. */
static int raw_answer_open(RawSupervisor *s, const struct seccomp_notif *req, struct seccomp_notif_resp *resp,
                           size_t resp_size) {
        char path[PATH_MAX];
        uint64_t id = req->id;
        struct open_how how = {
                .flags = (req->data.args[2] & (O_ACCMODE | O_CLOEXEC | O_NOFOLLOW | O_DIRECTORY)) | O_CLOEXEC,
        };
        struct seccomp_notif_addfd addfd = {
                .id = id,
                .flags = arg_addfd_mode == ADDFD_MODE_SEND ? SECCOMP_ADDFD_FLAG_SEND : 0,
                .newfd_flags = req->data.args[2] & O_CLOEXEC,
        };
        int fd, newfd, e;

        e = raw_read_path(req, path);
        if (e != 0)
                return raw_respond(s->listener, resp, resp_size, id, 0, e, false);
        if (s->policy == RAW_EMULATE_ONE_PATH && !streq(path, open_path))
                return raw_respond(s->listener, resp, resp_size, id, 0, 0, true);
        if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
                return 0; /* the target is gone: nobody to answer */

        fd = (int) syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
        if (fd < 0)
                return raw_respond(s->listener, resp, resp_size, id, 0, errno, false);

        addfd.srcfd = (uint32_t) fd;
        newfd = ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
        if (newfd < 0) {
                e = errno;
                safe_close(fd);
                if (e == ENOENT)
                        return 0;
                /* EMFILE and friends: the target's own limits, its answer. */
                return raw_respond(s->listener, resp, resp_size, id, 0, e, false);
        }
        safe_close(fd);
        if (arg_addfd_mode == ADDFD_MODE_SEND)
                return 0;
        /* The fd is installed; SEND makes it the call's result. This SEND uses the synchronous wake-up,
         * ADDFD_FLAG_SEND does not. */
        return raw_respond(s->listener, resp, resp_size, id, newfd, 0, false);
}

static void *raw_supervisor_thread(void *userdata) {
        RawSupervisor *s = userdata;
        struct seccomp_notif_sizes sizes = {};
        _cleanup_free_ struct seccomp_notif *req = NULL;
        _cleanup_free_ struct seccomp_notif_resp *resp = NULL;
        size_t req_size, resp_size;

        if (sys_seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) {
                s->error = -errno;
                return NULL;
        }
        /* The kernel's structs may be larger than the headers' (crun does the same). */
        req_size = MAX(sizeof(*req), (size_t) sizes.seccomp_notif);
        resp_size = MAX(sizeof(*resp), (size_t) sizes.seccomp_notif_resp);
        req = malloc(req_size);
        resp = malloc(resp_size);
        if (!req || !resp) {
                s->error = -ENOMEM;
                return NULL;
        }

        for (;;) {
                bool stop;
                int r;

                memset(req, 0, req_size);
                if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
                        if (errno == EINTR || errno == ENOENT)
                                continue;
                        s->error = -errno;
                        return NULL;
                }
                stop = (int) req->data.args[0] == STOP_DIRFD;

                if (s->policy != RAW_CONTINUE_ALL && !stop)
                        r = raw_answer_open(s, req, resp, resp_size);
                else
                        r = raw_respond(s->listener, resp, resp_size, req->id, 0, 0, true);
                if (r < 0) {
                        s->error = r;
                        return NULL;
                }
                s->answered++;
                if (stop)
                        return NULL;
        }
}

/* The broker side: register the listener as a sandbox launcher would, with one rule the call does not
 * match, so every call takes the broker's default-action path. */
typedef struct Broker {
        sd_bus *bus;
        const char *destination; /* NULL on the peer-to-peer socket */
        char *listener_path;
        uint64_t listener_id;
        char *version;
        char *features;
} Broker;

static void broker_done(Broker *b) {
        b->bus = sd_bus_flush_close_unref(b->bus);
        free(b->listener_path);
        free(b->version);
        free(b->features);
}

static int broker_connect(Broker *b) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *f;
        size_t len = 0;
        int r;

        if (arg_socket) {
                _cleanup_free_ char *address = NULL;

                if (asprintf(&address, "unix:path=%s", arg_socket) < 0)
                        return -ENOMEM;
                r = sd_bus_new(&b->bus);
                if (r < 0)
                        return r;
                r = sd_bus_set_address(b->bus, address);
                if (r < 0)
                        return r;
                r = sd_bus_negotiate_fds(b->bus, true);
                if (r < 0)
                        return r;
                r = sd_bus_start(b->bus);
                if (r < 0)
                        return error_errno(r, "Failed to connect to '%s': %m", arg_socket);
                b->destination = NULL;
        } else {
                r = sd_bus_open_system(&b->bus);
                if (r < 0)
                        return error_errno(r, "Failed to connect to the system bus: %m");
                b->destination = BROKER_NAME;
        }

        r = sd_bus_get_property_string(b->bus, b->destination, BROKER_PATH, MANAGER_IFACE, "Version",
                                       &error, &b->version);
        if (r < 0) {
                fprintf(stderr, "sysbrokerd is not answering on %s: %s\n",
                        arg_socket ?: "the system bus", error.message ?: strerror(-r));
                return r;
        }

        r = sd_bus_get_property(b->bus, b->destination, BROKER_PATH, MANAGER_IFACE, "KernelFeatures",
                                &error, &reply, "as");
        if (r < 0)
                return error_errno(r, "Failed to read KernelFeatures: %s", error.message ?: strerror(-r));
        r = sd_bus_message_enter_container(reply, 'a', "s");
        if (r < 0)
                return r;
        b->features = calloc(1, 1);
        if (!b->features)
                return -ENOMEM;
        while ((r = sd_bus_message_read(reply, "s", &f)) > 0) {
                size_t l = strlen(f);
                char *n = realloc(b->features, len + l + 3);
                if (!n)
                        return -ENOMEM;
                b->features = n;
                if (len > 0) {
                        memcpy(b->features + len, ", ", 2);
                        len += 2;
                }
                memcpy(b->features + len, f, l + 1);
                len += l;
        }
        return r;
}

static int broker_register(Broker *b, int listener, Mode mode) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *path;
        int r;

        r = sd_bus_message_new_method_call(b->bus, &m, b->destination, BROKER_PATH, MANAGER_IFACE,
                                           "RegisterListener");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "h", listener);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        if (mode == MODE_BROKER)
                r = sd_bus_message_append(m, "a{sv}", 5,
                                          "Syscall", "s", "mknod",
                                          "Path", "s", "/nonexistent/x",
                                          "Type", "s", "c",
                                          "Major", "u", 1,
                                          "Minor", "u", 3);
        else if (mode == MODE_MOUNT_BROKER)
                /* The target's tmpfs on its mount point, with the size it asks for; nosuid,nodev forced. */
                r = sd_bus_message_append(m, "a{sv}", 4,
                                          "Syscall", "s", "mount",
                                          "FsType", "s", MOUNT_FSTYPE,
                                          "Target", "s", mount_path,
                                          "Options", "as", 1, "size=*");
        else
                /* Read access to root's file: the one the target opens (emulated), or not (continued). */
                r = sd_bus_message_append(m, "a{sv}", 3,
                                          "Syscall", "s", "open",
                                          "Path", "s", open_path,
                                          "Access", "s", "r");
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "a{sv}", 1, "Description", "s", "sysbroker-bench");
        if (r < 0)
                return r;

        r = sd_bus_call(b->bus, m, 30 * USEC_PER_SEC, &error, &reply);
        if (r < 0) {
                fprintf(stderr, "sysbrokerd refused the listener: %s: %s\n", error.name, error.message);
                return r;
        }
        r = sd_bus_message_read(reply, "ot", &path, &b->listener_id);
        if (r < 0)
                return r;
        free(b->listener_path);
        b->listener_path = strdup(path);
        return b->listener_path ? 0 : -ENOMEM;
}

static int broker_counter(Broker *b, const char *name, uint64_t *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_get_property_trivial(b->bus, b->destination, b->listener_path, LISTENER_IFACE, name,
                                        &error, 't', ret);
        if (r < 0)
                fprintf(stderr, "Failed to read %s of %s: %s\n", name, b->listener_path,
                        error.message ?: strerror(-r));
        return r;
}

static int compare_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

/* Sorts v. */
static double median(double *v, unsigned n) {
        qsort(v, n, sizeof(double), compare_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static Measurement summarize(const Result *result) {
        double v[MAX_RUNS];

        memcpy(v, result->ns_per_call, sizeof(double) * arg_runs);
        return (Measurement) {
                .median = median(v, arg_runs),
                .min = v[0],
                .max = v[arg_runs - 1],
        };
}

/* A row over all rounds: the median of its rounds' medians, the extremes of all its runs. */
static Measurement summarize_rounds(const Measurement *rounds) {
        double v[MAX_ROUNDS];
        Measurement m = rounds[0];

        for (unsigned i = 0; i < arg_rounds; i++) {
                v[i] = rounds[i].median;
                m.min = MIN(m.min, rounds[i].min);
                m.max = MAX(m.max, rounds[i].max);
        }
        m.median = median(v, arg_rounds);
        return m;
}

/* ---- registration rows ---- */

static const unsigned register_rule_counts[] = { 1, 8, 64 };

static bool register_rows_selected(void) {
        return arg_rows == ROWS_ALL || arg_rows == ROWS_REGISTER;
}

/* A child with a listener of its own (nothing it calls is trapped: it waits for the bench to close sock). */
static int listener_child_new(pid_t *ret_pid, int *ret_sock, int *ret_listener) {
        int pair[2], listener;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                safe_close(pair[0]);
                safe_close(pair[1]);
                return -errno;
        }
        if (pid == 0) {
                char c;
                int fd;

                /* Only its own end: one holding an earlier child's end would keep that child waiting. */
                if (pair[1] > 3 && syscall(SYS_close_range, 3, pair[1] - 1, 0) < 0)
                        _exit(EXIT_FAILURE);
                if (syscall(SYS_close_range, pair[1] + 1, ~0U, 0) < 0)
                        _exit(EXIT_FAILURE);
                fd = install_filter(MODE_RAW);
                if (fd < 0 || fd_send(pair[1], fd) < 0)
                        _exit(EXIT_FAILURE);
                safe_close(fd);
                while (read(pair[1], &c, 1) < 0 && errno == EINTR)
                        ;
                _exit(EXIT_SUCCESS);
        }
        safe_close(pair[1]);
        listener = fd_receive(pair[0]);
        if (listener < 0) {
                safe_close(pair[0]);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return listener;
        }
        *ret_pid = pid;
        *ret_sock = pair[0];
        *ret_listener = listener;
        return 0;
}

static int broker_register_open_rules(Broker *b, int listener, unsigned n_rules, char **ret_path) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *path;
        uint64_t id;
        int r;

        r = sd_bus_message_new_method_call(b->bus, &m, b->destination, BROKER_PATH, MANAGER_IFACE,
                                           "RegisterListener");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "h", listener);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        for (unsigned i = 0; i < n_rules && r >= 0; i++) {
                char rule_path[64];

                /* Distinct paths: identical rules would be one polkit check. */
                (void) snprintf(rule_path, sizeof rule_path, "/nonexistent/sysbroker-bench/%u", i);
                r = sd_bus_message_append(m, "a{sv}", 3, "Syscall", "s", "open", "Path", "s", rule_path,
                                          "Access", "s", "r");
        }
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "a{sv}", 1, "Description", "s", "sysbroker-bench register");
        if (r < 0)
                return r;
        r = sd_bus_call(b->bus, m, 30 * USEC_PER_SEC, &error, &reply);
        if (r < 0) {
                fprintf(stderr, "sysbrokerd refused the listener: %s: %s\n", error.name, error.message);
                return r;
        }
        r = sd_bus_message_read(reply, "ot", &path, &id);
        if (r < 0)
                return r;
        *ret_path = strdup(path);
        return *ret_path ? 0 : -ENOMEM;
}

static int broker_unregister(Broker *b, const char *path) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(b->bus, b->destination, path, LISTENER_IFACE, "Unregister", &error, NULL,
                               NULL);
        if (r < 0)
                fprintf(stderr, "Failed to unregister %s: %s\n", path, error.message ?: strerror(-r));
        return r;
}

/* Runs of arg_register_iterations registrations with n_rules rules, each unregistered at once; the figure is
 * per pair. The listeners are made before each run is timed and let go of after it. */
static int measure_register(Broker *b, unsigned n_rules, Measurement *ret) {
        unsigned n = arg_register_iterations;
        pid_t *pids = calloc(n, sizeof *pids);
        int *socks = calloc(n, sizeof *socks), *listeners = calloc(n, sizeof *listeners);
        double per_pair[MAX_RUNS];
        int r = 0;

        if (!pids || !socks || !listeners) {
                r = -ENOMEM;
                goto finish;
        }
        for (unsigned i = 0; i < n; i++)
                socks[i] = listeners[i] = -EBADF;

        for (unsigned run = 0; run < arg_runs + 1 && r >= 0; run++) {
                unsigned made = 0;
                uint64_t start;

                for (; made < n; made++) {
                        r = listener_child_new(&pids[made], &socks[made], &listeners[made]);
                        if (r < 0) {
                                error_errno(r, "Failed to make a listener: %m");
                                break;
                        }
                }
                start = now_ns();
                for (unsigned i = 0; i < made && r >= 0; i++) {
                        _cleanup_free_ char *path = NULL;

                        r = broker_register_open_rules(b, listeners[i], n_rules, &path);
                        if (r >= 0)
                                r = broker_unregister(b, path);
                }
                /* The first run warms up polkitd (its rules file, its caches) and is not counted. */
                if (run > 0 && r >= 0)
                        per_pair[run - 1] = (double) (now_ns() - start) / n;
                for (unsigned i = 0; i < made; i++) {
                        listeners[i] = safe_close(listeners[i]);
                        socks[i] = safe_close(socks[i]);
                        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
                                ;
                }
        }
        if (r >= 0) {
                qsort(per_pair, arg_runs, sizeof(double), compare_double);
                *ret = (Measurement) {
                        .median = median(per_pair, arg_runs),
                        .min = per_pair[0],
                        .max = per_pair[arg_runs - 1],
                };
        }
finish:
        free(pids);
        free(socks);
        free(listeners);
        return r;
}

/* Trapped calls a target makes, the probe included (the raw supervisor's stop call not): a mount row's
 * iterations are pairs of calls. */
static uint64_t calls_per_target(Mode mode) {
        uint64_t n = 1 + (uint64_t) mode_warmup(mode) + (uint64_t) arg_runs * mode_iterations(mode);
        return mode_is_mount(mode) ? 2 * n : n;
}

/* Fork a target, put the mode's supervisor behind its listener, collect its timings. */
static int measure(Mode mode, Broker *broker, Measurement *ret) {
        _cleanup_close_ int sock = -EBADF, listener = -EBADF;
        /* Static: on failure its thread is left behind, still pointing here. */
        static RawSupervisor raw;
        pthread_t raw_thread;
        bool raw_started = false;
        Result result = {};
        int pair[2], r, status;
        pid_t pid;
        char c = 'G';

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(pair[0]);
                safe_close(pair[1]);
                return r;
        }
        if (pid == 0) {
                safe_close(pair[0]);
                target_main(pair[1], mode);
        }
        safe_close(pair[1]);
        sock = pair[0];

        if (!mode_is_native(mode)) {
                listener = fd_receive(sock);
                if (listener < 0) {
                        fprintf(stderr, "The target did not hand over its listener.\n");
                        r = listener;
                        goto finish;
                }
        }

        switch (mode) {
        case MODE_RAW:
        case MODE_OPEN_RAW_EMULATE:
        case MODE_OPEN_RAW_CONTINUE:
                /* The minimal supervisor gets the 6.6 synchronous wake-up; without it a round trip is
                 * a cross-CPU wake-up each way. */
                if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0)
                        fprintf(stderr, "Note: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP unsupported: %m\n");
                raw = (RawSupervisor) {
                        .listener = listener,
                        .policy = mode == MODE_OPEN_RAW_EMULATE ? RAW_EMULATE_ALL :
                                  mode == MODE_OPEN_RAW_CONTINUE ? RAW_EMULATE_ONE_PATH : RAW_CONTINUE_ALL,
                };
                r = -pthread_create(&raw_thread, NULL, raw_supervisor_thread, &raw);
                if (r < 0)
                        goto finish;
                raw_started = true;
                break;
        case MODE_BROKER:
        case MODE_OPEN_BROKER_EMULATE:
        case MODE_OPEN_BROKER_CONTINUE:
        case MODE_MOUNT_BROKER:
                /* Deliberately no SET_FLAGS here: making the listener fast is sysbrokerd's job. */
                r = broker_register(broker, listener, mode);
                if (r < 0)
                        goto finish;
                /* The broker holds its own copy now; ours would keep the listener alive after the target. */
                listener = safe_close(listener);
                break;
        case MODE_NATIVE:
        case MODE_OPEN_NATIVE:
        case MODE_MOUNT_NATIVE:
                break;
        case _MODE_MAX:
        default:
                r = -EINVAL;
                goto finish;
        }

        r = write_full(sock, &c, 1);
        if (r < 0)
                goto finish;

        /* A supervisor that does not answer leaves the target blocked forever: give up loudly. */
        r = read_full(sock, &c, 1, PROBE_TIMEOUT_MS);
        if (r == -ETIMEDOUT) {
                fprintf(stderr, "No answer to a trapped call within %d ms from %s.\n", PROBE_TIMEOUT_MS,
                        mode_is_broker(mode) ? "sysbrokerd" : "the raw supervisor");
                goto finish;
        }
        if (r < 0)
                goto finish;

        r = read_full(sock, &result, sizeof result, -1);
        if (r < 0) {
                fprintf(stderr, "The %s target died during the run.\n", mode_label[mode]);
                goto finish;
        }

        int expected_errno = mode_is_open(mode) || mode_is_mount(mode) ? 0 : EEXIST;
        if (result.probe_errno != expected_errno) {
                fprintf(stderr, "%s: %s gave %s, expected %s.\n", mode_label[mode],
                        mode_is_open(mode) ? "openat()" : mode_is_mount(mode) ? "mount() or umount2()" : "mknodat()",
                        strerrorname_np(result.probe_errno) ?: "success",
                        strerrorname_np(expected_errno) ?: "success");
                r = -EBADE;
                goto finish;
        }
        if (mode_is_open(mode) && !result.probe_data_ok) {
                fprintf(stderr, "%s: the fd the first openat() returned does not read the file, or lacks "
                        "FD_CLOEXEC.\n", mode_label[mode]);
                r = -EBADE;
                goto finish;
        }
        if (mode_is_mount(mode) && !result.probe_data_ok) {
                fprintf(stderr, "%s: the first mount does not show in the target's mountinfo%s.\n",
                        mode_label[mode], mode == MODE_MOUNT_BROKER ? " with nosuid,nodev" : "");
                r = -EBADE;
                goto finish;
        }
        if (result.mismatches > 0) {
                fprintf(stderr, "%s: %u calls gave %s instead of %s.\n", mode_label[mode],
                        result.mismatches, strerrorname_np(result.mismatch_errno) ?: "success",
                        strerrorname_np(expected_errno) ?: "success");
                r = -EBADE;
                goto finish;
        }

        if (mode_is_broker(mode)) {
                bool emulated = mode_is_emulated(mode);
                uint64_t notifications = 0, answered = 0;

                /* The calls gave the right result, but was it sysbrokerd that answered them, and how? */
                r = broker_counter(broker, "Notifications", &notifications);
                if (r < 0)
                        goto finish;
                /* An open answered with ADDFD and SEND is counted after the ioctl returns: the target may have
                 * sent its results before the listener thread ran again. Give the thread a moment. */
                for (unsigned wait = 0;; wait++) {
                        r = broker_counter(broker, emulated ? "Emulated" : "Continued", &answered);
                        if (r < 0)
                                goto finish;
                        if (answered >= calls_per_target(mode) || wait >= 200)
                                break;
                        (void) usleep(10 * 1000);
                }
                /* The mount rows' line is told apart: the mknod and open lines are compared as a set. */
                printf("sysbrokerd%s: %s %" PRIu64 " of %" PRIu64 " calls (%" PRIu64
                       " notifications) on listener %" PRIu64 "\n", mode_is_mount(mode) ? ", mount rows" : "",
                       emulated ? "emulated" : "continued", answered, calls_per_target(mode), notifications,
                       broker->listener_id);
                if (answered != calls_per_target(mode) || notifications != calls_per_target(mode)) {
                        fprintf(stderr, "sysbrokerd's counters do not match the calls made.\n");
                        r = -EBADE;
                        goto finish;
                }
        }

        *ret = summarize(&result);
        r = 0;

finish:
        /* Let the target go (or make it go), then reap it and the raw supervisor. */
        if (r < 0)
                (void) kill(pid, SIGKILL);
        else
                (void) write_full(sock, &c, 1);
        sock = safe_close(sock);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (raw_started && r < 0) {
                /* It may be blocked in RECV on a listener nobody will ever notify again; we exit soon. */
                (void) pthread_detach(raw_thread);
                listener = -EBADF;
        } else if (raw_started) {
                (void) pthread_join(raw_thread, NULL);
                if (raw.error < 0) {
                        r = error_errno(raw.error, "The raw supervisor failed: %m");
                }
                if (r >= 0 && raw.answered != calls_per_target(mode) + 1) {
                        fprintf(stderr, "The raw supervisor answered %" PRIu64 " calls, expected %" PRIu64 ".\n",
                                raw.answered, calls_per_target(mode) + 1);
                        r = -EBADE;
                }
        }
        if (r >= 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
                fprintf(stderr, "The %s target did not exit cleanly.\n", mode_label[mode]);
                r = -ECHILD;
        }
        return r;
}

static int parse_unsigned(const char *s, unsigned min, unsigned max, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Measure the cost of a trapped syscall natively, under a minimal seccomp supervisor and\n"
               "under sysbrokerd (which must be running, reachable and authorizing root).\n\n"
               "  -h --help            Show this help\n"
               "  -n --iterations=N    Calls per timed run (default: 200000)\n"
               "  -r --runs=N          Timed runs; the median is reported (default: 5, max: %d)\n"
               "  -w --warmup=N        Untimed calls before the runs (default: 20000)\n"
               "     --rounds=N        Measure every row N times over, one row after the other, and\n"
               "                       report the median of the rounds, and of each round's ratios: a\n"
               "                       machine that slows down for a while moves both rows of a ratio\n"
               "                       (default: 1, max: %d)\n"
               "     --socket=PATH     Talk to sysbrokerd on its peer-to-peer socket, not the system bus\n"
               "  -m --mount-iterations=N\n"
               "                       mount+umount pairs per timed run of the mount rows (default: 2000;\n"
               "                       their warm-up is a tenth of that, at most --warmup)\n"
               "     --rows=all|mknod|open|mount|register\n"
               "                       Measure only the mknod rows (a-c), the open rows (d-h), the mount\n"
               "                       rows (i-j, root only; 'all' leaves them out for other users) or the\n"
               "                       registration rows (RegisterListener+Unregister, 1, 8, 64 open rules)\n"
               "     --register-iterations=N\n"
               "                       Registrations per timed run of the registration rows (default: 20)\n"
               "     --addfd-mode=send|separate\n"
               "                       How the raw supervisor (e) installs the fd: ADDFD with FLAG_SEND, or\n"
               "                       ADDFD then SEND (default: send; sysbrokerd chooses for itself)\n"
               "     --check           Exit 1 if a ratio sysbrokerd/raw is above %.1f\n",
               program_invocation_short_name, MAX_RUNS, MAX_ROUNDS, RATIO_TARGET);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_SOCKET = 0x100,
                ARG_CHECK,
                ARG_ROWS,
                ARG_ADDFD_MODE,
                ARG_ROUNDS,
                ARG_REGISTER_ITERATIONS,
        };
        static const struct option options[] = {
                { "help",       no_argument,       NULL, 'h'        },
                { "iterations", required_argument, NULL, 'n'        },
                { "runs",       required_argument, NULL, 'r'        },
                { "warmup",     required_argument, NULL, 'w'        },
                { "mount-iterations", required_argument, NULL, 'm'  },
                { "socket",     required_argument, NULL, ARG_SOCKET },
                { "check",      no_argument,       NULL, ARG_CHECK  },
                { "rows",       required_argument, NULL, ARG_ROWS   },
                { "addfd-mode", required_argument, NULL, ARG_ADDFD_MODE },
                { "rounds",     required_argument, NULL, ARG_ROUNDS },
                { "register-iterations", required_argument, NULL, ARG_REGISTER_ITERATIONS },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hn:r:w:m:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'n':
                        if (parse_unsigned(optarg, 1, UINT32_MAX, &arg_iterations) < 0)
                                return error_errno(EINVAL, "Invalid iteration count '%s'.", optarg);
                        break;
                case 'r':
                        if (parse_unsigned(optarg, 1, MAX_RUNS, &arg_runs) < 0)
                                return error_errno(EINVAL, "Invalid run count '%s'.", optarg);
                        break;
                case 'w':
                        if (parse_unsigned(optarg, 0, UINT32_MAX, &arg_warmup) < 0)
                                return error_errno(EINVAL, "Invalid warm-up count '%s'.", optarg);
                        break;
                case 'm':
                        if (parse_unsigned(optarg, 1, UINT32_MAX, &arg_mount_iterations) < 0)
                                return error_errno(EINVAL, "Invalid mount iteration count '%s'.", optarg);
                        break;
                case ARG_SOCKET:
                        arg_socket = optarg;
                        break;
                case ARG_CHECK:
                        arg_check = true;
                        break;
                case ARG_ROWS:
                        if (streq(optarg, "all"))
                                arg_rows = ROWS_ALL;
                        else if (streq(optarg, "mknod"))
                                arg_rows = ROWS_MKNOD;
                        else if (streq(optarg, "open"))
                                arg_rows = ROWS_OPEN;
                        else if (streq(optarg, "mount"))
                                arg_rows = ROWS_MOUNT;
                        else if (streq(optarg, "register"))
                                arg_rows = ROWS_REGISTER;
                        else
                                return error_errno(EINVAL,
                                                   "Invalid --rows '%s': all, mknod, open, mount or register.",
                                                   optarg);
                        break;
                case ARG_REGISTER_ITERATIONS:
                        if (parse_unsigned(optarg, 1, 10000, &arg_register_iterations) < 0)
                                return error_errno(EINVAL, "Invalid registration count '%s'.", optarg);
                        break;
                case ARG_ROUNDS:
                        if (parse_unsigned(optarg, 1, MAX_ROUNDS, &arg_rounds) < 0)
                                return error_errno(EINVAL, "Invalid round count '%s'.", optarg);
                        break;
                case ARG_ADDFD_MODE:
                        if (streq(optarg, "send"))
                                arg_addfd_mode = ADDFD_MODE_SEND;
                        else if (streq(optarg, "separate"))
                                arg_addfd_mode = ADDFD_MODE_SEPARATE;
                        else
                                return error_errno(EINVAL, "Invalid --addfd-mode '%s': send or separate.", optarg);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return error_errno(EINVAL, "Unexpected argument '%s'.", argv[optind]);
        return 1;
}

static int probe_filter_flags(void) {
        /* WAIT_KILLABLE_RECV (5.19) makes a trapped call ignore non-fatal signals once the supervisor has
         * it, which sysbrokerd relies on; measure what it will see. Probe in a child: a filter sticks. */
        pid_t pid;
        int status;

        filter_flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd = install_filter(MODE_RAW);
                _exit(fd >= 0 ? 0 : fd == -EINVAL ? 2 : 1);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
                fprintf(stderr, "Note: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV unsupported, measuring without.\n");
                filter_flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "Cannot install a seccomp filter with a listener.\n");
                return -EPERM;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(broker_done) Broker broker = {};
        Measurement m[_MODE_MAX][MAX_ROUNDS] = {};
        Measurement m_register[ELEMENTSOF(register_rule_counts)][MAX_ROUNDS] = {};
        char tmpdir[] = "/tmp/sysbroker-bench.XXXXXX";
        bool ratio_missed = false;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        /* Line-buffered even into a pipe: the table should appear as it is measured. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        /* A target that died shows up as an error from write(), not as our death. */
        (void) signal(SIGPIPE, SIG_IGN);

        if (!mkdtemp(tmpdir)) {
                error_errno(errno, "Failed to create a temporary directory: %m");
                return EXIT_FAILURE;
        }
        (void) snprintf(node_path, sizeof node_path, "%s/bench-node", tmpdir);
        if (mknod(node_path, S_IFIFO | 0600, 0) < 0) {
                r = error_errno(errno, "Failed to create '%s': %m", node_path);
                goto finish;
        }
        (void) snprintf(open_path, sizeof open_path, "%s/open-target", tmpdir);
        (void) snprintf(public_path, sizeof public_path, "%s/open-public", tmpdir);
        r = create_open_file(open_path, 0600);
        if (r >= 0)
                r = create_open_file(public_path, 0644);
        if (r < 0)
                goto finish;
        /* The sandboxed targets run as another user: they must reach the files and the mount point. */
        if (chmod(tmpdir, 0755) < 0) {
                r = error_errno(errno, "Failed to make '%s' searchable: %m", tmpdir);
                goto finish;
        }

        if (arg_rows == ROWS_MOUNT && geteuid() != 0) {
                r = error_errno(EPERM, "The mount rows need root (the native row mounts directly).");
                goto finish;
        }
        if (mode_selected(MODE_MOUNT_NATIVE)) {
                (void) snprintf(mount_path, sizeof mount_path, "%s/mount-point", tmpdir);
                /* The mount point is the target's own: sysbrokerd mounts only where the caller may write. */
                if (mkdir(mount_path, 0755) < 0 ||
                    chown(mount_path, SANDBOX_UID, SANDBOX_UID) < 0) {
                        r = error_errno(errno, "Failed to create '%s': %m", mount_path);
                        goto finish;
                }
        }

        r = probe_filter_flags();
        if (r < 0)
                goto finish;

        /* Before anything is timed: no broker, no figures. */
        r = broker_connect(&broker);
        if (r < 0)
                goto finish;

        printf("sysbroker-bench %s\n", PACKAGE_VERSION);
        if (mode_selected(MODE_NATIVE))
                printf("(a-c) mknodat(AT_FDCWD, \"%s\", S_IFCHR|0600, 1:7) -> EEXIST\n", node_path);
        if (mode_selected(MODE_OPEN_NATIVE))
                printf("(d-f) openat(AT_FDCWD, \"%s\", O_RDONLY|O_CLOEXEC) -> fd, close(fd)%s\n"
                       "(g-h) the same of \"%s\"\n", open_path,
                       geteuid() == 0 ? ";\n      (d) by root, (e-h) by uid " XSTRINGIFY(SANDBOX_UID) : "", public_path);
        if (mode_selected(MODE_NATIVE) || mode_selected(MODE_OPEN_NATIVE))
                printf("%u timed runs of %u calls after %u warm-up calls, median per call, CLOCK_MONOTONIC\n",
                       arg_runs, arg_iterations, arg_warmup);
        if (mode_selected(MODE_MOUNT_NATIVE)) {
                printf("(i-j) mount(\"%s\", \"%s\", \"%s\", 0, \"%s\") -> 0, umount2(same, 0) -> 0;\n"
                       "      (j) by uid %d; %u timed runs of %u pairs after %u warm-up pairs, median per pair\n",
                       MOUNT_SOURCE, mount_path, MOUNT_FSTYPE, MOUNT_DATA, SANDBOX_UID, arg_runs,
                       mode_iterations(MODE_MOUNT_NATIVE), mode_warmup(MODE_MOUNT_NATIVE));
        } else if (arg_rows == ROWS_ALL)
                printf("(i-j) mount rows left out: they need root\n");
        if (register_rows_selected())
                printf("(register) RegisterListener with N open rules (one polkit check each, and one\n"
                       "      for the listener), then Unregister; %u timed runs of %u pairs after one\n"
                       "      untimed run, median per pair\n", arg_runs, arg_register_iterations);
        if (arg_rows == ROWS_MOUNT || arg_rows == ROWS_REGISTER)
                /* No raw supervisor among the mount rows. */
                printf("filter: NEW_LISTENER%s\n",
                       filter_flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ? "|WAIT_KILLABLE_RECV" : "");
        else
                printf("filter: NEW_LISTENER%s; raw listener: SYNC_WAKE_UP; raw emulation (e): %s;\n"
                       "raw continue of another path (g): process_vm_readv, SEND(CONTINUE)\n",
                       filter_flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ? "|WAIT_KILLABLE_RECV" : "",
                       arg_addfd_mode == ADDFD_MODE_SEND ? "process_vm_readv, ID_VALID, openat2, ADDFD(FLAG_SEND)"
                                                         : "process_vm_readv, ID_VALID, openat2, ADDFD, SEND");
        printf("sysbrokerd %s on %s%s; kernel features: %s\n", broker.version,
               arg_socket ? "socket " : "the system bus", strempty(arg_socket), broker.features);

        for (unsigned round = 0; round < arg_rounds; round++)
                for (Mode mode = 0; mode < _MODE_MAX; mode++) {
                        if (!mode_selected(mode))
                                continue;
                        r = measure(mode, &broker, &m[mode][round]);
                        if (r < 0) {
                                error_errno(r, "Measuring %s failed: %m", mode_label[mode]);
                                goto finish;
                        }
                }

        for (unsigned round = 0; round < arg_rounds && register_rows_selected(); round++)
                for (size_t i = 0; i < ELEMENTSOF(register_rule_counts); i++) {
                        r = measure_register(&broker, register_rule_counts[i], &m_register[i][round]);
                        if (r < 0) {
                                error_errno(r, "Measuring registrations with %u rules failed: %m",
                                            register_rule_counts[i]);
                                goto finish;
                        }
                }

        if (arg_rows != ROWS_REGISTER) {
                printf("\n%-42s %10s %10s %10s\n", "configuration", "ns/call", "min", "max");
                for (Mode mode = 0; mode < _MODE_MAX; mode++)
                        if (mode_selected(mode)) {
                                Measurement all = summarize_rounds(m[mode]);
                                printf("%-42s %10.0f %10.0f %10.0f\n", mode_label[mode], all.median, all.min,
                                       all.max);
                        }
        }
        if (register_rows_selected()) {
                printf("\n%-42s %10s %10s %10s\n", "configuration", "us/pair", "min", "max");
                for (size_t i = 0; i < ELEMENTSOF(register_rule_counts); i++) {
                        Measurement all = summarize_rounds(m_register[i]);
                        char label[64];

                        (void) snprintf(label, sizeof label, "(register) %u open rule%s",
                                        register_rule_counts[i], register_rule_counts[i] == 1 ? "" : "s");
                        printf("%-42s %10.0f %10.0f %10.0f\n", label, all.median / 1000, all.min / 1000,
                               all.max / 1000);
                }
        }
        printf("\n");
        for (size_t i = 0; i < ELEMENTSOF(ratios); i++) {
                double per_round[MAX_ROUNDS], ratio;
                char rounds[MAX_ROUNDS * 6 + 16] = "";

                if (!mode_selected(ratios[i].broker))
                        continue;
                /* Each round's rows ran within seconds of each other: its ratio is the one to trust. */
                for (unsigned round = 0; round < arg_rounds; round++) {
                        per_round[round] = m[ratios[i].broker][round].median / m[ratios[i].raw][round].median;
                        if (arg_rounds > 1)
                                snprintf(rounds + strlen(rounds), sizeof rounds - strlen(rounds), "%s%.2f",
                                         round == 0 ? "; rounds: " : " ", per_round[round]);
                }
                ratio = median(per_round, arg_rounds);
                printf("ratio sysbrokerd/raw %s: %.2f (target <= %.2f: %s%s)\n", ratios[i].what, ratio,
                       RATIO_TARGET, ratio <= RATIO_TARGET ? "met" : "NOT MET", rounds);
                if (ratio > RATIO_TARGET)
                        ratio_missed = true;
        }
        r = arg_check && ratio_missed ? -ERANGE : 0;

finish:
        (void) unlink(node_path);
        (void) unlink(open_path);
        (void) unlink(public_path);
        if (mount_path[0] != '\0') {
                /* A failed run may leave its tmpfs (or several, stacked) behind. */
                for (unsigned i = 0; i < 64 && umount2(mount_path, MNT_DETACH) >= 0; i++)
                        ;
                (void) rmdir(mount_path);
        }
        (void) rmdir(tmpdir);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
