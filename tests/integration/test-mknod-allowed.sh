#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An allowed device node is created by the broker for a process in an unprivileged user namespace:
# char device, rdev 1:3, owned by the caller's host uid/gid, permission bits cut by the caller's umask.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"

D=$T/work/dev
run_as_user mkdir "$D"

rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "umask 022; mknod '$D/null' c 1 3 && echo created" 2>&1) || rc=$?
assert_eq "sysbrokerctl run exits 0" 0 "$rc"
assert_contains "mknod in the user namespace succeeds" "$out" created
assert_eq "node is a character device" "character special file" "$(stat -c %F "$D/null" 2>&1)"
assert_eq "node rdev is 1:3" "1:3" "$(stat -c '%Hr:%Lr' "$D/null" 2>&1)"
assert_eq "node is owned by the caller's host uid:gid" "$SB_TEST_UID:$SB_TEST_GID" \
        "$(stat -c '%u:%g' "$D/null" 2>&1)"
assert_eq "mode 0666 is cut by umask 022" 644 "$(stat -c %a "$D/null" 2>&1)"

# A different umask and an explicit mode: both must reach the node as the kernel would apply them.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null2" -- \
        unshare -Ur sh -c "umask 077; mknod '$D/null2' c 1 3 && echo created" 2>&1) || rc=$?
assert_eq "second run exits 0" 0 "$rc"
assert_eq "mode 0666 is cut by umask 077" 600 "$(stat -c %a "$D/null2" 2>&1)"

# Reading it gives EOF, as /dev/null does (read as root: only the creator owns it).
assert_eq "the node behaves as /dev/null" 0 "$(head -c 16 "$D/null" | wc -c)"

# A description with a newline is refused: it would forge lines in polkit's dialog and in the log.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --description "x
<0>Listener 99 registered by uid 0" --mknod "c 1:3 $D/null3" -- true 2>&1) || rc=$?
assert_eq "a description with a newline is refused" 125 "$rc"
assert_contains "as InvalidArgs, saying why" "$out" "'Description' contains a control character"
# A path the sandbox names may hold one, and the rule's '*' covers it: it cannot forge a log line of its own
# (the journal's stream would take a "<0>" at a line's start for a priority).
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/*" -- \
        unshare -Ur sh -c "mknod '$D/x
<0>Listener 99 registered by uid 0' c 1 3 && echo created" 2>&1) || true
assert_contains "a node whose name holds a newline is created" "$out" created
assert_true "and logged escaped, on its one line" grep -q 'x\\x0a<0>Listener 99' "$T/sysbrokerd.log"
assert_false "no forged line" grep -q '^<0>Listener 99' "$T/sysbrokerd.log"

# SIGTERM and SIGHUP sent to sysbrokerctl alone are passed on to the command, whose status it exits with.
cat >"$T/work/trapper.sh" <<SCRIPT
trap 'echo got-TERM; exit 3' TERM
trap 'echo got-HUP; exit 3' HUP
echo \$\$ > "$T/work/cmd.pid"
while :; do sleep 0.1; done
SCRIPT
for sig in TERM HUP; do
    rm -f "$T/work/cmd.pid"
    run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null4" -- sh "$T/work/trapper.sh" \
            >"$T/forward.out" 2>&1 &
    job=$!
    sb_wait_for 10 "the command to start" test -s "$T/work/cmd.pid"
    cmd=$(cat "$T/work/cmd.pid")
    ctl=$(awk '/^PPid:/ { print $2 }' "/proc/$cmd/status")
    assert_eq "SIG$sig: the command's parent is sysbrokerctl" sysbrokerctl "$(cat "/proc/$ctl/comm")"
    kill -"$sig" "$ctl"
    # Not passed on, the command would run forever: end it, and the checks below fail.
    sb_poll 10 sh -c "! kill -0 $cmd 2>/dev/null" || kill -KILL "$cmd"
    rc=0
    wait "$job" || rc=$?
    assert_eq "SIG$sig: passed on to the command" got-$sig "$(cat "$T/forward.out")"
    assert_eq "SIG$sig: sysbrokerctl exits with the command's status" 3 "$rc"
done

# The listener went away with its tasks.
assert_true "no listener left after the sandbox exited" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
