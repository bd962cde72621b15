#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What systemd's service manager does for sysbrokerd across restarts, and nothing more, for the
integration suite (the boot suite has the real one): a notify socket that takes FDSTORE=1 (with FDNAME=,
FDPOLL=0) and FDSTOREREMOVE=1, drops a stored fd that hangs up (unless FDPOLL=0), waits for READY=1, and
starts the daemon again with the stored fds passed back (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID).

    fake-service-manager.py [--socket=PATH] NOTIFY_SOCKET_PATH DAEMON [ARGS...]

--socket=PATH also listens on PATH (mode 0666) and passes that socket first on every start, named
"sysbrokerd.socket", as sysbrokerd.socket would.

Commands on stdin, one per line, each answered by one line on stdout:
    start   start the daemon, answer "ready <pid>" once it said READY=1 (or "failed ...")
    term    SIGTERM, wait for it to exit (a "systemctl restart" is term, then start)
    kill    SIGKILL, wait (a crash; Restart=on-failure is kill, then start)
    stop    term, then let go of every stored fd ("systemctl stop")
    fds     the names of the stored fds, sorted
    args A...  the daemon's next starts add the arguments A... (answer "ok")
    quit    kill the daemon if it runs, exit
"""

import array
import os
import select
import signal
import socket
import sys
import time

args = sys.argv[1:]
activation = None
if args and args[0].startswith("--socket="):
    path = args.pop(0)[len("--socket="):]
    activation = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    activation.bind(path)
    os.chmod(path, 0o666)
    activation.listen(64)
notify_path = args[0]
daemon = args[1:]
extra_args = []

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(notify_path)
store = {}      # name -> (fd, polled)
child = None
ready = False


def drop(name):
    fd, _ = store.pop(name)
    os.close(fd)


def receive():
    global ready
    msg, ancdata, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(253 * 4))
    fds = array.array("i")
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    fields = dict(line.split("=", 1) for line in msg.decode().split("\n") if "=" in line)
    name = fields.get("FDNAME", "stored")
    if fields.get("READY") == "1":
        ready = True
    if fields.get("FDSTORE") == "1":
        for fd in fds:
            if name in store:
                drop(name)
            store[name] = (fd, fields.get("FDPOLL") != "0")
    else:
        for fd in fds:
            os.close(fd)
    if fields.get("FDSTOREREMOVE") == "1" and name in store:
        drop(name)


def drop_hung_up():
    poller = select.poll()
    polled = {fd: name for name, (fd, p) in store.items() if p}
    for fd in polled:
        poller.register(fd, 0)
    for fd, events in poller.poll(0):
        if events & (select.POLLHUP | select.POLLERR):
            drop(polled[fd])


def drain(timeout=0.0):
    while select.select([sock], [], [], timeout)[0]:
        receive()
        timeout = 0.0
    drop_hung_up()


def start():
    global child, ready
    drain()
    names = sorted(store)
    fds = [store[n][0] for n in names]
    if activation is not None:
        names.insert(0, "sysbrokerd.socket")
        fds.insert(0, activation.fileno())
    ready = False
    pid = os.fork()
    if pid == 0:
        # Out of the way of 3.. first, then into place, as systemd does.
        high = [os.dup(fd) for fd in fds]
        for i, fd in enumerate(high):
            os.dup2(fd, 3 + i, inheritable=True)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path)
        if fds:  # as systemd: no LISTEN_* at all without fds
            env.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(len(fds)), LISTEN_FDNAMES=":".join(names))
        os.execve(daemon[0], daemon + extra_args, env)
    child = pid
    deadline = time.monotonic() + 20
    while not ready and time.monotonic() < deadline:
        drain(0.1)
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            child = None
            return "failed: exited before READY=1"
    return f"ready {pid}" if ready else "failed: no READY=1"


def end(sig):
    global child
    if child is None:
        return "not running"
    os.kill(child, sig)
    _, status = os.waitpid(child, 0)
    child = None
    drain(0.2)
    return f"exited {os.waitstatus_to_exitcode(status)}"


for line in sys.stdin:
    command = line.strip()
    if command == "start":
        answer = start()
    elif command == "term":
        answer = end(signal.SIGTERM)
    elif command == "kill":
        answer = end(signal.SIGKILL)
    elif command == "stop":
        answer = end(signal.SIGTERM)
        for name in list(store):
            drop(name)
    elif command.startswith("args "):
        extra_args = command.split()[1:]
        answer = "ok"
    elif command == "fds":
        drain()
        answer = "fds " + " ".join(sorted(store))
    elif command == "quit":
        if child is not None:
            end(signal.SIGKILL)
        print("bye", flush=True)
        break
    else:
        answer = f"unknown command '{command}'"
    print(answer, flush=True)
