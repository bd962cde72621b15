/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A fake polkitd for the unit tests (fake-polkit.c), and what its tests need around it: a bus connection pair
 * without a bus daemon, and running the loop until something happened. */
#pragma once

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define FAKE_POLKIT_MAX_HELD 64

/* The fake polkitd: holds every CheckAuthorization until the test answers it. */
typedef struct FakePolkit {
        sd_bus_message *held[FAKE_POLKIT_MAX_HELD];
        size_t n_held;
        unsigned n_checks;
        unsigned n_cancels;
        char last_cancelled[64];
        char last_action[128];
} FakePolkit;

/* Serves the Authority object on bus (the server end of unit_bus_pair()). */
int fake_polkit_attach(sd_bus *bus, FakePolkit *f);
/* The oldest held check, answered (authorized, challenge) or failed with error name. */
void fake_polkit_answer(FakePolkit *f, int authorized, int challenge);
void fake_polkit_answer_error(FakePolkit *f, const char *name);
void fake_polkit_done(FakePolkit *f);

/* Two connected buses, without a bus daemon, on event loop e: a client and a server. */
void unit_bus_pair(sd_event *e, sd_bus **ret_client, sd_bus **ret_server);
/* Runs e until *counter reaches want (or two seconds pass), then whatever else is ready. */
void unit_run_until(sd_event *e, const unsigned *counter, unsigned want);
