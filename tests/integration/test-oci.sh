#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The OCI front end (issue 14): crun and runc hand their seccomp listeners to sysbrokerd's OCI socket
# (listenerPath) with the rules in listenerMetadata; the runtime is the polkit subject. A runtime that sends
# something else gets nothing registered, and the daemon serves on.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs python3 timeout
[ -x /bin/busybox ] || sb_skip "busybox-static is not installed (/bin/busybox)"

# deny-mknod.rules: no device node for any user but root, for whom polkit says yes before any rule.
OCI=$T/oci.socket
sb_start_all "$SB_RULES/deny-mknod.rules" --oci-socket="$OCI"
assert_true "oci: the daemon made its OCI socket, connectable by anyone" \
        eval '[ "$(stat -c %a "$OCI")" = 666 ]'

RAW=$SRCDIR/tests/integration/oci-raw.py
BUNDLE=$SRCDIR/tests/integration/oci-bundle.py

oci_log_has() {
    sb_poll 10 grep -qF "$1" "$T/sysbrokerd.log"
}

# --- Runtimes that do not follow the protocol: nothing registered, a journal line saying why. Their bundle is
# a good one of the test user's, so that only what each case breaks is wrong.
RAW_BUNDLE=$T/work/raw-bundle
run_as_user mkdir -p "$RAW_BUNDLE/rootfs"
echo '{"root": {"path": "rootfs"}}' | run_as_user tee "$RAW_BUNDLE/config.json" >/dev/null
raw() {
    run_as_user env OCI_BUNDLE="$RAW_BUNDLE" timeout 20 /usr/bin/python3 "$RAW" "$OCI" "$@" >"$T/raw-$1.out" 2>&1
}
raw garbage || true
assert_true "oci: garbage is refused, said in the log" oci_log_has "the message is not a container state"
raw no-fd || true
assert_true "oci: a message without its fd is refused" oci_log_has "container 'raw-no-fd': nothing registered, it names 1 file descriptors and sent 0"
raw two-fds || true
assert_true "oci: two fds where one is named are refused" oci_log_has "container 'raw-two-fds': nothing registered, it names 1 file descriptors and sent 2"
raw not-a-listener || true
assert_true "oci: an fd that is no listener is refused, as RegisterListener says" \
        oci_log_has "container 'raw-not-a-listener': nothing registered, The file descriptor is not a seccomp user-notification listener"
raw no-metadata || true
assert_true "oci: no listenerMetadata is refused" oci_log_has "container 'raw-no-metadata': nothing registered, the seccomp profile has no listenerMetadata"
raw bad-rule || true
assert_true "oci: rules are validated by the bus's parser (same message)" \
        oci_log_has "container 'raw-bad-rule': nothing registered, Rule 0: key 'Path'"
sleep 60 &
root_pid=$!
raw foreign-pid "$root_pid" || true
assert_true "oci: a container pid the runtime's user does not control is refused" \
        oci_log_has "container 'raw-foreign-pid': nothing registered, the container's pid $root_pid is not the runtime user's"
kill "$root_pid"
# A runtime in a pid namespace of its own: its pids are not ours.
rc=0
run_as_user unshare -Urpf --mount-proc timeout 20 /usr/bin/python3 "$RAW" "$OCI" not-a-listener >/dev/null 2>&1 || rc=$?
assert_true "oci: a runtime in another pid namespace is refused" \
        oci_log_has "nothing registered, the runtime is in another pid namespace"
raw huge || true
assert_true "oci: a message over the size limit is refused" oci_log_has "its message is longer than"
assert_eq "oci: nothing was registered" 0 "$(sb_nlisteners)"
assert_true "oci: the daemon is alive" sb_broker_alive

# --- The container's root: root.path of the bundle's config.json, read as the runtime's user and resolved
# without following a symlink a user planted; a non-root runtime may name only a tree of its own.
raw_with_bundle() {
    run_as_user env OCI_BUNDLE="$1" timeout 20 /usr/bin/python3 "$RAW" "$OCI" not-a-listener >/dev/null 2>&1 || true
}
# A bundle on FUSE: the main loop walks the bundle, and a FUSE server that never answers (any user may mount
# one with fusermount3) would hold it, and every caller with it. Here a FUSE mount whose server never
# answers, made from /dev/fuse directly (no FUSE package needed): refused by the mount table, untouched.
if [ -c /dev/fuse ] && exec {fusefd}<>/dev/fuse; then
    mkdir "$T/work/fuse"
    if mount -t fuse -o "fd=$fusefd,rootmode=40000,user_id=0,group_id=0,allow_other" sbtest-fuse \
            "$T/work/fuse" 2>/dev/null; then
        raw_with_bundle "$T/work/fuse/bundle"
        assert_true "oci: a bundle on a FUSE mount is refused without a look inside" \
                oci_log_has "the bundle '$T/work/fuse/bundle' is on a FUSE mount"
        assert_true "oci: and the main loop still serves others" \
                timeout 10 busctl get-property org.sysbroker.Broker1 /org/sysbroker/Broker1 \
                org.sysbroker.Broker1.Manager NListeners
        umount -l "$T/work/fuse" || true
    else
        sb_ok "# SKIP cannot mount a FUSE file system here: the bundle-on-FUSE case is not checked"
    fi
    # Closing the server's end aborts the connection: whatever waited on it fails at once.
    exec {fusefd}>&-
else
    sb_ok "# SKIP no /dev/fuse: the bundle-on-FUSE case is not checked"
fi

ROOTFS_JSON='{"root": {"path": "rootfs"}}'
D=$T/work/root-symlink
run_as_user mkdir -p "$D/real"
run_as_user ln -s real "$D/rootfs"
echo "$ROOTFS_JSON" | run_as_user tee "$D/config.json" >/dev/null
raw_with_bundle "$D"
assert_true "oci: a rootfs path through a user's symlink is refused" \
        oci_log_has "the container's root '$D/rootfs' leads through an unsafe symlink"
D=$T/work/config-of-root
run_as_user mkdir -p "$D/rootfs"
echo "$ROOTFS_JSON" >"$D/config.json"
chmod 0600 "$D/config.json"
raw_with_bundle "$D"
assert_true "oci: a config.json the runtime's user may not read is not read for it" \
        oci_log_has "the bundle's config.json cannot be read as uid $SB_TEST_UID: Permission denied"
# A bundle the user could not reach itself, its config.json readable but in a directory of root's that others
# may not search: not read for it (nor its root.path said in the log), and nothing told about what is there.
D=$T/work/root-only
mkdir -m 0700 "$D"
mkdir -p "$D/bundle/rootfs"
echo '{"root": {"path": "/the-hidden-root-path"}}' >"$D/bundle/config.json"
chmod 0644 "$D/bundle/config.json"
raw_with_bundle "$D/bundle"
assert_true "oci: a bundle in a directory the runtime's user may not search is not opened for it" \
        oci_log_has "the bundle '$D/bundle' cannot be opened as uid $SB_TEST_UID: Permission denied"
assert_false "oci: and its config.json was not read" grep -q "the-hidden-root-path" "$T/sysbrokerd.log"
# A root.path of the user's own below that directory of root's: not one the user can reach, so not its root.
mkdir -p "$D/mine"
chown "$SB_TEST_UID:$SB_TEST_GID" "$D/mine"
run_as_user mkdir -p "$T/work/hidden-root"
echo "{\"root\": {\"path\": \"$D/mine\"}}" | run_as_user tee "$T/work/hidden-root/config.json" >/dev/null
raw_with_bundle "$T/work/hidden-root"
assert_true "oci: a root of the user's in a directory it may not search is not found for it" \
        oci_log_has "the container's root '$D/mine' cannot be opened: Permission denied"
D=$T/work/config-link
run_as_user mkdir -p "$D/rootfs"
run_as_user ln -s /etc/shadow "$D/config.json"
raw_with_bundle "$D"
assert_true "oci: a config.json that is a symlink is not followed" \
        oci_log_has "the bundle's config.json cannot be read as uid $SB_TEST_UID: Too many levels of symbolic links"
D=$T/work/root-etc
run_as_user mkdir -p "$D"
echo '{"root": {"path": "/etc"}}' | run_as_user tee "$D/config.json" >/dev/null
raw_with_bundle "$D"
assert_true "oci: a user may not name a tree of someone else's as the container's root" \
        oci_log_has "the container's root '/etc' belongs to uid 0, not to the runtime's uid $SB_TEST_UID"

# --- A busybox-static rootfs, on the test's tmpfs (device nodes work there): the container's root is the
# listener's, so rules name the container's paths and the identity checks look below the rootfs. In it, root's
# directory /devs and a file only uid 4242 may read. C, a host directory bound at the same path in the
# container, is not below the rootfs: what the container reaches there is not the rootfs's file.
C=$T/work/ctr
mkdir -m 0755 "$C"
chown 0:0 "$C"
make_bundle() {
    local b=$1
    mkdir -p "$b/rootfs/bin" "$b/rootfs/dev" "$b/rootfs/devs" "$b/rootfs/proc" "$b/rootfs/mnt" "$b/rootfs/tmp"
    cp /bin/busybox "$b/rootfs/bin/"
    for a in sh mknod mount cat stat echo grep; do ln -sf busybox "$b/rootfs/bin/$a"; done
    echo "the secret" >"$b/rootfs/secret"
    chown 4242:4242 "$b/rootfs/secret"
    chmod 0600 "$b/rootfs/secret"
}

METADATA='{"Rules": [
  {"Syscall": "mknod", "Path": "/devs/sbnull", "Major": 1, "Minor": 3},
  {"Syscall": "mknod", "Path": "'$C'/sbnull", "Major": 1, "Minor": 3},
  {"Syscall": "open", "Path": "/secret", "Access": "r"},
  {"Syscall": "mount", "FsType": "tmpfs", "Target": "/mnt", "Options": ["size=*"]}
 ], "DefaultAction": "continue"}'
SCRIPT="mknod /devs/sbnull c 1 3 && echo mknod-allowed-ok
mknod /devs/sbzero c 1 5 2>&1 || echo mknod-disallowed-failed
mknod $C/sbnull c 1 3 2>&1 || echo mknod-outside-root-failed
cat /secret
mount -t tmpfs -o size=1m none /mnt && grep ' /mnt ' /proc/mounts && echo tmpfs-ok"

run_crun() {
    local id=$1 b=$2
    shift 2
    # crun 1.8.1 refuses this machine's cgroup layout (TESTING.md): a cgroup2 mount of its own.
    timeout 60 unshare -m sh -c 'mount --make-rprivate / && umount -R /sys/fs/cgroup 2>/dev/null;
        mount -t cgroup2 none /sys/fs/cgroup && cd "$1" && shift && exec "$@"' sh "$b" "$@" \
        crun --cgroup-manager=disabled run "$id"
}

# --- crun, rootful.
B=$T/work/crun-bundle
mkdir -p "$B"
make_bundle "$B"
(cd "$B" && crun spec)
/usr/bin/python3 "$BUNDLE" --bind "$C" "$B" "$OCI" "$METADATA" sh -c "$SCRIPT"
rc=0
out=$(run_crun sbtest-crun "$B" 2>&1) || rc=$?
echo "$out" >"$T/crun.log"
assert_eq "crun: the container ran to its end" 0 "$rc"
assert_contains "crun: an allowed mknod succeeds" "$out" mknod-allowed-ok
assert_eq "crun: the node is char 1:3, in the rootfs" "character special file 1:3" \
        "$(stat -c '%F %Hr:%Lr' "$B/rootfs/devs/sbnull" 2>&1)"
assert_contains "crun: a disallowed one gets EPERM" "$out" "mknod: /devs/sbzero: Operation not permitted"
assert_false "crun: and is not made" test -e "$B/rootfs/devs/sbzero"
assert_contains "crun: a path outside the container's root is refused" "$out" \
        "mknod: $C/sbnull: Operation not permitted"
assert_false "crun: and nothing made there" test -e "$C/sbnull"
assert_contains "crun: the open rule returns a file the container's root may not read" "$out" "the secret"
assert_contains "crun: the tmpfs mount rule works" "$out" tmpfs-ok
assert_true "crun: the listener was registered by root, for the container" \
        oci_log_has "registered by uid 0 pid"
assert_true "crun: the container id is the description" \
        grep -q "('sbtest-crun') for OCI container 'sbtest-crun'" "$T/sysbrokerd.log"
# --- runc, rootful: the same, its own names.
B=$T/work/runc-bundle
mkdir -p "$B"
make_bundle "$B"
(cd "$B" && runc spec)
/usr/bin/python3 "$BUNDLE" "$B" "$OCI" "$METADATA" sh -c "$SCRIPT"
rc=0
out=$(timeout 60 unshare -m sh -c 'mount --make-rprivate / && umount -R /sys/fs/cgroup 2>/dev/null;
        mount -t cgroup2 none /sys/fs/cgroup && cd "$1" && exec runc --root "$2" run sbtest-runc' \
        sh "$B" "$T/runc-state" 2>&1) || rc=$?
echo "$out" >"$T/runc.log"
assert_eq "runc: the container ran to its end" 0 "$rc"
assert_contains "runc: an allowed mknod succeeds" "$out" mknod-allowed-ok
assert_eq "runc: the node is char 1:3, in the rootfs" "character special file 1:3" \
        "$(stat -c '%F %Hr:%Lr' "$B/rootfs/devs/sbnull" 2>&1)"
assert_contains "runc: a disallowed one gets EPERM" "$out" "mknod: /devs/sbzero: Operation not permitted"
assert_contains "runc: the open rule returns a file the container's root may not read" "$out" "the secret"
assert_contains "runc: the tmpfs mount rule works" "$out" tmpfs-ok
assert_true "runc: registered for the container" grep -q "for OCI container 'sbtest-runc'" "$T/sysbrokerd.log"

# --- crun rootless, run by the test user: polkit (deny-mknod.rules) gives that user no device node, so the
# registration is refused and the listener closed; the container's trapped calls fail with ENOSYS, as with
# no broker at all, and never hang (timeout).
B=$T/work/rootless-bundle
run_as_user mkdir -p "$B/state"
run_as_user sh -c "cd '$B' && crun spec --rootless"
run_as_user mkdir -p "$B/rootfs/bin" "$B/rootfs/mnt"
run_as_user cp /bin/busybox "$B/rootfs/bin/"
for a in sh mknod echo mount; do run_as_user ln -s busybox "$B/rootfs/bin/$a"; done
run_as_user /usr/bin/python3 "$BUNDLE" "$B" "$OCI" \
        '{"Rules": [{"Syscall": "mknod", "Path": "/tmp/sbnull", "Major": 1, "Minor": 3}]}' \
        sh -c 'mknod /tmp/sbnull c 1 3; echo mknod-exit=$?'
rc=0
out=$(timeout 60 unshare -m sh -c 'mount --make-rprivate / && umount -R /sys/fs/cgroup 2>/dev/null;
        mount -t cgroup2 none /sys/fs/cgroup && cd "$1" &&
        XDG_RUNTIME_DIR="$1/state" exec setpriv --reuid="$2" --regid="$3" --clear-groups \
                crun --cgroup-manager=disabled --root "$1/state" run sbtest-rootless' \
        sh "$B" "$SB_TEST_UID" "$SB_TEST_GID" 2>&1) || rc=$?
echo "$out" >"$T/rootless.log"
assert_eq "rootless: the container ran to its end (no hang)" 0 "$rc"
assert_contains "rootless: its mknod fails with ENOSYS" "$out" "mknod: /tmp/sbnull: Function not implemented"
assert_true "rootless: the refusal names the container and the uid" \
        grep -q "Registration by uid $SB_TEST_UID for OCI container 'sbtest-rootless' refused: not authorized for rule 0" \
        "$T/sysbrokerd.log"
assert_false "rootless: nothing registered for the user" \
        grep -q "registered by uid $SB_TEST_UID" "$T/sysbrokerd.log"

# The same user with a rule polkit allows it (a tmpfs): registered as that user's, and served.
run_as_user /usr/bin/python3 "$BUNDLE" "$B" "$OCI" \
        '{"Rules": [{"Syscall": "mount", "FsType": "tmpfs", "Target": "/mnt", "Options": ["size=*"]}]}' \
        sh -c 'mount -t tmpfs -o size=1m none /mnt && echo rootless-tmpfs-ok'
rc=0
out=$(timeout 60 unshare -m sh -c 'mount --make-rprivate / && umount -R /sys/fs/cgroup 2>/dev/null;
        mount -t cgroup2 none /sys/fs/cgroup && cd "$1" &&
        XDG_RUNTIME_DIR="$1/state" exec setpriv --reuid="$2" --regid="$3" --clear-groups \
                crun --cgroup-manager=disabled --root "$1/state" run sbtest-rootless-ok' \
        sh "$B" "$SB_TEST_UID" "$SB_TEST_GID" 2>&1) || rc=$?
echo "$out" >>"$T/rootless.log"
assert_eq "rootless: a container polkit allows ran" 0 "$rc"
assert_contains "rootless: its tmpfs mount works" "$out" rootless-tmpfs-ok
assert_true "rootless: the listener is the user's, for the container" \
        grep -q "registered by uid $SB_TEST_UID pid [0-9]* ('sbtest-rootless-ok') for OCI container" \
        "$T/sysbrokerd.log"
assert_eq "rootless: and the mount was the broker's (after crun's and runc's)" 3 \
        "$(grep -c "mount tmpfs 'none' on '/mnt' .*mounted" "$T/sysbrokerd.log")"

# The root is checked when the runtime's message comes and opened when polkit has said yes: in between, the user
# renames a directory of root's (here root made it in the user's bundle) to the rootfs's path, within the same
# parent, which needs no right to that directory. A stopped polkitd holds the answer back meanwhile.
S=$T/work/swap-bundle
run_as_user mkdir -p "$S/state"
run_as_user sh -c "cd '$S' && crun spec --rootless"
run_as_user mkdir -p "$S/rootfs/bin" "$S/rootfs/mnt"
run_as_user cp /bin/busybox "$S/rootfs/bin/"
for a in sh echo mount; do run_as_user ln -s busybox "$S/rootfs/bin/$a"; done
mkdir -m 0755 "$S/roots"
run_as_user /usr/bin/python3 "$BUNDLE" "$S" "$OCI" \
        '{"Rules": [{"Syscall": "mount", "FsType": "tmpfs", "Target": "/mnt", "Options": ["size=*"]}]}' \
        sh -c 'echo swap-up; mount -t tmpfs -o size=1m none /mnt; echo swap-mount-exit=$?'
kill -STOP "$SB_POLKIT_PID"
timeout 60 unshare -m sh -c 'mount --make-rprivate / && umount -R /sys/fs/cgroup 2>/dev/null;
        mount -t cgroup2 none /sys/fs/cgroup && cd "$1" &&
        XDG_RUNTIME_DIR="$1/state" exec setpriv --reuid="$2" --regid="$3" --clear-groups \
                crun --cgroup-manager=disabled --root "$1/state" run sbtest-swap' \
        sh "$S" "$SB_TEST_UID" "$SB_TEST_GID" >"$T/swap.log" 2>&1 &
swap_pid=$!
sb_poll 20 grep -q swap-up "$T/swap.log" || true
sleep 1        # the daemon has read the message and asked polkit by now
run_as_user mv "$S/rootfs" "$S/rootfs.old"
run_as_user mv "$S/roots" "$S/rootfs"
kill -CONT "$SB_POLKIT_PID"
wait "$swap_pid" || true
assert_true "oci: a root replaced by another user's directory while polkit decides is refused" \
        oci_log_has "Listener root '$S/rootfs' belongs to uid 0, not to the listener's owner uid $SB_TEST_UID"
assert_false "oci: and nothing is registered for that container" \
        grep -q "registered by uid [0-9]* pid [0-9]* .* for OCI container 'sbtest-swap'" "$T/sysbrokerd.log"
assert_contains "oci: its trapped mount fails with ENOSYS, without a hang" "$(cat "$T/swap.log")" \
        "Function not implemented"
assert_true "oci: the daemon is alive after all of it" sb_broker_alive

# --- While a container runs, ListListeners shows its listener, the container id as description.
B=$T/work/list-bundle
mkdir -p "$B"
make_bundle "$B"
(cd "$B" && crun spec)
/usr/bin/python3 "$BUNDLE" "$B" "$OCI" '{"Rules": [{"Syscall": "mknod", "Path": "/dev/sbnull", "Major": 1, "Minor": 3}]}' \
        sh -c 'while [ ! -e /tmp/stop ]; do sleep 0.1; done'
run_crun sbtest-list "$B" >"$T/list.log" 2>&1 &
listed() {
    local out
    out=$(busctl call org.sysbroker.Broker1 /org/sysbroker/Broker1 org.sysbroker.Broker1.Manager ListListeners)
    [[ $out == *'"sbtest-list"'* ]]
}
assert_true "oci: ListListeners shows the container's listener by its id" sb_poll 20 listed
touch "$B/rootfs/tmp/stop"
wait $! || true

sb_finish
