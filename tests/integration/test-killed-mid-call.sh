#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A supervised process SIGKILLed while its calls are trapped does not hurt the broker: the listener is
# removed, the broker's fd count returns to what it was, and the next registration and call work.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
[ -x "${SB_MKNOD:-}" ] || sb_die "SB_MKNOD helper not built: '${SB_MKNOD:-}'"

D=$T/work/dev
run_as_user mkdir "$D"

allowed_call_works() {
    local name=$1 out
    out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/$name" -- \
            unshare -Ur sh -c "mknod '$D/$name' c 1 3 && echo created" 2>&1) || true
    [ "$out" = created ] && [ -c "$D/$name" ]
}

# One full round first, so the broker has opened whatever it keeps open (bus, polkit, caches).
assert_true "an allowed call works before" allowed_call_works before
assert_true "its listener is gone" sb_wait_nlisteners 0
fds_before=$(sb_broker_fd_count)

for round in 1 2 3; do
    rm -f "$T/work/loop.pid"
    run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/loop*" -- \
            "$SB_MKNOD" loop "$D" "$T/work/loop.pid" >"$T/loop-$round.log" 2>&1 &
    ctl=$!
    if ! sb_poll 10 test -s "$T/work/loop.pid"; then
        sb_not_ok "round $round: the looping sandbox started and its first call came back"
        kill -KILL "$ctl" 2>/dev/null || true
        continue
    fi
    pid=$(cat "$T/work/loop.pid")
    rm -f "$T/work/loop.pid"
    # Four threads call mknod back to back: nearly all of their time is spent trapped.
    sleep 0.3
    listener_path=$(busctl call org.sysbroker.Broker1 /org/sysbroker/Broker1 \
            org.sysbroker.Broker1.Manager ListListeners | grep -o '"/org/sysbroker/Broker1/listener/[0-9]*"' |
            tr -d '"' | tail -n 1)
    n=$(sb_broker_property "$listener_path" org.sysbroker.Broker1.Listener Notifications 2>/dev/null || echo 0)
    assert_true "round $round: calls were being trapped ($n so far)" test "${n:-0}" -gt 10
    kill -KILL "$pid"
    rc=0
    wait "$ctl" || rc=$?
    assert_true "round $round: sysbrokerctl reports the killed sandbox (exit $rc)" test "$rc" != 0
    assert_true "round $round: the listener is removed" sb_wait_nlisteners 0
    assert_true "round $round: sysbrokerd survived" sb_broker_alive
done

assert_true "fd count back to $fds_before" sb_poll 10 eval '[ "$(sb_broker_fd_count)" = "$fds_before" ]'
assert_eq "fd count unchanged" "$fds_before" "$(sb_broker_fd_count)"
assert_true "the next registration and call work" allowed_call_works after
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
