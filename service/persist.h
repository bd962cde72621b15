/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listeners survive a restart of the daemon (an upgrade, a crash) through systemd's file descriptor store.
 * Each listener fd is stored as "listener-<id>", next to a memfd "state-<id>" that holds what the listener was
 * registered with (owner, options, rules: validated again like a new registration's when read back), the
 * mounts it made, and the notification its thread is answering right now. A restarted daemon gets both back
 * (LISTEN_FDNAMES) and serves on; the sandbox's calls wait in the kernel meanwhile. Without systemd (no
 * NOTIFY_SOCKET) nothing is stored and nothing costs anything. */
#pragma once

#include <stdint.h>

#include "broker.h"
#include "listener.h"

/* The memfd's first page, mapped shared. The listener thread receives each notification right into it (the
 * kernel writes it there: no moment passes in which the daemon holds a call it has not recorded) and notes
 * what it decided and what it answered with plain stores, no syscall. A daemon that died in between finds
 * the call there: the kernel still waits for its answer (ID_VALID), and only the broker can give it. The
 * registration follows as text at PERSIST_TEXT_OFFSET. */
#define PERSIST_NOTIFICATION_MAX 256
typedef struct PersistHeader {
        char magic[16];
        uint64_t answered_id;      /* the last notification answered */
        uint64_t decided_id;       /* the notification the answer below is for: decided, maybe not sent */
        int32_t decided_kind;      /* Answer.kind */
        int32_t decided_error;
        int64_t decided_value;
        uint8_t notification[PERSIST_NOTIFICATION_MAX]; /* struct seccomp_notif, as received */
} PersistHeader;

#define PERSIST_TEXT_OFFSET 4096

/* What a state memfd holds, parsed and validated. */
typedef struct PersistedListener {
        uint64_t id;
        uid_t owner_uid;
        uid_t account_uid;         /* whom the limit per user charges (Listener.account_uid) */
        pid_t owner_pid;
        uint64_t registered_usec;  /* 0 if the state has none */
        bool default_deny;
        char *description;
        char *root;                /* Listener.root, NULL for the broker's */
        RuleSet *rules;
        ListenerMount mounts[LISTENER_MOUNTS_MAX];
        size_t n_mounts;
} PersistedListener;

void persisted_listener_done(PersistedListener *p);

/* Whether the service manager keeps fds for us (NOTIFY_SOCKET is set). */
bool persist_enabled(void);

/* The registration as text (rules as D-Bus would carry them; bus only builds a message). */
int persist_format_registration(const Listener *l, sd_bus *bus, char **ret);
/* Parses what persist_format_registration() and the mount lines wrote, validating the rules with limits. */
int persist_parse(const char *text, sd_bus *bus, const RuleLimits *limits, PersistedListener *ret);

/* Main loop, before the listener's thread starts: creates the state memfd (or takes the restored one) and
 * writes the registration into it ... */
int persist_listener_create(Listener *l, sd_bus *bus, int restored_state_fd);
/* ... and hands both fds to the service manager once the listener is registered. */
int persist_listener_store(Listener *l);
/* Listener thread: writes the mounts it made (after each change). */
void persist_listener_save(Listener *l);
/* Listener thread, plain stores into the header page: what it decided for notification id (an Answer's kind,
 * error and value), before sending it ... */
void persist_record_decision(Listener *l, uint64_t id, int32_t kind, int32_t error, int64_t value);
/* ... and that id is answered. */
void persist_record_answered(Listener *l, uint64_t id);
/* Main loop, when a listener is removed for good: the service manager lets go of both fds. */
void persist_listener_forget(Listener *l);
void persist_listener_close(Listener *l);

/* The list of held listeners in the unit's runtime directory ($RUNTIME_DIRECTORY, kept across restarts): one
 * file "listener-<id>" each, "<owner uid> <description>", so that sysbrokerd-stop-post can name the listeners
 * that are lost when it gives up on a daemon that cannot start. Nothing without $RUNTIME_DIRECTORY. */
void persist_list_add(const Listener *l);
/* At startup, once the stored listeners are restored (or dropped): the daemon is up. Says so there ("up"), so
 * that sysbrokerd-stop-post does not count this run as a failed start, and drops the entries of listeners
 * that are not held (held() says which are: the listeners are above us). */
void persist_mark_up(bool (*held)(uint64_t id, void *userdata), void *userdata);

/* At startup: reads and validates what the state memfd of listener id holds (restore.c). Logs why not. */
int persist_load(uint64_t id, int state_fd, sd_bus *bus, PersistedListener *ret);
/* Asks the service manager to let go of the stored fd "<name>-<id>". */
void persist_store_remove(const char *name, uint64_t id);
