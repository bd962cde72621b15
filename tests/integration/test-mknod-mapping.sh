#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Directory mappings for mknod (issue 13): a sandbox whose /dev-like directory is a host directory bound at
# another path gets its node there, by a rule 'c 1:3 BOX/**' with HostPath HOSTDEV, because the sandbox's
# directory is the host's HOSTDEV (or a directory below it); the node works (it is on a mount that allows
# devices). The same name at a directory that is not the mapped one (the host's own BOX, another directory
# of the sandbox's bound there) gets the default action, and the log names the rule and the reason.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs unshare
sb_start_all "$SB_RULES/allow-all.rules"

# $T/work is sb_init's tmpfs that allows devices.
HD=$T/work/hostdev
BOX=$T/work/box
OTHER=$T/work/other
run_as_user mkdir "$HD" "$HD/sub" "$BOX" "$OTHER"
assert_not_contains "the directories allow devices (setup)" "$(sb_opts_of "$(sb_mntinfo "$T/work")")" ,nodev,

RULE=(--mknod "c 1:3 $BOX/**=$HD")
DESCRIBED="(emulate mknod c 1:3 $BOX/** in host $HD)"
sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}
is_null() {
    [ "$(stat -c '%F %Hr:%Lr' "$1" 2>&1)" = "character special file 1:3" ]
}
log_line_has() { # a line about mknod of $1 that says $2
    grep -F -- "mknod '$1' by task" "$T/sysbrokerd.log" | grep -F -- "$2" >/dev/null
}

out=$(sandbox "${RULE[@]}" -- unshare -Urm sh -c \
        "mount --bind '$HD' '$BOX' && mknod '$BOX/null' c 1 3 && echo created && echo hi >'$BOX/null' && echo usable") ||
        true
assert_contains "HOSTDEV bound at BOX: the node is made" "$out" created
assert_true "in the host's HOSTDEV" is_null "$HD/null"
assert_false "not in the host's BOX" test -e "$BOX/null"
assert_contains "and the sandbox can use it" "$out" usable
out=$(sandbox "${RULE[@]}" -- unshare -Urm sh -c "mount --bind '$HD' '$BOX' && mknod '$BOX/sub/null' c 1 3 && echo created") ||
        true
assert_contains "a directory below: made too" "$out" created
assert_true "in HOSTDEV/sub" is_null "$HD/sub/null"

# HOSTDEV below a directory only root may search (a container's /dev under its runtime's state), bound at
# BOX2 by root: the comparison's walk has the capability to search, as a HostPath open's walk does.
RD=$T/work/rootonly
mkdir -m 0700 "$RD"
run_as_user mkdir "$T/work/box2"
mkdir "$RD/dev"
chown "$SB_TEST_UID:$SB_TEST_GID" "$RD/dev"
mount --bind "$RD/dev" "$T/work/box2"
SB_MOUNTS+=("$T/work/box2")
out=$(sandbox --mknod "c 1:3 $T/work/box2/**=$RD/dev" -- unshare -Ur sh -c "mknod '$T/work/box2/null' c 1 3 && echo created") ||
        true
assert_contains "HOSTDEV below a root-only directory: made" "$out" created
assert_true "in that HOSTDEV" is_null "$RD/dev/null"

# Not the mapped directory: the default action (EPERM under deny), and the log line.
out=$(sandbox --default=deny "${RULE[@]}" -- unshare -Urm sh -c \
        "mount --bind '$OTHER' '$BOX' && echo bound && mknod '$BOX/other' c 1 3; echo mknod-exit=\$?") || true
assert_contains "another directory bound at BOX (setup)" "$out" bound
assert_contains "mknod fails" "$out" "mknod-exit=1"
assert_contains "with EPERM" "$out" "Operation not permitted"
assert_false "no node in the other directory" test -e "$OTHER/other"
assert_false "nor in HOSTDEV" test -e "$HD/other"
assert_true "the log says it is not the mapped directory" \
        log_line_has "$BOX/other" "the directory in the sandbox's view is not the mapped host directory '$HD'"
assert_true "and names the rule" log_line_has "$BOX/other" "rule 0 $DESCRIBED refused for task"

out=$(sandbox --default=deny "${RULE[@]}" -- unshare -Ur sh -c "mknod '$BOX/plain' c 1 3; echo mknod-exit=\$?") ||
        true
assert_contains "the host's own BOX, not the mapped directory: refused" "$out" "mknod-exit=1"
assert_false "no node there" test -e "$BOX/plain"
assert_true "logged" log_line_has "$BOX/plain" "not the mapped host directory '$HD'"

# Below the mapped directory, where HOSTDEV has no such directory.
run_as_user mkdir "$OTHER/sub2"
out=$(sandbox "${RULE[@]}" -- unshare -Urm sh -c \
        "mount --bind '$OTHER' '$BOX' && mknod '$BOX/sub2/null' c 1 3; echo mknod-exit=\$?") || true
assert_contains "a directory the mapping does not have: refused" "$out" "mknod-exit=1"
assert_false "no node there" test -e "$OTHER/sub2/null"
assert_true "logged" log_line_has "$BOX/sub2/null" "the mapped directory '$HD/sub2' cannot be had"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
