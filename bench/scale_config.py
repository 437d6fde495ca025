#!/usr/bin/env python3
"""Writes a large memguardd config: N4 IPv4 /32s and N6 IPv6 /64s, every 10th entry labelled.

Usage: scale_config.py FILE BACKEND N4 N6 flat|fragments [PER_FRAGMENT]
  flat:      every entry in FILE
  fragments: FILE holds the settings and the first PER_FRAGMENT entries, FILE's .d/ directory
             the rest, PER_FRAGMENT entries a file (default 10000)
Addresses are every other one (10.0.0.0, 10.0.0.2, ...; 2001:db8:0:0::/64, 2001:db8:0:2::/64,
...), so no two entries merge into one interval. Files are written 0600, the directory 0700.
"""
import json
import os
import sys


def entries(n4, n6):
    out = []
    for i in range(n4):
        a = 0x0A000000 + 2 * i
        out.append(f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}/32")
    for i in range(n6):
        a = 2 * i
        out.append(f"2001:db8:{a >> 16 & 0xffff:x}:{a & 0xffff:x}::/64")
    return [{"net": n, "comment": f"host {i}"} if i % 10 == 0 else n for i, n in enumerate(out)]


def write(path, doc):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    os.chmod(path, 0o600)


def main():
    path, backend, n4, n6, layout = sys.argv[1:6]
    per = int(sys.argv[6]) if len(sys.argv) > 6 else 10000
    allow = entries(int(n4), int(n6))
    settings = {"backend": backend, "metrics_file": None}
    if layout == "flat":
        write(path, {**settings, "allow": allow})
        return
    write(path, {**settings, "allow": allow[:per]})
    directory = (path[:-5] if path.endswith(".json") else path) + ".d"
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for k, start in enumerate(range(per, len(allow), per)):
        write(os.path.join(directory, f"{k:03d}.json"), {"allow": allow[start:start + per]})


main()
