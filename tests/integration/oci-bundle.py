#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Turns the config.json that `crun spec` (or `crun spec --rootless`) wrote in BUNDLE into one whose
# container runs COMMAND... under a seccomp profile that traps mknod, mknodat and mount and hands the listener
# to SOCKET (listenerPath) with METADATA (the rules, as listenerMetadata; "-" for none). With --bind DIR, the
# host's DIR is bound at the same path in the container. The root file system is writable.
#   oci-bundle.py [--bind DIR] BUNDLE SOCKET METADATA COMMAND...
import json
import sys

args = sys.argv[1:]
binds = []
while args[0] == "--bind":
    binds.append(args[1])
    args = args[2:]
bundle, socket, metadata, *command = args
path = bundle + "/config.json"
with open(path) as f:
    config = json.load(f)

config["process"]["terminal"] = False
config["process"]["args"] = command
config["root"]["readonly"] = False
for d in binds:
    config["mounts"].append({"destination": d, "type": "bind", "source": d, "options": ["rbind", "rw"]})
seccomp = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "listenerPath": socket,
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["mknod", "mknodat", "mount", "open", "openat"], "action": "SCMP_ACT_NOTIFY"}],
}
if metadata != "-":
    seccomp["listenerMetadata"] = metadata
config["linux"]["seccomp"] = seccomp
with open(path, "w") as f:
    json.dump(config, f, indent=1)
