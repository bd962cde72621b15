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

coproc SM { exec python3 "$SRCDIR/tests/integration/fake-service-manager.py" "$T/notify" \
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
        --description "restart test" -- sh -c "$script" >"$T/sandbox.out" 2>&1 &
sandbox_pid=$!
sb_wait_for 20 "the sandbox to start its calls" test -e "$D/started"
assert_eq "the service manager holds the listener and its state" "fds listener-1 state-1" "$(sm fds)"
assert_eq "one listener before" 1 "$(sb_nlisteners)"

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
path=/org/sysbroker/Broker1/listener/1
listener_property() {
    sb_broker_property "$path" org.sysbroker.Broker1.Listener "$1"
}
assert_eq "the same id and owner" "$SB_TEST_UID" "$(listener_property OwnerUID)"
assert_eq "the same description" '"restart test"' "$(listener_property Description)"
rules=$(listener_property Rules)
assert_contains "the same rules: mknod" "$rules" "\"$D/node\""
assert_contains "and mount" "$rules" "\"$D/mnt\""

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

sm quit >/dev/null
sb_finish
