#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The benchmark runs against a real sysbrokerd (few iterations: this checks it works, not the figures):
# all three rows are printed, and the broker's counters confirm it continued every call.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
[ -x "${SYSBROKER_BENCH:-}" ] || sb_die "benchmark not built: '${SYSBROKER_BENCH:-}'"
sb_start_all "$SB_RULES/allow-all.rules"

rc=0
out=$("$SYSBROKER_BENCH" --iterations=2000 --runs=3 --warmup=200 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
assert_eq "bench exits 0" 0 "$rc"
assert_contains "native row" "$out" "(a) native"
assert_contains "raw supervisor row" "$out" "(b) raw supervisor"
assert_contains "sysbrokerd row" "$out" "(c) sysbrokerd"
assert_contains "ratio line" "$out" "ratio sysbrokerd/raw"
assert_contains "sysbrokerd continued every call" "$out" "continued 6201 of 6201"

# Over the socket endpoint as well.
rc=0
out=$("$SYSBROKER_BENCH" --socket="$SB_SOCKET" --iterations=2000 --runs=3 --warmup=200 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
assert_eq "bench over the socket exits 0" 0 "$rc"
assert_contains "socket: sysbrokerd continued every call" "$out" "continued 6201 of 6201"

# And it fails loudly when there is no broker to answer.
sb_kill_pid "$SB_BROKER_PID"
rc=0
out=$("$SYSBROKER_BENCH" --iterations=2000 --runs=3 --warmup=200 2>&1) || rc=$?
assert_true "bench without sysbrokerd fails" test "$rc" != 0
assert_contains "and says why" "$out" "sysbrokerd"

sb_finish
