#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A sandbox SIGKILLed while its opens are being emulated leaks nothing in the broker: neither the fds it
# opened for the target (which no ADDFD delivered), nor the target's /proc files, pidfd or dirfd copies.
# Killed in a stream of emulated opens, and killed while the broker's open of a FIFO is blocked.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

D=$T/work/killed
mkdir -m 0755 "$D" "$D/files" "$D/fifos"
sb_put_file "$D/files/file" root:root 0600 "DATA"
mkfifo -m 0600 "$D/fifos/f"

allowed_open_works() {
    local out
    out=$(run_as_user "$SYSBROKERCTL" run --open "$D/files/*" -- cat "$D/files/file" 2>&1) || true
    [ "$out" = DATA ]
}

# One full round first, so the broker has opened whatever it keeps open (bus, polkit, caches).
assert_true "an emulated open works before" allowed_open_works
assert_true "its listener is gone" sb_wait_nlisteners 0
fds_before=$(sb_broker_fd_count)

for round in 1 2 3; do
    rm -f "$T/work/loop.pid"
    run_as_user "$SYSBROKERCTL" run --open "$D/files/*" -- \
            "$SB_OPEN" loop "$D/files/file" "$T/work/loop.pid" >"$T/loop-$round.log" 2>&1 &
    ctl=$!
    if ! sb_poll 10 test -s "$T/work/loop.pid"; then
        sb_not_ok "round $round: the looping sandbox started and its first open came back" \
                "$(cat "$T/loop-$round.log")"
        kill -KILL "$ctl" 2>/dev/null || true
        continue
    fi
    pid=$(cat "$T/work/loop.pid")
    # Four threads open back to back: nearly all of their time is spent in emulated opens.
    sleep 0.3
    n=$(sb_listener_counter "$(sb_last_listener_path)" Emulated 2>/dev/null || echo 0)
    assert_true "round $round: opens were being emulated ($n so far)" test "${n:-0}" -gt 10
    kill -KILL "$pid"
    rc=0
    wait "$ctl" || rc=$?
    assert_true "round $round: sysbrokerctl reports the killed sandbox (exit $rc)" test "$rc" != 0
    assert_true "round $round: the listener is removed" sb_wait_nlisteners 0
    assert_true "round $round: sysbrokerd survived" sb_broker_alive
done

assert_true "fd count back to $fds_before" sb_poll 10 eval '[ "$(sb_broker_fd_count)" = "$fds_before" ]'
assert_eq "fd count unchanged after the streams" "$fds_before" "$(sb_broker_fd_count)"

# Killed while the broker's own open blocks (a FIFO with no writer): the broker holds the target's files
# until its timeout interrupts the open, then must let go of all of them.
rm -f "$T/work/fifo.pid"
run_as_user "$SYSBROKERCTL" run --open "$D/fifos/f" -- \
        sh -c "echo \$\$ > '$T/work/fifo.pid'; exec cat '$D/fifos/f'" >"$T/fifo.log" 2>&1 &
ctl=$!
if sb_poll 10 sb_trapped "$T/work/fifo.pid" cat; then
    sleep 0.3
    fds_blocked=$(sb_broker_fd_count)
    assert_true "blocked: the broker holds more fds now ($fds_blocked, idle $fds_before)" \
            test "$fds_blocked" -gt "$fds_before"
    kill -KILL "$(cat "$T/work/fifo.pid")"
    rc=0
    wait "$ctl" || rc=$?
    assert_true "blocked: sysbrokerctl reports the killed sandbox (exit $rc)" test "$rc" != 0
    # The broker gives up after 10 s; allow plenty more.
    assert_true "blocked: the listener is removed once the open is interrupted" sb_wait_nlisteners 0 30
    assert_true "blocked: fd count back to $fds_before" \
            sb_poll 30 eval '[ "$(sb_broker_fd_count)" = "$fds_before" ]'
    assert_true "blocked: sysbrokerd survived" sb_broker_alive
else
    sb_not_ok "blocked: the sandbox's cat reached its open of the FIFO" "$(cat "$T/fifo.log")"
    kill -KILL "$ctl" 2>/dev/null || true
fi

assert_true "the next registration and open work" allowed_open_works
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
