#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Open rules with real programs (cat, head, the shell's > and >>) as a non-root user, on root-only files:
# each access mode grants exactly what it says — a read-only rule refuses writing, truncating, appending and
# creating; Create allows making a new file, owned by the caller with the mode its umask leaves — and the
# path is resolved as the kernel would: relative to a real dirfd (openat) and under openat2's RESOLVE_*.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

D=$T/work/open
mkdir -m 0755 "$D"
for d in ro wo rw cr pub dirfd other; do
    mkdir -m 0755 "$D/$d"
done
sb_put_file "$D/ro/file" root:root 0600 "read-only secret"
sb_put_file "$D/wo/file" root:root 0600 "ORIG-W"
sb_put_file "$D/rw/file" root:root 0600 "ORIG-RW"
sb_put_file "$D/cr/existing" root:root 0600 "ORIG-CR"
sb_put_file "$D/pub/file" root:root 0644 "public"
sb_put_file "$D/dirfd/file" root:root 0600 "via dirfd"
sb_put_file "$D/other/file" root:root 0600 "other"

# sandbox RULE-OPTIONS... -- COMMAND...: output and status of the command, run as the test user.
sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}

# Control: without a rule for it the file is out of reach (default action continue: the kernel's EACCES).
out=$(sandbox --open "$D/other/*" -- cat "$D/ro/file") || true
assert_contains "control: the root-only file is unreadable without a rule" "$out" "Permission denied"
assert_not_contains "control: nothing of it is read" "$out" "read-only secret"

# --- Access r ---------------------------------------------------------------------------------------------
RO=(--open "$D/ro/*")
out=$(sandbox "${RO[@]}" -- cat "$D/ro/file") || true
assert_eq "r: cat reads the root-only file" "read-only secret" "$out"
out=$(sandbox "${RO[@]}" -- head -c 9 "$D/ro/file") || true
assert_eq "r: head reads its first bytes" "read-only" "$out"
out=$(sandbox "${RO[@]}" -- sh -c "echo appended >> '$D/ro/file'; echo exit=\$?") || true
assert_contains "r: append (>>) is refused" "$out" "Permission denied"
out=$(sandbox "${RO[@]}" -- sh -c "echo truncated > '$D/ro/file'; echo exit=\$?") || true
assert_contains "r: truncate (>) is refused" "$out" "Permission denied"
assert_eq "r: the file is unchanged" "read-only secret" "$(cat "$D/ro/file")"
out=$(sandbox "${RO[@]}" -- sh -c "echo new > '$D/ro/new'; echo exit=\$?") || true
assert_contains "r: creating a file is refused" "$out" "Permission denied"
assert_false "r: no file created" test -e "$D/ro/new"
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" open "$D/ro/file" w) || true
assert_eq "r: O_WRONLY is refused" EACCES "$out"
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" open "$D/ro/file" rw) || true
assert_eq "r: O_RDWR is refused" EACCES "$out"
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" open "$D/ro/file" r,cloexec) || true
assert_eq "r: the fd honours O_CLOEXEC" "ok cloexec=1 data=read-only secret" "$out"
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" open "$D/ro/file" r) || true
assert_eq "r: and its absence" "ok cloexec=0 data=read-only secret" "$out"

# With --default=deny a refused open is the broker's own EPERM (the system rules let the shell start).
out=$(sandbox --default=deny "${SB_OPEN_SYSTEM_RULES[@]}" "${RO[@]}" -- \
        sh -c "cat '$D/ro/file'; echo appended >> '$D/ro/file'; echo exit=\$?") || true
assert_contains "r, default deny: reading still works" "$out" "read-only secret"
assert_contains "r, default deny: append fails with EPERM" "$out" "Operation not permitted"
assert_eq "r, default deny: the file is unchanged" "read-only secret" "$(cat "$D/ro/file")"

# --- Access w ---------------------------------------------------------------------------------------------
WO=(--open "$D/wo/*:w")
out=$(sandbox "${WO[@]}" -- sh -c "echo more >> '$D/wo/file' && echo appended") || true
assert_eq "w: append (>>) works" appended "$out"
assert_eq "w: and appends" "ORIG-W
more" "$(cat "$D/wo/file")"
out=$(sandbox "${WO[@]}" -- cat "$D/wo/file") || true
assert_contains "w: reading is refused" "$out" "Permission denied"
out=$(sandbox "${WO[@]}" -- sh -c "echo x > '$D/wo/file'; echo exit=\$?") || true
assert_contains "w: truncate (>) needs Create: refused" "$out" "Permission denied"
assert_eq "w: the file is not truncated" "ORIG-W
more" "$(cat "$D/wo/file")"
out=$(sandbox "${WO[@]}" -- "$SB_OPEN" open "$D/wo/file" w) || true
assert_eq "w: O_WRONLY works" "ok cloexec=0 data=" "$out"
out=$(sandbox "${WO[@]}" -- "$SB_OPEN" open "$D/wo/file" rw) || true
assert_eq "w: O_RDWR is refused" EACCES "$out"
out=$(sandbox "${WO[@]}" -- sh -c "echo x > '$D/wo/new'; echo exit=\$?") || true
assert_contains "w: creating needs Create: refused" "$out" "Permission denied"
assert_false "w: no file created" test -e "$D/wo/new"

# --- Access rw --------------------------------------------------------------------------------------------
RW=(--open "$D/rw/*:rw")
out=$(sandbox "${RW[@]}" -- "$SB_OPEN" open "$D/rw/file" rw) || true
assert_eq "rw: O_RDWR works" "ok cloexec=0 data=ORIG-RW" "$out"
out=$(sandbox "${RW[@]}" -- sh -c "cat '$D/rw/file' && echo more >> '$D/rw/file' && echo appended") || true
assert_eq "rw: cat and >> work" "ORIG-RW
appended" "$out"
out=$(sandbox "${RW[@]}" -- sh -c "echo x > '$D/rw/file'; echo exit=\$?") || true
assert_contains "rw: truncate without Create is refused" "$out" "Permission denied"
assert_eq "rw: content as appended" "ORIG-RW
more" "$(cat "$D/rw/file")"

# --- Create -----------------------------------------------------------------------------------------------
CR=(--open "$D/cr/*:w:create")
out=$(sandbox "${CR[@]}" -- sh -c "umask 027; echo created > '$D/cr/new' && echo ok") || true
assert_eq "create: > of a new file works" ok "$out"
assert_eq "create: its content" created "$(cat "$D/cr/new" 2>&1)"
assert_eq "create: owned by the caller, mode 0666 & ~027" "$SB_TEST_UID:$SB_TEST_GID 640" \
        "$(stat -c '%u:%g %a' "$D/cr/new" 2>&1)"
out=$(sandbox "${CR[@]}" -- sh -c "umask 077; echo created > '$D/cr/new2' && echo ok") || true
assert_eq "create: mode 0666 & ~077" "ok 600" "$out $(stat -c %a "$D/cr/new2" 2>&1)"
out=$(sandbox "${CR[@]}" -- sh -c "echo replaced > '$D/cr/existing' && echo ok") || true
assert_eq "create: > truncates an existing file" "ok replaced" "$out $(cat "$D/cr/existing")"
assert_eq "create: which keeps its owner and mode" "0:0 600" "$(stat -c '%u:%g %a' "$D/cr/existing")"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" open "$D/cr/existing" w,creat,excl) || true
assert_eq "create: O_EXCL of an existing file is EEXIST" EEXIST "$out"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" open "$D/cr/excl" w,creat,excl,cloexec) || true
assert_eq "create: O_EXCL of a new file works" "ok cloexec=1 data=" "$out"
assert_eq "create: and makes it, owned by the caller" "$SB_TEST_UID" "$(stat -c %u "$D/cr/excl" 2>&1)"
out=$(sandbox "${CR[@]}" -- cat "$D/cr/existing") || true
assert_contains "create: w does not grant reading" "$out" "Permission denied"
out=$(sandbox "${CR[@]}" -- sh -c "echo x > '$D/ro/made-here'; echo exit=\$?") || true
assert_contains "create: only where the rule says" "$out" "Permission denied"
assert_false "create: nothing made elsewhere" test -e "$D/ro/made-here"

# --- Deny rules -------------------------------------------------------------------------------------------
out=$(sandbox --open "$D/other/*" -- cat "$D/pub/file") || true
assert_eq "control: the public file is readable natively" public "$out"
out=$(sandbox --deny-open "$D/pub/*" -- cat "$D/pub/file") || true
assert_contains "deny rule: EPERM although the kernel would allow it" "$out" "Operation not permitted"
assert_not_contains "deny rule: nothing read" "$out" "public"

# --- The open(2) and creat(2) system calls (glibc uses openat for both functions) --------------------------
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" sys-open "$D/ro/file" r,cloexec) || true
assert_eq "open(2): reads through a rule" "ok cloexec=1 data=read-only secret" "$out"
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" sys-open "$D/ro/file" w) || true
assert_eq "open(2): O_WRONLY refused by a read-only rule" EACCES "$out"
out=$(sandbox "${RO[@]}" -- "$SB_OPEN" sys-creat "$D/ro/creat") || true
assert_eq "creat(2): refused by a read-only rule" EACCES "$out"
out=$(sandbox "${CR[@]}" -- sh -c "umask 022; exec '$SB_OPEN' sys-creat '$D/cr/creat'") || true
assert_eq "creat(2): creates through a Create rule" "ok cloexec=0 data=" "$out"
assert_eq "creat(2): owned by the caller, mode 0666 & ~022" "$SB_TEST_UID 644" \
        "$(stat -c '%u %a' "$D/cr/creat" 2>&1)"
echo old >"$D/cr/creat"
out=$(sandbox "${CR[@]}" -- "$SB_OPEN" sys-creat "$D/cr/creat") || true
assert_eq "creat(2): truncates an existing file" "ok cloexec=0 data= size=0" "$out size=$(stat -c %s "$D/cr/creat")"

# --- openat() with a real dirfd, and the cwd -------------------------------------------------------------
DF=(--open "$D/dirfd/*")
out=$(sandbox "${DF[@]}" -- "$SB_OPEN" at "$D/dirfd" file r,cloexec) || true
assert_eq "openat: relative to a dirfd inside the rule" "ok cloexec=1 data=via dirfd" "$out"
out=$(sandbox "${DF[@]}" -- "$SB_OPEN" at-thread "$D/dirfd" file r) || true
assert_eq "openat: from a thread other than the leader" "ok cloexec=0 data=via dirfd" "$out"
out=$(sandbox "${DF[@]}" -- "$SB_OPEN" at "$D/other" file r) || true
assert_eq "openat: the same name from a dirfd outside the rule is refused" EACCES "$out"
out=$(sandbox "${DF[@]}" -- "$SB_OPEN" at "$D/other" ../dirfd/file r) || true
assert_eq "openat: .. from outside into the rule is allowed" "ok cloexec=0 data=via dirfd" "$out"
out=$(sandbox "${DF[@]}" -- sh -c "cd '$D/dirfd' && cat file") || true
assert_eq "open: relative to the cwd" "via dirfd" "$out"
out=$(sandbox "${DF[@]}" -- sh -c "cd '$D/other' && cat file") || true
assert_contains "open: the same name from another cwd is refused" "$out" "Permission denied"

# --- openat2() and its RESOLVE_* flags --------------------------------------------------------------------
# One rule covering the whole tree, so what decides is where resolution is allowed to go.
O2=$D/o2
mkdir -m 0755 "$O2" "$O2/root" "$O2/sub"
sb_put_file "$O2/secret" root:root 0600 "FORBIDDEN-TOP"
sb_put_file "$O2/root/file" root:root 0600 "INROOT-FILE"
sb_put_file "$O2/root/secret" root:root 0600 "DECOY"
sb_put_file "$O2/sub/file" root:root 0600 "SUB-FILE"
ln -s /file "$O2/root/abs"
ln -s ../secret "$O2/sub/up"
A2=(--open "$O2/**")
at2() {
    sandbox "${A2[@]}" -- "$SB_OPEN" at2 "$@" || true
}
assert_eq "openat2 IN_ROOT: / is the dirfd" "ok cloexec=0 data=INROOT-FILE" "$(at2 "$O2/root" /file r in-root)"
assert_eq "openat2 IN_ROOT: an absolute symlink stays inside" "ok cloexec=0 data=INROOT-FILE" \
        "$(at2 "$O2/root" abs r in-root)"
# An absolute path under IN_ROOT is resolved from the dirfd: $O2/root$O2/secret does not exist, and the
# top-level secret (which the rule covers) must not be what comes back.
assert_eq "openat2 IN_ROOT: an absolute path is below the dirfd, not the process's root" ENOENT \
        "$(at2 "$O2/root" "$O2/secret" r in-root)"
assert_eq "openat2 IN_ROOT: .. stops at the root" "ok cloexec=0 data=DECOY" "$(at2 "$O2/root" ../secret r in-root)"
# From AT_FDCWD the cwd is the root: what counts is the file below it, not the path as written (which a
# rule names here, and which is another file).
sb_put_file "$O2/root$O2/secret" root:root 0600 "BELOW-THE-CWD"
out=$(sandbox --open "$O2/secret" -- "$SB_OPEN" at2 "cwd:$O2/root" "$O2/secret" r in-root) || true
assert_eq "openat2 IN_ROOT from the cwd: a rule naming the path as written grants nothing below the cwd" \
        EACCES "$out"
out=$(sandbox --open "$O2/root/**" -- "$SB_OPEN" at2 "cwd:$O2/root" "$O2/secret" r in-root) || true
assert_eq "openat2 IN_ROOT from the cwd: a rule covering the file below it grants it" \
        "ok cloexec=0 data=BELOW-THE-CWD" "$out"
out=$(sandbox --open "$O2/secret" -- "$SB_OPEN" at2 "cwd:$O2/root" "$O2/secret" r beneath) || true
assert_eq "openat2 BENEATH from the cwd: an absolute path is EXDEV" EXDEV "$out"
assert_eq "control: without IN_ROOT .. leaves it" "ok cloexec=0 data=FORBIDDEN-TOP" \
        "$(at2 "$O2/root" ../secret r none)"
assert_eq "openat2 BENEATH: below the dirfd" "ok cloexec=1 data=SUB-FILE" "$(at2 "$O2/sub" file r,cloexec beneath)"
assert_eq "openat2 BENEATH: .. out of it is EXDEV" EXDEV "$(at2 "$O2/sub" ../secret r beneath)"
assert_eq "openat2 BENEATH: a symlink out of it is EXDEV" EXDEV "$(at2 "$O2/sub" up r beneath)"
assert_eq "openat2 BENEATH: an absolute symlink is EXDEV" EXDEV "$(at2 "$O2/root" abs r beneath)"
assert_eq "control: without BENEATH the symlink is followed" "ok cloexec=0 data=FORBIDDEN-TOP" \
        "$(at2 "$O2/sub" up r none)"
assert_eq "openat2 NO_SYMLINKS: ELOOP" ELOOP "$(at2 "$O2/sub" up r no-symlinks)"
assert_eq "openat2: BENEATH with IN_ROOT is EINVAL" EINVAL "$(at2 "$O2/sub" file r beneath,in-root)"
assert_eq "openat2: a struct shorter than the first version is EINVAL" EINVAL "$(at2 "$O2/sub" file r none 16)"
assert_eq "openat2: unknown non-zero trailing bytes are E2BIG" E2BIG "$(at2 "$O2/sub" file r none 40 1)"
assert_eq "openat2: zero trailing bytes are fine" "ok cloexec=0 data=SUB-FILE" "$(at2 "$O2/sub" file r none 40 0)"

# The path is searched with the caller's own supplementary groups, each call its own: a directory only group
# 100 may search (0750 root:100) is searched for a caller in that group and refused to one that is not, one
# right after the other on the same listener (root's sandbox: it controls both callers).
mkdir -m 0750 "$D/grp"
chgrp 100 "$D/grp"
sb_put_file "$D/grp/file" root:root 0600 "group-searched"
out=$("$SYSBROKERCTL" run --open "$D/grp/file" -- sh -c "
    setpriv --reuid=$SB_TEST_UID --regid=$SB_TEST_GID --groups=100 cat '$D/grp/file'; echo in-group=\$?
    setpriv --reuid=$SB_TEST_UID --regid=$SB_TEST_GID --clear-groups cat '$D/grp/file'; echo no-group=\$?
    setpriv --reuid=$SB_TEST_UID --regid=$SB_TEST_GID --groups=100 cat '$D/grp/file'; echo in-group-again=\$?" 2>&1) ||
    true
assert_contains "groups: in group 100, the directory is searched and the rule opens the file" "$out" \
        "group-searched
in-group=0"
assert_contains "groups: right after, without the group, EACCES" "$out" "Permission denied
no-group=1"
assert_contains "groups: and with it again, opened" "$out" "group-searched
in-group-again=0"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
