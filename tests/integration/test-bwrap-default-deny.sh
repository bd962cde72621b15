#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A bubblewrap sandbox under --default=deny, as a launcher would build it (issue 13, test b): with the
# hand-off, bwrap itself runs unfiltered; in the sandbox, `continue` rules let the dynamic loader, sh and
# cat open what they may open themselves (/usr, /etc/ld.so.cache), an open rule reads a root-only file
# for them, and every other open is denied with EPERM. Without the continue rules nothing starts; without
# the open rule the file is denied like the rest.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs bwrap
sb_start_all "$SB_RULES/allow-all.rules"

# /srv as the sandbox sees it is the host's, on a tmpfs of this mount namespace: nothing on the host is
# touched. a.txt and b.txt are root's alone: only the broker can open them for uid 65534.
[ -d /srv ] || sb_skip "no /srv directory to mount a tmpfs on"
mount -t tmpfs -o mode=0755,size=1m sb-srv /srv || sb_die "cannot mount a tmpfs on /srv"
SB_MOUNTS+=(/srv)
sb_put_file /srv/secret/a.txt root:root 0600 "BWRAP-SECRET-A"
sb_put_file /srv/secret/b.txt root:root 0600 "BWRAP-SECRET-B"

# sysbrokerctl is the build's; in the sandbox only /usr, the merged-/usr links, /etc/ld.so.cache, /srv/secret
# and sysbrokerctl's directory exist.
ctl_dir=$(dirname "$(realpath "$SYSBROKERCTL")")
sandbox=(bwrap --unshare-all --die-with-parent --ro-bind /usr /usr
         --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --symlink usr/sbin /sbin
         --ro-bind /etc/ld.so.cache /etc/ld.so.cache --ro-bind /srv/secret /srv/secret
         --proc /proc --dev /dev --tmpfs /tmp
         # After the tmpfs on /tmp, which would hide the build where CI clones below /tmp.
         --ro-bind "$ctl_dir" "$ctl_dir")
loader_rules=(--continue-open '/usr/**' --continue-open /etc/ld.so.cache)

# sb_bwrap RULES... -- SCRIPT: run SCRIPT with sh in the sandbox under RULES, --default=deny and the
# hand-off, as uid 65534; sets out and rc.
sb_bwrap() {
    local rules=()
    while [ "$1" != -- ]; do rules+=("$1"); shift; done
    rc=0
    out=$(run_as_user "$SYSBROKERCTL" run --handoff --default=deny "${rules[@]}" -- \
            "${sandbox[@]}" -- "$SYSBROKERCTL" exec -- sh -c "$2" 2>&1) || rc=$?
}

sb_bwrap --open /srv/secret/a.txt "${loader_rules[@]}" -- 'cat /srv/secret/a.txt'
assert_eq "the sandbox runs and exits 0" 0 "$rc"
assert_eq "it read the root-only file through the open rule" "BWRAP-SECRET-A" "$out"

sb_bwrap --open /srv/secret/a.txt "${loader_rules[@]}" -- 'cat /srv/secret/b.txt'
assert_eq "a file no rule allows: cat fails" 1 "$rc"
assert_eq "with EPERM from the default action" "cat: /srv/secret/b.txt: Operation not permitted" "$out"

# What the sandbox could open itself is denied too unless continued: a file of /proc, readable by anyone.
sb_bwrap --open /srv/secret/a.txt "${loader_rules[@]}" -- 'cat /proc/self/comm'
assert_eq "an unlisted readable file is denied as well" \
        "cat: /proc/self/comm: Operation not permitted" "$out"

# Without the open rule, a.txt is just another denied path.
sb_bwrap --deny-open /nonexistent "${loader_rules[@]}" -- 'cat /srv/secret/a.txt'
assert_eq "without the open rule: cat fails" 1 "$rc"
assert_eq "with EPERM" "cat: /srv/secret/a.txt: Operation not permitted" "$out"

# Without the continue rules the dynamic loader is denied its libraries: the command never starts.
sb_bwrap --open /srv/secret/a.txt -- 'cat /srv/secret/a.txt'
assert_eq "without the loader's rules: exit 127 from the loader" 127 "$rc"
assert_contains "the loader cannot open a library" "$out" "Operation not permitted"
assert_not_contains "and the file is not read" "$out" "BWRAP-SECRET-A"

assert_true "no listener left behind" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
