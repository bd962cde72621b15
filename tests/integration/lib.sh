# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# The integration harness: a throwaway mount namespace holding a private dbus-daemon that plays the
# system bus, the real polkitd reading only this project's policy and a test's rules, and sysbrokerd
# serving both the bus and a socket-activated peer-to-peer socket. Sourced by tests/integration/test-*.sh,
# tools/demo and tools/bench; nothing here touches the host outside the namespace.
#
# Paths come from the environment (meson's test() sets them; the tools derive them from a build dir):
#   SYSBROKERD, SYSBROKERCTL, SYSBROKER_POLICY, SRCDIR, BUILDDIR
#
# Typical use:
#   . "$SRCDIR/tests/integration/lib.sh"
#   sb_init "$@"                    # root check, re-exec in `unshare -m`, temp dir $T, cleanup trap
#   sb_start_all rules/allow-all.rules
#   ...assert_eq / assert_contains...
#   sb_finish

SB_TEST_UID=${SB_TEST_UID:-65534}
SB_TEST_GID=${SB_TEST_GID:-65534}
SB_POLKITD=${SB_POLKITD:-/usr/lib/polkit-1/polkitd}

SB_TESTS_RUN=0
SB_TESTS_FAILED=0
SB_PIDS=()
SB_MOUNTS=()
SB_POLKIT_PID=
SB_BROKER_PID=
SB_BUS_PID=
T=

# What building and testing need on Debian 12 (tools/test and tools/demo install the missing ones).
SB_PACKAGES=(
    meson ninja-build pkg-config gcc clang-14 libclang-rt-14-dev libfuzzer-14-dev
    libsystemd-dev libseccomp-dev libcap-dev libjson-c-dev libglib2.0-dev libglib-testing-0-dev libdbus-1-dev
    libpolkit-gobject-1-dev
    dbus dbus-daemon polkitd systemd-container util-linux bsdutils libxml2-utils e2fsprogs bubblewrap
    strace
)

# apt-get install the packages dpkg does not list as installed; nothing (not even an update) otherwise.
sb_install_missing() {
    local missing=() p sudo=()
    for p in "${SB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    echo "Installing ${missing[*]}"
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# A test that cannot run skips (77). The tools (demo, bench) set SB_SKIP_IS_FAILURE=1: for them a reason
# not to run is an error.
sb_skip() {
    if [ -n "${SB_SKIP_IS_FAILURE:-}" ]; then
        echo "$(basename "$0"): $*" >&2
        exit 1
    fi
    echo "1..0 # SKIP $*"
    exit 77
}

sb_die() {
    echo "Bail out! $*" >&2
    exit 1
}

# Tests that need root skip (77) without it; the harness mounts and runs the real polkitd.
sb_require_root() {
    [ "$(id -u)" = 0 ] || sb_skip "needs root (mount namespace, real polkitd, uid switching)"
}

sb_require_programs() {
    local p
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 || sb_skip "'$p' is not installed"
    done
}

# Fill in the paths a meson test() would pass, from a build directory.
sb_paths_from_builddir() {
    local builddir=$1 srcdir=$2
    export SRCDIR=${SRCDIR:-$srcdir}
    export BUILDDIR=${BUILDDIR:-$builddir}
    export SYSBROKERD=${SYSBROKERD:-$BUILDDIR/service/sysbrokerd}
    export SYSBROKERCTL=${SYSBROKERCTL:-$BUILDDIR/client/sysbrokerctl}
    if [ -z "${SYSBROKER_POLICY:-}" ]; then
        if [ -f "$BUILDDIR/polkit/org.sysbroker.Broker1.policy" ]; then
            SYSBROKER_POLICY=$BUILDDIR/polkit/org.sysbroker.Broker1.policy
        else
            SYSBROKER_POLICY=$SRCDIR/polkit/org.sysbroker.Broker1.policy
        fi
    fi
    export SYSBROKER_POLICY
}

# Whether this process is the one sb_init re-executed inside the private mount namespace.
sb_in_namespace() {
    [ "${SB_IN_NAMESPACE:-}" = "$$" ]
}

# Everything after this runs as root in a private mount namespace, with $T and a cleanup trap.
# The re-exec replaces the calling script, so call this before doing anything that must not be repeated.
sb_init() {
    sb_require_root
    sb_require_programs unshare setpriv setsid dbus-daemon busctl systemd-socket-activate
    [ -x "$SB_POLKITD" ] || sb_skip "$SB_POLKITD is not installed"

    # unshare execs in place, so the re-executed script keeps our pid; a script started from inside
    # (tools/demo from a test) has another pid and gets its own namespace. The namespace's mounts
    # (policy, rules) vanish with its last process: nothing to undo on the host.
    if ! sb_in_namespace; then
        export SB_IN_NAMESPACE=$$
        exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
    fi

    local p
    for p in SYSBROKERD SYSBROKERCTL SYSBROKER_POLICY SRCDIR; do
        [ -n "${!p:-}" ] || sb_die "$p is not set (run through meson test, or tools/test)"
    done
    [ -x "$SYSBROKERD" ] || sb_die "sysbrokerd not built: '$SYSBROKERD'"
    [ -f "$SYSBROKER_POLICY" ] || sb_die "polkit policy not found: '$SYSBROKER_POLICY'"

    T=$(mktemp -d /tmp/sysbroker-test.XXXXXX)
    chmod 755 "$T"
    mkdir -p "$T/actions" "$T/rules" "$T/empty" "$T/work"
    trap sb_cleanup EXIT
    # The test user's own directory, on a tmpfs that allows device nodes whatever /tmp is mounted with.
    mount -t tmpfs -o "mode=0755,uid=$SB_TEST_UID,gid=$SB_TEST_GID,size=16m" sysbroker-test "$T/work" ||
        sb_die "cannot mount a tmpfs on $T/work"
    SB_MOUNTS+=("$T/work")
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

sb_kill_pid() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# Sandboxes a failed test left running (a looping helper, a call stuck in a dead broker): every process
# in this private mount namespace other than us was started by this test, so SIGKILL them by pid.
sb_kill_leftovers() {
    local d pid
    sb_in_namespace || return 0
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        [ "$pid" != "$$" ] || continue
        # -ef compares the namespace inodes, with no process of our own in the way.
        [[ $d/ns/mnt -ef /proc/$$/ns/mnt ]] 2>/dev/null || continue
        kill -KILL "$pid" 2>/dev/null
    done
}

sb_cleanup() {
    local rc=$? i f
    set +e
    if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "$T" ]; then
        for f in "$T"/*.log; do
            [ -s "$f" ] || continue
            echo "# --- $(basename "$f") (last 40 lines) ---"
            tail -n 40 "$f" | sed 's/^/# /'
        done
    fi
    # Newest first: the broker before polkit before the bus it talks to.
    for ((i = ${#SB_PIDS[@]} - 1; i >= 0; i--)); do
        sb_kill_pid "${SB_PIDS[$i]}"
    done
    sb_kill_leftovers
    for ((i = ${#SB_MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${SB_MOUNTS[$i]}" 2>/dev/null
    done
    [ -n "$T" ] && [ -z "${SB_KEEP_TMP:-}" ] && rm -rf "$T"
    exit "$rc"
}

sb_forget_pid() {
    local pid=$1 i
    for i in "${!SB_PIDS[@]}"; do
        [ "${SB_PIDS[$i]}" = "$pid" ] && unset 'SB_PIDS[i]'
    done
    SB_PIDS=("${SB_PIDS[@]}")
}

# Poll until a command succeeds: sb_poll SECONDS CMD... (status: whether it did)
sb_poll() {
    local timeout=$1 i
    shift
    for ((i = 0; i < timeout * 50; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.02
    done
    return 1
}

# The same for the harness's own steps, where a timeout ends the test: sb_wait_for SECONDS WHAT CMD...
sb_wait_for() {
    local timeout=$1 what=$2
    shift 2
    sb_poll "$timeout" "$@" || sb_die "timed out after ${timeout}s waiting for $what"
}

sb_name_has_owner() {
    busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        NameHasOwner s "$1" 2>/dev/null | grep -q '^b true$'
}

sb_name_has_no_owner() {
    busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        NameHasOwner s "$1" 2>/dev/null | grep -q '^b false$'
}

# A private dbus-daemon as the system bus: everything connecting to "the system bus" from here on
# (polkitd, sysbrokerd, sysbrokerctl, busctl) honours DBUS_SYSTEM_BUS_ADDRESS.
# With SB_BUS_SERVICEDIR set, the bus starts services from the .service files there itself (no launch helper).
sb_start_bus() {
    cat >"$T/bus.conf" <<EOF
<!-- SPDX-License-Identifier: LGPL-2.1-or-later -->
<busconfig>
  <type>system</type>
  <listen>unix:path=$T/bus.sock</listen>
  <auth>EXTERNAL</auth>${SB_BUS_SERVICEDIR:+
  <servicedir>$SB_BUS_SERVICEDIR</servicedir>}
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
    dbus-daemon --config-file="$T/bus.conf" --fork --print-pid=1 >"$T/bus.pid" 2>"$T/dbus-daemon.log" ||
        sb_die "dbus-daemon failed to start"
    SB_BUS_PID=$(cat "$T/bus.pid")
    SB_PIDS+=("$SB_BUS_PID")
    export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/bus.sock
    sb_wait_for 10 "the private system bus" busctl call org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus GetId
}

sb_bind() {
    mount --bind "$1" "$2" || sb_die "cannot bind-mount '$1' on '$2'"
    SB_MOUNTS+=("$2")
}

# polkitd has fixed paths; bind our directories over them so it reads only our policy and rules.
sb_mount_polkit_dirs() {
    install -m 0644 "$SYSBROKER_POLICY" "$T/actions/org.sysbroker.Broker1.policy"
    chmod -R a+rX "$T/actions" "$T/rules" "$T/empty"
    mkdir -p /usr/share/polkit-1/actions /etc/polkit-1/rules.d /usr/share/polkit-1/rules.d
    sb_bind "$T/actions" /usr/share/polkit-1/actions
    sb_bind "$T/rules" /etc/polkit-1/rules.d
    sb_bind "$T/empty" /usr/share/polkit-1/rules.d
}

sb_start_polkitd() {
    "$SB_POLKITD" --no-debug >>"$T/polkitd.log" 2>&1 &
    SB_POLKIT_PID=$!
    SB_PIDS+=("$SB_POLKIT_PID")
    sb_wait_for 20 "polkitd to own org.freedesktop.PolicyKit1" sb_name_has_owner org.freedesktop.PolicyKit1
}

sb_stop_polkitd() {
    [ -n "$SB_POLKIT_PID" ] || return 0
    sb_kill_pid "$SB_POLKIT_PID"
    wait "$SB_POLKIT_PID" 2>/dev/null || true
    sb_forget_pid "$SB_POLKIT_PID"
    SB_POLKIT_PID=
    sb_wait_for 10 "org.freedesktop.PolicyKit1 to be released" sb_name_has_no_owner org.freedesktop.PolicyKit1
}

# Replace the polkit rules with FILE (JavaScript). polkitd does reload on inotify, typically within
# ~30 ms, but nothing tells us when it is done; a restart is deterministic and costs ~100 ms.
set_polkit_rules() {
    local file=$1
    [ -f "$file" ] || sb_die "no such rules file: '$file'"
    rm -f "$T/rules/"*.rules
    install -m 0644 "$file" "$T/rules/50-sysbroker-test.rules"
    if [ -n "$SB_POLKIT_PID" ]; then
        sb_stop_polkitd
        sb_start_polkitd
    fi
}

# One sysbrokerd serves both endpoints, as in production (sysbrokerd.socket + bus activation): it is
# started by systemd-socket-activate, which execs it (same pid) on the first connection to io.socket and
# hands the listening socket over as fd 3; the daemon also connects to the bus and owns the name. Two
# daemons would compete for org.sysbroker.Broker1.
sb_start_broker() {
    SB_SOCKET=$T/io.socket
    rm -f "$SB_SOCKET"
    # As under systemd, the daemon leads a session of its own and has no controlling terminal: the state in
    # which opening a terminal without O_NOCTTY would make it the daemon's (test-open-tty.sh). The script
    # runs without job control, so the background child is no process group leader and setsid(1) execs in
    # place: the pid stays the daemon's.
    # The sanitizer options (tools/test --sanitize) say where a report goes: it must not be lost in the log.
    setsid systemd-socket-activate -l "$SB_SOCKET" -E DBUS_SYSTEM_BUS_ADDRESS \
        -E ASAN_OPTIONS -E UBSAN_OPTIONS -E LSAN_OPTIONS -E JOURNAL_STREAM \
        "$SYSBROKERD" --no-idle-exit --log-level="${SB_BROKER_LOG_LEVEL:-debug}" "$@" \
        >>"$T/sysbrokerd.log" 2>&1 &
    SB_BROKER_PID=$!
    SB_PIDS+=("$SB_BROKER_PID")
    sb_wait_for 10 "$SB_SOCKET" test -S "$SB_SOCKET"
    # systemd-socket-activate creates it 0644 whatever the umask; clients are unprivileged.
    chmod 666 "$SB_SOCKET"
    # The first connection starts the daemon. busctl's call itself fails (it says Hello, which only a
    # bus answers), but connecting is all that is needed; the bus name below tells us it is up.
    busctl --address="unix:path=$SB_SOCKET" call org.sysbroker.Broker1 /org/sysbroker/Broker1 \
        org.freedesktop.DBus.Peer Ping >/dev/null 2>&1 || true
    sb_wait_for 20 "sysbrokerd to own org.sysbroker.Broker1" sb_name_has_owner org.sysbroker.Broker1
    kill -0 "$SB_BROKER_PID" 2>/dev/null || sb_die "sysbrokerd exited during startup"
    [ "$(readlink "/proc/$SB_BROKER_PID/exe")" = "$(readlink -f "$SYSBROKERD")" ] ||
        sb_die "pid $SB_BROKER_PID is not sysbrokerd"
}

# Bus, polkitd with the given rules file, sysbrokerd: the usual start of a test.
sb_start_all() {
    sb_start_bus
    sb_mount_polkit_dirs
    set_polkit_rules "$1"
    sb_start_polkitd
    shift
    sb_start_broker "$@"
}

# The mount tests call mount(2) directly through sb-mount (util-linux refuses non-root callers first).
sb_require_mount_helper() {
    [ -x "${SB_MOUNT:-}" ] || sb_die "SB_MOUNT helper not built: '${SB_MOUNT:-}'"
}

# The mount(s) at a mount point, from a mountinfo file (default: ours): "opts=... fstype=... source=...
# super=... dev=MAJ:MIN" (mntinfo.awk). A sandbox's script runs the same awk program: $SB_MNTINFO_AWK.
SB_MNTINFO_AWK=${SRCDIR:-}/tests/integration/mntinfo.awk
sb_mntinfo() {
    awk -v t="$1" -f "$SB_MNTINFO_AWK" "${2:-/proc/self/mountinfo}"
}

# The per-mount options of an sb_mntinfo line, between commas: ",rw,nosuid,nodev,relatime,".
sb_opts_of() {
    echo ",$(sed -n 's/^opts=\([^ ]*\) .*/\1/p' <<<"$1"),"
}

# Run a command as the unprivileged test user, in $T/work. polkit answers yes to root before any rule
# runs, so everything whose authorization matters must run through here.
run_as_user() {
    (cd "$T/work" && exec setpriv --reuid="$SB_TEST_UID" --regid="$SB_TEST_GID" --clear-groups -- "$@")
}

# "u 3" → 3, etc.: the value of a broker property.
sb_broker_property() {
    local path=$1 iface=$2 prop=$3
    busctl get-property org.sysbroker.Broker1 "$path" "$iface" "$prop" | cut -d' ' -f2-
}

sb_nlisteners() {
    sb_broker_property /org/sysbroker/Broker1 org.sysbroker.Broker1.Manager NListeners
}

sb_nlisteners_is() {
    [ "$(sb_nlisteners 2>/dev/null)" = "$1" ]
}

# Listeners of exited sandboxes go away asynchronously: wait for the count (status: whether it came).
sb_wait_nlisteners() {
    sb_poll "${2:-10}" sb_nlisteners_is "$1"
}

sb_broker_fd_count() {
    find "/proc/$SB_BROKER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l
}

sb_broker_alive() {
    kill -0 "$SB_BROKER_PID" 2>/dev/null
}

# sb_trapped PIDFILE COMM: the process whose pid is in PIDFILE is COMM and waits in a trapped call (the kernel
# parks it in seccomp's notification wait until the broker answers).
sb_trapped() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] &&
        grep -q seccomp "/proc/$pid/wchan" 2>/dev/null
}

# The newest listener's object path (listeners are numbered in registration order).
sb_last_listener_path() {
    busctl call org.sysbroker.Broker1 /org/sysbroker/Broker1 org.sysbroker.Broker1.Manager ListListeners |
        grep -o '"/org/sysbroker/Broker1/listener/[0-9]*"' | tr -d '"' | sort -t/ -k6 -n | tail -n 1
}

# A counter (Notifications, Emulated, Denied, Continued, Failed) of a listener.
sb_listener_counter() {
    sb_broker_property "$1" org.sysbroker.Broker1.Listener "$2"
}

# The open tests need a client that knows open rules; one without is a build problem, not a reason to skip.
sb_require_open_client() {
    # The help read whole first: grep -q would leave at the match, and the rest of the help written into
    # the closed pipe fails the pipeline under pipefail (SIGPIPE), now and then.
    local help
    help=$("$SYSBROKERCTL" run --help 2>&1) || true
    grep -q -- '--open-host' <<<"$help" ||
        sb_die "'$SYSBROKERCTL' has no --open/--open-host options"
    [ -x "${SB_OPEN:-}" ] || sb_die "SB_OPEN helper not built: '${SB_OPEN:-}'"
}

# sb_field NAME: the value of the line "NAME=value" in $out, where a sandbox script reports each step on a
# line of its own.
sb_field() {
    sed -n "s/^$1=//p" <<<"$out"
}

# sb_host_dir: H, a directory of root's the sandbox cannot search, holding a root-only "secret"
# (HOST-SECRET): what a HostPath rule reaches and nothing else may.
sb_host_dir() {
    H=$T/hostonly
    mkdir -m 0700 "$H"
    sb_put_file "$H/secret" root:root 0600 "HOST-SECRET"
}

# sb_put_file PATH OWNER MODE CONTENT: a file created as root (parents too), with exactly that owner, mode
# and content (a newline is added).
sb_put_file() {
    local path=$1 owner=$2 mode=$3 content=$4
    mkdir -p "$(dirname "$path")"
    printf '%s\n' "$content" >"$path"
    chown "$owner" "$path"
    chmod "$mode" "$path"
}

# Under --default=deny every unmatched open fails, including the dynamic loader's: these rules let the
# sandboxed programs start (their libraries and /etc/ld.so.cache, read-only, emulated).
SB_OPEN_SYSTEM_RULES=(--open '/usr/**' --open '/etc/**')

# Milliseconds on the monotonic clock (bash's $EPOCHREALTIME would do, but is wall time).
sb_now_ms() {
    local up
    read -r up _ </proc/uptime
    echo $((${up/./} * 10))
}

# TAP-ish reporting. Assertions never abort the script: every check runs and is reported.
sb_ok() {
    SB_TESTS_RUN=$((SB_TESTS_RUN + 1))
    echo "ok $SB_TESTS_RUN - $1"
}

sb_not_ok() {
    local name=$1
    shift
    SB_TESTS_RUN=$((SB_TESTS_RUN + 1))
    SB_TESTS_FAILED=$((SB_TESTS_FAILED + 1))
    echo "not ok $SB_TESTS_RUN - $name"
    local line
    for line in "$@"; do
        printf '#   %s\n' "$line"
    done
}

# assert_eq NAME EXPECTED ACTUAL
assert_eq() {
    if [ "$2" = "$3" ]; then
        sb_ok "$1"
    else
        sb_not_ok "$1" "expected: '$2'" "actual:   '$3'"
    fi
}

# assert_contains NAME HAYSTACK NEEDLE
assert_contains() {
    case "$2" in
        *"$3"*) sb_ok "$1" ;;
        *) sb_not_ok "$1" "expected to contain: '$3'" "actual: '$2'" ;;
    esac
}

# assert_not_contains NAME HAYSTACK NEEDLE
assert_not_contains() {
    case "$2" in
        *"$3"*) sb_not_ok "$1" "expected not to contain: '$3'" "actual: '$2'" ;;
        *) sb_ok "$1" ;;
    esac
}

# assert_true NAME CMD...
assert_true() {
    local name=$1
    shift
    if "$@"; then
        sb_ok "$name"
    else
        sb_not_ok "$name" "command failed: $*"
    fi
}

# assert_false NAME CMD...
assert_false() {
    local name=$1
    shift
    if "$@"; then
        sb_not_ok "$name" "command unexpectedly succeeded: $*"
    else
        sb_ok "$name"
    fi
}

sb_finish() {
    echo "1..$SB_TESTS_RUN"
    [ "$SB_TESTS_RUN" -gt 0 ] || sb_die "no assertion ran"
    [ "$SB_TESTS_FAILED" = 0 ] || exit 1
    exit 0
}
