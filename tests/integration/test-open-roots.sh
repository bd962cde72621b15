#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Which root an open starts from. openat2(RESOLVE_IN_ROOT) with an absolute path starts at the dirfd: rules
# are matched against the file below it, never against the same path from the process's root (what
# test-open-access.sh does not show: a rule covering only one of the two). And /proc's magic links
# (/proc/self/root, /proc/thread-self/root, /proc/self/cwd), which the broker would resolve as itself, are
# not followed by it: the sandbox gets what the kernel gives it, never a file of the broker's view
# (test-open-escapes.sh has /proc/<sysbrokerd>/root and /proc/self/fd/N).
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"
sb_require_open_client

sb_host_dir
D=$T/work/roots
mkdir -m 0755 "$D"
J=$D/jail
# The same absolute path from / and from the jail, different files.
sb_put_file "$D/top/file" root:root 0600 "TOP-FILE"
sb_put_file "$J/file" root:root 0600 "JAIL-FILE"
sb_put_file "$J$D/top/file" root:root 0600 "JAIL-NESTED"

sandbox() {
    run_as_user "$SYSBROKERCTL" run "$@" 2>&1
}

# --- openat2(RESOLVE_IN_ROOT) with an absolute path -------------------------------------------------------
at2() {
    sandbox "$@" || true
}
out=$(at2 --open "$J/file" -- "$SB_OPEN" at2 "$J" /file r in-root)
assert_eq "IN_ROOT: /file is the jail's file, which the rule names" "ok cloexec=0 data=JAIL-FILE" "$out"
out=$(at2 --open "$J/file" -- "$SB_OPEN" at2 "$J" "$J/file" r in-root)
assert_eq "IN_ROOT: the rule's path is not reachable as itself from the jail" ENOENT "$out"
out=$(at2 --open "$D/top/file" -- "$SB_OPEN" at2 "$J" "$D/top/file" r in-root)
assert_eq "IN_ROOT: a rule on the process-root path grants nothing below the jail (kernel's EACCES)" EACCES "$out"
# (The helper opens the jail itself first: a rule for that.)
out=$(at2 --default=deny "${SB_OPEN_SYSTEM_RULES[@]}" --open "$J" --open "$D/top/file" -- \
        "$SB_OPEN" at2 "$J" "$D/top/file" r in-root)
assert_eq "IN_ROOT, default deny: the same is EPERM" EPERM "$out"
out=$(at2 --open "$J/**" -- "$SB_OPEN" at2 "$J" "$D/top/file" r in-root)
assert_eq "IN_ROOT: a rule on the jail's tree gives the file below the jail" "ok cloexec=0 data=JAIL-NESTED" "$out"
out=$(at2 --open "$D/top/file" -- "$SB_OPEN" at2 "$J" "$D/top/file" r none)
assert_eq "control: without IN_ROOT the absolute path is the process root's" "ok cloexec=0 data=TOP-FILE" "$out"
out=$(at2 --open "$J/**" -- "$SB_OPEN" at2 "$J" "$J/file" r beneath)
assert_eq "BENEATH: an absolute path is EXDEV, even one the rule covers" EXDEV "$out"
# A HostPath rule is for its literal path in the process's view; IN_ROOT names another file.
out=$(at2 --open-host "$D/magic=$H/secret" -- "$SB_OPEN" at2 "$D" magic r none)
assert_eq "control: the HostPath rule answers its literal path" "ok cloexec=0 data=HOST-SECRET" "$out"
out=$(at2 --open-host "$D/magic=$H/secret" -- "$SB_OPEN" at2 "$J" "$D/magic" r in-root)
assert_eq "IN_ROOT: an absolute path below the jail is not the HostPath rule's literal path" ENOENT "$out"

# --- /proc magic links are not followed by the broker ------------------------------------------------------
mkdir -m 0755 "$D/allowed" "$D/hidden"
sb_put_file "$D/allowed/file" root:root 0600 "ALLOWED-DATA"
sb_put_file "$D/hidden/file" root:root 0600 "HIDDEN-DATA"

out=$(sandbox --open "$D/allowed/*" -- cat "$D/allowed/file") || true
assert_eq "control: the allowed file is read through the rule" ALLOWED-DATA "$out"
for link in /proc/self/root /proc/thread-self/root; do
    out=$(sandbox --open "$D/allowed/*" -- cat "$link$D/allowed/file") || true
    assert_contains "$link/<allowed file>: left to the kernel (EACCES)" "$out" "Permission denied"
    assert_not_contains "$link/<allowed file>: nothing read through the rule" "$out" ALLOWED-DATA
    out=$(sandbox --default=deny "${SB_OPEN_SYSTEM_RULES[@]}" --open "$D/allowed/*" -- \
            "$SB_OPEN" open "$link$D/allowed/file" r) || true
    assert_eq "$link/<allowed file>, default deny: EPERM" EPERM "$out"
done

# A rule that names the path as written does not change that: /dev/stdin is a magic link at its end, which
# the kernel follows for the process, not an ELOOP of the broker's.
out=$(sandbox --open '/dev/**' -- sh -c 'echo piped | cat /dev/stdin') || true
assert_eq "/dev/stdin under a rule for /dev/**: left to the kernel, which follows it" piped "$out"

# The file is hidden under a tmpfs in the sandbox's own mount namespace, and a rule names it: only whose view
# the link is resolved in decides. The sandbox's own /proc/self/root leads to its view (where the file is
# gone); resolved by the broker it would lead to the broker's.
hide="mount -t tmpfs none '$D/hidden'"
out=$(sandbox --open "$D/hidden/*" -- unshare -Urm sh -c "$hide && cat '$D/hidden/file'") || true
assert_contains "control: under the tmpfs the file is gone for the sandbox" "$out" "No such file or directory"
out=$(sandbox --open "$D/hidden/*" -- unshare -Urm cat "$D/hidden/file") || true
assert_eq "control: in namespaces of its own, without the tmpfs, the rule gives it" HIDDEN-DATA "$out"
# From / or from deep below it, enough '..' reach the root whatever the broker's cwd is.
up=$(printf '../%.0s' $(seq 20))
for link in /proc/self/root /proc/thread-self/root /proc/self/cwd/$up /proc/thread-self/cwd/$up; do
    out=$(sandbox --open "$D/hidden/*" -- unshare -Urm sh -c "$hide && cat '$link$D/hidden/file'") || true
    assert_not_contains "${link%%/..*}/…/<hidden file>: not the broker's view" "$out" HIDDEN-DATA
    assert_contains "${link%%/..*}/…/<hidden file>: the sandbox's own view (ENOENT)" "$out" \
            "No such file or directory"
done

assert_true "no listener left" sb_wait_nlisteners 0
assert_true "sysbrokerd still running" sb_broker_alive

sb_finish
