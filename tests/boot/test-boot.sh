#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The boot suite: boot this machine's own OS with `systemd-nspawn --boot` over an overlay of `/`, with the
# project installed into it as a package would (a --prefix=/usr build, `meson install` with DESTDIR), and
# let sysbroker-boot-test.service run boot-checks.sh in there as the booted system's service. The overlay's
# upper layer is a tmpfs: nothing reaches the host's file systems. Prints the checks' TAP and fails if a
# check failed, if the checks did not finish, or if the container did not power off in time.
#
# Environment (meson's test() sets it): SRCDIR, BUILDDIR, SB_BOOT_MKNOD (the sandbox helper, default: the one
# in BUILDDIR). Optional: SB_BOOT_TIMEOUT (seconds the container may take from start to poweroff),
# SB_KEEP_TMP=1 (keep a copy of the logs for a post-mortem), SB_BOOT_ONLY="CHECK..." (run only these of the
# checks that can run on their own, after the setup: restart-storm, cannot-start, journal-admin, oci-socket; to
# iterate on one).
set -euo pipefail

skip() {
    echo "1..0 # SKIP $*"
    exit 77
}

die() {
    echo "Bail out! $*"
    exit 1
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=${SRCDIR:-$(cd "$HERE/../.." && pwd)}
[ -n "${BUILDDIR:-}" ] || die "BUILDDIR is not set (run through meson test or tools/test)"
SB_BOOT_MKNOD=${SB_BOOT_MKNOD:-$BUILDDIR/tests/boot/sb-boot-mknod}
BOOT_TIMEOUT=${SB_BOOT_TIMEOUT:-200}

# --- What nspawn needs at all: without it the suite cannot run (77). ----------------------------------------

[ "$(id -u)" = 0 ] || skip "needs root (overlay mount, systemd-nspawn)"
command -v systemd-nspawn >/dev/null 2>&1 || skip "systemd-nspawn is not installed (package systemd-container)"
[ -x /lib/systemd/systemd ] || [ -x /usr/lib/systemd/systemd ] || skip "no systemd to boot in this OS"
for p in unshare timeout meson ninja systemctl; do
    command -v "$p" >/dev/null 2>&1 || die "'$p' is not installed"
done
if ! grep -qw overlay /proc/filesystems; then
    modprobe overlay >/dev/null 2>&1 || true
    grep -qw overlay /proc/filesystems || skip "the kernel has no overlayfs"
fi

# Our mounts live in a private mount namespace: even a SIGKILL of this script leaves none on the host.
if [ "${SB_BOOT_IN_NAMESPACE:-}" != "$$" ]; then
    export SB_BOOT_IN_NAMESPACE=$$
    exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
fi

O=
ROOT=
MOUNTS=()
BOOT_PID=

# On an early exit (meson's timeout sends SIGTERM) the container must go before its mounts can. timeout(1)
# passes the signal on to nspawn, which shuts the container down; if that takes too long, a SIGKILL of
# timeout's process group takes nspawn down, and with it, as init of a PID namespace of its own (below),
# every process of the container.
stop_container() {
    local i
    [ -n "$BOOT_PID" ] && kill -0 "$BOOT_PID" 2>/dev/null || return 0
    echo "# stopping the container"
    kill -TERM "$BOOT_PID" 2>/dev/null
    for ((i = 0; i < 150; i++)); do
        kill -0 "$BOOT_PID" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "-$BOOT_PID" 2>/dev/null
    wait "$BOOT_PID" 2>/dev/null
}

cleanup() {
    local rc=$? i keep
    set +e
    stop_container
    if [ -n "$O" ] && [ -n "${SB_KEEP_TMP:-}" ]; then
        # The logs are on the tmpfs, which goes away below: keep a copy on disk.
        keep=$(mktemp -d /tmp/sysbroker-boot-logs.XXXXXX)
        cp -a "$O/out" "$O"/*.log "$keep/" 2>/dev/null
        echo "# logs kept in $keep"
    fi
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[$i]}" 2>/dev/null || umount --lazy "${MOUNTS[$i]}" ||
            echo "# cannot unmount ${MOUNTS[$i]}"
    done
    [ -z "$O" ] || rm -rf "$O"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

O=$(mktemp -d /tmp/sysbroker-boot.XXXXXX)
chmod 755 "$O"
# The overlay's upper and work dirs on a tmpfs: overlayfs refuses an upper dir inside its lower dir's file
# system tree ("overlapping"), and nothing written in the container should touch the host's disk.
mount -t tmpfs -o mode=0755,size=2g sysbroker-boot "$O" || die "cannot mount a tmpfs on $O"
MOUNTS+=("$O")
mkdir -p "$O/upper" "$O/work" "$O/root" "$O/out"
ROOT=$O/root
if ! err=$(mount -t overlay overlay -o "lowerdir=/,upperdir=$O/upper,workdir=$O/work" "$ROOT" 2>&1); then
    skip "cannot mount an overlay of / ($err)"
fi
MOUNTS+=("$ROOT")

# --- The project, installed as a package would be. -----------------------------------------------------------

# A build of its own, configured for /usr (the test build's prefix is /usr/local, where neither dbus-daemon
# nor systemd look). It lives in the test build dir, so later runs only rebuild what changed.
usr_build=$BUILDDIR/tests/boot/usr-build
mkdir -p "$(dirname "$usr_build")"
build_log=$O/build.log
t_build=$SECONDS
{
    if [ ! -f "$usr_build/build.ninja" ]; then
        meson setup --prefix=/usr --sysconfdir=/etc --localstatedir=/var -Dtests=false \
            "$usr_build" "$SRCDIR"
    fi
    ninja -C "$usr_build"
    DESTDIR=$ROOT meson install -C "$usr_build" --no-rebuild
} >"$build_log" 2>&1 || {
    sed 's/^/# /' "$build_log" | tail -n 60
    die "building or installing the /usr configuration in $usr_build failed"
}
echo "# built and installed into the overlay in $((SECONDS - t_build)) s"

# nspawn refuses an OS tree without a machine id; the container gets its own, not the host's.
tr -d - </proc/sys/kernel/random/uuid >"$ROOT/etc/machine-id"

# What an admin does after installing: enable the service (its Also= enables the socket), and add a
# polkit rule of their own.
systemctl --root="$ROOT" enable sysbrokerd.service >"$O/enable.log" 2>&1 || {
    sed 's/^/# /' "$O/enable.log"
    die "systemctl --root enable sysbrokerd.service failed"
}
# And the OCI runtimes' socket, which is not enabled with the service.
systemctl --root="$ROOT" enable sysbrokerd-oci.socket >>"$O/enable.log" 2>&1 || {
    sed 's/^/# /' "$O/enable.log"
    die "systemctl --root enable sysbrokerd-oci.socket failed"
}
install -m 0644 "$HERE/50-sysbroker-boot-test.rules" "$ROOT/etc/polkit-1/rules.d/50-sysbroker-boot-test.rules"

# The checks, as a service of the booted system that powers it off when done, and their sandbox helper
# (built by the test build: meson test builds it first).
install -D -m 0755 "$HERE/boot-checks.sh" "$ROOT/usr/lib/sysbroker-boot-test/boot-checks.sh"
[ -x "$SB_BOOT_MKNOD" ] || die "the helper $SB_BOOT_MKNOD is not built (ninja -C $BUILDDIR)"
install -D -m 0755 "$SB_BOOT_MKNOD" "$ROOT/usr/lib/sysbroker-boot-test/sb-boot-mknod"
install -D -m 0644 "$HERE/sysbroker-boot-test.service" "$ROOT/etc/systemd/system/sysbroker-boot-test.service"
if [ -n "${SB_BOOT_ONLY:-}" ]; then
    mkdir -p "$ROOT/etc/systemd/system/sysbroker-boot-test.service.d"
    printf '[Service]\nEnvironment="SB_BOOT_ONLY=%s"\n' "$SB_BOOT_ONLY" \
        >"$ROOT/etc/systemd/system/sysbroker-boot-test.service.d/only.conf"
    echo "# only: $SB_BOOT_ONLY"
fi
systemctl --root="$ROOT" enable sysbroker-boot-test.service >>"$O/enable.log" 2>&1 || {
    sed 's/^/# /' "$O/enable.log"
    die "systemctl --root enable sysbroker-boot-test.service failed"
}

# --- Boot. ---------------------------------------------------------------------------------------------------

# --private-network: the host's own network services boot in the container too; they must not touch the
# host's interfaces. The PID namespace around nspawn (with --kill-child) makes a timeout kill the whole
# container, not just nspawn: with nspawn gone, the kernel kills everything in the namespace.
console=$O/console.log
t_boot=$(date +%s%N)
boot_rc=0
# Started in the background and waited for, so that a signal to this script is handled at once. timeout(1)
# leads a process group of its own: stop_container() can signal all of it.
timeout --kill-after=10 "$BOOT_TIMEOUT" \
    unshare --pid --fork --kill-child --mount-proc -- \
    systemd-nspawn --quiet --directory="$ROOT" --boot --register=no --keep-unit --private-network \
        --bind="$O/out:/out" --console=passive --setenv=SYSTEMD_COLORS=0 \
    >"$console" 2>&1 </dev/null &
BOOT_PID=$!
wait "$BOOT_PID" || boot_rc=$?
BOOT_PID=
boot_ms=$((($(date +%s%N) - t_boot) / 1000000))

show_file() {
    local f=$1 lines=${2:-200}
    [ -s "$f" ] || return 0
    echo "# --- $(basename "$f") (last $lines lines) ---"
    tail -n "$lines" "$f" | sed 's/^/# /'
}

show_logs() {
    show_file "$O/out/checks.log" 300
    show_file "$O/out/sysbrokerd.journal" 200
    show_file "$O/out/dbus-polkit.journal" 80
    show_file "$O/out/failed-units.txt" 40
    show_file "$O/out/status.txt" 40
    show_file "$O/out/warnings.journal" 60
    show_file "$console" 80
}

results=$O/out/results.tap
[ -f "$results" ] && cat "$results"
echo "# container: boot, checks and poweroff took $((boot_ms / 1000)).$((boot_ms % 1000 / 100)) s (nspawn exit status $boot_rc)"

failures=()
if [ "$boot_rc" = 124 ] || [ "$boot_rc" = 137 ]; then
    failures+=("the container did not power off within ${BOOT_TIMEOUT} s")
elif [ "$boot_rc" != 0 ]; then
    failures+=("systemd-nspawn exited with status $boot_rc")
fi
if [ ! -f "$results" ]; then
    failures+=("the checks wrote no results (did sysbroker-boot-test.service run?)")
else
    plan=$(grep -E '^1\.\.[0-9]+$' "$results" | tail -n 1 || true)
    n_run=$(grep -cE '^(not )?ok [0-9]+' "$results" || true)
    # A "# TODO" line is a known gap, reported but not a failure (TAP).
    n_failed=$(grep -E '^not ok [0-9]+' "$results" | grep -vc '# TODO' || true)
    if [ -z "$plan" ]; then
        failures+=("the checks did not finish (no plan line; $n_run checks reported)")
    elif [ "${plan#1..}" != "$n_run" ]; then
        failures+=("plan says ${plan#1..} checks, $n_run reported")
    fi
    [ "$n_run" -gt 0 ] || failures+=("no check ran")
    [ "$n_failed" = 0 ] || failures+=("$n_failed check(s) failed")
    n_todo=$(grep -cE '^not ok [0-9]+ .*# TODO' "$results" || true)
    n_todo_passed=$(grep -cE '^ok [0-9]+ .*# TODO' "$results" || true)
    [ "$n_todo" = 0 ] || echo "# $n_todo check(s) failed as a known TODO (see their reasons above)"
    [ "$n_todo_passed" = 0 ] ||
        echo "# $n_todo_passed check(s) marked TODO passed: remove a known issue's marker once all its checks pass every time"
fi
security=$(grep -a 'Overall exposure level' "$O/out/security.txt" 2>/dev/null | sed 's/^[^O]*//' || true)
echo "# systemd-analyze security: ${security:-(no score)}"

if [ ${#failures[@]} -gt 0 ]; then
    show_logs
    for f in "${failures[@]}"; do
        echo "# FAILED: $f"
    done
    exit 1
fi
exit 0
