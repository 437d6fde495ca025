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
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
h_need memcached nc
h_init "$@"

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
done

mg_write_raw "$TMP/memguard.json" "{\"ports\": [$PORT2], \"allow\": [\"10.0.0.0/8\"], \"alow\": []}"
mg_start_listener notify
h_start_daemon daemon "$TMP/memguard.json"
if mg_wait_notify READY=1 1 10; then
    pass "READY=1 although the config is invalid"
else
    fail "no READY=1 within 10 s of start"
fi

for fam in ipv4 ipv6; do
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
for port in "$MG_PORT" $PORT2; do
    for pair in "$H_OUT4 $H_SRV4" "$H_OUT6 $H_SRV6" "$H_OK4 $H_SRV4" "$H_OK6 $H_SRV6"; do
        read -r src dst <<<"$pair"
        out=$(h_probe "$src" "$dst" "$port")
        check "$src -> $dst:$port gets no answer (probe: $out)" [ "$out" = timeout ]
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
