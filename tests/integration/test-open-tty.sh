#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A terminal opened for a sandbox never becomes sysbrokerd's controlling terminal. The daemon leads its own
# session without a terminal (as under systemd, and here through lib.sh): the first terminal such a process
# opens without O_NOCTTY becomes its controlling terminal, and whoever holds the master could then signal it
# (^C, ^\, ^Z, hangup). A sandbox makes a pty, hands the slave (root-only, so only the broker can open it) to
# a second sandbox through a literal open rule or a HostPath rule; the daemon must keep no terminal, and
# survive and go on answering whatever is typed on the master and when it is closed.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client
[ -x "${SB_PTY:-}" ] || sb_die "SB_PTY helper not built: '${SB_PTY:-}'"

D=$T/work/tty
mkdir -m 0755 "$D"
sb_put_file "$D/file" root:root 0600 "STILL-ANSWERING"

sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}

# Fields of /proc/PID/stat after the command name: 1 state, 2 ppid, 3 pgrp, 4 session, 5 tty_nr.
stat_field() {
    local pid=$1 n=$2 stat rest
    stat=$(cat "/proc/$pid/stat") || return 1
    rest=${stat##*) }
    cut -d' ' -f"$n" <<<"$rest"
}

# The kernel would hand a terminal to such a daemon: a session leader without one that opens a pty slave
# without O_NOCTTY gets it. Without that the test below proves nothing.
out=$(run_as_user "$SB_PTY" selftest 2>&1) || true
case "$out" in
    ctty=1) sb_ok "control: a session leader opening a pty slave without O_NOCTTY gets a controlling terminal" ;;
    ctty=0) sb_not_ok "control: a session leader opening a pty slave without O_NOCTTY gets a controlling terminal" \
                "the kernel did not hand it the terminal" ;;
    *) sb_skip "no pseudo-terminals here: $out" ;;
esac

assert_eq "sysbrokerd leads its own session" "$SB_BROKER_PID" "$(stat_field "$SB_BROKER_PID" 4)"
assert_eq "sysbrokerd starts without a controlling terminal" 0 "$(stat_field "$SB_BROKER_PID" 5)"

# tty_case NAME PATH RULE-OPTIONS...: "@SLAVE@" in PATH and the options stands for the slave's path.
tty_case() {
    local name=$1 path=$2 helper slave out i
    shift 2
    local fifo=$T/work/pty-cmd.fifo log=$T/pty-master.out opts=()

    rm -f "$fifo" "$log"
    mkfifo -m 0600 "$fifo"
    # The master's sandbox: its open of /dev/ptmx is the kernel's (no rule matches it).
    run_as_user "$SYSBROKERCTL" run --open "$D/none" -- "$SB_PTY" master <"$fifo" >"$log" 2>&1 &
    helper=$!
    exec 7>"$fifo"
    if ! sb_poll 10 grep -q '^slave=' "$log"; then
        sb_not_ok "$name: the master's sandbox made a pty" "$(cat "$log")"
        exec 7>&-
        kill -KILL "$helper" 2>/dev/null || true
        return 0
    fi
    slave=$(sed -n 's/^slave=//p' "$log")
    echo "# $name: slave $slave"
    # Only the broker can open it for the sandbox now.
    chown root:root "$slave"
    chmod 0600 "$slave"
    path=${path//@SLAVE@/$slave}
    for i in "$@"; do
        opts+=("${i//@SLAVE@/$slave}")
    done

    out=$(sandbox --open "$D/none" -- "$SB_PTY" open "$slave") || true
    assert_eq "$name: control: without a rule the root-only slave is refused" EACCES "$out"
    out=$(sandbox "${opts[@]}" -- "$SB_PTY" open "$path") || true
    assert_eq "$name: the sandbox opens the slave through the broker" "ok tty=1" "$out"
    assert_eq "$name: sysbrokerd has no controlling terminal after opening it" 0 \
            "$(stat_field "$SB_BROKER_PID" 5)"

    # Type what would signal the terminal's foreground process group, then hang up.
    # (In a subshell: should the helper be gone, SIGPIPE ends that, not the test.)
    (printf 'intr\nquit\nsusp\n' >&7) 2>/dev/null || true
    sb_poll 10 grep -q '^sent susp' "$log" || sb_not_ok "$name: ^C, ^\\ and ^Z were typed" "$(cat "$log")"
    (echo hangup >&7) 2>/dev/null || true
    exec 7>&-
    wait "$helper" || true
    assert_contains "$name: the master was closed (hangup)" "$(cat "$log")" closed
    # A signal is delivered, and handled, asynchronously.
    sleep 0.5

    assert_true "$name: sysbrokerd is still running" sb_broker_alive
    # Not stopped by SIGTTOU/SIGTTIN (T, or t when traced); running or sleeping are both fine.
    state=$(stat_field "$SB_BROKER_PID" 1)
    assert_true "$name: and not stopped (state $state)" test "$state" != T -a "$state" != t
    assert_eq "$name: and still without a controlling terminal" 0 "$(stat_field "$SB_BROKER_PID" 5)"
    out=$(timeout 20 setpriv --reuid="$SB_TEST_UID" --regid="$SB_TEST_GID" --clear-groups -- \
            "$SYSBROKERCTL" run --open "$D/*" -- cat "$D/file" 2>&1) || true
    assert_eq "$name: and it answers the next sandbox's open" STILL-ANSWERING "$out"
    assert_true "$name: the name is still owned" sb_name_has_owner org.sysbroker.Broker1
}

tty_case "literal rule" @SLAVE@ --open "@SLAVE@:rw"
tty_case "HostPath rule" "$D/term" --open-host "$D/term=@SLAVE@:rw"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
