#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# org.freedesktop.LogControl1 (what `systemctl service-log-level` and `service-log-target` call): anyone reads
# LogLevel, LogTarget and SyslogIdentifier; only root may set them, and an unknown level or a target sysbrokerd
# does not have is refused with InvalidArgs, changing nothing. A new level changes what is logged at once, in
# the listener threads too: a call the listener's default action continues is logged at debug only.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"

LC=(org.sysbroker.Broker1 /org/freedesktop/LogControl1 org.freedesktop.LogControl1)
LOG=$T/sysbrokerd.log

get() {
    busctl get-property "${LC[@]}" "$1" 2>&1
}

# The suite starts the daemon with --log-level=debug.
assert_eq "LogLevel is what --log-level set" 's "debug"' "$(get LogLevel)"
assert_eq "LogTarget: auto" 's "auto"' "$(get LogTarget)"
assert_eq "SyslogIdentifier: sysbrokerd" 's "sysbrokerd"' "$(get SyslogIdentifier)"
assert_eq "an unprivileged user reads LogLevel" 's "debug"' \
    "$(run_as_user busctl get-property "${LC[@]}" LogLevel 2>&1)"

# Only root may write: sd-bus refuses a Set of a property not marked unprivileged from a caller without
# CAP_SYS_ADMIN.
out=$(run_as_user busctl set-property "${LC[@]}" LogLevel s err 2>&1) && rc=0 || rc=$?
assert_eq "an unprivileged user cannot set LogLevel" 1 "$rc"
assert_contains "access denied" "$out" "Access denied"
out=$(run_as_user busctl set-property "${LC[@]}" LogTarget s null 2>&1) && rc=0 || rc=$?
assert_contains "nor LogTarget" "$out" "Access denied"
assert_eq "LogLevel unchanged" 's "debug"' "$(get LogLevel)"
assert_eq "LogTarget unchanged" 's "auto"' "$(get LogTarget)"

out=$(busctl set-property "${LC[@]}" LogLevel s loud 2>&1) && rc=0 || rc=$?
assert_contains "an unknown level is refused, naming it" "$out" "Invalid log level 'loud'"
out=$(busctl set-property "${LC[@]}" LogTarget s kmsg 2>&1) && rc=0 || rc=$?
assert_contains "a target sysbrokerd does not have is refused" "$out" "Log target 'kmsg' is not supported"
assert_eq "still debug, still auto" 's "debug" s "auto"' "$(get LogLevel) $(get LogTarget)"

# A call continued by the default action (mkfifo needs no privilege) is logged at debug only.
continued() {
    grep -c "continued by the listener's default action" "$LOG" || true
}
fifo() {
    rm -f "$T/work/$1"
    run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $T/work/null" -- mkfifo "$T/work/$1" >/dev/null 2>&1
}
before=$(continued)
fifo f1
assert_eq "at debug, the default's continue is logged" $((before + 1)) "$(continued)"

assert_true "root sets LogLevel info" busctl set-property "${LC[@]}" LogLevel s info
assert_eq "LogLevel reads info" 's "info"' "$(get LogLevel)"
assert_true "the change is logged, with who asked" grep -q "Setting log level to info (was debug), asked by uid 0" "$LOG"
before=$(continued)
fifo f2
assert_eq "at info, it is not" "$before" "$(continued)"
assert_true "the FIFO was made all the same" test -p "$T/work/f2"

# Numbers, as systemd takes them.
assert_true "root sets LogLevel 7" busctl set-property "${LC[@]}" LogLevel s 7
assert_eq "LogLevel reads debug" 's "debug"' "$(get LogLevel)"
before=$(continued)
fifo f3
assert_eq "at debug again, logged again" $((before + 1)) "$(continued)"

# A target: null drops everything, console brings it back.
assert_true "root sets LogTarget null" busctl set-property "${LC[@]}" LogTarget s null
assert_true "said as the last line before" grep -q "Setting log target to null (was auto), asked by uid 0" "$LOG"
lines=$(wc -l <"$LOG")
fifo f4
assert_eq "with null, nothing is logged" "$lines" "$(wc -l <"$LOG")"
assert_true "root sets LogTarget console" busctl set-property "${LC[@]}" LogTarget s console
assert_true "with console, lines again" grep -q "Set log target to console (was null)" "$LOG"
assert_eq "LogTarget reads console" 's "console"' "$(get LogTarget)"

sb_finish
