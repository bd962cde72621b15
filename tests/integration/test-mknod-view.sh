#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The directory a node is made in must be the directory the broker finds at that path in its own view, as
# for a file that open creates. A sandbox in its own user and mount namespace that binds a directory of its
# own over the rule's directory, or chroots into a tree of its own holding the same path, gets EPERM, and no
# node appears on the host outside the rule's directory. Its own mount namespace without such tricks, a
# relative path, and a sandbox in the broker's mount namespace (exempt: its absolute paths walk the host's
# mounts) still get their nodes.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"

DIR=$T/work/mk
OWN=$T/work/own
run_as_user mkdir "$DIR" "$DIR/sbdev" "$OWN"
RULE=(--mknod "c 1:3 $DIR/sbdev/*")

sandbox() {
    run_as_user "$SYSBROKERCTL" run "${RULE[@]}" -- "$@" 2>&1
}
is_null() {
    [ "$(stat -c '%F %Hr:%Lr' "$1" 2>&1)" = "character special file 1:3" ]
}

out=$(sandbox unshare -Ur sh -c "mknod '$DIR/sbdev/null' c 1 3 && echo created") || true
assert_contains "control: the broker's mount namespace and root (exempt)" "$out" created
assert_true "the node is there" is_null "$DIR/sbdev/null"
out=$(sandbox unshare -Urm sh -c "mknod '$DIR/sbdev/ownns' c 1 3 && echo created") || true
assert_contains "control: a mount namespace of its own, the same directory there" "$out" created
assert_true "the node is there" is_null "$DIR/sbdev/ownns"
out=$(sandbox unshare -Urm sh -c "cd '$DIR/sbdev' && mknod rel c 1 3 && echo created") || true
assert_contains "control: a path relative to its cwd" "$out" created
assert_true "the node is there" is_null "$DIR/sbdev/rel"

# Its own directory bound over the rule's directory.
out=$(sandbox unshare -Urm sh -c \
        "mount --bind '$OWN' '$DIR/sbdev' && echo bound && mknod '$DIR/sbdev/bound' c 1 3; echo mknod-exit=\$?") || true
assert_contains "bind mount over the rule's directory: the bind works (setup)" "$out" bound
assert_contains "mknod fails" "$out" "mknod-exit=1"
assert_contains "with EPERM" "$out" "Operation not permitted"
assert_false "no node in the sandbox's own directory on the host" test -e "$OWN/bound"
assert_false "nor in the rule's directory" test -e "$DIR/sbdev/bound"
assert_true "the log says the directory in the sandbox's view is not the host's" grep -qF \
        "'$DIR/sbdev' in the view of task" "$T/sysbrokerd.log"

# A chroot into a tree of its own holding the same path (the system's /usr bound in, to have a shell).
C=$T/work/croot
script="mkdir -p '$C/usr' '$C$DIR/sbdev' && mount --rbind /usr '$C/usr' &&
        ln -s usr/bin '$C/bin' && ln -s usr/lib '$C/lib' && ln -s usr/lib64 '$C/lib64' &&
        chroot '$C' /bin/sh -c \"echo chrooted; mknod '$DIR/sbdev/chrooted' c 1 3; echo mknod-exit=\\\$?\""
out=$(sandbox unshare -Urm sh -c "$script") || true
assert_contains "chroot: the sandbox is in its own tree (setup)" "$out" chrooted
assert_contains "mknod fails" "$out" "mknod-exit=1"
assert_contains "with EPERM" "$out" "Operation not permitted"
assert_false "no node in the sandbox's tree on the host" test -e "$C$DIR/sbdev/chrooted"
assert_false "nor in the rule's directory" test -e "$DIR/sbdev/chrooted"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
