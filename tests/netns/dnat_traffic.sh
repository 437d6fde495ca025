#!/bin/bash
# Real packets on the DNAT path, without Docker: this namespace is the "host", with
# a DNAT of port 11211 (tcp and udp, IPv4 and IPv6) in nat PREROUTING to memcached in a
# "container" namespace, and forwarding on; two client namespaces, one allowed and one not.
# Before memguardd the DNAT path is open to both (so the test can see it close); after an apply
# the allowed client still gets its answers and the other gets none, over tcp and udp, IPv4 and
# IPv6; a udp packet with a forged allowed source is dropped by the reverse-path check, while the
# same forged packet routed through the host to the container's own address is left alone;
# remove opens the path again. Every namespace, address and rule is the test's own.
# Usage: dnat_traffic.sh PATH/TO/memguardd     (root; runs in its own network namespaces)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
mg_init "$@"
command -v memcached >/dev/null || { echo "SKIP: memcached not installed"; MG_DONE=1; exit 77; }
MC=$HERE/../e2e/mcclient.py

# --- namespaces: each a sleeping process of ours in a fresh network namespace ----------------
declare -A NS
spawn() { # spawn NAME : a namespace for NAME, linked to this one by a veth pair
    local name=$1
    unshare -n sleep 600 &
    NS[$name]=$!
    mg_at_exit "kill ${NS[$name]} 2>/dev/null"
    local i
    for i in $(seq 50); do # wait for the child to be in its own namespace
        [ "$(readlink /proc/${NS[$name]}/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
        sleep 0.02
    done
    ip link add "h-$name" type veth peer name eth0 netns "${NS[$name]}"
}
in_ns() { local name=$1; shift; nsenter -t "${NS[$name]}" -n "$@"; }
# link NAME SUBNET : host .1 / ::1, the namespace .2 / ::2 with its default route via the host
link() {
    local name=$1 n=$2
    ip link set "h-$name" up
    ip addr add "10.0.$n.1/24" dev "h-$name"
    ip addr add "fd00:$n::1/64" dev "h-$name" nodad
    in_ns "$name" ip link set lo up
    in_ns "$name" ip link set eth0 up
    in_ns "$name" ip addr add "10.0.$n.2/24" dev eth0
    in_ns "$name" ip addr add "fd00:$n::2/64" dev eth0 nodad
    in_ns "$name" ip route add default via "10.0.$n.1"
    in_ns "$name" ip -6 route add default via "fd00:$n::1"
}
ip link set lo up
spawn ok && link ok 1          # the allowed client: 10.0.1.2, fd00:1::2
spawn ctr && link ctr 2        # the container: 10.0.2.2, fd00:2::2
spawn no && link no 3          # a client not on the allowlist: 10.0.3.2, fd00:3::2
echo 1 >/proc/sys/net/ipv4/ip_forward
echo 1 >/proc/sys/net/ipv6/conf/all/forwarding
for proto in tcp udp; do
    iptables-legacy -t nat -A PREROUTING -p $proto --dport 11211 -j DNAT --to-destination 10.0.2.2:11211
    ip6tables-legacy -t nat -A PREROUTING -p $proto --dport 11211 -j DNAT --to-destination '[fd00:2::2]:11211'
done

# nsenter execs memcached, so $! is memcached itself (a shell function in the background would
# be a subshell, and killing it would leave memcached running)
nsenter -t "${NS[ctr]}" -n memcached -u nobody -p 11211 -U 11211 -t 1 -m 8 \
    >/dev/null 2>"$MG_WORK/memcached.err" &
MEMCACHED=$!
mg_at_exit "kill $MEMCACHED 2>/dev/null; wait $MEMCACHED 2>/dev/null"
for i in $(seq 50); do
    in_ns ctr python3 "$MC" probe 10.0.2.2 11211 --timeout 0.2 >/dev/null 2>&1 && break
    sleep 0.1
done
printf 'set k 0 0 5\r\nhello\r\nquit\r\n' | in_ns ctr nc -q 1 10.0.2.2 11211 >/dev/null

CONF=$MG_WORK/memguard.json
write_config "$CONF" drop 10.0.1.0/24 fd00:1::/64

# get CLIENT PROTO FAM : memcached's answer for k, through the host's address on the client's link
get() {
    local client=$1 proto=$2 fam=$3 n
    case $client in ok) n=1 ;; no) n=3 ;; esac
    local host=10.0.$n.1
    [ "$fam" == 6 ] && host=fd00:$n::1
    in_ns "$client" python3 "$MC" "$proto-get" "$host" 11211 k --timeout 1 2>&1 || true
}
# expect PREFIX CLIENT WANT : WANT is "hello" (answered) or "blocked", for each proto x family
expect() {
    local prefix=$1 client=$2 want=$3 proto fam got
    for fam in 4 6; do
        for proto in tcp udp; do
            got=$(get "$client" $proto $fam)
            if [ "$want" == blocked ]; then
                case "$got" in hello) fail "$prefix: $client ipv$fam $proto is blocked" "got an answer: $got" ;;
                *) pass "$prefix: $client ipv$fam $proto is blocked ($got)" ;; esac
            else
                assert_eq "$prefix: $client ipv$fam $proto gets memcached's answer" "$want" "$got"
            fi
        done
    done
}

# Neighbour discovery and the first SYN can take longer than a probe's timeout: wait until each
# path answers once (up to 10 s) before anything is measured.
for client in ok no; do
    for fam in 4 6; do
        for i in $(seq 20); do
            [ "$(get $client tcp $fam)" == hello ] && break
        done
    done
done
conntrack -F >/dev/null 2>&1 || true

# --- before memguardd: the DNAT path is open to everybody, INPUT never sees it --------------------
expect "before" ok hello
expect "before" no hello

# --- after apply: only the allowlist -----------------------------------------------------------
mg_run apply --once --config "$CONF"
assert_eq "apply: exits 0" 0 "$MG_RC"
conntrack -F >/dev/null 2>&1 || true # the "before" flows, so every probe below is a new one
expect "guarded" ok hello
expect "guarded" no blocked
counted=$(iptables-legacy -t mangle -L MEMGUARD -v -x -n | awk '$3 == "DROP" { n += $1 } END { print n + 0 }')
if [ "${counted:-0}" -gt 0 ]; then pass "guarded: mangle MEMGUARD's DROP counted the blocked ipv4 packets ($counted)"; else fail "guarded: mangle MEMGUARD's DROP counted nothing"; fi
assert_eq "guarded: INPUT's jumps saw none of it (DNAT path only)" "0 0" \
    "$(iptables-legacy -L INPUT -v -x -n | awk '/MEMGUARD/ { print $1 }' | xargs)"

# --- a forged allowed source from the other client's link: the reverse-path check drops it -----
in_ns no ip addr add 10.0.1.2/32 dev eth0
in_ns no ip addr add fd00:1::2/128 dev eth0 nodad
before4=$(iptables-legacy -t mangle -L PREROUTING -v -x -n | awk '/rpfilter/ { n += $1 } END { print n + 0 }')
before6=$(ip6tables-legacy -t mangle -L PREROUTING -v -x -n | awk '/rpfilter/ { n += $1 } END { print n + 0 }')
in_ns no python3 - <<'PY'
import socket, struct
for fam, src, dst in ((socket.AF_INET, "10.0.1.2", "10.0.3.1"), (socket.AF_INET6, "fd00:1::2", "fd00:3::1")):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(struct.pack("!HHHH", 1, 0, 1, 0) + b"get k\r\n", (dst, 11211))
    s.close()
PY
sleep 0.3
after4=$(iptables-legacy -t mangle -L PREROUTING -v -x -n | awk '/rpfilter/ { n += $1 } END { print n + 0 }')
after6=$(ip6tables-legacy -t mangle -L PREROUTING -v -x -n | awk '/rpfilter/ { n += $1 } END { print n + 0 }')
assert_eq "forged source: the ipv4 reverse-path drop took it" 1 $((after4 - before4))
assert_eq "forged source: the ipv6 reverse-path drop took it" 1 $((after6 - before6))
assert_eq "forged source: no conntrack entry for it on the host (dropped before nat)" "" \
    "$(conntrack -L -p udp --orig-src 10.0.1.2 --orig-dst 10.0.3.1 2>/dev/null || true)"
# Traffic routed on to another host is never ours to judge: a forged `set` to the container's own
# address (no DNAT; the kernel's rp_filter off) passes the reverse-path drops and lands.
sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.h-no.rp_filter=0
in_ns no python3 - <<'PY'
import socket, struct
for fam, src, dst, key in ((socket.AF_INET, "10.0.1.2", "10.0.2.2", "routed4"),
                           (socket.AF_INET6, "fd00:1::2", "fd00:2::2", "routed6")):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(struct.pack("!HHHH", 1, 0, 1, 0) + b"set " + key.encode() + b" 0 0 6\r\nrouted\r\n",
             (dst, 11211))
    s.close()
PY
for key in routed4 routed6; do
    for i in $(seq 20); do # the get may overtake the set still on its way (up to 2 s)
        got=$(in_ns ctr python3 "$MC" tcp-get 10.0.2.2 11211 $key 2>&1 || true)
        [ "$got" == routed ] && break
        sleep 0.1
    done
    assert_eq "routed forged source: its $key set reached the container" routed "$got"
done
# (the sets landed, so both packets have passed PREROUTING)
routed4=$(iptables-legacy -t mangle -L PREROUTING -v -x -n | awk '/rpfilter/ { n += $1 } END { print n + 0 }')
routed6=$(ip6tables-legacy -t mangle -L PREROUTING -v -x -n | awk '/rpfilter/ { n += $1 } END { print n + 0 }')
assert_eq "routed forged source: the ipv4 reverse-path drop did not see it" "$after4" "$routed4"
assert_eq "routed forged source: the ipv6 reverse-path drop did not see it" "$after6" "$routed6"
in_ns no ip addr del 10.0.1.2/32 dev eth0
in_ns no ip addr del fd00:1::2/128 dev eth0

# --- remove: the path is as it was --------------------------------------------------------------
mg_run remove
assert_eq "remove: exits 0" 0 "$MG_RC"
conntrack -F >/dev/null 2>&1 || true
expect "removed" no hello

finish
