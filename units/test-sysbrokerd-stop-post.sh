#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sysbrokerd-stop-post without systemd: the environment systemd gives an ExecStopPost= (RUNTIME_DIRECTORY,
# SERVICE_RESULT, EXIT_CODE, EXIT_STATUS) and a systemctl on PATH that only records how it was called. Only
# runs in a row that ended before the daemon was up count; at the 5th it names the listeners and stops the
# unit; anything else leaves the unit to systemd's Restart=. The boot suite checks it under a real systemd.
set -u
helper=$1
n=0 failed=0

check() {
    local name=$1
    shift
    n=$((n + 1))
    if "$@"; then
        echo "ok $n - $name"
    else
        echo "not ok $n - $name"
        failed=1
    fi
}

contains() {
    case "$1" in
        *"$2"*) return 0 ;;
        *) echo "# expected to contain: '$2'"; echo "# actual: '$1'"; return 1 ;;
    esac
}

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/run"
cat >"$T/bin/systemctl" <<EOF
#!/bin/sh
echo "\$*" >>"$T/systemctl.calls"
EOF
chmod +x "$T/bin/systemctl"

# run RESULT: one ExecStopPost= after a run that ended with RESULT; output in $out, status in $rc.
run() {
    rc=0
    out=$(env PATH="$T/bin:$PATH" RUNTIME_DIRECTORY="$T/run" SERVICE_RESULT="$1" EXIT_CODE=exited EXIT_STATUS=1 \
        sh "$helper" sysbrokerd.service 5 2>&1) || rc=$?
}

calls() {
    cat "$T/systemctl.calls" 2>/dev/null
}

printf '1000 build sandbox\n' >"$T/run/listener-7"
printf '0\n' >"$T/run/listener-8"

rc=0
out=$(env -u RUNTIME_DIRECTORY PATH="$T/bin:$PATH" SERVICE_RESULT=exit-code sh "$helper" sysbrokerd.service 1 2>&1) ||
    rc=$?
check "without RUNTIME_DIRECTORY it never gives up" test "$rc $out" = "0 " -a -z "$(calls)"

for i in 1 2 3 4; do
    run exit-code
done
check "4 failed starts: nothing said, nothing stopped" test "$rc $out" = "0 " -a -z "$(calls)"
check "and they are counted" test "$(cat "$T/run/failed-starts" 2>&1)" = 4

run success
check "a clean end resets the count" test "$rc $out $(calls)" = "0  " -a ! -e "$T/run/failed-starts"

for i in 1 2 3 4; do
    run signal
done
touch "$T/run/up"
run signal
check "a crash of a daemon that was up does not count, and resets the count" \
    test "$rc $out $(calls)" = "0  " -a ! -e "$T/run/failed-starts"
check "its 'up' is gone with it" test ! -e "$T/run/up"

echo garbage >"$T/run/failed-starts"
run exit-code
check "a count it cannot read starts again from 1" test "$(cat "$T/run/failed-starts" 2>&1)" = 1

for i in 2 3 4; do
    run exit-code
done
check "still nothing after 4" test -z "$(calls)"
run exit-code
check "the 5th failed start in a row gives up" contains "$out" \
    "sysbrokerd ended 5 times in a row before it was up (the last time: exit-code, exited 1); giving up."
check "at error priority" contains "$out" "<3>sysbrokerd ended"
check "naming a listener by id, owner uid and description" contains "$out" \
    "<3>Listener 7 of uid 1000 ('build sandbox') lost: no sysbrokerd to serve it."
check "and one without a description" contains "$out" "<3>Listener 8 of uid 0 lost: no sysbrokerd to serve it."
check "then stops the unit without waiting for the stop" test "$(calls)" = "stop --no-block sysbrokerd.service"
check "and the count starts again" test ! -e "$T/run/failed-starts"

echo "1..$n"
exit $failed
