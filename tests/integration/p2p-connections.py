#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# p2p-connections.py hold SOCKET N: opens N connections to sysbrokerd's peer-to-peer socket, prints
#   "holding N pid PID" once all are open, and keeps them until killed.
# p2p-connections.py probe SOCKET: opens one and prints "refused" if the daemon closes it at once (a limit),
#   "accepted" if it waits for the client to authenticate.
import os
import socket
import sys
import time

mode, path = sys.argv[1], sys.argv[2]
if mode == "hold":
    held = []
    for _ in range(int(sys.argv[3])):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        held.append(s)
    print("holding", len(held), "pid", os.getpid(), flush=True)
    while True:
        time.sleep(60)
elif mode == "probe":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(3)
    try:
        print("refused" if s.recv(1) == b"" else "accepted")
    except socket.timeout:
        print("accepted")
    except ConnectionResetError:
        print("refused")
else:
    sys.exit("usage: p2p-connections.py hold SOCKET N | probe SOCKET")
