/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dbus suite's harness: one private bus, mocked polkit and sysbrokerd per test, each test in its own
 * subprocess; plus the seccomp listener children the tests hand to the daemon. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define INTERFACE_XML_ENV "SYSBROKER_TEST_INTERFACE_XML"
/* A test subprocess that runs longer than this is killed and the test fails. */
#define TEST_SUBPROCESS_TIMEOUT_USEC (120 * G_USEC_PER_SEC)

/* Just enough of polkit's interface for sysbrokerd to call. */
static const char polkit_authority_xml[] =
        "<node>"
        "  <interface name='" POLKIT_AUTHORITY_INTERFACE "'>"
        "    <method name='CheckAuthorization'>"
        "      <arg type='(sa{sv})' name='subject' direction='in'/>"
        "      <arg type='s' name='action_id' direction='in'/>"
        "      <arg type='a{ss}' name='details' direction='in'/>"
        "      <arg type='u' name='flags' direction='in'/>"
        "      <arg type='s' name='cancellation_id' direction='in'/>"
        "      <arg type='(bba{ss})' name='result' direction='out'/>"
        "    </method>"
        "    <method name='CancelCheckAuthorization'>"
        "      <arg type='s' name='cancellation_id' direction='in'/>"
        "    </method>"
        "  </interface>"
        "</node>";

void harness_fail_impl(const char *file, int line, const char *func, char *message) {
        g_assertion_message(G_LOG_DOMAIN, file, line, func, message);
        g_free(message);
        /* Test subprocesses keep assertions fatal; never continue past a failed expectation. */
        abort();
}

/* ---- listener children ---- */

enum {
        CHILD_MKNOD = 1,
        CHILD_OPENAT,
        CHILD_EXIT,
};

typedef struct ChildCommand {
        int op;
        int flags;
        mode_t mode;
        dev_t dev;
        char path[1024];
} ChildCommand;

/* The most system calls a child's filter traps. */
#define CHILD_MAX_TRAPPED 4

static void child_send_status(int sock, int status, int fd) {
        union {
                struct cmsghdr header;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = &status, .iov_len = sizeof status };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (fd >= 0) {
                struct cmsghdr *cmsg;

                msg.msg_control = &control;
                msg.msg_controllen = sizeof control.buf;
                cmsg = CMSG_FIRSTHDR(&msg);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
        }
        (void) sendmsg(sock, &msg, MSG_NOSIGNAL);
}

/* Runs in a child forked from a multi-threaded process: raw system calls only, no allocation. */
/* Opens as told and reports what the process got: the errno, or the fd's FD_CLOEXEC and what it reads. */
static void child_openat(const ChildCommand *cmd, ListenerChildOpenResult *ret) {
        int fd;

        *ret = (ListenerChildOpenResult) { .fd_flags = -1, .n_read = -1 };
        fd = openat(AT_FDCWD, cmd->path, cmd->flags, cmd->mode);
        if (fd < 0) {
                ret->error = errno;
                return;
        }
        ret->fd_flags = fcntl(fd, F_GETFD);
        if ((cmd->flags & O_ACCMODE) != O_WRONLY)
                ret->n_read = (int) read(fd, ret->data, sizeof ret->data);
        (void) close(fd);
}

__attribute__((noreturn)) static void listener_child_main(int sock, pid_t parent, uint32_t arch,
                                                         ListenerChildTraps traps) {
        /* arch check, then one jump per trapped system call to the final USER_NOTIF */
        struct sock_filter filter[4 + CHILD_MAX_TRAPPED + 2];
        uint32_t trapped[CHILD_MAX_TRAPPED];
        size_t n_trapped = 0, n_filter = 0;
        struct sock_fprog prog = { .filter = filter };
        int listener;

        if (traps & LISTENER_CHILD_TRAP_MKNOD) {
                trapped[n_trapped++] = __NR_mknodat;
#ifdef __NR_mknod
                trapped[n_trapped++] = __NR_mknod;
#endif
        }
        /* glibc's open() and openat() both call openat. */
        if (traps & LISTENER_CHILD_TRAP_OPEN)
                trapped[n_trapped++] = __NR_openat;

#define EMIT(insn) (filter[n_filter++] = (struct sock_filter) insn)
        EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
        for (size_t i = 0; i < n_trapped; i++)
                /* Past the remaining jumps and the ALLOW, to the USER_NOTIF at the end. */
                EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, trapped[i], (uint8_t) (n_trapped - i), 0));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
#undef EMIT
        prog.len = (unsigned short) n_filter;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(1);

        /* Keep only the command socket: a copy of another child's listener held here would keep that
         * listener open after the test and the daemon closed theirs. */
        if (sock > 3)
                (void) close_range(3, sock - 1, 0);
        (void) close_range(sock + 1, ~0u, 0);

        /* Where Yama restricts ptrace to descendants, a non-root sysbrokerd (this suite runs it as the
         * test's own user) could not read our memory; a root daemon has CAP_SYS_PTRACE. */
        (void) prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                child_send_status(sock, errno, -1);
                _exit(1);
        }
        listener = (int) syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (listener < 0) {
                child_send_status(sock, errno, -1);
                _exit(1);
        }
        child_send_status(sock, 0, listener);
        (void) close(listener);

        for (;;) {
                ChildCommand cmd;
                ssize_t n;
                int result;

                n = recv(sock, &cmd, sizeof cmd, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        _exit(0);
                if ((size_t) n != sizeof cmd)
                        _exit(2);

                cmd.path[sizeof cmd.path - 1] = 0;
                switch (cmd.op) {
                case CHILD_MKNOD:
                        result = mknodat(AT_FDCWD, cmd.path, cmd.mode, cmd.dev) < 0 ? errno : 0;
                        break;
                case CHILD_OPENAT: {
                        ListenerChildOpenResult open_result;

                        child_openat(&cmd, &open_result);
                        (void) send(sock, &open_result, sizeof open_result, MSG_NOSIGNAL);
                        continue;
                }
                case CHILD_EXIT:
                        _exit(0);
                default:
                        result = EINVAL;
                }
                (void) send(sock, &result, sizeof result, MSG_NOSIGNAL);
        }
}

static gboolean wait_readable(int fd, gint64 timeout_usec) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        gint64 deadline = g_get_monotonic_time() + timeout_usec;

        for (;;) {
                gint64 left = deadline - g_get_monotonic_time();
                int r;

                if (left < 0)
                        left = 0;
                r = poll(&p, 1, (int) (left / 1000));
                if (r > 0)
                        return TRUE;
                if (r == 0)
                        return FALSE;
                if (errno != EINTR)
                        return FALSE;
        }
}

gboolean listener_child_start(ListenerChild *c, char **ret_reason) {
        return listener_child_start_trapping(c, LISTENER_CHILD_TRAP_MKNOD, ret_reason);
}

gboolean listener_child_start_trapping(ListenerChild *c, ListenerChildTraps traps, char **ret_reason) {
        union {
                struct cmsghdr header;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        int status = 0, sv[2], fd = -1;
        struct iovec iov = { .iov_base = &status, .iov_len = sizeof status };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = &control, .msg_controllen = sizeof control.buf };
        uint32_t arch = seccomp_arch_native();
        pid_t parent = getpid(), pid;
        ssize_t n;

        c->pid = 0;
        c->sock = c->listener_fd = -1;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                *ret_reason = g_strdup_printf("socketpair() failed: %s", g_strerror(errno));
                return FALSE;
        }

        pid = fork();
        if (pid < 0) {
                *ret_reason = g_strdup_printf("fork() failed: %s", g_strerror(errno));
                close(sv[0]);
                close(sv[1]);
                return FALSE;
        }
        if (pid == 0)
                listener_child_main(sv[1], parent, arch, traps);

        close(sv[1]);
        c->pid = pid;
        c->sock = sv[0];

        if (!wait_readable(c->sock, HARNESS_TIMEOUT_USEC)) {
                *ret_reason = g_strdup("the seccomp child did not report back");
                listener_child_kill(c);
                return FALSE;
        }
        n = recvmsg(c->sock, &msg, MSG_CMSG_CLOEXEC);
        if (n != sizeof status) {
                *ret_reason = g_strdup_printf("the seccomp child's report was cut short (%zd)", n);
                listener_child_kill(c);
                return FALSE;
        }
        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
                if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
                        memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
        if (status != 0 || fd < 0) {
                *ret_reason = g_strdup_printf("seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER) failed: %s",
                                              g_strerror(status));
                if (fd >= 0)
                        close(fd);
                listener_child_kill(c);
                return FALSE;
        }

        c->listener_fd = fd;
        return TRUE;
}

void listener_child_mknod_start(ListenerChild *c, const char *path, mode_t mode, dev_t dev) {
        ChildCommand cmd = { .op = CHILD_MKNOD, .mode = mode, .dev = dev };

        g_assert_cmpuint(strlen(path), <, sizeof cmd.path);
        strcpy(cmd.path, path);
        g_assert_cmpint(send(c->sock, &cmd, sizeof cmd, MSG_NOSIGNAL), ==, (ssize_t) sizeof cmd);
}

gboolean listener_child_has_answered(ListenerChild *c) {
        return wait_readable(c->sock, 0);
}

int listener_child_mknod_finish(ListenerChild *c) {
        int result;

        if (!wait_readable(c->sock, HARNESS_TIMEOUT_USEC))
                harness_fail("the child's trapped mknodat() got no answer within %d s",
                             (int) (HARNESS_TIMEOUT_USEC / G_USEC_PER_SEC));
        g_assert_cmpint(recv(c->sock, &result, sizeof result, 0), ==, (ssize_t) sizeof result);
        return result;
}

int listener_child_mknod(ListenerChild *c, const char *path, mode_t mode, dev_t dev) {
        listener_child_mknod_start(c, path, mode, dev);
        return listener_child_mknod_finish(c);
}

void listener_child_openat(ListenerChild *c, const char *path, int flags, mode_t mode,
                           ListenerChildOpenResult *ret) {
        ChildCommand cmd = { .op = CHILD_OPENAT, .flags = flags, .mode = mode };

        g_assert_cmpuint(strlen(path), <, sizeof cmd.path);
        strcpy(cmd.path, path);
        g_assert_cmpint(send(c->sock, &cmd, sizeof cmd, MSG_NOSIGNAL), ==, (ssize_t) sizeof cmd);
        if (!wait_readable(c->sock, HARNESS_TIMEOUT_USEC))
                harness_fail("the child's trapped openat('%s', 0%o) got no answer within %d s",
                             path, (unsigned) flags, (int) (HARNESS_TIMEOUT_USEC / G_USEC_PER_SEC));
        g_assert_cmpint(recv(c->sock, ret, sizeof *ret, 0), ==, (ssize_t) sizeof *ret);
        g_assert_cmpint(ret->n_read, <=, (int) sizeof ret->data);
}

void listener_child_close_listener(ListenerChild *c) {
        if (c->listener_fd >= 0)
                close(c->listener_fd);
        c->listener_fd = -1;
}

void listener_child_kill(ListenerChild *c) {
        if (c->pid > 0) {
                (void) kill(c->pid, SIGKILL);
                while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                c->pid = 0;
        }
        if (c->sock >= 0)
                close(c->sock);
        c->sock = -1;
        listener_child_close_listener(c);
}

static void listener_child_free(gpointer p) {
        ListenerChild *c = p;

        listener_child_kill(c);
        g_free(c);
}

ListenerChild *harness_spawn_listener_child(Harness *h) {
        return harness_spawn_listener_child_trapping(h, LISTENER_CHILD_TRAP_MKNOD);
}

ListenerChild *harness_spawn_listener_child_trapping(Harness *h, ListenerChildTraps traps) {
        g_autofree char *reason = NULL;
        ListenerChild *c = g_new0(ListenerChild, 1);

        if (!listener_child_start_trapping(c, traps, &reason))
                harness_fail("cannot start a seccomp listener child: %s", reason);
        g_ptr_array_add(h->children, c);
        return c;
}

/* ---- small helpers ---- */

GVariant *parse_variant(const char *text) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) v = g_variant_parse(NULL, text, NULL, NULL, &error);
        g_autoptr(GBytes) bytes = NULL;

        g_assert_no_error(error);
        /* g_variant_parse() returns a full reference; callers hand the value to g_variant_new("@…"),
         * which takes over floating ones only. */
        bytes = g_variant_get_data_as_bytes(v);
        return g_variant_new_from_bytes(g_variant_get_type(v), bytes, TRUE);
}

guint64 proc_start_time(pid_t pid) {
        g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int) pid);
        g_autofree char *contents = NULL;
        g_auto(GStrv) fields = NULL;
        g_autoptr(GError) error = NULL;
        const char *p;

        g_file_get_contents(path, &contents, NULL, &error);
        g_assert_no_error(error);
        /* The command name may hold spaces and parentheses: fields start after the last ')'. The
         * first of them is field 3 (state); the start time is field 22. */
        p = strrchr(contents, ')');
        g_assert_nonnull(p);
        fields = g_strsplit(p + 2, " ", -1);
        g_assert_cmpuint(g_strv_length(fields), >, 22 - 3);
        return g_ascii_strtoull(fields[22 - 3], NULL, 10);
}

static GHashTable *vardict_to_table(GVariant *dict, const char *what) {
        GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
        gsize n = g_variant_n_children(dict);

        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) entry = g_variant_get_child_value(dict, i);
                g_autoptr(GVariant) key = g_variant_get_child_value(entry, 0);
                g_autoptr(GVariant) value = g_variant_get_child_value(entry, 1);
                const char *k = g_variant_get_string(key, NULL);

                if (g_hash_table_contains(t, k)) {
                        g_autofree char *printed = g_variant_print(dict, TRUE);
                        harness_fail("%s: key '%s' appears twice in %s", what, k, printed);
                }
                if (g_variant_is_of_type(value, G_VARIANT_TYPE_VARIANT))
                        g_hash_table_insert(t, g_strdup(k), g_variant_get_variant(value));
                else
                        g_hash_table_insert(t, g_strdup(k), g_variant_ref(value));
        }
        return t;
}

void assert_vardict_equal(GVariant *actual, GVariant *expected, const char *what) {
        g_autoptr(GHashTable) a = vardict_to_table(actual, what);
        g_autoptr(GHashTable) e = vardict_to_table(expected, what);
        GHashTableIter iter;
        gpointer key, value;
        gboolean equal = g_hash_table_size(a) == g_hash_table_size(e);

        g_hash_table_iter_init(&iter, e);
        while (equal && g_hash_table_iter_next(&iter, &key, &value)) {
                GVariant *other = g_hash_table_lookup(a, key);

                equal = other && g_variant_equal(other, value);
        }

        if (!equal) {
                g_autofree char *pa = g_variant_print(actual, TRUE);
                g_autofree char *pe = g_variant_print(expected, TRUE);

                harness_fail("%s: got %s, expected %s", what, pa, pe);
        }
}

static int rm_rf_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void rm_rf(const char *path) {
        (void) nftw(path, rm_rf_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- main loop ---- */

static gboolean on_tick(gpointer user_data) {
        *(gboolean *) user_data = TRUE;
        return G_SOURCE_REMOVE;
}

void harness_spin(Harness *h) {
        gboolean ticked = FALSE;
        guint id = g_timeout_add(5, on_tick, &ticked);

        g_main_context_iteration(NULL, TRUE);
        if (!ticked)
                g_source_remove(id);
}

static char *daemon_exit_description(Harness *h) {
        if (g_subprocess_get_if_signaled(h->daemon))
                return g_strdup_printf("killed by signal %d (%s)", g_subprocess_get_term_sig(h->daemon),
                                       g_strsignal(g_subprocess_get_term_sig(h->daemon)));
        return g_strdup_printf("exited with status %d", g_subprocess_get_exit_status(h->daemon));
}

static void check_daemon_alive(Harness *h, const char *waiting_for) {
        if (h->daemon && h->daemon_exited) {
                g_autofree char *how = daemon_exit_description(h);
                harness_fail("sysbrokerd %s while the test waited for %s", how, waiting_for);
        }
}

/* ---- polkit mock ---- */

static GDBusMethodInvocation *try_pop_polkit_call(Harness *h) {
        GDBusMethodInvocation *invocation = NULL;

        /* libglib-testing 0.1.1's gt_dbus_queue_try_pop_message() never pops anything; the blocking
         * pop returns at once when a call is queued, and nobody else takes from this queue. */
        if (gt_dbus_queue_get_n_messages(h->queue) == 0)
                return NULL;
        g_assert_true(gt_dbus_queue_pop_message(h->queue, &invocation));
        return invocation;
}

GDBusMethodInvocation *harness_pop_polkit_call(Harness *h, PendingCall *until) {
        gint64 deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;

        for (;;) {
                GDBusMethodInvocation *invocation = try_pop_polkit_call(h);

                if (invocation)
                        return invocation;
                if (until && until->done)
                        return NULL;
                check_daemon_alive(h, "a CheckAuthorization call");
                if (g_get_monotonic_time() > deadline)
                        harness_fail("sysbrokerd made no CheckAuthorization call within %d s",
                                     (int) (HARNESS_TIMEOUT_USEC / G_USEC_PER_SEC));
                harness_spin(h);
        }
}

const char *polkit_call_action_id(GDBusMethodInvocation *invocation) {
        GVariant *parameters = g_dbus_method_invocation_get_parameters(invocation);
        const char *action_id = NULL;

        if (g_variant_is_of_type(parameters, G_VARIANT_TYPE("((sa{sv})sa{ss}us)")))
                g_variant_get_child(parameters, 1, "&s", &action_id);
        return action_id;
}

static GVariant *details_to_variant(const char *const *details) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a{ss}"));
        for (size_t i = 0; details && details[i]; i += 2) {
                g_assert_nonnull(details[i + 1]);
                g_variant_builder_add(&b, "{ss}", details[i], details[i + 1]);
        }
        return g_variant_ref_sink(g_variant_builder_end(&b));
}

void harness_assert_polkit_call(GDBusMethodInvocation *invocation, const char *subject_kind,
                                GVariant *subject_details, const char *action_id, guint32 flags,
                                const char *const *details) {
        GVariant *parameters = g_dbus_method_invocation_get_parameters(invocation);
        g_autofree char *printed = g_variant_print(parameters, TRUE);
        g_autofree char *what = NULL;
        g_autoptr(GVariant) actual_subject = NULL, actual_details = NULL, expected_details = NULL;
        g_autoptr(GVariant) owned_subject = g_variant_ref_sink(subject_details);
        const char *kind, *action, *cancellation_id;
        guint32 actual_flags;

        if (!g_str_equal(g_dbus_method_invocation_get_object_path(invocation), POLKIT_OBJECT_PATH) ||
            !g_str_equal(g_dbus_method_invocation_get_interface_name(invocation), POLKIT_AUTHORITY_INTERFACE) ||
            !g_str_equal(g_dbus_method_invocation_get_method_name(invocation), "CheckAuthorization"))
                harness_fail("expected CheckAuthorization on %s, got %s.%s on %s",
                             POLKIT_OBJECT_PATH, g_dbus_method_invocation_get_interface_name(invocation),
                             g_dbus_method_invocation_get_method_name(invocation),
                             g_dbus_method_invocation_get_object_path(invocation));
        if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("((sa{sv})sa{ss}us)")))
                harness_fail("CheckAuthorization with the wrong signature: %s", printed);

        g_variant_get(parameters, "((&s@a{sv})&s@a{ss}u&s)", &kind, &actual_subject, &action, &actual_details,
                      &actual_flags, &cancellation_id);

        if (!g_str_equal(action, action_id))
                harness_fail("CheckAuthorization for action '%s', expected '%s': %s", action, action_id, printed);
        if (!g_str_equal(kind, subject_kind))
                harness_fail("CheckAuthorization with subject kind '%s', expected '%s': %s", kind, subject_kind,
                             printed);
        what = g_strdup_printf("subject of CheckAuthorization %s", printed);
        assert_vardict_equal(actual_subject, owned_subject, what);
        g_free(what);

        /* Every check of a registration also says who will own the listener and whether the caller runs in a
         * user namespace: the test's uid, and not in one, unless the test expects otherwise. */
        g_autoptr(GPtrArray) all_details = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *uid = g_strdup_printf("%u", (unsigned) getuid());
        gboolean has_owner = FALSE, has_userns = FALSE;
        for (const char *const *d = details; d && d[0] && d[1]; d += 2) {
                has_owner = has_owner || g_str_equal(d[0], "owner-uid");
                has_userns = has_userns || g_str_equal(d[0], "user-namespace");
                g_ptr_array_add(all_details, g_strdup(d[0]));
                g_ptr_array_add(all_details, g_strdup(d[1]));
        }
        if (!g_str_equal(action_id, ACTION_MANAGE)) {
                if (!has_owner) {
                        g_ptr_array_add(all_details, g_strdup("owner-uid"));
                        g_ptr_array_add(all_details, g_strdup(uid));
                }
                if (!has_userns) {
                        g_ptr_array_add(all_details, g_strdup("user-namespace"));
                        g_ptr_array_add(all_details, g_strdup("no"));
                }
        }
        g_ptr_array_add(all_details, NULL);
        expected_details = details_to_variant((const char *const *) all_details->pdata);
        what = g_strdup_printf("details of CheckAuthorization %s", printed);
        assert_vardict_equal(actual_details, expected_details, what);

        if (actual_flags != flags)
                harness_fail("CheckAuthorization with flags %u, expected %u: %s", actual_flags, flags, printed);
        /* Its own for every check, so that one can be cancelled when its caller goes away. */
        if (!g_str_has_prefix(cancellation_id, "sysbroker-") || cancellation_id[strlen("sysbroker-")] == 0)
                harness_fail("CheckAuthorization with cancellation id '%s', expected 'sysbroker-N': %s",
                             cancellation_id, printed);
}

void harness_assert_polkit_call_from_client(Harness *h, GDBusMethodInvocation *invocation,
                                            const char *action_id, guint32 flags,
                                            const char *const *details) {
        harness_assert_polkit_call(invocation, "system-bus-name",
                                   g_variant_new_parsed("{'name': <%s>}",
                                                        g_dbus_connection_get_unique_name(h->client)),
                                   action_id, flags, details);
}

GDBusMethodInvocation *harness_expect_polkit_call(Harness *h, const char *action_id, guint32 flags,
                                                  const char *const *details) {
        GDBusMethodInvocation *invocation = harness_pop_polkit_call(h, NULL);

        harness_assert_polkit_call_from_client(h, invocation, action_id, flags, details);
        return invocation;
}

void polkit_answer(GDBusMethodInvocation *invocation, gboolean authorized, gboolean challenge) {
        g_dbus_method_invocation_return_value(
                invocation,
                g_variant_new("((bb@a{ss}))", authorized, challenge,
                              g_variant_new_array(G_VARIANT_TYPE("{ss}"), NULL, 0)));
}

void polkit_answer_error(GDBusMethodInvocation *invocation, const char *name, const char *message) {
        g_dbus_method_invocation_return_dbus_error(invocation, name, message);
}

void harness_assert_no_polkit_call(Harness *h) {
        gint64 until = g_get_monotonic_time() + HARNESS_SETTLE_USEC;

        while (g_get_monotonic_time() < until) {
                g_autoptr(GDBusMethodInvocation) invocation = try_pop_polkit_call(h);

                if (invocation) {
                        g_autofree char *printed =
                                g_variant_print(g_dbus_method_invocation_get_parameters(invocation), TRUE);
                        harness_fail("unexpected CheckAuthorization call: %s", printed);
                }
                harness_spin(h);
        }
}

/* ---- calls to the daemon ---- */

static void on_call_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        PendingCall *call = user_data;

        call->reply = g_dbus_connection_call_with_unix_fd_list_finish(G_DBUS_CONNECTION(source), NULL, result,
                                                                      &call->error);
        call->done = TRUE;
}

PendingCall *harness_call_async(Harness *h, GDBusConnection *conn, const char *path, const char *interface,
                                const char *method, GVariant *parameters, const GVariantType *reply_type,
                                GDBusCallFlags flags, GUnixFDList *fds) {
        PendingCall *call = g_new0(PendingCall, 1);
        /* A peer-to-peer connection has no bus, hence no unique name and no destination. */
        const char *destination = g_dbus_connection_get_unique_name(conn) ? BROKER_BUS_NAME : NULL;

        g_dbus_connection_call_with_unix_fd_list(conn, destination, path, interface, method, parameters,
                                                 reply_type, flags, 60000, fds, NULL, on_call_done, call);
        return call;
}

PendingCall *harness_register_async(Harness *h, GDBusConnection *conn, int listener_fd, GVariant *rules,
                                    GVariant *options, GDBusCallFlags flags) {
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_autoptr(GError) error = NULL;
        int index;

        index = g_unix_fd_list_append(fds, listener_fd, &error);
        g_assert_no_error(error);
        return harness_call_async(h, conn, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, "RegisterListener",
                                  g_variant_new("(h@aa{sv}@a{sv})", index, rules, options),
                                  G_VARIANT_TYPE("(ot)"), flags, fds);
}

void pending_call_free(PendingCall *call) {
        if (!call)
                return;
        /* Freeing a call still in flight would leave its callback a dangling pointer. */
        g_assert_true(call->done);
        g_clear_pointer(&call->reply, g_variant_unref);
        g_clear_error(&call->error);
        g_free(call);
}

static void wait_call(Harness *h, PendingCall *call, gboolean answer_all, gboolean authorized, guint *n_answered) {
        gint64 deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;

        while (!call->done) {
                GDBusMethodInvocation *invocation = try_pop_polkit_call(h);

                if (invocation) {
                        const char *action_id = polkit_call_action_id(invocation);

                        if (answer_all) {
                                polkit_answer(invocation, authorized, FALSE);
                                (*n_answered)++;
                        } else if (action_id && g_str_equal(action_id, ACTION_MANAGE)) {
                                /* Whether the caller may see others' listeners; this suite's never can. */
                                polkit_answer(invocation, FALSE, FALSE);
                        } else {
                                g_autofree char *printed = g_variant_print(
                                        g_dbus_method_invocation_get_parameters(invocation), TRUE);
                                harness_fail("unexpected CheckAuthorization call: %s", printed);
                        }
                        deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;
                        continue;
                }

                check_daemon_alive(h, "a reply");
                if (g_get_monotonic_time() > deadline)
                        harness_fail("sysbrokerd did not reply within %d s",
                                     (int) (HARNESS_TIMEOUT_USEC / G_USEC_PER_SEC));
                harness_spin(h);
        }
}

void harness_wait(Harness *h, PendingCall *call) {
        wait_call(h, call, FALSE, FALSE, NULL);
}

guint harness_wait_answering(Harness *h, PendingCall *call, gboolean authorized) {
        guint n = 0;

        wait_call(h, call, TRUE, authorized, &n);
        return n;
}

void harness_assert_call_error(PendingCall *call, const char *error_name, const char *const *fragments) {
        g_autofree char *remote = NULL;

        g_assert_true(call->done);
        if (!call->error) {
                g_autofree char *printed = call->reply ? g_variant_print(call->reply, TRUE) : g_strdup("(null)");
                harness_fail("the call succeeded with %s, expected error %s", printed, error_name);
        }
        remote = g_dbus_error_get_remote_error(call->error);
        if (g_strcmp0(remote, error_name) != 0)
                harness_fail("the call failed with %s (\"%s\"), expected %s", remote ? remote : "a local error",
                             call->error->message, error_name);
        for (size_t i = 0; fragments && fragments[i]; i++)
                if (!strstr(call->error->message, fragments[i]))
                        harness_fail("error message \"%s\" does not mention \"%s\"", call->error->message,
                                     fragments[i]);
}

GVariant *harness_call(Harness *h, GDBusConnection *conn, const char *path, const char *interface,
                       const char *method, GVariant *parameters, const GVariantType *reply_type,
                       GError **error) {
        g_autoptr(PendingCall) call = harness_call_async(h, conn, path, interface, method, parameters,
                                                         reply_type, G_DBUS_CALL_FLAGS_NONE, NULL);

        harness_wait(h, call);
        if (call->error) {
                g_propagate_error(error, g_steal_pointer(&call->error));
                return NULL;
        }
        return g_steal_pointer(&call->reply);
}

char *harness_register_ok(Harness *h, GDBusConnection *conn, ListenerChild *c, GVariant *rules,
                          GVariant *options, guint64 *ret_id) {
        g_autoptr(PendingCall) call = harness_register_async(h, conn, c->listener_fd, rules, options,
                                                             G_DBUS_CALL_FLAGS_NONE);
        g_autofree char *expected_path = NULL;
        const char *path;
        guint64 id;

        harness_wait_answering(h, call, TRUE);
        g_assert_no_error(call->error);
        g_variant_get(call->reply, "(&ot)", &path, &id);
        g_assert_cmpuint(id, >=, 1);
        expected_path = g_strdup_printf(BROKER_LISTENER_PATH_PREFIX "%" G_GUINT64_FORMAT, id);
        g_assert_cmpstr(path, ==, expected_path);
        if (ret_id)
                *ret_id = id;
        return g_strdup(path);
}

GVariant *harness_get_property(Harness *h, GDBusConnection *conn, const char *path, const char *interface,
                               const char *name, GError **error) {
        g_autoptr(GVariant) reply = NULL;
        GVariant *value;

        reply = harness_call(h, conn, path, "org.freedesktop.DBus.Properties", "Get",
                             g_variant_new("(ss)", interface, name), G_VARIANT_TYPE("(v)"), error);
        if (!reply)
                return NULL;
        g_variant_get(reply, "(v)", &value);
        return value;
}

GVariant *harness_get_property_ok(Harness *h, const char *path, const char *interface, const char *name) {
        g_autoptr(GError) error = NULL;
        GVariant *value = harness_get_property(h, h->client, path, interface, name, &error);

        if (!value)
                harness_fail("Get(%s, %s) on %s failed: %s", interface, name, path, error->message);
        return value;
}

guint32 harness_n_listeners(Harness *h) {
        g_autoptr(GVariant) value = harness_get_property_ok(h, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE,
                                                            "NListeners");

        g_assert_cmpstr(g_variant_get_type_string(value), ==, "u");
        return g_variant_get_uint32(value);
}

GVariant *harness_list_listeners(Harness *h, GDBusConnection *conn) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = harness_call(h, conn, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE,
                                                 "ListListeners", NULL, G_VARIANT_TYPE("(a(tous))"), &error);

        g_assert_no_error(error);
        return g_variant_get_child_value(reply, 0);
}

void harness_assert_no_listeners(Harness *h) {
        g_autoptr(GVariant) list = harness_list_listeners(h, h->client);

        g_assert_cmpuint(harness_n_listeners(h), ==, 0);
        if (g_variant_n_children(list) != 0) {
                g_autofree char *printed = g_variant_print(list, TRUE);
                harness_fail("ListListeners() returned %s, expected none", printed);
        }
}

void harness_assert_counter(Harness *h, const char *listener_path, const char *counter, guint64 expected) {
        gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
        guint64 value;

        for (;;) {
                g_autoptr(GVariant) v = harness_get_property_ok(h, listener_path, BROKER_LISTENER_INTERFACE,
                                                                counter);

                g_assert_cmpstr(g_variant_get_type_string(v), ==, "t");
                value = g_variant_get_uint64(v);
                if (value == expected || g_get_monotonic_time() > deadline)
                        break;
                g_usleep(20 * G_TIME_SPAN_MILLISECOND);
        }
        if (value != expected)
                harness_fail("counter %s of %s is %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT,
                             counter, listener_path, value, expected);
}

void harness_assert_object_gone(Harness *h, const char *path) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) value = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GDBusNodeInfo) node = NULL;
        const char *xml;

        value = harness_get_property(h, h->client, path, BROKER_LISTENER_INTERFACE, "Id", &error);
        if (value)
                harness_fail("%s still answers Get(Id) after it was removed", path);
        if (!g_dbus_error_is_remote_error(error))
                harness_fail("Get(Id) on %s failed locally: %s", path, error->message);
        g_clear_error(&error);

        /* Nor may introspection still list the Listener interface there. */
        reply = harness_call(h, h->client, path, "org.freedesktop.DBus.Introspectable", "Introspect", NULL,
                             G_VARIANT_TYPE("(s)"), &error);
        if (!reply)
                return;
        g_variant_get(reply, "(&s)", &xml);
        node = g_dbus_node_info_new_for_xml(xml, &error);
        g_assert_no_error(error);
        if (g_dbus_node_info_lookup_interface(node, BROKER_LISTENER_INTERFACE))
                harness_fail("introspection of %s still lists %s after it was removed", path,
                             BROKER_LISTENER_INTERFACE);
}

/* ---- signals ---- */

void broker_signal_free(BrokerSignal *s) {
        if (!s)
                return;
        g_free(s->path);
        g_free(s->interface);
        g_free(s->member);
        g_clear_pointer(&s->parameters, g_variant_unref);
        g_free(s);
}

static void on_broker_signal(GDBusConnection *conn, const char *sender, const char *path, const char *interface,
                             const char *member, GVariant *parameters, gpointer user_data) {
        Harness *h = user_data;
        BrokerSignal *s = g_new0(BrokerSignal, 1);

        s->path = g_strdup(path);
        s->interface = g_strdup(interface);
        s->member = g_strdup(member);
        s->parameters = g_variant_ref(parameters);
        g_ptr_array_add(h->signals, s);
}

static BrokerSignal *steal_signal(Harness *h, const char *interface, const char *member) {
        for (guint i = 0; i < h->signals->len; i++) {
                BrokerSignal *s = g_ptr_array_index(h->signals, i);

                if (g_str_equal(s->interface, interface) && g_str_equal(s->member, member))
                        return g_ptr_array_steal_index(h->signals, i);
        }
        return NULL;
}

BrokerSignal *harness_wait_signal(Harness *h, const char *interface, const char *member) {
        gint64 deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;

        for (;;) {
                BrokerSignal *s = steal_signal(h, interface, member);

                if (s)
                        return s;
                check_daemon_alive(h, member);
                if (g_get_monotonic_time() > deadline)
                        harness_fail("no %s.%s signal within %d s", interface, member,
                                     (int) (HARNESS_TIMEOUT_USEC / G_USEC_PER_SEC));
                harness_spin(h);
        }
}

void harness_assert_no_signal(Harness *h, const char *interface, const char *member) {
        gint64 until = g_get_monotonic_time() + HARNESS_SETTLE_USEC;
        g_autoptr(BrokerSignal) s = NULL;

        while (g_get_monotonic_time() < until)
                harness_spin(h);
        s = steal_signal(h, interface, member);
        if (s) {
                g_autofree char *printed = g_variant_print(s->parameters, TRUE);
                harness_fail("unexpected signal %s.%s%s on %s", interface, member, printed, s->path);
        }
}

/* ---- the daemon process ---- */

/* How many fds the daemon has open whose target starts with prefix and ends with suffix (NULL: any). */
static guint daemon_fds_matching(Harness *h, const char *prefix, const char *suffix) {
        g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int) h->daemon_pid);
        DIR *d = opendir(path);
        struct dirent *de;
        guint n = 0;

        if (!d)
                harness_fail("cannot open %s: %s", path, g_strerror(errno));
        while ((de = readdir(d))) {
                char target[PATH_MAX];
                ssize_t len;

                if (de->d_name[0] == '.')
                        continue;
                if (prefix || suffix) {
                        len = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
                        if (len < 0)
                                continue;
                        target[len] = 0;
                        if ((prefix && !g_str_has_prefix(target, prefix)) ||
                            (suffix && !g_str_has_suffix(target, suffix)))
                                continue;
                }
                n++;
        }
        closedir(d);
        return n;
}

guint harness_daemon_fd_count(Harness *h) {
        return daemon_fds_matching(h, NULL, NULL);
}

/* How many of the daemon's fds are a thread's own fd directory (/proc/PID/task/TID/fd). */
static guint daemon_thread_fd_dirs(Harness *h) {
        g_autofree char *prefix = g_strdup_printf("/proc/%d/task/", (int) h->daemon_pid);

        return daemon_fds_matching(h, prefix, "/fd");
}


guint harness_daemon_fd_count_with_threads_set_up(Harness *h, guint n_listeners) {
        gint64 deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;
        guint n;

        while ((n = daemon_thread_fd_dirs(h)) != n_listeners) {
                if (g_get_monotonic_time() >= deadline)
                        harness_fail("sysbrokerd's listener threads hold %u fd directories, expected %u", n,
                                     n_listeners);
                harness_spin(h);
        }
        return harness_daemon_fd_count(h);
}

static char *daemon_fd_listing(Harness *h) {
        g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int) h->daemon_pid);
        GString *s = g_string_new(NULL);
        DIR *d = opendir(path);
        struct dirent *de;

        if (!d)
                return g_string_free(s, FALSE);
        while ((de = readdir(d))) {
                char target[PATH_MAX] = "?";
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                n = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
                if (n >= 0)
                        target[n] = 0;
                g_string_append_printf(s, " %s→%s", de->d_name, target);
        }
        closedir(d);
        return g_string_free(s, FALSE);
}

void harness_assert_daemon_fd_count(Harness *h, guint expected) {
        gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
        guint n;

        /* The daemon may close what it was handed right after replying: give it a moment. */
        while ((n = harness_daemon_fd_count(h)) != expected && g_get_monotonic_time() < deadline)
                harness_spin(h);
        if (n != expected) {
                g_autofree char *listing = daemon_fd_listing(h);
                harness_fail("sysbrokerd has %u fds open, %u before the call:%s", n, expected, listing);
        }
}

GDBusConnection *harness_connect_peer(Harness *h) {
        g_autofree char *escaped = g_dbus_address_escape_value(h->socket_path);
        g_autofree char *address = g_strdup_printf("unix:path=%s", escaped);
        gint64 deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;

        for (;;) {
                g_autoptr(GError) error = NULL;
                GDBusConnection *conn;

                conn = g_dbus_connection_new_for_address_sync(address,
                                                              G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                              NULL, NULL, &error);
                if (conn)
                        return conn;
                /* systemd-socket-activate binds (the file appears) a moment before it listens. */
                if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
                    g_get_monotonic_time() > deadline)
                        harness_fail("cannot connect to %s: %s", h->socket_path, error->message);
                harness_spin(h);
        }
}

char *harness_wait_notify(Harness *h) {
        gint64 deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;
        char buf[4096];
        ssize_t n;

        g_assert_cmpint(h->notify_fd, >=, 0);
        while (!wait_readable(h->notify_fd, 10 * G_TIME_SPAN_MILLISECOND)) {
                check_daemon_alive(h, "a notification on NOTIFY_SOCKET");
                if (g_get_monotonic_time() > deadline)
                        harness_fail("sysbrokerd sent nothing to NOTIFY_SOCKET within %d s",
                                     (int) (HARNESS_TIMEOUT_USEC / G_USEC_PER_SEC));
                harness_spin(h);
        }
        n = recv(h->notify_fd, buf, sizeof buf - 1, 0);
        g_assert_cmpint(n, >=, 0);
        buf[n] = 0;
        return g_strdup(buf);
}

static void on_daemon_exited(GObject *source, GAsyncResult *result, gpointer user_data) {
        Harness *h = user_data;

        (void) g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
        h->daemon_exited = TRUE;
}

static void die_with_parent(gpointer user_data) {
        /* A test that fails aborts its process; the daemon must not outlive it. */
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static char *wait_name_owner(Harness *h, const char *name, gboolean watch_daemon) {
        gint64 deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;

        for (;;) {
                g_autoptr(GVariant) reply = NULL;
                const char *owner;

                reply = g_dbus_connection_call_sync(h->client, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                    "org.freedesktop.DBus", "GetNameOwner",
                                                    g_variant_new("(s)", name), G_VARIANT_TYPE("(s)"),
                                                    G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
                if (reply) {
                        g_variant_get(reply, "(&s)", &owner);
                        return g_strdup(owner);
                }
                if (watch_daemon)
                        check_daemon_alive(h, name);
                if (g_get_monotonic_time() > deadline)
                        harness_fail("nobody owns %s after %d s", name,
                                     (int) (HARNESS_TIMEOUT_USEC / G_USEC_PER_SEC));
                harness_spin(h);
        }
}

static void start_daemon(Harness *h) {
        static const char *const sanitizer_variables[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
        const HarnessOptions *o = h->options;
        g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *notify_path = NULL;
        g_autoptr(GError) error = NULL;
        const char *sysbrokerd = g_getenv("SYSBROKERD");

        g_assert_nonnull(sysbrokerd);

        g_subprocess_launcher_setenv(launcher, "DBUS_SYSTEM_BUS_ADDRESS", h->bus_address, TRUE);
        g_subprocess_launcher_unsetenv(launcher, "NOTIFY_SOCKET");
        g_subprocess_launcher_unsetenv(launcher, "LISTEN_FDS");
        g_subprocess_launcher_unsetenv(launcher, "LISTEN_PID");
        g_subprocess_launcher_unsetenv(launcher, "LISTEN_FDNAMES");
        g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);

        if (o->notify_socket) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };

                notify_path = g_build_filename(h->tmpdir, "notify.sock", NULL);
                g_assert_cmpuint(strlen(notify_path), <, sizeof sa.sun_path);
                strcpy(sa.sun_path, notify_path);
                h->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                g_assert_cmpint(h->notify_fd, >=, 0);
                g_assert_cmpint(bind(h->notify_fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
                g_subprocess_launcher_setenv(launcher, "NOTIFY_SOCKET", notify_path, TRUE);
        }

        if (o->socket_activation) {
                const char *activate = g_getenv("SYSTEMD_SOCKET_ACTIVATE");
                g_autofree char *found = activate ? NULL : g_find_program_in_path("systemd-socket-activate");

                g_assert_true(activate || found);
                h->socket_path = g_build_filename(h->tmpdir, "io.socket", NULL);
                g_ptr_array_add(argv, g_strdup(activate ? activate : found));
                g_ptr_array_add(argv, g_strdup("-l"));
                g_ptr_array_add(argv, g_strdup(h->socket_path));
                /* systemd-socket-activate passes on only a few variables of its own environment. */
                g_ptr_array_add(argv, g_strdup_printf("--setenv=DBUS_SYSTEM_BUS_ADDRESS=%s", h->bus_address));
                if (notify_path)
                        g_ptr_array_add(argv, g_strdup_printf("--setenv=NOTIFY_SOCKET=%s", notify_path));
                /* tools/test --sanitize: where a sanitizer's report goes, and that it stops the daemon. */
                for (size_t i = 0; i < G_N_ELEMENTS(sanitizer_variables); i++)
                        if (g_getenv(sanitizer_variables[i]))
                                g_ptr_array_add(argv, g_strdup_printf("--setenv=%s=%s", sanitizer_variables[i],
                                                                      g_getenv(sanitizer_variables[i])));
        }
        g_ptr_array_add(argv, g_strdup(sysbrokerd));
        g_ptr_array_add(argv, g_strdup("--no-idle-exit"));
        g_ptr_array_add(argv, g_strdup("--log-level=debug"));
        for (size_t i = 0; o->daemon_args && o->daemon_args[i]; i++)
                g_ptr_array_add(argv, g_strdup(o->daemon_args[i]));
        g_ptr_array_add(argv, NULL);

        h->daemon = g_subprocess_launcher_spawnv(launcher, (const char *const *) argv->pdata, &error);
        g_assert_no_error(error);
        /* systemd-socket-activate execs the service in its own process: the pid is the daemon's. */
        h->daemon_pid = (pid_t) g_ascii_strtoll(g_subprocess_get_identifier(h->daemon), NULL, 10);
        g_subprocess_wait_async(h->daemon, NULL, on_daemon_exited, h);

        if (o->socket_activation) {
                gint64 deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;

                /* systemd-socket-activate starts the service only once a connection comes in. */
                while (!g_file_test(h->socket_path, G_FILE_TEST_EXISTS)) {
                        check_daemon_alive(h, h->socket_path);
                        if (g_get_monotonic_time() > deadline)
                                harness_fail("systemd-socket-activate did not create %s", h->socket_path);
                        harness_spin(h);
                }
                h->peer = harness_connect_peer(h);
        }

        h->daemon_unique_name = wait_name_owner(h, BROKER_BUS_NAME, TRUE);
        h->signal_subscription = g_dbus_connection_signal_subscribe(h->client, h->daemon_unique_name, NULL, NULL,
                                                                    NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                                    on_broker_signal, h, NULL);
        /* The subscription's AddMatch must be in effect before the test provokes a signal: a round trip
         * to the bus after it guarantees that. */
        g_free(wait_name_owner(h, BROKER_BUS_NAME, TRUE));
}

static void stop_daemon(Harness *h) {
        gint64 deadline = g_get_monotonic_time() + HARNESS_TIMEOUT_USEC;
        g_autofree char *how = NULL;

        if (!h->daemon)
                return;
        if (!h->daemon_exited) {
                g_subprocess_send_signal(h->daemon, SIGTERM);
                while (!h->daemon_exited && g_get_monotonic_time() < deadline)
                        harness_spin(h);
                if (!h->daemon_exited) {
                        g_subprocess_force_exit(h->daemon);
                        while (!h->daemon_exited)
                                harness_spin(h);
                        harness_fail("sysbrokerd did not exit within %d s of SIGTERM",
                                     (int) (HARNESS_TIMEOUT_USEC / G_USEC_PER_SEC));
                }
        }
        how = daemon_exit_description(h);
        if (!g_subprocess_get_if_exited(h->daemon) || g_subprocess_get_exit_status(h->daemon) != 0)
                harness_fail("sysbrokerd did not exit cleanly on SIGTERM: %s", how);
}

/* The queue is never freed (see harness_teardown()); a test that fails ends before it gets there. */
static GtDBusQueue *kept_queue;

static void harness_setup(Harness *h, const HarnessOptions *options) {
        g_autoptr(GError) error = NULL;
        g_autofree char *tmpdir = NULL;
        char canonical[PATH_MAX];

        h->options = options;
        h->notify_fd = -1;
        h->signals = g_ptr_array_new_with_free_func((GDestroyNotify) broker_signal_free);
        h->children = g_ptr_array_new_with_free_func(listener_child_free);

        tmpdir = g_dir_make_tmp("sysbroker-dbus-XXXXXX", &error);
        g_assert_no_error(error);
        /* Rules match the path as the kernel resolves it: give tests the canonical one. */
        g_assert_nonnull(realpath(tmpdir, canonical));
        h->tmpdir = g_strdup(canonical);

        h->queue = kept_queue = gt_dbus_queue_new();
        gt_dbus_queue_connect(h->queue, &error);
        g_assert_no_error(error);
        h->client = gt_dbus_queue_get_client_connection(h->queue);
        /* GTestDBus publishes its bus as the session bus; sysbrokerd takes it as the system bus. */
        h->bus_address = g_strdup(g_getenv("DBUS_SESSION_BUS_ADDRESS"));
        g_assert_nonnull(h->bus_address);

        if (!options->no_polkit) {
                GDBusInterfaceInfo *info;

                h->polkit_node = g_dbus_node_info_new_for_xml(polkit_authority_xml, &error);
                g_assert_no_error(error);
                info = g_dbus_node_info_lookup_interface(h->polkit_node, POLKIT_AUTHORITY_INTERFACE);
                gt_dbus_queue_export_object(h->queue, POLKIT_OBJECT_PATH, info, &error);
                g_assert_no_error(error);
                gt_dbus_queue_own_name(h->queue, POLKIT_BUS_NAME);
                /* Owning is asynchronous; a daemon asking before it completes would find no polkit. */
                g_free(wait_name_owner(h, POLKIT_BUS_NAME, FALSE));
        }

        start_daemon(h);
}

static void harness_teardown(Harness *h) {
        /* A call left in the queue is one the test did not expect. */
        gt_dbus_queue_assert_no_messages(h->queue);

        stop_daemon(h);
        g_clear_pointer(&h->children, g_ptr_array_unref);
        g_clear_object(&h->peer);
        if (h->signal_subscription)
                g_dbus_connection_signal_unsubscribe(h->client, h->signal_subscription);
        g_clear_pointer(&h->signals, g_ptr_array_unref);

        gt_dbus_queue_disconnect(h->queue, TRUE);
        /* Not freed: libglib-testing 0.1.1's gt_dbus_queue_free() asserts that its server thread's context
         * has nothing left to dispatch, which races with the closed connections' last events. The test's
         * process ends right after this (kept_queue keeps it reachable for LeakSanitizer). */
        h->queue = NULL;
        g_clear_pointer(&h->polkit_node, g_dbus_node_info_unref);
        g_clear_object(&h->daemon);

        if (h->notify_fd >= 0)
                close(h->notify_fd);
        rm_rf(h->tmpdir);
        g_free(h->tmpdir);
        g_free(h->bus_address);
        g_free(h->daemon_unique_name);
        g_free(h->socket_path);
}

/* ---- test registration ---- */

typedef struct HarnessTest {
        const HarnessOptions *options;
        HarnessTestFunc func;
        gconstpointer data;
} HarnessTest;

static const HarnessOptions default_options = {};

static char *socket_activate_path(void) {
        const char *env = g_getenv("SYSTEMD_SOCKET_ACTIVATE");

        return env && *env ? g_strdup(env) : g_find_program_in_path("systemd-socket-activate");
}

const char *const *harness_interface_xml_paths(void) {
        static char **paths = NULL;

        if (!paths) {
                const char *env = g_getenv(INTERFACE_XML_ENV);

                paths = env && *env ? g_strsplit(env, ":", -1) : g_new0(char *, 1);
        }
        return (const char *const *) paths;
}

static void harness_run_test(gconstpointer user_data) {
        const HarnessTest *t = user_data;
        g_autofree char *scratch = NULL;
        g_autoptr(GError) error = NULL;

        if (g_test_subprocess()) {
                Harness h = {};

                harness_setup(&h, t->options);
                t->func(&h, t->data);
                harness_teardown(&h);
                return;
        }

        if (t->options->needs & HARNESS_NEEDS_SOCKET_ACTIVATE) {
                g_autofree char *path = socket_activate_path();

                if (!path) {
                        g_test_skip("systemd-socket-activate is not installed");
                        return;
                }
        }
        if ((t->options->needs & HARNESS_NEEDS_ROOT) && geteuid() != 0) {
                g_test_skip("needs root: sysbrokerd runs as the test's user and must enter the target's context");
                return;
        }
        if ((t->options->needs & HARNESS_NEEDS_INTERFACE_XML) && !harness_interface_xml_paths()[0]) {
                g_test_skip("no interface XML was given (dbus/meson.build defines no interface_xml)");
                return;
        }

        /* A failing test aborts before its teardown: give it a scratch TMPDIR (for its own files and
         * GTestDBus's) that this side removes whatever happened. */
        scratch = g_dir_make_tmp("sysbroker-dbus-run-XXXXXX", &error);
        g_assert_no_error(error);
        g_setenv("TMPDIR", scratch, TRUE);

        g_test_trap_subprocess(NULL, TEST_SUBPROCESS_TIMEOUT_USEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
        g_test_trap_assert_passed();

        rm_rf(scratch);
}

void harness_add_test(const char *test_path, const HarnessOptions *options, HarnessTestFunc func,
                      gconstpointer data) {
        HarnessTest *t = g_new0(HarnessTest, 1);

        t->options = options ? options : &default_options;
        t->func = func;
        t->data = data;
        g_test_add_data_func(test_path, t, harness_run_test);
}

static char *check_preconditions(void) {
        const char *sysbrokerd = g_getenv("SYSBROKERD");
        g_autofree char *dbus_daemon = NULL;
        g_autofree char *reason = NULL;
        ListenerChild c = {};

        if (!sysbrokerd || !*sysbrokerd)
                return g_strdup("SYSBROKERD is not set to the sysbrokerd binary (run the suite with meson test)");
        if (access(sysbrokerd, X_OK) < 0)
                return g_strdup_printf("sysbrokerd '%s' is not executable: %s", sysbrokerd, g_strerror(errno));

        dbus_daemon = g_find_program_in_path("dbus-daemon");
        if (!dbus_daemon)
                return g_strdup("dbus-daemon is not installed (GTestDBus needs it)");

        if (!listener_child_start(&c, &reason))
                return g_strdup_printf("seccomp user notification is not available: %s", reason);
        listener_child_kill(&c);
        return NULL;
}

void harness_init(int *argc, char ***argv) {
        g_autoptr(GPtrArray) xml = g_ptr_array_new();
        g_autofree char *reason = NULL;

        g_test_init(argc, argv, NULL);

        /* Left-over arguments are the interface XML files; test subprocesses are started without them,
         * so they travel in the environment. */
        for (int i = 1; i < *argc; i++)
                if (g_str_has_suffix((*argv)[i], ".xml"))
                        g_ptr_array_add(xml, (*argv)[i]);
        if (xml->len > 0) {
                g_autofree char *joined = NULL;

                g_ptr_array_add(xml, NULL);
                joined = g_strjoinv(":", (char **) xml->pdata);
                g_setenv(INTERFACE_XML_ENV, joined, TRUE);
        }

        if (g_test_subprocess())
                return;

        /* The parent only collects its subprocesses' results; one failure must not end the run. */
        g_test_set_nonfatal_assertions();

        reason = check_preconditions();
        if (reason) {
                g_print("1..0 # SKIP %s\n", reason);
                exit(77);
        }
}
