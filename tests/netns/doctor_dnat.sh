#!/bin/bash
# `memguardd doctor` and destination NAT: a DNAT of the guarded port is reported with where
# it goes and whether memguardd's rules guard the path DNATed packets take (they skip INPUT), in
# the legacy nat tables (IPv4 and IPv6) and as iptables-nft writes Docker's rule (nft table
# ip nat, chain DOCKER); a DNAT from an unguarded port to the guarded one (docker run
# -p 11300:11211) is reported too, a DNAT to an address of this host is judged by the INPUT
# rules, and the port nothing listens on is called forwarded.
# Our rules on the DNAT path are first written by hand as the backends write them, then by
# `memguardd apply --once`. What counts as ours is each backend's own rule: a rule or table that
# only looks like ours (comment memguardX; an inet memguard table without our marker) guards
# nothing in doctor's eyes. A DNAT path not guarded is an exposure.
# Usage: doctor_dnat.sh PATH/TO/memguardd     (root, iptables-legacy, iptables-nft, nft)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
mg_init "$@"

for tool in iptables-nft ip6tables-nft nft; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not installed (apt-get install iptables nftables)"
        # shellcheck disable=SC2034 # read by lib.sh's exit trap
        MG_DONE=1
        exit 77
    fi
done
ip link set lo up

# config FILE BACKEND PORT... : tcp and udp guarded on PORTs, one allowed network
config() {
    local file=$1 backend=$2
    shift 2
    local ports
    ports=$(IFS=,; echo "$*")
    cat >"$file" <<JSON
{
  "ports": [$ports],
  "protocols": ["tcp", "udp"],
  "allow": ["192.168.1.0/24"],
  "backend": "$backend",
  "verify_interval_s": 5
}
JSON
    chmod 600 "$file"
}
LEGACY=$MG_WORK/legacy.json
config "$LEGACY" iptables-legacy 11211
NFT=$MG_WORK/nft.json
config "$NFT" nftables 11211
BOTH_PORTS=$MG_WORK/both-ports.json
config "$BOTH_PORTS" iptables-legacy 11211 11300

# doctor LABEL CONFIG : mg_doctor (no daemon runs here: exit 2; the counts match the lines)
doctor() { mg_doctor "$@"; }
NOT_GUARDED='NOT guarded: packets DNATed there skip INPUT, and memguardd.s rules for the DNAT path are not in the kernel$'
GUARDED='guarded on the DNAT path by memguardd.s rules$'

# --- (a) iptables-legacy nat: DNAT of 11211, IPv4 tcp and IPv6 udp -----------------------------
iptables-legacy -t nat -A PREROUTING -p tcp --dport 11211 -j DNAT --to-destination 10.0.0.2:11211
ip6tables-legacy -t nat -A PREROUTING -p udp --dport 11211 -j DNAT --to-destination '[fd00::2]:11211'
assert_match "(a) oracle: iptables-legacy-save shows the IPv4 DNAT" \
    '^-A PREROUTING -p tcp -m tcp --dport 11211 -j DNAT --to-destination 10.0.0.2:11211$' \
    "$(iptables-legacy-save -t nat)"
doctor "(a) legacy DNAT, no rules of ours" "$LEGACY"
assert_match "(a) the IPv4 DNAT is not guarded" \
    "^EXPOSURE: DNAT: tcp port 11211 → 10\\.0\\.0\\.2:11211 \\(iptables-legacy ipv4 table nat, chain PREROUTING\\): $NOT_GUARDED" "$MG_OUT"
assert_match "(a) the IPv6 DNAT is not guarded" \
    "^EXPOSURE: DNAT: udp port 11211 → \\[fd00::2\\]:11211 \\(iptables-legacy ipv6 table nat, chain PREROUTING\\): $NOT_GUARDED" "$MG_OUT"
assert_match "(a) the fix: a memguardd that guards the DNAT path" \
    '^  fix: run a memguardd that guards the DNAT path' "$MG_OUT"
assert_match "(a) port 11211 is forwarded, not 'nothing listens'" \
    '^ok: nothing listens on port 11211 here: it is forwarded by DNAT to 10\.0\.0\.2:11211 \(iptables-legacy ipv4 table nat, chain PREROUTING\)$' "$MG_OUT"
assert_no_match "(a) no 'nothing listens' finding" '^(WARNING|note): nothing listens' "$MG_OUT"

# A look-alike first: the comment memguardX is somebody else's (the legacy backend's rule).
iptables-legacy -t mangle -N MEMGUARDX
iptables-legacy -t mangle -A FORWARD -p tcp -m conntrack --ctstate DNAT --ctdir ORIGINAL \
    --ctorigdstport 11211 -m comment --comment memguardX -j MEMGUARDX
doctor "(a) a look-alike mangle FORWARD rule (comment memguardX)" "$LEGACY"
assert_match "(a) a rule that is not ours guards nothing" \
    "^EXPOSURE: DNAT: tcp port 11211 → 10\\.0\\.0\\.2:11211 .*: $NOT_GUARDED" "$MG_OUT"
iptables-legacy -t mangle -F FORWARD
iptables-legacy -t mangle -X MEMGUARDX

# Our DNAT-path rules as the legacy backend writes them, by hand: mangle FORWARD, conntrack's
# original destination port, a jump to our chain. One family only: the other stays unguarded.
iptables-legacy -t mangle -N MEMGUARD
iptables-legacy -t mangle -A FORWARD -p tcp -m conntrack --ctstate DNAT --ctdir ORIGINAL \
    --ctorigdstport 11211 -m comment --comment memguard -j MEMGUARD
doctor "(a) hand-written mangle FORWARD rule, IPv4 tcp" "$LEGACY"
assert_match "(a) the IPv4 DNAT is guarded by it" \
    "^ok: DNAT: tcp port 11211 → 10\\.0\\.0\\.2:11211 \\(iptables-legacy ipv4 table nat, chain PREROUTING\\): $GUARDED" "$MG_OUT"
assert_match "(a) the IPv6 udp DNAT is not (an IPv4 tcp rule does not guard it)" \
    "^EXPOSURE: DNAT: udp port 11211 → \\[fd00::2\\]:11211 .*: NOT guarded" "$MG_OUT"
iptables-legacy -t mangle -F FORWARD
iptables-legacy -t mangle -X MEMGUARD

# The same, written by memguardd.
mg_run apply --once --config "$LEGACY"
assert_eq "(a) apply --once (iptables-legacy) exits 0" 0 "$MG_RC"
doctor "(a) after apply" "$LEGACY"
assert_match "(a) after apply, the IPv4 DNAT is guarded" \
    "^ok: DNAT: tcp port 11211 → 10\\.0\\.0\\.2:11211 .*: $GUARDED" "$MG_OUT"
assert_match "(a) after apply, the IPv6 DNAT is guarded" \
    "^ok: DNAT: udp port 11211 → \\[fd00::2\\]:11211 .*: $GUARDED" "$MG_OUT"
mg_run remove
assert_eq "(a) remove exits 0" 0 "$MG_RC"
iptables-legacy -t nat -F
ip6tables-legacy -t nat -F

# --- (b) Docker's rule as iptables-nft writes it: nft table ip nat, chain DOCKER -----------------
iptables-nft -t nat -N DOCKER
iptables-nft -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
iptables-nft -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 11211 -j DNAT --to-destination 172.17.0.2:11211
netlink=$(nft --debug=netlink list table ip nat 2>/dev/null)
assert_match "(b) oracle: the port is a native payload/cmp (0x2bcb = 11211)" \
    'cmp eq reg 1 0x0000cb2b' "$netlink"
echo "# iptables-nft wrote the DNAT as: $(grep -Eo 'target name DNAT rev [0-9]+|nat dnat[^]]*' <<<"$netlink" | head -n 1)"
doctor "(b) iptables-nft DNAT, no rules of ours" "$NFT"
assert_match "(b) the Docker DNAT is not guarded" \
    "^EXPOSURE: DNAT: tcp port 11211 → 172\\.17\\.0\\.2:11211 \\(nft table ip nat, chain DOCKER\\): $NOT_GUARDED" "$MG_OUT"
assert_match "(b) port 11211 is forwarded to the container" \
    '^ok: nothing listens on port 11211 here: it is forwarded by DNAT to 172\.17\.0\.2:11211 \(nft table ip nat, chain DOCKER\)$' "$MG_OUT"

# Our prerouting chain as the nftables backend writes it, by hand, in an inet memguard table
# without our marker: a squatter's table, which guards nothing in doctor's eyes.
squatter_table() {
    nft -f - <<NFT
table inet memguard {
    $1
    chain guard4 {
    }
    chain prerouting {
        type filter hook prerouting priority dstnat - 10; policy accept;
        meta nfproto ipv4 meta l4proto tcp th dport 11211 fib daddr type local jump guard4
    }
}
NFT
}
squatter_table ""
doctor "(b) a look-alike inet memguard without our marker" "$NFT"
assert_match "(b) a table that is not ours guards nothing" \
    "^EXPOSURE: DNAT: tcp port 11211 → 172\\.17\\.0\\.2:11211 \\(nft table ip nat, chain DOCKER\\): $NOT_GUARDED" "$MG_OUT"
assert_match "(b) and it is named among the foreign tables" \
    '^note: nftables holds .*inet memguard[,)]' "$MG_OUT"
nft delete table inet memguard
# The same with our marker (the table comment memguardd): ours.
squatter_table 'comment "memguardd"'
doctor "(b) hand-written prerouting chain" "$NFT"
assert_match "(b) the Docker DNAT is guarded by it" \
    "^ok: DNAT: tcp port 11211 → 172\\.17\\.0\\.2:11211 \\(nft table ip nat, chain DOCKER\\): $GUARDED" "$MG_OUT"
nft delete table inet memguard

mg_run apply --once --config "$NFT"
assert_eq "(b) apply --once (nftables) exits 0" 0 "$MG_RC"
doctor "(b) after apply" "$NFT"
assert_match "(b) after apply, the Docker DNAT is guarded" \
    "^ok: DNAT: tcp port 11211 → 172\\.17\\.0\\.2:11211 \\(nft table ip nat, chain DOCKER\\): $GUARDED" "$MG_OUT"
mg_run remove
assert_eq "(b) remove exits 0" 0 "$MG_RC"
iptables-nft -t nat -F DOCKER

# --- (c) docker run -p 11300:11211 and -p 11211:11300 ---------------------------------------
iptables-nft -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 11300 -j DNAT --to-destination 172.17.0.2:11211
iptables-nft -t nat -A DOCKER ! -i docker0 -p udp -m udp --dport 11211 -j DNAT --to-destination 172.17.0.3:11300
doctor "(c) 11300→11211 and 11211→11300" "$LEGACY"
assert_match "(c) host 11300 → container 11211: memcached reachable on an unguarded port" \
    '^EXPOSURE: DNAT: tcp port 11300 → 172\.17\.0\.2:11211 \(nft table ip nat, chain DOCKER\): NOT guarded: memcached.s port 11211 is reachable through port 11300, which is not in "ports"$' "$MG_OUT"
assert_match "(c) and the fix adds 11300 to the ports" \
    "^  fix: add 11300 to \"ports\" in $LEGACY, " "$MG_OUT"
assert_match "(c) host 11211 → container 11300: the guarded port is DNATed" \
    "^EXPOSURE: DNAT: udp port 11211 → 172\\.17\\.0\\.3:11300 \\(nft table ip nat, chain DOCKER\\): $NOT_GUARDED" "$MG_OUT"
doctor "(c) with 11300 in ports" "$BOTH_PORTS"
assert_no_match "(c) 11300 in ports: no longer 'not in ports'" 'which is not in "ports"' "$MG_OUT"
assert_match "(c) 11300 in ports: its DNAT is checked as a guarded port" \
    "^EXPOSURE: DNAT: tcp port 11300 → 172\\.17\\.0\\.2:11211 .*: $NOT_GUARDED" "$MG_OUT"
iptables-legacy -t mangle -N MEMGUARD
iptables-legacy -t mangle -A FORWARD -p tcp -m conntrack --ctstate DNAT --ctdir ORIGINAL \
    --ctorigdstport 11300 -m comment --comment memguard -j MEMGUARD
doctor "(c) hand-written mangle rule for 11300" "$BOTH_PORTS"
assert_match "(c) with our rule for 11300, that DNAT is guarded" \
    "^ok: DNAT: tcp port 11300 → 172\\.17\\.0\\.2:11211 .*: $GUARDED" "$MG_OUT"
iptables-legacy -t mangle -F FORWARD
iptables-legacy -t mangle -X MEMGUARD
iptables-nft -t nat -F DOCKER

# --- (d) DNAT to an address of this host: the packets meet INPUT on the port they are sent to ----
ip addr add 10.1.1.1/32 dev lo
iptables-legacy -t nat -A PREROUTING -p tcp --dport 11400 -j DNAT --to-destination 10.1.1.1:11211
iptables-legacy -t nat -A PREROUTING -p tcp --dport 11211 -j DNAT --to-destination 10.1.1.1:11300
mg_run apply --once --config "$LEGACY"
assert_eq "(d) apply --once exits 0" 0 "$MG_RC"
doctor "(d) DNAT to a local address" "$LEGACY"
assert_match "(d) 11400 → a local 11211: guarded by the INPUT rules" \
    '^ok: DNAT: tcp port 11400 → 10\.1\.1\.1:11211 \(iptables-legacy ipv4 table nat, chain PREROUTING\): lands in INPUT on port 11211, guarded there$' "$MG_OUT"
assert_match "(d) 11211 → a local 11300: reaches INPUT on an unguarded port" \
    '^EXPOSURE: DNAT: tcp port 11211 → 10\.1\.1\.1:11300 \(iptables-legacy ipv4 table nat, chain PREROUTING\): NOT guarded: the packets reach INPUT on port 11300, which memguardd does not guard$' "$MG_OUT"

finish
