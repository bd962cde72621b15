#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The benchmark runs against a real sysbrokerd (few iterations: this checks it works, not the figures):
# every row is printed, and the broker's counters confirm it answered every call the way the row says
# (continued, or emulated: the open rows check the fd they got reads the file).
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
[ -x "${SYSBROKER_BENCH:-}" ] || sb_die "benchmark not built: '${SYSBROKER_BENCH:-}'"
sb_start_all "$SB_RULES/allow-all.rules"

rc=0
out=$("$SYSBROKER_BENCH" --iterations=2000 --runs=3 --warmup=200 --register-iterations=2 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
assert_eq "bench exits 0" 0 "$rc"
assert_contains "native row" "$out" "(a) native"
assert_contains "raw supervisor row" "$out" "(b) raw supervisor"
assert_contains "sysbrokerd row" "$out" "(c) sysbrokerd"
assert_contains "open: native row" "$out" "(d) open: native"
assert_contains "open: raw emulating supervisor row" "$out" "(e) open: raw supervisor, emulated"
assert_contains "open: sysbrokerd emulating row" "$out" "(f) open: sysbrokerd, emulated by rule"
assert_contains "open: raw CONTINUE row" "$out" "(g) open: raw supervisor, CONTINUE"
assert_contains "open: sysbrokerd continuing row" "$out" "(h) open: sysbrokerd, no rule matches"
assert_contains "registration row, 1 rule" "$out" "(register) 1 open rule "
assert_contains "registration row, 8 rules" "$out" "(register) 8 open rules"
assert_contains "registration row, 64 rules" "$out" "(register) 64 open rules"
assert_contains "mknod ratio line" "$out" "ratio sysbrokerd/raw c/b"
assert_contains "emulated open ratio line" "$out" "ratio sysbrokerd/raw f/e"
assert_contains "continued open ratio line" "$out" "ratio sysbrokerd/raw h/g"
assert_contains "the supervised open targets are sandboxes (root runs the bench)" "$out" "(e-h) by uid 65534"
assert_eq "sysbrokerd continued every mknod and unmatched open, emulated every matched open" \
        "continued 6201 of 6201
emulated 6201 of 6201
continued 6201 of 6201" "$(grep -o '^sysbrokerd: [a-z]* [0-9]* of [0-9]*' <<<"$out" | cut -d' ' -f2-)"

# The raw supervisor's other way of installing the fd, in two rounds.
rc=0
out=$("$SYSBROKER_BENCH" --rows=open --addfd-mode=separate --rounds=2 --iterations=1000 --runs=3 --warmup=100 2>&1) ||
        rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
assert_eq "bench --rows=open --addfd-mode=separate --rounds=2 exits 0" 0 "$rc"
assert_contains "it says how the raw supervisor installs the fd" "$out" "openat2, ADDFD, SEND"
assert_not_contains "and leaves out the mknod rows" "$out" "(a) native"
assert_eq "each round asked sysbrokerd again" 4 "$(grep -c '^sysbrokerd: ' <<<"$out")"
assert_true "a ratio gives each round's figure" grep -Eq 'f/e open, emulated: [0-9.]+ \(.*; rounds: [0-9.]+ [0-9.]+\)' <<<"$out"

# Over the socket endpoint as well.
rc=0
out=$("$SYSBROKER_BENCH" --socket="$SB_SOCKET" --iterations=2000 --runs=3 --warmup=200 --register-iterations=2 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
assert_eq "bench over the socket exits 0" 0 "$rc"
assert_contains "socket: sysbrokerd continued every call" "$out" "continued 6201 of 6201"
assert_contains "socket: sysbrokerd emulated every open" "$out" "emulated 6201 of 6201"

# The launcher rows (tools/bench --rows=launch), two runs each: every row measured, none failed, and the
# ratios printed; the figures themselves are not a test's to judge.
rc=0
out=$(SB_TEST_UID=$SB_TEST_UID "$SRCDIR/tests/bench/launch-rows.sh" --runs=2 --warmup=0 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
assert_eq "launch rows exit 0" 0 "$rc"
assert_contains "they run as the test user" "$out" "as uid $SB_TEST_UID"
if command -v bwrap >/dev/null 2>&1; then
    assert_true "bwrap alone measured" grep -Eq '^\(L1\) bwrap \.\.\. true +[0-9.]+ ms' <<<"$out"
    assert_true "bwrap under run --handoff measured" grep -Eq '^\(L2\) run --handoff.* +[0-9.]+ ms' <<<"$out"
    assert_contains "their ratio" "$out" "ratio L2/L1"
    if [ -x /usr/bin/python3 ]; then
        assert_true "python3 in bwrap measured" grep -Eq '^\(L3\) .*python3 -c pass +[0-9.]+ ms' <<<"$out"
        assert_true "and under run --handoff" grep -Eq '^\(L4\) run --handoff.* +[0-9.]+ ms' <<<"$out"
        assert_contains "their ratio" "$out" "ratio L4/L3"
    else
        assert_contains "no python3: its rows say so" "$out" "(L3-L4) skipped: /usr/bin/python3 is not installed"
    fi
else
    assert_contains "no bwrap: the rows say so" "$out" "(L1-L4) skipped: bwrap is not installed"
fi

# And it fails loudly when there is no broker to answer.
sb_kill_pid "$SB_BROKER_PID"
rc=0
out=$("$SYSBROKER_BENCH" --iterations=2000 --runs=3 --warmup=200 --register-iterations=2 2>&1) || rc=$?
assert_true "bench without sysbrokerd fails" test "$rc" != 0
assert_contains "and says why" "$out" "sysbrokerd is not answering on"

sb_finish
