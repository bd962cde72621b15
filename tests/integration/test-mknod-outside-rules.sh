#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Calls no rule matches get the kernel's own answer (default action: continue), which in an unprivileged
# user namespace is EPERM: a device outside the rules and an allowed device at another path create nothing.
# With --default=deny or a deny rule the broker itself says EPERM, even where the kernel would say yes. A rule
# does nothing for a process the listener's owner does not control.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_start_all "$SB_RULES/allow-all.rules"

D=$T/work/dev
run_as_user mkdir "$D"

rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "mknod '$D/zero' c 1 5; echo mknod-exit=\$?" 2>&1) || rc=$?
assert_eq "sysbrokerctl run exits 0" 0 "$rc"
assert_contains "c 1:5 when only 1:3 is allowed fails" "$out" "mknod-exit=1"
assert_contains "with EPERM" "$out" "Operation not permitted"
assert_false "no node left for c 1:5" test -e "$D/zero"

# A /proc magic link on the way is the broker's own if the broker follows it: its fd N is its "/", so
# /proc/self/fd/N/<allowed path> would be the host's allowed path, whatever the sandbox's view holds there.
broker_root_fd=
for fd in /proc/"$SB_BROKER_PID"/fd/*; do
    if [ "$(readlink "$fd")" = / ]; then
        broker_root_fd=${fd##*/}
        break
    fi
done
[ -n "$broker_root_fd" ] || sb_die "sysbrokerd holds no fd of /"
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/*" -- \
        unshare -Ur sh -c "mknod '/proc/self/fd/$broker_root_fd$D/magic' c 1 3; echo mknod-exit=\$?" 2>&1) || true
assert_contains "through /proc/self/fd/N: the kernel's answer" "$out" "mknod-exit=1"
assert_false "and no node at the allowed path behind the broker's fd" test -e "$D/magic"

rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "mknod '$D/elsewhere' c 1 3; echo mknod-exit=\$?" 2>&1) || rc=$?
assert_contains "allowed device at a path outside the rule fails" "$out" "mknod-exit=1"
assert_contains "with EPERM too" "$out" "Operation not permitted"
assert_false "no node left at the other path" test -e "$D/elsewhere"

rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "mknod '$D/null' b 1 3; echo mknod-exit=\$?" 2>&1) || rc=$?
assert_contains "block device where the rule says char fails" "$out" "Operation not permitted"
assert_false "no block node left" test -e "$D/null"

# A FIFO needs no privilege: with the default action (continue) the kernel creates it ...
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null" -- \
        sh -c "mkfifo '$D/fifo' && echo created" 2>&1) || rc=$?
assert_contains "default continue: an unprivileged mkfifo still works" "$out" created
assert_true "default continue: the FIFO exists" test -p "$D/fifo"

# ... with --default=deny the broker refuses it (EPERM) and nothing is created.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --default=deny --mknod "c 1:3 $D/null" -- \
        sh -c "mkfifo '$D/fifo2'; echo mkfifo-exit=\$?" 2>&1) || rc=$?
assert_contains "default deny: mkfifo fails with EPERM" "$out" "Operation not permitted"
assert_false "default deny: no FIFO" test -e "$D/fifo2"
# An admin finds out why the sandbox failed: the default's denial is logged at the default level (info),
# naming the call and the errno; the default's continue (the mkfifo above) only at debug.
assert_true "default deny: the log says the default action denied the mknodat" \
        grep -qE "^<6>Listener [0-9]+: mknodat by task [0-9]+: no rule applies, denied by the listener's default action \(EPERM\)\.$" \
        "$T/sysbrokerd.log"
assert_true "default continue: logged (the daemon runs at debug here)" \
        grep -q "mknodat by task [0-9]*: no rule applies, continued by the listener's default action" "$T/sysbrokerd.log"
assert_eq "default continue: at debug only" "" \
        "$(grep "continued by the listener's default action" "$T/sysbrokerd.log" | grep -v '^<7>' || true)"

# A deny rule wins over what the kernel would allow, too.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --deny-mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "mknod '$D/null' c 1 3; echo mknod-exit=\$?" 2>&1) || rc=$?
assert_contains "deny rule: EPERM" "$out" "Operation not permitted"
assert_false "deny rule: no node" test -e "$D/null"
# Where the kernel would create it: a sandbox run by root (deny rules need no polkit question).
out=$("$SYSBROKERCTL" run --deny-mknod "c 1:3 $D/rootnull" -- \
        sh -c "mknod '$D/rootnull' c 1 3; echo mknod-exit=\$?" 2>&1) || true
assert_contains "deny rule, root's sandbox: EPERM" "$out" "Operation not permitted"
assert_false "deny rule, root's sandbox: no node" test -e "$D/rootnull"

# The listener's counters while its sandbox is still alive: one emulated, two continued, one denied.
rm -f "$T/work/go"
run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/counted" --deny-mknod "c 1:7 $D/full" -- \
        unshare -Ur sh -c "mknod '$D/counted' c 1 3; mknod '$D/zero' c 1 5; mkfifo '$D/fifo3';
                           mknod '$D/full' c 1 7; touch '$T/work/ready';
                           while [ ! -e '$T/work/go' ]; do sleep 0.05; done" >"$T/counted.log" 2>&1 &
ctl=$!
if sb_poll 10 test -e "$T/work/ready"; then
    lpath=$(sb_last_listener_path)
    counters=
    for c in Notifications Emulated Continued Denied Failed; do
        counters+="$c=$(sb_broker_property "$lpath" org.sysbroker.Broker1.Listener "$c" 2>&1) "
    done
    assert_eq "listener counters" "Notifications=4 Emulated=1 Continued=2 Denied=1 Failed=0 " "$counters"
    # A listener is its owner's business: the owner reads it, another unprivileged user does not see it.
    assert_eq "the owner reads its listener's counters" "t 4" \
        "$(run_as_user busctl get-property org.sysbroker.Broker1 "$lpath" org.sysbroker.Broker1.Listener \
            Notifications 2>&1)"
    # (a user the bus knows: dbus-daemon refuses uids without a passwd entry)
    other=$(cd "$T/work" && setpriv --reuid=daemon --regid=daemon --clear-groups -- \
            busctl get-property org.sysbroker.Broker1 "$lpath" org.sysbroker.Broker1.Listener Notifications 2>&1) || true
    assert_contains "another user does not see the listener" "$other" "Unknown object"
else
    sb_not_ok "listener counters" "the sandbox never got ready: $(cat "$T/counted.log")"
fi
touch "$T/work/go"
wait "$ctl" || true

# Rules apply only to tasks the listener's owner controls: a filter installed by a process that then runs
# as another uid (1), registered by the test user, gets nothing from the test user's rule. Run as the owner,
# the same setup gets its node: the refusal is the owner check's.
F=$T/work/foreign
mkdir -m 1777 "$F"
out=$("$SB_FOREIGN" 1 "$SB_TEST_UID" "$F/other" 2>&1) || true
assert_contains "another uid's process: the listener is registered" "$out" registered
assert_contains "and its mknod is denied" "$out" "mknod=EPERM"
assert_false "no node" test -e "$F/other"
assert_true "the log says why" grep -q "(uid 1) is not controlled by the listener's owner (uid $SB_TEST_UID)" \
        "$T/sysbrokerd.log"
out=$("$SB_FOREIGN" "$SB_TEST_UID" "$SB_TEST_UID" "$F/own" 2>&1) || true
assert_contains "the owner's own process: its mknod is emulated" "$out" "mknod=ok"
assert_eq "the node is there" "character special file 1:3" "$(stat -c '%F %Hr:%Lr' "$F/own" 2>&1)"

# The broker keeps working after refusing: the allowed call still goes through.
rc=0
out=$(run_as_user "$SYSBROKERCTL" run --mknod "c 1:3 $D/null" -- \
        unshare -Ur sh -c "mknod '$D/null' c 1 3 && echo created" 2>&1) || rc=$?
assert_contains "the allowed call still works" "$out" created
assert_eq "and creates 1:3" "character special file 1:3" "$(stat -c '%F %Hr:%Lr' "$D/null" 2>&1)"

sb_finish
