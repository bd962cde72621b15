/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the library's parts share and the public header does not show: which syscalls a rule kind
 * traps, and how a rule set goes onto the wire. */
#pragma once

#include <systemd/sd-bus.h>

#include "rule-names.h"
#include "sysbroker.h"

/* The syscalls the filter must hand to the listener for this kind of rule, NULL-terminated. */
const char *const *rule_syscall_trapped(RuleSyscall s);

/* A bit (1u << RuleSyscall) for each kind of rule in the set. */
unsigned rules_syscall_mask(const sysbroker_rules *rules);

/* Appends the RegisterListener() arguments after the fd: the rules "aa{sv}" and the options "a{sv}". */
int rules_append_to_message(const sysbroker_rules *rules, sd_bus_message *m);

/* sysbroker_install_filter() for the kinds of rules in mask (as rules_syscall_mask() gives): what the
 * inner side of a hand-off, which gets no rules but their kinds, installs. */
int filter_install_mask(unsigned mask, unsigned flags);

/* In a forked child of the outer side: closes the outer end (the child must not keep it open, or the
 * outer side's going away is never seen) and returns the inner end, which the handoff no longer owns. */
int handoff_detach_child_fd(sysbroker_handoff *h);
