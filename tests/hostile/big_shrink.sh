#!/bin/bash
# hostile_big_shrink: a 60,000-network IPv4 allowlist (memguard4 with 60,000 members) reloaded
# (SIGHUP) to a 2-network list:
#   - the reload finishes: within 30 s of SIGHUP memguard4 is gone, the 2 `-s` rules are in
#     (iptables -C), and READY=1 has come;
#   - the daemon stays responsive: still running, and a rule deleted afterwards is back within
#     the verify interval (1 s) plus 3 s; the allowed client connects, the outside one does not;
#   - no line of its log is longer than 4096 bytes (59,998 revoked networks must not become
#     one log line).
# The list: 10.0.0.10/32 (the allowed client), 10.1.0.0/24 ... 10.117.255.0/24 (29,952) and the
# hosts 9.0.0.1 ... 9.117.94.1 (30,047).
#
# nftables: the set is allow4, an interval set: the kernel holds the 29,952 adjacent /24s as the
# one range 10.1.0.0-10.117.255.255, so at the start allow4 holds that range, the 30,047 hosts
# and 10.0.0.10 (30,049 elements). The reload must leave exactly the 2 networks in allow4. The
# table is not owned (MEMGUARD_TEST_NFT_UNOWNED=1, as on kernels before 6.9) so that the
# responsiveness check can delete an element with `nft`.
# Usage: big_shrink.sh MEMGUARDD [iptables-legacy|nftables]
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/../backends/lib.sh"
b_init "$1" "${2:-iptables-legacy}"
mg_is_nft && export MEMGUARD_TEST_NFT_UNOWNED=1

h_netns SRV
h_netns CLI
h_link "$SRV" "$CLI"
H_NS=$SRV
h_memcached "$SRV" "$MG_PORT"

# Written compactly: a smaller file reads faster.
{
    printf '{"backend":"%s","ports":[%s],"protocols":["tcp","udp"],"verify_interval_s":1,"metrics_file":null,"allow":[' "$B_BACKEND" "$MG_PORT"
    printf '"%s/32"' "$H_OK4"
    awk 'BEGIN {
        for (x = 1; x <= 117; x++) for (y = 0; y <= 255; y++) printf ",\n\"10.%d.%d.0/24\"", x, y
        n = 0
        for (x = 0; x <= 117 && n < 30047; x++) for (y = 0; y <= 255 && n < 30047; y++) { printf ",\n\"9.%d.%d.1\"", x, y; n++ }
    }'
    printf ']}\n'
} >"$TMP/big.json.tmp"
chmod 600 "$TMP/big.json.tmp" && mv "$TMP/big.json.tmp" "$TMP/memguard.json"
n=$(grep -c '^"' "$TMP/memguard.json")
n=$((n + 1))
[ "$n" = 60000 ] || mg_fatal "generated $n networks, not 60000"
note "config: $n networks, $(stat -c %s "$TMP/memguard.json") bytes"
b_config "$TMP/small.json" 1 "$H_OK4/32" 192.0.2.0/24

mg_start_listener notify
t0=$(mg_now_us)
h_start_daemon daemon "$TMP/memguard.json"
mg_wait_notify READY=1 1 30 || mg_fatal "no READY=1 within 30 s of starting with 60,000 networks"
if mg_is_nft; then
    elems=$(b_nft_elems allow4)
    hosts=$(grep -cE '^9\.[0-9]+\.[0-9]+\.1$' <<<"$elems")
    [ "$(wc -l <<<"$elems")" = 30049 ] && [ "$hosts" = 30047 ] && grep -qx 10.1.0.0-10.117.255.255 <<<"$elems" &&
        grep -qx "$H_OK4" <<<"$elems" ||
        mg_fatal "allow4 holds $(wc -l <<<"$elems") elements ($hosts hosts 9.x.y.1), not the range, 30,047 hosts and $H_OK4"
    pass "started with 60,000 networks in allow4 (the range, 30,047 hosts, $H_OK4; $(mg_ms_since "$t0") ms to READY=1)"
else
    members() { ipset list -t memguard4 2>/dev/null | sed -n 's/^Number of entries: //p'; }
    [ "$(members)" = 60000 ] || mg_fatal "memguard4 holds '$(members)' entries, not 60000"
    pass "started with 60,000 networks in memguard4 ($(mg_ms_since "$t0") ms to READY=1)"
fi

cp "$TMP/small.json" "$TMP/memguard.json.new" && mv -f "$TMP/memguard.json.new" "$TMP/memguard.json"
t0=$(mg_now_us)
kill -HUP "$MG_DAEMON"
shrunk() {
    if mg_is_nft; then
        b_nft_guards "$H_OK4/32" 192.0.2.0/24
        return
    fi
    ! ipset list -n | grep -qx memguard4 &&
        mg_ipt ipv4 -C MEMGUARD -s "$H_OK4/32" -m comment --comment "$MG_TAG" -j ACCEPT 2>/dev/null &&
        mg_ipt ipv4 -C MEMGUARD -s 192.0.2.0/24 -m comment --comment "$MG_TAG" -j ACCEPT 2>/dev/null
}
# A dump of a 30,000-element nftables set costs about a second of CPU: polling one would slow the
# reload it waits for. The nftables variant waits for the reload's READY=1 and looks once.
if mg_is_nft; then
    mg_wait_notify READY=1 2 30
    shrunk_in_time() { shrunk && [ "$(mg_ms_since "$t0")" -le 30000 ]; }
else
    shrunk_in_time() { mg_wait_until 30 shrunk; }
fi
if shrunk_in_time; then
    if mg_is_nft; then
        pass "reload finished: allow4 holds exactly $H_OK4 and 192.0.2.0/24, $(mg_ms_since "$t0") ms after SIGHUP"
    else
        pass "reload finished: memguard4 gone and the 2 -s rules in, $(mg_ms_since "$t0") ms after SIGHUP"
    fi
elif mg_is_nft; then
    fail "$(mg_ms_since "$t0") ms after SIGHUP (limit 30 s): allow4 holds $(b_nft_elems allow4 | sort | head -c 200 | tr '\n' ' ')..., not the 2 networks"
else
    fail "30 s after SIGHUP: memguard4 $(ipset list -n | grep -qx memguard4 && echo "still there ($(members) entries)" || echo gone), -s rules $(shrunk && echo in || echo "not in")"
fi
if mg_wait_notify READY=1 2 30; then
    pass "READY=1 after the reload, $(mg_ms_since "$t0") ms after SIGHUP (limit 30 s)"
else
    fail "no READY=1 within 30 s of SIGHUP"
fi
check "the daemon is still running" eval "! mg_gone $MG_DAEMON"
mg_expect ipv4 "$H_OK4/32" 192.0.2.0/24 >"$TMP/want4"
# small_ok : our rules are the 2-network ones (tests/backends/lib.sh: b_guards_ok)
small_ok() { b_guards_ok "$H_OK4/32" 192.0.2.0/24; }
if mg_wait_until 5 small_ok; then
    pass "ipv4 rules exactly the 2-network ones"
else
    fail "ipv4 rules are not the 2-network ones:"
    if mg_is_nft; then b_nft_elems allow4 | head -n 20; else mg_diff_report "$TMP/want4" "$(mg_ours ipv4)" | head -n 20; fi
fi
if mg_is_nft; then
    b_nft delete element inet memguard allow4 "{ 192.0.2.0/24 }" || fail "nft delete element allow4 { 192.0.2.0/24 } failed"
else
    mg_ipt ipv4 -D MEMGUARD -s 192.0.2.0/24 -m comment --comment "$MG_TAG" -j ACCEPT 2>/dev/null
fi
t0=$(mg_now_us)
if mg_wait_until 4 small_ok; then
    pass "responsive: a deleted rule was repaired $(mg_ms_since "$t0") ms later (limit 4000 ms)"
else
    fail "not responsive: a deleted rule was not repaired within 4 s"
fi
out=$(h_probe $H_OK4 $H_SRV4)
check "allowed $H_OK4 connects (probe: $out)" [ "$out" = open ]
out=$(h_probe $H_OUT4 $H_SRV4)
check "outside $H_OUT4 gets no answer (probe: $out)" [ "$out" = timeout ]

longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$MG_ERR")
long=$(awk 'length($0) > 4096' "$MG_ERR" | wc -l)
check "no log line longer than 4096 bytes (longest: $longest bytes, $long over)" [ "$long" = 0 ]
[ "$long" -gt 0 ] && awk 'length($0) > 4096 { print "     " substr($0, 1, 160) "..." }' "$MG_ERR"
# The log of a failed run would be mostly that long line: show only its short lines.
awk 'length($0) <= 4096' "$MG_ERR" >"$MG_ERR.short" && mv "$MG_ERR.short" "$MG_ERR"

mg_finish
