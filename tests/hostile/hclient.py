#!/usr/bin/env python3
"""TCP client for the hostile tests: like tests/e2e/mcclient.py, but every connection is
bound to a given source address, so one client namespace can be an allowed and an outside
client at once. Every operation has a timeout; every wait is bounded.

  probe SRC DST PORT [--timeout S]
      one connect(); prints "open|refused|timeout|error:<e> <ms>";
      exit 0 open, 1 refused, 2 timeout, 3 other error
  multi PORT SRC,DST[,TIMEOUT]... [--timeout S]
      all those connects at once (one process, one event loop); prints one outcome per
      pair, in order, on one line: "open|refused|timeout|error:<e> ..."
  hold SRC DST PORT --ready FILE --go FILE --out FILE [--timeout S] [--max S]
      open one connection, send memcached's "version", read the answer, write
      "first ok: VERSION ..." (or "first failed: ...") to --ready; wait (at most --max s)
      until --go exists; send "version" again on the same connection and write to --out
      one of: "answered: VERSION ...", "no answer within S s", "reset: ...", "closed"
      --udp: the same over one udp flow (one socket, one source port: one conntrack entry),
      memcached's udp frame header before each request
"""

import argparse
import errno
import os
import socket
import sys
import time


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


UDP_FRAME = b"\x00\x01\x00\x00\x00\x01\x00\x00"  # request id 1, packet 0 of 1


def connect(src, dst, port, timeout, udp=False):
    s = socket.socket(family_of(dst), socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    try:
        s.bind((src, 0))
        s.settimeout(timeout)
        s.connect((dst, port))
    except BaseException:
        s.close()
        raise
    return s


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(path + ".tmp", path)


def version(s, timeout):
    """Send "version"; return the answer line. Raises socket.timeout, OSError, EOFError."""
    s.settimeout(timeout)
    if s.type == socket.SOCK_DGRAM:
        s.send(UDP_FRAME + b"version\r\n")
        return s.recv(4096)[len(UDP_FRAME):].decode(errors="replace").strip()
    s.sendall(b"version\r\n")
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\r\n"):
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(4096)
        if not chunk:
            raise EOFError("connection closed by the server")
        data += chunk
        if len(data) > 4096:
            raise ValueError("answer too long")
    return data.decode(errors="replace").strip()


def cmd_probe(a):
    start = time.monotonic()
    try:
        connect(a.src, a.dst, a.port, a.timeout).close()
        outcome = "open"
    except socket.timeout:
        outcome = "timeout"
    except ConnectionRefusedError:
        outcome = "refused"
    except OSError as e:
        outcome = "error:" + (errno.errorcode.get(e.errno, str(e.errno)) if e.errno else str(e))
    print("%s %.1f" % (outcome, (time.monotonic() - start) * 1000.0))
    return {"open": 0, "refused": 1, "timeout": 2}.get(outcome, 3)


def cmd_multi(a):
    import selectors
    sel = selectors.DefaultSelector()
    outcomes = []
    start = time.monotonic()
    deadlines = {}
    for i, spec in enumerate(a.pairs):
        parts = spec.split(",")
        src, dst = parts[0], parts[1]
        limit = float(parts[2]) if len(parts) > 2 else a.timeout
        outcomes.append(None)
        s = socket.socket(family_of(dst), socket.SOCK_STREAM)
        try:
            s.bind((src, 0))
            s.setblocking(False)
            rc = s.connect_ex((dst, a.port))
        except OSError as e:
            outcomes[i] = "error:" + (errno.errorcode.get(e.errno, str(e.errno)) if e.errno else str(e))
            s.close()
            continue
        if rc == 0:
            outcomes[i] = "open"
            s.close()
        elif rc in (errno.EINPROGRESS, errno.EAGAIN):
            sel.register(s, selectors.EVENT_WRITE, i)
            deadlines[i] = (start + limit, s)
        else:
            outcomes[i] = "refused" if rc == errno.ECONNREFUSED else "error:" + errno.errorcode.get(rc, str(rc))
            s.close()
    while deadlines:
        now = time.monotonic()
        for i, (deadline, s) in list(deadlines.items()):
            if now >= deadline:
                outcomes[i] = "timeout"
                sel.unregister(s)
                s.close()
                del deadlines[i]
        if not deadlines:
            break
        wait = min(d for d, _ in deadlines.values()) - now
        for key, _ in sel.select(max(0.0, wait)):
            i, s = key.data, key.fileobj
            rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if rc == 0:
                outcomes[i] = "open"
            elif rc == errno.ECONNREFUSED:
                outcomes[i] = "refused"
            else:
                outcomes[i] = "error:" + errno.errorcode.get(rc, str(rc))
            sel.unregister(s)
            s.close()
            del deadlines[i]
    print(" ".join(outcomes))
    return 0


def cmd_hold(a):
    try:
        s = connect(a.src, a.dst, a.port, a.timeout, a.udp)
        first = version(s, a.timeout)
    except (OSError, EOFError, ValueError) as e:
        write(a.ready, "first failed: %s" % e)
        return 1
    write(a.ready, "first ok: %s" % first)
    start = time.monotonic()
    while not os.path.exists(a.go):
        if time.monotonic() - start > a.max:
            write(a.out, "never told to go")
            return 1
        time.sleep(0.02)
    try:
        write(a.out, "answered: %s" % version(s, a.timeout))
    except socket.timeout:
        write(a.out, "no answer within %.1f s" % a.timeout)
    except EOFError:
        write(a.out, "closed")
    except OSError as e:
        write(a.out, "reset: %s" % e)
    except ValueError as e:
        write(a.out, "bad answer: %s" % e)
    finally:
        s.close()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, fn in (("probe", cmd_probe), ("hold", cmd_hold)):
        sp = sub.add_parser(name)
        sp.add_argument("src")
        sp.add_argument("dst")
        sp.add_argument("port", type=int)
        sp.add_argument("--timeout", type=float, default=1.0 if name == "probe" else 2.0)
        sp.set_defaults(fn=fn)
        if name == "hold":
            sp.add_argument("--ready", required=True)
            sp.add_argument("--go", required=True)
            sp.add_argument("--out", required=True)
            sp.add_argument("--max", type=float, default=60.0)
            sp.add_argument("--udp", action="store_true")
    sp = sub.add_parser("multi")
    sp.add_argument("port", type=int)
    sp.add_argument("pairs", nargs="+")
    sp.add_argument("--timeout", type=float, default=1.0)
    sp.set_defaults(fn=cmd_multi)
    a = p.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
