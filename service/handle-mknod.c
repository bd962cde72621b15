/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mknod(path, mode, dev) and mknodat(dirfd, path, mode, dev): device nodes a rule allows, created in the
 * target's view with its credentials and CAP_MKNOD. */

#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "emulate.h"
#include "log.h"
#include "supervisor.h"

static bool node_is_the_one_asked_for(int dir_fd, const char *name, mode_t mode, uint32_t major, uint32_t minor,
                                      const Target *t) {
        struct stat st;

        return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && (st.st_mode & S_IFMT) == (mode & S_IFMT) &&
                st.st_rdev == makedev(major, minor) && st.st_uid == t->fsuid;
}

/* A mapping rule that matched but does not make this node, for a reason its owner can fix (the sandbox's
 * directory is not the mapped one, an unsafe symlink or an escape on the way there): logged naming the rule
 * (its index and description) and why, to the journal and the owner (supervisor_refuse_rule()), and answered
 * with the default action, as if no rule applied. Every such line of mknod is made here. */
static Answer mknod_mapping_refused(Supervisor *s, const Target *t, const Rule *rule, const char *path,
                                    const char *format, ...) _printf_(5, 6);
static Answer mknod_mapping_refused(Supervisor *s, const Target *t, const Rule *rule, const char *path,
                                    const char *format, ...) {
        char why[1024];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(why, sizeof why, format, ap);
        va_end(ap);
        supervisor_refuse_rule(s, rule, path, t->tid, answer_default_errno(s),
                               "mknod '%s' by task %i: %s, default action.", path, t->tid, why);
        return answer_default(s);
}

/* A mapping rule's check (rule->host_dir): the directory the node goes in (dir, of the sandbox's path full) is
 * the host directory the mapping makes of it, "<HostPath>/<the rest of the directory's path>" resolved beneath
 * HostPath (host-path.h), with the target's credentials as taken plus CAP_DAC_READ_SEARCH, as open's walk to
 * a HostPath: a container's /dev lies below directories only root may search, and the walk only compares.
 * Answered (refused) only if not. */
static bool mknod_in_mapped_dir(Supervisor *s, const Target *t, const Rule *rule, const char *full, int dir,
                                Answer *ret) {
        _cleanup_close_ int host = -EBADF;
        _cleanup_free_ char *rel_dir = NULL;
        HostPathUnsafe unsafe = {};
        const char *rel = rule_mapped_relative(rule, full), *slash;
        struct stat a, b;
        int r;

        if (!rel) {
                *ret = answer_default(s); /* matched as below the prefix: cannot happen */
                return false;
        }
        slash = strrchr(rel, '/');
        rel_dir = strndup(rel, slash ? (size_t) (slash - rel) : 0);
        if (!rel_dir) {
                *ret = ANSWER_ERRNO_OF(ENOMEM);
                return false;
        }
        r = target_raise_capability(t, CAP_DAC_READ_SEARCH);
        if (r >= 0)
                r = supervisor_open_mapped(rule, rel_dir, 0, &host, &unsafe);
        /* Back to the target's own capabilities, whatever happened: emulate() raises CAP_MKNOD alone. */
        if (target_raise_capability(t, -1) < 0 && r >= 0)
                r = -EPERM;
        if (r >= 0 && (fstat(host, &a) < 0 || fstat(dir, &b) < 0))
                r = -errno;
        if (r >= 0 && S_ISDIR(a.st_mode) && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                return true;

        if (r == -ENOLINK)
                *ret = mknod_mapping_refused(s, t, rule, full, "the host's directory '%s/%s' leads through an unsafe "
                                             "symlink at '%s' (owned by uid %u, in a directory of uid %u, mode %04o)",
                                             rule->host_path, rel_dir, unsafe.path, unsafe.uid, unsafe.dir_uid,
                                             (unsigned) unsafe.dir_mode);
        else if (r == -EXDEV)
                *ret = mknod_mapping_refused(s, t, rule, full, "'%s' leads outside the mapping of '%s'", rel_dir,
                                             rule->host_path);
        else if (r < 0)
                *ret = mknod_mapping_refused(s, t, rule, full, "the mapped directory '%s/%s' cannot be had: %s",
                                             rule->host_path, rel_dir, strerror(-r));
        else
                *ret = mknod_mapping_refused(s, t, rule, full, "the directory in the sandbox's view is not the "
                                             "mapped host directory '%s%s%s'", rule->host_path,
                                             rel_dir[0] ? "/" : "", rel_dir);
        return false;
}

Answer handle_mknod(Supervisor *s, NotifySyscall call) {
        Listener *l = s->listener;
        const struct seccomp_notif *req = s->buffers.req;
        const __u64 *args = req->data.args;
        bool is_at = call == NOTIFY_SYSCALL_MKNODAT;
        int dirfd = is_at ? (int) args[0] : AT_FDCWD;
        uint64_t path_address = args[is_at ? 1 : 0];
        /* The kernel takes umode_t and a 32-bit dev: truncate exactly as it does. */
        mode_t mode = (mode_t) (uint16_t) args[is_at ? 2 : 1];
        uint32_t dev = (uint32_t) args[is_at ? 3 : 2];
        uint32_t major = (dev & 0xfff00) >> 8, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
        char type = S_ISCHR(mode) ? 'c' : 'b';
        _cleanup_(target_done) Target t = TARGET_NULL;
        _cleanup_close_ int start = -EBADF, parent = -EBADF;
        _cleanup_free_ char *full = NULL;
        _cleanup_(supervisor_leavep) Supervisor *entered = NULL;
        char path[PATH_MAX];
        struct statvfs sv;
        const char *dir, *name;
        const Rule *rule;
        int64_t result;
        bool absolute;
        int r;

        /* Cheap first: without a rule for this device nothing needs the target's memory. */
        if (!S_ISCHR(mode) && !S_ISBLK(mode))
                return answer_default(s);
        if (!rule_set_find_mknod_device(l->rules, mode, major, minor))
                return answer_default(s);

        r = target_pin(&t, l->fd, req->id, (pid_t) req->pid);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        /* Confirmed with ID_VALID by target_read_identity(), before anything is done with it. */
        r = notify_read_string(t.tid, path_address, path, sizeof path);
        if (r < 0)
                return answer_failure(r);
        absolute = path[0] == '/';
        if (!split_last_component(path, &dir, &name))
                return answer_default(s);
        r = supervisor_enter_lookup(s, &t, path, dirfd, false, &start);
        if (r == -EBADF || r == -ENOTDIR || r == -EOPNOTSUPP)
                return answer_default(s); /* a bad dirfd (the kernel says it best), or one we cannot have */
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        /* Last of what is read about the target: its ID_VALID covers the cwd looked at above too. */
        r = target_read_identity(&t, l->owner_uid, l->fd, req->id);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);

        entered = supervisor_enter(s);
        r = target_take_credentials(&t);
        if (r < 0) {
                log_debug_errno(r, "Listener %" PRIu64 ": cannot take the credentials of task %i: %m", l->id, t.tid);
                return ANSWER_ERRNO_OF(ESRCH);
        }

        /* Resolve the directory as the target would, then match the path it actually reaches. Never through
         * a /proc magic link (/proc/self/fd/N, /proc/self/cwd): followed by this thread, it leads into the
         * broker's view, not the target's. Nor into a procfs, where "self" is the broker too. */
        parent = (int) syscall(SYS_openat2, at_fd(start), dir,
                               &(struct open_how) { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                                    .resolve = RESOLVE_NO_MAGICLINKS },
                               sizeof(struct open_how));
        if (parent < 0 || join_path(parent, name, &full) < 0 || fd_is_on_procfs(parent))
                return answer_default(s);

        rule = rule_set_match_mknod(l->rules, full, mode, major, minor);
        if (!rule || rule->action != RULE_ACTION_EMULATE) {
                if (!supervisor_leave(&entered))
                        return ANSWER_ERRNO_OF(EIO);
                if (!rule)
                        return answer_default(s);
                supervisor_log_decision(s, rule->action, answer_rule(rule).error, full, t.tid, "mknod %c %u:%u '%s' by task %i: %s by rule.",
                                        type, major, minor, full, t.tid, rule_action_to_string(rule->action));
                return answer_rule(rule);
        }

        if (!supervisor_target_may_use(s, &t, "mknod", full))
                return ANSWER_DENIED_OF(EPERM);

        /* The directory the node goes in must be the one the broker finds at that path, as for a file open
         * creates: a sandbox with its own mount namespace (a bind mount over the rule's directory, a chroot)
         * would otherwise have the node made in a directory of its choosing, on the host. An absolute path
         * from the broker's own root walks the broker's own mounts: that is the host's by construction, unless
         * the listener's "/" is another directory (listener.h), below which the host's is looked for. A
         * directory mapping names the host's directory itself: the node's directory must be that one. */
        if (rule->host_dir) {
                Answer refused;

                if (!mknod_in_mapped_dir(s, &t, rule, full, parent, &refused)) {
                        if (!supervisor_leave(&entered))
                                return ANSWER_ERRNO_OF(EIO);
                        return refused;
                }
        } else if (!(absolute && l->root_fd < 0 && target_thread_root_is_brokers())) {
                const char *slash = strrchr(full, '/');
                _cleanup_free_ char *host_dir = strndup(full, slash && slash != full ? (size_t) (slash - full) : 1);
                struct stat st;

                if (!host_dir || fstat(parent, &st) < 0 || !supervisor_is_hosts(s, &t, rule, "mknod", host_dir, &st, true))
                        return ANSWER_DENIED_OF(EPERM);
        }

        /* A device node on a nodev mount can never be opened (EACCES, whoever asks): refused, rather than
         * made useless and left behind. bwrap mounts its --dev and --bind directories nodev: there the
         * host's own node through HostPath is the way. The mount's flag is asked of the directory's fd, not
         * looked up by path. A file system mounted in a user namespace is nodev in its superblock, which
         * statvfs does not show, but such a directory is the sandbox's own and was refused just above. A
         * whiteout (c 0:0) is never opened, and overlayfs reads it on any mount. If the mount cannot be
         * asked, the node is made as before: this spares a user a useless node, it guards nothing. */
        if (!(S_ISCHR(mode) && major == 0 && minor == 0) && fstatvfs(parent, &sv) >= 0 &&
            (sv.f_flag & ST_NODEV)) {
                supervisor_refuse_rule(s, rule, full, t.tid, EPERM,
                                       "mknod %c %u:%u '%s' by task %i: the directory is on a nodev "
                                       "mount, where the node could never be opened; denying. A bubblewrap "
                                       "or Flatpak-style sandbox (its mounts are nodev) needs an open rule "
                                       "with HostPath set to the host's node instead.",
                                       type, major, minor, full, t.tid);
                return ANSWER_DENIED_OF(EPERM);
        }

        result = emulate(&t, &(EmulateRequest) {
                        .operation = EMULATE_MKNOD,
                        .dir_fd = parent,
                        .file_fd = -EBADF,
                        .name = name,
                        .mode = mode,
                        .major = major,
                        .minor = minor,
                });
        /* After a restart in the middle of this very call: the node may be the previous daemon's doing. */
        if (result == -EEXIST && s->resumed && node_is_the_one_asked_for(parent, name, mode, major, minor, &t))
                result = 0;
        supervisor_record_result(s, result);
        if (!supervisor_leave(&entered))
                return ANSWER_ERRNO_OF(EIO);

        supervisor_log_decision(s, RULE_ACTION_EMULATE, (int) -MIN(result, 0), full, t.tid,
                                "mknod %c %u:%u '%s' for task %i: %s.", type, major, minor, full, t.tid,
                                result < 0 ? strerror((int) -result) : "created");
        if (result < 0)
                return ANSWER_ERRNO_OF((int) -result);
        return (Answer) { .kind = ANSWER_VALUE, .value = result };
}
