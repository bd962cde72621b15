#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What an unprivileged client can make the daemon hold through hand-made wire traffic on the peer-to-peer
# socket: fds that come with a message are closed with it, a message larger than the limit ends the
# connection before its body is read, and a client that does not complete authentication or a message
# within --connection-timeout is dropped. The daemon's fds and memory come back to their baseline, and
# another user registers, on the socket and on the bus, while each attack runs.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
TIMEOUT=3
sb_start_all "$SB_RULES/deny-mknod-device.rules" --connection-timeout=$TIMEOUT

WIRE=$SRCDIR/tests/integration/p2p-wire.py
OTHER_UID=1
mkdir -m 0777 "$T/other"
run_as_other() {
    (cd "$T/other" && exec setpriv --reuid="$OTHER_UID" --regid="$OTHER_UID" --clear-groups -- "$@")
}
# Each attack below as a user of its own (WIRE_UID): a client's warnings are held to its user's log budget,
# and an attack that used it up would hide the next one's lines from the checks that read the log.
wire() {
    local uid=${WIRE_UID:-$SB_TEST_UID}
    (cd "$T/other" && exec setpriv --reuid="$uid" --regid="$uid" --clear-groups -- /usr/bin/python3 "$WIRE" "$@")
}
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$SB_BROKER_PID/status"
}

# Another user registers a listener on the socket and on the bus; its sandbox just exits.
other_registers() {
    local label=$1 rc
    rc=0
    run_as_other "$SYSBROKERCTL" --socket="$SB_SOCKET" run --mknod "c 1:3 $T/other/null" -- true \
        >"$T/other.out" 2>&1 || rc=$?
    assert_eq "$label: another user registers on the socket" "0" "$rc"
    rc=0
    run_as_other "$SYSBROKERCTL" run --mknod "c 1:3 $T/other/null" -- true >>"$T/other.out" 2>&1 || rc=$?
    assert_eq "$label: and on the bus" "0" "$rc"
    [ "$rc" = 0 ] || cat "$T/other.out" >&2
}

# The baseline: after one registration of each kind, whose listeners are gone again.
other_registers "warm-up"
sb_wait_nlisteners 0 || sb_die "listeners of the warm-up stayed"
fds_base=$(sb_broker_fd_count)
rss_base=$(rss_kib)
echo "# baseline: $fds_base fds, $rss_base KiB resident"

back_to_baseline() {
    local label=$1
    assert_true "$label: the daemon's fds are back at $fds_base" \
        sb_poll 10 eval '[ "$(sb_broker_fd_count)" = "$fds_base" ]'
    [ "$(sb_broker_fd_count)" = "$fds_base" ] || ls -l "/proc/$SB_BROKER_PID/fd" | tail -5 >&2
    rss=$(rss_kib)
    assert_true "$label: its memory is back near the baseline ($rss KiB, was $rss_base)" \
        test "$rss" -lt $((rss_base + 16384))
}

# 1. Fds. 253 attached (the most one sendmsg takes) where 254 are announced; then a count that sd-bus itself
# refuses (2 announced, 1 attached), and one it takes: every fd must be closed when its message is done.
wire fds "$SB_SOCKET" 40 254 253 >"$T/fds.out" 2>&1 &
attack=$!
other_registers "fd flood"
wait "$attack" || true
assert_eq "fd flood: the client ran every round" "rounds=40 answered=0" "$(cat "$T/fds.out")"
assert_true "fd flood: the log says why the connections were dropped" \
    grep -q "sent more than 4 file descriptors with one message" "$T/sysbrokerd.log"
back_to_baseline "fd flood"

assert_eq "fd count mismatch: the client ran every round" "rounds=200 answered=0" \
    "$(WIRE_UID=65001 wire fds "$SB_SOCKET" 200 2 1 2>&1)"
back_to_baseline "fd count mismatch"
# Each of those 200 connections was dropped with a warning, and a client must not flood the journal any
# more than a sandbox: its user's log budget (40 lines per 10 s, sysbrokerd(8)) holds them back.
mismatch_lines=$(grep -c "does not announce exactly those" "$T/sysbrokerd.log" || true)
echo "# fd count mismatch: $mismatch_lines of 200 drops logged"
assert_true "fd count mismatch: at most two windows of the user's log budget logged" \
    test "$mismatch_lines" -le 80

assert_eq "one fd, counted right: every ping is answered" "rounds=50 answered=50" \
    "$(WIRE_UID=65002 wire fds "$SB_SOCKET" 50 1 1 2>&1)"
back_to_baseline "one fd"

# 2. Memory: 16 connections (the per-user cap), each announcing a 120 MiB body and sending all but its last
# byte.
WIRE_UID=65003 wire big "$SB_SOCKET" 16 $((120 << 20)) >"$T/big.out" 2>&1 &
attack=$!
if sb_poll 60 test -s "$T/big.out"; then
    rss=$(rss_kib)
    assert_true "big bodies: the daemon stays small while they are held ($rss KiB, was $rss_base)" \
        test "$rss" -lt $((rss_base + 16384))
    assert_eq "big bodies: every connection is dropped" "dropped=16 held=0" "$(cat "$T/big.out")"
else
    sb_not_ok "big bodies: the client got through its connections" "$(cat "$T/big.out")"
fi
assert_true "big bodies: the log says why" grep -q "announces a message of 125829" "$T/sysbrokerd.log"
other_registers "big bodies"
pkill -P "$attack" 2>/dev/null || true
kill "$attack" 2>/dev/null || true
wait "$attack" 2>/dev/null || true
back_to_baseline "big bodies"

# 3. Time: a byte every half second, in authentication and in a message.
for what in auth message; do
    WIRE_UID=65004 wire trickle "$SB_SOCKET" "$what" 0.5 $((TIMEOUT * 5)) >"$T/trickle.out" 2>&1 &
    attack=$!
    other_registers "trickled $what"
    wait "$attack" || true
    out=$(cat "$T/trickle.out")
    assert_contains "trickled $what: the client is dropped" "$out" "dropped after"
    s=${out##* after }
    s=${s%% s}
    assert_true "trickled $what: after the deadline ($out)" test "${s:-0}" -ge $((TIMEOUT - 1))
    back_to_baseline "trickled $what"
done
assert_true "trickle: the log says why" grep -q "did not complete authentication within $TIMEOUT s" \
    "$T/sysbrokerd.log"
assert_true "trickle: in a message too" grep -q "did not complete a message within $TIMEOUT s" \
    "$T/sysbrokerd.log"

# BEGIN after a refused authentication ends the connection (sd-bus would read what follows as more
# authentication lines).
assert_eq "BEGIN without authentication: disconnected" disconnected "$(WIRE_UID=65005 wire begin-unauthenticated "$SB_SOCKET")"
assert_true "BEGIN without authentication: the log says why" \
    grep -q "sent BEGIN without a successful authentication" "$T/sysbrokerd.log"
back_to_baseline "BEGIN without authentication"

assert_true "socket wire: listeners of exited sandboxes are removed" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
