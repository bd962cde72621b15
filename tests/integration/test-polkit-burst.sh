#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A burst of registrations is queued, not refused: 64 `sysbrokerctl run` started at once by one user (as
# many listeners as a user may hold) all succeed, while sysbrokerd never has more than 16 of that user's
# polkit checks in flight. Each asks two checks at once (register, and its mknod rule): the first 8 have
# both at polkitd, the other 56 one each in the queue (a registration's other checks wait for room there).
# polkitd shows nothing of that, so the count comes from sysbrokerd's debug log.
# To be sure the burst really meets the bound, polkitd is stopped (SIGSTOP) until all 64 wait; meanwhile
# another user's check goes to polkit at once, and the user's checks past its queue are refused.
# Then polkit not answering: stopped, a registration fails after --polkit-timeout= with
# org.freedesktop.DBus.Error.Timeout (not AccessDenied); gone from the bus, at once with the same error;
# nothing is registered either way, and a retry once polkitd is back succeeds.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules" --polkit-timeout=3

N=64
BOUND=16
QUEUED=$((N - BOUND / 2))
QUEUE_SIZE=64
UID_=$SB_TEST_UID
D=$T/work/burst
run_as_user mkdir "$D"

# Lines "polkit: checking ... in flight for uid U: N, queued: M." and "polkit: queued ... queued: M.".
max_in_flight() {
    grep -o "in flight for uid $UID_: [0-9]*" "$T/sysbrokerd.log" | awk '{ if ($NF > m) m = $NF } END { print m + 0 }'
}
all_queued() {
    grep -q "polkit: queued 'org.sysbroker.Broker1.register' for uid $UID_, in flight for it: $BOUND, queued: $QUEUED\." \
        "$T/sysbrokerd.log"
}
# All arrived and wait, or some were answered (refused) already: what the first assertion tells apart.
burst_settled() {
    all_queued || [ -n "$(cat "$T"/burst*.out)" ]
}
n_started() {
    find "$D" -maxdepth 1 -name 'ran*' | wc -l
}
all_started() {
    [ "$(n_started)" = "$N" ]
}

# A listener of root's, which the user will try to unregister: each try is a check of its own (manage).
"$SYSBROKERCTL" run --mknod "c 1:3 $T/work/root-null" -- \
    sh -c "touch '$T/work/root-ran'; while [ ! -e '$D/go' ]; do sleep 0.2; done" >"$T/root1.out" 2>&1 &
root1=$!
sb_wait_for 30 "root's listener" test -e "$T/work/root-ran"
R=$(sb_last_listener_path)

kill -STOP "$SB_POLKIT_PID"
# Interactive calls (sysbrokerctl's default): the client waits minutes, and so does sysbrokerd for polkit, so
# the time the burst takes to start under load cannot fail it.
pids=()
for i in $(seq 1 "$N"); do
    run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null$i" -- \
        sh -c "touch '$D/ran$i'; while [ ! -e '$D/go' ]; do sleep 0.2; done" >"$T/burst$i.out" 2>&1 &
    pids+=($!)
done
sb_poll 40 burst_settled || true
rc=0
all_queued || rc=$?
assert_eq "all $N registrations arrived: $BOUND checks at polkit, $QUEUED queued" 0 "$rc"
assert_eq "while polkitd is stopped, no registration is answered (nor its command run)" 0 "$(n_started)"
assert_eq "none was refused meanwhile" "" \
    "$(cat "$T"/burst*.out)"

# Another user's check does not wait behind this user's queue: root's goes to polkit at once.
root_checks() {
    grep -c "checking 'org.sysbroker.Broker1.register' for bus name [^ ]* (uid 0), in flight for uid 0: 1, queued: 0\." \
        "$T/sysbrokerd.log"
}
root_checked() {
    [ "$(root_checks)" -gt "$1" ]
}
before=$(root_checks)
"$SYSBROKERCTL" run --mknod "c 1:3 $T/work/root-null2" -- true >"$T/root2.out" 2>&1 &
root2=$!
rc=0
sb_poll 10 root_checked "$before" || rc=$?
assert_eq "another user's check goes to polkit at once, ahead of the user's queue" 0 "$rc"

# The user's queue holds as many checks as it may hold listeners (64): with 56 registrations waiting,
# 8 tries to unregister root's listener still fit; the 9th is refused at once, as UnknownObject: a refusal
# of someone else's listener never tells it from a missing one.
all_tries_arrived() {
    grep -q "polkit: queued 'org.sysbroker.Broker1.manage' for uid $UID_, in flight for it: $BOUND, queued: $QUEUE_SIZE\." \
        "$T/sysbrokerd.log" && [ -n "$(cat "$T"/unregister*.out)" ]
}
upids=()
for i in $(seq 1 $((QUEUE_SIZE - QUEUED + 1))); do
    run_as_user busctl --timeout=300 call org.sysbroker.Broker1 "$R" org.sysbroker.Broker1.Listener Unregister \
        >"$T/unregister$i.out" 2>&1 &
    upids+=($!)
done
sb_poll 20 all_tries_arrived || true
assert_eq "the queue took $((QUEUE_SIZE - QUEUED)) more checks of the user, and refused one past it" \
    "1 Call failed: Unknown object '$R'." \
    "$(cat "$T"/unregister*.out | sort | uniq -c | sed 's/^ *//')"
assert_eq "a check past the queue is logged" 1 \
    "$(grep -c "Too many polkit checks queued for uid $UID_, refusing another" "$T/sysbrokerd.log")"
kill -CONT "$SB_POLKIT_PID"

sb_poll 40 all_started || true
assert_eq "all $N registrations succeeded and ran their command" "$N" "$(n_started)"
wait "$root2" || true
for pid in "${upids[@]}"; do
    wait "$pid" || true
done
assert_true "the user holds $N listeners (root's are gone: unregistered, exited)" sb_wait_nlisteners "$N" 30
assert_eq "never more than $BOUND of the user's checks in flight at polkitd" "$BOUND" "$(max_in_flight)"
assert_not_contains "no LimitsExceeded" "$(cat "$T"/burst*.out)" LimitsExceeded

touch "$D/go"
failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || failed=$((failed + 1))
done
assert_eq "every sysbrokerctl run exited 0" 0 "$failed"
wait "$root1" || true
assert_true "their listeners are gone with their sandboxes" sb_wait_nlisteners 0 30

# polkitd stopped: the check gets no answer; after --polkit-timeout=3 the registration fails with the
# retryable error. --no-ask-password: interactive checks wait for a human (minutes), not for this timeout.
kill -STOP "$SB_POLKIT_PID"
rc=0
out=$(run_as_user "$SYSBROKERCTL" --no-ask-password run --mknod "c 1:3 $D/stopped" -- \
        sh -c "touch '$T/work/ran-stopped'" 2>&1) || rc=$?
kill -CONT "$SB_POLKIT_PID"
assert_eq "polkitd stopped: registration fails (125)" 125 "$rc"
assert_contains "with org.freedesktop.DBus.Error.Timeout" "$out" "org.freedesktop.DBus.Error.Timeout: "
assert_contains "saying polkit did not answer" "$out" "polkit did not answer"
assert_not_contains "not AccessDenied" "$out" AccessDenied
assert_false "the command did not run" test -e "$T/work/ran-stopped"
assert_eq "nothing registered" 0 "$(sb_nlisteners)"

# polkitd gone from the bus: the bus says so at once (ServiceUnknown); the same retryable error.
sb_stop_polkitd
rc=0
out=$(run_as_user "$SYSBROKERCTL" --no-ask-password run --mknod "c 1:3 $D/gone" -- \
        sh -c "touch '$T/work/ran-gone'" 2>&1) || rc=$?
assert_eq "polkitd gone: registration fails (125)" 125 "$rc"
assert_contains "with org.freedesktop.DBus.Error.Timeout" "$out" "org.freedesktop.DBus.Error.Timeout: "
assert_contains "saying polkit did not answer" "$out" "polkit did not answer"
assert_not_contains "not AccessDenied" "$out" AccessDenied
assert_false "the command did not run" test -e "$T/work/ran-gone"
assert_eq "nothing registered" 0 "$(sb_nlisteners)"

# The error was worth retrying: with polkitd back, the same registration succeeds.
sb_start_polkitd
rc=0
out=$(run_as_user "$SYSBROKERCTL" --no-ask-password run --mknod "c 1:3 $D/retry" -- \
        unshare -Ur sh -c "mknod '$D/retry' c 1 3 && echo created" 2>&1) || rc=$?
assert_eq "retried with polkitd back: succeeds" 0 "$rc"
assert_contains "and the node is made" "$out" created
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
