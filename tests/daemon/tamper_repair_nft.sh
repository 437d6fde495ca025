# shellcheck shell=bash disable=SC2034 # sourced by tamper_repair.sh for the nftables backend
# The daemon runs in this script's namespace (H_NS empty), memcached too; the client namespace
# probes it over the veth pair (tests/hostile/lib.sh: h_link, h_probe; tests/backends/lib.sh:
# b_udp).

INTERVAL=1
LIMIT_MS=$((INTERVAL * 1000 + 2000))
NETS=(192.168.1.0/24 fd12:3456::/48 "$H_OK4/32" "$H_OK6/128")
h_netns CLI
h_link "" "$CLI"
h_memcached "" "$MG_PORT"
mg_config "$TMP/memguard.json" $INTERVAL "${NETS[@]}"
mg_add_foreign_all || mg_fatal "cannot add the foreign rules (legacy, nftables)"

# guard_ok : the outside client is out (tcp and udp, both families), the allowed one in
guard_ok() {
    h_blocked $H_OUT4 $H_SRV4 && h_blocked $H_OUT6 $H_SRV6 &&
        [ "$(b_udp $H_OUT4 $H_SRV4)" = silent ] && h_reaches $H_OK4 $H_SRV4 && h_reaches $H_OK6 $H_SRV6
}
# guard_ok4 : the quick one, after each tamper: tcp from the outside and the allowed IPv4 client
guard_ok4() { h_blocked $H_OUT4 $H_SRV4 && h_reaches $H_OK4 $H_SRV4; }
# final_drop_handle FAMILY : the handle of guard4's (guard6's) last drop, found by what it does
final_drop_handle() {
    nft -a -j list chain inet memguard "guard${1#ipv}" | jq -r '[.nftables[] | select(.rule) | .rule |
        select((.expr | last) == {"drop": null} and ([.expr[] | keys[0]] - ["counter", "drop"] == []))] |
        last | .handle'
}
# tampers : one tamper a line: FAMILIES|DRIFT KINDS|nft command
tampers() {
    cat <<TAMPERS
ipv4|set_members|delete element inet memguard allow4 { 192.168.1.0/24 }
ipv6|set_members|add element inet memguard allow6 { $H_OUT6 }
ipv4|rule_missing|delete rule inet memguard guard4 handle $(final_drop_handle ipv4)
ipv6|rule_extra|insert rule inet memguard guard6 accept
ipv4|rule_missing|flush chain inet memguard guard4
ipv6|set_members|flush set inet memguard allow6
ipv4 ipv6|chain_missing|delete chain inet memguard prerouting
ipv4 ipv6|rule_extra|add rule inet memguard input tcp dport $MG_PORT accept
ipv4 ipv6|table_missing|delete table inet memguard
TAMPERS
}

# ---- (a) owned: the kernel refuses --------------------------------------------------------------
echo "---- (a) owned table"
mg_start_listener owned
mg_start_daemon owned "$TMP/memguard.json"
mg_wait_notify READY=1 1 10 || mg_fatal "(a) no READY=1 within 10 s of starting the daemon"
b_guards_ok "${NETS[@]}" ||
    mg_fatal "(a) our table is not as configured after READY=1"
guard_ok || mg_fatal "(a) precondition: the outside client is not out or the allowed one not in"
pass "(a) daemon ready, table in place, the outside client out and the allowed one in"
table_before=$(mg_nft_table)
all_before=$(mg_kernel_all)
off=$(mg_log_size "$MG_ERR")
while IFS='|' read -r _ _ t; do
    # shellcheck disable=SC2086 # the tamper is words for nft
    out=$(nft $t 2>&1) && rc=0 || rc=$?
    check "(a) nft $t: refused (exit $rc): $(head -n 1 <<<"$out")" \
        eval '[ $rc != 0 ] && grep -q "Operation not permitted" <<<"$out"'
    h_same "(a) nft $t: our table is byte-identical" "$table_before" "$(mg_nft_table)"
    check "(a) nft $t: the outside client is out, the allowed one in (tcp, ipv4)" guard_ok4
done < <(tampers)
sleep $((INTERVAL + 1)) # a verify pass goes by: it must find nothing to repair
check "(a) after the tampers: the outside client is out (tcp, udp, ipv4, ipv6), the allowed one in" guard_ok
h_same "(a) all of netfilter (legacy tables, every nftables table) is byte-identical" "$all_before" "$(mg_kernel_all)"
check "(a) the daemon found nothing to repair (status --json repairs 0, got $(mg_daemon_field repairs))" \
    [ "$(mg_daemon_field repairs)" = 0 ]
check "(a) no drift logged" eval "! mg_log_since '$MG_ERR' $off | grep -q 'drift: '"
kill -TERM "$MG_DAEMON"
mg_wait_exit "$MG_DAEMON" 10 || mg_fatal "(a) the daemon did not stop within 10 s of SIGTERM"
"$MEMGUARDD" remove >/dev/null 2>&1 || mg_fatal "(a) memguardd remove failed after the daemon stopped"

# ---- (b) unowned: each tamper repaired ---------------------------------------------------------------
echo "---- (b) unowned table (MEMGUARD_TEST_NFT_UNOWNED=1)"
export MEMGUARD_TEST_NFT_UNOWNED=1 # the daemon, and `status`, which compares with an unowned table
mg_start_listener unowned
mg_start_daemon unowned "$TMP/memguard.json"
mg_wait_notify READY=1 1 10 || mg_fatal "(b) no READY=1 within 10 s of starting the daemon"
table_before=$(mg_nft_table)
foreign_before() { mg_save_all ipv4; mg_save_all ipv6; nft list table inet foreign; }
foreign=$(foreign_before)
in_place() { [ "$(mg_nft_table)" = "$table_before" ]; }
in_place && b_nft_guards "${NETS[@]}" || mg_fatal "(b) our table is not as configured after READY=1"
pass "(b) daemon ready, table in place"
LAST_REPAIR_US=$(mg_now_us)
SCENARIOS=0
while IFS='|' read -r fams kinds t; do
    SCENARIOS=$((SCENARIOS + 1))
    # Let the rules hold for a whole interval (see the top of tamper_repair.sh): the change
    # event repaired at once, so the first timer pass after it closes that interval, and the
    # one after shows the rules held.
    quiet_until=$((LAST_REPAIR_US + 2 * INTERVAL * 1000000 + 300000))
    now=$(mg_now_us)
    [ "$now" -lt "$quiet_until" ] && sleep "$(awk -v us=$((quiet_until - now)) 'BEGIN { printf "%.3f", us / 1e6 }')"
    off=$(mg_log_size "$MG_ERR")
    t0=$(mg_now_us)
    # shellcheck disable=SC2086
    if ! nft $t; then
        fail "(b) nft $t: the tamper itself failed"
        continue
    fi
    if mg_wait_until $((LIMIT_MS / 1000)) in_place; then
        pass "(b) nft $t: the table is byte-identical again after $(mg_ms_since "$t0") ms (limit $LIMIT_MS ms)"
    else
        fail "(b) nft $t: not repaired within $LIMIT_MS ms"
        diff <(echo "$table_before") <(mg_nft_table) | head -n 20 | sed 's/^/     /'
    fi
    LAST_REPAIR_US=$(mg_now_us)
    check "(b) nft $t: allow4 and allow6 hold exactly the allowed networks (nft -j)" b_nft_guards "${NETS[@]}"
    h_same "(b) nft $t: the foreign rules (legacy, table inet foreign) are untouched" "$foreign" "$(foreign_before)"
    check "(b) nft $t: the outside client is out, the allowed one in (tcp, ipv4)" guard_ok4
    log=$(mg_log_since "$MG_ERR" "$off")
    for fam in ipv4 ipv6; do
        if [[ " $fams " == *" $fam "* ]]; then
            check "(b) nft $t: $fam: logged a drift line with DRIFT_KIND=$kinds" \
                grep -qE "drift: .*\[event=drift family=$fam DRIFT_KIND=$kinds " <<<"$log"
            check "(b) nft $t: $fam: repaired in exactly one commit (one \"repaired $fam\" line)" \
                [ "$(grep -c "repaired $fam: " <<<"$log")" = 1 ]
        else
            check "(b) nft $t: nothing logged as drift in $fam" eval "! grep -q 'family=$fam' <<<\"\$log\""
        fi
    done
done < <(tampers)
check "(b) after the tampers: the outside client is out (tcp, udp, ipv4, ipv6), the allowed one in" guard_ok
check "(b) no conflict was reported for one-off tampers (one quiet pass between them)" \
    eval "! grep -q 'conflict' '$MG_ERR'"
repairs=$(mg_daemon_field repairs)
check "(b) status --json counts one repair per tamper ($SCENARIOS, got ${repairs:-none})" [ "${repairs:-}" = "$SCENARIOS" ]
check "(b) the daemon is still running" kill -0 "$MG_DAEMON"
