#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What `sysbrokerctl list` and `status` print for people and for scripts: "No listeners." rather than a bare
# header, a table whose columns line up, a status that shows a deny rule without the keys that only bound an
# emulate rule, and --json that a JSON parser reads back with the same values.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs python3
sb_start_all "$SB_RULES/allow-all.rules"

# json_get EXPRESSION: evaluates a Python expression over the JSON on stdin, bound to d.
json_get() {
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# --- Nothing registered -----------------------------------------------------------------------------------
rc=0
out=$("$SYSBROKERCTL" list 2>&1) || rc=$?
assert_eq "empty: list exits 0" 0 "$rc"
assert_eq "empty: list says so instead of printing a bare header" "No listeners." "$out"
out=$("$SYSBROKERCTL" list --json 2>&1) || true
assert_eq "empty: list --json parses, with no listeners" "[] 0" \
    "$(json_get '" ".join([str(d["Listeners"]), str(d["NListeners"])])' <<<"$out" 2>&1)"

# --- One sandbox, as the test user ------------------------------------------------------------------------
run_as_user "$SYSBROKERCTL" run --description='my box' --deny-open=/etc/shadow --mknod='c 1:3 /dev/null' \
    -- sleep 300 >"$T/run.log" 2>&1 &
SB_PIDS+=("$!")
sb_wait_nlisteners 1 || sb_die "the sandbox's listener did not appear: $(cat "$T/run.log")"
path=$(sb_last_listener_path)
id=${path##*/}

out=$("$SYSBROKERCTL" list 2>&1) || true
header=$(head -n 1 <<<"$out")
row=$(sed -n 2p <<<"$out")
assert_eq "list: a header and one row" 2 "$(wc -l <<<"$out")"
assert_contains "list: the header names the columns" "$header" "ID"
assert_contains "list: ... including the owner's pid and the registration time" "$header" "PID"
assert_contains "list: ..." "$header" "REGISTERED"
# Aligned: each header word starts where its value does in the row.
for column in UID PID REGISTERED DEFAULT RULES CALLS DENIED DESCRIPTION; do
    prefix=${header%%"$column"*}
    assert_true "list: column $column starts after a blank in the row" test "${row:${#prefix}-1:1}" = " "
    assert_true "list: column $column starts with a value in the row" test "${row:${#prefix}:1}" != " "
done
read -r r_id r_uid ctl_pid _ <<<"$row"
assert_eq "list: the row's id" "$id" "$r_id"
assert_eq "list: the row's owner uid" "$SB_TEST_UID" "$r_uid"
# The shell's $! is a subshell around it: the registering sysbrokerctl is found by what the row says.
assert_eq "list: the row's owner pid is sysbrokerctl's" "$(readlink -f "$SYSBROKERCTL")" \
    "$(readlink "/proc/$ctl_pid/exe" 2>&1)"
assert_eq "list: ... of the test user" "$SB_TEST_UID" "$(stat -c %u "/proc/$ctl_pid" 2>&1)"
assert_contains "list: the row ends with the description" "$row" " my box"
out=$(run_as_user "$SYSBROKERCTL" list 2>&1) || true
assert_contains "list: the owner sees its own listener" "$out" " my box"

out=$("$SYSBROKERCTL" list --json 2>&1) || true
assert_eq "list --json: the listener with its properties" \
    "$id $SB_TEST_UID $ctl_pid my box continue 2" \
    "$(json_get '" ".join(str(x) for x in [d["Listeners"][0][k] for k in
                     ["Id", "OwnerUID", "OwnerPID", "Description", "DefaultAction"]]
                    + [len(d["Listeners"][0]["Rules"])])' <<<"$out" 2>&1)"
assert_eq "list --json: the registration time is now, give or take a minute" True \
    "$(json_get "abs(d['Listeners'][0]['RegisteredTimestamp'] / 1e6 - $(date +%s)) < 60" <<<"$out" 2>&1)"

# --- status -----------------------------------------------------------------------------------------------
rc=0
out=$("$SYSBROKERCTL" status "$id" 2>&1) || rc=$?
assert_eq "status: exits 0" 0 "$rc"
assert_contains "status: the owner" "$out" "            OwnerUID: $SB_TEST_UID"
assert_contains "status: the owner's pid" "$out" "            OwnerPID: $ctl_pid"
assert_contains "status: the registration time as a date" "$out" " RegisteredTimestamp: $(date '+%a %Y-%m-%d')"
assert_contains "status: the deny rule shows only the keys that apply" "$out" \
    "0: open deny Errno=EPERM Path=/etc/shadow"$'\n'
assert_contains "status: the emulate rule shows its mode" "$out" \
    "1: mknod emulate Path=/dev/null Type=c Major=1 Minor=3 Mode=0666"$'\n'

out=$("$SYSBROKERCTL" status --json "$id" 2>&1) || true
assert_eq "status --json: properties and rules, a deny rule without Access or Create" \
    "$id $SB_TEST_UID my box ['Action', 'Errno', 'Path', 'Syscall']" \
    "$(json_get '" ".join(str(x) for x in
                    [d["Id"], d["OwnerUID"], d["Description"], sorted(d["Rules"][0])])' <<<"$out" 2>&1)"

# --- Gone again -------------------------------------------------------------------------------------------
kill -TERM "$ctl_pid"
wait "$ctl_pid" 2>/dev/null || true
sb_wait_nlisteners 0 || sb_die "the listener did not go away"
out=$("$SYSBROKERCTL" list 2>&1) || true
assert_eq "after: list says there are none" "No listeners." "$out"

sb_finish
