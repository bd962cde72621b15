#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The fd an emulated open returns is installed under the target's own RLIMIT_NOFILE: with `ulimit -n` too
# low for one more fd the call fails with EMFILE, as the kernel's own open would, and the broker's copy of
# the file is closed all the same. One that would create or truncate a file fails before it does.
#
# The kernel checks for a free fd before it looks at the path, so a continued open would fail with EMFILE
# too: under --default=deny an open the broker does not emulate fails with EPERM instead, which tells the
# two apart.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

sb_host_dir
D=$T/work/emfile
mkdir -m 0755 "$D" "$D/files"
sb_put_file "$D/files/file" root:root 0600 "DATA"

sandbox() {
    run_as_user "$SYSBROKERCTL" run --default=deny "${SB_OPEN_SYSTEM_RULES[@]}" --open "$D/files/*" \
            --open-host "$D/magic=$H/secret" "$@" 2>&1
}

# One round first, so that the broker's own fds are all there before counting.
out=$(sandbox -- sh -c "ulimit -n 3; cat < '$D/files/file'") || true
assert_true "its listener is gone" sb_wait_nlisteners 0
fds_before=$(sb_broker_fd_count)

# The shell opens the redirection itself, with fds 0-2 taken: fd 3 is over a limit of 3.
out=$(sandbox -- sh -c "ulimit -n 3; cat < '$D/files/file'") || true
assert_contains "ulimit -n 3: the emulated open fails with EMFILE" "$out" "Too many open files"
assert_not_contains "and nothing is read" "$out" DATA
out=$(sandbox -- sh -c "ulimit -n 3; cat < '$D/other'") || true
assert_contains "control: an open the broker does not emulate is its EPERM" "$out" "Operation not permitted"
# (The shell saves fds at 10 and above: 20 leaves room for that.)
out=$(sandbox -- sh -c "ulimit -n 20; cat < '$D/files/file'") || true
assert_eq "ulimit -n 20: the same open works" DATA "$out"

out=$(sandbox -- sh -c "ulimit -n 3; cat < '$D/magic'") || true
assert_contains "HostPath, ulimit -n 3: EMFILE" "$out" "Too many open files"
out=$(sandbox -- sh -c "ulimit -n 20; cat < '$D/magic'") || true
assert_eq "HostPath, ulimit -n 20: works" HOST-SECRET "$out"

# An open that would create or truncate fails before it does, as the kernel's: nothing created, nothing cut.
mkdir -m 0755 "$D/w"
sb_put_file "$D/w/kept" root:root 0600 "KEEP"
out=$(sandbox --open "$D/w/*:rw:create" -- sh -c "ulimit -n 3; echo new > '$D/w/kept'") || true
assert_contains "ulimit -n 3: '>' on an existing file is EMFILE" "$out" "Too many open files"
assert_eq "and the file is not truncated" KEEP "$(cat "$D/w/kept")"
out=$(sandbox --open "$D/w/*:rw:create" -- sh -c "ulimit -n 3; echo new > '$D/w/new'") || true
assert_contains "ulimit -n 3: '>' on a new file is EMFILE" "$out" "Too many open files"
assert_false "and creates nothing" test -e "$D/w/new"
out=$(sandbox --open "$D/w/*:rw:create" -- sh -c "ulimit -n 20; echo new > '$D/w/new'; cat '$D/w/new'") || true
assert_eq "control: with room, it is created" new "$out"

# Many refused installs in one sandbox: each would leak an fd in the broker if its copy stayed open.
# (No pipes or command substitution in there: they need fds too.)
out=$(sandbox -- sh -c "ulimit -n 3; i=0; while [ \$i -lt 50 ]; do
        cat < '$D/files/file'; cat < '$D/magic'; i=\$((i + 1)); done") || true
assert_eq "100 opens refused with EMFILE" 100 "$(grep -c 'Too many open files' <<<"$out")"
assert_true "listeners gone" sb_wait_nlisteners 0
assert_true "broker fd count back to $fds_before" sb_poll 10 eval '[ "$(sb_broker_fd_count)" = "$fds_before" ]'
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
