#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hand-made D-Bus wire traffic on sysbrokerd's peer-to-peer socket, as an unprivileged client would send it.
# Every loop is bounded in count and time.
#
# p2p-wire.py fds SOCKET ROUNDS ANNOUNCED ATTACHED: each round connects, authenticates with
#   NEGOTIATE_UNIX_FD, sends a Peer.Ping whose UNIX_FDS header field says ANNOUNCED with ATTACHED fds (of
#   /dev/null) and hangs up; if the two agree it waits for the answer first. Prints "rounds=N answered=K".
# p2p-wire.py big SOCKET N SIZE: opens N connections; on each, a header announcing a SIZE-byte body, then all
#   of the body but its last byte. Prints "dropped=D held=H" (D: the daemon closed it before all was sent),
#   then keeps the connections until killed (at most 60 s).
# p2p-wire.py trickle SOCKET auth|message INTERVAL LIMIT: sends the authentication, or a Ping after a prompt
#   authentication, one byte every INTERVAL seconds. Prints "dropped after S s" when the daemon closes the
#   connection, "not dropped" if it is still open after LIMIT seconds.
# p2p-wire.py begin-unauthenticated SOCKET: sends BEGIN and a Ping after a refused AUTH. Prints "disconnected"
#   when the daemon closes the connection without answering the Ping, else "answered" or "still connected".
import array
import os
import socket
import struct
import sys
import time


def pad(data):
    return data + b"\0" * (-len(data) % 8)


def field(code, signature, value):
    head = bytes([code, 1]) + signature.encode() + b"\0"
    if signature == "u":
        return head + struct.pack("<I", value)
    v = value.encode()
    return head + struct.pack("<I", len(v)) + v + b"\0"


def message(serial, member, interface, unix_fds=None, body=b"", body_length=None):
    fields = [field(1, "o", "/org/sysbroker/Broker1"), field(2, "s", interface), field(3, "s", member)]
    if unix_fds is not None:
        fields.append(field(9, "u", unix_fds))
    # Every field starts 8-aligned; the array's length does not count the padding after the last one.
    array_ = b"".join(pad(f) for f in fields[:-1]) + fields[-1]
    length = len(body) if body_length is None else body_length
    return pad(struct.pack("<cBBBIII", b"l", 1, 0, 1, length, serial, len(array_)) + array_) + body


def ping(serial=1, unix_fds=None):
    return message(serial, "Ping", "org.freedesktop.DBus.Peer", unix_fds)


def auth_bytes(fds):
    return (b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n" +
            (b"NEGOTIATE_UNIX_FD\r\n" if fds else b"") + b"BEGIN\r\n")


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def authenticate(s, fds):
    s.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
    if not s.recv(4096).startswith(b"OK"):
        sys.exit("authentication refused")
    if fds:
        s.sendall(b"NEGOTIATE_UNIX_FD\r\n")
        if not s.recv(4096).startswith(b"AGREE_UNIX_FD"):
            sys.exit("fd passing refused")
    s.sendall(b"BEGIN\r\n")


def mode_fds(path, rounds, announced, attached):
    answered = 0
    null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    deadline = time.monotonic() + 120
    for n in range(rounds):
        if time.monotonic() > deadline:
            break
        s = connect(path)
        fds = [os.dup(null) for _ in range(attached)]
        try:
            authenticate(s, True)
            s.sendmsg([ping(1, announced)], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            if announced == attached and s.recv(4096):
                answered += 1
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        finally:
            for fd in fds:
                os.close(fd)
            s.close()
    print(f"rounds={n + 1} answered={answered}", flush=True)


def mode_big(path, n, size):
    held, dropped = [], 0
    chunk = b"\0" * (1 << 20)
    deadline = time.monotonic() + 120
    for _ in range(n):
        s = connect(path)
        held.append(s)
        try:
            authenticate(s, False)
            s.sendall(message(1, "Ping", "org.freedesktop.DBus.Peer", body_length=size))
            left = size - 1
            while left > 0 and time.monotonic() < deadline:
                left -= s.send(chunk[:min(left, len(chunk))])
            if left > 0:
                sys.exit("out of time")
        except (BrokenPipeError, ConnectionResetError):
            dropped += 1
        except socket.timeout:
            pass
    print(f"dropped={dropped} held={n - dropped}", flush=True)
    time.sleep(60)


def mode_trickle(path, what, interval, limit):
    s = connect(path)
    if what == "auth":
        data = auth_bytes(False) + ping()
    else:
        authenticate(s, False)
        data = ping()
    start = time.monotonic()
    s.setblocking(False)
    for i in range(len(data)):
        if time.monotonic() - start > limit:
            break
        try:
            if s.recv(4096) == b"":
                print(f"dropped after {time.monotonic() - start:.0f} s")
                return
        except BlockingIOError:
            pass
        except ConnectionResetError:
            print(f"dropped after {time.monotonic() - start:.0f} s")
            return
        try:
            s.send(data[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            print(f"dropped after {time.monotonic() - start:.0f} s")
            return
        time.sleep(interval)
    print("not dropped")


def mode_begin_unauthenticated(path):
    s = connect(path)
    s.sendall(b"\0AUTH NO-SUCH-MECHANISM\r\n")
    s.recv(4096)
    data = b""
    try:
        s.sendall(b"BEGIN\r\n" + ping())
        for _ in range(100):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (BrokenPipeError, ConnectionResetError):
        pass
    except socket.timeout:
        print("still connected")
        return
    # An authentication line (ERROR, REJECTED) may come first; a method return must not.
    print("answered" if b"l\x02" in data else "disconnected")


mode, path = sys.argv[1], sys.argv[2]
if mode == "fds":
    mode_fds(path, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
elif mode == "big":
    mode_big(path, int(sys.argv[3]), int(sys.argv[4]))
elif mode == "begin-unauthenticated":
    mode_begin_unauthenticated(path)
elif mode == "trickle":
    mode_trickle(path, sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
else:
    sys.exit("usage: p2p-wire.py fds|big|trickle SOCKET ...")
