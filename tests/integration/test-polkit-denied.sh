#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# polkit decides at registration: a rules file that refuses the action a rule needs makes
# `sysbrokerctl run` fail with exit 125 and the AccessDenied error, without running the command,
# and leaves no listener behind. The details an admin's rule tests (device, path) arrive intact.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/deny-mknod-device.rules"

D=$T/work/dev
run_as_user mkdir "$D"

# c 10:200 is not on the safe list: org.sysbroker.Broker1.mknod-device, which the rules refuse.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 10:200 $D/tun" -- \
        sh -c "touch '$T/work/ran'" 2>&1) || rc=$?
assert_eq "refused registration exits 125" 125 "$rc"
assert_contains "the message says registration was refused" "$out" \
        "sysbrokerctl: Registration refused: org.freedesktop.DBus.Error.AccessDenied: "
assert_contains "the message names the action" "$out" "org.sysbroker.Broker1.mknod-device"
assert_false "the command did not run" test -e "$T/work/ran"
assert_eq "no listener registered" 0 "$(sb_nlisteners)"

# The safe-list device is still allowed by the same rules file.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "mknod '$D/null' c 1 3 && echo created" 2>&1) || rc=$?
assert_eq "a safe-list device is allowed under the same rules" 0 "$rc"
assert_contains "and created" "$out" created

# With mknod refused as well, even the safe list is refused; the second rule is named by its index.
set_polkit_rules "$SB_RULES/deny-mknod.rules"
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null2" -- sh -c "touch '$T/work/ran'" 2>&1) ||
        rc=$?
assert_eq "refused safe-list device exits 125" 125 "$rc"
assert_contains "AccessDenied for the safe-list action" "$out" \
        "Registration refused: org.freedesktop.DBus.Error.AccessDenied: "
assert_contains "naming org.sysbroker.Broker1.mknod" "$out" "org.sysbroker.Broker1.mknod"
assert_false "the command did not run" test -e "$T/work/ran"

# An admin's rule deciding on details: c 10:200 is allowed only for a path ending in /tun.
set_polkit_rules "$SB_RULES/details.rules"
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 10:200 $D/tun" -- true 2>&1) || rc=$?
assert_eq "details match: c 10:200 at .../tun is authorized" 0 "$rc"
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 10:200 $D/tap" -- true 2>&1) || rc=$?
assert_eq "details do not match (path): refused" 125 "$rc"
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 10:201 $D/tun" -- true 2>&1) || rc=$?
assert_eq "details do not match (device): refused" 125 "$rc"

assert_true "no listener left behind by any refusal" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
