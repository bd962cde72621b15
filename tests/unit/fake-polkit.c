/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A fake polkitd for the unit tests: CheckAuthorization is held until the test answers it. */

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

#include "fake-polkit.h"

static int fake_check(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakePolkit *f = userdata;
        const char *kind, *action;
        int r;

        r = sd_bus_message_enter_container(m, 'r', "sa{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "s", &kind);
        if (r < 0)
                return r;
        r = sd_bus_message_skip(m, "a{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "s", &action);
        if (r < 0)
                return r;
        snprintf(f->last_action, sizeof f->last_action, "%s", action);
        f->n_checks++;
        if (f->n_held >= FAKE_POLKIT_MAX_HELD)
                return -ENOBUFS;
        f->held[f->n_held++] = sd_bus_message_ref(m);
        return 1; /* answered later */
}

static int fake_cancel(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakePolkit *f = userdata;
        const char *id;
        int r;

        r = sd_bus_message_read(m, "s", &id);
        if (r < 0)
                return r;
        snprintf(f->last_cancelled, sizeof f->last_cancelled, "%s", id);
        f->n_cancels++;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable fake_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", fake_check,
                      SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("CancelCheckAuthorization", "s", "", fake_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

/* The oldest held check, answered. */
void fake_polkit_answer(FakePolkit *f, int authorized, int challenge) {
        sd_bus_message *m;

        if (f->n_held == 0)
                abort();
        m = f->held[0];
        memmove(f->held, f->held + 1, --f->n_held * sizeof f->held[0]);
        if (sd_bus_reply_method_return(m, "(bba{ss})", authorized, challenge, 0) < 0)
                abort();
        sd_bus_message_unref(m);
}

void fake_polkit_answer_error(FakePolkit *f, const char *name) {
        sd_bus_message *m = f->held[0];

        memmove(f->held, f->held + 1, --f->n_held * sizeof f->held[0]);
        if (sd_bus_reply_method_errorf(m, name, "fake") < 0)
                abort();
        sd_bus_message_unref(m);
}

int fake_polkit_attach(sd_bus *bus, FakePolkit *f) {
        return sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/PolicyKit1/Authority",
                                        "org.freedesktop.PolicyKit1.Authority", fake_vtable, f);
}

void fake_polkit_done(FakePolkit *f) {
        for (size_t i = 0; i < f->n_held; i++)
                sd_bus_message_unref(f->held[i]);
        f->n_held = 0;
}

void unit_bus_pair(sd_event *e, sd_bus **ret_client, sd_bus **ret_server) {
        sd_id128_t id;
        int sp[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 || sd_id128_randomize(&id) < 0 ||
            sd_bus_new(ret_client) < 0 || sd_bus_set_fd(*ret_client, sp[0], sp[0]) < 0 ||
            sd_bus_new(ret_server) < 0 || sd_bus_set_fd(*ret_server, sp[1], sp[1]) < 0 ||
            sd_bus_set_server(*ret_server, 1, id) < 0 || sd_bus_start(*ret_server) < 0 ||
            sd_bus_start(*ret_client) < 0 || sd_bus_attach_event(*ret_client, e, 0) < 0 ||
            sd_bus_attach_event(*ret_server, e, 0) < 0)
                abort();
}

/* Runs e until *counter reaches want (or two seconds pass), then whatever else is ready: so that a count that
 * must not grow had its chance to. */
void unit_run_until(sd_event *e, const unsigned *counter, unsigned want) {
        for (int i = 0; i < 200 && *counter < want; i++)
                if (sd_event_run(e, 10 * 1000) < 0)
                        abort();
        while (sd_event_run(e, 0) > 0)
                ;
}
