#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Calls no rule matches get the kernel's own answer (default action: continue), which in an unprivileged
# user namespace is EPERM: a device outside the rules and an allowed device at another path create nothing.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"

D=$T/work/dev
run_as_user mkdir "$D"

rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "mknod '$D/zero' c 1 5; echo mknod-exit=\$?" 2>&1) || rc=$?
assert_eq "sysbrokerctl run exits 0" 0 "$rc"
assert_contains "c 1:5 when only 1:3 is allowed fails" "$out" "mknod-exit=1"
assert_contains "with EPERM" "$out" "Operation not permitted"
assert_false "no node left for c 1:5" test -e "$D/zero"

rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "mknod '$D/elsewhere' c 1 3; echo mknod-exit=\$?" 2>&1) || rc=$?
assert_contains "allowed device at a path outside the rule fails" "$out" "mknod-exit=1"
assert_contains "with EPERM too" "$out" "Operation not permitted"
assert_false "no node left at the other path" test -e "$D/elsewhere"

rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "mknod '$D/null' b 1 3; echo mknod-exit=\$?" 2>&1) || rc=$?
assert_contains "block device where the rule says char fails" "$out" "Operation not permitted"
assert_false "no block node left" test -e "$D/null"

# The broker keeps working after refusing: the allowed call still goes through.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "mknod '$D/null' c 1 3 && echo created" 2>&1) || rc=$?
assert_contains "the allowed call still works" "$out" created
assert_eq "and creates 1:3" "character special file 1:3" "$(stat -c '%F %Hr:%Lr' "$D/null" 2>&1)"

sb_finish
