#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A device in a bubblewrap sandbox through HostPath (issue 13, test d). bwrap's --dev /dev is a tmpfs
# mounted nodev in a user namespace: no node there can ever be opened, and the sandbox has no /dev/fuse.
# An open rule for /dev/fuse with the host's /dev/fuse as HostPath makes the broker open the host's node
# and hand the fd in. Reading a fuse fd that no mount uses fails with EPERM from the fuse driver itself,
# which tells a working device apart from a refused open (EACCES, EPERM or ENOENT at the open). Without the
# rule the open fails.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs bwrap dd
[ -c /dev/fuse ] || sb_skip "/dev/fuse is not a character device here (no fuse module)"
# As root on the host, reading a fresh fuse fd is the driver's EPERM: what the sandbox must see too.
host=$(dd if=/dev/fuse of=/dev/null bs=1 count=1 2>&1) && sb_skip "reading /dev/fuse succeeded on the host"
[[ $host == *"error reading '/dev/fuse': Operation not permitted"* ]] ||
        sb_skip "reading an unused /dev/fuse fd does not fail with EPERM here: $host"
sb_start_all "$SB_RULES/allow-all.rules"

ctl_dir=$(dirname "$(realpath "$SYSBROKERCTL")")
sandbox=(bwrap --unshare-all --die-with-parent --ro-bind /usr /usr
         --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --symlink usr/sbin /sbin
         --ro-bind /etc /etc --proc /proc --dev /dev --tmpfs /tmp
         # After the tmpfs on /tmp, which would hide the build where CI clones below /tmp.
         --ro-bind "$ctl_dir" "$ctl_dir")

# sb_bwrap RULES... -- SCRIPT: SCRIPT with sh in the sandbox, as uid 65534, with the hand-off; sets out, rc.
sb_bwrap() {
    local rules=()
    while [ "$1" != -- ]; do rules+=("$1"); shift; done
    rc=0
    out=$(run_as_user "$SYSBROKERCTL" run --handoff "${rules[@]}" -- \
            "${sandbox[@]}" -- "$SYSBROKERCTL" exec -- sh -c "$2" 2>&1) || rc=$?
}

probe='grep -q " /dev tmpfs .*nodev" /proc/self/mounts && echo dev-nodev=yes
test -e /dev/fuse && echo dev-fuse=exists || echo dev-fuse=missing
dd if=/dev/fuse of=/dev/null bs=1 count=1'

sb_bwrap --open-host /dev/fuse=/dev/fuse:rw -- "$probe"
assert_contains "the sandbox's /dev is nodev" "$out" "dev-nodev=yes"
assert_contains "and has no /dev/fuse of its own" "$out" "dev-fuse=missing"
assert_contains "with the HostPath rule the open succeeds and the read is the fuse driver's EPERM" "$out" \
        "dd: error reading '/dev/fuse': Operation not permitted"
assert_not_contains "the open itself did not fail" "$out" "failed to open"

sb_bwrap --open-host /dev/other=/dev/null:rw -- "$probe"
assert_contains "without the rule the open fails" "$out" \
        "dd: failed to open '/dev/fuse': No such file or directory"

assert_true "no listener left behind" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
