#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Under --default=deny an open a rule covers fails the way the kernel would fail it, not with the broker's
# EPERM: O_CREAT|O_EXCL of an existing file is EEXIST (a Create rule does not make it "not allowed"), a
# missing file without O_CREAT is ENOENT, and so on. Only opens no rule covers get EPERM.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

sb_host_dir
D=$T/work/errno
mkdir -m 0755 "$D" "$D/cr" "$D/rwc" "$D/ro" "$D/other"
mkdir -m 0700 "$D/locked"
sb_put_file "$D/cr/existing" root:root 0600 "ORIG-CR"
sb_put_file "$D/rwc/existing" root:root 0600 "ORIG-RWC"
sb_put_file "$D/ro/file" root:root 0600 "RO-FILE"
sb_put_file "$D/locked/file" root:root 0644 "LOCKED"
ln -s file "$D/ro/link"
ln -s existing "$D/cr/to-existing"
ln -s ../other/made-through-link "$D/cr/dangling"

# Every sandbox here runs under --default=deny; the system rules let its programs start, the last rule lets
# sb-open open the directories below $D it makes relative opens from (read-only: it covers none of the files).
sandbox() {
    local opts=()
    while [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    run_as_user "$SYSBROKERCTL" run --default=deny "${SB_OPEN_SYSTEM_RULES[@]}" "${opts[@]}" --open "$D/*" "$@" 2>&1
}

CR=(--open "$D/cr/*:w:create")
RWC=(--open "$D/rwc/*:rw:create")
RO=(--open "$D/ro/*")

# --- Controls: what the rules grant, and what default deny answers ----------------------------------------
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" open "$D/cr/new" w,creat,excl) || true
assert_eq "control: O_CREAT|O_EXCL of a new file works" "ok cloexec=0 data=" "$out"
assert_eq "control: and makes it, the caller's" "$SB_TEST_UID" "$(stat -c %u "$D/cr/new" 2>&1)"
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" open "$D/ro/file" r) || true
assert_eq "control: the read rule reads" "ok cloexec=0 data=RO-FILE" "$out"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" open "$D/other/missing" r) || true
assert_eq "control: a missing file no rule covers is default deny's EPERM" EPERM "$out"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" open "$D/ro/file" r) || true
assert_eq "control: an existing file no rule covers is EPERM" EPERM "$out"

# --- O_CREAT|O_EXCL of an existing file: EEXIST ------------------------------------------------------------
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" open "$D/cr/existing" w,creat,excl) || true
assert_eq "Create rule: O_WRONLY|O_CREAT|O_EXCL of an existing file is EEXIST" EEXIST "$out"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" sys-open "$D/cr/existing" w,creat,excl) || true
assert_eq "Create rule: the same through open(2)" EEXIST "$out"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" at "$D/cr" existing w,creat,excl,cloexec) || true
assert_eq "Create rule: the same relative to a dirfd" EEXIST "$out"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" at2 "$D/cr" existing w,creat,excl none) || true
assert_eq "Create rule: the same through openat2" EEXIST "$out"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" open "$D/cr/existing" w,creat,excl,trunc) || true
assert_eq "Create rule: with O_TRUNC too" EEXIST "$out"
out=$(sandbox "${RWC[@]}" -- "$SB_OPEN" open "$D/rwc/existing" rw,creat,excl) || true
assert_eq "rw Create rule: O_RDWR|O_CREAT|O_EXCL of an existing file is EEXIST" EEXIST "$out"
assert_eq "the existing files are unchanged" "ORIG-CR ORIG-RWC" "$(cat "$D/cr/existing") $(cat "$D/rwc/existing")"
assert_eq "and still root's, mode 0600" "0:0 600" "$(stat -c '%u:%g %a' "$D/cr/existing")"
# O_EXCL does not follow a symlink in the last component: the name exists, whatever it points to.
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" open "$D/cr/to-existing" w,creat,excl) || true
assert_eq "Create rule: O_EXCL of a symlink to an existing file is EEXIST" EEXIST "$out"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" open "$D/cr/dangling" w,creat,excl) || true
assert_eq "Create rule: O_EXCL of a dangling symlink is EEXIST" EEXIST "$out"
assert_false "and nothing is made where it points" test -e "$D/other/made-through-link"
# A HostPath rule opens an existing file: O_EXCL finds it there.
out=$(sandbox --open-host "$D/magic=$H/secret:rw" -- "$SB_OPEN" open "$D/magic" r,creat,excl) || true
assert_eq "HostPath rule: O_CREAT|O_EXCL is EEXIST" EEXIST "$out"

# --- A missing file a rule covers, without O_CREAT: ENOENT ------------------------------------------------
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" open "$D/ro/missing" r) || true
assert_eq "read rule: a missing file is ENOENT" ENOENT "$out"
out=$(sandbox "${RO[@]}" -- cat "$D/ro/missing") || true
assert_contains "read rule: cat says so" "$out" "No such file or directory"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" open "$D/cr/missing" w) || true
assert_eq "Create rule: a missing file opened without O_CREAT is ENOENT" ENOENT "$out"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" open "$D/cr/missing" w,trunc) || true
assert_eq "Create rule: with O_TRUNC but not O_CREAT, ENOENT" ENOENT "$out"
assert_false "and nothing is made" test -e "$D/cr/missing"
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" at "$D/ro" missing r) || true
assert_eq "read rule: a missing file relative to a dirfd is ENOENT" ENOENT "$out"
out=$(sandbox "${RO[@]}" -- sh -c "cd '$D/ro' && cat missing") || true
assert_contains "read rule: a missing file relative to the cwd is ENOENT" "$out" "No such file or directory"
out=$(sandbox --open "$D/cr/**:w:create" -- "$SB_OPEN" open "$D/cr/nodir/file" w,creat) || true
assert_eq "Create rule: O_CREAT below a missing directory is ENOENT" ENOENT "$out"
out=$(sandbox --open-host "$D/magic=$H/missing:r" -- "$SB_OPEN" open "$D/magic" r) || true
assert_eq "HostPath rule: a missing host file is ENOENT" ENOENT "$out"

# --- Other answers the kernel would give for a covered path -----------------------------------------------
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" open "$D/ro/link" r,nofollow) || true
assert_eq "read rule: O_NOFOLLOW on a symlink is ELOOP" ELOOP "$out"
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" open "$D/ro/file" r,directory) || true
assert_eq "read rule: O_DIRECTORY on a file is ENOTDIR" ENOTDIR "$out"
out=$(sandbox --open "$D/locked/*" -- "$SB_OPEN" open "$D/locked/file" r) || true
assert_eq "read rule: below a directory the process cannot search, EACCES" EACCES "$out"
out=$(sandbox "${RWC[@]}" -- "$SB_OPEN" at2 "$D/rwc" cached-new w,creat cached) || true
assert_eq "create rule: openat2 RESOLVE_CACHED with O_CREAT is EAGAIN" EAGAIN "$out"
assert_false "and creates nothing" test -e "$D/rwc/cached-new"
out=$(sandbox "${RWC[@]}" -- "$SB_OPEN" at2 "$D/rwc" existing w,trunc cached) || true
assert_eq "create rule: openat2 RESOLVE_CACHED with O_TRUNC is EAGAIN" EAGAIN "$out"
assert_eq "and truncates nothing" ORIG-RWC "$(cat "$D/rwc/existing")"
# A name that ends like the kernel's mark of a deleted file is still a name (reached through a symlink, the
# path is the one the kernel reports for the file).
sb_put_file "$D/ro/name (deleted)" root:root 0600 "NOT-DELETED"
ln -s "name (deleted)" "$D/ro/to-name"
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" open "$D/ro/to-name" r) || true
assert_eq "read rule: a file named '... (deleted)' is read" "ok cloexec=0 data=NOT-DELETED" "$out"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
