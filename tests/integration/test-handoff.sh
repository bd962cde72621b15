#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hand-off at the last exec: `sysbrokerctl run --handoff` runs a launcher without a filter; the
# `sysbrokerctl exec` it finally runs filters itself, hands the listener out and runs the sandbox's
# command once the outer side registered it. Only the command's calls reach the listener, the hand-off
# socket does not reach the command, a refused registration stops the command from running, a launcher
# that exits first ends the hand-off, and a real launcher (bwrap, unsharing everything including the bus)
# works the same way.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs unshare
sb_start_all "$SB_RULES/allow-all.rules"

D=$T/work/dev
run_as_user mkdir "$D"

# The launcher makes calls of its own before the hand-off: a FIFO (which the kernel allows) and a device
# node (which it refuses in a user namespace). A filter installed too early would trap both.
cat >"$T/launcher.sh" <<LAUNCHER
mkfifo '$D/launcher-fifo'; echo launcher-mkfifo=\$?
mknod '$D/launcher-null' c 1 3 2>/dev/null; echo launcher-mknod=\$?
export HANDOFF_NUM=\$SYSBROKER_HANDOFF_FD
exec '$SYSBROKERCTL' exec -- sh '$T/sandbox.sh'
LAUNCHER
cat >"$T/sandbox.sh" <<SANDBOX
mknod '$D/null' c 1 3; echo sandbox-mknod=\$?
mkfifo '$D/sandbox-fifo'; echo sandbox-mkfifo=\$?
echo "env=\${SYSBROKER_HANDOFF_FD:-unset}"
if [ -e "/proc/self/fd/\$HANDOFF_NUM" ]; then echo handoff-fd=open; else echo handoff-fd=closed; fi
touch '$T/work/ready'
while [ ! -e '$T/work/go' ]; do sleep 0.05; done
exit 3
SANDBOX

run_as_user "$SYSBROKERCTL" run --handoff --mknod "c 1:3 $D/null" -- unshare -Ur -- sh "$T/launcher.sh" \
        >"$T/handoff.log" 2>&1 &
ctl=$!
if sb_poll 10 test -e "$T/work/ready"; then
    lpath=$(sb_last_listener_path)
    # The sandbox's mknod and mkfifo; the launcher's two calls went to the kernel.
    assert_eq "only the sandbox's calls reach the listener" 2 \
        "$(sb_listener_counter "$lpath" Notifications 2>&1 | sed 's/^t //')"
    assert_eq "one of them emulated" 1 "$(sb_listener_counter "$lpath" Emulated 2>&1 | sed 's/^t //')"
else
    sb_not_ok "the sandbox got ready" "$(cat "$T/handoff.log")"
fi
touch "$T/work/go"
rc=0
wait "$ctl" || rc=$?
out=$(cat "$T/handoff.log")
assert_eq "run --handoff exits with the command's status" 3 "$rc"
assert_contains "the launcher's mkfifo worked, unfiltered" "$out" "launcher-mkfifo=0"
assert_contains "the launcher's mknod was the kernel's to refuse" "$out" "launcher-mknod=1"
assert_false "no node for the launcher" test -e "$D/launcher-null"
assert_contains "the sandbox's mknod succeeded through the broker" "$out" "sandbox-mknod=0"
assert_eq "the node is the device of the rule" "character special file 1:3" \
        "$(stat -c '%F %Hr:%Lr' "$D/null" 2>&1)"
assert_contains "the sandbox's own mkfifo continued to the kernel" "$out" "sandbox-mkfifo=0"
assert_contains "the command does not see SYSBROKER_HANDOFF_FD" "$out" "env=unset"
assert_contains "nor inherits the hand-off socket" "$out" "handoff-fd=closed"
assert_true "the listener goes with the sandbox" sb_wait_nlisteners 0

# A launcher that never hands off: its failure is passed on, and its success is not taken for one.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --handoff --mknod "c 1:3 $D/null" -- sh -c 'exit 7' 2>&1) || rc=$?
assert_eq "a launcher's failure before the hand-off is its exit status" 7 "$rc"
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --handoff --mknod "c 1:3 $D/null" -- true 2>&1) || rc=$?
assert_eq "a launcher that never runs 'exec' makes run fail" 125 "$rc"
assert_contains "saying so" "$out" "without handing off a listener"

# A launcher that exits and leaves its end to a process in the background: run --handoff ends with the
# launcher instead of waiting for that process (which ignored SIGINT and SIGTERM), and the 'exec' the
# process runs later is refused. The background process writes elsewhere: $(...) would wait for it.
rc=0
out=$(run_as_user timeout -s KILL 30 "$SYSBROKERCTL" run --handoff --mknod "c 1:3 $D/null" -- sh -c \
        "(sleep 2; '$SYSBROKERCTL' exec -- touch '$T/work/late'; echo late-exec=\$? >'$T/work/late-exit') \
         >'$T/work/late.log' 2>&1 & exit 0" 2>&1) || rc=$?
assert_false "run --handoff returns before the background process hands off" test -e "$T/work/late-exit"
assert_eq "a launcher gone before the hand-off makes run fail" 125 "$rc"
assert_contains "saying so" "$out" "exited before handing off a listener"
if sb_poll 10 test -s "$T/work/late-exit"; then
    assert_eq "the late exec exits 125" "late-exec=125" "$(cat "$T/work/late-exit")"
else
    sb_not_ok "the background process finished" "$(cat "$T/work/late.log" 2>&1)"
fi
assert_false "its command did not run" test -e "$T/work/late"
assert_eq "no listener registered for it" 0 "$(sb_nlisteners)"

# exec outside a hand-off runs nothing.
rc=0
out=$(run_as_user env SYSBROKER_HANDOFF_FD=0 "$SYSBROKERCTL" exec -- touch "$T/work/ran0" 2>&1 </dev/null) ||
        rc=$?
assert_eq "exec without a hand-off socket exits 125" 125 "$rc"
assert_contains "saying why" "$out" "No hand-off socket"
assert_false "and does not run the command" test -e "$T/work/ran0"

# polkit refuses the registration: the sandbox's command does not run, exec exits 125 with the reason.
set_polkit_rules "$SB_RULES/deny-mknod-device.rules"
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --handoff --mknod "c 10:200 $D/tun" -- unshare -Ur -- \
        sh -c "touch '$T/work/launched'; '$SYSBROKERCTL' exec -- touch '$T/work/ran'; echo exec-exit=\$?" \
        2>&1) || rc=$?
assert_eq "refused registration: run --handoff exits 125" 125 "$rc"
assert_contains "exec exits 125" "$out" "exec-exit=125"
assert_contains "the refusal is on stderr" "$out" \
        "sysbrokerctl: Registration refused: org.freedesktop.DBus.Error.AccessDenied: "
assert_true "the launcher ran" test -e "$T/work/launched"
assert_false "the command did not" test -e "$T/work/ran"
assert_eq "no listener registered" 0 "$(sb_nlisteners)"
set_polkit_rules "$SB_RULES/allow-all.rules"

# A real launcher: bwrap unshares everything, the network and so the bus included. The file is root's
# alone; only the broker can open it for the sandbox.
if command -v bwrap >/dev/null 2>&1; then
    sb_put_file "$T/work/secret" root:root 0600 "HANDOFF-SECRET"
    # --tmpfs /tmp hides what is below /tmp: the test's directory, and the build's where CI clones there.
    ctl_dir=$(dirname "$(realpath "$SYSBROKERCTL")")
    rc=0
    out=$(run_as_user "$SYSBROKERCTL" run --handoff --open "$T/work/secret" -- \
            bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp \
                  --ro-bind "$T" "$T" --ro-bind "$ctl_dir" "$ctl_dir" \
                  -- "$SYSBROKERCTL" exec -- cat "$T/work/secret" 2>&1) || rc=$?
    assert_eq "bwrap: run --handoff exits 0" 0 "$rc"
    assert_eq "bwrap: the sandbox read the root-only file" "HANDOFF-SECRET" "$out"
    rc=0
    out=$(run_as_user bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc \
            --tmpfs /tmp --ro-bind "$T" "$T" -- cat "$T/work/secret" 2>&1) || rc=$?
    assert_contains "bwrap without the broker: permission denied" "$out" "Permission denied"
else
    echo "# bubblewrap is not installed: the bwrap case is not run"
fi


# SIGTERM sent to run while its command is stopped: passed on with a SIGCONT, as systemd does, so the
# command ends instead of keeping the signal pending and run waiting for it forever.
# (Not run_as_user: $! must be sysbrokerctl itself, not a subshell around it.)
(cd "$T/work" && exec setpriv --reuid="$SB_TEST_UID" --regid="$SB_TEST_GID" --clear-groups -- \
        "$SYSBROKERCTL" run --mknod "c 1:3 $D/stopped-null" -- sh -c 'kill -STOP $$; sleep 31.5') \
        >"$T/stopped.log" 2>&1 &
ctl=$!
if sb_poll 10 sh -c "ps -o stat= --ppid $ctl | grep T >/dev/null"; then
    kill -TERM "$ctl"
    # A watchdog, so that the failure is a status, not a hung test: SIGKILL makes it 137.
    (sleep 10; kill -KILL "$ctl" 2>/dev/null) &
    watchdog=$!
    rc=0
    wait "$ctl" || rc=$?
    kill "$watchdog" 2>/dev/null || true
    assert_eq "SIGTERM ends a stopped command: run exits 128+15" 143 "$rc"
else
    sb_not_ok "the command stopped itself" "$(cat "$T/stopped.log")"
    kill -KILL "$ctl" 2>/dev/null || true
fi

# The outer side finishes its bus connection (authentication, Hello()) while the launcher sets up, not after
# the hand-off, when the sandbox's command would wait for it: Hello() goes out before the launcher runs
# `sysbrokerctl exec`, which it does here only after half a second.
if command -v strace >/dev/null 2>&1; then
    # No LeakSanitizer under ptrace (a sanitized build's report, not this test's business).
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -qq -s 256 -e trace=sendmsg,execve -o "$T/hello.trace" -- \
        setpriv --reuid="$SB_TEST_UID" --regid="$SB_TEST_GID" --clear-groups -- \
        "$SYSBROKERCTL" run --handoff --continue-open=/nonexistent/x -- \
        sh -c "sleep 0.5; exec '$SYSBROKERCTL' exec -- true" >"$T/hello.log" 2>&1 || true
    hello=$(grep -n -m1 'sendmsg(.*Hello' "$T/hello.trace" | cut -d: -f1)
    inner=$(grep -n -m1 "execve(\"$SYSBROKERCTL\", \[[^]]*\"exec\"" "$T/hello.trace" | cut -d: -f1)
    if [ -n "$hello" ] && [ -n "$inner" ] && [ "$hello" -lt "$inner" ]; then
        sb_ok "Hello() is sent while the launcher sets up, before the inner side starts"
    else
        sb_not_ok "Hello() is sent while the launcher sets up, before the inner side starts" \
                  "Hello at line ${hello:-none}, inner exec at line ${inner:-none}: $(cat "$T/hello.log")"
    fi
else
    sb_ok "# SKIP strace is not installed: the order of Hello() and the hand-off is not checked"
fi

assert_true "no listener left behind" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
