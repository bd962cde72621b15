#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The first rule that matches an open decides, whatever kind of rule it is: a deny rule before a HostPath rule
# for the same path denies (whether or not the path exists in the sandbox's view), a HostPath rule before a
# plain rule wins and the other way round. And a deny rule's pattern covers every file it matches: FIFOs and
# device nodes too, which only a literal rule may open — a deny pattern before such a literal rule refuses.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

# The host file: out of the sandbox's reach (a directory it cannot search, a root-only file).
sb_host_dir
D=$T/work/order
mkdir -m 0755 "$D"
sb_put_file "$D/present" root:root 0644 "PRESENT"
sb_put_file "$D/locked" root:root 0600 "LOCKED"
MISSING=$D/missing

sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}

# --- HostPath rules take their place in the order ---------------------------------------------------------
# A path that does not exist in the sandbox's view: the usual HostPath case.
out=$(sandbox --open-host "$MISSING=$H/secret:r" -- cat "$MISSING") || true
assert_eq "control: the HostPath rule alone gives the host file" HOST-SECRET "$out"
out=$(sandbox --open-host "$MISSING=$H/secret:r" -- cat "$D/nothing-here") || true
assert_contains "control: another missing path is the kernel's ENOENT" "$out" "No such file or directory"

out=$(sandbox --deny-open "$MISSING" --open-host "$MISSING=$H/secret:r" -- cat "$MISSING") || true
assert_contains "deny, then HostPath, missing path: cat gets EPERM" "$out" "Operation not permitted"
assert_not_contains "deny, then HostPath, missing path: nothing of the host file" "$out" HOST-SECRET
out=$(sandbox --deny-open "$MISSING" --open-host "$MISSING=$H/secret:r" -- "$SB_OPEN" open "$MISSING" r) || true
assert_eq "deny, then HostPath, missing path: open(2) is EPERM" EPERM "$out"
out=$(sandbox --deny-open "$D/*" --open-host "$MISSING=$H/secret:r" -- "$SB_OPEN" open "$MISSING" r) || true
assert_eq "deny pattern, then HostPath, missing path: EPERM" EPERM "$out"
out=$(sandbox --deny-open "$MISSING" --open-host "$MISSING=$H/secret:r" -- "$SB_OPEN" at "$D" missing r) || true
assert_eq "deny, then HostPath, missing path named relative to a dirfd: EPERM" EPERM "$out"
out=$(sandbox --open-host "$MISSING=$H/secret:r" --deny-open "$MISSING" -- cat "$MISSING") || true
assert_eq "HostPath, then deny, missing path: the host file is read" HOST-SECRET "$out"

# A path that does exist in the sandbox's view (and that it could read by itself).
out=$(sandbox --deny-open "$D/present" --open-host "$D/present=$H/secret:r" -- cat "$D/present") || true
assert_contains "deny, then HostPath, existing path: cat gets EPERM" "$out" "Operation not permitted"
assert_not_contains "deny, then HostPath, existing path: nothing of the host file" "$out" HOST-SECRET
assert_not_contains "deny, then HostPath, existing path: nor of the sandbox's own" "$out" PRESENT
out=$(sandbox --open-host "$D/present=$H/secret:r" --deny-open "$D/present" -- cat "$D/present") || true
assert_eq "HostPath, then deny, existing path: the host file is read" HOST-SECRET "$out"

# An emulate rule and a HostPath rule for the same path: whichever comes first.
out=$(sandbox --open "$D/locked" --open-host "$D/locked=$H/secret:r" -- cat "$D/locked") || true
assert_eq "plain rule, then HostPath: the sandbox's file through the plain rule" LOCKED "$out"
out=$(sandbox --open-host "$D/locked=$H/secret:r" --open "$D/locked" -- cat "$D/locked") || true
assert_eq "HostPath, then plain rule: the host file" HOST-SECRET "$out"

# --- A deny pattern covers FIFOs and device nodes ---------------------------------------------------------
# Root's, mode 0600: the sandbox cannot open them by itself, so "opened" means the broker opened them.
S=$D/special
mkdir -m 0755 "$S"
mkfifo -m 0600 "$S/fifo"
mknod -m 0600 "$S/null" c 1 3
mknod -m 0600 "$S/zero" c 1 5

# O_NONBLOCK: an emulated open of the FIFO returns at once instead of waiting for a writer.
out=$(sandbox --open "$S/fifo:r" -- "$SB_OPEN" open "$S/fifo" r,nonblock) || true
assert_eq "control: a literal rule opens the root-only FIFO" "ok cloexec=0 data=" "$out"
out=$(sandbox --open "$S/null:rw" -- "$SB_OPEN" open "$S/null" rw) || true
assert_eq "control: a literal rule opens the root-only c 1:3" "ok cloexec=0 data=" "$out"
out=$(sandbox --open "$S/zero" -- sh -c "head -c 2 '$S/zero' | od -An -tx1") || true
assert_eq "control: a literal rule opens the root-only c 1:5" "00 00" "$(xargs <<<"$out")"
out=$(sandbox --open "$D/none" -- "$SB_OPEN" open "$S/null" rw) || true
assert_eq "control: without a rule the kernel refuses c 1:3" EACCES "$out"

for pattern in "$S/*" "$S/**" "$S/f?f?" "$S/[fn]*"; do
    out=$(sandbox --deny-open "$pattern" --open "$S/fifo:r" -- "$SB_OPEN" open "$S/fifo" r,nonblock) || true
    assert_eq "deny '$pattern', then a literal rule: the FIFO is EPERM" EPERM "$out"
done
for pattern in "$S/*" "$S/**" "$S/n*"; do
    out=$(sandbox --deny-open "$pattern" --open "$S/null:rw" -- "$SB_OPEN" open "$S/null" rw) || true
    assert_eq "deny '$pattern', then a literal rule: c 1:3 is EPERM" EPERM "$out"
done
out=$(sandbox --deny-open "$S/*" --open "$S/zero" -- sh -c "head -c 2 '$S/zero' | od -An -tx1") || true
assert_contains "deny pattern, then a literal rule: head on c 1:5 gets EPERM" "$out" "Operation not permitted"
assert_not_contains "and reads nothing" "$out" "00 00"
# Under --default=deny the same, and the denial is the rule's (nothing else differs).
out=$(sandbox --default=deny "${SB_OPEN_SYSTEM_RULES[@]}" --deny-open "$S/*" --open "$S/fifo:r" -- \
        "$SB_OPEN" open "$S/fifo" r,nonblock) || true
assert_eq "default deny: deny pattern, then a literal rule: the FIFO is EPERM" EPERM "$out"
# A FIFO a deny pattern covers is refused at once, not opened (which would block without O_NONBLOCK).
start=$(sb_now_ms)
out=$(sandbox --deny-open "$S/*" --open "$S/fifo:r" -- "$SB_OPEN" open "$S/fifo" r) || true
elapsed=$(($(sb_now_ms) - start))
assert_eq "deny pattern: a blocking open of the FIFO is EPERM" EPERM "$out"
# The broker gives up a blocked open after 10 s; a whole run on a loaded machine may take a few.
assert_true "at once, not after the broker's open timed out (${elapsed} ms)" test "$elapsed" -lt 8500

# The literal rule first: it decides, and opens.
out=$(sandbox --open "$S/fifo:r" --deny-open "$S/*" -- "$SB_OPEN" open "$S/fifo" r,nonblock) || true
assert_eq "a literal rule, then deny pattern: the FIFO is opened" "ok cloexec=0 data=" "$out"
out=$(sandbox --open "$S/null:rw" --deny-open "$S/*" -- "$SB_OPEN" open "$S/null" rw) || true
assert_eq "a literal rule, then deny pattern: c 1:3 is opened" "ok cloexec=0 data=" "$out"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
