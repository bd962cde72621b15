#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The broker resolves a path as the kernel would for the caller: relative to the dirfd it passed to
# mknodat(), or to its cwd, through "..", and through symlinks — never by matching the raw string.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
[ -x "${SB_MKNOD:-}" ] || sb_die "SB_MKNOD helper not built: '${SB_MKNOD:-}'"

D=$T/work/dev
O=$T/work/other
run_as_user mkdir "$D" "$D/sub" "$O"
run_as_user ln -s "$O" "$D/link"

sandbox() {
    # $1: rule pattern; rest: shell code run in an unprivileged user namespace, cwd = $O.
    local rule=$1
    shift
    run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $rule" -- \
            unshare -Ur sh -c "cd '$O' && $*" 2>&1
}

# mknodat(dirfd of $D, "null") with the cwd elsewhere: only the dirfd gives the allowed path.
out=$(sandbox "$D/*" "'$SB_MKNOD' at '$D' null c 1 3 666") || true
assert_eq "mknodat with a real dirfd succeeds" ok "$out"
assert_eq "node created relative to the dirfd" "character special file 1:3" \
        "$(stat -c '%F %Hr:%Lr' "$D/null" 2>&1)"
assert_false "nothing created relative to the cwd" test -e "$O/null"

# mknodat(dirfd of $D/sub, "../viadotdot"): ".." is resolved, the result is inside the rule.
out=$(sandbox "$D/*" "'$SB_MKNOD' at '$D/sub' ../viadotdot c 1 3 600") || true
assert_eq "mknodat through .. succeeds" ok "$out"
assert_eq "node created at the resolved path" "character special file 0600" \
        "$(stat -c '%F %04a' "$D/viadotdot" 2>&1)"

# mknodat(dirfd of $O, "null"): the same name, but the resolved path is outside the rule.
out=$(sandbox "$D/*" "'$SB_MKNOD' at '$O' null c 1 3 666") || true
assert_eq "mknodat with a dirfd outside the rule is refused" EPERM "$out"
assert_false "no node at the dirfd's path" test -e "$O/null"

# A relative path from the cwd.
out=$(sandbox "$D/*" "cd '$D' && mknod relative c 1 3 && echo created") || true
assert_contains "mknod with a path relative to the cwd succeeds" "$out" created
assert_eq "node created relative to the cwd" "character special file 1:3" \
        "$(stat -c '%F %Hr:%Lr' "$D/relative" 2>&1)"

# "$D/link/escape" matches "$D/**" as a string, but $D/link is a symlink to $O.
out=$(sandbox "$D/**" "mknod '$D/link/escape' c 1 3; echo mknod-exit=\$?") || true
assert_contains "a symlink out of the rule's tree is refused" "$out" "Operation not permitted"
assert_false "no node through the symlink" test -e "$O/escape"

# And "$D/**" does allow a real subdirectory.
out=$(sandbox "$D/**" "mknod '$D/sub/deep' c 1 3 && echo created") || true
assert_contains "a real subdirectory under /** is allowed" "$out" created
assert_true "node created in the subdirectory" test -c "$D/sub/deep"

sb_finish
