#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# polkit decides open rules at registration with org.sysbroker.Broker1.open and the details an admin's
# rules test (path, access, create, host-path): an admin's rules file allowing only some of them lets exactly
# those through, refuses the others with AccessDenied before the command runs, and never asks about deny
# rules (they grant nothing).
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/open-details.rules"
sb_require_open_client

sb_host_dir
sb_put_file "$H/other" root:root 0600 "HOST-OTHER"
D=$T/work/pk
mkdir -m 0755 "$D" "$D/shared" "$D/private"
sb_put_file "$D/shared/file" root:root 0600 "SHARED"
sb_put_file "$D/private/file" root:root 0644 "PRIVATE"

# allowed NAME RULE-OPTIONS... / refused NAME RULE-OPTIONS...: registration and the command's outcome.
allowed() {
    local name=$1 out rc=0
    shift
    out=$(run_as_user "$SYSBROKERCTL" run "$@" -- sh -c "echo ran" 2>&1) || rc=$?
    assert_eq "$name: authorized (exit $rc)" ran "$out"
}
refused() {
    local name=$1 out rc=0
    shift
    rm -f "$T/work/ran"
    out=$(run_as_user "$SYSBROKERCTL" run "$@" -- sh -c "touch '$T/work/ran'" 2>&1) || rc=$?
    assert_eq "$name: refused with exit 125" 125 "$rc"
    assert_contains "$name: AccessDenied" "$out" \
            "sysbrokerctl: Registration refused: org.freedesktop.DBus.Error.AccessDenied: "
    assert_contains "$name: naming the open action" "$out" "org.sysbroker.Broker1.open"
    assert_false "$name: the command did not run" test -e "$T/work/ran"
}

allowed "read-only rule on shared/" --open "$D/shared/*"
refused "rw rule on shared/" --open "$D/shared/*:rw"
refused "w rule on shared/" --open "$D/shared/*:w"
refused "read-only rule with Create on shared/" --open "$D/shared/*:r:create"
refused "read-only rule elsewhere" --open "$D/private/*"
allowed "HostPath to .../hostonly/secret" --open-host "$D/magic=$H/secret"
refused "HostPath to another host file" --open-host "$D/magic=$H/other"
refused "HostPath to .../hostonly/secret, rw" --open-host "$D/magic=$H/secret:rw"

# The second of two rules is refused: named by its index, and the first grants nothing either.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --open "$D/shared/*" --open "$D/private/*" -- true 2>&1) || rc=$?
assert_eq "two rules, the second refused: exit 125" 125 "$rc"
assert_contains "the message names rule 1 and its path" "$out" "rule 1 (emulate open $D/private/* r)"
assert_true "no listener left by any refusal" sb_wait_nlisteners 0

# Deny rules grant nothing and are not asked about, even for a path polkit would refuse to open.
out=$(run_as_user "$SYSBROKERCTL" run --open "$D/shared/*" --deny-open "$D/private/*" -- \
        sh -c "cat '$D/shared/file'; cat '$D/private/file'" 2>&1) || true
assert_contains "deny rule registered without asking polkit: the allowed rule works" "$out" SHARED
assert_contains "and the deny rule denies" "$out" "Operation not permitted"
assert_not_contains "nothing of the denied file" "$out" PRIVATE

# What was authorized works.
out=$(run_as_user "$SYSBROKERCTL" run --open-host "$D/magic=$H/secret" -- cat "$D/magic" 2>&1) || true
assert_eq "the authorized HostPath rule works" HOST-SECRET "$out"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
