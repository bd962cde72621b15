/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* polkit.c's registry against a fake polkitd on a socketpair, no bus daemon: the answers, the bounds in flight
 * per user, the queue behind them and its depth, the cancellation of a peer's checks, and abandoned
 * checks. */

#include <sys/syscall.h>
#include <unistd.h>

#include "broker.h"
#include "polkit.h"
#include "fake-polkit.h"
#include "unit.h"

typedef struct Answers {
        unsigned n;
        PolkitResult last;
        char last_error[128];
} Answers;

static void on_answer(PolkitQuery *q, PolkitResult result, const sd_bus_error *error, void *userdata) {
        Answers *a = userdata;

        a->n++;
        a->last = result;
        snprintf(a->last_error, sizeof a->last_error, "%s", error && error->name ? error->name : "");
}

typedef struct Env {
        Broker b;
        sd_bus *polkitd;
        sd_bus *peer, *peer_server;  /* a peer-to-peer client's connection, for cancellation */
        FakePolkit fake;
} Env;

static void env_setup(Env *env) {
        *env = (Env) {};
        if (sd_event_new(&env->b.event) < 0 || polkit_registry_new(&env->b.polkit) < 0)
                abort();
        env->b.limits.polkit_timeout_usec = 25 * USEC_PER_SEC;
        env->b.limits.max_listeners_per_user = 4;
        env->b.limits.max_listeners = 6;
        unit_bus_pair(env->b.event, &env->b.system_bus, &env->polkitd);
        unit_bus_pair(env->b.event, &env->peer, &env->peer_server);
        if (fake_polkit_attach(env->polkitd, &env->fake) < 0)
                abort();
}

static void env_done(Env *env) {
        fake_polkit_done(&env->fake);
        env->b.polkit = polkit_registry_free(env->b.polkit);
        sd_bus_flush_close_unref(env->b.system_bus);
        sd_bus_flush_close_unref(env->polkitd);
        sd_bus_flush_close_unref(env->peer);
        sd_bus_flush_close_unref(env->peer_server);
        sd_event_unref(env->b.event);
}

static PolkitSubject subject_of(uid_t account_uid) {
        return (PolkitSubject) {
                .pid = getpid(),
                .uid = account_uid,
                .account_uid = account_uid,
                .pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0),
        };
}

static int check_query(Env *env, sd_bus *on, uid_t account_uid, Answers *a, PolkitQuery **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        PolkitSubject s = subject_of(account_uid);
        int r;

        if (sd_bus_message_new_method_call(on, &call, "org.sysbroker.Broker1", "/org/sysbroker/Broker1",
                                           "org.sysbroker.Broker1.Manager", "ListListeners") < 0)
                abort();
        r = polkit_check(&env->b, call, &s, "org.sysbroker.Broker1.manage", NULL, false, on_answer, a, ret);
        polkit_subject_done(&s);
        return r;
}

static int check(Env *env, sd_bus *on, uid_t account_uid, Answers *a) {
        return check_query(env, on, account_uid, a, NULL);
}

static void test_answers_reach_the_callback(void) {
        Env env;
        Answers a = {};

        env_setup(&env);
        CHECK(check(&env, env.b.system_bus, 1000, &a) == 1);
        CHECK(polkit_registry_pending(env.b.polkit) == 1);
        unit_run_until(env.b.event, &env.fake.n_checks, 1);
        CHECK(env.fake.n_checks == 1);
        CHECK_STREQ(env.fake.last_action, "org.sysbroker.Broker1.manage");
        CHECK(a.n == 0);

        fake_polkit_answer(&env.fake, 1, 0);
        unit_run_until(env.b.event, &a.n, 1);
        CHECK(a.n == 1 && a.last == POLKIT_YES);
        CHECK(polkit_registry_pending(env.b.polkit) == 0);

        CHECK(check(&env, env.b.system_bus, 1000, &a) == 1);
        unit_run_until(env.b.event, &env.fake.n_checks, 2);
        fake_polkit_answer(&env.fake, 0, 1);
        unit_run_until(env.b.event, &a.n, 2);
        CHECK(a.n == 2 && a.last == POLKIT_CHALLENGE);

        CHECK(check(&env, env.b.system_bus, 1000, &a) == 1);
        unit_run_until(env.b.event, &env.fake.n_checks, 3);
        fake_polkit_answer(&env.fake, 0, 0);
        unit_run_until(env.b.event, &a.n, 3);
        CHECK(a.n == 3 && a.last == POLKIT_NO);
        env_done(&env);
}

static void test_absent_polkit_is_no_answer_and_failing_polkit_an_error(void) {
        Env env;
        Answers a = {};

        env_setup(&env);
        CHECK(check(&env, env.b.system_bus, 1000, &a) == 1);
        unit_run_until(env.b.event, &env.fake.n_checks, 1);
        fake_polkit_answer_error(&env.fake, SD_BUS_ERROR_SERVICE_UNKNOWN);
        unit_run_until(env.b.event, &a.n, 1);
        CHECK(a.n == 1 && a.last == POLKIT_NO_ANSWER);

        CHECK(check(&env, env.b.system_bus, 1000, &a) == 1);
        unit_run_until(env.b.event, &env.fake.n_checks, 2);
        fake_polkit_answer_error(&env.fake, "org.freedesktop.PolicyKit1.Error.Failed");
        unit_run_until(env.b.event, &a.n, 2);
        CHECK(a.n == 2 && a.last == POLKIT_ERROR);
        CHECK(polkit_registry_pending(env.b.polkit) == 0);
        env_done(&env);
}

static void test_a_user_past_its_bound_waits_in_its_queue(void) {
        Env env;
        Answers a = {}, other = {};
        unsigned sent;

        env_setup(&env);
        /* The bound in flight, then as many queued as the user may hold listeners (4); one more is refused. */
        for (unsigned i = 0; i < POLKIT_MAX_QUERIES_PER_USER + 4; i++)
                CHECK(check(&env, env.b.system_bus, 1000, &a) == 1);
        CHECK(check(&env, env.b.system_bus, 1000, &a) == -ENOBUFS);
        CHECK(polkit_registry_pending(env.b.polkit) == POLKIT_MAX_QUERIES_PER_USER + 4);
        unit_run_until(env.b.event, &env.fake.n_checks, POLKIT_MAX_QUERIES_PER_USER + 1);
        CHECK(env.fake.n_checks == POLKIT_MAX_QUERIES_PER_USER);

        /* Another user is not held up by it. */
        CHECK(check(&env, env.b.system_bus, 2000, &other) == 1);
        unit_run_until(env.b.event, &env.fake.n_checks, POLKIT_MAX_QUERIES_PER_USER + 1);
        CHECK(env.fake.n_checks == POLKIT_MAX_QUERIES_PER_USER + 1);

        /* An answer makes room for the oldest queued. */
        sent = env.fake.n_checks;
        fake_polkit_answer(&env.fake, 1, 0);
        unit_run_until(env.b.event, &env.fake.n_checks, sent + 1);
        CHECK(a.n == 1 && a.last == POLKIT_YES);
        CHECK(env.fake.n_checks == sent + 1);
        CHECK(polkit_registry_pending(env.b.polkit) == POLKIT_MAX_QUERIES_PER_USER + 4);

        /* Its queue has room for one again. */
        CHECK(check(&env, env.b.system_bus, 1000, &a) == 1);
        CHECK(check(&env, env.b.system_bus, 1000, &a) == -ENOBUFS);
        env_done(&env);
}

static void test_a_peer_that_leaves_has_its_checks_cancelled(void) {
        Env env;
        Answers bus_caller = {}, peer = {};

        env_setup(&env);
        CHECK(check(&env, env.b.system_bus, 1000, &bus_caller) == 1);
        /* One more than its bound in flight: the last one waits in the queue. */
        for (unsigned i = 0; i < POLKIT_MAX_QUERIES_PER_USER; i++)
                CHECK(check(&env, env.peer, 1000, &peer) == 1);
        unit_run_until(env.b.event, &env.fake.n_checks, POLKIT_MAX_QUERIES_PER_USER);
        CHECK(env.fake.n_checks == POLKIT_MAX_QUERIES_PER_USER);
        CHECK(polkit_registry_pending(env.b.polkit) == POLKIT_MAX_QUERIES_PER_USER + 1);

        polkit_cancel_for_bus(&env.b, env.peer);
        CHECK(peer.n == POLKIT_MAX_QUERIES_PER_USER);
        CHECK(peer.last == POLKIT_ERROR);
        CHECK_STREQ(peer.last_error, SD_BUS_ERROR_DISCONNECTED);
        CHECK(polkit_registry_pending(env.b.polkit) == 1);
        /* polkitd is told to take down the dialogs of the ones it was asked; the queued one it never saw. */
        unit_run_until(env.b.event, &env.fake.n_cancels, POLKIT_MAX_QUERIES_PER_USER - 1);
        CHECK(env.fake.n_cancels == POLKIT_MAX_QUERIES_PER_USER - 1);
        CHECK(strncmp(env.fake.last_cancelled, "sysbroker-", 10) == 0);
        CHECK(bus_caller.n == 0);
        env_done(&env);
}

/* An abandoned check is never answered, also when polkitd answers it later; one in flight makes room for the
 * next queued, from the event loop. */
static void test_an_abandoned_check_is_dropped_and_makes_room(void) {
        Env env;
        Answers a = {};
        PolkitQuery *first = NULL, *queued = NULL, *q = NULL;
        unsigned pending;

        env_setup(&env);
        for (unsigned i = 0; i < POLKIT_MAX_QUERIES_PER_USER; i++) {
                CHECK(check_query(&env, env.b.system_bus, 1000, &a, &q) == 1);
                if (!first)
                        first = q;
        }
        CHECK(!polkit_has_room(&env.b, 1000));
        CHECK(polkit_has_room(&env.b, 2000));
        CHECK(check_query(&env, env.b.system_bus, 1000, &a, &queued) == 1);
        unit_run_until(env.b.event, &env.fake.n_checks, POLKIT_MAX_QUERIES_PER_USER);
        CHECK(env.fake.n_checks == POLKIT_MAX_QUERIES_PER_USER);
        pending = polkit_registry_pending(env.b.polkit);
        CHECK(pending == POLKIT_MAX_QUERIES_PER_USER + 1);

        /* A queued one just goes. */
        polkit_query_abandon(queued);
        CHECK(polkit_registry_pending(env.b.polkit) == pending - 1);
        CHECK(check(&env, env.b.system_bus, 1000, &a) == 1);

        /* One in flight goes too; the queued one takes its place at polkitd. */
        polkit_query_abandon(first);
        CHECK(polkit_registry_pending(env.b.polkit) == pending - 1);
        unit_run_until(env.b.event, &env.fake.n_checks, POLKIT_MAX_QUERIES_PER_USER + 1);
        CHECK(env.fake.n_checks == POLKIT_MAX_QUERIES_PER_USER + 1);
        /* Not interactive: no dialog to take down. */
        CHECK(env.fake.n_cancels == 0);

        /* polkitd's late answer to the abandoned one (the oldest it holds) reaches nobody. */
        fake_polkit_answer(&env.fake, 1, 0);
        unit_run_until(env.b.event, &a.n, 1);
        CHECK(a.n == 0);
        CHECK(polkit_registry_pending(env.b.polkit) == pending - 1);
        env_done(&env);
}

UNIT_MAIN(
        T(test_answers_reach_the_callback),
        T(test_absent_polkit_is_no_answer_and_failing_polkit_an_error),
        T(test_a_user_past_its_bound_waits_in_its_queue),
        T(test_a_peer_that_leaves_has_its_checks_cancelled),
        T(test_an_abandoned_check_is_dropped_and_makes_room),
)
