/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mount(source, target, fstype, flags, data) and umount2(target, flags): the mounts a rule allows, made in
 * the target's own mount namespace with its credentials and CAP_SYS_ADMIN; remounts and unmounts of those
 * mounts only. Paths are resolved as the target resolves them and matched where resolution ends. */

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "emulate.h"
#include "host-path.h"
#include "log.h"
#include "persist.h"
#include "supervisor.h"

#define MOUNT_FSTYPE_MAX 256       /* longer than any filesystem's name: not one a rule names */
#define MOUNT_DATA_MAX 4096        /* the kernel copies at most a page of options */

#ifndef MS_MGC_MSK
#define MS_MGC_MSK 0xffff0000
#endif

/* Propagation changes grant nothing; the kernel decides them. */
#define MS_PROPAGATION (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

typedef enum MountKind {
        MOUNT_KIND_NEW,            /* a new superblock */
        MOUNT_KIND_BIND,
        MOUNT_KIND_REMOUNT,        /* with MS_BIND: the mount's flags only */
} MountKind;

typedef struct MountCall {
        MountKind kind;
        unsigned long flags;
        char target[PATH_MAX];
        char source[PATH_MAX];
        char fstype[MOUNT_FSTYPE_MAX];
        char data[MOUNT_DATA_MAX];
} MountCall;

static ListenerMount *listener_find_mount(Listener *l, uint64_t mnt_id) {
        for (size_t i = 0; i < l->n_mounts; i++)
                if (l->mounts[i].mnt_id == mnt_id)
                        return &l->mounts[i];
        return NULL;
}

static void listener_forget_mount(Listener *l, uint64_t mnt_id) {
        ListenerMount *m = listener_find_mount(l, mnt_id);

        if (m)
                *m = l->mounts[--l->n_mounts];
}

/* Forgets the mounts that are gone without the broker: their mount namespace ended (a sandbox's short-lived
 * "unshare -m"), or the sandbox unmounted them itself where it may. Only what the kernel says is gone. */
static void listener_prune_mounts(Listener *l) {
        size_t before = l->n_mounts;

        for (size_t i = 0; i < l->n_mounts; )
                if (mount_exists(l->mounts[i].mnt_id, l->mounts[i].mntns_id) == 0)
                        l->mounts[i] = l->mounts[--l->n_mounts];
                else
                        i++;
        if (l->n_mounts != before) {
                log_debug("Listener %" PRIu64 ": forgot %zu mount(s) that are gone.", l->id, before - l->n_mounts);
                persist_listener_save(l);
        }
}

/* A NULL pointer reads as "" (mount(2) allows it for source and data). */
static int read_string_argument(const Target *t, uint64_t address, char *buf, size_t size) {
        if (address == 0) {
                buf[0] = 0;
                return 0;
        }
        return notify_read_string(t->tid, address, buf, size);
}

/* O_PATH of path as the target resolves it (its root, cwd, credentials: entered by the caller), and the
 * path it reached. The broker's /proc magic links are never followed: they lead into the broker's view. */
static int resolve(const char *path, bool follow, int *ret_fd, char **ret_path) {
        struct open_how how = {
                .flags = O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW),
                .resolve = RESOLVE_NO_MAGICLINKS,
        };
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (path[0] == 0)
                return -ENOENT;
        fd = (int) syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
        if (fd < 0)
                return -errno;
        r = fd_get_path(fd, ret_path);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* May the caller (its fs ids, as taken) write to the mount point? As fusermount asks: covering what one may not
 * change is not one's to do. */
static bool caller_may_write(int fd) {
        return syscall(SYS_faccessat2, fd, "", W_OK, AT_EMPTY_PATH | AT_EACCESS) == 0;
}

/* A disk filesystem's device: a block device at a path the broker sees the same device at, resolved safely
 * (host-path.h). A sandbox with its own mount namespace could otherwise put another device node (the host's
 * disk) where the rule names one, and a user who can write a directory on the way make the host's path a
 * symlink to that device. 1 if it is, 0 if not, -ENOLINK (and *ret_unsafe) for an unsafe symlink on the way. */
static int device_is_hosts(int fd, const char *path, HostPathUnsafe *ret_unsafe) {
        struct stat st;
        int r;

        if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode))
                return 0;
        r = host_path_same(path, &st, false, ret_unsafe);
        return r == -ENOLINK ? r : r > 0;
}

/* The broker's stat of path, no symlink followed anywhere on it (the last component itself included). */
static int broker_lstat_no_symlinks(const char *path, struct stat *ret) {
        struct open_how how = {
                .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        _cleanup_close_ int fd = -EBADF;

        fd = (int) syscall(SYS_openat2, broker_root_dir(), path, &how, sizeof how);
        if (fd < 0 || fstat(fd, ret) < 0)
                return -errno;
        return 0;
}

/* Whether only root can change what path names in the broker's view: no symlink on the way or at its end,
 * every directory on the way root's and writable by no one else. The kernel looks a disk's device path up
 * itself, later, following whatever is there then; such a name stays put. */
static bool name_is_roots(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        struct stat st;
        char *slash;

        if (!copy || broker_lstat_no_symlinks(path, &st) < 0 || S_ISLNK(st.st_mode))
                return false;
        while ((slash = strrchr(copy, '/'))) {
                *slash = 0;
                if (broker_lstat_no_symlinks(copy[0] ? copy : "/", &st) < 0 || !S_ISDIR(st.st_mode) ||
                    st.st_uid != 0 || (st.st_mode & 0022))
                        return false;
        }
        return true;
}

static const char *mount_kind_to_string(MountKind k, const char *fstype) {
        switch (k) {
        case MOUNT_KIND_BIND:
                return "bind";
        case MOUNT_KIND_REMOUNT:
                return "remount";
        case MOUNT_KIND_NEW:
        default:
                return fstype;
        }
}

/* What the rule lets the call's flags and options be. NULL if allowed, else why not (in buf). keep: the flags
 * a remount must not drop (those the rule forces, and those a bind's source had). */
static const char *mount_refused(const Listener *l, const Rule *rule, const MountCall *c, unsigned long keep,
                                 char *buf, size_t size) {
        unsigned long ignored = MS_SILENT | MS_RELATIME | MS_REMOUNT | MS_BIND | (c->kind == MOUNT_KIND_REMOUNT ? 0 : MS_REC);
        unsigned long allowed = rule->allowed_flags | rule->forced_flags | keep;
        size_t index = (size_t) (rule - l->rules->rules);
        char names[128], options[MOUNT_DATA_MAX];
        const char *opt, *why;

        /* A first bind takes no flags but MS_REC; the kernel ignores the others there, and so do we. */
        if (c->kind == MOUNT_KIND_BIND)
                return NULL;

        if (c->flags & ~(MOUNT_FLAGS_NAMED | ignored)) {
                snprintf(buf, size, "flags 0x%lx are not supported", c->flags & ~(MOUNT_FLAGS_NAMED | ignored));
                return buf;
        }
        if (c->flags & MOUNT_FLAGS_NAMED & ~allowed) {
                snprintf(buf, size, "flag '%s' is not allowed by rule %zu",
                         mount_flags_to_string(c->flags & MOUNT_FLAGS_NAMED & ~allowed, names, sizeof names), index);
                return buf;
        }
        /* A remount sets the mount's flags to exactly those given: leaving one out would clear it. */
        if (c->kind == MOUNT_KIND_REMOUNT && (keep & ~c->flags)) {
                snprintf(buf, size, "it would drop flag '%s', which rule %zu or the bind's source imposes",
                         mount_flags_to_string(keep & ~c->flags, names, sizeof names), index);
                return buf;
        }
        if (c->kind == MOUNT_KIND_REMOUNT && (c->flags & MS_BIND))
                return NULL; /* the mount's flags only: the options are not looked at */
        /* A bind's superblock is its source's: reconfiguring it would change the source, for everyone. */
        if (c->kind == MOUNT_KIND_REMOUNT && rule->fs_kind == RULE_FS_BIND) {
                snprintf(buf, size, "a remount of a bind mount without MS_BIND would change its source's filesystem");
                return buf;
        }

        memcpy(options, c->data, sizeof options);
        opt = rule_mount_option_refused(rule, options, &why);
        if (opt) {
                snprintf(buf, size, "option '%.256s' is not allowed by rule %zu: %s", opt, index, why);
                return buf;
        }
        memcpy(options, c->data, sizeof options);
        opt = rule_mount_size_refused(rule, options, c->kind == MOUNT_KIND_REMOUNT, &why);
        if (opt) {
                if (opt[0])
                        snprintf(buf, size, "option '%.256s' is not allowed by rule %zu: %s", opt, index, why);
                else
                        snprintf(buf, size, "refused by rule %zu: %s", index, why);
                return buf;
        }
        return NULL;
}

static int mount_call_read(Supervisor *s, const Target *t, MountCall *c) {
        const __u64 *args = s->buffers.req->data.args;
        int r;

        /* Each pointer once (invariant 2); data only where the kernel uses it. */
        r = notify_read_string(t->tid, args[1], c->target, sizeof c->target);
        if (r >= 0 && c->kind != MOUNT_KIND_REMOUNT)
                r = read_string_argument(t, args[0], c->source, sizeof c->source);
        if (r >= 0 && c->kind == MOUNT_KIND_NEW)
                r = read_string_argument(t, args[2], c->fstype, sizeof c->fstype);
        if (r >= 0 && c->kind != MOUNT_KIND_BIND && !(c->flags & MS_BIND))
                r = read_string_argument(t, args[4], c->data, sizeof c->data);
        /* Confirmed with ID_VALID by target_read_identity(), before anything is done with them. */
        return r;
}

/* What the call would do, found as the target: where its paths lead, and the rule (or the broker's mount, for
 * a remount) that covers it. */
typedef struct MountPlan {
        RuleFsKind fs_kind;
        int target_fd, source_fd;
        char *target_path, *source_path;
        const Rule *rule;
        ListenerMount *mount;      /* remount: the broker's mount */
        bool source_name_is_roots; /* a disk's device path, in the broker's view, only root can change */
} MountPlan;

static void mount_plan_done(MountPlan *p) {
        safe_close(p->target_fd);
        safe_close(p->source_fd);
        free(p->target_path);
        free(p->source_path);
}

/* Runs as the target (credentials taken, root and cwd entered). -EPERM: refused, and logged; any other error:
 * the call is not ours to decide. */
static int mount_plan(Supervisor *s, const Target *t, const MountCall *c, MountPlan *p) {
        Listener *l = s->listener;
        bool resolve_source = p->fs_kind == RULE_FS_BIND || p->fs_kind == RULE_FS_BLOCK;
        int r;

        /* Where the call leads, for the target: mount(2) follows symlinks in both paths. */
        r = resolve(c->target, true, &p->target_fd, &p->target_path);
        if (r < 0)
                return r;
        if (resolve_source) {
                r = resolve(c->source, true, &p->source_fd, &p->source_path);
                if (r < 0)
                        return r;
        }

        if (c->kind == MOUNT_KIND_REMOUNT) {
                uint64_t mnt_id;
                bool is_root = false;

                if (fd_mount_id(p->target_fd, "", 0, &mnt_id, &is_root) < 0 || !is_root)
                        return -ENOENT;
                p->mount = listener_find_mount(l, mnt_id);
                if (!p->mount)
                        return -ENOENT;
                p->rule = &l->rules->rules[p->mount->rule_index];
                return 0;
        }

        p->rule = rule_set_match_mount(l->rules, c->kind == MOUNT_KIND_BIND ? "bind" : c->fstype,
                                       resolve_source ? p->source_path : c->source, p->target_path);
        if (!p->rule || p->rule->action != RULE_ACTION_EMULATE)
                return 0;

        /* Covering the broker's own /proc (a sandbox in our mount namespace) would blind it; binding from any
         * procfs would hand out the broker's "self" and /proc/<pid>. */
        if (fd_is_on_procfs(p->target_fd) || (p->source_fd >= 0 && fd_is_on_procfs(p->source_fd))) {
                supervisor_log_refusal(s, p->target_path, t->tid, "mount on '%s' by task %i: %s is on a procfs, "
                                       "denying.", p->target_path, t->tid,
                                       p->source_fd >= 0 && fd_is_on_procfs(p->source_fd) ? "the source" : "it");
                return -EPERM;
        }
        if (!caller_may_write(p->target_fd)) {
                supervisor_log_refusal(s, p->target_path, t->tid, "mount on '%s' by task %i: it may not write "
                                       "there, denying.", p->target_path, t->tid);
                return -EPERM;
        }
        if (p->fs_kind == RULE_FS_BLOCK) {
                HostPathUnsafe unsafe;

                r = device_is_hosts(p->source_fd, p->source_path, &unsafe);
                if (r == -ENOLINK) {
                        supervisor_refuse_rule(s, p->rule, p->source_path, t->tid, EPERM, "mount %s '%s' by task %i: "
                                               "the host's path leads through an unsafe symlink at '%s' (owned "
                                               "by uid %u, in a directory of uid %u, mode %04o), denying.",
                                               c->fstype, p->source_path, t->tid, unsafe.path, unsafe.uid,
                                               unsafe.dir_uid, (unsigned) unsafe.dir_mode);
                        return -EPERM;
                }
                if (r <= 0) {
                        supervisor_refuse_rule(s, p->rule, p->source_path, t->tid, EPERM, "mount %s '%s' by task %i: "
                                               "not a block device, or not the one the broker sees at that "
                                               "path.", c->fstype, p->source_path, t->tid);
                        return -EPERM;
                }
                p->source_name_is_roots = name_is_roots(p->source_path);
        }
        return 0;
}

/* In the target's mount namespace, before the bind: what is mounted at or below the source. Looked at from
 * the source itself (chroot into it: only what lies below shows in mountinfo), so no rename of a name on the
 * way can fool it. Without MS_REC a copy would show what those mounts cover; with it, unbindable ones are
 * left out of the copy, showing the same. */
static const char *bind_source_refused(int source_fd, bool recursive) {
        bool below = false, unbindable = false;
        struct stat st;
        int r;

        if (fstat(source_fd, &st) < 0)
                return "its source is gone";
        if (!S_ISDIR(st.st_mode))
                return NULL; /* nothing can be mounted below a file */
        r = target_mounts_below(source_fd, &below, &unbindable);
        if (r < 0)
                return "the mounts below its source cannot be listed";
        if (!recursive && below)
                return "a bind without MS_REC of a directory with mounts below it would show what they cover";
        if (recursive && unbindable)
                return "an unbindable mount below its source would be left out, showing what it covers";
        return NULL;
}

Answer handle_mount(Supervisor *s) {
        Listener *l = s->listener;
        const struct seccomp_notif *req = s->buffers.req;
        _cleanup_(target_done) Target t = TARGET_NULL;
        _cleanup_(mount_plan_done) MountPlan p = { .target_fd = -EBADF, .source_fd = -EBADF };
        _cleanup_free_ MountCall *c = NULL;
        _cleanup_(supervisor_leavep) Supervisor *entered = NULL;
        const char *what, *refused;
        char why[512], source_name[64];
        uint64_t mnt_id = 0;
        unsigned long keep = 0, source_flags = 0;
        bool foreign_owner = false;
        uint64_t mntns_id = 0;
        int64_t result;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return ANSWER_ERRNO_OF(ENOMEM);
        c->flags = (unsigned long) req->data.args[3];
        /* The old magic number in the upper half means nothing any more; the kernel drops it too. */
        if ((c->flags & MS_MGC_MSK) == MS_MGC_VAL)
                c->flags &= ~(unsigned long) MS_MGC_MSK;
        /* In the kernel's own order (path_mount()). */
        if (c->flags & MS_REMOUNT)
                c->kind = MOUNT_KIND_REMOUNT;
        else if (c->flags & MS_BIND)
                c->kind = MOUNT_KIND_BIND;
        else if (c->flags & MS_PROPAGATION)
                return ANSWER_CONTINUE_NOW;
        else if (c->flags & MS_MOVE)
                return answer_default(s);
        else
                c->kind = MOUNT_KIND_NEW;
        /* Only mounts this listener made can be remounted through it. */
        if (c->kind == MOUNT_KIND_REMOUNT && l->n_mounts == 0)
                return answer_default(s);

        r = target_pin(&t, l->fd, req->id, (pid_t) req->pid);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        r = mount_call_read(s, &t, c);
        if (r < 0)
                return answer_failure(r);
        what = mount_kind_to_string(c->kind, c->fstype);
        p.fs_kind = c->kind == MOUNT_KIND_BIND ? RULE_FS_BIND :
                    c->kind == MOUNT_KIND_NEW ? rule_fs_kind(c->fstype) : _RULE_FS_KIND_INVALID;
        /* No rule can name it ("bind" is no filesystem without MS_BIND). */
        if (c->kind == MOUNT_KIND_NEW && (p.fs_kind < 0 || p.fs_kind == RULE_FS_BIND))
                return answer_default(s);

        /* The cwd only for a relative path to resolve (a tmpfs's source is a name, not a path). */
        r = target_enter_dirs(&t, l->fd, req->id, c->target[0] != '/' ||
                              ((p.fs_kind == RULE_FS_BIND || p.fs_kind == RULE_FS_BLOCK) && c->source[0] != '/'));
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        /* Last of what is read about the target: its ID_VALID covers the cwd looked at above too. */
        r = target_read_identity(&t, l->owner_uid, l->fd, req->id);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        entered = supervisor_enter(s);
        r = target_take_credentials(&t);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        r = mount_plan(s, &t, c, &p);
        if (!supervisor_leave(&entered))
                return ANSWER_ERRNO_OF(EIO);
        if (r == -EPERM)
                return ANSWER_DENIED_OF(EPERM);
        /* Nothing that could be ours: the kernel (or the default) answers, as the target. */
        if (r < 0 || !p.rule) {
                log_debug("Listener %" PRIu64 ": mount %s on '%s' by task %i: no rule applies%s%s.", l->id, what,
                          p.target_path ?: c->target, t.tid, r < 0 ? ", " : "", r < 0 ? strerror(-r) : "");
                return answer_default(s);
        }
        if (p.rule->action != RULE_ACTION_EMULATE) {
                supervisor_log_decision(s, p.rule->action, answer_rule(p.rule).error, p.target_path, t.tid,
                                        "mount %s on '%s' by task %i: %s by rule.", what, p.target_path, t.tid,
                                        rule_action_to_string(p.rule->action));
                return answer_rule(p.rule);
        }

        keep = p.rule->forced_flags | (p.mount ? p.mount->kept_flags : 0);
        refused = mount_refused(l, p.rule, c, keep, why, sizeof why);
        if (refused) {
                supervisor_log_decision(s, RULE_ACTION_DENY, EPERM, p.target_path, t.tid,
                                        "mount %s on '%s' by task %i: refused, %s.", what, p.target_path, t.tid,
                                        refused);
                return ANSWER_DENIED_OF(EPERM);
        }
        if (!supervisor_target_may_use(s, &t, "mount on", p.target_path))
                return ANSWER_DENIED_OF(EPERM);
        if (c->kind != MOUNT_KIND_REMOUNT && l->n_mounts >= LISTENER_MOUNTS_MAX)
                listener_prune_mounts(l);
        if (c->kind != MOUNT_KIND_REMOUNT && l->n_mounts >= LISTENER_MOUNTS_MAX) {
                supervisor_log_decision(s, RULE_ACTION_DENY, ENOSPC, p.target_path, t.tid,
                                        "mount %s on '%s' by task %i: refused, it holds %d mounts already.",
                                        what, p.target_path, t.tid, LISTENER_MOUNTS_MAX);
                return ANSWER_DENIED_OF(ENOSPC);
        }

        /* Into its mount namespace, with the broker's capabilities still: the mount is made there and only
         * there. */
        r = target_enter_mount_namespace(&t, l->fd, req->id, &foreign_owner, &mntns_id);
        if (r >= 0 && c->kind == MOUNT_KIND_BIND) {
                refused = bind_source_refused(p.source_fd, c->flags & MS_REC);
                if (refused) {
                        supervisor_log_decision(s, RULE_ACTION_DENY, EPERM, p.target_path, t.tid,
                                                "mount bind on '%s' by task %i: refused, %s.", p.target_path,
                                                t.tid, refused);
                        return target_leave_mount_namespace() >= 0 ? ANSWER_DENIED_OF(EPERM) :
                                (s->broken = true, ANSWER_ERRNO_OF(EIO));
                }
        }
        /* A disk's device path is looked up by the kernel, from this thread's root: from the broker's own
         * (where it is the device checked above, and only root can change that), or as our fd of it. */
        if (r >= 0 && p.fs_kind == RULE_FS_BLOCK)
                r = p.source_name_is_roots ? target_enter_broker_root() : target_chdir_proc();
        snprintf(source_name, sizeof source_name, "thread-self/fd/%i", p.source_fd);
        entered = supervisor_enter(s);
        if (r >= 0)
                r = target_take_credentials(&t);
        if (r >= 0)
                result = emulate(&t, &(EmulateRequest) {
                                .operation = c->kind == MOUNT_KIND_NEW ? EMULATE_MOUNT_NEW :
                                             c->kind == MOUNT_KIND_BIND ? EMULATE_MOUNT_BIND : EMULATE_REMOUNT,
                                .dir_fd = -EBADF,
                                .file_fd = p.target_fd,
                                .source_fd = p.source_fd,
                                .fstype = c->fstype,
                                .source = p.fs_kind == RULE_FS_MEMORY ? c->source :
                                          p.fs_kind != RULE_FS_BLOCK ? NULL :
                                          p.source_name_is_roots ? p.source_path : source_name,
                                .options = c->data,
                                /* A first bind takes only what is forced, as the kernel ignores its flags. */
                                .mount_flags = c->kind == MOUNT_KIND_BIND ? keep : (c->flags & MOUNT_FLAGS_NAMED) | keep,
                                .recursive = c->flags & MS_REC,
                                .bind_remount = c->kind == MOUNT_KIND_REMOUNT && (c->flags & MS_BIND),
                                .lock_flags = foreign_owner,
                                .ret_mount_id = &mnt_id,
                                .ret_source_flags = &source_flags,
                        });
        else
                result = -ESRCH;
        /* The mount is the listener's before the answer is recorded: a successor that only sends the recorded
         * answer must find it among the listener's mounts, to unmount or remount it. Still in the target's
         * context here: saving writes to the state memfd only, no path is looked up. */
        if (result >= 0 && c->kind != MOUNT_KIND_REMOUNT && mnt_id != 0) {
                (void) listener_add_mount(l, &(ListenerMount) {
                        .mnt_id = mnt_id,
                        .rule_index = (size_t) (p.rule - l->rules->rules),
                        /* A bind keeps what its source had: a remount must not make a read-only tree writable. */
                        .kept_flags = c->kind == MOUNT_KIND_BIND ? source_flags : 0,
                        .mntns_id = mntns_id,
                });
                persist_listener_save(l);
        }
        supervisor_record_result(s, result);
        if (!supervisor_leave(&entered) || target_leave_mount_namespace() < 0) {
                s->broken = true;
                return ANSWER_ERRNO_OF(EIO);
        }

        if (c->kind == MOUNT_KIND_REMOUNT)
                supervisor_log_decision(s, RULE_ACTION_EMULATE, (int) -MIN(result, 0), p.target_path, t.tid,
                                        "remount '%s' for task %i: %s.", p.target_path, t.tid,
                                        result < 0 ? strerror((int) -result) : "remounted");
        else
                supervisor_log_decision(s, RULE_ACTION_EMULATE, (int) -MIN(result, 0), p.target_path, t.tid,
                                        "mount %s '%s' on '%s' for task %i: %s.", what,
                                        p.source_path ?: c->source, p.target_path, t.tid,
                                        result < 0 ? strerror((int) -result) : "mounted");
        if (result < 0)
                return ANSWER_ERRNO_OF((int) -result);
        return (Answer) { .kind = ANSWER_VALUE, .value = 0 };
}

Answer handle_umount(Supervisor *s) {
        Listener *l = s->listener;
        const struct seccomp_notif *req = s->buffers.req;
        int flags = (int) req->data.args[1];
        _cleanup_(target_done) Target t = TARGET_NULL;
        _cleanup_close_ int target_fd = -EBADF, parent = -EBADF;
        _cleanup_free_ char *target_path = NULL;
        _cleanup_(supervisor_leavep) Supervisor *entered = NULL;
        char target[PATH_MAX];
        const char *dir, *name;
        uint64_t mnt_id = 0, mnt_id_by_name = 0;
        bool is_root = false, is_root_by_name = false;
        int64_t result;
        int r;

        /* Only the mounts this listener made, and no forcing: anything else the kernel decides. */
        if (l->n_mounts == 0 || (flags & ~(MNT_DETACH | UMOUNT_NOFOLLOW)))
                return answer_default(s);

        r = target_pin(&t, l->fd, req->id, (pid_t) req->pid);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        /* Confirmed with ID_VALID by target_read_identity(), before anything is done with it. */
        r = notify_read_string(t.tid, req->data.args[0], target, sizeof target);
        if (r < 0)
                return answer_failure(r);
        r = target_enter_dirs(&t, l->fd, req->id, target[0] != '/');
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        /* Last of what is read about the target: its ID_VALID covers the cwd looked at above too. */
        r = target_read_identity(&t, l->owner_uid, l->fd, req->id);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);
        entered = supervisor_enter(s);
        r = target_take_credentials(&t);
        if (r < 0)
                return ANSWER_ERRNO_OF(ESRCH);

        r = resolve(target, !(flags & UMOUNT_NOFOLLOW), &target_fd, &target_path);
        if (r >= 0)
                r = fd_mount_id(target_fd, "", 0, &mnt_id, &is_root);
        if (r >= 0 && (!is_root || !listener_find_mount(l, mnt_id)))
                r = -EPERM;
        /* The unmount goes by name (an fd on the mount would keep it busy): the name, looked up below its
         * directory without following anything, must lead to the same mount. */
        if (r >= 0) {
                char *copy = strdupa(target_path);

                if (!split_last_component(copy, &dir, &name))
                        r = -EPERM;
                else {
                        struct open_how how = {
                                .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
                        };
                        parent = (int) syscall(SYS_openat2, AT_FDCWD, dir, &how, sizeof how);
                        r = parent < 0 ? -errno :
                                fd_mount_id(parent, name, AT_SYMLINK_NOFOLLOW, &mnt_id_by_name, &is_root_by_name);
                        if (r >= 0 && (mnt_id_by_name != mnt_id || !is_root_by_name))
                                r = -EPERM;
                }
        }
        if (!supervisor_leave(&entered))
                return ANSWER_ERRNO_OF(EIO);
        if (r < 0)
                return answer_default(s);
        target_fd = safe_close(target_fd);

        if (!supervisor_target_may_use(s, &t, "umount", target_path))
                return ANSWER_DENIED_OF(EPERM);

        r = target_enter_mount_namespace(&t, l->fd, req->id, NULL, NULL);
        entered = supervisor_enter(s);
        if (r >= 0)
                r = target_take_credentials(&t);
        result = r < 0 ? -ESRCH : emulate(&t, &(EmulateRequest) {
                        .operation = EMULATE_UMOUNT,
                        .dir_fd = parent,
                        .file_fd = -EBADF,
                        .source_fd = -EBADF,
                        .name = name,
                        .flags = flags & MNT_DETACH,
                        .mount_id = mnt_id,
                });
        supervisor_record_result(s, result);
        if (!supervisor_leave(&entered) || target_leave_mount_namespace() < 0) {
                s->broken = true;
                return ANSWER_ERRNO_OF(EIO);
        }

        if (result >= 0) {
                listener_forget_mount(l, mnt_id);
                persist_listener_save(l);
        }
        supervisor_log_decision(s, RULE_ACTION_EMULATE, (int) -MIN(result, 0), target_path, t.tid,
                                "umount '%s' for task %i: %s.", target_path, t.tid,
                                result < 0 ? strerror((int) -result) : "unmounted");
        if (result < 0)
                return ANSWER_ERRNO_OF((int) -result);
        return (Answer) { .kind = ANSWER_VALUE, .value = 0 };
}
