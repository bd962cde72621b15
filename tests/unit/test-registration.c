/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* manager.c's registration checks against a fake polkitd, no daemon and no bus daemon: the Manager object on a
 * peer-to-peer connection of this process, a real seccomp listener from a child. Each "no" ends it with nothing
 * registered and nothing left at polkit; a peer that leaves takes its registration along. (A "yes" to every
 * check starts a listener thread, which the dbus suite covers.) */

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "broker.h"
#include "connection.h"
#include "fake-polkit.h"
#include "listener.h"
#include "manager.h"
#include "polkit.h"
#include "unit.h"

typedef struct Env {
        Broker b;
        sd_bus *polkitd;
        sd_bus *client;
        FakePolkit fake;
        pid_t sandbox;             /* holds the filter, so the listener has a task */
        int listener_fd;
        char dir[32];
        char socket_path[64];
} Env;

typedef struct Reply {
        unsigned n;
        char error[256];
} Reply;

/* In place of broker.c's object table: the Manager only. */
static int add_manager_object(Broker *b, sd_bus *bus) {
        return sd_bus_add_object_vtable(bus, NULL, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE, manager_vtable, b);
}

/* A child under a filter with a listener, which it hands over and then waits to be killed. */
static pid_t start_sandbox(int *ret_fd) {
        int sp[2];
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp) < 0)
                abort();
        pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                struct sock_filter insns[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
                struct sock_fprog prog = { .len = 1, .filter = insns };
                char cbuf[CMSG_SPACE(sizeof(int))] = {};
                struct iovec iov = { .iov_base = (char[]) { 'x' }, .iov_len = 1 };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                                     .msg_controllen = sizeof cbuf };
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                int fd;

                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(2);
                fd = (int) syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
                if (fd < 0)
                        _exit(3);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &fd, sizeof fd);
                if (sendmsg(sp[1], &mh, 0) < 0)
                        _exit(4);
                for (;;)
                        pause();
        }
        close(sp[1]);
        {
                char cbuf[CMSG_SPACE(sizeof(int))] = {}, c;
                struct iovec iov = { .iov_base = &c, .iov_len = 1 };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                                     .msg_controllen = sizeof cbuf };
                struct cmsghdr *cm;

                if (recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC) < 0 || !(cm = CMSG_FIRSTHDR(&mh)) ||
                    cm->cmsg_type != SCM_RIGHTS)
                        abort();
                memcpy(ret_fd, CMSG_DATA(cm), sizeof *ret_fd);
        }
        close(sp[0]);
        return pid;
}

static void env_setup(Env *env) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char address[96];
        int fd;

        *env = (Env) {
                .b.limits = {
                        .rules = { .max_rules = 16, .max_string_length = 4096, .max_total_length = 64 * 1024 },
                        .max_listeners = 8,
                        .max_listeners_per_user = 4,
                        .max_connections = 16,
                        .max_description = 256,
                        .polkit_timeout_usec = 25 * USEC_PER_SEC,
                        .max_message_size = 256 * 1024,
                        .connection_timeout_usec = 30 * USEC_PER_SEC,
                },
                .b.add_objects = add_manager_object,
        };
        /* First: the child must not hold a copy of the client's socket, which is to hang up in a test. */
        env->sandbox = start_sandbox(&env->listener_fd);
        if (sd_event_new(&env->b.event) < 0 || polkit_registry_new(&env->b.polkit) < 0)
                abort();
        unit_bus_pair(env->b.event, &env->b.system_bus, &env->polkitd);
        if (fake_polkit_attach(env->polkitd, &env->fake) < 0)
                abort();

        snprintf(env->dir, sizeof env->dir, "/tmp/test-registration-XXXXXX");
        if (!mkdtemp(env->dir))
                abort();
        snprintf(env->socket_path, sizeof env->socket_path, "%s/socket", env->dir);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", env->socket_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 8) < 0 ||
            connection_start_accepting(&env->b, fd) < 0)
                abort();
        snprintf(address, sizeof address, "unix:path=%s", env->socket_path);
        if (sd_bus_new(&env->client) < 0 || sd_bus_set_address(env->client, address) < 0 ||
            sd_bus_negotiate_fds(env->client, true) < 0 || sd_bus_start(env->client) < 0 ||
            sd_bus_attach_event(env->client, env->b.event, 0) < 0)
                abort();

        /* Passing an fd needs the connection's answer to NEGOTIATE_UNIX_FD: its accept and authentication run on
         * this loop. */
        for (int i = 0; i < 200 && sd_bus_is_ready(env->client) <= 0; i++)
                if (sd_event_run(env->b.event, 10 * 1000) < 0)
                        abort();
}

static void env_done(Env *env) {
        fake_polkit_done(&env->fake);
        env->client = sd_bus_flush_close_unref(env->client);
        connection_free_all(&env->b);
        registration_free_all(&env->b);
        env->b.polkit = polkit_registry_free(env->b.polkit);
        sd_bus_flush_close_unref(env->b.system_bus);
        sd_bus_flush_close_unref(env->polkitd);
        sd_event_unref(env->b.event);
        close(env->listener_fd);
        (void) kill(env->sandbox, SIGKILL);
        (void) waitpid(env->sandbox, NULL, 0);
        (void) unlink(env->socket_path);
        (void) rmdir(env->dir);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Reply *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        r->n++;
        snprintf(r->error, sizeof r->error, "%s", e ? e->name : "");
        return 0;
}

/* RegisterListener with one mknod rule (its own polkit action). */
static void register_listener(Env *env, Reply *reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        if (sd_bus_message_new_method_call(env->client, &m, NULL, BROKER_OBJECT_PATH, BROKER_MANAGER_INTERFACE,
                                           "RegisterListener") < 0 ||
            sd_bus_message_append(m, "h", env->listener_fd) < 0 ||
            sd_bus_message_append(m, "aa{sv}", 1, 5, "Syscall", "s", "mknod", "Path", "s", "/box/null",
                                  "Type", "s", "c", "Major", "u", 1, "Minor", "u", 3) < 0 ||
            sd_bus_message_append(m, "a{sv}", 1, "Description", "s", "test") < 0 ||
            sd_bus_call_async(env->client, NULL, m, on_reply, reply, 0) < 0)
                abort();
}

static void test_no_to_register_action_registers_nothing(void) {
        Env env;
        Reply reply = {};

        env_setup(&env);
        register_listener(&env, &reply);
        /* Both checks at once, the register action first. */
        unit_run_until(env.b.event, &env.fake.n_checks, 2);
        CHECK(env.fake.n_checks == 2);
        CHECK_STREQ(env.fake.last_action, "org.sysbroker.Broker1.mknod");
        CHECK(env.b.n_registrations == 1);
        CHECK(reply.n == 0);

        fake_polkit_answer(&env.fake, 0, 0);
        unit_run_until(env.b.event, &reply.n, 1);
        CHECK(reply.n == 1);
        CHECK_STREQ(reply.error, SD_BUS_ERROR_ACCESS_DENIED);
        CHECK(env.fake.n_checks == 2);
        CHECK(env.b.n_registrations == 0 && !env.b.registrations);
        CHECK(!env.b.listeners && env.b.n_listeners == 0);
        /* The rule's check, still at polkit, is let go of. */
        CHECK(polkit_registry_pending(env.b.polkit) == 0);
        env_done(&env);
}

static void test_no_to_a_rule_registers_nothing(void) {
        Env env;
        Reply reply = {};

        env_setup(&env);
        register_listener(&env, &reply);
        unit_run_until(env.b.event, &env.fake.n_checks, 2);
        fake_polkit_answer(&env.fake, 1, 0);
        CHECK(env.fake.n_checks == 2);
        CHECK_STREQ(env.fake.last_action, "org.sysbroker.Broker1.mknod");
        CHECK(reply.n == 0);

        fake_polkit_answer(&env.fake, 0, 1);
        unit_run_until(env.b.event, &reply.n, 1);
        CHECK(reply.n == 1);
        CHECK_STREQ(reply.error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED);
        CHECK(env.b.n_registrations == 0 && !env.b.listeners);
        env_done(&env);
}

static void test_polkit_not_answering_registers_nothing(void) {
        Env env;
        Reply reply = {};

        env_setup(&env);
        register_listener(&env, &reply);
        unit_run_until(env.b.event, &env.fake.n_checks, 1);
        fake_polkit_answer_error(&env.fake, SD_BUS_ERROR_SERVICE_UNKNOWN);
        unit_run_until(env.b.event, &reply.n, 1);
        CHECK(reply.n == 1);
        CHECK_STREQ(reply.error, SD_BUS_ERROR_TIMEOUT);
        CHECK(env.b.n_registrations == 0 && !env.b.listeners);
        env_done(&env);
}

static void test_peer_leaving_takes_its_registration_along(void) {
        Env env;
        Reply reply = {};

        env_setup(&env);
        register_listener(&env, &reply);
        unit_run_until(env.b.event, &env.fake.n_checks, 2);
        CHECK(env.b.n_registrations == 1);

        /* Both checks in flight are cancelled at polkitd. */
        env.client = sd_bus_flush_close_unref(env.client);
        unit_run_until(env.b.event, &env.fake.n_cancels, 2);
        CHECK(env.fake.n_cancels == 2);
        CHECK(env.b.n_registrations == 0 && !env.b.listeners);
        CHECK(polkit_registry_pending(env.b.polkit) == 0);
        env_done(&env);
}

UNIT_MAIN(
        T(test_no_to_register_action_registers_nothing),
        T(test_no_to_a_rule_registers_nothing),
        T(test_polkit_not_answering_registers_nothing),
        T(test_peer_leaving_takes_its_registration_along),
)
