/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caller.c: who is calling, on a peer-to-peer connection (the socket's credentials, through connection.c) and
 * on a bus connection, and that caller as a polkit subject. No daemon, no bus daemon: this process calls itself. */

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker.h"
#include "caller.h"
#include "connection.h"
#include "fake-polkit.h"
#include "polkit.h"
#include "unit.h"

typedef struct Seen {
        unsigned n;
        int r;
        Caller caller;
        PolkitSubject subject;
        int subject_r;
} Seen;

static Seen seen;

static const Caller SENTINEL = { .uid = 4242, .account_uid = 4343, .pid = 4444, .bus_name = "sentinel" };

static int method_who(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Broker *b = userdata;

        seen.n++;
        seen.caller = SENTINEL;
        seen.r = caller_get(b, m, &seen.caller);
        polkit_subject_done(&seen.subject);
        seen.subject = POLKIT_SUBJECT_NULL;
        seen.subject_r = seen.r < 0 ? seen.r : caller_get_polkit_subject(&seen.caller, &seen.subject);
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable who_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Who", "", "", method_who, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

/* In place of broker.c's object table. */
static int add_who_object(Broker *b, sd_bus *bus) {
        return sd_bus_add_object_vtable(bus, NULL, "/test", "org.test.Who", who_vtable, b);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        unsigned *replies = userdata;

        (*replies)++;
        return 0;
}

static void call_who(sd_event *e, sd_bus *client) {
        unsigned replies = 0;

        if (sd_bus_call_method_async(client, NULL, NULL, "/test", "org.test.Who", "Who", on_reply, &replies, "") < 0)
                abort();
        unit_run_until(e, &replies, 1);
}

static void broker_setup(Broker *b) {
        *b = (Broker) {
                .limits = {
                        .max_connections = 16,
                        .max_message_size = 256 * 1024,
                        .connection_timeout_usec = 30 * USEC_PER_SEC,
                },
                .add_objects = add_who_object,
        };
        if (sd_event_new(&b->event) < 0 || polkit_registry_new(&b->polkit) < 0)
                abort();
}

static void test_peer_to_peer_caller_is_the_socket_peer(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[] = "/tmp/test-caller-XXXXXX";
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *client = NULL;
        char address[sizeof sa.sun_path + 16];
        Broker b;
        int fd;

        seen = (Seen) { .subject = POLKIT_SUBJECT_NULL };
        broker_setup(&b);
        if (!mkdtemp(dir))
                abort();
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/socket", dir);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 8) < 0)
                abort();
        CHECK(connection_start_accepting(&b, fd) >= 0);

        snprintf(address, sizeof address, "unix:path=%s", sa.sun_path);
        if (sd_bus_new(&client) < 0 || sd_bus_set_address(client, address) < 0 || sd_bus_start(client) < 0 ||
            sd_bus_attach_event(client, b.event, 0) < 0)
                abort();
        call_who(b.event, client);

        CHECK(seen.n == 1);
        CHECK(seen.r == 0);
        CHECK(seen.caller.uid == getuid());
        CHECK(seen.caller.pid == getpid());
        CHECK(seen.caller.bus_name == NULL);
        CHECK(seen.caller.connection != NULL);
        CHECK(seen.caller.account_uid == getuid());
        /* As polkit gets it: this process, pinned by a pidfd, with its start time. */
        CHECK(seen.subject_r == 0);
        CHECK(seen.subject.bus_name == NULL);
        CHECK(seen.subject.pid == getpid());
        CHECK(seen.subject.uid == getuid());
        CHECK(seen.subject.pidfd >= 0);
        CHECK(seen.subject.start_time > 0);

        polkit_subject_done(&seen.subject);
        client = sd_bus_flush_close_unref(client);
        connection_free_all(&b);
        b.polkit = polkit_registry_free(b.polkit);
        sd_event_unref(b.event);
        (void) unlink(sa.sun_path);
        (void) rmdir(dir);
}

static void test_caller_is_untouched_when_unknown(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *client = NULL;
        sd_id128_t id;
        Broker b;
        int sp[2];

        seen = (Seen) { .subject = POLKIT_SUBJECT_NULL };
        broker_setup(&b);
        /* As the system bus, a connection without a bus daemon: its calls have no sender name to check with
         * polkit, so there is no caller. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 || sd_id128_randomize(&id) < 0 ||
            sd_bus_new(&b.system_bus) < 0 || sd_bus_set_fd(b.system_bus, sp[1], sp[1]) < 0 ||
            sd_bus_set_server(b.system_bus, 1, id) < 0 || sd_bus_start(b.system_bus) < 0 ||
            sd_bus_attach_event(b.system_bus, b.event, 0) < 0 || add_who_object(&b, b.system_bus) < 0 ||
            sd_bus_new(&client) < 0 || sd_bus_set_fd(client, sp[0], sp[0]) < 0 || sd_bus_start(client) < 0 ||
            sd_bus_attach_event(client, b.event, 0) < 0)
                abort();
        call_who(b.event, client);

        CHECK(seen.n == 1);
        CHECK(seen.r < 0);
        CHECK(seen.caller.uid == SENTINEL.uid && seen.caller.account_uid == SENTINEL.account_uid &&
              seen.caller.pid == SENTINEL.pid && seen.caller.bus_name == SENTINEL.bus_name &&
              seen.caller.connection == NULL);

        client = sd_bus_flush_close_unref(client);
        sd_bus_flush_close_unref(b.system_bus);
        b.polkit = polkit_registry_free(b.polkit);
        sd_event_unref(b.event);
}

static void test_bus_caller_subject_is_its_name(void) {
        Caller c = { .uid = 1000, .account_uid = 100000, .pid = 1, .bus_name = ":1.42" };
        PolkitSubject s = POLKIT_SUBJECT_NULL;

        CHECK(caller_get_polkit_subject(&c, &s) == 0);
        CHECK_STREQ(s.bus_name, ":1.42");
        CHECK(s.bus_name != c.bus_name); /* its own copy: it outlives the call */
        CHECK(s.uid == 1000 && s.account_uid == 100000);
        CHECK(s.pidfd < 0);
        polkit_subject_done(&s);
}

UNIT_MAIN(
        T(test_peer_to_peer_caller_is_the_socket_peer),
        T(test_caller_is_untouched_when_unknown),
        T(test_bus_caller_subject_is_its_name),
)
