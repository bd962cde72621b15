#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A rule that matches but is refused for a reason its owner can fix (here: mknod on a nodev mount) says so
# where the owner looks: the daemon's journal line names the rule (SYSBROKER_RULE=, its index and words),
# and `sysbrokerctl run --verbose` prints the same line on its stderr as it happens, on the system bus, on
# the socket and with --handoff. The RuleRefused signal it prints goes to the registrant's connection only:
# another user's, and another connection of the same user's, listening for everything the daemon sends, see
# the broadcast ListenerAdded of that listener but never its refusals (they name the sandbox's paths). A flood
# of refusals is bounded by the log's rate limit, in the journal and on the owner's terminal alike.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs unshare dbus-monitor python3

# A stand-in for journald's native socket, in our mount namespace only: the daemon sends its structured lines
# there when its stderr is "the journal's stream" (JOURNAL_STREAM names the log file's device and inode).
# Where the host has no journald, the directory is made for the test and removed after it, whatever happens.
JDIR=/run/systemd/journal
JPID=
created=
if [ ! -d "$JDIR" ]; then
    created=$(d=$JDIR; while [ ! -d "$(dirname "$d")" ]; do d=$(dirname "$d"); done; echo "$d")
    mkdir -p "$JDIR"
fi
journal_cleanup() {
    sb_kill_pid "$JPID"
    umount -l "$JDIR" 2>/dev/null
    [ -z "$created" ] || rm -rf "$created"
}
trap 'rc=$?; journal_cleanup; (exit $rc); sb_cleanup' EXIT
mount -t tmpfs -o mode=0755,size=1m sysbroker-journal "$JDIR" || sb_die "cannot mount a tmpfs on $JDIR"
SB_MOUNTS+=("$JDIR")
JOURNAL=$T/journal.txt
python3 - "$JDIR/socket" "$JOURNAL" >"$T/fake-journald.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536) + b"--\n")
PY
JPID=$!
SB_PIDS+=("$JPID")
sb_wait_for 10 "the fake journal socket" test -S "$JDIR/socket"
touch "$T/sysbrokerd.log"
export JOURNAL_STREAM=$(stat -c '%d:%i' "$T/sysbrokerd.log")
sb_start_all "$SB_RULES/allow-all.rules"
unset JOURNAL_STREAM

NODEV=$T/work/nodev
run_as_user mkdir "$NODEV"
mount -t tmpfs -o "nodev,mode=0755,uid=$SB_TEST_UID,gid=$SB_TEST_GID,size=1m" sysbroker-nodev "$NODEV" ||
        sb_die "cannot mount a nodev tmpfs on $NODEV"
SB_MOUNTS+=("$NODEV")

# Listening to every signal the daemon sends, as far as the bus lets them: another user, and the owner
# itself from another connection. Neither may monitor the bus (BecomeMonitor is root's); dbus-monitor falls
# back to match rules, eavesdropping included where the policy allows it.
# The bus admits users it knows: daemon (1) is in every Debian's passwd.
OTHER_UID=$(getent passwd daemon | cut -d: -f3) || sb_skip "no user 'daemon' to listen as"
setpriv --reuid="$OTHER_UID" --regid="$OTHER_UID" --clear-groups -- \
        dbus-monitor --system "type='signal',sender='org.sysbroker.Broker1'" >"$T/other-user.log" 2>&1 &
SB_PIDS+=("$!")
run_as_user dbus-monitor --system "type='signal',sender='org.sysbroker.Broker1'" >"$T/same-user.log" 2>&1 &
SB_PIDS+=("$!")
# Each prints the NameAcquired the bus sends it once its match rules are in place.
sb_wait_for 10 "the other user's dbus-monitor" grep -q member=NameAcquired "$T/other-user.log"
sb_wait_for 10 "the owner's dbus-monitor" grep -q member=NameAcquired "$T/same-user.log"

RULE="emulate mknod c 1:3 $NODEV/*"
# The command's own error message would share the pipe with sysbrokerctl's lines.
mknod_script="mknod '$NODEV/null' c 1 3 2>/dev/null; echo mknod-exit=\$?"

# The system bus.
out=$(run_as_user "$SYSBROKERCTL" run --verbose --mknod "c 1:3 $NODEV/*" -- unshare -Ur sh -c "$mknod_script" 2>&1) ||
        true
assert_contains "bus: mknod on the nodev mount is refused" "$out" "mknod-exit=1"
assert_contains "bus: --verbose prints the refusal, naming the rule" "$out" \
        "sysbrokerctl: rule 0 ($RULE) refused for pid "
assert_true "bus: and why" grep -qE \
        "^sysbrokerctl: rule 0 .* refused for pid [0-9]+: mknod c 1:3 '$NODEV/null' by task [0-9]+: the directory is on a nodev mount" \
        <<<"$out"
assert_eq "bus: once" 1 "$(grep -c "refused for pid" <<<"$out")"

# The journal: one structured line, with the rule's index among its fields.
sb_poll 5 grep -q "SYSBROKER_RULE=0" "$JOURNAL" || true
entry=$(awk -v RS='--\n' '/SYSBROKER_RULE=/ && /nodev mount/ { print; exit }' "$JOURNAL")
assert_contains "journal: SYSBROKER_RULE names the rule" "$entry" "SYSBROKER_RULE=0"
assert_contains "journal: the message names the rule in words" "$entry" "rule 0 ($RULE) refused for task"
assert_contains "journal: at warning" "$entry" "PRIORITY=4"
assert_contains "journal: with the path" "$entry" "SYSBROKER_PATH=$NODEV/null"

# Only the owner heard it.
sleep 0.5
assert_true "another user's dbus-monitor works: it saw the broadcast ListenerAdded" \
        grep -q "member=ListenerAdded" "$T/other-user.log"
assert_false "another user never receives RuleRefused" grep -q "RuleRefused" "$T/other-user.log"
assert_true "the owner's other connection saw ListenerAdded" grep -q "member=ListenerAdded" "$T/same-user.log"
assert_false "nor does the owner's other connection" grep -q "RuleRefused" "$T/same-user.log"
assert_false "no path of the sandbox's reached them" grep -q "$NODEV/null" "$T/other-user.log" "$T/same-user.log"

# The socket.
out=$(run_as_user "$SYSBROKERCTL" --socket="$SB_SOCKET" run --verbose --mknod "c 1:3 $NODEV/*" -- \
        unshare -Ur sh -c "$mknod_script" 2>&1) || true
assert_contains "socket: refused" "$out" "mknod-exit=1"
assert_contains "socket: --verbose prints the refusal" "$out" "sysbrokerctl: rule 0 ($RULE) refused for pid "

# --handoff: the owner is the outer sysbrokerctl, which registered the listener.
out=$(run_as_user "$SYSBROKERCTL" run --verbose --handoff --mknod "c 1:3 $NODEV/*" -- \
        unshare -Ur "$SYSBROKERCTL" exec -- sh -c "$mknod_script" 2>&1) || true
assert_contains "handoff: refused" "$out" "mknod-exit=1"
assert_contains "handoff: --verbose prints the refusal" "$out" "sysbrokerctl: rule 0 ($RULE) refused for pid "

# Another reason, another rule: an open rule (the second) whose file the sandbox replaced with a bind mount of
# its own is refused, as not the host's file.
F=$T/work/files
run_as_user mkdir "$F"
run_as_user sh -c "echo HOST > '$F/allowed'; echo OTHER > '$F/other'"
out=$(run_as_user "$SYSBROKERCTL" run --verbose --deny-open "$F/none" --open "$F/allowed" -- unshare -Urm sh -c \
        "mount --bind '$F/other' '$F/allowed' && cat '$F/allowed' 2>/dev/null; echo cat-exit=\$?" 2>&1) || true
assert_contains "open: the bound file is not read" "$out" "cat-exit=1"
assert_contains "open: --verbose names the second rule and says why" "$out" \
        "sysbrokerctl: rule 1 (emulate open $F/allowed r) refused for pid "
assert_contains "open: not the host's file, and what to do instead" "$out" \
        "is not the host's '$F/allowed' (a mount of the sandbox's own?), denying. A rule's path is the host's: a file bound at another path needs HostPath."
assert_true "open: the journal has SYSBROKER_RULE=1" sb_poll 5 grep -q "^SYSBROKER_RULE=1$" "$JOURNAL"

# Without --verbose nothing is printed (the journal still has it).
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $NODEV/*" -- unshare -Ur sh -c "$mknod_script" 2>&1) || true
assert_contains "quiet: refused" "$out" "mknod-exit=1"
assert_not_contains "quiet: nothing printed about it" "$out" "refused for pid"

# A flood: 200 refusals as fast as the sandbox can make them, then one more in the next window. The listener's
# log limit (20 lines per 10 s) holds for the journal and the owner's terminal alike, and the owner is told
# how many it missed with the first refusal after them.
BURST=20
sleep 10 # the owner's budget (40 lines per 10 s, all its listeners) starts afresh
first=$(grep -c . "$JOURNAL" || true)
start=$(sb_now_ms)
out=$(run_as_user "$SYSBROKERCTL" run --verbose --mknod "c 1:3 $NODEV/*" -- unshare -Ur sh -c \
        "for i in \$(seq 200); do mknod '$NODEV/n'\$i c 1 3 2>/dev/null; done; sleep 10.5;
         mknod '$NODEV/last' c 1 3 2>/dev/null; echo done" 2>&1) || true
windows=$((($(sb_now_ms) - start) / 10000 + 1))
printed=$(grep -c "refused for pid" <<<"$out" || true)
missed=$(sed -n 's/^sysbrokerctl: (\([0-9]*\) more refusals\? not reported.*/\1/p' <<<"$out" | awk '{ n += $1 } END { print n + 0 }')
logged=$(tail -n "+$((first + 1))" "$JOURNAL" | grep -c "^SYSBROKER_RULE=0" || true)
echo "# flood: $printed printed, $missed said missed, $logged in the journal, $windows window(s)"
assert_contains "flood: the sandbox ran to the end" "$out" done
assert_true "flood: printed at most $BURST per window ($printed in $windows)" \
        test "$printed" -ge 2 -a "$printed" -le $((BURST * windows))
assert_true "flood: the journal as bounded ($logged)" test "$logged" -ge 2 -a "$logged" -le $((BURST * windows))
assert_eq "flood: the owner heard of each line logged" "$logged" "$printed"
assert_eq "flood: and of how many it missed: every refusal is accounted for" 201 "$((printed + missed))"
assert_contains "flood: the last refusal, in a new window, was told" "$out" "'$NODEV/last' by task"
assert_false "no node was left on the nodev mount" test -e "$NODEV/null"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
