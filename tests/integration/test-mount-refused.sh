#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What mount rules do not grant, each case with the exact errno the sandbox gets and nothing mounted
# afterwards: a filesystem type no rule names, a target outside the pattern, a symlink inside the allowed
# directory pointing outside it, a source the rule does not name, a data option or a flag the rule does not
# allow, a remount that would drop a forced flag, unmounting a mount the broker did not make (or one it
# made, with MNT_FORCE), moving a broker-made mount, more mounts than a listener may hold, a mount over the
# broker's own /proc or from another procfs, and a rule for a
# filesystem whose contents depend on the mounter's namespaces. The sandboxes are plain unprivileged
# processes (no user namespace): whatever the broker does not do, the kernel refuses them.
# The output ends with a table: case -> errno.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_mount_helper

D=$T/work/refused
run_as_user mkdir "$D" "$D/ok" "$D/out" "$D/out/t" "$D/ok/a" "$D/ok/b" "$D/ok/many"
run_as_user ln -s "$D/out/t" "$D/ok/link"
mkdir -m 0755 "$D/ok/foreign"
for p in "$D/ok/a" "$D/ok/b" "$D/out/t" "$D/ok/foreign"; do
    SB_MOUNTS+=("$p" "$p")
done

# Every mount below $D, in the test's view (which is the sandboxes' too: they have no namespace of their own).
mounts_below() {
    awk -v d="$D/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo
}

sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}

TABLE=()
# refused CASE EXPECTED_ERRNO RULE-OPTIONS... -- sb-mount ARGS...: one sandbox, one call, its errno checked
# and recorded, and nothing left mounted below $D.
refused() {
    local what=$1 expected=$2 out
    shift 2
    out=$(sandbox "$@") || true
    assert_eq "$what: $expected" "$expected" "$out"
    assert_eq "$what: nothing mounted" "" "$(mounts_below | grep -v "^$D/ok/foreign\$" || true)"
    TABLE+=("$what|$out")
}

TMPFS=(--mount "tmpfs - $D/ok/*:size=*")

# Control: the rule does grant a plain tmpfs on an allowed target (and the sandbox unmounts it again).
out=$(sandbox "${TMPFS[@]}" -- sh -c "'$SB_MOUNT' mount none '$D/ok/a' tmpfs - size=1m && echo mounted &&
        '$SB_MOUNT' umount '$D/ok/a' && echo unmounted") || true
assert_eq "control: the rule grants a tmpfs on an allowed target" "mounted
unmounted" "$out"

refused "fstype not in the rules (ramfs, only tmpfs allowed)" EPERM "${TMPFS[@]}" -- \
        "$SB_MOUNT" mount none "$D/ok/a" ramfs - -
refused "target outside the pattern" EPERM "${TMPFS[@]}" -- \
        "$SB_MOUNT" mount none "$D/out/t" tmpfs - size=1m
refused "symlinked target (allowed dir -> outside)" EPERM "${TMPFS[@]}" -- \
        "$SB_MOUNT" mount none "$D/ok/link" tmpfs - size=1m
assert_eq "symlinked target: the link's target is not mounted" "" "$(sb_mntinfo "$D/out/t")"
assert_true "symlinked target: the link is still a symlink" test -L "$D/ok/link"
refused "memory fs source not matching the rule's Source" EPERM --mount "tmpfs mine $D/ok/*:size=*" -- \
        "$SB_MOUNT" mount other "$D/ok/a" tmpfs - size=1m
refused "data option not allowed (mode=4777)" EPERM "${TMPFS[@]}" -- \
        "$SB_MOUNT" mount none "$D/ok/a" tmpfs - size=1m,mode=4777
assert_true "data option: the daemon log names the option" \
        grep -q "mount tmpfs on '$D/ok/a' by task [0-9]*: refused, option 'mode=4777'" "$T/sysbrokerd.log"
refused "data option with no Options in the rule (size=1m)" EPERM --mount "tmpfs - $D/ok/*" -- \
        "$SB_MOUNT" mount none "$D/ok/a" tmpfs - size=1m
refused "flag not allowed (noexec)" EPERM "${TMPFS[@]}" -- \
        "$SB_MOUNT" mount none "$D/ok/a" tmpfs noexec size=1m
refused "flag not allowed (ro)" EPERM "${TMPFS[@]}" -- \
        "$SB_MOUNT" mount none "$D/ok/a" tmpfs ro size=1m
assert_true "flag not allowed: the daemon log names noexec" \
        grep -q "mount tmpfs on '$D/ok/a' by task [0-9]*: refused, flag 'noexec'" "$T/sysbrokerd.log"
assert_true "flag not allowed: and ro" \
        grep -q "mount tmpfs on '$D/ok/a' by task [0-9]*: refused, flag 'ro'" "$T/sysbrokerd.log"
# Control: the same flag, allowed by the rule, is applied.
out=$(sandbox --mount "tmpfs - $D/ok/*:ro,size=*" -- sh -c "'$SB_MOUNT' mount none '$D/ok/a' tmpfs ro size=1m &&
        awk -v t='$D/ok/a' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo && '$SB_MOUNT' umount '$D/ok/a'") || true
assert_contains "control: ro allowed by the rule gives a read-only mount" "$out" "opts=ro,nosuid,nodev"

# Remounts of a mount the broker made: dropping a forced flag is refused and changes nothing; keeping them
# works (the control that the remount itself is supported).
script="
'$SB_MOUNT' mount none '$D/ok/a' tmpfs - size=1m && echo mount=ok
echo \"drop=\$('$SB_MOUNT' mount none '$D/ok/a' - remount,nosuid size=2m)\"
echo \"dropped=\$(awk -v t='$D/ok/a' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
k=\$('$SB_MOUNT' mount none '$D/ok/a' - remount,nosuid,nodev size=2m) && k=ok; echo \"keep=\$k\"
echo \"kept=\$(awk -v t='$D/ok/a' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
echo \"force=\$('$SB_MOUNT' umount '$D/ok/a' force)\"
echo \"forced=\$(awk -v t='$D/ok/a' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
echo \"move=\$('$SB_MOUNT' mount '$D/ok/a' '$D/ok/b' - move -)\"
echo \"moved=\$(awk -v t='$D/ok/b' -f '$SB_MNTINFO_AWK' /proc/self/mountinfo)\"
u=\$('$SB_MOUNT' umount '$D/ok/a') && u=ok; echo \"umount=\$u\"
"
out=$(sandbox "${TMPFS[@]}" -- sh -c "$script") || true
printf '%s\n' "$out" | sed 's/^/# /'
assert_eq "remount: the mount to remount is made" ok "$(sb_field mount)"
assert_eq "remount without nodev (a forced flag): EPERM" EPERM "$(sb_field drop)"
TABLE+=("remount dropping forced nodev|$(sb_field drop)")
dropped_opts=$(sb_opts_of "$(sb_field dropped)")
assert_contains "remount without nodev: still nodev afterwards" "$dropped_opts" ",nodev,"
assert_contains "remount without nodev: size unchanged" "$(sb_field dropped)" "size=1024k"
assert_true "remount without nodev: the daemon log says why" \
        grep -q "on '$D/ok/a' by task [0-9]*: refused, .*drop .*'nodev'" "$T/sysbrokerd.log"
assert_eq "control: remount keeping nosuid,nodev works" ok "$(sb_field keep)"
assert_contains "control: and changes the size" "$(sb_field kept)" "size=2048k"
assert_eq "umount with MNT_FORCE (default action: the kernel's EPERM)" EPERM "$(sb_field force)"
TABLE+=("umount MNT_FORCE of a broker mount|$(sb_field force)")
assert_contains "MNT_FORCE: still mounted" "$(sb_field forced)" "fstype=tmpfs"
assert_eq "MS_MOVE of a broker mount (default action: the kernel's EPERM)" EPERM "$(sb_field move)"
TABLE+=("MS_MOVE of a broker mount|$(sb_field move)")
assert_eq "MS_MOVE: nothing arrived at the new place" "" "$(sb_field moved)"
assert_eq "the broker's mount is then unmounted normally" ok "$(sb_field umount)"
assert_eq "remount: nothing left mounted" "" "$(mounts_below | grep -v "^$D/ok/foreign\$" || true)"

# A mount the broker did not make, where the rule's Target pattern would allow a mount: unmounting it is
# not the broker's to grant (default continue: the kernel's EPERM), with or without MNT_DETACH.
mount -t tmpfs -o size=1m,mode=0755 foreign "$D/ok/foreign"
out=$(sandbox "${TMPFS[@]}" -- "$SB_MOUNT" umount "$D/ok/foreign") || true
assert_eq "umount of a mount the broker did not make: EPERM" EPERM "$out"
TABLE+=("umount of a mount the broker did not make|$out")
out=$(sandbox "${TMPFS[@]}" -- "$SB_MOUNT" umount "$D/ok/foreign" detach) || true
assert_eq "the same with MNT_DETACH: EPERM" EPERM "$out"
TABLE+=("umount MNT_DETACH of a mount the broker did not make|$out")
assert_contains "it is still mounted" "$(sb_mntinfo "$D/ok/foreign")" "fstype=tmpfs source=foreign "
umount "$D/ok/foreign"

# At most 64 mounts per listener: the 65th is ENOSPC; the 64 are then unmounted again.
script="
n=0
for i in \$(seq 65); do
    mkdir -p '$D/ok/many/'\$i
    r=\$('$SB_MOUNT' mount none '$D/ok/many/'\$i tmpfs - size=64k) && n=\$((n + 1)) || echo \"mount\$i=\$r\"
done
echo mounted=\$n
u=0
for i in \$(seq 65); do '$SB_MOUNT' umount '$D/ok/many/'\$i >/dev/null && u=\$((u + 1)); done
echo unmounted=\$u
"
out=$(sandbox --mount "tmpfs - $D/ok/many/*:size=*" -- sh -c "$script") || true
assert_eq "64 mounts per listener, the 65th ENOSPC, then 64 unmounted" "mount65=ENOSPC
mounted=64
unmounted=64" "$out"
TABLE+=("65th mount of one listener|$(sb_field mount65)")
assert_eq "limit: nothing left mounted" "" "$(mounts_below | grep -v "^$D/ok/foreign\$" || true)"

# Filesystems whose contents depend on the mounter's namespaces are no rule at all.
rc=0
out=$(sandbox --mount "proc /proc $D/ok/*" -- echo the command ran) || rc=$?
assert_eq "a rule for proc: sysbrokerctl run fails before the command (exit 125)" 125 "$rc"
assert_not_contains "a rule for proc: the command never runs" "$out" "the command ran"
assert_contains "a rule for proc: sysbrokerd says InvalidRule" "$out" "org.sysbroker.Broker1.Error.InvalidRule"
TABLE+=("rule for proc (at registration)|$(grep -o 'org.sysbroker.Broker1.Error.InvalidRule' <<<"$out" | head -n 1)")
rc=0
out=$(sandbox --mount "tmpfs - $D/ok/*:size=*" --mount "sysfs /sys $D/ok/*" -- echo the command ran) || rc=$?
assert_eq "a rule for sysfs after a good one: refused as well (exit 125)" 125 "$rc"
assert_contains "a rule for sysfs: InvalidRule naming rule 1" "$out" "Rule 1"

# The broker's own /proc (the sandbox shares its mount namespace): covering it would blind the broker for
# every sandbox, so even a rule that names it does not grant it; registrations go on working afterwards.
proc_before=$(awk '$5 == "/proc"' /proc/self/mountinfo | wc -l)
refused "tmpfs over the broker's own /proc, though a rule names it" EPERM --mount "tmpfs - /proc" -- \
        "$SB_MOUNT" mount none /proc tmpfs - -
assert_eq "/proc: still exactly what was mounted there" "$proc_before" "$(awk '$5 == "/proc"' /proc/self/mountinfo | wc -l)"
assert_true "/proc: the daemon log says why" grep -q "mount on '/proc' by task [0-9]*: it is on a procfs" \
        "$T/sysbrokerd.log"
out=$(sandbox "${TMPFS[@]}" -- echo registered) || true
assert_eq "/proc: a registration afterwards works" registered "$out"

# A bind from a procfs, any instance: there "self" resolves, for the broker, to the broker's own /proc/<pid>.
P=$T/work/procfs2
mkdir -p "$P"
mount -t proc proc "$P" || sb_die "cannot mount a second procfs"
SB_MOUNTS+=("$P")
refused "bind from another procfs, though a rule names it" EPERM --mount "bind $P/* $D/ok/*" -- \
        "$SB_MOUNT" mount "$P/self" "$D/ok/a" - bind -
assert_true "procfs: the daemon log says why" grep -q "mount on '$D/ok/a' by task [0-9]*: the source is on a procfs" \
        "$T/sysbrokerd.log"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

echo "# case | errno"
for row in "${TABLE[@]}"; do
    echo "# ${row%%|*} | ${row#*|}"
done

sb_finish
