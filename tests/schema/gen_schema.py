#!/usr/bin/python3
"""Writes config/memguard.schema.json (to stdout). The address patterns are
too long to edit by hand: change them here, then
    tests/schema/gen_schema.py >config/memguard.schema.json
run.sh fails while the committed schema differs from this output.

Patterns follow what memguardd accepts (libfw/net.cpp): inet_pton(3) text
forms (no leading zeros in IPv4 octets, IPv4 tails in IPv6), and a prefix of
at most three digits, leading zeros allowed ("/08")."""
import json
import pathlib
import re

# A label's forbidden characters are those of libfw/label_text.cpp, read from its tables of
# code point ranges (Unicode's categories Cc and Cf), plus quotes and backslashes. Past U+FFFF a
# range goes in as the characters themselves (json.dumps writes them as surrogate pairs), since
# a \u escape in a pattern reaches only U+FFFF.
LABEL_TEXT = pathlib.Path(__file__).resolve().parents[2] / "libfw" / "label_text.cpp"
LABEL_RANGES = [(int(a, 16), int(b, 16)) for a, b in
                re.findall(r"\{0x([0-9A-F]+), 0x([0-9A-F]+)\}", LABEL_TEXT.read_text())]
assert len(LABEL_RANGES) > 20, "no code point ranges found in " + str(LABEL_TEXT)


def pattern_char(c):
    return f"\\u{c:04x}" if c <= 0xFFFF else chr(c)


LABEL = "^[^" + "".join(pattern_char(a) if a == b else f"{pattern_char(a)}-{pattern_char(b)}"
                        for a, b in LABEL_RANGES) + '"\\\\]*$'

H = "[0-9A-Fa-f]{1,4}"                                  # one IPv6 group
OCT = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"     # 0..255, no leading zero
V4 = rf"{OCT}(\.{OCT}){{3}}"
# RFC 4291 forms: 8 groups with at most one "::", or 6 groups and an IPv4 tail.
v6 = "|".join([
    rf"({H}:){{7}}{H}", rf"({H}:){{1,7}}:", rf"({H}:){{1,6}}:{H}",
    rf"({H}:){{1,5}}(:{H}){{1,2}}", rf"({H}:){{1,4}}(:{H}){{1,3}}",
    rf"({H}:){{1,3}}(:{H}){{1,4}}", rf"({H}:){{1,2}}(:{H}){{1,5}}",
    rf"{H}:(:{H}){{1,6}}", rf":((:{H}){{1,7}}|:)",
    rf"({H}:){{6}}{V4}", rf"::({H}:){{0,5}}{V4}",
] + [rf"({H}:){{{k}}}:({H}:){{0,{5 - k}}}{V4}" for k in range(1, 6)])
schema = {
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://memguardd.invalid/memguard.schema.json",
  "title": "memguardd configuration (/etc/memguard.json)",
  "description": "A first filter for editors and CI. `memguardd check` is authoritative: it also rejects host bits set in a CIDR, entries that are duplicates only after normalisation (10.0.0.1 vs 10.0.0.1/32), a key given twice, reverse_path_check naming a protocol not in protocols, a port in two guards, a guard name used twice, and numbers written with a fraction or exponent (11211.0).",
  "type": "object",
  "additionalProperties": False,
  "properties": {
    "ports": {"type": "array", "minItems": 1, "uniqueItems": True, "default": [11211],
              "items": {"type": "integer", "minimum": 1, "maximum": 65535}},
    "protocols": {"type": "array", "minItems": 1, "uniqueItems": True, "default": ["tcp", "udp"],
                  "items": {"enum": ["tcp", "udp"]}},
    "allow": {"$ref": "#/$defs/allow"},
    "allow_loopback": {"type": "boolean", "default": True},
    "accept_established": {"type": "boolean", "default": True},
    "action": {"enum": ["drop", "reject"], "default": "drop"},
    "backend": {"enum": ["auto", "iptables-legacy", "nftables"], "default": "auto",
                "description": "which kernel interface programs the rules; auto: iptables-legacy "
                               "where the kernel has legacy x_tables, nftables where it has not"},
    "verify_interval_s": {"type": "integer", "minimum": 1, "maximum": 3600, "default": 5},
    "log_blocked": {"type": "boolean", "default": False,
                    "description": "NFLOG (rate-limited) the packets the final rule drops or rejects"},
    "log_group": {"type": "integer", "minimum": 1, "maximum": 65535,
                  "description": "NFLOG group of the audit rule"},
    "log_rate_per_s": {"type": "integer", "minimum": 1, "maximum": 10000,
                       "description": "at most this many logged packets per second"},
    "guards": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/guard"},
               "description": "several guarded services, each with its own ports, protocols and "
                              "allowlist; instead of the top-level ports, protocols, allow and "
                              "reverse_path_check (which make the one guard \"default\"); no "
                              "(protocol, port) in two guards, no name twice"},
    "reverse_path_check": {"type": "array", "uniqueItems": True, "items": {"enum": ["tcp", "udp"]},
                           "description": "protocols whose packets to a guarded port are dropped "
                                          "unless their source would be routed back out of the "
                                          "interface they came in on (strict reverse-path check); "
                                          "each must be in protocols; default [\"udp\"] where udp "
                                          "is guarded, [] turns it off"},
    "metrics_file": {"anyOf": [{"type": "string", "pattern": r"^/.*\.prom$"}, {"type": "null"}],
                     "default": "/var/lib/prometheus/node-exporter/memguardd.prom",
                     "description": "where the daemon writes its Prometheus metrics for "
                                    "node_exporter's textfile collector: an absolute path "
                                    "ending in .prom; null writes none"},
  },
  "allOf": [{"if": {"required": ["guards"]},
             "then": {"not": {"anyOf": [{"required": [k]} for k in
                                        ["ports", "protocols", "allow", "reverse_path_check"]]}}}],
  "$defs": {
    "network": {"anyOf": [{"$ref": "#/$defs/ipv4_network"}, {"$ref": "#/$defs/ipv6_network"}]},
    "entry": {"anyOf": [{"$ref": "#/$defs/network"},
                        {"type": "object", "additionalProperties": False, "required": ["net"],
                         "properties": {"net": {"$ref": "#/$defs/network"},
                                        "comment": {"type": "string", "minLength": 1,
                                                    "maxLength": 100, "pattern": LABEL,
                                                    "description": "a label: shown in status, "
                                                                   "clients, the journal "
                                                                   "(MEMGUARD_LABEL) and the "
                                                                   "kernel's comments"}}}]},
    "allow": {"type": "array", "uniqueItems": True, "default": [],
              "items": {"$ref": "#/$defs/entry"}},
    "guard": {"type": "object", "additionalProperties": False, "required": ["name", "ports"],
              "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,19}$"},
                "ports": {"type": "array", "minItems": 1, "uniqueItems": True,
                          "items": {"type": "integer", "minimum": 1, "maximum": 65535}},
                "protocols": {"type": "array", "minItems": 1, "uniqueItems": True,
                              "default": ["tcp", "udp"], "items": {"enum": ["tcp", "udp"]}},
                "allow": {"$ref": "#/$defs/allow"},
                "reverse_path_check": {"type": "array", "uniqueItems": True,
                                       "items": {"enum": ["tcp", "udp"]}}}},
    "ipv4_network": {"description": "IPv4 address or CIDR network",
                     "type": "string", "pattern": rf"^{V4}(/(0?(3[0-2]|[12][0-9])|0{{0,2}}[0-9]))?$"},
    "ipv6_network": {"description": "IPv6 address or CIDR network (RFC 4291 text forms)",
                     "type": "string", "pattern": rf"^({v6})(/(12[0-8]|1[01][0-9]|0?[1-9][0-9]|0{{0,2}}[0-9]))?$"},
  },
}
text = json.dumps(schema, indent=2)
# Arrays of scalars on one line.
text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
print(text)
