#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Directory mappings for open (issue 13): a bwrap sandbox sees a root-only host directory at another path
# (--ro-bind HOSTDIR /srv/secret), and a rule '/srv/secret/**' with HostPath HOSTDIR lets it read the files
# below it: the sandbox's /srv/secret/a/b is the host's HOSTDIR/a/b, resolved beneath HOSTDIR. Nothing leads
# out: a symlink of the user's (even one to a file within), a root's symlink leading out, and a '..' above
# the directory get the default action (EPERM under --default=deny, the sandbox's own EACCES under
# continue), with a log line naming the rule and the reason. A root's symlink within is followed, a '..'
# within too. A file the user moved in (renamed, or in a directory it moved in) is opened with the owner's
# own credentials: root's 0600 file is not read that way.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs bwrap
sb_start_all "$SB_RULES/allow-all.rules"

# HOSTDIR: root's alone. The user's subdirectory in it stands for any way a user may have to write below a
# mapped directory; its links are planted there as root and given to the user (the user cannot reach them
# through HOSTDIR itself).
mkdir -m 0755 "$T/data" "$T/outside"
H=$T/data/secret
mkdir -m 0700 "$H"
sb_put_file "$H/a/b.txt" root:root 0600 "MAPPED-SECRET"
chmod 0700 "$H/a"
sb_put_file "$T/outside/other" root:root 0600 "OUTSIDE-SECRET"
mkdir -m 0755 "$H/u"
chown "$SB_TEST_UID:$SB_TEST_GID" "$H/u"
plant() { # plant TARGET NAME OWNER
    ln -s "$1" "$2"
    chown -h "$3" "$2"
}
plant "$T/outside/other" "$H/u/out" "$SB_TEST_UID"
plant "../a/b.txt" "$H/u/within" "$SB_TEST_UID"
plant "a/b.txt" "$H/rootlink" 0
plant "../../outside/other" "$H/rootout" 0
plant "$H/a/b.txt" "$H/rootabs" 0

ctl_dir=$(dirname "$(realpath "$SYSBROKERCTL")")
RULE=(--open-host "/srv/secret/**=$H")
# sandbox [sysbrokerctl options...] -- COMMAND...: under bwrap, HOSTDIR at /srv/secret, through the hand-off.
sandbox() {
    local opts=()
    while [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    shift
    run_as_user env LC_ALL=C "$SYSBROKERCTL" run --handoff "${opts[@]}" -- \
        bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --tmpfs /srv \
              --ro-bind "$H" /srv/secret --ro-bind "$ctl_dir" "$ctl_dir" \
              -- "$SYSBROKERCTL" exec -- "$@" 2>&1
}
log_has() {
    grep -qF -- "$1" "$T/sysbrokerd.log"
}
# A line about opening $1 that says $2.
log_line_has() {
    grep -F -- "open '$1' as host" "$T/sysbrokerd.log" | grep -F -- "$2" >/dev/null
}
DENY=(--default=deny "${SB_OPEN_SYSTEM_RULES[@]}")
DESCRIBED="(emulate open /srv/secret/** r from host $H)"

out=$(run_as_user bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp \
        --tmpfs /srv --ro-bind "$H" /srv/secret -- cat /srv/secret/a/b.txt 2>&1) || true
assert_contains "control: without the broker the sandbox cannot read the mapped directory" "$out" \
        "Permission denied"

out=$(sandbox "${RULE[@]}" -- cat /srv/secret/a/b.txt) || true
assert_eq "the sandbox reads HOSTDIR/a/b.txt as /srv/secret/a/b.txt" MAPPED-SECRET "$out"
out=$(sandbox "${DENY[@]}" "${RULE[@]}" -- cat /srv/secret/a/b.txt) || true
assert_eq "and under --default=deny" MAPPED-SECRET "$out"
out=$(sandbox "${RULE[@]}" -- cat /srv/secret/a/../a/b.txt) || true
assert_eq "a '..' within the mapping is followed" MAPPED-SECRET "$out"
out=$(sandbox "${RULE[@]}" -- cat /srv/secret/rootlink) || true
assert_eq "root's symlink within the mapping is followed" MAPPED-SECRET "$out"
out=$(sandbox "${RULE[@]}" -- cat /srv/secret/a/none) || true
assert_contains "a missing file is the kernel's ENOENT" "$out" "No such file or directory"
out=$(sandbox "${DENY[@]}" "${RULE[@]}" -- sh -c 'echo x >/srv/secret/a/b.txt') || true
assert_contains "a read-only mapping does not write" "$out" "Operation not permitted"
assert_eq "the host's file is unchanged" MAPPED-SECRET "$(cat "$H/a/b.txt")"

# Each refusal: the sandbox's own EACCES under continue, EPERM under deny, and the log line. Lines a sandbox
# causes are rate-limited per owner (40 in 10 s): the lines are looked for in the continue runs, which log
# one line each, and every run has the C locale (no locale files opened, each a line under deny).
refused() { # refused NAME PATH LOG-REASON
    local name=$1 path=$2 reason=$3 out
    out=$(sandbox "${RULE[@]}" -- cat "$path") || true
    assert_not_contains "$name: nothing read (continue)" "$out" SECRET
    assert_contains "$name: the sandbox's own EACCES under continue" "$out" "Permission denied"
    assert_true "$name: the log line names the file" \
        log_has "open '$path' as host '$H/${path#/srv/secret/}' for task"
    assert_true "$name: ... the reason" log_line_has "$path" "$reason"
    assert_true "$name: ... and the rule" log_line_has "$path" "rule 0 $DESCRIBED refused for task"
    out=$(sandbox "${DENY[@]}" "${RULE[@]}" -- cat "$path") || true
    assert_not_contains "$name: nothing read (deny)" "$out" SECRET
    assert_contains "$name: EPERM under --default=deny" "$out" "Operation not permitted"
}
refused "the user's symlink out of the mapping" /srv/secret/u/out \
        "unsafe symlink at '$H/u/out' (owned by uid $SB_TEST_UID, in a directory of uid $SB_TEST_UID"
refused "the user's symlink to a file within" /srv/secret/u/within "unsafe symlink at '$H/u/within'"
refused "root's symlink leading out" /srv/secret/rootout "outside the mapping of '$H'"
refused "root's symlink with an absolute target" /srv/secret/rootabs "outside the mapping of '$H'"
refused "a '..' above the mapping" /srv/secret/a/../../outside/other "outside the mapping of '$H'"
refused "a directory" /srv/secret/a "a directory, which a mapping does not hand out"

# What the user moves into the mapping is not what root put there. Root's 0600 file in a directory of the
# user's, which the user may rename but not read, renamed into the user's subdirectory of the mapping, and a
# directory of the user's with root's file below (a directory moves with the right to write it): not read
# through the mapping, whose files below a directory that is not root's alone are opened with the owner's
# own credentials. The user's own file there still is.
mkdir -m 0755 "$T/data/home"
chown "$SB_TEST_UID:$SB_TEST_GID" "$T/data/home"
sb_put_file "$T/data/home/rootfile" root:root 0600 "MOVED-SECRET"
mkdir -m 0755 "$T/data/home/d" "$T/data/home/d/sub"
chown "$SB_TEST_UID:$SB_TEST_GID" "$T/data/home/d"
sb_put_file "$T/data/home/d/sub/f" root:root 0600 "MOVED-DEEP-SECRET"
assert_false "control: the user cannot read root's file" run_as_user cat "$T/data/home/rootfile"
chmod 0711 "$H" # the user's way to its subdirectory, for as long as it takes
assert_true "the user renames it into the mapping" run_as_user mv "$T/data/home/rootfile" "$H/u/moved"
assert_true "and the directory holding the other" run_as_user mv "$T/data/home/d" "$H/u/d"
chmod 0700 "$H"
sb_put_file "$H/u/own" "$SB_TEST_UID:$SB_TEST_GID" 0600 "USERS-OWN"
out=$(sandbox "${RULE[@]}" -- cat /srv/secret/u/moved) || true
assert_not_contains "a root file renamed into the mapping is not read" "$out" SECRET
assert_contains "... the owner's own EACCES" "$out" "Permission denied"
assert_true "... logged saying why" \
    log_line_has /srv/secret/u/moved "a directory on the way is not root's alone"
out=$(sandbox "${RULE[@]}" -- cat /srv/secret/u/d/sub/f) || true
assert_not_contains "nor one below a directory moved in" "$out" SECRET
out=$(sandbox --open-host "/srv/secret/**=$H:rw" -- sh -c 'echo x >>/srv/secret/u/moved') || true
assert_contains "nor written through a read-write mapping" "$out" "Permission denied"
assert_eq "root's file unchanged" MOVED-SECRET "$(cat "$H/u/moved")"
out=$(sandbox "${RULE[@]}" -- cat /srv/secret/u/own) || true
assert_eq "the user's own file there is read" USERS-OWN "$out"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
