#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Opening can block (a FIFO without a writer). A glob rule never opens a FIFO (nor a device node): refused
# at once. A rule that
# names the FIFO literally does open it, on that listener's own thread: another sandbox's opens keep being
# answered meanwhile, a writer arriving completes the open, and with no writer the broker gives up after its
# timeout (EINTR) and the listener goes on working.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

# What the broker promises: a blocked emulation is interrupted after this many seconds.
BROKER_TIMEOUT_S=10
# "At once" is told from "after the broker gave up" with a margin for a loaded machine: a whole run (polkit,
# the loader's own opens) may take seconds, a blocked open takes the full timeout.
AT_ONCE_MS=$((BROKER_TIMEOUT_S * 1000 - 1500))

D=$T/work/fifo
mkdir -m 0755 "$D" "$D/fifos" "$D/files"
mkfifo -m 0600 "$D/fifos/f"
sb_put_file "$D/files/file" root:root 0600 "B-DATA"

sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}

# --- Under a glob rule: refused at once -------------------------------------------------------------------
start=$(sb_now_ms)
out=$(sandbox --open "$D/fifos/*" -- cat "$D/fifos/f") || true
elapsed=$(($(sb_now_ms) - start))
assert_contains "glob rule: a FIFO is not opened (the kernel's EACCES)" "$out" "Permission denied"
assert_true "glob rule: refused long before the broker's timeout (${elapsed} ms)" \
        test "$elapsed" -lt $AT_ONCE_MS
out=$(sandbox --default=deny "${SB_OPEN_SYSTEM_RULES[@]}" --open "$D/fifos/*" -- cat "$D/fifos/f") || true
assert_contains "glob rule, default deny: EPERM" "$out" "Operation not permitted"
out=$(sandbox --open "$D/fifos/*" -- "$SB_OPEN" open "$D/fifos/f" r,nonblock) || true
assert_eq "glob rule: not even with O_NONBLOCK" EACCES "$out"

# A device node (here a root-only copy of /dev/zero) is the same: only a literal rule opens it.
mkdir -m 0755 "$D/devs"
mknod -m 0600 "$D/devs/zero" c 1 5
out=$(sandbox --open "$D/devs/*" -- sh -c "head -c 2 '$D/devs/zero' | od -An -tx1") || true
assert_contains "glob rule: a device node is not opened" "$out" "Permission denied"
out=$(sandbox --open "$D/devs/zero" -- sh -c "head -c 2 '$D/devs/zero' | od -An -tx1") || true
assert_eq "literal rule: the device node is opened" "00 00" "$(echo $out)"

# --- A literal rule: the open blocks sandbox A's listener only --------------------------------------------
# The cat's own pid is what we watch: a child shell writes it and becomes cat.
cat >"$T/work/a.sh" <<SCRIPT
sh -c 'echo \$\$ > "$T/work/a.pid"; exec cat "$D/fifos/f"'
echo cat-exit=\$?
cat "$D/files/file"
SCRIPT
run_as_user "$SYSBROKERCTL" run --open "$D/fifos/f" --open "$D/files/*" -- sh "$T/work/a.sh" >"$T/a.out" 2>&1 &
a=$!
a_start=$(sb_now_ms)
assert_true "sandbox A's cat is parked in its open of the FIFO" sb_poll 10 sb_trapped "$T/work/a.pid" cat
sleep 0.5

start=$(sb_now_ms)
out=$(sandbox --open "$D/files/*" -- cat "$D/files/file") || true
b_elapsed=$(($(sb_now_ms) - start))
assert_eq "sandbox B's cat is answered meanwhile" B-DATA "$out"
assert_true "while A's open is still blocked" sb_trapped "$T/work/a.pid" cat
assert_true "B took well under A's timeout (${b_elapsed} ms)" test "$b_elapsed" -lt $AT_ONCE_MS

# A gets EINTR once the broker gives up, and its listener answers its next open.
rc=0
wait "$a" || rc=$?
a_elapsed=$(($(sb_now_ms) - a_start))
a_out=$(cat "$T/a.out")
echo "# sandbox A after ${a_elapsed} ms: $a_out"
assert_contains "A's open of the FIFO is interrupted" "$a_out" "Interrupted system call"
assert_contains "and cat fails" "$a_out" "cat-exit=1"
assert_true "after the broker's timeout, not at once (${a_elapsed} ms)" \
        test "$a_elapsed" -ge $((BROKER_TIMEOUT_S * 1000 / 2))
assert_contains "A's listener answers its next open" "$a_out" B-DATA

# --- O_NONBLOCK reaches the broker's open: no wait for a writer ---------------------------------------------
start=$(sb_now_ms)
out=$(sandbox --open "$D/fifos/f" -- "$SB_OPEN" open "$D/fifos/f" r,nonblock) || true
elapsed=$(($(sb_now_ms) - start))
assert_eq "literal rule: O_RDONLY|O_NONBLOCK opens the FIFO" "ok cloexec=0 data=" "$out"
assert_true "at once (${elapsed} ms)" test "$elapsed" -lt $AT_ONCE_MS

# --- A writer arriving completes the blocked open ---------------------------------------------------------
rm -f "$T/work/a.pid"
run_as_user "$SYSBROKERCTL" run --open "$D/fifos/f" -- \
        sh -c "echo \$\$ > '$T/work/a.pid'; exec cat '$D/fifos/f'" >"$T/a2.out" 2>&1 &
a=$!
if sb_poll 10 sb_trapped "$T/work/a.pid" cat; then
    sleep 0.3
    echo "through the FIFO" >"$D/fifos/f"
    rc=0
    wait "$a" || rc=$?
    assert_eq "with a writer, the literal rule's open completes and cat reads" "through the FIFO" \
            "$(cat "$T/a2.out")"
    assert_eq "and exits 0" 0 "$rc"
else
    sb_not_ok "sandbox A2's cat reached its open of the FIFO" "$(cat "$T/a2.out")"
    kill -KILL "$a" 2>/dev/null || true
fi

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

# --- Stopped without a service manager to keep its listeners: a waiting open is interrupted -------------
# Nobody would answer it after the daemon is gone (the kernel says ENOSYS once the listener closes):
# interrupted, the sandbox learns it at once, with EINTR as from a signal.
rm -f "$T/work/a.pid"
run_as_user "$SYSBROKERCTL" run --open "$D/fifos/f" -- \
        sh -c "echo \$\$ > '$T/work/a.pid'; exec cat '$D/fifos/f'" >"$T/a3.out" 2>&1 &
a=$!
if sb_poll 10 sb_trapped "$T/work/a.pid" cat; then
    kill -TERM "$SB_BROKER_PID"
    wait "$a" || true
    # Left to a next daemon that never comes, it would fail with ENOSYS once the daemon is gone.
    assert_contains "SIGTERM: the waiting open is interrupted" "$(cat "$T/a3.out")" "Interrupted system call"
    assert_false "nothing is left to a next daemon" grep -q "to the next daemon" "$T/sysbrokerd.log"
else
    sb_not_ok "sandbox A3's cat reached its open of the FIFO" "$(cat "$T/a3.out")"
    kill -KILL "$a" 2>/dev/null || true
fi

sb_finish
