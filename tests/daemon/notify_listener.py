#!/usr/bin/env python3
"""Stand-in for systemd's notification socket, for the daemon tests.

Binds a unix datagram socket at SOCKET (what $NOTIFY_SOCKET names) and appends
one line per line of every datagram received to OUT:

    <CLOCK_MONOTONIC seconds>\t<datagram number>\t<sender pid>\t<line>

The sender pid comes from SCM_CREDENTIALS (the kernel fills it in), so a test
can tell that the main process sent the message, as systemd's default
NotifyAccess=main demands.

--on-ready CMD: when a datagram holds READY=1, run CMD (through /bin/sh)
before reading the next datagram, with MG_SENDER_PID and MG_SEQ set, and
record "#on-ready rc=N" in OUT. With --freeze-sender the sender is stopped
(SIGSTOP, waited for) before CMD runs and continued after, so CMD sees the
kernel exactly as it was within microseconds of the daemon saying READY=1.

Runs until SIGTERM/SIGINT.
"""
import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import time

UCRED = struct.Struct("3i")  # pid, uid, gid


def wait_stopped(pid, timeout=1.0):
    """True once /proc/PID/stat shows state T (stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        if state in ("T", "t"):
            return True
        time.sleep(0.0002)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("socket")
    ap.add_argument("out")
    ap.add_argument("--on-ready", metavar="CMD")
    ap.add_argument("--freeze-sender", action="store_true")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    try:
        os.unlink(args.socket)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    # The path appears only once bound: a test that waits for it may start the daemon.
    sock.bind(args.socket)

    out = open(args.out, "a", buffering=1)
    seq = 0
    while True:
        data, ancdata, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(UCRED.size))
        now = time.monotonic()
        seq += 1
        pid = 0
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = UCRED.unpack(payload[: UCRED.size])[0]
        lines = data.decode("utf-8", "replace").split("\n")
        ready = "READY=1" in lines
        frozen = False
        if ready and args.on_ready and args.freeze_sender and pid > 0:
            os.kill(pid, signal.SIGSTOP)  # first thing: the sender must not get further
            frozen = wait_stopped(pid)
        for line in lines:
            if line:
                out.write(f"{now:.6f}\t{seq}\t{pid}\t{line}\n")
        out.flush()
        if ready and args.on_ready:
            env = dict(os.environ, MG_SENDER_PID=str(pid), MG_SEQ=str(seq))
            rc = subprocess.call(args.on_ready, shell=True, env=env)
            if args.freeze_sender and pid > 0:
                os.kill(pid, signal.SIGCONT)
            out.write(f"{time.monotonic():.6f}\t{seq}\t{pid}\t#on-ready rc={rc} frozen={int(frozen)}\n")
            out.flush()


if __name__ == "__main__":
    main()
