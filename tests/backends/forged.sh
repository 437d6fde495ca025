#!/bin/bash
# backend_forged_<backend>: memcached's UDP protocol has no handshake, so a host that forges an
# allowed source address could set and delete keys. The reverse-path check must stop it.
#
#   SRV (memcached, the daemon) -- h-srv/h-cli -- CLI: the outside link; its client is on no
#                                                     list, and it forges the inside addresses
#   SRV -- m-ins/m-cli -- INS: the inside link, 192.168.77.0/24 and fd98::/64, allowed
#
#   (a) default config: a forged UDP `set` and `delete` from 192.168.77.10 and fd98::10 (owned
#       by CLI's outside veth) do not land, as the inside client's `get` shows; the inside
#       client keeps working over udp and tcp, both families. Nor does a forged `set` sent to
#       an address that is not the server's own but that memcached (bound to all addresses)
#       receives all the same: the server link's IPv4 broadcast, 255.255.255.255, 224.0.0.1,
#       ff02::1 and the server link's IPv6 subnet-router anycast address (SRV forwards IPv6, so
#       it has one).
#   (b) "reverse_path_check": [] (reload): the forged sets land, to the server's address and to
#       each of the others: the check is what stopped them.
# The namespace's own rp_filter is set to 0 (the kernel's default), so only our rules judge.
# Usage: forged.sh MEMGUARDD iptables-legacy|nftables   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$@"

IN4=192.168.77.10 IN6=fd98::10 GW4=192.168.77.1 GW6=fd98::1
b_topology
h_netns INS
h_at "$SRV" ip link add m-ins type veth peer name m-cli netns "$INS" &&
    h_at "$SRV" ip addr add $GW4/24 dev m-ins && h_at "$SRV" ip addr add $GW6/64 dev m-ins nodad &&
    h_at "$SRV" ip link set m-ins up &&
    h_at "$INS" ip addr add $IN4/24 dev m-cli && h_at "$INS" ip addr add $IN6/64 dev m-cli nodad &&
    h_at "$INS" ip link set m-cli up &&
    h_at "$CLI" ip addr add $IN4/32 dev h-cli && h_at "$CLI" ip addr add $IN6/128 dev h-cli nodad ||
    mg_fatal "cannot set up the inside link and the forged addresses"
for conf in all default h-srv m-ins; do
    h_at "$SRV" sysctl -qw "net.ipv4.conf.$conf.rp_filter=0" || mg_fatal "rp_filter=0 on $conf"
done
h_at "$SRV" sysctl -qw net.ipv6.conf.all.forwarding=1 || mg_fatal "IPv6 forwarding on"

b_config "$CONF" 1 "192.168.77.0/24" "fd98::/64"

mc() { b_mc "$@"; }
inside_get() { mc "$INS" tcp "$1" "$2" "get $3\r\n"; }
not() { ! "$@"; }
stored() { inside_get "$1" "$2" "$3" | grep -q '^VALUE'; }

# forge SRC DST KEY : a forged udp "set KEY", sent from CLI with the inside address SRC
forge_set() { mc "$CLI" udp "$1" "$2" "set $3 0 0 6\r\nforged\r\n" >/dev/null; }
forge_delete() { mc "$CLI" udp "$1" "$2" "delete $3\r\n" >/dev/null; }

# Destinations that are not the server's address but reach memcached: SRC GW DST KEY (h_link's
# server link is a /24 and a /64; ff02::1 is sent out of the forging host's link to the server)
FORGED_TO=("$IN4 $GW4 ${H_SRV4%.*}.255 bcast4" "$IN4 $GW4 255.255.255.255 lbcast4"
    "$IN4 $GW4 224.0.0.1 mcast4" "$IN6 $GW6 ff02::1%h-cli mcast6" "$IN6 $GW6 ${H_SRV6%1} anycast6")

mg_start_listener notify
h_start_daemon daemon "$CONF"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s"

# --- (a) ----------------------------------------------------------------------------------------
for pair in "$IN4 $GW4 $H_SRV4" "$IN6 $GW6 $H_SRV6"; do
    read -r src gw outside_dst <<<"$pair"
    check "(a) inside $src: udp set is stored" \
        test "$(mc "$INS" udp "$src" "$gw" "set u$src 0 0 2\r\nok\r\n")" = STORED
    check "(a) inside $src: tcp get finds it" stored "$src" "$gw" "u$src"
    forge_set "$src" "$outside_dst" "f$src"
    check "(a) a set forged from $src to $outside_dst did not land" not stored "$src" "$gw" "f$src"
    check "(a) inside $src: tcp set is stored" \
        test "$(mc "$INS" tcp "$src" "$gw" "set t$src 0 0 2\r\nok\r\n")" = STORED
    forge_delete "$src" "$outside_dst" "t$src"
    check "(a) a delete forged from $src did not land" stored "$src" "$gw" "t$src"
done
for target in "${FORGED_TO[@]}"; do
    read -r src gw dst key <<<"$target"
    forge_set "$src" "$dst" "a-$key"
    check "(a) a set forged from $src to $dst did not land" not stored "$src" "$gw" "a-$key"
done

# --- (b) ----------------------------------------------------------------------------------------
sed -i 's/^{/{\n  "reverse_path_check": [],/' "$CONF"
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 2 10 || fail "(b) no READY=1 after the reload"
for pair in "$IN4 $GW4 $H_SRV4" "$IN6 $GW6 $H_SRV6"; do
    read -r src gw outside_dst <<<"$pair"
    forge_set "$src" "$outside_dst" "g$src"
    check "(b) without the check, a set forged from $src lands" stored "$src" "$gw" "g$src"
done
for target in "${FORGED_TO[@]}"; do
    read -r src gw dst key <<<"$target"
    forge_set "$src" "$dst" "b-$key"
    check "(b) without the check, a set forged from $src to $dst lands" \
        stored "$src" "$gw" "b-$key"
done
mg_finish
