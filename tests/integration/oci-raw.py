#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A runtime that does not follow the listenerPath protocol: sends one bad message to the OCI socket.
#   oci-raw.py SOCKET garbage|no-fd|two-fds|not-a-listener|no-metadata|bad-rule|huge
#   oci-raw.py SOCKET foreign-pid PID
# foreign-pid claims another user's process PID as its container's: not the sender's to hand over. The state
# names $OCI_BUNDLE (default: none that exists) as the bundle.
import os
import socket
import sys

path, case, *rest = sys.argv[1:]
pid = int(rest[0]) if case == "foreign-pid" else os.getpid()


def state(metadata='{"Rules": [{"Syscall": "mknod", "Path": "/dev/null", "Major": 1, "Minor": 3}]}', fds=None):
    import json
    msg = {"ociVersion": "0.2.0", "fds": fds if fds is not None else ["seccompFd"], "pid": pid,
           "state": {"ociVersion": "1.0.2", "id": "raw-" + case, "status": "creating", "pid": pid,
                     "bundle": os.environ.get("OCI_BUNDLE", "/nonexistent")}}
    if metadata is not None:
        msg["metadata"] = metadata
    return json.dumps(msg).encode()


s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
devnull = os.open("/dev/null", os.O_RDONLY)
if case == "garbage":
    s.send(b"\x00\xffnot json at all{{{")
elif case == "no-fd":
    s.send(state())
elif case == "two-fds":
    socket.send_fds(s, [state()], [devnull, devnull])
elif case == "not-a-listener":
    socket.send_fds(s, [state()], [devnull])
elif case == "no-metadata":
    socket.send_fds(s, [state(metadata=None)], [devnull])
elif case == "bad-rule":
    socket.send_fds(s, [state(metadata='{"Rules": [{"Syscall": "mknod", "Path": "relative", "Major": 1}]}')],
                    [devnull])
elif case == "foreign-pid":
    socket.send_fds(s, [state()], [devnull])
elif case == "huge":
    try:
        s.sendall(b'{"x": "' + b"a" * (1 << 20))
    except OSError:
        pass
else:
    sys.exit("unknown case " + case)
s.shutdown(socket.SHUT_WR)
s.recv(1)        # until the daemon closes its end
