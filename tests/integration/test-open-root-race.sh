#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A sandbox that switches its root between the host's and a namespace of its own (where another file is
# bind-mounted over the allowed path) while opening the allowed path: the broker decides on the root it
# actually resolved in, so the other file is never handed over, however the race falls.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

D=$T/work/race
mkdir -m 0755 "$D" "$D/allowed"
sb_put_file "$D/allowed/file" root:root 0600 "ALLOWED-DATA"
sb_put_file "$D/secret" root:root 0600 "HOST-SECRET"
install -m 0755 "$SB_ROOT_RACE" "$T/work/sb-root-race"

out=$(run_as_user cat "$D/secret" 2>&1) || true
assert_not_contains "control: the sandbox user cannot read the secret itself" "$out" HOST-SECRET

out=$(run_as_user "$SYSBROKERCTL" run --open "$D/allowed/file" -- \
        "$T/work/sb-root-race" "$D/allowed/file" "$D/secret" HOST-SECRET 20000 2>&1) || true
echo "# $out"
count() {
    grep -o "\b$1=[0-9]*" <<<"$out" | cut -d= -f2
}
assert_contains "the race ran to its end" "$out" "opens=20000"
assert_contains "no open handed over the bind-mounted secret" "$out" "leaked=0"
# The race happened: the root kept changing until the end, opens in the host's root were granted and
# opens in the sandbox's own were refused; none failed otherwise.
assert_contains "the root switched without error" "$out" "switch-error=none"
assert_true "and did switch ($(count switches) times)" test "$(count switches)" -gt 0
assert_true "some opens were granted" test "$(count granted)" -gt 0
assert_true "some were refused" test "$(count refused)" -gt 0
assert_contains "none failed otherwise" "$out" "other=0 "
assert_true "the broker still answers" sb_broker_alive
sb_finish
