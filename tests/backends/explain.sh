#!/bin/bash
# backend_explain_<backend>: `memguardd explain ADDRESS` answers why a client can or cannot
# reach memcached, and each answer is checked against the kernel with the backend's own tools
# (iptables-legacy-save / ipset list, or nft -j list):
#   (a) an allowed address (in a conf.d fragment, with a comment): exit 0; the entry's network,
#       label, file and JSON path; the kernel's element that holds it (an ipset member for IPv4,
#       the allowlist being past the set threshold, and a -s rule for IPv6 on iptables-legacy;
#       an element of allow4/allow6 on nftables), as the tools show it.
#   (b) a blocked address: exit 1, "not on the list", nothing in the kernel holds it; with
#       log_blocked on, the daemon's count of the packets it blocked from it.
#   (c) an allowed source forged from the wrong interface: the udp reverse-path caveat, and the
#       kernel's strict reverse-path rule behind it.
#   (e) an open connection from an allowed address is listed.
#   (d) drift: an element taken out of the kernel by hand while the daemon is stopped: "the
#       config allows it but the kernel does not"; "no daemon running". Another tool's rule that
#       decides whatever ours say is named: on iptables-legacy an accept put above our jumps, on
#       nftables another table's drop for the port.
#   (f) --json carries the same verdict; a bad address or port: exit 2 and a clear error.
# Usage: explain.sh MEMGUARDD iptables-legacy|nftables   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$@"

b_topology
FORGED4=192.168.77.10
FRAGMENT=$TMP/memguard.d/10-batch.json
STATE=$TMP/state
mkdir -p "$TMP/memguard.d" "$STATE"
fillers=$(h_filler 20 | sed 's/.*/"&"/' | paste -sd, -)
mg_write_raw "$CONF" "{
  \"backend\": \"$B_BACKEND\",
  \"ports\": [$MG_PORT],
  \"protocols\": [\"tcp\", \"udp\"],
  \"allow\": [\"$H_OK6/128\", \"192.168.77.0/24\", $fillers],
  \"log_blocked\": true,
  \"metrics_file\": null,
  \"verify_interval_s\": 1
}"
mg_write_raw "$FRAGMENT" "{\"allow\": [{\"net\": \"$H_OK4/32\", \"comment\": \"batch host\"}]}"

explain() { h_mg explain "$@" --config "$CONF"; }
not() { ! "$@"; }
has() { grep -qF -- "$2" <<<"$1"; }

mg_start_listener notify
h_start_daemon daemon "$CONF" STATE_DIRECTORY="$STATE"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s"

# --- (a) ----------------------------------------------------------------------------------------
explain "$H_OK4"
note "$H_OUT"
check "(a) $H_OK4: exit 0 (got $H_RC: $H_ERR)" test "$H_RC" = 0
check "(a) names the entry, its label, fragment and JSON path" \
    has "$H_OUT" "ALLOWED by $H_OK4 \"batch host\" ($FRAGMENT, allow[0])"
explain "$H_OK4" --json
element4=$(jq -r '.groups[0].kernel.matches[0].element' <<<"$H_OUT")
where4=$(jq -r '.groups[0].kernel.matches[0].where' <<<"$H_OUT")
check "(a) --json: the entry's file and path" \
    test "$(jq -r '.groups[0].entry | "\(.file) \(.path) \(.label)"' <<<"$H_OUT")" = "$FRAGMENT allow[0] batch host"
check "(a) --json: the kernel accepts it, in sync" \
    test "$(jq -c '.groups[0].kernel | [.accepts, .in_sync]' <<<"$H_OUT")" = '[true,true]'
explain "$H_OK6" --json
element6=$(jq -r '.groups[0].kernel.matches[0].element' <<<"$H_OUT")
where6=$(jq -r '.groups[0].kernel.matches[0].where' <<<"$H_OUT")
check "(a) $H_OK6: allowed (exit $H_RC)" test "$H_RC" = 0
if [ "$B_BACKEND" = nftables ]; then
    check "(a) ipv4: the element is of inet memguard allow4 ($where4)" test "$where4" = "inet memguard allow4"
    check "(a) ipv4: nft -j list set allow4 holds $element4" grep -qx -- "$element4" <(b_nft_elems allow4)
    check "(a) ipv6: the element is of inet memguard allow6 ($where6)" test "$where6" = "inet memguard allow6"
    check "(a) ipv6: nft -j list set allow6 holds $element6" grep -qx -- "$element6" <(b_nft_elems allow6)
else
    check "(a) ipv4: the member is of ipset memguard4 ($where4)" test "$where4" = "ipset memguard4"
    check "(a) ipv4: ipset list memguard4 has the member $element4" \
        grep -qx -- "$element4" <(ipset list memguard4 | sed '1,/^Members:/d')
    check "(a) ipv6: the rule is in chain MEMGUARD ($where6)" test "$where6" = "chain MEMGUARD"
    check "(a) ipv6: ip6tables-legacy-save holds the rule: $element6" grep -qxF -- "$element6" <(mg_save ipv6)
fi

explain 127.0.0.1 --json
check "(a) 127.0.0.1: local, allowed by allow_loopback (exit $H_RC)" \
    test "$H_RC $(jq -r '[.groups[].verdict] | unique | join(",")' <<<"$H_OUT")" = "0 local"
check "(a) 127.0.0.1: the kernel's loopback rule of ours lets it in, in sync" \
    test "$(jq -c '[.groups[].kernel | [(.matches | length), .in_sync]] | unique' <<<"$H_OUT")" = '[[1,true]]'

# --- (b) ----------------------------------------------------------------------------------------
h_blocked "$H_OUT4" "$H_SRV4"
b_udp "$H_OUT4" "$H_SRV4" >/dev/null
explain_count() {
    explain "$H_OUT4" --json
    [ "$(jq -r '[.groups[].blocked_recently.packets // 0] | add' <<<"$H_OUT")" -ge 2 ]
}
mg_wait_until 5 explain_count
check "(b) $H_OUT4: exit 1 (got $H_RC)" test "$H_RC" = 1
check "(b) --json: verdict blocked" test "$(jq -r .verdict <<<"$H_OUT")" = blocked
check "(b) --json: no kernel element, in sync" \
    test "$(jq -c '[.groups[] | [(.kernel.matches | length), .kernel.in_sync]] | unique' <<<"$H_OUT")" = '[[0,true]]'
check "(b) the kernel's rules do not hold $H_OUT4" not b_allowed ipv4 "$H_OUT4/32"
check "(b) the daemon counted the blocked tcp packets" \
    test "$(jq -r '[.groups[].blocked_recently.services[] | select(.protocol == "tcp" and .port == 11211)] | length' <<<"$H_OUT")" -ge 1
explain "$H_OUT4"
note "$H_OUT"
check "(b) text: not on the list" has "$H_OUT" "BLOCKED — not on the list of guard default"
check "(b) text: in sync with the config" has "$H_OUT" "holds it (in sync with the config)"
check "(b) text: blocked recently, with a count" grep -qE 'blocked recently: [0-9]+ packets?, last ' <<<"$H_OUT"

# --- (c) ----------------------------------------------------------------------------------------
explain "$FORGED4" 11211/udp
note "$H_OUT"
check "(c) $FORGED4 udp: allowed by the config (exit $H_RC)" test "$H_RC" = 0
check "(c) the reverse-path caveat for udp" \
    has "$H_OUT" "udp: also needs a reverse path back out of the interface it arrives on"
if [ "$B_BACKEND" = nftables ]; then
    check "(c) the kernel holds the strict reverse-path drop for udp" \
        grep -q 'udp dport 11211 fib saddr . iif oif missing .*drop\|fib saddr . iif oif missing' \
        <(b_nft list chain inet memguard guard4)
else
    check "(c) the kernel holds the strict reverse-path drop for udp" \
        grep -q -- '-p udp .*-m rpfilter --invert .*-j DROP' <(iptables-legacy-save -t mangle)
fi
explain "$FORGED4" 11211/tcp
check "(c) no reverse-path caveat for tcp" not has "$H_OUT" "reverse path"

# --- (e) ----------------------------------------------------------------------------------------
b_hold "$H_OK4" "(e) the allowed client holds a connection"
explain "$H_OK4" 11211/tcp
note "$H_OUT"
check "(e) the open connection is listed" has "$H_OUT" "open connections: 1 tcp 11211 connection"
explain "$H_OK4" 11211/tcp --json
check "(e) --json: one tcp connection" \
    test "$(jq -c '.groups[0].connections' <<<"$H_OUT")" = '[{"protocol":"tcp","port":11211,"count":1}]'
touch "$TMP/held.go"

# --- (d) ----------------------------------------------------------------------------------------
h_stop_daemon
if [ "$B_BACKEND" = nftables ]; then
    b_nft delete element inet memguard allow4 "{ $H_OK4 }" || fail "(d) nft delete element"
    check "(d) nft no longer holds $H_OK4" not grep -qx -- "$H_OK4" <(b_nft_elems allow4)
else
    ipset del memguard4 "$H_OK4" || fail "(d) ipset del"
    check "(d) ipset no longer holds $H_OK4" not grep -qx -- "$H_OK4" <(ipset list memguard4 | sed '1,/^Members:/d')
fi
explain "$H_OK4"
note "$H_OUT"
check "(d) exit 0: the config allows it (got $H_RC)" test "$H_RC" = 0
check "(d) the drift is said plainly" has "$H_OUT" "the config allows it but the kernel does not"
check "(d) no daemon: recent blocked attempts unknown" \
    has "$H_OUT" "no daemon running: recent blocked attempts unknown"
explain "$H_OK4" --json
check "(d) --json: kernel does not accept, not in sync" \
    test "$(jq -c '[.groups[].kernel | [.accepts, .in_sync]] | unique' <<<"$H_OUT")" = '[[false,false]]'

if [ "$B_BACKEND" = iptables-legacy ]; then
    # another tool's accept above our jumps decides first: explain names it as -save prints it
    mg_ipt ipv4 -I INPUT -s "$H_OUT4" -p tcp --dport "$MG_PORT" -j ACCEPT || fail "(d) insert a foreign rule"
    foreign=$(mg_save ipv4 | grep -F -- "-A INPUT -s $H_OUT4/32")
    explain "$H_OUT4" 11211/tcp
    note "$H_OUT"
    check "(d) another tool's INPUT rule above ours is named as -save shows it ($foreign)" \
        has "$H_OUT" "another tool's rule decides whatever memguardd's say: INPUT rule 1: $foreign"
    mg_ipt ipv4 -D INPUT -s "$H_OUT4" -p tcp --dport "$MG_PORT" -j ACCEPT
else
    # another table's drop for the port is final in nftables, whatever our set allows
    b_nft -f - <<'NFT' || fail "(d) cannot add the foreign nftables table"
table inet foreign_fw {
    chain input {
        type filter hook input priority 10; policy accept;
        tcp dport 11211 drop
    }
}
NFT
    explain "$H_OK6"
    note "$H_OUT"
    check "(d) another table's drop for the port is named" \
        has "$H_OUT" "another tool's rule may decide whatever memguardd's say: nft table inet foreign_fw, chain input: drops tcp dport 11211"
    explain "$H_OK6" --json
    check "(d) --json: the drop is tcp's, not udp's" \
        test "$(jq -c '[.groups[] | [.services[0].protocol, (.kernel.ahead | length)]] | sort' <<<"$H_OUT")" = '[["tcp",1],["udp",0]]'
    b_nft delete table inet foreign_fw
fi

# --- (f) ----------------------------------------------------------------------------------------
explain 10.0.0.300
check "(f) a bad address: exit 2 (got $H_RC)" test "$H_RC" = 2
check "(f) a bad address: a clear error ($H_ERR)" has "$H_ERR" '"10.0.0.300" is not an IPv4 or IPv6 address'
explain 10.0.0.0/24
check "(f) a network, not an address: exit 2 (got $H_RC)" test "$H_RC" = 2
explain "$H_OUT4" 11211/sctp
check "(f) a bad protocol: exit 2 (got $H_RC): $H_ERR" test "$H_RC" = 2
explain "$H_OUT4" 11212
check "(f) a port no guard has: exit 2 (got $H_RC): $H_ERR" test "$H_RC" = 2
explain "$H_OUT4" 11211/udp --json
check "(f) --json parses; only udp was asked" \
    test "$(jq -c '[.groups[].services[].protocol] | unique' <<<"$H_OUT")" = '["udp"]'

mg_finish
