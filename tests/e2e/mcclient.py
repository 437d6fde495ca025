#!/usr/bin/env python3
"""Small memcached / probing client for tests/e2e/run.sh.

Every operation has a timeout; every loop is bounded by a maximum duration.
Only the addresses given on the command line are contacted (run.sh passes
addresses it configured inside its own network namespaces).

Subcommands (exit status 0 = success unless noted):
  probe HOST PORT [--timeout S]        TCP connect; prints "open|refused|timeout|error:<e> <ms>"
                                       exit 0 open, 1 refused, 2 timeout, 3 other error
  tcp-get HOST PORT KEY                one text-protocol get on a new connection, prints the value
  udp-get HOST PORT KEY [--timeout S]  one get over memcached's UDP framing, prints the value
                                       exit 0 answer, 1 ICMP refused, 2 timeout, 3 bad answer
  steady HOST PORT KEY --stop FILE     a TCP get every --interval s until FILE exists (bounded by
                                       --max s); prints "ok=N fail=M" and each failure
  hold HOST PORT KEY --ready F --go F --out F
                                       open one TCP connection, get KEY, write "first ok" to --ready,
                                       wait for --go to exist, get KEY again on the same connection,
                                       write the outcome to --out
  until-blocked --t0 T HOST...         probe every HOST (PORT 11211) in rounds until all of them
                                       time out or are refused in the same round; prints timings
                                       relative to wall-clock --t0 (seconds since the epoch)
  attempts --stop FILE HOST...         connect to the HOSTs in turn until FILE exists (bounded by
                                       --max s); prints "attempts=N open=M" and each open
  notify-listen PATH OUT               sd_notify(3) receiver: appends each datagram to OUT
"""

import argparse
import errno
import os
import socket
import struct
import sys
import time

PORT = 11211


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def connect(host, port, timeout):
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def classify(host, port, timeout):
    """Return (outcome, elapsed_ms); outcome is open, refused, timeout or error:<text>."""
    start = time.monotonic()
    try:
        s = connect(host, port, timeout)
        s.close()
        outcome = "open"
    except socket.timeout:
        outcome = "timeout"
    except ConnectionRefusedError:
        outcome = "refused"
    except OSError as e:
        outcome = "error:" + (errno.errorcode.get(e.errno, str(e.errno)) if e.errno else str(e))
    return outcome, (time.monotonic() - start) * 1000.0


def recv_until(s, terminator, limit=65536):
    data = b""
    while not data.endswith(terminator):
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed after %r" % data)
        data += chunk
        if len(data) > limit:
            raise ValueError("answer too long")
    return data


def parse_get(data, key):
    """Parse 'VALUE key flags len\\r\\n<data>\\r\\nEND\\r\\n'; None on a miss."""
    if data == b"END\r\n":
        return None
    header, _, rest = data.partition(b"\r\n")
    parts = header.split()
    if len(parts) < 4 or parts[0] != b"VALUE" or parts[1] != key.encode():
        raise ValueError("unexpected answer %r" % data)
    return rest[: int(parts[3])].decode(errors="replace")


def get_on(s, key):
    s.sendall(b"get " + key.encode() + b"\r\n")
    return parse_get(recv_until(s, b"END\r\n"), key)


def tcp_get(host, port, key, timeout):
    s = connect(host, port, timeout)
    try:
        return get_on(s, key)
    finally:
        s.close()


def cmd_probe(a):
    outcome, ms = classify(a.host, a.port, a.timeout)
    print("%s %.1f" % (outcome, ms))
    return {"open": 0, "refused": 1, "timeout": 2}.get(outcome, 3)


def cmd_tcp_get(a):
    try:
        value = tcp_get(a.host, a.port, a.key, a.timeout)
    except (OSError, ValueError) as e:
        print("error: %s" % e)
        return 2
    if value is None:
        print("miss")
        return 1
    print(value)
    return 0


def cmd_udp_get(a):
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    s.settimeout(a.timeout)
    request_id = os.getpid() & 0xFFFF
    # memcached UDP frame header: request id, sequence number, datagram count, reserved.
    frame = struct.pack("!HHHH", request_id, 0, 1, 0) + b"get " + a.key.encode() + b"\r\n"
    try:
        s.connect((a.host, a.port))
        s.send(frame)
        deadline = time.monotonic() + a.timeout
        while True:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            reply = s.recv(65536)
            if len(reply) >= 8 and struct.unpack("!H", reply[:2])[0] == request_id:
                break
    except socket.timeout:
        print("timeout")
        return 2
    except ConnectionRefusedError:
        print("refused (ICMP port unreachable)")
        return 1
    except OSError as e:
        print("error: %s" % e)
        return 3
    finally:
        s.close()
    _, seq, count, _ = struct.unpack("!HHHH", reply[:8])
    try:
        value = parse_get(reply[8:], a.key)
    except ValueError as e:
        print("bad answer (seq %d of %d): %s" % (seq, count, e))
        return 3
    print("miss" if value is None else value)
    return 0 if value is not None else 3


def cmd_steady(a):
    ok = fail = 0
    failures = []
    start = time.monotonic()
    while not os.path.exists(a.stop) and time.monotonic() - start < a.max:
        t = time.monotonic()
        try:
            value = tcp_get(a.host, a.port, a.key, a.timeout)
            if value is None:
                raise ValueError("miss")
            ok += 1
        except (OSError, ValueError) as e:
            fail += 1
            failures.append("%.3fs %s" % (t - start, e))
        time.sleep(max(0.0, a.interval - (time.monotonic() - t)))
    print("ok=%d fail=%d" % (ok, fail))
    for f in failures:
        print("failure at " + f)
    return 0


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(path + ".tmp", path)


def cmd_hold(a):
    try:
        s = connect(a.host, a.port, a.timeout)
        first = get_on(s, a.key)
    except (OSError, ValueError) as e:
        write(a.ready, "first failed: %s" % e)
        return 1
    write(a.ready, "first ok: %s" % first)
    start = time.monotonic()
    while not os.path.exists(a.go):
        if time.monotonic() - start > a.max:
            write(a.out, "never told to go")
            return 1
        time.sleep(0.05)
    try:
        second = get_on(s, a.key)
        write(a.out, "still works: got %r on the connection opened before the reload" % second)
    except socket.timeout:
        write(a.out, "no answer within %.1fs on the connection opened before the reload" % a.timeout)
    except (OSError, ValueError) as e:
        write(a.out, "broken: %s" % e)
    finally:
        s.close()
    return 0


def cmd_until_blocked(a):
    rounds = 0
    last_open = None
    while True:
        rounds += 1
        round_start = time.time() - a.t0
        outcomes = [classify(h, PORT, a.timeout)[0] for h in a.hosts]
        if all(o != "open" for o in outcomes):
            print("blocked_at=%.3f last_open=%s rounds=%d outcomes=%s"
                  % (round_start, "none" if last_open is None else "%.3f" % last_open,
                     rounds, ",".join(outcomes)))
            return 0
        last_open = time.time() - a.t0
        if last_open > a.max:
            print("still_open_after=%.3f rounds=%d outcomes=%s" % (last_open, rounds, ",".join(outcomes)))
            return 1
        time.sleep(a.interval)


def cmd_attempts(a):
    n = opened = 0
    seen = {}
    start = time.monotonic()
    while not os.path.exists(a.stop) and time.monotonic() - start < a.max:
        host = a.hosts[n % len(a.hosts)]
        outcome, _ = classify(host, PORT, a.timeout)
        n += 1
        seen[outcome] = seen.get(outcome, 0) + 1
        if outcome == "open":
            opened += 1
            print("OPEN: %s at %.3fs" % (host, time.monotonic() - start))
        time.sleep(a.interval)
    print("attempts=%d open=%d outcomes=%s" % (n, opened, ",".join("%s:%d" % kv for kv in sorted(seen.items()))))
    return 0


def cmd_notify_listen(a):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(a.path)
    s.settimeout(1.0)
    start = time.monotonic()
    while time.monotonic() - start < a.max:
        try:
            msg = s.recv(4096)
        except socket.timeout:
            continue
        with open(a.out, "a") as f:
            f.write("%.3f %s\n" % (time.time(), msg.decode(errors="replace").replace("\n", " | ")))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def add(name, fn, hostport=True, key=False, timeout=1.0):
        sp = sub.add_parser(name)
        if hostport:
            sp.add_argument("host")
            sp.add_argument("port", type=int)
        if key:
            sp.add_argument("key")
        sp.add_argument("--timeout", type=float, default=timeout)
        sp.set_defaults(fn=fn)
        return sp

    add("probe", cmd_probe)
    add("tcp-get", cmd_tcp_get, key=True)
    add("udp-get", cmd_udp_get, key=True)
    sp = add("steady", cmd_steady, key=True, timeout=0.5)
    sp.add_argument("--stop", required=True)
    sp.add_argument("--interval", type=float, default=0.05)
    sp.add_argument("--max", type=float, default=30.0)
    sp = add("hold", cmd_hold, key=True, timeout=2.0)
    sp.add_argument("--ready", required=True)
    sp.add_argument("--go", required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--max", type=float, default=30.0)
    sp = add("until-blocked", cmd_until_blocked, hostport=False, timeout=0.25)
    sp.add_argument("--t0", type=float, required=True)
    sp.add_argument("--interval", type=float, default=0.05)
    sp.add_argument("--max", type=float, default=10.0)
    sp.add_argument("hosts", nargs="+")
    sp = add("attempts", cmd_attempts, hostport=False, timeout=0.2)
    sp.add_argument("--stop", required=True)
    sp.add_argument("--interval", type=float, default=0.02)
    sp.add_argument("--max", type=float, default=30.0)
    sp.add_argument("hosts", nargs="+")
    sp = sub.add_parser("notify-listen")
    sp.add_argument("path")
    sp.add_argument("out")
    sp.add_argument("--max", type=float, default=300.0)
    sp.set_defaults(fn=cmd_notify_listen)

    a = p.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
