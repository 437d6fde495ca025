#!/usr/bin/env python3
"""memcached "version" probes for tests/docker (run inside a client namespace via nsenter).

Only the addresses given on the command line are contacted (the test passes addresses it
configured in its own namespaces). Every operation is bounded by a timeout.

  version tcp|udp HOST [--port P] [--timeout S]
      one "version" request (TCP: a new connection; UDP: memcached's 8-byte frame header)
      prints "VERSION x.y.z" (exit 0) or silent|refused|reset|error:<e> (exit 1)
  hold HOST --ready F --go F --out F [--port P] [--timeout S] [--max S]
      open one TCP connection, "version" on it, write its outcome to --ready; wait for --go to
      exist, "version" again on the SAME connection, write that outcome to --out
  udp-set HOST KEY VALUE --src SRC [--port P]
      one memcached "set" in a single UDP datagram from address SRC (which may be forged: the
      answer, if any, goes to SRC); waits for nothing. exit 0 once sent
  get HOST KEY [--port P] [--timeout S]
      one TCP "get": prints the value, "miss" (exit 1), or silent|refused|reset (exit 2)
  watch HOST... --stop F --out F [--port P] [--interval S] [--max S]
      until F exists: "version" over tcp and udp to each HOST (a thread each); appends one line per
      answer ("ANSWERED proto host at T s") to --out, and at the end "probes=N answered=M"
"""

import argparse
import os
import socket
import sys
import threading
import time

UDP_HEADER = b"\x00\x01\x00\x00\x00\x01\x00\x00"


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def read_line(s, timeout):
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\r\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        s.settimeout(left)
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionResetError("closed by peer")
        data += chunk
    return data.decode(errors="replace").strip()


def outcome_of(exc):
    if isinstance(exc, socket.timeout):
        return "silent"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    return "error:%s" % exc


def version_on(s, timeout):
    try:
        s.sendall(b"version\r\n")
        return read_line(s, timeout)
    except Exception as e:  # noqa: BLE001 - every failure is an outcome
        return outcome_of(e)


def tcp_version(host, port, timeout):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
        except Exception as e:  # noqa: BLE001
            return outcome_of(e)
        return version_on(s, timeout)
    finally:
        s.close()


def udp_version(host, port, timeout):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.connect((host, port))
        s.send(UDP_HEADER + b"version\r\n")
        data = s.recv(2048)
        return data[8:].decode(errors="replace").strip()
    except Exception as e:  # noqa: BLE001
        return outcome_of(e)
    finally:
        s.close()


def version(proto, host, port, timeout):
    return (tcp_version if proto == "tcp" else udp_version)(host, port, timeout)


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(path + ".tmp", path)


def cmd_version(a):
    out = version(a.proto, a.host, a.port, a.timeout)
    print(out)
    return 0 if out.startswith("VERSION") else 1


def cmd_hold(a):
    s = socket.socket(family(a.host), socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    try:
        s.connect((a.host, a.port))
    except Exception as e:  # noqa: BLE001
        write(a.ready, outcome_of(e))
        return 1
    write(a.ready, version_on(s, a.timeout))
    end = time.monotonic() + a.max
    while not os.path.exists(a.go):
        if time.monotonic() > end:
            write(a.out, "no go within %.0f s" % a.max)
            return 1
        time.sleep(0.02)
    write(a.out, version_on(s, a.timeout))
    s.close()
    return 0


def cmd_udp_set(a):
    s = socket.socket(family(a.host), socket.SOCK_DGRAM)
    s.bind((a.src, 0))
    value = a.value.encode()
    s.sendto(UDP_HEADER + b"set %s 0 0 %d noreply\r\n%s\r\n" % (a.key.encode(), len(value), value),
             (a.host, a.port))
    s.close()
    return 0


def cmd_get(a):
    s = socket.socket(family(a.host), socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    try:
        s.connect((a.host, a.port))
        s.sendall(b"get %s\r\n" % a.key.encode())
        deadline = time.monotonic() + a.timeout
        data = b""
        while not data.endswith(b"END\r\n"):
            s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionResetError("closed by peer")
            data += chunk
    except Exception as e:  # noqa: BLE001
        print(outcome_of(e))
        return 2
    finally:
        s.close()
    lines = data.split(b"\r\n")
    if lines[0].startswith(b"VALUE "):
        print(lines[1].decode(errors="replace"))
        return 0
    print("miss")
    return 1


def cmd_watch(a):
    # One thread per (host, protocol), each probing without pause: a silence costs a whole
    # timeout, and an answer in the restart window must not slip between two rounds.
    start = time.monotonic()
    lock = threading.Lock()
    counts = {"probes": 0, "answered": 0}
    out = open(a.out, "a")

    def loop(host, proto):
        while not os.path.exists(a.stop) and time.monotonic() - start < a.max:
            r = version(proto, host, a.port, a.timeout)
            with lock:
                counts["probes"] += 1
                if r.startswith("VERSION"):
                    counts["answered"] += 1
                    out.write("ANSWERED %s %s at %.2f s\n" % (proto, host, time.monotonic() - start))
                    out.flush()
            time.sleep(a.interval)

    threads = [threading.Thread(target=loop, args=(h, p)) for h in a.hosts for p in ("tcp", "udp")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.write("probes=%d answered=%d\n" % (counts["probes"], counts["answered"]))
    out.close()
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("version")
    v.add_argument("proto", choices=("tcp", "udp"))
    v.add_argument("host")
    v.set_defaults(fn=cmd_version, timeout=1.0)
    h = sub.add_parser("hold")
    h.add_argument("host")
    h.add_argument("--ready", required=True)
    h.add_argument("--go", required=True)
    h.add_argument("--out", required=True)
    h.add_argument("--max", type=float, default=60.0)
    h.set_defaults(fn=cmd_hold, timeout=2.0)
    u = sub.add_parser("udp-set")
    u.add_argument("host")
    u.add_argument("key")
    u.add_argument("value")
    u.add_argument("--src", required=True)
    u.set_defaults(fn=cmd_udp_set)
    g = sub.add_parser("get")
    g.add_argument("host")
    g.add_argument("key")
    g.set_defaults(fn=cmd_get)
    w = sub.add_parser("watch")
    w.add_argument("hosts", nargs="+")
    w.add_argument("--stop", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--interval", type=float, default=0.05)
    w.add_argument("--max", type=float, default=60.0)
    w.set_defaults(fn=cmd_watch, timeout=0.3)
    for sp in (v, h, u, g, w):
        sp.add_argument("--port", type=int, default=11211)
        sp.add_argument("--timeout", type=float)
    a = p.parse_args()
    if a.timeout is None:
        a.timeout = {"hold": 2.0, "watch": 0.3}.get(a.cmd, 1.0)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
