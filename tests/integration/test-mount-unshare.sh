#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The real util-linux mount and umount, run as root of an unprivileged user namespace that has no mount
# namespace of its own (`unshare -Ur`): the kernel refuses them (the mount namespace belongs to the initial
# user namespace), the broker mounts the tmpfs an allowed target asks for and unmounts it again. The mount is
# made in the caller's mount namespace, so the test sees it too, with the forced nosuid,nodev.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_mount_helper

D=$T/work/unshare
run_as_user mkdir "$D" "$D/mnt" "$D/other"
SB_MOUNTS+=("$D/mnt" "$D/mnt" "$D/other" "$D/other")


RULE=(--mount "tmpfs - $D/mnt:size=*")

# Control: the same command in the same kind of namespace, without a rule for the target.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run "${RULE[@]}" -- \
        unshare -Ur mount -t tmpfs -o size=1m tmpfs "$D/other" 2>&1) || rc=$?
assert_true "control: mount on a target no rule names fails (exit $rc)" test "$rc" != 0
assert_contains "control: with the kernel's permission error" "$out" "ermission denied"
assert_eq "control: nothing mounted there" "" "$(sb_mntinfo "$D/other")"

# The sandbox mounts, shows what it sees, writes a file, stays until the test has looked from outside, then
# unmounts.
script="
mount -t tmpfs -o size=1m tmpfs '$D/mnt' && echo mount=ok
echo \"info=\$(awk -v t='$D/mnt' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
echo inside >'$D/mnt/file' && echo \"file=\$(cat '$D/mnt/file')\"
touch '$D/ready'
for i in \$(seq 100); do test -e '$D/checked' && break; sleep 0.1; done
umount '$D/mnt' && echo umount=ok
echo \"after=\$(awk -v t='$D/mnt' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
"
run_as_user "$SYSBROKERCTL" run "${RULE[@]}" -- unshare -Ur sh -c "$script" >"$T/sandbox.out" 2>&1 &
pid=$!
if sb_poll 20 test -e "$D/ready"; then
    host=$(sb_mntinfo "$D/mnt")
    host_file=$(cat "$D/mnt/file" 2>&1 || true)
    owner=$(stat -c %u:%g "$D/mnt")
else
    host="(the sandbox never got there)"
    host_file=
    owner=
fi
touch "$D/checked"
rc=0
wait "$pid" || rc=$?
out=$(cat "$T/sandbox.out")
printf '%s\n' "$out" | sed 's/^/# /'

assert_eq "sysbrokerctl run exits 0" 0 "$rc"
assert_eq "util-linux mount -t tmpfs succeeds in the user namespace" ok "$(sb_field mount)"
assert_contains "the sandbox sees the tmpfs in its mountinfo" "$(sb_field info)" "fstype=tmpfs source=tmpfs "
assert_contains "with the size asked for (1m = 1024k)" "$(sb_field info)" "size=1024k"
assert_eq "a file written into it reads back" inside "$(sb_field file)"
assert_contains "the test sees the same mount (the caller's mount namespace is the test's)" "$host" \
        "fstype=tmpfs source=tmpfs "
opts=$(sb_opts_of "$host")
assert_contains "nosuid (forced)" "$opts" ",nosuid,"
assert_contains "nodev (forced)" "$opts" ",nodev,"
assert_eq "and the file in it" inside "$host_file"
assert_eq "its root belongs to the caller's host uid:gid" "$SB_TEST_UID:$SB_TEST_GID" "$owner"
assert_eq "util-linux umount succeeds" ok "$(sb_field umount)"
assert_eq "the tmpfs is gone from the sandbox's mountinfo" "" "$(sb_field after)"
assert_eq "and from the test's" "" "$(sb_mntinfo "$D/mnt")"
assert_true "the daemon logs the mount" grep -q "mount tmpfs 'tmpfs' on '$D/mnt' for task [0-9]*: mounted\." \
        "$T/sysbrokerd.log"
assert_true "and the unmount" grep -q "umount '$D/mnt' for task [0-9]*: unmounted\." "$T/sysbrokerd.log"

# A listener counts at most 64 mounts, but not those gone with their namespace: 70 short-lived "unshare -Urm"
# each mounting a tmpfs through the broker, one after the other under one listener, all succeed.
out=$(run_as_user "$SYSBROKERCTL" run --mount "tmpfs - $D/mnt:size=*" -- sh -c "
n=0
for i in \$(seq 70); do
    unshare -Urm mount -t tmpfs -o size=64k tmpfs '$D/mnt' && n=\$((n + 1))
done
echo mounted=\$n" 2>&1) || true
assert_eq "70 mounts in 70 namespaces that end: all made (the gone ones are forgotten)" mounted=70 \
        "$(tail -n 1 <<<"$out")"

# Propagation changes grant nothing: always left to the kernel, even by a listener that denies what no rule
# matches. In a mount namespace of its own the kernel allows them; in the host's it refuses (EPERM).
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --default=deny --mount "tmpfs - $D/mnt:size=*" -- \
        unshare -Urm sh -c "mount --make-rprivate / && echo private" 2>&1) || rc=$?
assert_eq "propagation change in its own namespace, default deny: the kernel allows it" "0 private" "$rc $out"
out=$(run_as_user "$SYSBROKERCTL" run --default=deny --mount "tmpfs - $D/mnt:size=*" -- \
        "$SB_MOUNT" mount - / - rec,private -) || true
assert_eq "in the host's namespace: the kernel's EPERM, not the broker's" EPERM "$out"
assert_false "the broker logged no decision on it" grep -q "mount .* on '/' by task" "$T/sysbrokerd.log"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
