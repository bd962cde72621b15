#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/demo is a README command: run it (without apt) so it cannot rot, and check its transcript
# shows the outcomes it promises.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (tools/demo runs the real polkitd)"; exit 77; }

rc=0
out=$("$SRCDIR/tools/demo" --no-install --builddir="$BUILDDIR" 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
n=0
check() {
    n=$((n + 1))
    if [ "$2" = yes ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=1; fi
}
failed=0
check "tools/demo exits 0 (exit $rc)" "$([ "$rc" = 0 ] && echo yes)"
check "shows the allowed node" "$(grep -q 'character special file 1:3' <<<"$out" && echo yes)"
check "shows EPERM for a device outside the rules" "$(grep -q 'Operation not permitted' <<<"$out" && echo yes)"
check "shows the refused registration" \
    "$(grep -q 'Registration refused: org.freedesktop.DBus.Error.AccessDenied' <<<"$out" && echo yes)"
check "shows the root-only file read through an open rule" "$(grep -qx '    the allowed secret' <<<"$out" && echo yes)"
check "shows the other root-only file refused" \
    "$(grep -q 'other.txt: Permission denied' <<<"$out" && ! grep -q 'another secret' <<<"$out" && echo yes)"
check "shows the tmpfs mounted through a mount rule, nosuid,nodev" \
    "$(grep -q 'tmpfs *rw,nosuid,nodev,.*size=1024k' <<<"$out" && echo yes)"
check "shows the mount outside the rule's target refused" "$(grep -q 'other: permission denied' <<<"$out" && echo yes)"
echo "1..$n"
exit "$failed"
