#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The host check of an ordinary open rule (is the file the sandbox reached at an allowed path the host's file
# at that path?) resolves the host's path safely. A sandbox in its own user and mount namespace bind-mounts a
# root-only file it can look up but not read over the allowed path, while its user makes the host's allowed
# path a symlink to that same file: a lookup that follows the symlink finds the same inode and lets the
# sandbox read it. The user's symlink is not followed: denied, and the log says why.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

# A root-only file in a directory everyone may search: what the sandbox can name and bind, not read.
E=$T/exposed
mkdir -m 0755 "$E"
sb_put_file "$E/secret" root:root 0600 "BIND-SECRET"
A=$T/work/allowed
F=$T/work/fake
run_as_user mkdir "$A" "$F"
run_as_user touch "$F/x"
run_as_user sh -c "echo OWN-X >'$A/x'"

sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}
# In its own namespaces: a directory of its own over the allowed one (so the allowed name is no symlink in
# its view), the secret bound over the name, then the open.
script="mount --bind '$F' '$A' && mount --bind '$E/secret' '$A/x' && echo bound && cat '$A/x'"

out=$(sandbox --open "$A/*" -- cat "$A/x") || true
assert_eq "control: the rule opens the owner's own file" OWN-X "$out"
out=$(sandbox --open "$A/*" -- cat "$E/secret") || true
assert_contains "control: the secret is out of the sandbox's reach" "$out" "Permission denied"

out=$(sandbox --open "$A/*" -- unshare -Urm sh -c "$script") || true
assert_contains "control: with a plain file on the host, the binds work (setup)" "$out" bound
assert_not_contains "and the bound secret is not the host's file: not read" "$out" BIND-SECRET
assert_contains "denied (EPERM)" "$out" "Operation not permitted"

run_as_user rm "$A/x"
run_as_user ln -s "$E/secret" "$A/x"
out=$(sandbox --open "$A/*" -- unshare -Urm sh -c "$script") || true
assert_contains "the host's name a symlink of the user's to the secret: the binds work (setup)" "$out" bound
assert_not_contains "the secret is not read" "$out" BIND-SECRET
assert_contains "denied (EPERM)" "$out" "Operation not permitted"
assert_true "the log names the unsafe symlink" grep -qF \
        "open '$A/x' by task" "$T/sysbrokerd.log"
assert_true "and whose it is" grep -qF \
        "unsafe symlink at '$A/x' (owned by uid $SB_TEST_UID, in a directory of uid $SB_TEST_UID" "$T/sysbrokerd.log"

# A file created at an allowed path: its directory is compared the same way. The user makes the host's
# allowed directory a symlink to a directory of root's; the sandbox binds a directory of its own over the
# parent (so the name is no symlink in its view) and root's directory over the name: the same inode as the
# host's symlink leads to, and creating there needs CAP_DAC_OVERRIDE.
B=$T/work/bdir
RD=$T/roots-dir
mkdir -m 0755 "$RD"
run_as_user mkdir "$B" "$T/work/bfake"
run_as_user mkdir "$T/work/bfake/d"
run_as_user ln -s "$RD" "$B/d"
out=$(sandbox --open "$B/d/*:rw:create" -- unshare -Urm sh -c \
        "mount --bind '$T/work/bfake' '$B' && mount --bind '$RD' '$B/d' && echo bound && echo data >'$B/d/new'; echo exit=\$?") || true
assert_contains "a new file in root's directory bound where the user's symlink leads: the binds work (setup)" \
        "$out" bound
assert_contains "the creation is denied" "$out" "Operation not permitted"
assert_false "no file created in root's directory" test -e "$RD/new"
assert_true "the log names the unsafe symlink" grep -qF "unsafe symlink at '$B/d' (owned by uid $SB_TEST_UID" \
        "$T/sysbrokerd.log"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
