#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The launcher rows (tools/bench --rows=launch): what a sandbox's start costs with sysbroker, as a launcher
# pays it — wall time per run, median of RUNS, as the unprivileged test user like the real use:
#   (L1) bwrap … true, no sysbroker                (L2) the same under run --handoff, one open rule
#   (L3) python3 -c pass in bwrap, no sysbroker    (L4) the same under run --handoff, one open rule
# The ratios are against the sysbroker-less run (issue 13's target: at most 1.3). A row whose program is
# missing says so and is skipped. Needs a running sysbrokerd and polkit allowing the rule (tools/bench).
#
#   launch-rows.sh [--runs=N] [--warmup=N]      (SYSBROKERCTL, SYSBROKER_LAUNCH_TIME from the environment)
set -euo pipefail

runs=30
warmup=3
for arg in "$@"; do
    case "$arg" in
        --runs=*) runs=${arg#--runs=} ;;
        --warmup=*) warmup=${arg#--warmup=} ;;
        *) echo "launch-rows.sh: unknown option '$arg'" >&2; exit 2 ;;
    esac
done
uid=${SB_TEST_UID:-65534}
gid=${SB_TEST_GID:-65534}
ctl=$(realpath "$SYSBROKERCTL")
timer=$SYSBROKER_LAUNCH_TIME

echo "launch rows: wall time per run, median of $runs runs ($warmup warm-up), as uid $uid"
if ! command -v bwrap >/dev/null 2>&1; then
    echo "(L1-L4) skipped: bwrap is not installed"
    exit 0
fi

# A sandbox with only /usr, the merged-/usr links, the loader's cache and sysbrokerctl's directory: what
# a launcher gives a command, the same with and without sysbroker.
sandbox=(bwrap --unshare-all --die-with-parent --ro-bind /usr /usr
         --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin
         --ro-bind /etc/ld.so.cache /etc/ld.so.cache --ro-bind "$(dirname "$ctl")" "$(dirname "$ctl")"
         --proc /proc --dev /dev)
# One open rule that the command's opens do not match: every open is trapped and continued.
handoff=("$ctl" --no-ask-password run --handoff --open=/nonexistent/x --)

rc=0
# time_row LABEL CMD...: prints the row, sets us (0 on failure).
time_row() {
    local label=$1 line
    shift
    if line=$(cd / && setpriv --reuid="$uid" --regid="$gid" --clear-groups -- \
                      "$timer" "$runs" "$warmup" "$@"); then
        us=$(sed -n 's/^median_us=\([0-9]*\) .*/\1/p' <<<"$line")
        printf '%-58s %9.2f ms  (%s)\n' "$label" "$(awk "BEGIN { print $us / 1000 }")" "$line"
    else
        us=0
        printf '%-58s failed\n' "$label"
        rc=1
    fi
}

ratio() {
    if [ "$2" -gt 0 ] && [ "$3" -gt 0 ]; then
        printf 'ratio %s %.2f (target <= 1.3)\n' "$1" "$(awk "BEGIN { print $3 / $2 }")"
    fi
}

time_row "(L1) bwrap ... true" "${sandbox[@]}" -- true
l1=$us
time_row "(L2) run --handoff --open=... bwrap ... exec true" \
         "${handoff[@]}" "${sandbox[@]}" -- "$ctl" exec -- true
l2=$us
ratio "L2/L1 (bwrap true with sysbroker / without)" "$l1" "$l2"

if [ -x /usr/bin/python3 ]; then
    time_row "(L3) bwrap ... python3 -c pass" "${sandbox[@]}" -- /usr/bin/python3 -c pass
    l3=$us
    time_row "(L4) run --handoff --open=... bwrap ... exec python3 -c pass" \
             "${handoff[@]}" "${sandbox[@]}" -- "$ctl" exec -- /usr/bin/python3 -c pass
    l4=$us
    ratio "L4/L3 (python3 -c pass with sysbroker / without)" "$l3" "$l4"
else
    echo "(L3-L4) skipped: /usr/bin/python3 is not installed"
fi
exit "$rc"
