#!/bin/bash
# Two guards through the legacy backend (driven by guards_driver, straight through the library):
# the exact rules in iptables-legacy-save, each found by iptables-legacy -C, the labelled
# network's comment; real tcp and udp from a veth peer reaching guard "app-cache"'s port 11211
# only from its network and guard "pages"' port 11212 only from its own; blocked() equal to the
# counters iptables-legacy-save -c shows for our closing rules after that blocked traffic; a
# guard past the set threshold in its own set memguard4-pages; a look-alike comment left alone;
# remove leaves nothing. Every namespace, address and rule is the test's own.
# Usage: guards_backend.sh PATH/TO/memguardd PATH/TO/guards_driver   (root)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
mg_init "$1"
DRIVER=${2:?usage: $0 PATH/TO/memguardd PATH/TO/guards_driver}

# --- a peer namespace behind a veth pair: 10.77.{1,2,3}.2 there, .1 here ------------------------
ip link set lo up
unshare -n sleep 600 &
PEER=$!
mg_at_exit "kill $PEER 2>/dev/null"
for _ in $(seq 50); do
    [ "$(readlink /proc/$PEER/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
    sleep 0.02
done
ip link add h-peer type veth peer name eth0 netns "$PEER"
ip link set h-peer up
in_peer() { nsenter -t "$PEER" -n "$@"; }
in_peer ip link set lo up
in_peer ip link set eth0 up
for n in 1 2 3; do
    ip addr add "10.77.$n.1/24" dev h-peer
    in_peer ip addr add "10.77.$n.2/24" dev eth0
done

# --- servers here: tcp 11211 and 11212 answer "hi"; udp 11211 echoes --------------------------
python3 - <<'PY' &
import socket, threading
def tcp(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(b"hi"); c.close()
def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", port))
    while True:
        data, peer = s.recvfrom(64); s.sendto(data, peer)
for f, p in ((tcp, 11211), (tcp, 11212), (udp, 11211)):
    threading.Thread(target=f, args=(p,), daemon=True).start()
threading.Event().wait()
PY
SERVERS=$!
mg_at_exit "kill $SERVERS 2>/dev/null"
servers_listen() {
    [ "$(ss -Hltn 'sport = :11211 or sport = :11212' | wc -l)" = 2 ] && [ -n "$(ss -Hlun 'sport = :11211')" ]
}
for _ in $(seq 100); do servers_listen && break; sleep 0.05; done
servers_listen || { fail "setup: the servers listen on tcp 11211, 11212 and udp 11211 within 5 s"; finish; }

# probe PROTO SRC PORT : "ok" when the server answered from the peer's SRC, else "blocked"
probe() {
    in_peer python3 - "$@" <<'PY'
import socket, sys
proto, src, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.settimeout(1.0)
s.bind((src, 0))
try:
    if proto == "tcp":
        s.connect(("10.77.3.1", port)); ok = s.recv(2) == b"hi"
    else:
        s.sendto(b"hey", ("10.77.3.1", port)); ok = s.recv(8) == b"hey"
except OSError:
    ok = False
print("ok" if ok else "blocked")
PY
}
expect() { # expect PREFIX PROTO SRC PORT WANT
    assert_eq "$1: $2 from $3 to $4 is $5" "$5" "$(probe "$2" "$3" "$4")"
}
A=10.77.1.2 B=10.77.2.2 OTHER=10.77.3.2
expect "before" tcp $OTHER 11211 ok
expect "before" tcp $OTHER 11212 ok

# --- apply: the exact rules ---------------------------------------------------------------------
TAG='-m comment --comment memguard'
expected4() {
    echo ":MEMGUARD - [0:0]"
    echo "-A INPUT -p tcp -m tcp --dport 11211 $TAG -j MEMGUARD"
    echo "-A INPUT -p udp -m udp --dport 11211 $TAG -j MEMGUARD"
    echo "-A INPUT -p tcp -m tcp --dport 11212 $TAG -j MEMGUARD"
    echo "-A MEMGUARD -i lo $TAG -j ACCEPT"
    echo "-A MEMGUARD -m conntrack --ctstate RELATED,ESTABLISHED $TAG -j ACCEPT"
    echo "-A MEMGUARD -s 10.77.1.0/24 -p tcp -m tcp --dport 11211 -m comment --comment \"memguard: peer a\" -j ACCEPT"
    echo "-A MEMGUARD -s 10.77.1.0/24 -p udp -m udp --dport 11211 -m comment --comment \"memguard: peer a\" -j ACCEPT"
    echo "-A MEMGUARD -s 10.77.2.0/24 -p tcp -m tcp --dport 11212 $TAG -j ACCEPT"
    echo "-A MEMGUARD -p tcp $TAG -j DROP"
    echo "-A MEMGUARD $TAG -j DROP"
}
out=$("$DRIVER" apply) || fail "apply: driver failed" "$out"
assert_match "apply: ipv4 created the shared chain" '^ipv4: created chain MEMGUARD with 7 rules, added 3 rules to INPUT' "$out"
assert_eq "apply: ipv4 save shows exactly the two guards' rules" "$(expected4)" "$(save 4 | ours)"
assert_ok "apply: -C finds guard app-cache's labelled tcp accept" iptables-legacy -C MEMGUARD -s 10.77.1.0/24 -p tcp -m tcp --dport 11211 -m comment --comment "memguard: peer a" -j ACCEPT
assert_ok "apply: -C finds guard app-cache's labelled udp accept" iptables-legacy -C MEMGUARD -s 10.77.1.0/24 -p udp -m udp --dport 11211 -m comment --comment "memguard: peer a" -j ACCEPT
assert_ok "apply: -C finds guard pages' accept" iptables-legacy -C MEMGUARD -s 10.77.2.0/24 -p tcp -m tcp --dport 11212 -m comment --comment memguard -j ACCEPT
assert_ok "apply: -C finds the tcp closing rule" iptables-legacy -C MEMGUARD -p tcp -m comment --comment memguard -j DROP
assert_ok "apply: -C finds the catch-all closing rule" iptables-legacy -C MEMGUARD -m comment --comment memguard -j DROP
assert_ok "apply: -C finds the pages jump" iptables-legacy -C INPUT -p tcp -m tcp --dport 11212 -m comment --comment memguard -j MEMGUARD
assert_ok "apply: -C finds the pages DNAT jump" iptables-legacy -t mangle -C FORWARD -p tcp -m conntrack --ctstate DNAT --ctorigdstport 11212 --ctdir ORIGINAL -m comment --comment memguard -j MEMGUARD
assert_ok "apply: -C finds app-cache's reverse-path drop" iptables-legacy -t mangle -C PREROUTING -p udp -m udp --dport 11211 -m addrtype --dst-type LOCAL,BROADCAST,ANYCAST,MULTICAST -m rpfilter --invert -m comment --comment memguard -j DROP
assert_fails "apply: pages (tcp only) has no reverse-path drop" iptables-legacy -t mangle -C PREROUTING -p tcp -m tcp --dport 11212 -m addrtype --dst-type LOCAL,BROADCAST,ANYCAST,MULTICAST -m rpfilter --invert -m comment --comment memguard -j DROP
assert_ok "apply: -C finds the ipv6 app-cache accept" ip6tables-legacy -C MEMGUARD -s fd77:1::/64 -p udp -m udp --dport 11211 -m comment --comment memguard -j ACCEPT
assert_eq "apply: compare is in sync" 0 "$("$DRIVER" compare | head -n1)"

# --- traffic: each guard's port only from its own network ---------------------------------------
expect "guarded" tcp $A 11211 ok
expect "guarded" udp $A 11211 ok
expect "guarded" tcp $A 11212 blocked
expect "guarded" tcp $B 11212 ok
expect "guarded" tcp $B 11211 blocked
expect "guarded" udp $B 11211 blocked
expect "guarded" tcp $OTHER 11211 blocked
expect "guarded" tcp $OTHER 11212 blocked
expect "guarded" udp $OTHER 11211 blocked

# --- blocked(): the counters of our closing rules, as iptables-legacy-save -c shows them --------
# A rule with -p counts for that protocol; the catch-all DROP (below -p tcp) for udp.
saved_blocked() { # FAM
    local tool=iptables-legacy-save name=ipv4
    [ "$1" == 6 ] && tool=ip6tables-legacy-save name=ipv6
    { $tool -c -t filter; $tool -c -t mangle; } | awk -v fam=$name '
        /--comment "?memguard/ && / -j (DROP|REJECT)/ {
            split(substr($1, 2, length($1) - 2), c, ":")
            p = / -p tcp / ? "tcp" : "udp"
            n[p] += c[1]; b[p] += c[2]
        }
        END { printf "%s tcp %d %d\n%s udp %d %d\n", fam, n["tcp"], b["tcp"], fam, n["udp"], b["udp"] }'
}
sleep 1 # no SYN retransmission of a blocked probe is still on its way
got=$("$DRIVER" blocked)
assert_eq "blocked: ipv4 equals the save counters" "$(saved_blocked 4)" "$(grep '^ipv4 ' <<<"$got")"
assert_eq "blocked: ipv6 equals the save counters" "$(saved_blocked 6)" "$(grep '^ipv6 ' <<<"$got")"
tcp_packets=$(awk '$1 == "ipv4" && $2 == "tcp" { print $3 }' <<<"$got")
udp_packets=$(awk '$1 == "ipv4" && $2 == "udp" { print $3 }' <<<"$got")
if [ "${tcp_packets:-0}" -ge 4 ]; then pass "blocked: ipv4 tcp counted the blocked SYNs ($tcp_packets)"; else fail "blocked: ipv4 tcp counted $tcp_packets" "$got"; fi
if [ "${udp_packets:-0}" -ge 2 ]; then pass "blocked: ipv4 udp counted the blocked datagrams ($udp_packets)"; else fail "blocked: ipv4 udp counted $udp_packets" "$got"; fi

# --- a look-alike comment is somebody else's ----------------------------------------------------
iptables-legacy -A INPUT -p tcp --dport 11211 -m comment --comment "memguard:x" -j ACCEPT
assert_eq "look-alike: compare is still in sync" 0 "$("$DRIVER" compare | head -n1)"

# --- guard pages past the threshold: its own set ------------------------------------------------
out=$("$DRIVER" apply --set) || fail "set: driver failed" "$out"
assert_match "set: created ipset memguard4-pages" 'created ipset memguard4-pages with 21 networks' "$out"
assert_ok "set: memguard4-pages exists" ipset list -n memguard4-pages
assert_fails "set: no default set" ipset list -n memguard4
assert_ok "set: -C finds pages' set rule" iptables-legacy -C MEMGUARD -p tcp -m tcp --dport 11212 -m set --match-set memguard4-pages src -m comment --comment memguard -j ACCEPT
assert_eq "set: compare is in sync" 0 "$("$DRIVER" compare --set | head -n1)"
expect "set" tcp $B 11212 ok
expect "set" tcp $B 11211 blocked
expect "set" tcp $A 11211 ok
out=$("$DRIVER" apply) || fail "set: driver failed going back" "$out"
assert_match "set: back below the threshold destroys it" 'destroyed ipset memguard4-pages' "$out"
assert_fails "set: memguard4-pages is gone" ipset list -n memguard4-pages

# --- remove: nothing of ours left, the look-alike stays -----------------------------------------
out=$("$DRIVER" remove) || fail "remove: driver failed" "$out"
assert_eq "remove: ipv4 holds nothing of ours" "" "$(save 4 | grep -E -- '^:MEMGUARD |-j MEMGUARD|--comment "?memguard(:? |")' | grep -v 'memguard:x' || true)"
assert_eq "remove: ipv6 holds nothing of ours" "" "$(save 6 | ours)"
assert_ok "remove: the look-alike rule stays" iptables-legacy -C INPUT -p tcp -m tcp --dport 11211 -m comment --comment "memguard:x" -j ACCEPT
expect "removed" tcp $OTHER 11212 ok
finish
