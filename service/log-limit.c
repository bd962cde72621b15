/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How many lines sandboxes may cause: the table of per-owner budgets every listener thread (and the main
 * loop's watchdog) shares, and the clock of every rate limit. Each listener's own budget is its thread's
 * (Supervisor, supervisor.c). */

#include <pthread.h>

#include "log.h"
#include "log-limit.h"

/* Lines one user's sandboxes may cause, all their listeners together, per LOG_INTERVAL: on top of each
 * listener's own LOG_BURST, since a user may run many listeners. The table is shared by every listener
 * thread (and the main loop's watchdog), hence the lock; it is only taken for a line its listener's own
 * limit let through, so a flooding sandbox is turned away before it. A fixed number of slots, reused once
 * their window is over: users who logged in the last interval beyond those share one overflow slot, so
 * neither the table nor the log grows with the number of users or listeners. */
#define OWNER_LOG_BURST 40
#define OWNER_LOG_SLOTS 64
#define OWNER_NONE ((uid_t) -1)

typedef struct OwnerLogBudget {
        uid_t uid;                 /* OWNER_NONE: free (or, for the overflow slot, every other user) */
        uint64_t window_start;
        unsigned in_window;
        unsigned suppressed;
} OwnerLogBudget;

/* One table per kind of line (LogKind): the records of calls no rule applied to (the default action, issue 15)
 * come by the hundred from a sandbox's loader under --default=deny, and must not use up the budget of the
 * lines that say what a rule did or why it was refused, which its owner needs most. */
typedef struct OwnerLogTable {
        pthread_mutex_t lock;
        OwnerLogBudget slots[OWNER_LOG_SLOTS];
        OwnerLogBudget overflow;
        const char *what;          /* "N more <what> not logged" */
} OwnerLogTable;

#define OWNER_LOG_TABLE(w)                                                                      \
        {                                                                                       \
                .lock = PTHREAD_MUTEX_INITIALIZER,                                              \
                .slots = { [0 ... OWNER_LOG_SLOTS - 1] = { .uid = OWNER_NONE } },               \
                .overflow = { .uid = OWNER_NONE },                                              \
                .what = w,                                                                      \
        }

static OwnerLogTable owner_log[_LOG_KIND_MAX] = {
        [LOG_KIND_DECISION] = OWNER_LOG_TABLE("decisions"),
        [LOG_KIND_DEFAULT] = OWNER_LOG_TABLE("calls answered by the default action"),
};

typedef struct OwnerLogFlush {
        bool any;
        uid_t uid;                 /* OWNER_NONE for the overflow slot */
        unsigned suppressed;
        const char *what;
} OwnerLogFlush;

static void owner_log_flush_say(const OwnerLogFlush *f) {
        if (!f->any)
                return;
        if (f->uid == OWNER_NONE)
                log_info("Listeners of other users: %u more %s not logged (too many users logging at once).",
                         f->suppressed, f->what);
        else
                log_info("Listeners of uid %u: %u more %s not logged.", f->uid, f->suppressed, f->what);
}

/* Starts a new window if the last one is over; what it suppressed is handed back, to be said unlocked. */
static void owner_log_roll(const OwnerLogTable *t, OwnerLogBudget *b, uint64_t now, OwnerLogFlush *ret_flush) {
        if (now - b->window_start < LOG_INTERVAL_USEC)
                return;
        if (b->suppressed > 0)
                *ret_flush = (OwnerLogFlush) {
                        .any = true, .uid = b->uid, .suppressed = b->suppressed, .what = t->what,
                };
        b->window_start = now;
        b->in_window = b->suppressed = 0;
}

static OwnerLogBudget *owner_log_find(OwnerLogTable *t, uid_t uid, uint64_t now, OwnerLogFlush *ret_flush) {
        OwnerLogBudget *free_slot = NULL;

        for (size_t i = 0; i < OWNER_LOG_SLOTS; i++) {
                OwnerLogBudget *b = t->slots + i;

                if (b->uid == uid)
                        return b;
                /* Done with: its window is over and nothing is left to say about it. */
                if (!free_slot && (b->uid == OWNER_NONE ||
                                   (now - b->window_start >= LOG_INTERVAL_USEC && b->suppressed == 0)))
                        free_slot = b;
        }
        if (!free_slot) {
                owner_log_roll(t, &t->overflow, now, ret_flush);
                return &t->overflow;
        }
        *free_slot = (OwnerLogBudget) { .uid = uid, .window_start = now };
        return free_slot;
}

bool log_limit_owner_admit_kind(LogKind kind, uid_t uid, unsigned n) {
        OwnerLogTable *t = owner_log + kind;
        OwnerLogFlush flush = {};
        OwnerLogBudget *b;
        uint64_t now = log_limit_now_usec();
        bool admit;

        pthread_mutex_lock(&t->lock);
        b = owner_log_find(t, uid, now, &flush);
        owner_log_roll(t, b, now, &flush);
        admit = b->in_window < OWNER_LOG_BURST;
        if (admit)
                b->in_window++;
        else
                b->suppressed += n;
        pthread_mutex_unlock(&t->lock);

        owner_log_flush_say(&flush);
        return admit;
}

void log_limit_flush(bool all) {
        uint64_t now = log_limit_now_usec();

        /* One slot at a time, each said unlocked: the listener threads wait on this lock. */
        for (LogKind k = 0; k < _LOG_KIND_MAX; k++) {
                OwnerLogTable *t = owner_log + k;

                for (size_t i = 0; i <= OWNER_LOG_SLOTS; i++) {
                        OwnerLogBudget *b = i < OWNER_LOG_SLOTS ? t->slots + i : &t->overflow;
                        OwnerLogFlush flush = {};

                        pthread_mutex_lock(&t->lock);
                        if (b->suppressed > 0 && (all || now - b->window_start >= LOG_INTERVAL_USEC)) {
                                flush = (OwnerLogFlush) {
                                        .any = true, .uid = b->uid, .suppressed = b->suppressed, .what = t->what,
                                };
                                b->suppressed = 0;
                        }
                        pthread_mutex_unlock(&t->lock);
                        owner_log_flush_say(&flush);
                }
        }
}
