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

/* A matching rule refused for a reason the owner can fix (supervisor_refuse_rule()), on its way from the thread
 * to the owner (RuleRefused, listener-dbus.c). The strings are malloc'ed by the thread, freed by the main loop. */
struct ListenerRefusal {
        uint32_t rule;             /* its index in the listener's rules */
        pid_t pid;
        char *rule_description;    /* rule_describe() */
        char *path;                /* as the task named or reached it: the sandbox's words */
        char *reason;
        unsigned missed;           /* refusals before this one the owner was not told of (rate limit, full queue) */
};

/* Frees its strings. Inline: the thread side, below listener.c, frees what it cannot queue. */
static inline void listener_refusal_done(ListenerRefusal *f) {
        free(f->rule_description);
        free(f->path);
        free(f->reason);
}

/* Refusals queued for the main loop at once: the thread drops (and counts) what does not fit, it never waits. */
#define LISTENER_REFUSALS_MAX 16

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
        /* The sandbox's "/" in the broker's view, against which the identity checks resolve host paths (open's
         * same-file check, mknod's directory: "is this the host's file at that path?"), safely and beneath it
         * (host_path_open_in_root()). NULL and -EBADF: the broker's own root, the common case and the only
         * one a registration over the bus gets. Immutable, like rules. */
        char *root;
        int root_fd;               /* O_PATH directory */
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

        /* Refusals for the owner: the thread appends under refusals_lock and writes refused_fd; the main loop
         * takes them all under the lock and sends them after (on_listener_refused()). */
        pthread_mutex_t refusals_lock;
        ListenerRefusal refusals[LISTENER_REFUSALS_MAX];
        size_t n_refusals;
        unsigned refusals_dropped; /* the queue was full: told with the next refusal that fits */
        int refused_fd;            /* eventfd */
        sd_event_source *refused_source;
        /* Whom RuleRefused goes to (main loop only): the registrant's bus, a reference (a peer-to-peer
         * connection's, or the system bus), and on the system bus its unique name. NULL after a restart:
         * nobody to tell but the journal. */
        sd_bus *owner_bus;
        char *owner_bus_name;

        ListenerMount mounts[LISTENER_MOUNTS_MAX]; /* the thread's alone */
        size_t n_mounts;

        /* Surviving a restart (persist.c): the state memfd in the service manager's fd store, its header
         * page mapped (the call in flight, written by the kernel and the thread), the registration as text. */
        int state_fd;
        PersistHeader *state;
        char *state_registration;

        Listener *next, *prev;
};

/* Takes ownership of fd and rules (and restore->state_fd) on success. restore: NULL for a new registration.
 * root: the host directory (absolute, no "..", in the broker's view, resolved safely: host-path.h) that is the
 * sandbox's "/", for a sandbox whose root is not the broker's (a container's rootfs: the OCI front end); NULL
 * (or a path to the broker's own root) for the broker's root. Never taken from the bus: RegisterListener
 * passes NULL. Persisted with the registration, so a restart restores it. -EINVAL for a malformed root,
 * -ENOTDIR if it is not a directory, -ENOLINK if an unsafe symlink is on its way, else what opening it met. */
int listener_new(Broker *b, int fd, RuleSet *rules, uid_t owner_uid, uid_t account_uid, pid_t owner_pid,
                 const char *description, bool default_deny, const char *root, const ListenerRestore *restore,
                 Listener **ret);
/* The registrant, to whom refusals of its rules go (RuleRefused): message is its RegisterListener call. */
int listener_set_owner_bus(Listener *l, sd_bus_message *message);
/* Removes it from the bus (signal with reason) and asks its thread to stop; freed once the thread ended. */
void listener_remove(Listener *l, ListenerEnd reason);
/* Emits ListenerAdded on the next loop iteration: by then the registration's call, and the copy of the fd
 * it carried, are gone, so whoever hears of the listener sees the daemon settled. */
void listener_announce(Listener *l);
/* Asks its thread to stop with reason; it then says so through done_fd. */
void listener_request_stop(Listener *l, ListenerEnd reason);
Listener *listener_free(Listener *l);
Listener *listener_find(Broker *b, uint64_t id);
/* A record about l with its MESSAGE_ID (message-id.h) and the fields that name it: SYSBROKER_LISTENER=,
 * SYSBROKER_OWNER_UID=, SYSBROKER_DESCRIPTION= (if it has one), then extra (NULL-terminated, may be NULL). */
void listener_log(const Listener *l, int level, const char *message_id, const char *const *extra,
                  const char *format, ...) _printf_(5, 6);
/* Those fields, for a record of a listener thread's: "KEY=value" into the three buffers, pointers to them
 * into fields (at most 3); returns how many. */
size_t listener_log_fields(const Listener *l, char id[static 64], char owner[static 64], char **description,
                           const char **fields);
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
