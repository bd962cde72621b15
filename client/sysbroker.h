/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libsysbroker: what a sandbox launcher needs to hand mknod, open and mount calls to sysbrokerd — build
 * rules, install the seccomp filter in the child, register its listener fd over D-Bus. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

/* SYSBROKER_BUS_NAME, SYSBROKER_OBJECT_PATH, the interfaces, SYSBROKER_LISTENER_PATH_PREFIX (ends in '/'),
 * the error names: the contract's header, installed beside this one. */
#include "sysbroker-bus.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Conventions: functions return a negative errno on failure; output parameters are named ret_…, come
 * last, may be NULL when the caller does not want them and are left untouched on failure; destructors
 * accept NULL and return NULL. */

typedef enum sysbroker_action {
        SYSBROKER_ACTION_EMULATE,
        SYSBROKER_ACTION_DENY,
        SYSBROKER_ACTION_CONTINUE,
} sysbroker_action;

/* "emulate", "deny", "continue" — the strings the D-Bus API uses. */
const char *sysbroker_action_to_string(sysbroker_action action);
int sysbroker_action_from_string(const char *s, sysbroker_action *ret);

/* What an open rule lets a process open a file for: the rule's Access key. A call that truncates or appends
 * writes; O_RDWR needs both. */
typedef enum sysbroker_access {
        SYSBROKER_ACCESS_READ = 1u << 0,
        SYSBROKER_ACCESS_WRITE = 1u << 1,
        SYSBROKER_ACCESS_READ_WRITE = SYSBROKER_ACCESS_READ | SYSBROKER_ACCESS_WRITE,
} sysbroker_access;

/* "r", "w", "rw" — the strings the D-Bus API uses. */
const char *sysbroker_access_to_string(sysbroker_access access);
int sysbroker_access_from_string(const char *s, sysbroker_access *ret);

/* Omit the Mode key of a mknod rule: the daemon's default (0666) applies. */
#define SYSBROKER_MODE_DEFAULT UINT32_MAX

/* ---- Rules and registration options ---- */

typedef struct sysbroker_rules sysbroker_rules;

int sysbroker_rules_new(sysbroker_rules **ret);
sysbroker_rules *sysbroker_rules_free(sysbroker_rules *rules);

size_t sysbroker_rules_count(const sysbroker_rules *rules);

/* Why the last call on this object failed, in words fit for a user ("path 'x' is not absolute"), or
 * NULL. Valid until the next call on the object. */
const char *sysbroker_rules_get_error(const sysbroker_rules *rules);

/* Adders return the new rule's index (>= 0). The checks here catch what is obviously wrong; the
 * daemon validates everything again and is the authority. */
int sysbroker_rules_add_mknod(
                sysbroker_rules *rules,
                sysbroker_action action,
                char type,              /* 'c' or 'b' */
                uint32_t major,
                uint32_t minor,
                const char *path,       /* absolute fnmatch pattern; a trailing slash-** means anything below */
                uint32_t mode);         /* maximum permission bits (at most 0777), or SYSBROKER_MODE_DEFAULT */

/* Parses the command line form 'TYPE MAJ:MIN PATH[=HOSTDIR] [MODE]', e.g. "c 1:3 /tmp/x/null" or
 * "b 7:0 /dev/loop0 0660" (MODE in octal), and adds it as above. With HOSTDIR (PATH ends at the first '='),
 * PATH must be a literal "DIR" + slash-star-star: a directory mapping, nodes made only where the sandbox's
 * directory is the host's HOSTDIR (or one below it). */
int sysbroker_rules_add_mknod_spec(sysbroker_rules *rules, sysbroker_action action, const char *spec);

/* An open rule, for open, openat, openat2 and creat. path is an absolute pattern matched against the file
 * the call reaches, in the process's view. create allows O_CREAT of a missing file and O_TRUNC (without it
 * such calls do not match). With host_path (not NULL), the broker opens host_path in its own view
 * instead, for calls naming exactly path: both must then be literal paths (no * ? [ \) and create false.
 * A path "DIR" + slash-star-star with a literal DIR makes host_path a directory mapping: a call naming
 * DIR/a/b gets host_path/a/b, resolved beneath host_path, which it never leaves.
 * A FIFO, socket or device node only matches a rule whose path is literal. */
int sysbroker_rules_add_open(
                sysbroker_rules *rules,
                sysbroker_action action,
                const char *path,
                sysbroker_access access,
                bool create,
                const char *host_path);    /* or NULL */

/* Parses the command line form 'PATH[:r|w|rw][:create]' (access r unless given), e.g. "/tmp/x/secret" or
 * "/srv/data/x:rw:create". The suffixes are taken from the end, so PATH may contain colons; a PATH that
 * itself ends in one of them needs an explicit access mode after it. */
int sysbroker_rules_add_open_spec(sysbroker_rules *rules, sysbroker_action action, const char *spec);

/* Parses 'PATH=HOSTPATH[:r|w|rw]' (access r unless given), e.g. "/dev/kvm=/dev/kvm:rw": a HostPath rule.
 * PATH ends at the first '='. */
int sysbroker_rules_add_open_host_spec(sysbroker_rules *rules, sysbroker_action action, const char *spec);

/* A mount rule, for mount and umount2 (a process may unmount what the broker mounted for it).
 * fstype: "bind", a memory file system ("tmpfs", "ramfs") or a block one ("ext4", "xfs", ...; the
 *   daemon has the list).
 * source: for bind and block file systems an absolute pattern of the source (a block device for the
 *   latter) as the process sees it, required; for memory file systems a pattern of the source string
 *   as given, or NULL for any.
 * target: an absolute pattern of the mount point as the process sees it, symlinks resolved.
 * allowed_flags: the flags a call may set, from ro nosuid nodev noexec sync dirsync noatime nodiratime
 *   strictatime lazytime nosymfollow; NULL for none (relatime, and MS_REC on binds, always pass).
 * forced_flags: the flags every mount gets whether or not the call asks, from ro nosuid nodev noexec
 *   nosymfollow noatime nodiratime; NULL for the daemon's default, nosuid and nodev. An empty list
 *   forces nothing.
 * options: fnmatch patterns each comma-separated data option of a call must match, e.g. "size=*",
 *   "mode=0755" (at most 64); NULL for none allowed.
 * The lists are NULL-terminated. */
int sysbroker_rules_add_mount(
                sysbroker_rules *rules,
                sysbroker_action action,
                const char *fstype,
                const char *source,                     /* or NULL */
                const char *target,
                const char *const *allowed_flags,       /* or NULL */
                const char *const *forced_flags,        /* or NULL */
                const char *const *options);            /* or NULL */

/* Parses the command line form 'FSTYPE SOURCE TARGET[:ITEM,ITEM...]' and adds it as above: three fields
 * separated by single spaces, none containing one. SOURCE "-" means no source (any; memory file systems
 * only). The items follow the last ':' of TARGET, so a TARGET that itself contains ':' ends in one
 * more. Each item is
 *   FLAG    a flag name from the allowed list: calls may set it (AllowedFlags);
 *   +FLAG   FLAG is forced, in addition to the default nosuid and nodev (ForcedFlags);
 *   -FLAG   FLAG is no longer forced ("-nodev" makes device nodes on the mount work: dangerous);
 *   other   a data option pattern (Options).
 * E.g. "tmpfs - /tmp/x/mnt:size=*,mode=*", "bind /srv/data /home/u/data:ro,+noexec",
 * "ext4 /dev/loop3 /mnt/img:ro". A deny or continue rule takes no items: flags and options only limit
 * what is emulated. */
int sysbroker_rules_add_mount_spec(sysbroker_rules *rules, sysbroker_action action, const char *spec);

/* The errno a deny rule answers with (default EPERM), 1 to 511; -ERANGE otherwise. */
int sysbroker_rules_set_errno(sysbroker_rules *rules, size_t index, int error);

/* Registration options: the listener's description (<= 256 bytes) and what happens to trapped calls no
 * rule matches: SYSBROKER_ACTION_CONTINUE (the daemon's default) or SYSBROKER_ACTION_DENY. */
int sysbroker_rules_set_description(sysbroker_rules *rules, const char *description);
int sysbroker_rules_set_default_action(sysbroker_rules *rules, sysbroker_action action);

/* ---- The seccomp filter ---- */

enum {
        /* Apply the filter to every thread of the calling process (for launchers with threads). */
        SYSBROKER_FILTER_TSYNC = 1u << 0,
        /* Do not force the speculative store bypass mitigation on the sandbox. */
        SYSBROKER_FILTER_SPEC_ALLOW = 1u << 1,
};

/* To be called in the child, before exec: sets PR_SET_NO_NEW_PRIVS and installs a filter that hands the
 * syscalls the rules need (mknod, mknodat for mknod rules; open, openat, openat2, creat for open rules;
 * mount, umount2 for mount rules; nothing for a kind of rule the set does not hold) to a new listener,
 * lets everything else through and kills the process on a foreign architecture. Returns the listener fd
 * (O_CLOEXEC). Only one listener may exist in a task's filter chain: -EBUSY if an outer sandbox already
 * has one. */
int sysbroker_install_filter(const sysbroker_rules *rules, unsigned flags);

/* ---- Talking to sysbrokerd ---- */

typedef struct sysbroker_client sysbroker_client;

/* The system bus (honours DBUS_SYSTEM_BUS_ADDRESS), or the daemon's peer-to-peer socket (path NULL:
 * the built-in default, see sysbroker_default_socket_path()). */
int sysbroker_client_open_system(sysbroker_client **ret);
int sysbroker_client_open_socket(const char *path, sysbroker_client **ret);
sysbroker_client *sysbroker_client_free(sysbroker_client *client);

const char *sysbroker_default_socket_path(void);

/* For calls of the caller's own: the connection, and the destination to put on messages (NULL on the
 * peer-to-peer socket, where there are no bus names). */
sd_bus *sysbroker_client_get_bus(sysbroker_client *client);
const char *sysbroker_client_get_destination(sysbroker_client *client);

enum {
        /* Let polkit ask the user for a password (sets ALLOW_INTERACTIVE_AUTHORIZATION on the call). */
        SYSBROKER_CALL_ALLOW_INTERACTIVE_AUTHORIZATION = 1u << 0,
};

/* RegisterListener(). The daemon takes its own copy of listener_fd; the caller closes its copy. When
 * the daemon answered with an error, *error (if not NULL) holds it. ret_path is freed with free().
 * Sent once more if the first answer is ServiceUnknown or NameHasNoOwner: a daemon exiting after being idle
 * answers so what reached it as it gave its bus name up, and the second call starts a new instance. */
int sysbroker_client_register(
                sysbroker_client *client,
                int listener_fd,
                const sysbroker_rules *rules,
                unsigned flags,
                sd_bus_error *error,
                char **ret_path,
                uint64_t *ret_id);

/* Unregister() on the listener object with this id. */
int sysbroker_client_unregister(sysbroker_client *client, uint64_t id, unsigned flags, sd_bus_error *error);

/* ---- Hand-off at the last exec ----
 *
 * For launchers that set up a sandbox in steps (namespaces, mounts, bwrap) and want only its final
 * command filtered. The outer side, which can reach sysbrokerd, holds one end of a socket pair and gives
 * the other end to the launcher, naming it in the environment variable SYSBROKER_HANDOFF_FD. The inner
 * side, the last step before the sandbox's command, installs the filter in itself, sends the listener out
 * and execs the command once the outer side has registered it; the sandbox needs no bus access.
 *
 * The protocol on the socket (SOCK_SEQPACKET, one message each): the outer side sends the kinds of rules
 * and the filter flags (no rules: the inner side does not need them, and does not see them); the inner
 * side sends the listener fd (SCM_RIGHTS); the outer side answers go or an error with a message. */

#define SYSBROKER_HANDOFF_FD_ENV "SYSBROKER_HANDOFF_FD"

typedef struct sysbroker_handoff sysbroker_handoff;

/* The outer side: creates the socket pair and queues the kinds of the rules and flags (as for
 * sysbroker_install_filter()) for the inner side. -EINVAL for an empty rule set. */
int sysbroker_handoff_new(const sysbroker_rules *rules, unsigned filter_flags, sysbroker_handoff **ret);
sysbroker_handoff *sysbroker_handoff_free(sysbroker_handoff *handoff);

/* The end for the launcher (O_CLOEXEC; dup it, without O_CLOEXEC, into the launcher and put its number
 * in SYSBROKER_HANDOFF_FD), or -EBADF once closed. Close it in the outer process as soon as the launcher
 * holds it: until then a launcher that dies without sending anything is not noticed. */
int sysbroker_handoff_get_child_fd(sysbroker_handoff *handoff);
void sysbroker_handoff_close_child_fd(sysbroker_handoff *handoff);

/* The outer side's end, to poll() for POLLIN before sysbroker_handoff_receive_listener() blocks. Every copy
 * of the launcher's end can keep that wait going: one the launcher leaves to a process that outlives it
 * too. Watch the launcher's exit as well (a pidfd), and give up when it comes first. */
int sysbroker_handoff_get_fd(sysbroker_handoff *handoff);

/* Waits for the inner side's listener fd (O_CLOEXEC, the caller's to register and close). -EPIPE if every
 * copy of the other end was closed without one being sent (the launcher or the inner side gave up and says
 * why elsewhere), -EBADMSG for anything else than one fd with one byte (whatever fds came are closed). */
int sysbroker_handoff_receive_listener(sysbroker_handoff *handoff, int *ret_listener);

/* The answer after registering: error 0 lets the inner side exec its command; a negative errno makes it
 * fail, printing message (NULL: the errno's text; at most 1024 bytes are sent). Once only. */
int sysbroker_handoff_answer(sysbroker_handoff *handoff, int error, const char *message);

/* The inner side, in the process that is to exec the sandbox's command: takes the hand-off socket (fd, or
 * if fd < 0 the number in $SYSBROKER_HANDOFF_FD, which is then unset), reads the kinds of rules, sets
 * PR_SET_NO_NEW_PRIVS, installs the filter in the calling thread (every thread with the outer side's
 * TSYNC), sends the listener out, closes its own copy and waits for the answer. Returns 0 when the listener
 * is registered: exec the command. The socket is closed in every case. On failure the filter may already be
 * installed, with no one listening (trapped calls then fail with ENOSYS): do not run the command.
 * -ENXIO: no hand-off fd in the environment, or the fd is not a hand-off socket (an end of an AF_UNIX
 * SOCK_SEQPACKET socket pair: another socket is neither read from nor sent the listener); -EPROTO: the outer side sent something
 * else than the protocol; -EPIPE: the outer side went away; -EBUSY: an outer sandbox already has a
 * listener; the errno the outer side answered with: registration failed, and then (only then, unlike the
 * convention) *ret_message, if not NULL, holds the outer side's message (free() it). */
int sysbroker_handoff_child(int fd, char **ret_message);

/* ---- The simple case in one call ----
 *
 * sysbroker_spawn() forks a child that installs the filter for rules (filter_flags as for
 * sysbroker_install_filter()), registers its listener with rules (call_flags as for
 * sysbroker_client_register()) and, only once the listener is registered, execs argv (argv[0] looked up in
 * $PATH like execvp(3)) with envp (NULL: the caller's environment). Made of the two hand-off halves above.
 * The child inherits the caller's fds without O_CLOEXEC, signal mask and ignored signals, as with fork(2);
 * it runs only the filter's installation (libseccomp, malloc()) between fork and exec.
 *
 * Returns 0 once argv runs: *ret_pid is the child, the caller's to wait for; *ret_listener_id the listener.
 * On failure argv never ran, the child has been reaped, no fd is left open, and *error (if not NULL) says
 * why:
 *   -EINVAL      no client, rules or argv, no rules in the set, or unknown flags;
 *   the errno sysbroker_client_register() returned: registration failed (refused, or the daemon could not
 *                be reached), *error holds the daemon's answer or a System.Error;
 *   the errno of the exec, with SYSBROKER_SPAWN_ERROR_EXEC: argv could not be executed (-ENOENT: no such
 *                command, -EACCES, -ENOEXEC, ...);
 *   the errno of the filter, with SYSBROKER_SPAWN_ERROR_FILTER (-EBUSY: this process already runs under a
 *                seccomp listener);
 *   another negative errno from fork(2), pipe(2) or the hand-off socket. */

#define SYSBROKER_SPAWN_ERROR_EXEC "org.sysbroker.Spawn.Error.Exec"
#define SYSBROKER_SPAWN_ERROR_FILTER "org.sysbroker.Spawn.Error.Filter"

int sysbroker_spawn(
                sysbroker_client *client,
                const sysbroker_rules *rules,
                unsigned filter_flags,
                unsigned call_flags,
                char *const argv[],
                char *const envp[],             /* or NULL */
                sd_bus_error *error,
                pid_t *ret_pid,
                uint64_t *ret_listener_id);

#ifdef __cplusplus
}
#endif
