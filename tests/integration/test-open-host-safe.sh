#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# HostPath is resolved safely and opened as the listener's owner. A symlink is followed only if it and the
# directory holding it are root's and that directory is writable by no one else: the owner's own directory
# swapped for a symlink to a root-only file, a symlink in a sticky world-writable directory (the owner's or
# root's), a symlink on procfs, all get the listener's default action and a log line saying why; a race
# swapping the file and a symlink never hands out the secret. The open runs with the owner's fs ids and
# groups (from the user database) and exactly the access's capability, not the daemon's, and none at all
# where the owner could have renamed root's file to the HostPath (its own directory): seen on the
# daemon's thread while it waits in a FIFO's open, and where CAP_DAC_READ_SEARCH ends (O_NOATIME of a file
# the owner does not own needs ownership or CAP_FOWNER).
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"

# The owner's supplementary groups come from the user database: one more for the test user, in this mount
# namespace only (the daemon reads it at registration).
GRP_GID=4242
user_name=$(getent passwd "$SB_TEST_UID" | cut -d: -f1)
[ -n "$user_name" ] || sb_skip "uid $SB_TEST_UID has no passwd entry"
cp /etc/group "$T/group"
echo "sbhostpath:x:$GRP_GID:$user_name" >>"$T/group"
mount --bind "$T/group" /etc/group

sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

fds_before=$(sb_broker_fd_count)
sb_host_dir
D=$T/work/sandbox
U=$T/work/own
run_as_user mkdir -m 0755 "$U"
run_as_user sh -c "echo OWN-DATA >'$U/data'"

sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}
log_has() {
    grep -qF -- "$1" "$T/sysbrokerd.log"
}

# --- Symlinks the owner (or anyone but root) could have placed ----------------------------------------------
HOST=(--open-host "$D/data=$U/data")
out=$(sandbox "${HOST[@]}" -- cat "$D/data") || true
assert_eq "control: HostPath reads the owner's file in its own directory" OWN-DATA "$out"

# Not a symlink but root's file itself, renamed there from a directory the owner may write (a rename needs no
# right on the file): in the owner's directory the file may be the owner's doing, so it is opened with the
# owner's own credentials, without capability. The file stays put for the symlink cases below.
sb_put_file "$T/work/elsewhere/rootfile" root:root 0600 "MOVED-SECRET"
chown "$SB_TEST_UID:$SB_TEST_GID" "$T/work/elsewhere"
assert_false "control: the owner cannot read root's file" run_as_user cat "$T/work/elsewhere/rootfile"
assert_true "the owner renames it to the HostPath" run_as_user mv -f "$T/work/elsewhere/rootfile" "$U/data"
out=$(sandbox "${HOST[@]}" -- cat "$D/data") || true
assert_not_contains "root's file renamed to the HostPath: not read" "$out" MOVED-SECRET
assert_contains "... the owner's own EACCES" "$out" "Permission denied"
assert_true "... logged saying why" log_has "a directory on the way is not root's alone"
out=$(sandbox --open-host "$D/data=$U/data:rw" -- sh -c "echo x >>'$D/data'") || true
assert_contains "nor written" "$out" "Permission denied"
assert_eq "root's file unchanged" MOVED-SECRET "$(cat "$U/data")"

run_as_user ln -sfn "$H/secret" "$U/data"
out=$(sandbox "${HOST[@]}" -- cat "$D/data") || true
assert_not_contains "the owner's file swapped for a symlink to a root-only file: not followed" "$out" HOST-SECRET
assert_contains "the default action (continue): the kernel's answer for the sandbox's own path" "$out" \
        "No such file or directory"
assert_true "the log says why" log_has "unsafe symlink at '$U/data' (owned by uid $SB_TEST_UID, in a directory of uid $SB_TEST_UID"
out=$(sandbox --default=deny "${SB_OPEN_SYSTEM_RULES[@]}" "${HOST[@]}" -- cat "$D/data") || true
assert_contains "with --default=deny: EPERM" "$out" "Operation not permitted"
assert_not_contains "and no secret" "$out" HOST-SECRET

# A symlinked directory on the way, and a root-owned symlink in the owner's directory (the owner may
# replace it).
run_as_user ln -s "$H" "$U/dirlink"
out=$(sandbox --open-host "$D/mid=$U/dirlink/secret" -- cat "$D/mid") || true
assert_not_contains "a symlinked directory of the owner's on the way: not followed" "$out" HOST-SECRET
assert_true "logged" log_has "unsafe symlink at '$U/dirlink' (owned by uid $SB_TEST_UID"
ln -s "$H/secret" "$U/rootlink"
out=$(sandbox --open-host "$D/rootlink=$U/rootlink" -- cat "$D/rootlink") || true
assert_not_contains "root's symlink in the owner's directory: not followed" "$out" HOST-SECRET
assert_true "logged" log_has "unsafe symlink at '$U/rootlink' (owned by uid 0, in a directory of uid $SB_TEST_UID"

# A sticky world-writable directory, like /tmp: nobody can replace another's link there, but anyone can
# place one, and the rule's author cannot tell whose it is meant to be.
S=$T/sticky
mkdir -m 1777 "$S"
run_as_user ln -s "$H/secret" "$S/users"
ln -s "$H/secret" "$S/roots"
out=$(sandbox --open-host "$D/users=$S/users" -- cat "$D/users") || true
assert_not_contains "the owner's symlink in a sticky world-writable directory: not followed" "$out" HOST-SECRET
assert_true "logged" log_has "unsafe symlink at '$S/users' (owned by uid $SB_TEST_UID, in a directory of uid 0, mode 1777)"
out=$(sandbox --open-host "$D/roots=$S/roots" -- cat "$D/roots") || true
assert_not_contains "root's symlink in a sticky world-writable directory: not followed either" "$out" HOST-SECRET
assert_true "logged" log_has "unsafe symlink at '$S/roots' (owned by uid 0, in a directory of uid 0, mode 1777)"

# procfs: "self" there is the daemon, and its links lead into the daemon's view.
out=$(sandbox --open-host "$D/env=/proc/self/environ" -- cat "$D/env") || true
assert_not_contains "a symlink on procfs (/proc/self): not followed, the daemon's environment stays its own" \
        "$out" "DBUS_SYSTEM_BUS_ADDRESS"
assert_true "logged" log_has "unsafe symlink at '/proc/self' (owned by uid 0"
# The daemon's own /proc/<pid> by number, no symlink on the way: the kernel lets a process open its own
# entries whatever its fs ids, so the owner's credentials would not keep them from the sandbox.
out=$(sandbox --open-host "$D/env=/proc/$SB_BROKER_PID/environ" -- cat "$D/env") || true
assert_not_contains "the daemon's /proc/<pid>/environ by number: refused" "$out" "DBUS_SYSTEM_BUS_ADDRESS"
assert_contains "with EPERM" "$out" "Operation not permitted"
out=$(sandbox --open-host "$D/mem=/proc/$SB_BROKER_PID/mem:rw" -- "$SB_OPEN" open "$D/mem" rw) || true
assert_contains "the daemon's /proc/<pid>/mem for writing: refused" "$out" "EPERM"
assert_true "logged" log_has "as host '/proc/$SB_BROKER_PID/mem' for task"
assert_true "logged with the reason" log_has "on a procfs, denying."

# Root's links in root's directories are followed, relative ones with ".." too.
R=$T/roots
mkdir -m 0755 "$R" "$R/sub"
ln -s "$H/secret" "$R/abs"
ln -s "../../hostonly/secret" "$R/sub/rel"
ln -s "../../../../../../../../../../..$H/secret" "$R/sub/above"
out=$(sandbox --open-host "$D/abs=$R/abs" -- cat "$D/abs") || true
assert_eq "control: root's absolute symlink in root's directory is followed" HOST-SECRET "$out"
out=$(sandbox --open-host "$D/rel=$R/sub/rel" -- cat "$D/rel") || true
assert_eq "control: and a relative one with '..'" HOST-SECRET "$out"
out=$(sandbox --open-host "$D/above=$R/sub/above" -- cat "$D/above") || true
assert_eq "'..' never climbs above the root (it stays there, as the kernel's)" HOST-SECRET "$out"
out=$(sandbox --open-host "$D/abs=$R/abs" -- "$SB_OPEN" open "$D/abs" r,nofollow) || true
assert_eq "O_NOFOLLOW on a HostPath that is a symlink: not followed (ELOOP, as the kernel's)" ELOOP "$out"
ln -s "$R/loop2" "$R/loop1"
ln -s "$R/loop1" "$R/loop2"
out=$(sandbox --open-host "$D/loop=$R/loop1" -- "$SB_OPEN" open "$D/loop" r) || true
assert_eq "a symlink loop: bounded (ELOOP)" ELOOP "$out"
assert_true "logged" log_has "open '$D/loop' as host '$R/loop1' for task"

# --- The owner's credentials plus exactly one capability ----------------------------------------------------
# A FIFO only the owner's group may reach: the open blocks on the daemon's thread until a writer comes, and
# meanwhile that thread's credentials are there to see.
G=$T/group-only
mkdir -m 0750 "$G"
chgrp "$GRP_GID" "$G"
mkfifo -m 0640 "$G/fifo"
chgrp "$GRP_GID" "$G/fifo"
sandbox --open-host "$D/fifo=$G/fifo" -- "$SB_OPEN" open "$D/fifo" r >"$T/fifo.out" &
fifo_sandbox=$!
owner_thread() {
    local s
    for s in /proc/"$SB_BROKER_PID"/task/*/status; do
        if grep -q "^Uid:.*[[:space:]]$SB_TEST_UID\$" "$s" 2>/dev/null &&
                grep -q '^State:.*S (sleeping)' "$s" 2>/dev/null && [ -n "$(grep '^Groups:.*4242' "$s")" ]; then
            echo "$s"
            return 0
        fi
    done
    return 1
}
status=
if sb_poll 20 owner_thread >/dev/null; then
    status=$(cat "$(owner_thread)")
fi
echo "# $(grep -E '^(Uid|Gid|Groups|CapEff)' <<<"$status" | tr '\n' ' ')"
assert_contains "while the FIFO's open waits, a daemon thread has the owner's fsuid" \
        "$(grep '^Uid:' <<<"$status")" "$SB_TEST_UID"
assert_eq "its fsgid is the owner's primary group" "$(id -g "$SB_TEST_UID")" \
        "$(grep '^Gid:' <<<"$status" | awk '{print $5}')"
assert_contains "its groups are the owner's from the user database (the sandbox has none)" \
        " $(grep '^Groups:' <<<"$status" | cut -f2-) " " $GRP_GID "
assert_eq "its effective capabilities: CAP_DAC_READ_SEARCH alone" "CapEff:	0000000000000004" \
        "$(grep '^CapEff:' <<<"$status")"
# A bounded writer: should the open be gone already (the broker gives up after its timeout), nothing reads.
timeout 15 sh -c "echo FIFO-DATA >'$G/fifo'" || true
wait "$fifo_sandbox" || true
assert_eq "the writer completes the open: the sandbox reads the FIFO" "ok cloexec=0 data=FIFO-DATA" \
        "$(cat "$T/fifo.out")"

# CAP_DAC_READ_SEARCH lets the owner read any file; O_NOATIME needs more: owning the file (or CAP_FOWNER,
# which the daemon has and the owner does not).
sb_put_file "$R/rootfile" root:root 0644 "ROOT-FILE"
out=$(sandbox --open-host "$D/rootfile=$R/rootfile" -- "$SB_OPEN" open "$D/rootfile" r) || true
assert_eq "control: a root file opened for reading" "ok cloexec=0 data=ROOT-FILE" "$out"
out=$(sandbox --open-host "$D/rootfile=$R/rootfile" -- "$SB_OPEN" open "$D/rootfile" r,noatime) || true
assert_eq "O_NOATIME of root's file: the owner may not (EPERM)" EPERM "$out"
assert_true "logged" log_has "$R/rootfile' for task"
assert_true "logged with the reason" log_has "Operation not permitted with the credentials of the listener's owner."
run_as_user rm "$U/data"
run_as_user sh -c "echo OWN-DATA >'$U/data'"
out=$(sandbox "${HOST[@]}" -- "$SB_OPEN" open "$D/data" r,noatime) || true
assert_eq "O_NOATIME of the owner's own file: allowed" "ok cloexec=0 data=OWN-DATA" "$out"

# --- A swap racing the opens: never the secret ----------------------------------------------------------
# Last: its ~200 decisions use up the owner's log allowance (sysbrokerd(8), LOGGING), and the checks above
# read the log.
run_as_user sh -c "echo OWN-GOOD >'$U/good'"
run_as_user sh -c "cp '$U/good' '$U/race'"
cat >"$T/work/swap.sh" <<SCRIPT
i=0
while [ \$i -lt 3000 ] && [ ! -e '$T/work/swap.stop' ]; do
    ln -sfn '$H/secret' '$U/race.l' && mv -Tf '$U/race.l' '$U/race'
    ln -f '$U/good' '$U/race.f' && mv -Tf '$U/race.f' '$U/race'
    i=\$((i + 1))
done
echo \$i >'$T/work/swap.count'
SCRIPT
cat >"$T/work/read.sh" <<SCRIPT
i=0
while [ \$i -lt 200 ]; do
    '$SB_OPEN' open '$D/race' r
    i=\$((i + 1))
done
SCRIPT
run_as_user sh "$T/work/swap.sh" &
swapper=$!
out=$(sandbox --open-host "$D/race=$U/race" -- sh "$T/work/read.sh") || true
touch "$T/work/swap.stop"
wait "$swapper" || true
good=$(grep -c '^ok cloexec=0 data=OWN-GOOD$' <<<"$out" || true)
refused=$(grep -c '^ENOENT$' <<<"$out" || true)
echo "# race: $good opens read the owner's file, $refused were refused; $(cat "$T/work/swap.count" 2>/dev/null) swaps"
assert_not_contains "race: the secret is never read" "$out" HOST-SECRET
assert_eq "race: every open either read the owner's file or got the default action" 200 $((good + refused))

assert_true "no listener left" sb_wait_nlisteners 0
# Every path above ends in an early return somewhere in the resolver: none may keep an fd.
assert_true "the daemon's fd count is back to $fds_before" \
        sb_poll 10 eval '[ "$(sb_broker_fd_count)" = "$fds_before" ]'
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
