#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A sandbox cannot flood the daemon's log: its own filter sends x32 system calls to its listener, 5,000 of
# them as fast as it can make them. Each is refused (invariant 6: a foreign ABI's numbers are never decoded)
# and each would be a "foreign architecture" warning; at most a listener's burst is logged, plus a line that
# says how many more were held back. Many listeners of one user flooding at once are bounded by the limit
# per owner uid on top. Nothing is lost silently: the lines logged and the counts said suppressed add up to
# the calls made.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
[ "$(uname -m)" = x86_64 ] || sb_skip "x32 system calls exist on x86_64 only"
sb_start_all "$SB_RULES/allow-all.rules"

# The limits in service/supervise.c: lines per listener and per owner uid in a 10 s window.
LISTENER_BURST=20
OWNER_BURST=40
LOG=$T/sysbrokerd.log

# Log lines from line $1 on that match $2.
lines_since() {
    tail -n "+$1" "$LOG" | grep -c -- "$2" || true
}

# The sum of N in lines from line $1 on that say "$2: N more decisions not logged".
suppressed_since() {
    tail -n "+$1" "$LOG" | sed -n "s/^\(<[0-9]>\)\?$2: \([0-9]*\) more decisions not logged.*/\2/p" |
        awk '{ n += $1 } END { print n + 0 }'
}

# flood NAME N_LISTENERS N_CALLS: runs sb-flood as the test user; sets FIRST (the first log line of the
# flood) and WINDOWS (how many 10 s windows of the limiters the flood may have touched).
flood() {
    local name=$1 n_listeners=$2 n_calls=$3 start rc=0 out
    FIRST=$(($(wc -l <"$LOG") + 1))
    start=$(sb_now_ms)
    out=$(run_as_user "$SB_FLOOD" "$n_listeners" "$n_calls" 2>&1) || rc=$?
    assert_eq "$name: sb-flood exits 0" 0 "$rc"
    assert_eq "$name: every x32 call failed with ENOSYS, as the daemon's denial" \
            "$(for ((i = 0; i < n_listeners; i++)); do echo "enosys=$n_calls denied=$n_calls"; done)" "$out"
    assert_true "$name: the listeners are gone with their sandboxes" sb_wait_nlisteners 0
    # The owner's count is said once its window is over, or when the last listener is gone (the watchdog,
    # within a second).
    if [ "$n_listeners" -gt 1 ]; then
        assert_true "$name: the owner's limit says what it held back" \
                sb_poll 10 grep -q "Listeners of uid $SB_TEST_UID: [0-9]* more decisions not logged" "$LOG"
    fi
    WINDOWS=$((($(sb_now_ms) - start) / 10000 + 2))
}

# One listener: 5,000 calls.
flood "one listener" 1 5000
# Said by the listener's thread as it ends, which may be a moment after the listener left the bus.
assert_true "one listener: the rest said to be suppressed" \
        sb_poll 10 grep -q 'Listener [0-9]*: [0-9]* more decisions not logged\.' "$LOG"
logged=$(lines_since "$FIRST" 'of foreign architecture')
said=$(suppressed_since "$FIRST" 'Listener [0-9]*')
echo "# one listener: $logged lines, $said said suppressed, $WINDOWS windows"
assert_true "one listener: at most $LISTENER_BURST lines per window ($logged in $WINDOWS windows)" \
        test "$logged" -le $((LISTENER_BURST * WINDOWS))
assert_eq "one listener: logged and said suppressed add up to the calls" 5000 $((logged + said))

# Sixteen listeners of one uid, 500 calls each: sixteen listener bursts would be 320 lines a window.
flood "16 listeners" 16 500
logged=$(lines_since "$FIRST" 'of foreign architecture')
summaries=$(lines_since "$FIRST" 'Listener [0-9]*: [0-9]* more decisions not logged')
owner_summaries=$(lines_since "$FIRST" 'Listeners of uid [0-9]*: [0-9]* more decisions not logged')
said=$(($(suppressed_since "$FIRST" 'Listener [0-9]*') + $(suppressed_since "$FIRST" 'Listeners of uid [0-9]*')))
echo "# 16 listeners: $logged lines, $summaries + $owner_summaries summaries, $said said suppressed," \
        "$WINDOWS windows"
assert_true "16 listeners: at most $OWNER_BURST lines per window for the uid, summaries included" \
        test $((logged + summaries)) -le $((OWNER_BURST * WINDOWS))
assert_true "16 listeners: at most one owner summary per window" test "$owner_summaries" -le "$WINDOWS"
assert_eq "16 listeners: logged and said suppressed add up to the calls" 8000 $((logged + said))

assert_true "sysbrokerd still running" sb_broker_alive
sb_finish
