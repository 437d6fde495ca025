#!/bin/bash
# hostile_fail_closed_ports: an invalid config at the first start fails closed for the ports it
# names, not only for the default one.
#
# The file is `{"ports": [11311], "allow": ["10.0.0.0/8"], "alow": []}` (an unknown key makes it
# invalid). Nothing of memguardd's is in the kernel yet, so only the file can say that 11311 is
# to be guarded. Afterwards, in both families:
#   - INPUT has our jumps for 11211 and 11311, tcp and udp (iptables -C);
#   - MEMGUARD holds only the loopback ACCEPT and the DROP (loopback only);
#   - from the client namespace, 10.0.0.5 and even 10.0.0.10 (inside the 10.0.0.0/8 of the
#     invalid file) get no answer on 11211 nor on 11311, while 127.0.0.1 on the server does;
#   - the log names both ports on a line that says "fail".
# memcached listens on 11211 and on 11311 in the server namespace.
#
# nftables: a daemon without a usable config cannot read "backend" from it; it fails closed in
# the backend that already holds our rules (or by "auto": iptables-legacy, wherever legacy tables
# exist). So that variant first runs the daemon once with a valid config naming nftables and port
# 11211 only, and stops it (the table stays); the invalid file must then close 11311 as well, in
# that table: the input chain jumps both ports to guard4/guard6, allow4 and allow6 are empty, no
# established accept, a drop at the end; nothing of ours in the legacy tables.
# Usage: fail_closed_ports.sh MEMGUARDD [iptables-legacy|nftables]
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/../backends/lib.sh"
b_init "$1" "${2:-iptables-legacy}"

PORT2=11311
h_netns SRV
h_netns CLI
h_link "$SRV" "$CLI"
H_NS=$SRV
h_memcached "$SRV" "$MG_PORT"
h_memcached "$SRV" $PORT2
for pair in "$H_OUT4 $H_SRV4" "$H_OUT6 $H_SRV6"; do
    read -r src dst <<<"$pair"
    [ "$(h_probe "$src" "$dst" $PORT2)" = open ] || mg_fatal "precondition: $src does not reach $dst:$PORT2 before the daemon"
    [ "$(b_udp "$src" "$dst" $PORT2)" = answered ] || mg_fatal "precondition: $src gets no udp answer from $dst:$PORT2 before the daemon"
done

if mg_is_nft; then
    b_config "$TMP/prime.json" 5 "$H_OK4/32"
    mg_start_listener prime
    h_start_daemon prime "$TMP/prime.json"
    mg_wait_notify READY=1 1 10 || mg_fatal "prime: no READY=1 from a run with a valid nftables config"
    h_stop_daemon
    b_nft_jumps_ok "$MG_PORT" && ! b_nft_jumps_ok $PORT2 ||
        mg_fatal "prime: precondition: the table of the valid run (port $MG_PORT only) is not in place"
    pass "prime: a valid nftables run for port $MG_PORT left its table"
fi

mg_write_raw "$TMP/memguard.json" "{\"ports\": [$PORT2], \"allow\": [\"10.0.0.0/8\"], \"alow\": []}"
mg_start_listener notify
h_start_daemon daemon "$TMP/memguard.json"
if mg_wait_notify READY=1 1 10; then
    pass "READY=1 although the config is invalid"
else
    fail "no READY=1 within 10 s of start"
fi

# nft_closed_ok : guard4 and guard6 accept loopback first, accept no established connection and
# only sources of their (empty) allow sets, and end with a drop
nft_closed_ok() {
    local fam rules
    b_nft_guards && b_nft_drops_ok || return 1
    for fam in 4 6; do
        rules=$(b_nft -j list chain inet memguard "guard$fam" | jq -c '.nftables[] | select(.rule) | .rule.expr')
        head -n 1 <<<"$rules" | grep -q '"iifname".*"lo".*"accept"' || return 1
        ! grep -q '"ct"' <<<"$rules" || return 1
        [ "$(grep -c '"saddr"' <<<"$rules")" = "$(grep -c '"@allow' <<<"$rules")" ] || return 1
    done
}
for fam in ipv4 ipv6; do
    mg_is_nft && break
    for port in "$MG_PORT" $PORT2; do
        for proto in tcp udp; do
            check "$fam: -C INPUT -p $proto -m $proto --dport $port -m comment --comment $MG_TAG -j MEMGUARD" \
                h_jump_present $fam $proto "$port"
        done
    done
    want=$(mg_expect $fam --fail-closed | grep '^-A MEMGUARD')
    got=$(mg_ours $fam | grep '^-A MEMGUARD')
    if [ "$want" = "$got" ]; then
        pass "$fam: MEMGUARD holds only the loopback ACCEPT and the DROP"
    else
        fail "$fam: MEMGUARD is not loopback-only:"
        diff -u <(echo "$want") <(echo "$got") | sed -n '3,$s/^/     /p'
    fi
done
if mg_is_nft; then
    for port in "$MG_PORT" $PORT2; do
        check "nft: the input chain jumps tcp and udp $port of both families to guard4/guard6" b_nft_jumps_ok "$port"
    done
    check "nft: allow4 and allow6 empty; guard4/guard6 loopback accept first, no ct state accept, drop last" nft_closed_ok
    check "nft: nothing of ours in the legacy tables" eval '[ -z "$(mg_ours ipv4)$(mg_ours ipv6)" ]'
fi
for port in "$MG_PORT" $PORT2; do
    for pair in "$H_OUT4 $H_SRV4" "$H_OUT6 $H_SRV6" "$H_OK4 $H_SRV4" "$H_OK6 $H_SRV6"; do
        read -r src dst <<<"$pair"
        out=$(h_probe "$src" "$dst" "$port")
        check "$src -> $dst:$port gets no answer (probe: $out)" [ "$out" = timeout ]
        out=$(b_udp "$src" "$dst" "$port")
        check "$src -> $dst:$port udp gets no answer ($out)" [ "$out" = silent ]
    done
    check "127.0.0.1:$port still answers on the server (loopback)" h_loopback_reaches "$port"
done
lines=$(grep -i 'fail' "$MG_ERR" | grep "$MG_PORT" | grep $PORT2)
if [ -n "$lines" ]; then
    pass "the log names $MG_PORT and $PORT2 on a line with \"fail\""
    note "$(head -n 1 <<<"$lines")"
else
    fail "no log line with \"fail\", \"$MG_PORT\" and \"$PORT2\""
    grep -i 'fail' "$MG_ERR" | sed 's/^/     log: /'
fi
check "the daemon is still running" eval "! mg_gone $MG_DAEMON"

mg_finish
