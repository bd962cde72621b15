#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A plain unprivileged process (no user namespace, so the kernel itself would say EPERM) mounts a tmpfs with
# a size= option on a directory a mount rule allows, and unmounts it again, through sysbrokerd: the mount
# shows in the sandbox's own /proc/self/mountinfo with the forced nosuid,nodev and the size asked for, is
# made with the caller's fs ids (its root directory is the caller's), holds a file written into it, and is
# gone after the unmount; the daemon logs both. A mount left behind belongs to the listener that made it:
# another sandbox cannot unmount it. A rule's max-size refuses a tmpfs above it, or without a size.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_mount_helper

D=$T/work/tmpfs
run_as_user mkdir "$D" "$D/mnt" "$D/left"
# Whatever a failed run leaves mounted is unmounted by the harness (twice: a mount may be stacked).
SB_MOUNTS+=("$D/mnt" "$D/mnt" "$D/left" "$D/left")


sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}

# Control: without a rule the kernel refuses the unprivileged caller.
out=$(sandbox --mount "tmpfs - $D/left:size=*" -- "$SB_MOUNT" mount sbtest "$D/mnt" tmpfs - size=2m) || true
assert_eq "control: a tmpfs on a directory no rule names is EPERM" EPERM "$out"
assert_eq "control: nothing mounted there" "" "$(sb_mntinfo "$D/mnt")"

# One sandbox does everything and reports each step on a line of its own.
script="
m=\$('$SB_MOUNT' mount sbtest '$D/mnt' tmpfs - size=2m) && m=ok; echo \"mount=\$m\"
echo \"info=\$(awk -v t='$D/mnt' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
echo \"owner=\$(stat -c %u:%g '$D/mnt')\"
echo written >'$D/mnt/file' && echo \"file=\$(cat '$D/mnt/file')\"
u=\$('$SB_MOUNT' umount '$D/mnt') && u=ok; echo \"umount=\$u\"
echo \"after=\$(awk -v t='$D/mnt' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
test -e '$D/mnt/file' && echo still-there || echo file-gone
"
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mount "tmpfs - $D/mnt:size=*" -- sh -c "$script" 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
assert_eq "sysbrokerctl run exits 0" 0 "$rc"
assert_eq "mount(2) of the tmpfs returns 0" ok "$(sb_field mount)"
info=$(sb_field info)
assert_contains "the sandbox's mountinfo shows a tmpfs at the target" "$info" "fstype=tmpfs source=sbtest "
opts=$(sb_opts_of "$info")
assert_contains "mounted nosuid (forced)" "$opts" ",nosuid,"
assert_contains "mounted nodev (forced)" "$opts" ",nodev,"
assert_contains "with the size asked for (2m = 2048k)" "$info" "size=2048k"
assert_eq "its root directory belongs to the caller (the mount used its fs ids)" "$SB_TEST_UID:$SB_TEST_GID" \
        "$(sb_field owner)"
assert_eq "a file written into it reads back" written "$(sb_field file)"
assert_eq "umount2(2) of it returns 0" ok "$(sb_field umount)"
assert_eq "and it is gone from the sandbox's mountinfo" "" "$(sb_field after)"
assert_contains "the file went with it" "$out" file-gone
assert_eq "nothing mounted at the target in the test's view either" "" "$(sb_mntinfo "$D/mnt")"

log=$(cat "$T/sysbrokerd.log")
assert_contains "the daemon logs the mount" "$log" "mount tmpfs 'sbtest' on '$D/mnt' for task"
assert_true "as mounted" grep -q "mount tmpfs 'sbtest' on '$D/mnt' for task [0-9]*: mounted\." "$T/sysbrokerd.log"
assert_true "and the unmount" grep -q "umount '$D/mnt' for task [0-9]*: unmounted\." "$T/sysbrokerd.log"

# A mount the sandbox leaves behind stays (it was made in the caller's own mount namespace, which is the
# test's here) ...
out=$(sandbox --mount "tmpfs - $D/left:size=*" -- "$SB_MOUNT" mount left "$D/left" tmpfs - size=1m) || true
assert_eq "a second sandbox mounts a tmpfs and exits" "" "$out"
info=$(sb_mntinfo "$D/left")
assert_contains "the test sees it in its own mountinfo" "$info" "fstype=tmpfs source=left "
opts=$(sb_opts_of "$info")
assert_contains "nosuid there too" "$opts" ",nosuid,"
assert_contains "nodev there too" "$opts" ",nodev,"
# ... and belongs to the listener that made it: a new sandbox with the same rule gets the kernel's answer.
out=$(sandbox --mount "tmpfs - $D/left:size=*" -- "$SB_MOUNT" umount "$D/left") || true
assert_eq "another listener cannot unmount it (default continue: the kernel's EPERM)" EPERM "$out"
assert_contains "it is still mounted" "$(sb_mntinfo "$D/left")" "fstype=tmpfs source=left "
umount "$D/left"

# max-size (MaxSize) bounds what "size=*" lets through, which no polkit rule can read from a pattern.
BOUNDED=(--mount "tmpfs - $D/mnt:size=*,max-size=4M")
out=$(sandbox "${BOUNDED[@]}" -- "$SB_MOUNT" mount big "$D/mnt" tmpfs - size=8m) || true
assert_eq "max-size: a tmpfs above it is refused" EPERM "$out"
assert_eq "max-size: ... nothing mounted" "" "$(sb_mntinfo "$D/mnt")"
assert_true "max-size: ... and the daemon says why" \
    grep -q "option 'size=8m' is not allowed by rule 0: it is above the rule's MaxSize" "$T/sysbrokerd.log"
out=$(sandbox "${BOUNDED[@]}" -- "$SB_MOUNT" mount big "$D/mnt" tmpfs - mode=0700) || true
assert_eq "max-size: a tmpfs without a size (half of the memory) is refused" EPERM "$out"
out=$(sandbox "${BOUNDED[@]}" -- "$SB_MOUNT" mount small "$D/mnt" tmpfs - size=4m) || true
assert_eq "max-size: one within it is mounted" "" "$out"
assert_contains "max-size: ... with that size" "$(sb_mntinfo "$D/mnt")" "size=4096k"
umount "$D/mnt"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
