#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Callers without a session (containers, services, CI jobs) with the real polkitd and the example rules
# shipped in polkit/50-sysbroker-sessionless-example.rules, copied as they are: without a rule every action
# falls to allow_any (an admin's password, which nobody can type); with them a regular user gets registering
# and the safe-list mknod by subject.local, but not from inside a user namespace (the user-namespace detail),
# a user of a system range not at all (the owner-uid detail), and a member of "sysbroker-containers" gets
# them from inside a user namespace too (by group). Users and groups come from a passwd and group file of
# the test's own, bound over /etc's in the test's mount namespace.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs unshare
EXAMPLE=$SRCDIR/polkit/50-sysbroker-sessionless-example.rules

# sbci (1500) is a regular user, sbcont (1501) one in "sysbroker-containers", sbsys (900) a system user.
cp /etc/passwd "$T/passwd"
cp /etc/group "$T/group"
cat >>"$T/passwd" <<'END'
sbci:x:1500:1500::/nonexistent:/usr/sbin/nologin
sbcont:x:1501:1501::/nonexistent:/usr/sbin/nologin
sbsys:x:900:900::/nonexistent:/usr/sbin/nologin
END
cat >>"$T/group" <<'END'
sbci:x:1500:
sbcont:x:1501:
sbsys:x:900:
sysbroker-containers:x:1600:sbcont
END
chmod 644 "$T/passwd" "$T/group"
sb_bind "$T/passwd" /etc/passwd
sb_bind "$T/group" /etc/group

# No rule at all: the defaults. (A comment is all this file says.)
echo '// no rules: the policy defaults apply' >"$T/none.rules"
sb_start_all "$T/none.rules"

# as UID [--userns] -- CMD...: CMD as that user (groups from the files above), in $T/work; with --userns in
# a user namespace of its own where it is root, as a rootless container engine runs.
as() {
    local uid=$1 userns=()
    shift
    if [ "$1" = --userns ]; then
        userns=(unshare --user --map-root-user --)
        shift
    fi
    [ "$1" = -- ] && shift
    (cd "$T/work" && exec setpriv --reuid="$uid" --regid="$uid" --init-groups -- "${userns[@]}" "$@")
}

as 1500 --userns -- true 2>/dev/null || sb_skip "unprivileged user namespaces are not available here"

# register_safe UID [--userns]: the exit status of a run whose one rule is the safe-list /dev/null (125:
# refused), never asking for a password.
register_safe() {
    local rc=0
    as "$@" -- "$SYSBROKERCTL" --no-ask-password run --mknod='c 1:3 /dev/null' -- true \
        >"$T/run.log" 2>&1 || rc=$?
    echo "$rc"
}

# --- The defaults: nothing without a session --------------------------------------------------------------
assert_eq "no rules: a session-less regular user cannot even register" 125 "$(register_safe 1500)"
assert_contains "no rules: ... polkit wants an admin" "$(cat "$T/run.log")" "org.sysbroker.Broker1.register"

# --- The shipped examples, as they are -------------------------------------------------------------------
set_polkit_rules "$EXAMPLE"
cmp -s "$EXAMPLE" "$T/rules/50-sysbroker-test.rules" || sb_die "the rules polkitd reads are not the example"

assert_eq "by subject.local: a session-less regular user registers the safe list" 0 "$(register_safe 1500)"
rc=0
out=$(as 1500 -- "$SYSBROKERCTL" --no-ask-password run --mknod='c 10:200 /dev/net/tun' -- true 2>&1) || rc=$?
assert_eq "by subject.local: but no other device" 125 "$rc"
assert_contains "by subject.local: ... refused by polkit for that rule" "$out" "org.sysbroker.Broker1.mknod-device"
assert_eq "owner-uid: a system user (uid 900) gets nothing" 125 "$(register_safe 900)"
assert_eq "user-namespace: the regular user from inside a user namespace gets nothing" 125 \
    "$(register_safe 1500 --userns)"
assert_contains "user-namespace: ... refused at register" "$(cat "$T/run.log")" "org.sysbroker.Broker1.register"
assert_eq "by group: a member of sysbroker-containers registers from inside a user namespace" 0 \
    "$(register_safe 1501 --userns)"
assert_eq "by group: ... and without one" 0 "$(register_safe 1501)"

assert_true "the daemon logged the refusal: an admin's password, nobody to type it" \
    grep -q "Registration by uid 1500 refused: needs interactive authentication for the listener" "$T/sysbrokerd.log"

sb_finish
