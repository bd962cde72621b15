#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A block filesystem: the test (root) makes an ext4 image holding a marker file and attaches it to a loop
# device; a sandbox in its own user and mount namespace (`unshare -Urm`, where the kernel refuses ext4:
# it is no user-namespace filesystem) runs the real util-linux mount of that loop device on a directory a rule
# allows. The broker mounts it in the sandbox's mount namespace only: the marker reads back inside, the
# mount carries the forced nosuid,nodev, and the test's own mount table never shows it. A rule naming
# another device grants nothing, nor does a path the rule names that leads to another device (a symlink, or
# another device node bind-mounted over the named one in the sandbox's own namespace, or the user's symlink
# on the host to the device the sandbox put at that name in its own). The loop devices are
# detached in the end, whatever happens.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs mkfs.ext4 losetup
sb_require_mount_helper

LOOP=
OTHER_LOOP=
# The harness's trap, with the loop devices detached first (lazily, if a mount still holds one: the kernel
# frees it when the last user goes).
ext4_cleanup() {
    local rc=$?
    set +e
    [ -z "$LOOP" ] || losetup -d "$LOOP" 2>/dev/null
    [ -z "$OTHER_LOOP" ] || losetup -d "$OTHER_LOOP" 2>/dev/null
    (exit "$rc")
    sb_cleanup
}
trap ext4_cleanup EXIT

sb_start_all "$SB_RULES/allow-all.rules"

D=$T/work/ext4
run_as_user mkdir "$D" "$D/mnt"
mkdir -m 0755 "$T/content"
printf 'ext4 marker\n' >"$T/content/marker"
chmod 0644 "$T/content/marker"
truncate -s 16M "$T/ext4.img"
mkfs.ext4 -q -F -L sbtest -d "$T/content" "$T/ext4.img" || sb_die "mkfs.ext4 failed"
LOOP=$(losetup -f --show "$T/ext4.img") || sb_skip "no loop device available"
[ -b "$LOOP" ] || sb_die "losetup gave '$LOOP', not a block device"
LOOPDEV=$(stat -c '%Hr:%Lr' "$LOOP")
# A second image, which no rule names.
mkdir -m 0755 "$T/other-content"
printf 'other image\n' >"$T/other-content/marker"
chmod 0644 "$T/other-content/marker"
truncate -s 16M "$T/other.img"
mkfs.ext4 -q -F -L sbother -d "$T/other-content" "$T/other.img" || sb_die "mkfs.ext4 failed"
OTHER_LOOP=$(losetup -f --show "$T/other.img") || sb_skip "no second loop device available"
echo "# image on $LOOP ($LOOPDEV), the other one on $OTHER_LOOP"


# Control: a rule for another block device (one that is not this loop device) does not cover it.
other=/dev/loop-sysbroker-none
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mount "ext4 $other $D/mnt" -- \
        unshare -Urm sh -c "mount -t ext4 '$LOOP' '$D/mnt' && cat '$D/mnt/marker'" 2>&1) || rc=$?
assert_true "control: a rule naming another device: mount fails (exit $rc)" test "$rc" != 0
assert_contains "control: with the kernel's permission error" "$out" "ermission denied"
assert_not_contains "control: the marker is not read" "$out" "ext4 marker"

# The allowed path, with the other device node bind-mounted over it in the sandbox's own mount namespace: the
# path still matches the rule, the device behind it is not the one the broker sees there.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mount "ext4 $LOOP $D/mnt" -- unshare -Urm sh -c \
        "mount --bind '$OTHER_LOOP' '$LOOP' && echo bound && mount -t ext4 '$LOOP' '$D/mnt' && cat '$D/mnt/marker'" \
        2>&1) || rc=$?
assert_contains "another device node bound over the named one: the bind works (setup)" "$out" bound
assert_true "another device node bound over the named one: mount fails (exit $rc)" test "$rc" != 0
assert_contains "it fails with EPERM" "$out" "ermission denied"
assert_not_contains "the other image is not mounted" "$out" "other image"
assert_true "the daemon log says the device is not the one at that path" \
        grep -q "mount ext4 '$LOOP' by task [0-9]*: .*not the one the broker sees" "$T/sysbrokerd.log"

# A symlink whose name matches a Source pattern, to the other device.
run_as_user mkdir "$D/dev"
run_as_user ln -s "$OTHER_LOOP" "$D/dev/disk"
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mount "ext4 $D/dev/* $D/mnt" -- unshare -Urm sh -c \
        "mount -t ext4 '$D/dev/disk' '$D/mnt' && cat '$D/mnt/marker'" 2>&1) || rc=$?
assert_true "a symlink matching the Source pattern to another device: mount fails (exit $rc)" test "$rc" != 0
assert_contains "with EPERM" "$out" "ermission denied"
assert_not_contains "the other image is not mounted" "$out" "other image"

# The Source the rule names is, on the host, the user's symlink to the other device; the sandbox makes the
# name that device's node in its own namespace (a directory of its own over the symlink's, the node bound on a
# file there). The device it reached is where the host's symlink leads, but a symlink only root could have put
# there is all the broker follows to compare.
run_as_user mkdir "$D/udev" "$D/fakedev"
run_as_user touch "$D/fakedev/disk"
run_as_user ln -s "$OTHER_LOOP" "$D/udev/disk"
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mount "ext4 $D/udev/disk $D/mnt" -- unshare -Urm sh -c \
        "mount --bind '$D/fakedev' '$D/udev' && mount --bind '$OTHER_LOOP' '$D/udev/disk' && echo bound &&
         mount -t ext4 '$D/udev/disk' '$D/mnt' && cat '$D/mnt/marker'" 2>&1) || rc=$?
assert_contains "the user's symlink as Source on the host, the device bound there in the sandbox (setup)" "$out" bound
assert_true "mount fails (exit $rc)" test "$rc" != 0
assert_contains "with EPERM" "$out" "ermission denied"
assert_not_contains "the other image is not mounted" "$out" "other image"
assert_true "the daemon log names the unsafe symlink" grep -qF \
        "unsafe symlink at '$D/udev/disk' (owned by uid $SB_TEST_UID" "$T/sysbrokerd.log"

# The sandbox is privileged in its own mount namespace: the forced flags must hold against what it can do
# there itself, with calls the filter does not trap (mount_setattr) and through a bind copy of its own.
run_as_user mkdir "$D/copy"
script="
mount -t ext4 '$LOOP' '$D/mnt' && echo mount=ok
echo \"marker=\$(cat '$D/mnt/marker')\"
echo \"info=\$(awk -v t='$D/mnt' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
echo \"clear=\$('$SB_MOUNT' clear '$D/mnt' nosuid,nodev)\"
echo \"remount=\$('$SB_MOUNT' mount - '$D/mnt' - remount,bind -)\"
b=\$('$SB_MOUNT' mount '$D/mnt' '$D/copy' - bind -) && b=ok; echo \"copy=\$b\"
echo \"copyremount=\$('$SB_MOUNT' mount - '$D/copy' - remount,bind -)\"
echo \"copyclear=\$('$SB_MOUNT' clear '$D/copy' nodev)\"
echo \"copyinfo=\$(awk -v t='$D/copy' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
umount '$D/copy'
echo \"still=\$(awk -v t='$D/mnt' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
echo \$\$ >'$D/ready'
for i in \$(seq 100); do test -e '$D/checked' && break; sleep 0.1; done
umount '$D/mnt' && echo umount=ok
echo \"after=\$(awk -v t='$D/mnt' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
"
run_as_user "$SYSBROKERCTL" run --mount "ext4 $LOOP $D/mnt" -- unshare -Urm sh -c "$script" \
        >"$T/sandbox.out" 2>&1 &
pid=$!
if sb_poll 20 test -s "$D/ready"; then
    host=$(sb_mntinfo "$D/mnt")
    sandbox_view=$(sb_mntinfo "$D/mnt" "/proc/$(cat "$D/ready")/mountinfo" 2>&1 || true)
    host_marker=$(cat "$D/mnt/marker" 2>&1 || true)
else
    host="(the sandbox never got there)"
    sandbox_view=
    host_marker=
fi
touch "$D/checked"
rc=0
wait "$pid" || rc=$?
out=$(cat "$T/sandbox.out")
printf '%s\n' "$out" | sed 's/^/# /'

assert_eq "sysbrokerctl run exits 0" 0 "$rc"
assert_eq "util-linux mount -t ext4 of the loop device succeeds" ok "$(sb_field mount)"
assert_eq "the marker file reads back inside" "ext4 marker" "$(sb_field marker)"
info=$(sb_field info)
# The device numbers, not the source string: sysbrokerd names the device node it checked by an fd of its own.
assert_contains "the sandbox's mountinfo shows an ext4" "$info" "fstype=ext4 "
assert_contains "from the loop device" "$info " " dev=$LOOPDEV "
opts=$(sb_opts_of "$info")
assert_contains "nosuid (forced)" "$opts" ",nosuid,"
assert_contains "nodev (forced)" "$opts" ",nodev,"
assert_eq "mount_setattr clearing nosuid,nodev (untrapped): EPERM, the flags are locked" EPERM "$(sb_field clear)"
assert_eq "a remount without them (trapped): EPERM" EPERM "$(sb_field remount)"
assert_eq "a bind copy in its own namespace (the kernel's to allow)" ok "$(sb_field copy)"
assert_eq "a remount of the copy without them: EPERM, the copy's flags are locked too" EPERM "$(sb_field copyremount)"
assert_eq "mount_setattr on the copy: EPERM" EPERM "$(sb_field copyclear)"
copy_opts=$(sb_opts_of "$(sb_field copyinfo)")
assert_contains "the copy is still nodev" "$copy_opts" ",nodev,"
still_opts=$(sb_opts_of "$(sb_field still)")
assert_contains "the mount is still nosuid" "$still_opts" ",nosuid,"
assert_contains "and still nodev" "$still_opts" ",nodev,"
assert_contains "the test, reading the sandbox's mountinfo, sees it there" "$sandbox_view " "fstype=ext4 "
assert_contains "the loop device's" "$sandbox_view " " dev=$LOOPDEV "
assert_eq "but its own mountinfo has nothing at the target" "" "$host"
assert_eq "nor anything from the loop device" "" "$(awk -v d="$LOOPDEV" '$3 == d' /proc/self/mountinfo)"
assert_not_contains "and the target shows no marker to the test" "$host_marker" "ext4 marker"
assert_eq "util-linux umount succeeds" ok "$(sb_field umount)"
assert_eq "it is gone from the sandbox's mountinfo" "" "$(sb_field after)"
assert_true "the daemon logs the mount" grep -q "mount ext4 '$LOOP' on '$D/mnt' for task [0-9]*: mounted\." \
        "$T/sysbrokerd.log"

assert_true "no listener left" sb_wait_nlisteners 0

# Nothing holds the loop devices any more: they detach for good.
losetup -d "$LOOP" "$OTHER_LOOP" 2>/dev/null || true
detached() {
    [ -z "$(losetup -n -O BACK-FILE "$LOOP" 2>/dev/null)" ] &&
        [ -z "$(losetup -n -O BACK-FILE "$OTHER_LOOP" 2>/dev/null)" ]
}
assert_true "the loop devices are detached" sb_poll 10 detached
LOOP=
OTHER_LOOP=
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
