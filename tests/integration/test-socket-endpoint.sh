#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The peer-to-peer socket endpoint (socket activation) does what the bus does: the same registration,
# the same emulation, and polkit decides with a unix-process subject.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/deny-mknod-device.rules"

D=$T/work/dev
run_as_user mkdir "$D"

rc=0
out=$(run_as_user "$SYSBROKERCTL" --socket="$SB_SOCKET" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "umask 027; mknod '$D/null' c 1 3 && echo created" 2>&1) || rc=$?
assert_eq "socket: sysbrokerctl run exits 0" 0 "$rc"
assert_contains "socket: mknod succeeds" "$out" created
assert_eq "socket: char 1:3 owned by the caller, umask applied" \
        "character special file 1:3 $SB_TEST_UID:$SB_TEST_GID 640" \
        "$(stat -c '%F %Hr:%Lr %u:%g %a' "$D/null" 2>&1)"

rc=0
out=$(run_as_user "$SYSBROKERCTL" --socket="$SB_SOCKET" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "mknod '$D/zero' c 1 5; echo mknod-exit=\$?" 2>&1) || rc=$?
assert_contains "socket: a device outside the rules gets EPERM" "$out" "Operation not permitted"
assert_false "socket: no node left" test -e "$D/zero"

rc=0
out=$(run_as_user "$SYSBROKERCTL" --socket="$SB_SOCKET" run --mknod "c 10:200 $D/tun" -- \
        sh -c "touch '$T/work/ran'" 2>&1) || rc=$?
assert_eq "socket: registration refused by polkit exits 125" 125 "$rc"
assert_contains "socket: with AccessDenied" "$out" \
        "sysbrokerctl: Registration refused: org.freedesktop.DBus.Error.AccessDenied: "
assert_false "socket: the command did not run" test -e "$T/work/ran"

# The socket's clients are unprivileged: a connection from the test user is served.
rc=0
out=$(run_as_user "$SYSBROKERCTL" --socket="$SB_SOCKET" list 2>&1) || rc=$?
assert_eq "socket: 'sysbrokerctl list' works for the test user" 0 "$rc"

# A client that sends calls and does not read the replies is disconnected before their queue grows without
# end in the daemon's memory; others are served as before.
out=$(run_as_user /usr/bin/python3 "$SRCDIR/tests/integration/unread-replies.py" "$SB_SOCKET" 20000 2>&1) || true
assert_eq "socket: a client that does not read its replies is disconnected" disconnected "$out"
assert_true "socket: the daemon log says why" grep -q "does not read what we send" "$T/sysbrokerd.log"
rc=0
run_as_user "$SYSBROKERCTL" --socket="$SB_SOCKET" list >/dev/null 2>&1 || rc=$?
assert_eq "socket: and the next client is served" 0 "$rc"

# The limit of connections per user counts the user's subordinate uids as the user: a process in a user
# namespace the test user made, running as host uid 100000 (mapped by root, as newuidmap would), is the test
# user's. Otherwise subordinate uids would take every slot.
P2P=$SRCDIR/tests/integration/p2p-connections.py
run_as_user /usr/bin/python3 "$P2P" hold "$SB_SOCKET" 16 >"$T/hold.out" 2>&1 &
holder=$!
run_as_user unshare -U sh -c "echo \$\$ > '$T/work/ns.pid'; exec sleep 60" &
ns_holder=$!
# connect() returns once the connection is queued; the daemon accepts it later. Count its own log lines.
held_by_daemon() {
    local pid
    pid=$(sed -n 's/^holding 16 pid //p' "$T/hold.out")
    [ -n "$pid" ] && [ "$(grep -c "Peer-to-peer client pid $pid uid $SB_TEST_UID connected" "$T/sysbrokerd.log")" = 16 ]
}
if sb_poll 10 held_by_daemon && sb_poll 10 test -s "$T/work/ns.pid"; then
    ns_pid=$(cat "$T/work/ns.pid")
    echo "0 100000 1" >"/proc/$ns_pid/uid_map"
    echo "0 100000 1" >"/proc/$ns_pid/gid_map"
    probe() { nsenter --user --target "$ns_pid" /usr/bin/python3 "$P2P" probe "$SB_SOCKET" 2>&1; }
    assert_eq "socket: the user's 17th connection is refused" refused \
        "$(run_as_user /usr/bin/python3 "$P2P" probe "$SB_SOCKET" 2>&1)"
    assert_eq "socket: so is one from its subordinate uid" refused "$(probe)"
    assert_true "socket: charged to the user, says the log" \
        grep -q "Too many peer-to-peer connections of uid $SB_TEST_UID " "$T/sysbrokerd.log"
    kill "$(sed -n 's/^holding 16 pid //p' "$T/hold.out")"
    assert_true "socket: once the user's connections are gone, the subordinate uid is served" \
        sb_poll 10 eval '[ "$(probe)" = accepted ]'
else
    sb_not_ok "socket: the connections and the user namespace were set up" "$(cat "$T/hold.out")"
fi
pkill -f "$P2P hold" 2>/dev/null || true
[ -s "$T/work/ns.pid" ] && kill "$(cat "$T/work/ns.pid")" 2>/dev/null || true
wait "$holder" "$ns_holder" 2>/dev/null || true

assert_true "socket: listeners of exited sandboxes are removed" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
