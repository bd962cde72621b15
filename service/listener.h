/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A registered seccomp listener: its rules, and the thread that answers its notifications (its bus object is
 * listener-dbus.c's). The main loop owns the struct; the thread only reads the immutable fields and bumps the
 * counters. */
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include "broker.h"
#include "rule.h"

typedef enum ListenerEnd {
        LISTENER_END_NONE,
        LISTENER_END_UNREGISTERED,
        LISTENER_END_EXITED,
        LISTENER_END_ERROR,
        _LISTENER_END_MAX,
} ListenerEnd;

const char *listener_end_to_string(ListenerEnd e);

typedef struct ListenerCounters {
        uint64_t notifications;
        uint64_t emulated;
        uint64_t denied;
        uint64_t continued;
        uint64_t failed;
} ListenerCounters;

/* A mount sysbrokerd made for a listener: only those may be remounted or unmounted through it. */
typedef struct ListenerMount {
        uint64_t mnt_id;           /* statx's STATX_MNT_ID_UNIQUE: never reused while the system runs */
        size_t rule_index;         /* the rule that allowed it: its forced flags bind remounts */
        unsigned long kept_flags;  /* MS_* a remount must keep besides those: what a bind's source had */
        uint64_t mntns_id;         /* the mount namespace it was made in (NS_GET_MNTNS_ID), 0 if unknown */
} ListenerMount;

#define LISTENER_MOUNTS_MAX 64

typedef struct PersistHeader PersistHeader;

/* What a listener had before a restart of the daemon (persist.c). */
typedef struct ListenerRestore {
        uint64_t id;
        uint64_t registered_usec;  /* 0: not known (a state written by an older daemon) */
        int state_fd;              /* its state memfd: taken on success */
        const ListenerMount *mounts;
        size_t n_mounts;
} ListenerRestore;

struct Listener {
        Broker *broker;
        uint64_t id;
        char *object_path;
        uid_t owner_uid;
        uid_t account_uid;         /* whom the limit per user charges: the owner, or whose subordinate uid it is */
        pid_t owner_pid;
        uint64_t registered_usec;  /* CLOCK_REALTIME of the registration; kept across restarts of the daemon */
        /* The owner's primary group and supplementary groups, for HostPath opens (listener_new()); only for
         * listeners with HostPath rules. */
        gid_t owner_gid;
        gid_t *owner_groups;
        size_t n_owner_groups;
        char *description;
        bool default_deny;
        RuleSet *rules;
        int fd;                    /* our own copy of the seccomp listener */

        ListenerEnd stop;          /* set by the main loop (then SIGNAL_INTERRUPT): the thread stops with it */
        int done_fd;               /* eventfd: the thread says it stopped */
        sd_event_source *done_source;
        sd_event_source *hup_source; /* the listener fd, for EPOLLHUP only: the sandbox is gone */
        sd_event_source *announce_source; /* ListenerAdded, once the registration is done with */
        pthread_t thread;
        bool thread_running;
        ListenerEnd end;           /* written by the thread before done_fd, read by the main loop after */
        bool removed;              /* gone from the bus; freed when the thread ends */
        bool stored;               /* the service manager keeps its fds: a restarted daemon serves it on */

        ListenerCounters counters; /* atomically updated by the thread, read by property getters */
        int signal_gate;           /* SignalGate: when the main loop may signal the thread (supervise.c) */
        uint64_t busy_since_usec;  /* set by the thread while it handles a call; read by the watchdog */
        uint64_t interrupted_busy; /* the busy_since_usec the watchdog last interrupted (main loop only) */

        ListenerMount mounts[LISTENER_MOUNTS_MAX]; /* the thread's alone */
        size_t n_mounts;

        /* Surviving a restart (persist.c): the state memfd in the service manager's fd store, its header
         * page mapped (the call in flight, written by the kernel and the thread), the registration as text. */
        int state_fd;
        PersistHeader *state;
        char *state_registration;

        Listener *next, *prev;
};

/* Takes ownership of fd and rules (and restore->state_fd) on success. restore: NULL for a new registration. */
int listener_new(Broker *b, int fd, RuleSet *rules, uid_t owner_uid, uid_t account_uid, pid_t owner_pid,
                 const char *description, bool default_deny, const ListenerRestore *restore, Listener **ret);
/* Removes it from the bus (signal with reason) and asks its thread to stop; freed once the thread ended. */
void listener_remove(Listener *l, ListenerEnd reason);
/* Emits ListenerAdded on the next loop iteration: by then the registration's call, and the copy of the fd
 * it carried, are gone, so whoever hears of the listener sees the daemon settled. */
void listener_announce(Listener *l);
/* Asks its thread to stop with reason; it then says so through done_fd. */
void listener_request_stop(Listener *l, ListenerEnd reason);
Listener *listener_free(Listener *l);
Listener *listener_find(Broker *b, uint64_t id);
unsigned listener_count_of(Broker *b, uid_t account_uid);
void listener_free_all(Broker *b);

/* Listener thread: m is a mount made for l (the caller saves it: persist_listener_save()). -ENOSPC past
 * LISTENER_MOUNTS_MAX. Inline: the thread side is below listener.c, which starts it. */
static inline int listener_add_mount(Listener *l, const ListenerMount *m) {
        if (l->n_mounts >= LISTENER_MOUNTS_MAX)
                return -ENOSPC;
        l->mounts[l->n_mounts++] = *m;
        return 0;
}
