/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rule vocabulary of RegisterListener(): the Syscall, Action and Access names, the path-pattern checks
 * and the limits, one copy for the client and the daemon (the client keeps its own path check only for its
 * messages, which name the component that is wrong; both accept the same paths). Not installed:
 * libsysbroker's API has its own names (sysbroker_action, sysbroker_access) with the same values. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What the daemon takes unless configured otherwise (sysbrokerd --max-rules, ...): the client checks
 * against these, the daemon again against its configured limits and is the authority. */
#define RULE_MAX_RULES_DEFAULT 256U               /* rules of one listener */
#define RULE_STRING_MAX_DEFAULT 4096U             /* bytes of one string key */
#define RULE_TOTAL_LENGTH_MAX_DEFAULT (64U * 1024U) /* bytes of all the strings of one listener's rules */
#define RULE_DESCRIPTION_MAX 256U                 /* bytes of the Description option */
/* Entries of one 'as' key of a mount rule (AllowedFlags, ForcedFlags, Options): enough for any real list. */
#define RULE_STRV_MAX 64
/* A deny rule's Errno: 512 and up are the kernel's own codes (ERESTARTSYS...), never for a process to see. */
#define RULE_ERRNO_MAX 511
/* dev_t as the kernel's mknod takes it: 12 bits of major, 20 of minor. */
#define RULE_MAJOR_MAX ((1U << 12) - 1)
#define RULE_MINOR_MAX ((1U << 20) - 1)

typedef enum RuleSyscall {
        RULE_SYSCALL_MKNOD,
        RULE_SYSCALL_OPEN,
        RULE_SYSCALL_MOUNT,
        _RULE_SYSCALL_MAX,
        _RULE_SYSCALL_INVALID = -1,
} RuleSyscall;

/* The values libsysbroker's sysbroker_action has too. */
typedef enum RuleAction {
        RULE_ACTION_EMULATE,
        RULE_ACTION_DENY,
        RULE_ACTION_CONTINUE,
        _RULE_ACTION_MAX,
        _RULE_ACTION_INVALID = -1,
} RuleAction;

/* An open rule's Access, as bits; the values libsysbroker's sysbroker_access has too. */
#define RULE_ACCESS_READ 1u
#define RULE_ACCESS_WRITE 2u

/* What a mount rule's FsType makes, which decides what its Source means. */
typedef enum RuleFsKind {
        RULE_FS_BIND,              /* Source: a path pattern, the directory or file bound */
        RULE_FS_MEMORY,            /* tmpfs, ramfs: Source is only a name (a plain pattern, or any) */
        RULE_FS_BLOCK,             /* a disk filesystem: Source is a path pattern of a block device */
        _RULE_FS_KIND_MAX,
        _RULE_FS_KIND_INVALID = -1,
} RuleFsKind;

/* The Syscall and Action values: NULL or _INVALID for what is not one. */
const char *rule_syscall_to_string(RuleSyscall s);
RuleSyscall rule_syscall_from_string(const char *s);
const char *rule_action_to_string(RuleAction a);
RuleAction rule_action_from_string(const char *s);

/* "r", "w", "rw" for RULE_ACCESS_* bits; NULL for none or unknown bits. From a string: the bits, or 0. */
const char *rule_access_to_string(unsigned access);
unsigned rule_access_from_string(const char *s);

/* The kind of an FsType a mount rule may name; _RULE_FS_KIND_INVALID for every other. */
RuleFsKind rule_fs_kind(const char *fstype);

/* Checks a path pattern: absolute, no "." / ".." / empty components, bounded. NULL or a reason. */
const char *rule_path_pattern_invalid(const char *pattern, size_t max_length);

/* No fnmatch() special character: the pattern matches only itself. */
bool rule_pattern_is_literal(const char *pattern);
