#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# No registration is lost to idle exit. The bus starts sysbrokerd on demand (a D-Bus activation file, as
# systemd does through SystemdService=), and it exits after 1 s idle, giving its bus name up first. A stand-in
# for systemd does what systemd does to a Type=dbus service whose name goes away: it stops it (SIGTERM),
# whatever the daemon still has in hand.
#
# Each round puts registrations right into the moment of giving the name up: the bus is stopped (SIGSTOP) while
# the daemon is busy with nothing; the registrations are sent (they wait in the bus); the daemon's idle
# deadline passes and it sends ReleaseName (which waits too); then the bus goes on, and hands the daemon the
# registrations before it takes the name back. Served there, they would be dropped by the stop. The daemon
# answers them ServiceUnknown instead, and the client calls again once, which starts a new instance: every
# registration must succeed.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
[ "$(uname -m)" = x86_64 ] || sb_skip "the system call number used here (ppoll) is x86_64's"
sb_require_programs dbus-monitor

mkdir -p "$T/services"
cat >"$T/start-broker.sh" <<SCRIPT
#!/bin/sh
exec env DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/bus.sock "$SYSBROKERD" --idle-timeout=1 --log-level=debug \
        >>"$T/sysbrokerd.log" 2>&1
SCRIPT
chmod 755 "$T/start-broker.sh"
cat >"$T/services/org.sysbroker.Broker1.service" <<SERVICE
[D-BUS Service]
Name=org.sysbroker.Broker1
Exec=$T/start-broker.sh
SERVICE
SB_BUS_SERVICEDIR=$T/services sb_start_bus
sb_mount_polkit_dirs
set_polkit_rules "$SB_RULES/allow-all.rules"
sb_start_polkitd

owner_pid() {
    busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetConnectionUnixProcessID \
        s "$1" 2>/dev/null | cut -d' ' -f2
}

# The systemd stand-in: the pid of each new owner of the name, looked up when it takes the name, gets SIGTERM
# as soon as the name has no owner (systemd 252: service_good() is false for a Type=dbus service without its
# name, and a running service that is not good is stopped).
mkfifo "$T/monitor.fifo"
dbus-monitor --system "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.sysbroker.Broker1'" \
        >"$T/monitor.fifo" 2>/dev/null &
SB_PIDS+=($!)
(
    owner="" strings=()
    while read -r line; do
        case $line in
            *member=NameOwnerChanged*) strings=() ;;
            string\ *) line=${line#string \"}; strings+=("${line%\"}") ;;
        esac
        [ "${#strings[@]}" = 3 ] || continue
        if [ -n "${strings[2]}" ]; then
            owner=$(owner_pid "${strings[2]}")
        elif [ -n "$owner" ]; then
            kill -TERM "$owner" 2>/dev/null && echo "stopped $owner" >>"$T/stand-in.log"
            owner=""
        fi
        strings=()
    done <"$T/monitor.fifo"
) &
SB_PIDS+=($!)

# The first field of /proc/PID/syscall: the system call it waits in (271: ppoll on x86_64, where sd-bus waits
# for a reply; the daemon idles in epoll_wait).
in_syscall() {
    [ "$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null)" = "$2" ]
}
PPOLL=271

ROUNDS=4
CLIENTS=4
failed=0
for ((round = 0; round < ROUNDS; round++)); do
    R=$T/work/round-$round
    run_as_user mkdir "$R"
    pids=()
    for ((i = 0; i < CLIENTS; i++)); do
        # run_as_user's subshell, without the function around it: $! is the client's own pid.
        (cd "$T/work" && exec setpriv --reuid="$SB_TEST_UID" --regid="$SB_TEST_GID" --clear-groups -- \
                "$SB_REGISTER" "$R/ready-$i" "$R/go" >"$T/register-$round-$i.out" 2>&1) &
        pids+=($!)
    done
    for ((i = 0; i < CLIENTS; i++)); do
        sb_wait_for 20 "client $i to be connected" test -e "$R/ready-$i"
    done
    # The daemon, started by the bus if it is not running; its idle deadline is 1 s from this call.
    busctl call org.sysbroker.Broker1 /org/sysbroker/Broker1 org.freedesktop.DBus.Peer Ping >/dev/null ||
        sb_die "sysbrokerd does not answer"
    daemon=$(owner_pid "$(busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
            GetNameOwner s org.sysbroker.Broker1 | cut -d'"' -f2)")
    [ -n "$daemon" ] || sb_die "no pid for the owner of org.sysbroker.Broker1"

    kill -STOP "$SB_BUS_PID"
    touch "$R/go"
    stuck=""
    for ((i = 0; i < CLIENTS; i++)); do
        # The registration is written (to the stopped bus) and its reply awaited.
        sb_poll 10 in_syscall "${pids[$i]}" "$PPOLL" || stuck="client $i"
    done
    # Past its deadline, the daemon waits for ReleaseName's reply.
    sb_poll 10 in_syscall "$daemon" "$PPOLL" || stuck="${stuck:+$stuck, }the daemon"
    kill -CONT "$SB_BUS_PID"
    [ -z "$stuck" ] || echo "# round $round: $stuck did not get to waiting for the bus in time"

    for ((i = 0; i < CLIENTS; i++)); do
        rc=0
        wait "${pids[$i]}" || rc=$?
        out=$(cat "$T/register-$round-$i.out")
        if [ "$rc" != 0 ] || [ "$out" != registered ]; then
            failed=$((failed + 1))
            echo "# round $round, client $i: exit $rc: $out"
        fi
    done
    sb_poll 10 sh -c "! kill -0 $daemon 2>/dev/null" || sb_die "the old daemon $daemon did not exit"
done

asked_again=$(grep -c 'came in while giving up the bus name' "$T/sysbrokerd.log" || true)
instances=$(grep -c 'sysbrokerd [^ ]* running' "$T/sysbrokerd.log" || true)
echo "# $ROUNDS rounds of $CLIENTS registrations: $instances daemon instances, $asked_again calls asked again"
assert_eq "every registration succeeded" 0 "$failed"
assert_true "registrations did reach a daemon giving its name up" test "$asked_again" -ge 1

sb_finish
