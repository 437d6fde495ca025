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
#       client keeps working over udp and tcp, both families.
#   (b) "reverse_path_check": [] (reload): the forged set lands: the check is what stopped it.
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

b_config "$CONF" 1 "192.168.77.0/24" "fd98::/64"

mc() { b_mc "$@"; }
inside_get() { mc "$INS" tcp "$1" "$2" "get $3\r\n"; }
not() { ! "$@"; }
stored() { inside_get "$1" "$2" "$3" | grep -q '^VALUE'; }

# forge SRC DST KEY : a forged udp "set KEY", sent from CLI with the inside address SRC
forge_set() { mc "$CLI" udp "$1" "$2" "set $3 0 0 6\r\nforged\r\n" >/dev/null; }
forge_delete() { mc "$CLI" udp "$1" "$2" "delete $3\r\n" >/dev/null; }

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

# --- (b) ----------------------------------------------------------------------------------------
sed -i 's/^{/{\n  "reverse_path_check": [],/' "$CONF"
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 2 10 || fail "(b) no READY=1 after the reload"
for pair in "$IN4 $GW4 $H_SRV4" "$IN6 $GW6 $H_SRV6"; do
    read -r src gw outside_dst <<<"$pair"
    forge_set "$src" "$outside_dst" "g$src"
    check "(b) without the check, a set forged from $src lands" stored "$src" "$gw" "g$src"
done
mg_finish
