/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One thread per listener answers that listener's notifications. Blocking work (target memory, paths on
 * FUSE/NFS, the emulated call) happens here, never on the main loop, and stalls only this listener
 * (invariant 7); the main loop's watchdog interrupts a call that keeps the thread too long. */

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <time.h>

#include "log.h"
#include "log-limit.h"
#include "persist.h"
#include "supervise.h"
#include "supervisor.h"


#define COUNT(l, field) __atomic_fetch_add(&(l)->counters.field, 1, __ATOMIC_RELAXED)

/* When the main loop may signal a listener thread (Listener.signal_gate). A signal makes the syscall the
 * thread blocks in return EINTR: wanted in RECV (to stop) and in a stuck emulation (the watchdog), never in
 * the answer. An ADDFD with SEND cut short by a signal has already marked the call answered: the kernel then
 * returns 0 from the target's open, with no fd behind it. The thread moves IDLE → BUSY → ANSWERING → IDLE;
 * a sender moves IDLE or BUSY to its SIGNALLED_ form before signalling, and the handler moves it back, so
 * the thread never begins answering while a signal is on its way. */
typedef enum SignalGate {
        SIGNAL_GATE_IDLE,          /* in RECV or about to be: a stop may wake it */
        SIGNAL_GATE_BUSY,          /* deciding or emulating: the watchdog may interrupt it */
        SIGNAL_GATE_ANSWERING,     /* SEND or ADDFD: nobody may */
        SIGNAL_GATE_SIGNALLED_IDLE,
        SIGNAL_GATE_SIGNALLED_BUSY,
} SignalGate;

static __thread int *thread_signal_gate;

static void on_interrupt(int sig) {
        /* Making the blocked syscall return EINTR is the signal's job; ours is to say it has arrived. */
        int *gate = thread_signal_gate;
        int g;

        if (!gate)
                return;
        g = SIGNAL_GATE_SIGNALLED_IDLE;
        if (!__atomic_compare_exchange_n(gate, &g, SIGNAL_GATE_IDLE, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
                g = SIGNAL_GATE_SIGNALLED_BUSY;
                (void) __atomic_compare_exchange_n(gate, &g, SIGNAL_GATE_BUSY, false, __ATOMIC_SEQ_CST,
                                                   __ATOMIC_SEQ_CST);
        }
}

/* Thread side: a call was received. False if a stop's signal is on its way (the thread stops instead). */
static bool signal_gate_enter_busy(Listener *l) {
        int g = SIGNAL_GATE_IDLE;

        return __atomic_compare_exchange_n(&l->signal_gate, &g, SIGNAL_GATE_BUSY, false, __ATOMIC_SEQ_CST,
                                           __ATOMIC_SEQ_CST);
}

/* Thread side, before answering (SEND, or ADDFD with SEND): from here on, nothing interrupts the thread.
 * Handed to the handlers as Supervisor.begin_answer. */
static void begin_answer(Supervisor *s) {
        Listener *l = s->listener;

        for (;;) {
                int g = __atomic_load_n(&l->signal_gate, __ATOMIC_SEQ_CST);

                if (g == SIGNAL_GATE_ANSWERING)
                        return;
                if ((g == SIGNAL_GATE_BUSY || g == SIGNAL_GATE_IDLE) &&
                    __atomic_compare_exchange_n(&l->signal_gate, &g, SIGNAL_GATE_ANSWERING, false,
                                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
                        return;
                /* A signal is on its way: let it arrive (returning from this syscall delivers it). */
                if (g == SIGNAL_GATE_SIGNALLED_BUSY || g == SIGNAL_GATE_SIGNALLED_IDLE)
                        (void) sched_yield();
        }
}

static void signal_gate_end_answer(Listener *l) {
        __atomic_store_n(&l->signal_gate, SIGNAL_GATE_IDLE, __ATOMIC_SEQ_CST);
}

/* Main loop side: signals the thread only while its gate is at `when`. */
static void signal_thread_if(Listener *l, SignalGate when, uint64_t busy) {
        int g = when;
        SignalGate signalled = when == SIGNAL_GATE_IDLE ? SIGNAL_GATE_SIGNALLED_IDLE : SIGNAL_GATE_SIGNALLED_BUSY;

        if (!l->thread_running ||
            !__atomic_compare_exchange_n(&l->signal_gate, &g, signalled, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
                return;
        /* Busy with another call than the stuck one, which ended meanwhile: that one is not stuck. */
        if (when == SIGNAL_GATE_BUSY && __atomic_load_n(&l->busy_since_usec, __ATOMIC_SEQ_CST) != busy) {
                __atomic_store_n(&l->signal_gate, SIGNAL_GATE_BUSY, __ATOMIC_SEQ_CST);
                return;
        }
        if (pthread_kill(l->thread, SIGNAL_INTERRUPT) != 0)
                __atomic_store_n(&l->signal_gate, when, __ATOMIC_SEQ_CST);
}

void supervise_wake_for_stop(Listener *l, bool interrupt_call) {
        assert(l);

        signal_thread_if(l, SIGNAL_GATE_IDLE, 0);
        if (interrupt_call)
                signal_thread_if(l, SIGNAL_GATE_BUSY, __atomic_load_n(&l->busy_since_usec, __ATOMIC_SEQ_CST));
}

int supervise_setup(void) {
        struct sigaction sa = { .sa_handler = on_interrupt }; /* no SA_RESTART: interrupt, don't resume */

        if (sigaction(SIGNAL_INTERRUPT, &sa, NULL) < 0)
                return log_error_errno(-errno, "Failed to install the interrupt handler: %m");
        return notify_syscalls_init();
}

void supervise_log_flush(bool all) {
        log_limit_flush(all);
}

bool supervise_log_owner_admit(const Listener *l) {
        assert(l);

        return log_get_max_level() >= LOG_WARNING && log_limit_owner_admit(l->account_uid, 1);
}

static Answer decide(Supervisor *s) {
        const struct seccomp_notif *req = s->buffers.req;
        NotifySyscall call = _NOTIFY_SYSCALL_UNKNOWN;
        int r;

        COUNT(s->listener, notifications);

        r = notify_syscall_decode(&req->data, &call);
        s->call = call;
        if (r < 0) {
                /* Invariant 6: a foreign architecture's numbers mean something else; never guess. A sandbox
                 * may make them as fast as it likes: rate-limited like every other line it causes. */
                supervisor_log_refusal_errno(s, ENOSYS, NULL, (pid_t) req->pid, "task %u made syscall %i of "
                                             "foreign architecture 0x%x, denying.", req->pid, req->data.nr,
                                             req->data.arch);
                return ANSWER_DENIED_OF(ENOSYS);
        }
        switch (call) {
        case NOTIFY_SYSCALL_MKNOD:
        case NOTIFY_SYSCALL_MKNODAT:
                return handle_mknod(s, call);
        case NOTIFY_SYSCALL_OPEN:
        case NOTIFY_SYSCALL_OPENAT:
        case NOTIFY_SYSCALL_OPENAT2:
        case NOTIFY_SYSCALL_CREAT:
                return handle_open(s, call);
        case NOTIFY_SYSCALL_MOUNT:
                return handle_mount(s);
        case NOTIFY_SYSCALL_UMOUNT2:
                return handle_umount(s);
        case _NOTIFY_SYSCALL_MAX:
        case _NOTIFY_SYSCALL_UNKNOWN:
        default:
                return answer_default(s);
        }
}

static void answer(Supervisor *s, Answer a) {
        Listener *l = s->listener;
        const struct seccomp_notif *req = s->buffers.req;
        int r;

        begin_answer(s);
        switch (a.kind) {
        case ANSWER_CONTINUE:
                COUNT(l, continued);
                r = notify_respond(l->fd, &s->buffers, req->id, 0, 0, true);
                break;
        case ANSWER_ERRNO:
                if (a.denied)
                        COUNT(l, denied);
                else
                        COUNT(l, failed);
                r = notify_respond(l->fd, &s->buffers, req->id, 0, a.error, false);
                break;
        case ANSWER_SENT:
                /* ADDFD with SEND answered the call already. */
                COUNT(l, emulated);
                r = 0;
                break;
        case ANSWER_VALUE:
        default:
                COUNT(l, emulated);
                r = notify_respond(l->fd, &s->buffers, req->id, a.value, 0, false);
                if (r == -ENOENT)
                        supervisor_note_abandoned(s);
                break;
        }
        if (r < 0 && r != -ENOENT)
                log_debug_errno(r, "Listener %" PRIu64 ": failed to answer notification: %m", l->id);
        persist_record_answered(l, req->id);
        signal_gate_end_answer(l);
}

static void handle_notification(Supervisor *s) {
        Answer a;

        /* Stopping: left unanswered, for the kernel to fail when the listener closes (or for the next
         * daemon to resume, if this one is stopping for a restart). */
        if (!signal_gate_enter_busy(s->listener))
                return;
        /* The main loop's watchdog interrupts a call busy for too long (invariant 7). */
        __atomic_store_n(&s->listener->busy_since_usec, log_limit_now_usec(), __ATOMIC_SEQ_CST);
        s->by_default = s->decision_logged = false;
        a = decide(s);
        /* A handler that could not leave the target's credentials (supervisor_leave()): whatever it
         * decided, the call fails, and the thread stops after answering. */
        if (s->broken)
                a = ANSWER_ERRNO_OF(EIO);
        supervisor_record_decision(s, a);
        if (!s->broken)
                supervisor_log_default(s, a);
        answer(s, a);
        __atomic_store_n(&s->listener->busy_since_usec, 0, __ATOMIC_SEQ_CST);
}

/* Restored after a restart that came in the middle of a call: it is still in the state page, and the kernel
 * still waits for its answer (ID_VALID), which only we can give now. Decided already: sent as decided. */
static void resume_notification(Supervisor *s) {
        PersistHeader *h = s->listener->state;
        const struct seccomp_notif *req = s->buffers.req;

        if (req->id == 0 || req->id == __atomic_load_n(&h->answered_id, __ATOMIC_ACQUIRE) ||
            notify_id_valid(s->listener->fd, req->id) < 0)
                return;
        log_info("Listener %" PRIu64 ": answering call %" PRIu64 " of task %u, which the previous daemon received "
                 "but did not answer.", s->listener->id, (uint64_t) req->id, req->pid);
        if (__atomic_load_n(&h->decided_id, __ATOMIC_ACQUIRE) == req->id)
                answer(s, (Answer) { .kind = h->decided_kind, .error = h->decided_error, .value = h->decided_value });
        else {
                s->resumed = true;
                handle_notification(s);
                s->resumed = false;
        }
}

void supervise_watchdog(Listener *l, uint64_t now) {
        uint64_t busy;

        assert(l);

        busy = __atomic_load_n(&l->busy_since_usec, __ATOMIC_SEQ_CST);
        if (!l->thread_running)
                return;

        /* A stop asked for may have been signalled just before the thread went to sleep in RECV. A call it
         * is stuck in is interrupted below, as any. */
        if (__atomic_load_n(&l->stop, __ATOMIC_SEQ_CST) != LISTENER_END_NONE)
                supervise_wake_for_stop(l, false);

        if (busy == 0 || now - busy < EMULATION_TIMEOUT_SEC * USEC_PER_SEC)
                return;
        if (l->interrupted_busy != busy && supervise_log_owner_admit(l))
                log_warning("Listener %" PRIu64 ": a call has been busy for %" PRIu64 " s, interrupting it.", l->id,
                            (now - busy) / USEC_PER_SEC);
        l->interrupted_busy = busy;
        /* Again every second while it stays stuck: a signal may arrive between two blocking calls. */
        signal_thread_if(l, SIGNAL_GATE_BUSY, busy);
}

static bool listener_has_no_tasks(const Listener *l) {
        struct pollfd p = { .fd = l->fd, .events = POLLIN };

        return poll(&p, 1, 0) > 0 && (p.revents & POLLHUP);
}

void *listener_thread(void *userdata) {
        Supervisor s = { .listener = userdata, .begin_answer = begin_answer };
        Listener *l = s.listener;
        struct seccomp_notif *own_req = NULL;
        sigset_t mask;
        ListenerEnd end = LISTENER_END_ERROR;
        uint64_t one = 1;
        int r;

        assert(l);

        /* Only the interrupt signal reaches this thread; the main loop handles the rest via signalfd. */
        thread_signal_gate = &l->signal_gate;
        sigfillset(&mask);
        sigdelset(&mask, SIGNAL_INTERRUPT);
        pthread_sigmask(SIG_SETMASK, &mask, NULL);

        r = target_setup_thread();
        if (r < 0)
                goto finish;
        r = notify_buffers_init(&s.buffers);
        if (r < 0) {
                log_error_errno(r, "Listener %" PRIu64 ": failed to allocate notification buffers: %m", l->id);
                goto finish;
        }

        /* With a state page, notifications are received right into it (see PersistHeader). */
        if (l->state && s.buffers.req_size <= sizeof l->state->notification) {
                own_req = s.buffers.req;
                s.buffers.req = (struct seccomp_notif *) l->state->notification;
                resume_notification(&s);
                if (s.broken) {
                        log_error("Listener %" PRIu64 ": cannot return to the broker's context, stopping.", l->id);
                        goto finish;
                }
        }

        /* RECV blocks, as a minimal supervisor's would: no poll() per call. The main loop stops the thread
         * with l->stop and a signal (RECV returns EINTR), also when the listener has no tasks left. */
        for (;;) {
                ListenerEnd stop = __atomic_load_n(&l->stop, __ATOMIC_SEQ_CST);

                if (stop != LISTENER_END_NONE) {
                        end = stop;
                        break;
                }
                r = notify_receive(l->fd, &s.buffers);
                if (r == -ENOENT && listener_has_no_tasks(l)) {
                        /* Linux 6.11+ ends RECV at once when the filter's last task is gone: ask again and
                         * it spins. */
                        end = LISTENER_END_EXITED;
                        break;
                }
                if (r == -ENOENT || r == -EINTR)
                        continue; /* the target died before we read it, or the main loop wants us */
                if (r < 0) {
                        log_error_errno(r, "Listener %" PRIu64 ": failed to receive: %m", l->id);
                        break;
                }
                /* Asked to stop while we slept (its signal may have come just before RECV): not one more
                 * call under rules that are gone. Left for the kernel (or the next daemon) to answer. */
                stop = __atomic_load_n(&l->stop, __ATOMIC_SEQ_CST);
                if (stop != LISTENER_END_NONE) {
                        end = stop;
                        break;
                }
                handle_notification(&s);
                if (s.broken) {
                        log_error("Listener %" PRIu64 ": cannot return to the broker's context, stopping.", l->id);
                        break;
                }
        }

finish:
        supervisor_log_say_suppressed(&s);
        target_finish_thread();
        if (own_req)
                s.buffers.req = own_req;
        notify_buffers_done(&s.buffers);
        __atomic_store_n(&l->end, end, __ATOMIC_RELEASE);
        (void) !write(l->done_fd, &one, sizeof one);
        return NULL;
}
