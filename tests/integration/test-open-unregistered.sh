#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A listener unregistered while its sandbox's opens stream through it: every open either gets its file or,
# once the listener is gone, fails with ENOSYS as the kernel answers for a filter without listener. None may
# "succeed" without an fd: the stop signal must not cut an ADDFD short (the kernel then returns 0 from the
# target's open, with no file behind it). A race: before the fix, about one round in ten caught the thread
# in ADDFD, so this finds a regression in most runs, not all. A call the thread is already emulating when
# the listener goes is finished, not cut short: the first failure is ENOSYS, never EINTR.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

D=$T/work/unregistered
mkdir -m 0755 "$D" "$D/files"
sb_put_file "$D/files/file" root:root 0600 "DATA"

for round in $(seq 1 12); do
    rm -f "$T/work/loop.pid"
    run_as_user "$SYSBROKERCTL" run --open "$D/files/*" -- \
            "$SB_OPEN" until-refused "$D/files/file" "$T/work/loop.pid" </dev/null >"$T/loop-$round.log" 2>&1 &
    ctl=$!
    if ! sb_poll 10 test -s "$T/work/loop.pid"; then
        sb_not_ok "round $round: the sandbox started and its first open came back" "$(cat "$T/loop-$round.log")"
        kill -KILL "$ctl" 2>/dev/null || true
        continue
    fi
    sleep 0.2
    path=$(sb_last_listener_path)
    busctl call org.sysbroker.Broker1 "$path" org.sysbroker.Broker1.Listener Unregister >/dev/null
    rc=0
    sb_poll 10 eval '! kill -0 "$ctl" 2>/dev/null' || kill -KILL "$ctl" 2>/dev/null || true
    wait "$ctl" || rc=$?
    out=$(grep '^opens=' "$T/loop-$round.log" || cat "$T/loop-$round.log")
    assert_contains "round $round: no open came back without its file ($out)" "$out" " zero=0 "
    assert_contains "round $round: then opens fail with ENOSYS" "$out" " error=ENOSYS"
    assert_true "round $round: the listener is removed" sb_wait_nlisteners 0
done
assert_true "sysbrokerd survived" sb_broker_alive

sb_finish
