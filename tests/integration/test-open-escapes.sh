#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An open rule grants the files it names as the kernel resolves the path, never the string the process
# passed: a symlink out of the allowed directory, "..", a directory symlink, and a symlink swapped by a second
# thread while the first one's call is in flight all get nothing of the forbidden file. (And a symlink from
# elsewhere into the allowed directory does get the allowed file: it is what resolution reaches.) Nothing
# on a procfs is granted, whichever instance: the broker's own entries would open for it.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

# The test user owns the directories (it must be able to plant and swap symlinks); the files are root's.
D=$T/work/esc
run_as_user mkdir "$D" "$D/allowed" "$D/outside"
sb_put_file "$D/allowed/file" root:root 0600 "ALLOWED-DATA"
sb_put_file "$D/secret" root:root 0600 "FORBIDDEN-DATA"
sb_put_file "$D/outside/file" root:root 0600 "FORBIDDEN-DATA outside"
run_as_user ln -s ../secret "$D/allowed/out"
run_as_user ln -s "$D/secret" "$D/allowed/abs"
run_as_user ln -s ../outside "$D/allowed/dirlink"
run_as_user ln -s allowed/file "$D/in"

sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}

ONE=(--open "$D/allowed/*")
TREE=(--open "$D/allowed/**")

out=$(sandbox "${ONE[@]}" -- cat "$D/allowed/file") || true
assert_eq "control: the allowed file is read" ALLOWED-DATA "$out"
out=$(sandbox "${ONE[@]}" -- cat "$D/secret") || true
assert_contains "control: the forbidden file is not" "$out" "Permission denied"

out=$(sandbox "${ONE[@]}" -- cat "$D/allowed/out") || true
assert_contains "a relative symlink out of the directory is refused" "$out" "Permission denied"
assert_not_contains "and reads nothing" "$out" FORBIDDEN
out=$(sandbox "${ONE[@]}" -- cat "$D/allowed/abs") || true
assert_contains "an absolute symlink out of the directory is refused" "$out" "Permission denied"
assert_not_contains "and reads nothing" "$out" FORBIDDEN
out=$(sandbox "${ONE[@]}" -- cat "$D/allowed/../secret") || true
assert_contains "'..' in the path is refused" "$out" "Permission denied"
assert_not_contains "and reads nothing" "$out" FORBIDDEN
out=$(sandbox "${ONE[@]}" -- sh -c "cd '$D/allowed' && cat ../secret") || true
assert_contains "'..' from a cwd inside is refused" "$out" "Permission denied"
out=$(sandbox "${ONE[@]}" -- "$SB_OPEN" at "$D/allowed" ../secret r) || true
assert_eq "'..' from a dirfd inside is refused" EACCES "$out"
out=$(sandbox "${TREE[@]}" -- cat "$D/allowed/dirlink/file") || true
assert_contains "a directory symlink out of a /** tree is refused" "$out" "Permission denied"
assert_not_contains "and reads nothing" "$out" FORBIDDEN
out=$(sandbox "${ONE[@]}" -- "$SB_OPEN" open "$D/allowed/out" r,nofollow) || true
assert_eq "O_NOFOLLOW on a symlink is ELOOP" ELOOP "$out"

out=$(sandbox "${ONE[@]}" -- cat "$D/in") || true
assert_eq "a symlink from outside into the directory reaches the allowed file" ALLOWED-DATA "$out"

# A directory the process cannot search hides what is below it; a rule does not change that (invariant 3).
mkdir -m 0700 "$D/locked"
sb_put_file "$D/locked/file" root:root 0644 "LOCKED-DATA"
out=$(sandbox --open "$D/locked/*" -- cat "$D/locked/file") || true
assert_contains "a file below a directory the process cannot search stays out of reach" "$out" \
        "Permission denied"
assert_not_contains "and reads nothing" "$out" LOCKED-DATA

# A dangling symlink in the allowed directory does not let Create make a file elsewhere: the kernel would
# create the file it points to, and does so for the process only where the process itself may.
mkdir -m 0755 "$D/rootonly"
run_as_user ln -s ../rootonly/made-through-link "$D/allowed/dangling"
out=$(sandbox --open "$D/allowed/*:w:create" -- sh -c "echo x > '$D/allowed/dangling'; echo exit=\$?") || true
assert_contains "Create through a dangling symlink out of the directory: the kernel's EACCES" "$out" \
        "Permission denied"
assert_false "and nothing created where the process may not" test -e "$D/rootonly/made-through-link"
run_as_user ln -s ../outside/made-through-link "$D/allowed/dangling-own"
out=$(sandbox --open "$D/allowed/*:w:create" -- sh -c "echo x > '$D/allowed/dangling-own'; echo exit=\$?") || true
assert_contains "through one into its own directory: created, as without the broker" "$out" "exit=0"
assert_eq "by the process itself (its uid), not by the broker" "$SB_TEST_UID" \
        "$(stat -c %u "$D/outside/made-through-link" 2>&1)"

# The broker resolves the path on a thread of its own process: /proc/<its pid>/root and /proc/self/fd/N
# lead into the broker's view, not the process's. The process, which is not allowed to look there, must
# get nothing through it. A file hidden under a tmpfs in the sandbox's mount namespace shows whether the
# broker's view was used; the rule names it, so only the view decides.
mkdir -m 0755 "$D/hidden"
sb_put_file "$D/hidden/file" root:root 0600 "HIDDEN-DATA"
broker_root_fd=
for fd in /proc/"$SB_BROKER_PID"/fd/*; do
    if [ "$(readlink "$fd")" = / ]; then
        broker_root_fd=${fd##*/}
    fi
done
hide="mount -t tmpfs none '$D/hidden'"
out=$(sandbox --open "$D/hidden/*" -- unshare -Urm sh -c "$hide && cat '$D/hidden/file'") || true
assert_contains "control: under the tmpfs the file is gone for the sandbox" "$out" "No such file or directory"
out=$(sandbox --open "$D/hidden/*" -- unshare -Urm sh -c "$hide && cat '/proc/$SB_BROKER_PID/root$D/hidden/file'") ||
        true
assert_not_contains "/proc/<sysbrokerd>/root does not lead into the broker's view" "$out" HIDDEN-DATA
if [ -n "$broker_root_fd" ]; then
    out=$(sandbox --open "$D/hidden/*" -- unshare -Urm sh -c \
            "$hide && cat '/proc/self/fd/$broker_root_fd$D/hidden/file'") || true
    assert_not_contains "/proc/self/fd/$broker_root_fd (the broker's '/') does not either" "$out" HIDDEN-DATA
fi

# A process in its own user and mount namespace can bind-mount any file it can name over a path a rule
# allows. The rule names a path; what is there must still be what the rule was authorized for, not the
# forbidden file (here root's 0600 secret, which no rule covers).
out=$(sandbox "${ONE[@]}" -- unshare -Urm sh -c "mount --bind '$D/secret' '$D/allowed/file' && cat '$D/allowed/file'") ||
        true
assert_not_contains "a file bind-mounted over an allowed path is not read through the rule" "$out" FORBIDDEN
out=$(sandbox --open "$D/allowed/*:rw" -- unshare -Urm sh -c \
        "mount --bind '$D/secret' '$D/allowed/file' && echo appended >> '$D/allowed/file'") || true
assert_eq "nor written" "FORBIDDEN-DATA" "$(cat "$D/secret")"

# A second procfs of our pid namespace, as a build root has: there "self" and /proc/<pid> are whoever
# resolves them, and the broker may open its own entries. Nothing on any procfs is emulated.
C=$T/work/buildroot
mkdir -p "$C/proc"
mount -t proc proc "$C/proc" || sb_die "cannot mount a second procfs"
SB_MOUNTS+=("$C/proc")
out=$(sandbox --open "$C/**" -- grep -m1 Name: "$C/proc/self/status") || true
assert_not_contains "a second procfs: not the broker's own status" "$out" sysbrokerd
out=$(sandbox --open "$C/**:rw" -- sh -c "exec 3<>'$C/proc/self/mem' && echo mem-opened") || true
assert_not_contains "nor its memory, for writing" "$out" mem-opened
assert_true "the daemon log says why" grep -q "buildroot/proc/[0-9]*/mem' for task [0-9]* is on a procfs, denying" \
        "$T/sysbrokerd.log"

# The race: thread B swaps allowed/link between "file" and "../secret" with rename(2) while thread A keeps
# opening it. Before and after every swap the kernel itself refuses ../secret (EACCES); only a broker that
# checked one resolution and opened another could return its bytes.
race() {
    local name=$1 swap=$2 good=$3 bad=$4 open=$5 out rc=0 opens good_n eacces
    out=$(sandbox "${ONE[@]}" -- "$SB_OPEN" race "$D" "$swap" "$good" "$bad" "$open" 10 20000 \
            ALLOWED-DATA FORBIDDEN-DATA) || rc=$?
    echo "# $name: $out"
    assert_eq "$name: the helper finished (exit $rc)" 0 "$rc"
    assert_contains "$name: never a byte of the forbidden file" "$out" " forbidden=0 "
    opens=$(sed -n 's/.*opens=\([0-9]*\).*/\1/p' <<<"$out")
    good_n=$(sed -n 's/.* good=\([0-9]*\).*/\1/p' <<<"$out")
    eacces=$(sed -n 's/.* EACCES=\([0-9]*\).*/\1/p' <<<"$out")
    # Both sides of the swap must have been seen, or the race proved nothing.
    assert_true "$name: many opens were made (${opens:-0})" test "${opens:-0}" -ge 1000
    assert_true "$name: some reached the allowed file (${good_n:-0})" test "${good_n:-0}" -gt 0
    assert_true "$name: some reached the forbidden one and were refused (${eacces:-0})" test "${eacces:-0}" -gt 0
}
race "race on the last component" allowed/link file ../secret allowed/link
race "race on a directory component" dlink allowed outside dlink/file

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
