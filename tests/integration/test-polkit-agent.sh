#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sysbrokerctl on a terminal starts pkttyagent only when polkit wants a password: a registration that polkit
# allows outright is asked without interaction and starts no agent; one that needs authentication is
# refused that way (InteractiveAuthorizationRequired), then asked again with interaction and the agent.
# No password is typed (here polkitd finds no session to show the agent's dialog in): the registration is
# refused and its command does not run. (The agent is what made every run on a terminal about 4 ms slower.)
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs script strace
[ -x /usr/bin/pkttyagent ] || sb_skip "pkttyagent is not installed"
sb_start_all "$SB_RULES/auth-open.rules"

D=$T/work/agent
run_as_user mkdir "$D"

# on_terminal TRACE COMMAND: the user's COMMAND on a terminal of its own (script(1)), its exec calls traced;
# given up after two minutes (an agent waiting for a password that never comes).
on_terminal() {
    local trace=$1
    shift
    # LeakSanitizer cannot run under ptrace and would fail the sanitized build's sysbrokerctl at exit (1):
    # the leak checks are the other tests', not this one's.
    (cd "$T/work" && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" &&
        exec timeout 120 strace -f -qq -e trace=execve -o "$trace" -- \
        setpriv --reuid="$SB_TEST_UID" --regid="$SB_TEST_GID" --clear-groups -- \
        script -qec "$*" /dev/null) </dev/null
}
agent_started() {
    grep -q 'execve("/usr/bin/pkttyagent"' "$1"
}

rc=0
out=$(on_terminal "$T/allowed.trace" "$SYSBROKERCTL run --mknod 'c 1:3 $D/null' -- touch '$D/ran-allowed'" 2>&1) ||
    rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
assert_eq "allowed outright: runs (exit $rc)" 0 "$rc"
assert_true "its command ran" test -e "$D/ran-allowed"
assert_true "sysbrokerctl ran on a terminal (traced)" grep -q 'execve(".*sysbrokerctl"' "$T/allowed.trace"
assert_false "no polkit agent was started" agent_started "$T/allowed.trace"

rc=0
out=$(on_terminal "$T/auth.trace" "$SYSBROKERCTL run --open '$D/x' -- touch '$D/ran-auth'" 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
assert_true "needing a password: the agent was started" agent_started "$T/auth.trace"
assert_eq "the open rule was asked by each call without interaction, then by the second with it" 3 \
    "$(grep -c "checking 'org.sysbroker.Broker1.open' for bus name [^ ]* (uid $SB_TEST_UID)" "$T/sysbrokerd.log")"
assert_false "without a password the command did not run" test -e "$D/ran-auth"
assert_eq "nothing registered" 0 "$(sb_nlisteners)"
assert_eq "refused (exit $rc)" 125 "$rc"
assert_eq "asked twice (without, then with interaction), after the one allowed outright: three register checks" 3 \
    "$(grep -c "checking 'org.sysbroker.Broker1.register' for bus name [^ ]* (uid $SB_TEST_UID)" "$T/sysbrokerd.log")"

sb_finish
