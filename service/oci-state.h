/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an OCI runtime (crun, runc) sends to a seccomp listenerPath: the container state JSON, and in it the
 * profile's listenerMetadata, which for us holds the rules. Pure parsing of untrusted text (json-c), no I/O:
 * oci.c reads the socket, tests/fuzz feeds it. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "macro.h"

/* Nesting a runtime's message needs (state → annotations) and metadata needs (Rules → rule → Options) is 3;
 * deeper input is refused by json-c before it is built. */
#define OCI_JSON_MAX_DEPTH 8
/* Bytes of a container id; crun and runc accept far shorter ones. */
#define OCI_CONTAINER_ID_MAX 256
/* Bytes of a bundle's config.json we read: crun's and runc's own are a few KiB. */
#define OCI_CONFIG_MAX (1024 * 1024)
/* Names in the state's "fds" list: crun and runc send one, "seccompFd". */
#define OCI_MAX_FDS 4

typedef struct OciState {
        char *container_id;        /* state.id: checked to be printable UTF-8 of at most OCI_CONTAINER_ID_MAX */
        char *bundle;              /* state.bundle: absolute */
        char *metadata;            /* the profile's listenerMetadata; NULL if absent or empty */
        pid_t pid;                 /* the container's init, in the runtime's pid namespace */
        size_t n_fds;              /* names in "fds": exactly as many fds must come with the message */
        size_t seccomp_fd_index;   /* where "seccompFd" is among them */
} OciState;

void oci_state_done(OciState *s);

/* Parses the runtime's message, size bytes of JSON (no NUL needed). On bad input returns -EINVAL with
 * *ret_error saying what was wrong (free() it); ret is untouched on failure. */
int oci_state_parse(const char *text, size_t size, OciState *ret, char **ret_error);

/* The listenerMetadata JSON object ({"Rules": [{…}, …], "DefaultAction": "…", "Description": "…"}) as the
 * arguments RegisterListener takes after its fd: "aa{sv}a{sv}" in a message built on bus (never sent), sealed
 * and rewound for rule_set_parse() and the options reader, which validate it exactly as for a bus caller. Each
 * JSON value becomes the D-Bus type rule_key_signature() names for its key (a string "s", true/false "b",
 * a list of strings "as"; a number "u", "i" or "t", or "x" where the key wants no number, or it is out of range, so
 * that the bus's own check names it). -EINVAL with *ret_error for what JSON can say and D-Bus cannot (null, an
 * object as a value, a list of non-strings, a NUL byte, invalid UTF-8, no "Rules" list). */
int oci_metadata_to_message(const char *metadata, sd_bus *bus, sd_bus_message **ret, char **ret_error);

/* root.path of a bundle's config.json (size bytes of JSON), as written: absolute, or relative to the bundle.
 * -EINVAL with *ret_error if it is missing, not a string, empty, or holds a NUL byte. */
int oci_config_root_path(const char *text, size_t size, char **ret, char **ret_error);
