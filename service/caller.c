/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Caller identity: who sent a method call, and the polkit subject for it. */

#include <assert.h>
#include <stdio.h>
#include <sys/stat.h>

#include "caller.h"
#include "connection.h"
#include "fs-util.h"
#include "seccomp-kernel.h"

int caller_get(Broker *b, sd_bus_message *m, Caller *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        sd_bus *bus = sd_bus_message_get_bus(m);
        Caller c = {};
        uint64_t start_time;
        int pidfd, r;

        assert(b);
        assert(m);
        assert(ret);

        if (bus != b->system_bus) {
                Connection *conn = connection_find(b, bus);
                r = connection_get_peer(conn, &c.pid, &c.uid, &start_time, &pidfd);
                if (r < 0)
                        return r;
                c.account_uid = connection_account_uid(conn);
                c.bus_name = NULL;
                c.connection = conn;
                *ret = c;
                return 0;
        }

        /* On the system bus the bus daemon vouches for the sender. */
        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &c.uid);
        if (r < 0)
                return r;
        if (sd_bus_creds_get_pid(creds, &c.pid) < 0)
                c.pid = 0;
        c.account_uid = account_uid_of(c.pid, c.uid);
        c.bus_name = sd_bus_message_get_sender(m);
        c.connection = NULL;
        if (!c.bus_name)
                return -ENXIO;
        *ret = c;
        return 0;
}

int caller_in_user_namespace(const Caller *caller) {
        _cleanup_close_ int own_pidfd = -EBADF;
        struct stat reference, ns;
        char path[32];
        pid_t pid;
        int pidfd, r;

        assert(caller);

        pid = caller->pid;
        if (caller->connection) {
                uid_t uid;
                uint64_t start_time;

                r = connection_get_peer(caller->connection, &pid, &uid, &start_time, &pidfd);
                if (r < 0)
                        return r;
        } else {
                /* The bus daemon's word on the pid; pinned now, so that the namespace read below is that
                 * process's, or the answer is that it is gone. */
                if (pid <= 0)
                        return -ESRCH;
                own_pidfd = sys_pidfd_open(pid, 0);
                if (own_pidfd < 0)
                        return -errno;
                pidfd = own_pidfd;
        }

        if (fstatat(broker_proc_dir(), "1/ns/user", &reference, 0) < 0 &&
            fstatat(broker_proc_dir(), "self/ns/user", &reference, 0) < 0)
                return -errno;
        (void) snprintf(path, sizeof path, "%i/ns/user", (int) pid);
        if (fstatat(broker_proc_dir(), path, &ns, 0) < 0)
                return -errno;
        if (pidfd_process_is_gone(pidfd))
                return -ESRCH;
        return ns.st_dev != reference.st_dev || ns.st_ino != reference.st_ino;
}

int caller_get_polkit_subject(const Caller *caller, PolkitSubject *ret) {
        PolkitSubject s = POLKIT_SUBJECT_NULL;
        int pidfd = -EBADF, r;

        assert(caller);
        assert(ret);

        if (caller->bus_name) {
                s.bus_name = (char *) caller->bus_name;
                s.uid = caller->uid; /* for logs only: polkit asks the bus */
                s.account_uid = caller->account_uid;
        } else {
                r = connection_get_peer(caller->connection, &s.pid, &s.uid, &s.start_time, &pidfd);
                if (r < 0)
                        return r;
                s.pidfd = pidfd;
                s.account_uid = caller->account_uid;
        }
        return polkit_subject_copy(&s, ret);
}

int caller_check_polkit(Broker *b, sd_bus_message *call, const Caller *caller, const char *action,
                        const char *const *details, bool may_interact, polkit_callback_t callback, void *userdata) {
        PolkitSubject s = POLKIT_SUBJECT_NULL;
        int r;

        r = caller_get_polkit_subject(caller, &s);
        if (r < 0)
                return r;
        r = polkit_check(b, call, &s, action, details, may_interact, callback, userdata, NULL);
        polkit_subject_done(&s);
        return r;
}
