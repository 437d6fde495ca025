#!/bin/bash
# backend_dnat_paths_<backend>: a connection DNATed from the guarded port is judged by the port
# its client asked for, whatever the address it asked at, by the rules and by the sweep.
#
#   CLI (10.0.0.5 fd99::5 outside, 10.0.0.10 fd99::10 allowed) -- h-cli/h-srv -- SRV
#   SRV (the daemon; forwarding on) -- c-srv/c-ctr -- CTR (172.30.0.2 fd30::2, memcached)
# SRV's nat PREROUTING DNATs tcp and udp 11211 to CTR, testing no destination type (a
# hand-written `-j DNAT`, iptables-legacy's nat table). With forwarding on, SRV owns the
# subnet-router anycast addresses fd99:: and fd30::. CLI routes 192.0.2.0/24 (nobody's) through
# SRV, and sends fd99:: and the IPv4 broadcast, network and multicast addresses to SRV's MAC
# (a static neighbour entry, hand-made frames), as a host on the link can.
#
#   sweep: before the daemon starts, each client holds a tcp connection and a udp flow
#       DNATed through SRV's own address 10.0.0.1, the anycast address fd99:: and the
#       routed-through address 192.0.2.7. After READY=1, the outside flows are cut (conntrack
#       shows no entry from 10.0.0.5 or fd99::5; the next "version" gets no answer) and the
#       allowed ones still answer.
#   rules: the outsider's tcp connect and udp `set` to [fd99::]:11211 and [fd30::]:11211,
#       and its udp `set`s to 10.0.0.255, 10.0.0.0, 224.0.0.1 and 255.255.255.255, do not land
#       in the container; the allowed client's do.
# Usage: dnat_paths.sh MEMGUARDD iptables-legacy|nftables   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$@"
h_need conntrack

CTR4=172.30.0.2 CTR6=fd30::2 ANY6=fd99:: OTHER_ANY6=fd30:: THROUGH4=192.0.2.7
h_netns SRV
h_netns CLI
h_netns CTR
h_link "$SRV" "$CLI"
H_NS=$SRV
h_at "$SRV" ip link add c-srv type veth peer name c-ctr netns "$CTR" &&
    h_at "$SRV" ip addr add 172.30.0.1/24 dev c-srv && h_at "$SRV" ip addr add fd30::1/64 dev c-srv nodad &&
    h_at "$SRV" ip link set c-srv up &&
    h_at "$CTR" ip addr add $CTR4/24 dev c-ctr && h_at "$CTR" ip addr add $CTR6/64 dev c-ctr nodad &&
    h_at "$CTR" ip link set c-ctr up &&
    h_at "$CTR" ip route add default via 172.30.0.1 && h_at "$CTR" ip -6 route add default via fd30::1 ||
    mg_fatal "cannot set up the container's link"
h_at "$SRV" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
    mg_fatal "cannot turn forwarding on"
for conf in all default h-srv; do
    h_at "$SRV" sysctl -qw "net.ipv4.conf.$conf.rp_filter=0" || mg_fatal "rp_filter=0 on $conf"
done
for proto in tcp udp; do
    iptables-legacy -t nat -A PREROUTING -p $proto --dport "$MG_PORT" -j DNAT --to-destination "$CTR4:$MG_PORT" &&
        ip6tables-legacy -t nat -A PREROUTING -p $proto --dport "$MG_PORT" -j DNAT --to-destination "[$CTR6]:$MG_PORT" ||
        mg_fatal "cannot add the DNAT rules"
done
SRV_MAC=$(h_at "$SRV" ip -br link show h-srv | awk '{ print $3 }')
h_at "$CLI" ip route add 192.0.2.0/24 via $H_SRV4 &&
    h_at "$CLI" ip -6 route add fd30::/64 via $H_SRV6 &&
    h_at "$CLI" ip -6 neigh replace $ANY6 lladdr "$SRV_MAC" dev h-cli nud permanent ||
    mg_fatal "cannot set up the client's routes"
anycast_owned() { h_at "$SRV" grep -q 'fd990000000000000000000000000000' /proc/net/anycast6; }
mg_wait_until 5 anycast_owned || mg_fatal "the server does not own the anycast address $ANY6"
h_memcached "$CTR" "$MG_PORT"
CONF=$TMP/memguard.json
b_config "$CONF" 1 "$H_OK4/32" "$H_OK6/128"

# in_container KEY : the container's memcached holds KEY
in_container() { b_mc "$CTR" tcp 127.0.0.1 127.0.0.1 "get $1\r\n" | grep -q '^VALUE'; }
not() { ! "$@"; }

# --- sweep: connections held from before the daemon starts ---------------------------------------
# hold NAME PROTO SRC DST : a held connection (tcp) or flow (udp) from CLI (hclient.py hold)
hold() {
    local name=$1 proto=$2 src=$3 dst=$4 udp=()
    [ "$proto" = udp ] && udp=(--udp)
    rm -f "$TMP/$name".*
    "${MG_ORPHAN_GUARD[@]}" nsenter -t "$CLI" -n -- "$MG_PYTHON" "$H_CLIENT_PY" hold "$src" "$dst" "$MG_PORT" \
        --ready "$TMP/$name.ready" --go "$TMP/$name.go" --out "$TMP/$name.out" --timeout 2 --max 50 \
        "${udp[@]}" 2>"$TMP/$name.stderr" &
    MG_PIDS+=($!)
}
first_ok() { test -s "$TMP/$1.ready" && grep -q '^first ok' "$TMP/$1.ready"; }
outcome() { cat "$TMP/$1.out" 2>/dev/null || echo "(no outcome)"; }
# ct_from FAMILY SRC : the server's conntrack entries to port 11211 from SRC
ct_from() {
    conntrack -L -f "$1" -p tcp --dport "$MG_PORT" -s "$2" 2>/dev/null
    conntrack -L -f "$1" -p udp --dport "$MG_PORT" -s "$2" 2>/dev/null
}

# Neighbour discovery and the first SYN can take longer than a hold's timeout: each path
# answers a connect once (up to 10 s) before anything is held, and leaves no entry behind.
opens() { h_at "$CLI" "$MG_PYTHON" "$H_CLIENT_PY" probe "$1" "$2" "$MG_PORT" --timeout 1 >/dev/null; }
for pair in "$H_OUT4 $H_SRV4" "$H_OK4 $H_SRV4" "$H_OUT6 $ANY6" "$H_OK6 $ANY6" "$H_OUT4 $THROUGH4" "$H_OK4 $THROUGH4"; do
    read -r src dst <<<"$pair"
    mg_wait_until 10 opens "$src" "$dst" || mg_fatal "no connect from $src to $dst through the DNAT"
done
conntrack -F >/dev/null 2>&1 || mg_fatal "cannot flush the server's conntrack table"

FLOWS=()
for via in "local $H_SRV4 $H_SRV6" "anycast $ANY6 $ANY6" "through $THROUGH4 $THROUGH4"; do
    read -r label dst4 dst6 <<<"$via"
    for who in "out $H_OUT4 $H_OUT6" "ok $H_OK4 $H_OK6"; do
        read -r client src4 src6 <<<"$who"
        src=$src4 dst=$dst4
        [ "$label" = anycast ] && src=$src6 dst=$dst6
        for proto in tcp udp; do
            hold "$client-$label-$proto" $proto "$src" "$dst"
            FLOWS+=("$client-$label-$proto")
        done
    done
done
for name in "${FLOWS[@]}"; do
    mg_wait_until 10 first_ok "$name" ||
        mg_fatal "$name: no first answer before the daemon ($(cat "$TMP/$name.ready" 2>/dev/null))"
done
check "sweep: before the daemon: the outsider's flows are tracked" test -n "$(ct_from ipv4 $H_OUT4)$(ct_from ipv6 $H_OUT6)"
check "sweep: before the daemon: the outsider's flows were DNATed" \
    test "$(ct_from ipv4 $H_OUT4 | grep -c "src=$CTR4")" -ge 4

mg_start_listener notify
h_start_daemon daemon "$CONF"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s"

check "sweep: after READY=1: conntrack holds no entry from $H_OUT4" test -z "$(ct_from ipv4 $H_OUT4)"
check "sweep: after READY=1: conntrack holds no entry from $H_OUT6" test -z "$(ct_from ipv6 $H_OUT6)"
for name in "${FLOWS[@]}"; do touch "$TMP/$name.go"; done
for name in "${FLOWS[@]}"; do
    mg_wait_until 10 test -s "$TMP/$name.out" || true
    out=$(outcome "$name")
    case $name:$out in
    out-*:"no answer"* | out-*:reset* | out-*:closed) pass "sweep: held $name is cut: $out" ;;
    out-*) fail "sweep: held $name still works after the sweep: $out" ;;
    ok-*:answered*) pass "sweep: held $name still works: $out" ;;
    *) fail "sweep: held $name was cut: $out" ;;
    esac
done
check "sweep: the allowed client's flows are still tracked" test -n "$(ct_from ipv4 $H_OK4)"

# --- rules: new connections to addresses that are not the server's unicast ones ----------------
for pair in "$H_OUT6 out" "$H_OK6 ok"; do
    read -r src who <<<"$pair"
    for dst in $ANY6 $OTHER_ANY6; do
        key=$who-tcp-${dst//:/_}
        answer=$(b_mc "$CLI" tcp "$src" "$dst" "set $key 0 0 2\r\nok\r\n")
        if [ $who = out ]; then
            check "rules: the outsider's tcp set to [$dst] got no answer ($answer)" test "$answer" = silent
            check "rules: the outsider's tcp set to [$dst] did not land" not in_container "$key"
        else
            check "rules: the allowed client's tcp set to [$dst] is stored" test "$answer" = STORED
        fi
        key=$who-udp-${dst//:/_}
        b_mc "$CLI" udp "$src" "$dst" "set $key 0 0 2\r\nok\r\n" >/dev/null
        if [ $who = out ]; then
            check "rules: the outsider's udp set to [$dst] did not land" not in_container "$key"
        else
            check "rules: the allowed client's udp set to [$dst] landed" in_container "$key"
        fi
    done
done
# frame SRC DST KEY : a udp `set KEY` from SRC to DST, in a frame to the server's MAC
frame() {
    h_at "$CLI" "$MG_PYTHON" "$B_DIR/frame.py" h-cli "$SRV_MAC" "$1" "$2" "$MG_PORT" \
        "set $3 0 0 2\r\nok\r\n" || fail "rules: cannot send a frame from $1 to $2"
}
# The outsider's frame goes first, on the same path: once the allowed client's has landed, the
# outsider's would have too.
for dst in 10.0.0.255 10.0.0.0 224.0.0.1 255.255.255.255; do
    frame $H_OUT4 $dst "out-frame-$dst"
    frame $H_OK4 $dst "ok-frame-$dst"
    check "rules: the allowed client's udp set to $dst landed" mg_wait_until 2 in_container "ok-frame-$dst"
    check "rules: the outsider's udp set to $dst did not land" not in_container "out-frame-$dst"
done
mg_finish
