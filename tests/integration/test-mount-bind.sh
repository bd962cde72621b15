#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bind mounts through a rule with FsType bind, for a plain unprivileged process (the kernel alone would say
# EPERM): a directory the sandbox can see is bound on an allowed target, with and without MS_REC, and the
# new mount gets the forced nosuid,nodev although the source's filesystem has neither. A source outside the
# rule's Source pattern (named directly, or through a symlink whose name matches) is refused, and so is a
# non-recursive bind of a source that has a mount below it (it would show what that mount covers); the
# recursive bind of the same source is allowed and carries the mount below along.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_mount_helper

D=$T/work/bind
run_as_user mkdir "$D" "$D/src" "$D/src2" "$D/src2/sub" "$D/secret" "$D/tgt" "$D/tgt/a" "$D/tgt/b"
run_as_user sh -c "echo source-file >'$D/src/file'; echo secret-file >'$D/secret/file'"
run_as_user sh -c "echo covered >'$D/src2/sub/file'"
run_as_user ln -s "$D/secret" "$D/src-link"
# A mount below the second source (root's, as a sandbox would find it), hiding what is under it.
mount -t tmpfs -o size=1m,mode=0755 below "$D/src2/sub"
echo "on-top" >"$D/src2/sub/top"
chmod 0644 "$D/src2/sub/top"
SB_MOUNTS+=("$D/src2/sub")
for p in "$D/tgt/a" "$D/tgt/b"; do
    SB_MOUNTS+=("$p/sub" "$p" "$p")
done

targets_mounted() {
    awk -v d="$D/tgt/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo
}

sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}

RULE=(--mount "bind $D/src* $D/tgt/*")

# Control: the source's own filesystem allows suid and devices, so nosuid,nodev can only come from the broker.
src_opts=$(sb_opts_of "$(awk -v t="$T/work" -f "$SB_MNTINFO_AWK" /proc/self/mountinfo)")
assert_not_contains "control: the source's filesystem is not nosuid" "$src_opts" ",nosuid,"
assert_not_contains "control: nor nodev" "$src_opts" ",nodev,"
out=$(sandbox --mount "bind $D/src* $D/tgt/b" -- "$SB_MOUNT" mount "$D/src" "$D/tgt/a" - bind -) || true
assert_eq "control: a bind on a target no rule names is EPERM" EPERM "$out"
assert_eq "control: nothing mounted" "" "$(targets_mounted)"

for flags in bind bind,rec; do
    script="
m=\$('$SB_MOUNT' mount '$D/src' '$D/tgt/a' - $flags -) && m=ok; echo \"mount=\$m\"
echo \"info=\$(awk -v t='$D/tgt/a' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
echo \"file=\$(cat '$D/tgt/a/file')\"
u=\$('$SB_MOUNT' umount '$D/tgt/a') && u=ok; echo \"umount=\$u\"
echo \"after=\$(awk -v t='$D/tgt/a' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
"
    out=$(sandbox "${RULE[@]}" -- sh -c "$script") || true
    printf '%s\n' "$out" | sed 's/^/# /'
    info=$(sed -n 's/^info=//p' <<<"$out")
    assert_eq "$flags: mount(2) returns 0" ok "$(sed -n 's/^mount=//p' <<<"$out")"
    assert_contains "$flags: the bind mount shows at the target" "$info" "fstype=tmpfs source=sysbroker-test "
    assert_contains "$flags: nosuid (forced)" "$(sb_opts_of "$info")" ",nosuid,"
    assert_contains "$flags: nodev (forced)" "$(sb_opts_of "$info")" ",nodev,"
    assert_eq "$flags: the source's file is seen through it" source-file "$(sed -n 's/^file=//p' <<<"$out")"
    assert_eq "$flags: umount2(2) returns 0" ok "$(sed -n 's/^umount=//p' <<<"$out")"
    assert_eq "$flags: and it is gone" "" "$(sed -n 's/^after=//p' <<<"$out")"
    assert_eq "$flags: nothing left mounted" "" "$(targets_mounted)"
done

# Sources the Source pattern does not cover.
out=$(sandbox "${RULE[@]}" -- "$SB_MOUNT" mount "$D/secret" "$D/tgt/a" - bind -) || true
assert_eq "a source outside the Source pattern: EPERM" EPERM "$out"
assert_eq "outside source: nothing mounted" "" "$(targets_mounted)"
out=$(sandbox "${RULE[@]}" -- "$SB_MOUNT" mount "$D/src-link" "$D/tgt/a" - bind,rec -) || true
assert_eq "a symlink whose name matches the pattern but leads outside: EPERM" EPERM "$out"
assert_eq "symlinked source: nothing mounted" "" "$(targets_mounted)"
assert_false "symlinked source: the secret is not visible at the target" test -e "$D/tgt/a/file"

# A source with a mount below it: a non-recursive bind would show what the mount below covers.
out=$(sandbox "${RULE[@]}" -- "$SB_MOUNT" mount "$D/src2" "$D/tgt/a" - bind -) || true
assert_eq "a non-recursive bind of a source with a mount below it: EPERM" EPERM "$out"
assert_eq "non-recursive bind: nothing mounted" "" "$(targets_mounted)"
assert_false "non-recursive bind: the covered file is not revealed" test -e "$D/tgt/a/sub/file"

script="
m=\$('$SB_MOUNT' mount '$D/src2' '$D/tgt/b' - bind,rec -) && m=ok; echo \"mount=\$m\"
echo \"info=\$(awk -v t='$D/tgt/b' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
echo \"sub=\$(awk -v t='$D/tgt/b/sub' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
echo \"top=\$(cat '$D/tgt/b/sub/top')\"
test -e '$D/tgt/b/sub/file' && echo covered=visible || echo covered=hidden
u=\$('$SB_MOUNT' umount '$D/tgt/b' detach) && u=ok; echo \"umount=\$u\"
"
out=$(sandbox "${RULE[@]}" -- sh -c "$script") || true
printf '%s\n' "$out" | sed 's/^/# /'
assert_eq "the recursive bind of the same source works" ok "$(sb_field mount)"
assert_contains "its top mount is nosuid" "$(sb_opts_of "$(sb_field info)")" ",nosuid,"
assert_contains "and nodev" "$(sb_opts_of "$(sb_field info)")" ",nodev,"
assert_contains "the mount below came along" "$(sb_field sub)" "fstype=tmpfs source=below "
assert_eq "showing what it shows at the source" on-top "$(sb_field top)"
assert_eq "and still covering what it covers" hidden "$(sb_field covered)"
assert_eq "umount2(MNT_DETACH) of the recursive bind returns 0" ok "$(sb_field umount)"
assert_eq "recursive bind: nothing left mounted" "" "$(targets_mounted)"
assert_contains "the source's own mount below is untouched" "$(sb_mntinfo "$D/src2/sub")" "fstype=tmpfs source=below "

# Remounts of a bind the broker made change its flags only: not its superblock (the source's filesystem,
# shared with everyone), and not the flags the source's mount had (here: read-only, by the admin).
run_as_user mkdir "$D/ro-src"
echo "admin's" >"$D/ro-src/file"
chmod 0644 "$D/ro-src/file"
mount --bind "$D/ro-src" "$D/ro-src"
mount -o remount,bind,ro "$D/ro-src"
SB_MOUNTS+=("$D/ro-src")
script="
m=\$('$SB_MOUNT' mount '$D/ro-src' '$D/tgt/a' - bind -) && m=ok; echo \"mount=\$m\"
echo \"super=\$('$SB_MOUNT' mount - '$D/tgt/a' - remount,nosuid,nodev,ro size=1m)\"
echo \"droproro=\$('$SB_MOUNT' mount - '$D/tgt/a' - remount,bind,nosuid,nodev -)\"
echo \"info=\$(awk -v t='$D/tgt/a' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
echo x 2>/dev/null >'$D/tgt/a/file' && echo write=yes || echo write=no
k=\$('$SB_MOUNT' mount - '$D/tgt/a' - remount,bind,nosuid,nodev,ro,noexec -) && k=ok; echo \"keep=\$k\"
'$SB_MOUNT' umount '$D/tgt/a'
"
out=$(sandbox --mount "bind $D/ro-src $D/tgt/*:noexec" -- sh -c "$script") || true
printf '%s\n' "$out" | sed 's/^/# /'
assert_eq "bind of a read-only source" ok "$(sb_field mount)"
assert_eq "a remount without MS_BIND (its source's superblock): EPERM" EPERM "$(sb_field super)"
assert_eq "a bind remount dropping the source's ro: EPERM" EPERM "$(sb_field droproro)"
assert_contains "still read-only" "$(sb_opts_of "$(sb_field info)")" ",ro,"
assert_eq "nothing written through it" no "$(sb_field write)"
assert_eq "control: a bind remount keeping ro (and adding an allowed flag) works" ok "$(sb_field keep)"
assert_eq "the source's file is unchanged" "admin's" "$(cat "$D/ro-src/file")"
assert_true "the log says why for the superblock" grep -q "refused, a remount of a bind mount without MS_BIND" \
        "$T/sysbrokerd.log"
assert_true "and for ro" grep -q "refused, it would drop flag 'ro'" "$T/sysbrokerd.log"
umount "$D/ro-src"

# The mount point must be the caller's to change (as fusermount asks): root's directory, though the rule's
# pattern matches it, is not covered.
mkdir -m 0755 "$D/tgt/roots"
out=$(sandbox "${RULE[@]}" -- "$SB_MOUNT" mount "$D/src" "$D/tgt/roots" - bind -) || true
assert_eq "a bind over a directory the caller may not write to: EPERM" EPERM "$out"
assert_eq "nothing mounted there" "" "$(sb_mntinfo "$D/tgt/roots")"
assert_true "the log says why" grep -q "mount on '$D/tgt/roots' by task [0-9]*: it may not write there" \
        "$T/sysbrokerd.log"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
