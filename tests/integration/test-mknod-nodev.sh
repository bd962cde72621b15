#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A device node on a nodev mount could never be opened, by the sandbox or anyone: mknod there is refused with
# EPERM before anything is made, and the log says why and points at HostPath. The same rule on a mount that
# allows devices still gets its node, and a whiteout (c 0:0, never opened) is made on the nodev mount too.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"

# $T/work is sb_init's tmpfs that allows devices; a nodev tmpfs inside it, in the namespace the broker
# shares.
DEV=$T/work/dev
NODEV=$T/work/nodev
run_as_user mkdir "$DEV" "$NODEV"
mount -t tmpfs -o "nodev,mode=0755,uid=$SB_TEST_UID,gid=$SB_TEST_GID,size=1m" sysbroker-nodev "$NODEV" ||
        sb_die "cannot mount a nodev tmpfs on $NODEV"
SB_MOUNTS+=("$NODEV")
assert_contains "the nodev tmpfs is nodev (setup)" "$(sb_opts_of "$(sb_mntinfo "$NODEV")")" ,nodev,
assert_not_contains "the other tmpfs is not (setup)" "$(sb_opts_of "$(sb_mntinfo "$T/work")")" ,nodev,

sandbox() {
    run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $DEV/*" --mknod "c 1:3 $NODEV/*" \
            --mknod "c 0:0 $NODEV/*" -- "$@" 2>&1
}

out=$(sandbox unshare -Ur sh -c "mknod '$NODEV/null' c 1 3; echo mknod-exit=\$?") || true
assert_contains "mknod on the nodev mount fails" "$out" "mknod-exit=1"
assert_contains "with EPERM" "$out" "Operation not permitted"
assert_false "no node is left there" test -e "$NODEV/null"
assert_true "the log says the node could never be opened there" grep -qF \
        "'$NODEV/null' by task" "$T/sysbrokerd.log"
assert_true "because the mount is nodev, and points at HostPath" grep -qE \
        "nodev mount, where the node could never be opened; denying\. .* HostPath" "$T/sysbrokerd.log"

# The same through a mount namespace of its own, where the copy of the mount is nodev as well.
out=$(sandbox unshare -Urm sh -c "mknod '$NODEV/ownns' c 1 3; echo mknod-exit=\$?") || true
assert_contains "a mount namespace of its own: mknod fails too" "$out" "mknod-exit=1"
assert_contains "with EPERM" "$out" "Operation not permitted"
assert_false "no node is left there" test -e "$NODEV/ownns"

# Controls: the same kind of rule on a mount that allows devices, and a whiteout on the nodev mount.
out=$(sandbox unshare -Ur sh -c "mknod '$DEV/null' c 1 3 && echo created") || true
assert_contains "control: mknod on a mount without nodev succeeds" "$out" created
assert_eq "the node is the one asked for" "character special file 1:3" \
        "$(stat -c '%F %Hr:%Lr' "$DEV/null" 2>&1)"
assert_eq "and it can be opened: it reads as /dev/null does" 0 "$(head -c 16 "$DEV/null" | wc -c)"
out=$(sandbox unshare -Ur sh -c "mknod '$NODEV/whiteout' c 0 0 && echo created") || true
assert_contains "control: a whiteout on the nodev mount is made" "$out" created
assert_eq "the whiteout is there" "character special file 0:0" \
        "$(stat -c '%F %Hr:%Lr' "$NODEV/whiteout" 2>&1)"

# A refusal by rule is the line its owner needs most: a flood of calls denied by the default action first
# (200 mknods no rule covers, far beyond the listener's and the owner's budgets) must not silence it. The
# default-action lines have budgets of their own (log-limit.h, LogKind).
out=$(run_as_user "$SYSBROKERCTL" run --default=deny --mknod "c 1:3 $NODEV/*" -- unshare -Ur sh -c "
        i=0; while [ \$i -lt 200 ]; do mknod '$DEV/flood-'\$i p 2>/dev/null; i=\$((i + 1)); done
        mknod '$NODEV/after-flood' c 1 3; echo mknod-exit=\$?" 2>&1) || true
assert_contains "after a flood of default denials: mknod on the nodev mount fails" "$out" "mknod-exit=1"
assert_true "the flood was held back by the default action's limit" grep -qE \
        "[0-9]+ more calls answered by the default action not logged" "$T/sysbrokerd.log"
assert_true "and the refusal by rule is still logged" grep -qF "'$NODEV/after-flood' by task" "$T/sysbrokerd.log"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
