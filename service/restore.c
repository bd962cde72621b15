/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* At startup: the listeners a previous run left in the service manager's fd store, read back (persist.c) and
 * served again (listener_new()). Above both: persist.c never makes listeners. */

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "listener.h"
#include "log.h"
#include "message-id.h"
#include "notify.h"
#include "persist.h"
#include "restore.h"

static int restore_one(Broker *b, uint64_t id, int listener_fd, int state_fd) {
        _cleanup_(persisted_listener_done) PersistedListener p = {};
        Listener *l;
        int r;

        r = persist_load(id, state_fd, b->system_bus, &p);
        if (r < 0)
                return r;
        r = fd_is_seccomp_listener(listener_fd);
        if (r <= 0)
                return log_warning_errno(r < 0 ? r : -EBADF, "Listener %" PRIu64 ": stored fd is not a seccomp "
                                         "listener.", id);

        r = listener_new(b, listener_fd, p.rules, p.owner_uid, p.account_uid, p.owner_pid, p.description,
                         p.default_deny, p.root,
                         &(ListenerRestore) {
                                 .id = p.id,
                                 .registered_usec = p.registered_usec,
                                 .state_fd = state_fd,
                                 .mounts = p.mounts,
                                 .n_mounts = p.n_mounts,
                         }, &l);
        if (r < 0)
                return log_warning_errno(r, "Listener %" PRIu64 ": cannot be restored: %m", id);
        p.rules = NULL; /* the listener's now */
        l->stored = true; /* the service manager passed its fds back, and keeps them */
        listener_log(l, LOG_INFO, SB_MESSAGE_LISTENER_RESTORED, NULL,
                     "Listener %" PRIu64 " of uid %u restored after a restart, %zu rule(s), %zu mount(s).", l->id,
                 l->owner_uid, l->rules->n_rules, l->n_mounts);
        persist_list_add(l);
        listener_announce(l);
        return 0;
}

static int find_named(char **names, size_t n, const char *prefix, uint64_t id) {
        char want[64];

        snprintf(want, sizeof want, "%s-%" PRIu64, prefix, id);
        for (size_t i = 0; i < n; i++)
                if (names[i] && streq(names[i], want))
                        return (int) i;
        return -1;
}

int restore_listeners(Broker *b, int *fds, char **names, size_t n) {
        assert(b);
        assert(fds || n == 0);
        assert(names || n == 0);

        for (size_t i = 0; i < n; i++) {
                const char *e;
                uint64_t id;
                int s;

                if (fds[i] < 0 || !names[i] || !(e = startswith(names[i], "listener-")))
                        continue;
                id = strtoull(e, NULL, 10);
                s = find_named(names, n, "state", id);
                if (s >= 0 && fds[s] < 0)
                        s = -1;
                if (s < 0 || restore_one(b, id, fds[i], fds[s]) < 0) {
                        /* Nothing to serve it with: let it go, the sandbox then gets ENOSYS. By name: not if
                         * that name is a listener restored just now (a duplicate never stored by us). */
                        log_warning("Listener %" PRIu64 " from before the restart is dropped.", id);
                        if (!listener_find(b, id)) {
                                persist_store_remove("listener", id);
                                persist_store_remove("state", id);
                        }
                        safe_close(fds[i]);
                        if (s >= 0)
                                safe_close(fds[s]);
                }
                fds[i] = -EBADF;
                if (s >= 0)
                        fds[s] = -EBADF;
        }

        /* A state without its listener: the sandbox went away while we were down. */
        for (size_t i = 0; i < n; i++) {
                const char *e;

                if (fds[i] < 0 || !names[i] || !(e = startswith(names[i], "state-")))
                        continue;
                persist_store_remove("state", strtoull(e, NULL, 10));
                fds[i] = safe_close(fds[i]);
        }
        return 0;
}
