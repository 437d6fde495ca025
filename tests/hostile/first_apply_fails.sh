#!/bin/bash
# hostile_first_apply_fails: when the first apply cannot be done as planned, memguardd must
# still close the port and keep running (fail-open is the bug).
#
#   (a) a foreign `hash:ip` set named memguard4, used by a foreign SSH rule, and a config with
#       40 IPv4 networks (so memguardd wants memguard4) and one IPv6 network: the daemon stays
#       up, says READY=1, programs IPv6 completely, and closes IPv4's port 11211 to an outside
#       source while an allowed source still gets through (one -s rule per network instead of
#       the set it cannot have); the foreign set and rule are byte-identical afterwards.
#   (b) another program holds the xtables lock ($XTABLES_LOCKFILE) when the daemon starts:
#       within 15 s the port is closed to an outside source anyway (our jump or the inline
#       loopback-only rules are in INPUT), the daemon is still running, and its log says
#       "xtables lock".
#   (c) the kernel refuses the wanted rules: our own (marked) memguard4 is a hash:ip set that a
#       foreign rule uses, so it cannot be made a hash:net set again (EBUSY). IPv4 fails closed
#       (loopback only: even the allowed client is refused), IPv6 is as configured, the daemon
#       runs, READY=1 comes, status exits 1 saying FAILING CLOSED, the log says when it retries;
#       once the foreign rule is gone a retry brings the allowlist back.
#
# Each case has a server and a client namespace of its own joined by a veth pair (lib.sh);
# memcached listens in the server namespace. In (b) /run/xtables.lock is held as well: that is
# the lock today's memguardd takes (the /run here is the test's private tmpfs).
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
h_need memcached nc python3
h_init "$@"

# ---- (a) a foreign hash:ip memguard4 ---------------------------------------------------------
echo "---- (a) foreign hash:ip set memguard4 referenced by a foreign rule"
h_netns SRV_A
h_netns CLI_A
h_link "$SRV_A" "$CLI_A"
H_NS=$SRV_A
h_memcached "$SRV_A" "$MG_PORT"
ipset create memguard4 hash:ip && ipset add memguard4 192.0.2.7 ||
    mg_fatal "(a) cannot create the foreign set"
mg_ipt ipv4 -A INPUT -p tcp --dport 22 -m set --match-set memguard4 src -j ACCEPT ||
    mg_fatal "(a) cannot add the foreign rule"
set_before=$(ipset save memguard4)
rule_before=$(mg_save ipv4 | grep -- '--match-set memguard4' | grep -v -- "--comment $MG_TAG")
foreign_before=$(h_foreign_all)
note "foreign set: $(head -n 1 <<<"$set_before")"
note "foreign rule: $rule_before"

mapfile -t NETS4 < <(echo "$H_OK4/32"; h_filler 39)
h_config "$TMP/a.json" 2 "${NETS4[@]}" "$H_OK6/128"
mg_start_listener a
t0=$(mg_now_us)
h_start_daemon a "$TMP/a.json"
if mg_wait_notify READY=1 1 10; then
    pass "(a) READY=1 $(mg_ms_since "$t0") ms after start"
else
    fail "(a) no READY=1 within 10 s of start"
fi
remaining=$((5000 - $(mg_ms_since "$t0")))
[ "$remaining" -gt 0 ] && sleep "$(awk -v ms=$remaining 'BEGIN { printf "%.3f", ms / 1000 }')"
if mg_gone "$MG_DAEMON"; then
    mg_wait_exit "$MG_DAEMON" 1
    fail "(a) the daemon exited (status ${MG_EXIT_STATUS:-?}) within 5 s of start"
else
    pass "(a) the daemon is still running 5 s after start"
fi

mg_expect ipv6 "$H_OK6/128" >"$TMP/a.want6"
if mg_rules_ok ipv6 "$TMP/a.want6"; then
    pass "(a) ipv6: exactly the configured rules, jumps on top of INPUT"
else
    fail "(a) ipv6: rules are not the configured ones:"
    mg_diff_report "$TMP/a.want6" "$(mg_ours ipv6)"
fi
check "(a) ipv6: iptables -C finds every rule" mg_check_C ipv6 "$TMP/a.want6"
for proto in tcp udp; do
    check "(a) ipv4: $proto jump to MEMGUARD in INPUT" h_jump_present ipv4 $proto "$MG_PORT"
done
missing=0
for n in "${NETS4[@]}"; do
    mg_ipt ipv4 -C MEMGUARD -s "$n" -m comment --comment "$MG_TAG" -j ACCEPT 2>/dev/null || missing=$((missing + 1))
done
check "(a) ipv4: one -s rule per network in MEMGUARD instead of the set ($missing of 40 missing)" [ "$missing" = 0 ]
for pair in "$H_OUT4 $H_SRV4" "$H_OUT6 $H_SRV6"; do
    read -r src dst <<<"$pair"
    out=$(h_probe "$src" "$dst")
    check "(a) outside $src -> $dst:$MG_PORT gets no answer (probe: $out)" [ "$out" = timeout ]
done
for pair in "$H_OK4 $H_SRV4" "$H_OK6 $H_SRV6"; do
    read -r src dst <<<"$pair"
    out=$(h_probe "$src" "$dst")
    check "(a) allowed $src -> $dst:$MG_PORT connects (probe: $out)" [ "$out" = open ]
done
h_same "(a) ipset save memguard4 byte-identical (the foreign set)" "$set_before" "$(ipset save memguard4 2>&1)"
h_same "(a) the foreign rule matching on memguard4 byte-identical" "$rule_before" \
    "$(mg_save ipv4 | grep -- '--match-set memguard4' | grep -v -- "--comment $MG_TAG")"
h_same "(a) everything else that is not memguardd's is unchanged" "$foreign_before" "$(h_foreign_all)"
mg_gone "$MG_DAEMON" || h_stop_daemon

# ---- (b) the xtables lock is held at the first start -------------------------------------------
echo "---- (b) another program holds the xtables lock at the first start"
h_netns SRV_B
h_netns CLI_B
h_link "$SRV_B" "$CLI_B"
H_NS=$SRV_B
h_memcached "$SRV_B" "$MG_PORT"
h_config "$TMP/b.json" 2 "$H_OK4/32" "$H_OK6/128"
h_hold_lock "$XTABLES_LOCKFILE"
holder1=$H_LOCK_PID
h_hold_lock /run/xtables.lock
holder2=$H_LOCK_PID
note "holding $XTABLES_LOCKFILE (pid $holder1) and the private /run/xtables.lock (pid $holder2)"
pre=$(h_probe "$H_OUT4" "$H_SRV4" "$MG_PORT" 0.5)
[ "$pre" = open ] || mg_fatal "(b) precondition: before the daemon the outside client connects (got $pre)"

# rules_close_port : -save (no lock needed) shows our jump or an inline DROP for tcp/11211, in
# both families
rules_close_port() {
    local fam
    for fam in ipv4 ipv6; do
        mg_save $fam | grep -qE -- "^-A INPUT -p tcp -m tcp --dport $MG_PORT -m comment --comment $MG_TAG -j (MEMGUARD|DROP)\$" ||
            return 1
    done
}
port_closed() {
    rules_close_port && h_blocked "$H_OUT4" "$H_SRV4" "$MG_PORT" 0.5 && h_blocked "$H_OUT6" "$H_SRV6" "$MG_PORT" 0.5
}
mg_start_listener b
t0=$(mg_now_us)
h_start_daemon b "$TMP/b.json"
if mg_wait_until 15 port_closed; then
    pass "(b) port $MG_PORT closed to the outside client (ipv4 and ipv6) $(mg_ms_since "$t0") ms after start, lock still held"
else
    fail "(b) port $MG_PORT not closed to the outside client within 15 s of start (outside ipv4: $(h_probe "$H_OUT4" "$H_SRV4" "$MG_PORT" 0.5), ipv6: $(h_probe "$H_OUT6" "$H_SRV6" "$MG_PORT" 0.5))"
    mg_save ipv4 | grep -E "$MG_TAG|MEMGUARD" | sed 's/^/     ipv4: /'
fi
elapsed=$(mg_ms_since "$t0")
[ "$elapsed" -lt 15000 ] && sleep "$(awk -v ms=$((15000 - elapsed)) 'BEGIN { printf "%.3f", ms / 1000 }')"
if mg_gone "$MG_DAEMON"; then
    mg_wait_exit "$MG_DAEMON" 1
    fail "(b) the daemon exited (status ${MG_EXIT_STATUS:-?}) while the lock was held"
else
    pass "(b) the daemon is still running 15 s after start, lock still held"
fi
check "(b) the log says \"xtables lock\"" grep -q 'xtables lock' "$MG_ERR"
grep -iE 'lock' "$MG_ERR" | head -n 3 | sed 's/^/     log: /'
kill -TERM "$holder1" "$holder2" 2>/dev/null
mg_wait_exit "$holder1" 5
mg_wait_exit "$holder2" 5
mg_expect ipv4 "$H_OK4/32" >"$TMP/b.want4"
if mg_wait_until 5 mg_rules_ok ipv4 "$TMP/b.want4"; then
    note "(b) after the lock was released the full rules arrived (not asserted)"
else
    note "(b) 5 s after the lock was released the full ipv4 rules are not there (not asserted)"
fi

# ---- (c) the kernel refuses the wanted rules: fail closed, retry -------------------------------
echo "---- (c) our memguard4 cannot be remade (a foreign rule uses it): fail closed, retry"
h_netns SRV_C
h_netns CLI_C
h_link "$SRV_C" "$CLI_C"
H_NS=$SRV_C
h_memcached "$SRV_C" "$MG_PORT"
ipset create memguard4 hash:ip initval 0x6d656d67 || mg_fatal "(c) cannot create the set"
mg_ipt ipv4 -A INPUT -p tcp --dport 22 -m set --match-set memguard4 src -j ACCEPT ||
    mg_fatal "(c) cannot add the foreign rule"
mapfile -t NETS4 < <(echo "$H_OK4/32"; h_filler 39)
h_config "$TMP/c.json" 2 "${NETS4[@]}" "$H_OK6/128"
mg_start_listener c
h_start_daemon c "$TMP/c.json"
mg_wait_notify READY=1 1 15 && pass "(c) READY=1 although ipv4 could not be applied" ||
    fail "(c) no READY=1 within 15 s"
check "(c) the daemon is running" kill -0 "$MG_DAEMON"
for pair in "$H_OUT4 $H_SRV4" "$H_OK4 $H_SRV4"; do
    read -r src dst <<<"$pair"
    out=$(h_probe "$src" "$dst")
    check "(c) ipv4 fails closed: $src -> $dst:$MG_PORT gets no answer (probe: $out)" [ "$out" = timeout ]
done
out=$(h_probe "$H_OK6" "$H_SRV6")
check "(c) ipv6 as configured: allowed $H_OK6 connects (probe: $out)" [ "$out" = open ]
rc=0; st=$(h_at "$H_NS" "$MEMGUARDD" status --config "$TMP/c.json") || rc=$?
check "(c) status exits 1 and says FAILING CLOSED (exit $rc)" \
    eval '[ "$rc" = 1 ] && grep -q "FAILING CLOSED" <<<"$st"'
check "(c) the log says ipv4 fails closed and when it tries again" \
    grep -q 'ipv4: failing closed (loopback only): .*trying again in' "$MG_ERR"
check "(c) the foreign rule is untouched" \
    mg_ipt ipv4 -C INPUT -p tcp --dport 22 -m set --match-set memguard4 src -j ACCEPT
mg_ipt ipv4 -D INPUT -p tcp --dport 22 -m set --match-set memguard4 src -j ACCEPT
allowed_back() { [ "$(h_probe "$H_OK4" "$H_SRV4")" = open ]; }
check "(c) with the foreign rule gone, a retry brings the allowlist back (within 20 s)" \
    mg_wait_until 20 allowed_back
out=$(h_probe "$H_OUT4" "$H_SRV4")
check "(c) and the outside client is still refused (probe: $out)" [ "$out" = timeout ]
h_stop_daemon

mg_finish
