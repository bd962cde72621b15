#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# HostPath: a literal path in the sandbox's view answered with a file opened in the broker's own view — one
# the sandbox cannot reach (a directory it cannot search, a directory hidden under a tmpfs in its own mount
# namespace, a device). The access mode still bounds the open, and nothing can be created or truncated.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

sb_host_dir
sb_put_file "$H/rwfile" root:root 0600 "HOST-RW"
D=$T/work/host
mkdir -m 0755 "$D" "$D/visible"
sb_put_file "$D/visible/file" root:root 0644 "VISIBLE"

sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}

out=$(sandbox --open "$D/none" -- cat "$D/magic") || true
assert_contains "control: the sandbox's path does not exist" "$out" "No such file or directory"
out=$(sandbox --open "$D/none" -- cat "$H/secret") || true
assert_contains "control: the host file is out of its reach" "$out" "Permission denied"

HOST=(--open-host "$D/magic=$H/secret")
out=$(sandbox "${HOST[@]}" -- cat "$D/magic") || true
assert_eq "HostPath: cat reads the host file" HOST-SECRET "$out"
out=$(sandbox "${HOST[@]}" -- sh -c "cd '$D' && cat magic && cat ./magic") || true
assert_eq "HostPath: named relative to the cwd" "HOST-SECRET
HOST-SECRET" "$out"
out=$(sandbox "${HOST[@]}" -- cat "$D//./magic") || true
assert_eq "HostPath: '//' and '.' do not matter" HOST-SECRET "$out"
out=$(sandbox "${HOST[@]}" -- cat "$D/visible/../magic") || true
assert_contains "HostPath: a path with '..' is not the literal path" "$out" "No such file or directory"
assert_not_contains "and reads nothing" "$out" HOST-SECRET
out=$(sandbox "${HOST[@]}" -- "$SB_OPEN" open "$D/magic" r,cloexec) || true
assert_eq "HostPath: O_CLOEXEC honoured" "ok cloexec=1 data=HOST-SECRET" "$out"
out=$(sandbox "${HOST[@]}" -- "$SB_OPEN" open "$D/magic" r) || true
assert_eq "HostPath: and its absence" "ok cloexec=0 data=HOST-SECRET" "$out"
out=$(sandbox "${HOST[@]}" -- sh -c "echo x >> '$D/magic'; echo exit=\$?") || true
assert_contains "HostPath r: appending is refused" "$out" "exit=2"
out=$(sandbox "${HOST[@]}" -- "$SB_OPEN" open "$D/magic" rw) || true
assert_eq "HostPath r: O_RDWR is refused (the kernel's answer for the sandbox's path)" ENOENT "$out"
assert_eq "HostPath r: the host file is unchanged" HOST-SECRET "$(cat "$H/secret")"

RWHOST=(--open-host "$D/magic=$H/rwfile:rw")
out=$(sandbox "${RWHOST[@]}" -- "$SB_OPEN" open "$D/magic" rw) || true
assert_eq "HostPath rw: O_RDWR works" "ok cloexec=0 data=HOST-RW" "$out"
out=$(sandbox "${RWHOST[@]}" -- sh -c "echo more >> '$D/magic' && echo appended") || true
assert_eq "HostPath rw: >> works" appended "$out"
out=$(sandbox "${RWHOST[@]}" -- sh -c "echo x > '$D/magic'; echo exit=\$?") || true
assert_contains "HostPath rw: > (O_TRUNC) is refused: HostPath never creates or truncates" "$out" "exit=2"
assert_eq "HostPath rw: the host file was appended to, not truncated" "HOST-RW
more" "$(cat "$H/rwfile")"
assert_false "HostPath: nothing created at the sandbox's path" test -e "$D/magic"

# A device, as for /dev/kvm.
out=$(sandbox --open-host "$D/zero=/dev/zero" -- sh -c "head -c 4 '$D/zero' | od -An -tx1") || true
assert_eq "HostPath: a device node the sandbox names literally" "00 00 00 00" "$(echo $out)"

# A file hidden in the sandbox's own mount namespace (an empty tmpfs over its directory) is still given.
script="mount -t tmpfs none '$D/visible' && echo entries=\$(ls -A '$D/visible' | wc -l) && cat '$D/visible/file'"
out=$(sandbox --open "$D/none" -- unshare -Urm sh -c "$script") || true
assert_contains "control: under the tmpfs the directory is empty" "$out" "entries=0"
assert_contains "control: and the file is gone" "$out" "No such file or directory"
out=$(sandbox --open-host "$D/visible/file=$D/visible/file" -- unshare -Urm sh -c "$script") || true
assert_eq "HostPath: the hidden file is opened in the broker's view" "entries=0
VISIBLE" "$out"

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
