#!/bin/bash
# backend_behaviour_<backend>: what an admin relies on, the same for both backends, judged by
# real clients over a veth pair (and the backend's own tool for the rules):
#   (a) started with a two-entry allowlist: the allowed client reaches memcached over tcp and
#       udp, both families; the outside client does not; loopback does; status names the
#       backend and exits 0; diff says in sync.
#   (b) a foreign accept for the port (an nftables table at an earlier priority, and an
#       iptables-nft rule) does not open it: our drop holds.
#   (c) a reload that takes the allowed client off the list blocks it, and cuts the
#       connection it held open.
#   (d) an invalid config at reload is refused, the rules stay; an invalid config at start
#       fails closed (loopback only).
#   (e) SIGTERM: the daemon exits 0 and the rules stay; started again with a broken config it
#       fails closed in the backend that holds them; remove takes them all out and says which
#       ports it left open to every source, and until when.
# Usage: behaviour.sh MEMGUARDD iptables-legacy|nftables   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$@"

b_topology
b_config "$CONF" 1 "$H_OK4/32" "$H_OK6/128"

not() { ! "$@"; }
# reach LABEL SRC DST : tcp and udp both answer; blocked LABEL SRC DST : neither does
reach() { b_reach "$@"; }
blocked() { b_blocked "$@"; }

# --- (a) ----------------------------------------------------------------------------------------
mg_start_listener notify
h_start_daemon daemon "$CONF"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s"
reach "(a)" $H_OK4 $H_SRV4
reach "(a)" $H_OK6 $H_SRV6
blocked "(a)" $H_OUT4 $H_SRV4
blocked "(a)" $H_OUT6 $H_SRV6
check "(a) loopback reaches memcached" h_loopback_reaches "$MG_PORT"
check "(a) the rules name the allowed ipv4 client" b_allowed ipv4 "$H_OK4/32"
check "(a) the rules name the allowed ipv6 client" b_allowed ipv6 "$H_OK6/128"
h_mg status --json --config "$CONF"
check "(a) status exits 0 (running, in sync): $H_RC" test "$H_RC" = 0
check "(a) status --json names the backend" test "$(jq -r .backend <<<"$H_OUT")" = "$B_BACKEND"
check "(a) the daemon says which backend runs" test "$(jq -r .daemon.backend <<<"$H_OUT")" = "$B_BACKEND"
h_mg diff --config "$CONF"
check "(a) diff: in sync (exit 0)" test "$H_RC" = 0
if [ "$B_BACKEND" = nftables ]; then
    # reading the legacy tables for leftovers must not create the mangle table (the kernel would
    # hook it into every packet's path)
    check "(a) no legacy mangle table was made" \
        not grep -qx mangle <(h_at "$SRV" cat /proc/net/ip_tables_names /proc/net/ip6_tables_names 2>/dev/null)
fi

# --- (b) ----------------------------------------------------------------------------------------
b_nft -f - <<'NFT' || fail "(b) cannot add the foreign nftables table"
table inet foreign_fw {
    chain input {
        type filter hook input priority -100; policy accept;
        tcp dport 11211 accept
        udp dport 11211 accept
    }
}
NFT
if command -v iptables-nft >/dev/null; then
    h_tool iptables-nft -I INPUT -p tcp --dport "$MG_PORT" -j ACCEPT
    h_tool ip6tables-nft -I INPUT -p tcp --dport "$MG_PORT" -j ACCEPT
fi
blocked "(b) with foreign accepts" $H_OUT4 $H_SRV4
blocked "(b) with foreign accepts" $H_OUT6 $H_SRV6
reach "(b) with foreign accepts" $H_OK4 $H_SRV4

# --- (c) ----------------------------------------------------------------------------------------
"${MG_ORPHAN_GUARD[@]}" nsenter -t "$CLI" -n -- "$MG_PYTHON" "$H_CLIENT_PY" hold $H_OK4 $H_SRV4 "$MG_PORT" \
    --ready "$TMP/held.ready" --go "$TMP/held.go" --out "$TMP/held.out" --timeout 2 --max 30 \
    2>"$TMP/held.stderr" &
MG_PIDS+=($!)
mg_wait_until 5 test -s "$TMP/held.ready" && grep -q '^first ok' "$TMP/held.ready" ||
    fail "(c) the allowed client holds a connection: $(cat "$TMP/held.ready" 2>/dev/null)"
b_config "$CONF" 1 "$H_OK6/128"
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 2 10 || fail "(c) no READY=1 after the reload"
blocked "(c) after the reload" $H_OK4 $H_SRV4
reach "(c) after the reload" $H_OK6 $H_SRV6
not_allowed() { ! b_allowed "$@"; }
check "(c) the ipv4 client is off the rules" not_allowed ipv4 "$H_OK4/32"
touch "$TMP/held.go"
mg_wait_until 5 test -s "$TMP/held.out"
check "(c) its held connection is cut: $(cat "$TMP/held.out" 2>/dev/null)" \
    grep -qE '^(no answer|reset|closed)' "$TMP/held.out"

# --- (d) ----------------------------------------------------------------------------------------
before=$(b_ours)
mg_write_raw "$CONF" '{"allow": ["not a network"]}'
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 3 10 || fail "(d) no READY=1 after the rejected reload"
h_same "(d) a rejected reload leaves the rules byte-identical" "$before" "$(b_ours)"
reach "(d) after the rejected reload" $H_OK6 $H_SRV6

# --- (e) ----------------------------------------------------------------------------------------
h_stop_daemon
check "(e) SIGTERM: exit 0 (got ${MG_EXIT_STATUS:-none})" test "${MG_EXIT_STATUS:-}" = 0
h_same "(e) SIGTERM: the rules stay" "$before" "$(b_ours)"
blocked "(e) after SIGTERM" $H_OUT4 $H_SRV4
# --- (d) at start: fail closed, in the backend that holds our rules -------------------------
echo '{"allow": [' >"$TMP/broken.json" && chmod 600 "$TMP/broken.json"
h_start_daemon broken "$TMP/broken.json"
mg_wait_notify READY=1 4 10 || fail "(d) no READY=1 when failing closed"
blocked "(d) failing closed" $H_OK6 $H_SRV6
check "(d) failing closed: loopback reaches memcached" h_loopback_reaches "$MG_PORT"
h_mg status --json --config "$TMP/broken.json"
check "(d) failing closed in the backend our rules were in ($B_BACKEND)" \
    test "$(jq -r .daemon.backend <<<"$H_OUT")" = "$B_BACKEND"
h_stop_daemon

h_mg remove
check "(e) remove exits 0: $H_OUT $H_ERR" test "$H_RC" = 0
check "(e) remove: nothing of ours is left" test -z "$(b_ours)"
check "(e) remove: the foreign table is still there" b_nft list table inet foreign_fw
for fam in ipv4 ipv6; do
    check "(e) remove says $fam's port $MG_PORT is now open to every source" \
        grep -q "^$B_BACKEND $fam: port(s) $MG_PORT now OPEN to every source" <<<"$H_OUT"
done
check "(e) remove says the ports stay open until memguardd runs again" \
    grep -q "stay open until memguardd runs again" <<<"$H_OUT"
h_mg remove
check "(e) a second remove: nothing was there, so nothing is said to be opened" \
    eval '[ "$H_RC" = 0 ] && ! grep -q "OPEN" <<<"$H_OUT"'
mg_finish
