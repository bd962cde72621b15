#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# unread-replies.py SOCKET N: connects to sysbrokerd's peer-to-peer socket, authenticates, sends N
# Introspect calls without reading a reply, then reads. Prints "disconnected" if the daemon closes the
# connection before all the replies came, "served" if every reply came (the daemon kept them all queued).
import os
import socket
import struct
import sys


def pad(data):
    return data + b"\0" * (-len(data) % 8)


def string_field(code, signature, value):
    v = value.encode()
    return bytes([code, 1]) + signature.encode() + b"\0" + struct.pack("<I", len(v)) + v + b"\0"


def method_call(serial, path, interface, member):
    fields = [string_field(1, "o", path), string_field(2, "s", interface), string_field(3, "s", member)]
    # Every field starts 8-aligned; the array's length does not count the padding after the last one.
    array = b"".join(pad(f) for f in fields[:-1]) + fields[-1]
    header = struct.pack("<cBBBIII", b"l", 1, 0, 1, 0, serial, len(array)) + array
    return pad(header)


path, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
if not s.recv(4096).startswith(b"OK"):
    sys.exit("authentication refused")
s.sendall(b"BEGIN\r\n")

try:
    for serial in range(1, n + 1):
        s.sendall(method_call(serial, "/org/sysbroker/Broker1", "org.freedesktop.DBus.Introspectable",
                              "Introspect"))
except (BrokenPipeError, ConnectionResetError):
    print("disconnected")
    sys.exit(0)

# Count whole messages: the daemon may have written many replies into the socket before it gave up, so
# only all N of them mean it kept every reply queued.
buffered = b""
replies = 0
s.settimeout(20)
try:
    while replies < n:
        data = s.recv(1 << 20)
        if not data:
            print("disconnected")
            sys.exit(0)
        buffered += data
        start = 0
        while len(buffered) - start >= 16:
            body_length, _, fields_length = struct.unpack_from("<III", buffered, start + 4)
            size = 16 + fields_length + (-fields_length % 8) + body_length
            if len(buffered) - start < size:
                break
            start += size
            replies += 1
        buffered = buffered[start:]
except (ConnectionResetError, socket.timeout):
    print("disconnected")
    sys.exit(0)
print("served")
