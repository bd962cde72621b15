#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Restarts lose nothing. sysbrokerd runs under a stand-in for systemd's service manager
# (fake-service-manager.py: its file descriptor store and LISTEN_FDS, nothing else; the boot suite has the
# real one). A sandbox makes emulated mknod calls one after the other while the daemon is restarted
# (SIGTERM) and killed (SIGKILL) several times: every call succeeds; none is lost, none fails. The listener
# comes back with its id, owner and rules; a mount it made before a restart is still its to unmount after
# one. "stop" (the service manager lets go of the fds) releases the sandbox: its calls fail with ENOSYS.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs python3
sb_start_bus
sb_mount_polkit_dirs
set_polkit_rules "$SB_RULES/allow-all.rules"
sb_start_polkitd

# With the peer-to-peer socket too: a user's subordinate uids have no passwd entry, which dbus-daemon requires.
SB_SOCKET=$T/sysbrokerd.sock
coproc SM { exec python3 "$SRCDIR/tests/integration/fake-service-manager.py" --socket="$SB_SOCKET" "$T/notify" \
        "$SYSBROKERD" --no-idle-exit --log-level=debug 2>>"$T/sysbrokerd.log"; }
SB_PIDS+=("$SM_PID")
# sm COMMAND: one command to the service manager, its one-line answer on stdout.
sm() {
    local reply
    echo "$1" >&"${SM[1]}"
    read -r -t 60 reply <&"${SM[0]}" || reply="(no answer)"
    echo "$reply"
}
ready() {
    local reply
    reply=$(sm start)
    [[ $reply == ready* ]] || sb_die "sysbrokerd did not start: $reply"
    sb_wait_for 20 "sysbrokerd to own org.sysbroker.Broker1" sb_name_has_owner org.sysbroker.Broker1
}
ready

D=$T/work/restart
run_as_user mkdir "$D" "$D/mnt"
SB_MOUNTS+=("$D/mnt")

# The sandbox: mknod in a loop until told to stop; a tmpfs mounted before the restarts and unmounted after.
script="
'$SB_MOUNT' mount none '$D/mnt' tmpfs - size=64k && echo mount=ok
touch '$D/started'
'$SB_MKNOD' count '$D' '$D/stop'
u=\$('$SB_MOUNT' umount '$D/mnt') && u=ok; echo \"umount=\$u\"
"
run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/node" --mount "tmpfs - $D/mnt:size=*" \
        --deny-mknod "c 1:5 $D/*" --default=deny --description "restart test" -- sh -c "$script" \
        >"$T/sandbox.out" 2>&1 &
sandbox_pid=$!
sb_wait_for 20 "the sandbox to start its calls" test -e "$D/started"
assert_eq "the service manager holds the listener and its state" "fds listener-1 state-1" "$(sm fds)"
assert_eq "one listener before" 1 "$(sb_nlisteners)"
path=/org/sysbroker/Broker1/listener/1
listener_property() {
    sb_broker_property "$path" org.sysbroker.Broker1.Listener "$1"
}
rules_before=$(listener_property Rules)
default_before=$(listener_property DefaultAction)

restarts=0
kills=0
for round in 1 2 3; do
    sleep 0.3
    assert_eq "round $round: SIGTERM ends it cleanly" "exited 0" "$(sm term)"
    ready
    restarts=$((restarts + 1))
    sleep 0.3
    reply=$(sm kill)
    assert_eq "round $round: SIGKILL" "exited -9" "$reply"
    ready
    kills=$((kills + 1))
done
sleep 0.3

assert_eq "after $restarts restarts and $kills kills: still one listener" 1 "$(sb_nlisteners)"
assert_eq "the same id and owner" "$SB_TEST_UID" "$(listener_property OwnerUID)"
assert_eq "the same description" '"restart test"' "$(listener_property Description)"
# Every key of every rule, deny rule and defaults included, as registered.
assert_eq "the same rules" "$rules_before" "$(listener_property Rules)"
assert_contains "(which hold the mknod, mount and deny rules)" "$rules_before" "\"$D/node\""
assert_eq "the same default action" "$default_before" "$(listener_property DefaultAction)"
assert_eq "(deny)" '"deny"' "$default_before"

touch "$D/stop"
rc=0
wait "$sandbox_pid" || rc=$?
out=$(cat "$T/sandbox.out")
printf '%s\n' "$out" | sed 's/^/# /'
calls=$(sed -n 's/^ok=\([0-9]*\) .*/\1/p' <<<"$out")
echo "# calls answered across $restarts restarts and $kills kills: ${calls:-?}"
assert_eq "the sandbox ends well" 0 "$rc"
assert_eq "the tmpfs was mounted before the restarts" ok "$(sed -n 's/^mount=//p' <<<"$out")"
assert_true "mknod calls were made throughout" test "${calls:-0}" -gt 100
assert_contains "every one of them succeeded" "$out" "failed=0 first-error=none"
assert_eq "the mount made before the restarts is still the listener's to unmount" ok \
        "$(sed -n 's/^umount=//p' <<<"$out")"
assert_eq "nothing left mounted" "" "$(awk -v t="$D/mnt" '$5 == t' /proc/self/mountinfo)"
assert_true "the daemon said it restored the listener" grep -q "Listener 1 of uid $SB_TEST_UID restored after a restart" \
        "$T/sysbrokerd.log"
store_is_empty() {
    [ "$(sm fds)" = fds ]
}
assert_true "a listener that ended is let go by the service manager" sb_poll 10 store_is_empty

# A call in progress at a restart is left to the next daemon, not cut short: a FIFO's open, blocked in the
# daemon (a literal rule) until a writer comes, completes after the restart instead of failing with EINTR.
mkfifo "$D/fifo"
run_as_user "$SYSBROKERCTL" run --open "$D/fifo" -- sh -c "echo \$\$ > '$D/reader.pid'; exec cat '$D/fifo'" \
        >"$T/fifo.out" 2>&1 &
reader=$!
sb_wait_for 20 "the reader to wait in its open of the FIFO" sb_trapped "$D/reader.pid" cat
assert_eq "restart during the open" "exited 0" "$(sm term)"
assert_true "the daemon said it left the call to the next one" \
        grep -q "still in a call, leaving it to the next daemon" "$T/sysbrokerd.log"
ready
timeout 20 sh -c "echo fifo-data > '$D/fifo'" || sb_not_ok "a writer opened the FIFO (no reader)"
rc=0
wait "$reader" || rc=$?
assert_eq "the open completed after the restart" fifo-data "$(cat "$T/fifo.out")"
assert_eq "and the reader ends well" 0 "$rc"
assert_true "its listener is let go" sb_poll 10 store_is_empty

# "stop": the service manager lets go of everything; the kernel then answers the sandbox's calls with ENOSYS.
rm -f "$D/stop" "$D/started"
run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/node" -- sh -c "
touch '$D/started'
while [ ! -e '$D/stopped' ]; do sleep 0.05; done
'$SB_MKNOD' count '$D' '$D/stop' &
sleep 0.5; touch '$D/stop'; wait" >"$T/sandbox2.out" 2>&1 &
sandbox_pid=$!
sb_wait_for 20 "the second sandbox" test -e "$D/started"
assert_eq "stop" "exited 0" "$(sm stop)"
touch "$D/stopped"
rc=0
wait "$sandbox_pid" || rc=$?
out=$(cat "$T/sandbox2.out")
printf '%s\n' "$out" | sed 's/^/# /'
assert_contains "after stop, the sandbox's calls fail with ENOSYS" "$out" "first-error=ENOSYS"
assert_contains "all of them" "$out" "ok=0 "
assert_eq "the service manager holds nothing" fds "$(sm fds)"

# A restarted daemon charges a listener to the user it charged before: one registered from the test user's
# subordinate uid (host uid 100000 in a user namespace the test user made, mapped by root as newuidmap would)
# is the test user's, with one listener allowed per user, also after a restart.
assert_eq "one listener per user from now on" ok "$(sm "args --max-listeners-per-user=1")"
ready
run_as_user unshare -U sh -c "echo \$\$ > '$T/work/ns.pid'; exec sleep 120" &
ns_holder=$!
sb_wait_for 10 "the user namespace" test -s "$T/work/ns.pid"
ns_pid=$(cat "$T/work/ns.pid")
# The same number inside: D-Bus authentication compares the uid a client names with the one the kernel gives.
echo "100000 100000 1" >"/proc/$ns_pid/uid_map"
echo "100000 100000 1" >"/proc/$ns_pid/gid_map"
nsenter --user --target "$ns_pid" --setuid 100000 --setgid 100000 \
        "$SYSBROKERCTL" --socket="$SB_SOCKET" run --mknod "c 1:3 $D/sub" -- sleep 120 >"$T/subordinate.out" 2>&1 &
subordinate=$!
if ! sb_poll 20 sb_nlisteners_is 1; then
    sed 's/^/# /' "$T/subordinate.out"
    sb_die "the subordinate uid's listener was not registered"
fi
second_listener() {
    run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/node" -- true 2>&1 || true
}
assert_contains "the user's second listener is refused" "$(second_listener)" LimitsExceeded
assert_eq "restart" "exited 0" "$(sm term)"
ready
assert_eq "the subordinate uid's listener is restored" 1 "$(sb_nlisteners)"
assert_contains "the user's second listener is still refused after a restart" "$(second_listener)" \
        LimitsExceeded
# sysbrokerctl passes SIGTERM on to its command.
kill "$subordinate" "$ns_holder" 2>/dev/null || true
wait "$subordinate" "$ns_holder" 2>/dev/null || true

sm quit >/dev/null
sb_finish
