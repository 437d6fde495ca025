#!/usr/bin/env python3
"""Writes a large memguardd config, or the same allowlist for the floor tools.

Usage: scale_config.py FILE BACKEND N4 N6 LAYOUT [PER_FRAGMENT]
  N4 IPv4 /32s and N6 IPv6 /64s, every 10th entry labelled (a comment).
  LAYOUT flat:      every entry in FILE
         fragments: FILE holds the settings and the first PER_FRAGMENT entries, FILE's .d/
                    directory the rest, PER_FRAGMENT entries a file (default 10000)
         nft:       an `nft -f` script: table inet mgbench with the two interval sets
         ipset:     an `ipset restore` file: the two hash:net sets mgbench4, mgbench6
Addresses are every other one (10.0.0.0, 10.0.0.2, ...; 2001:db8:0:0::/64, 2001:db8:0:2::/64,
...), so no two entries merge into one interval. Files are written 0600, the directory 0700.
"""
import json
import os
import sys


def networks(n4, n6):
    out = []
    for i in range(n4):
        a = 0x0A000000 + 2 * i
        out.append(f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}/32")
    for i in range(n6):
        a = 2 * i
        out.append(f"2001:db8:{a >> 16 & 0xffff:x}:{a & 0xffff:x}::/64")
    return out


def allowlist(nets):
    return [{"net": n, "comment": f"host {i}"} if i % 10 == 0 else n for i, n in enumerate(nets)]


def write(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def nft_script(nets):
    def elements(v6):
        return ",\n".join(
            n + (f' comment "host {i}"' if i % 10 == 0 else "")
            for i, n in enumerate(nets) if (":" in n) == v6)
    return (f"table inet mgbench {{\n"
            f"  set allow4 {{ type ipv4_addr; flags interval; elements = {{\n{elements(False)}\n}} }}\n"
            f"  set allow6 {{ type ipv6_addr; flags interval; elements = {{\n{elements(True)}\n}} }}\n"
            f"}}\n")


def ipset_file(nets):
    v4 = [n for n in nets if ":" not in n]
    v6 = [n for n in nets if ":" in n]
    lines = []
    for name, family, members in (("mgbench4", "inet", v4), ("mgbench6", "inet6", v6)):
        size = max(1024, 1 << (len(members) - 1).bit_length())
        lines.append(f"create {name} hash:net family {family} hashsize {size} "
                     f"maxelem {max(65536, 2 * len(members))}")
        lines += [f"add {name} {n}" for n in members]
    return "\n".join(lines) + "\n"


def main():
    path, backend, n4, n6, layout = sys.argv[1:6]
    per = int(sys.argv[6]) if len(sys.argv) > 6 else 10000
    nets = networks(int(n4), int(n6))
    if layout == "nft":
        write(path, nft_script(nets))
        return
    if layout == "ipset":
        write(path, ipset_file(nets))
        return
    allow = allowlist(nets)
    settings = {"backend": backend, "metrics_file": None}
    if layout == "flat":
        write(path, json.dumps({**settings, "allow": allow}))
        return
    write(path, json.dumps({**settings, "allow": allow[:per]}))
    directory = (path[:-5] if path.endswith(".json") else path) + ".d"
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for k, start in enumerate(range(per, len(allow), per)):
        write(os.path.join(directory, f"{k:03d}.json"), json.dumps({"allow": allow[start:start + per]}))


main()
