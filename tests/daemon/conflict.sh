#!/bin/bash
# daemon_conflict: another program that keeps undoing our rules is reported
# once as a conflict (not once per repair); the daemon keeps repairing, and
# says when the fight is over.
#
# A background loop puts an ACCEPT for the port at the top of INPUT every
# 0.3 s for ~6 s (shadowing our jumps), with verify_interval_s=1: every verify
# pass in that time finds drift. memguardd logs the first repairs, one
# "conflict:" line at the third repairing pass in a row, then (within 60 s)
# nothing per repair, and "conflict over" after the first quiet pass.
#
# nftables: the table is not owned (MEMGUARD_TEST_NFT_UNOWNED=1, as on kernels before 6.9; an
# owned one cannot be fought: the kernel refuses, see tamper_repair.sh), and the other program
# deletes 192.168.1.0/24 from allow4 every 0.3 s. The daemon repairs on the change event, and
# the same journal lines, status and end state are asked of it: exactly one "conflict:" line,
# no "conflict over" while the fight goes on, at most 3 "repaired ipv4" lines; afterwards
# allow4 and allow6 hold exactly the configured networks and guard6 is as it was.
# Usage: conflict.sh MEMGUARDD [iptables-legacy|nftables]
. "$(dirname "$0")/lib.sh"
mg_backend "$@"
mg_init "$1"
note "backend: $MG_BACKEND"

INTERVAL=1
ROUNDS=20   # x 0.3 s = ~6 s
NETS=(192.168.1.0/24 fd12:3456::/48)
mg_config "$TMP/memguard.json" $INTERVAL "${NETS[@]}"
for fam in ipv4 ipv6; do mg_expect $fam "${NETS[@]}" >"$TMP/want.$fam"; done
mg_is_nft && export MEMGUARD_TEST_NFT_UNOWNED=1 # the daemon, and `status`

# nft_elems SET : the elements of our set, one a line, as nft -j names them
nft_elems() {
    nft -j list set inet memguard "$1" | jq -r '.nftables[].set.elem? // empty | .[] |
        if type == "object" then "\(.prefix.addr)/\(.prefix.len)" else . end'
}
# nft_configured : allow4 and allow6 hold exactly the configured networks, guard4 ends with a drop
nft_configured() {
    [ "$(nft_elems allow4)" = 192.168.1.0/24 ] && [ "$(nft_elems allow6)" = fd12:3456::/48 ] &&
        nft -j list chain inet memguard guard4 | jq -e '[.nftables[] | select(.rule)] | last | .rule.expr | last == {"drop": null}' >/dev/null
}
# ipv6_state : what the fight must not touch: legacy's ipv6 tables, or our guard6 and allow6
ipv6_state() {
    if mg_is_nft; then
        nft list chain inet memguard guard6 | mg_nft_strip
        nft list set inet memguard allow6
    else
        mg_save_all ipv6
    fi
}

mg_start_listener notify
mg_start_daemon daemon "$TMP/memguard.json"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s of starting the daemon"
if mg_is_nft; then
    nft_configured || mg_fatal "the table is not as configured after READY=1"
else
    mg_rules_ok ipv4 "$TMP/want.ipv4" || mg_fatal "ipv4: rules not as configured after READY=1"
fi
pass "daemon ready, rules in place"
ipv6_before=$(ipv6_state)

start_off=$(mg_log_size "$MG_ERR")
(
    deleted=0
    for ((i = 0; i < ROUNDS; i++)); do
        if mg_is_nft; then
            # The repair may not have come yet: then there is nothing to delete this round.
            nft delete element inet memguard allow4 '{ 192.168.1.0/24 }' 2>/dev/null && deleted=$((deleted + 1))
        else
            iptables-legacy -w 5 -I INPUT 1 -p tcp --dport $MG_PORT -j ACCEPT || exit 1
        fi
        sleep 0.3
    done
    ! mg_is_nft || [ $deleted -ge $((ROUNDS / 2)) ]
) &
fighter=$!
MG_PIDS+=("$fighter")
t0=$(mg_now_us)
mg_wait_exit "$fighter" 20 || mg_fatal "the fighting loop did not finish within 20 s"
check "the fighting loop ran $ROUNDS rounds in $(mg_ms_since "$t0") ms" [ "$MG_EXIT_STATUS" = 0 ]
stop_off=$(mg_log_size "$MG_ERR")
t_stop=$(mg_now_us)

# After the last insert: one pass repairs it, the next finds nothing.
over_re='conflict over after [0-9]+ repairs'
if mg_wait_until $((INTERVAL * 3 + 2)) eval "mg_log_since '$MG_ERR' $stop_off | grep -qE '$over_re'"; then
    pass "\"conflict over\" logged $(mg_ms_since "$t_stop") ms after the loop stopped"
else
    fail "no \"conflict over\" line within $((INTERVAL * 3 + 2)) s after the loop stopped"
fi

during=$(head -c "$stop_off" "$MG_ERR" | tail -c +"$((start_off + 1))")
all=$(mg_log_since "$MG_ERR" "$start_off")
start_re='^memguardd: [a-z]+: conflict: '
starts=$(grep -cE "$start_re" <<<"$all")
check "exactly one \"conflict:\" start line (got $starts)" [ "$starts" = 1 ]
check "the conflict was reported while the fight went on (before the loop stopped)" \
    grep -qE "$start_re" <<<"$during"
events=$(grep -c 'event=conflict' <<<"$during")
check "$events conflict event line(s) while fighting: the start, at most one summary (not one per repair)" \
    eval '[ "$events" -ge 1 ] && [ "$events" -le 2 ]'
check "the conflict line is logged at error level" grep -qE '^memguardd: error: conflict: ' <<<"$all"
check "no \"conflict over\" while the loop was still fighting" \
    eval "! grep -qE '$over_re' <<<\"\$during\""
grep -E "$start_re|conflict continues|$over_re" <<<"$all" | sed 's/^/     log: /'

repaired=$(grep -c 'repaired ipv4' <<<"$all")
drifts=$(grep -c 'drift: ' <<<"$all")
repairs=$(grep -oE "$over_re" <<<"$all" | grep -oE '[0-9]+' | head -n 1)
check "the fight made ${repairs:-?} repairs (>= 4)" [ "${repairs:-0}" -ge 4 ]
check "but only the first passes were logged one by one: $repaired \"repaired\" line(s) (<= 3), $drifts drift line(s)" \
    eval '[ "$repaired" -ge 1 ] && [ "$repaired" -le 3 ]'
state_repairs=$(mg_daemon_field repairs)
check "status --json still counts every repair (${state_repairs:-none} >= ${repairs:-?})" \
    [ "${state_repairs:-0}" -ge "${repairs:-1}" ]

# The end state: our rules exactly right, the other program's rules all kept (below ours).
if mg_is_nft; then
    check "nft: allow4 and allow6 hold exactly the configured networks after the fight, guard4 ends with a drop" nft_configured
    check "ipv6: guard6 and allow6 untouched by the fight" [ "$(ipv6_state)" = "$ipv6_before" ]
    check "the daemon is still running" kill -0 "$MG_DAEMON"
    mg_finish
fi
if mg_rules_ok ipv4 "$TMP/want.ipv4"; then
    pass "ipv4: our rules exactly right after the fight, jumps on top of INPUT"
else
    fail "ipv4: our rules are not right after the fight:"
    mg_diff_report "$TMP/want.ipv4" "$(mg_ours ipv4)"
fi
check "ipv4: iptables -C finds every rule of ours" mg_check_C ipv4 "$TMP/want.ipv4"
kept=$(mg_save ipv4 | grep -cx -- "-A INPUT -p tcp -m tcp --dport $MG_PORT -j ACCEPT")
check "ipv4: all $ROUNDS of the other program's ACCEPT rules are kept (got $kept)" [ "$kept" = "$ROUNDS" ]
check "ipv6: untouched by the fight" [ "$(ipv6_state)" = "$ipv6_before" ]
check "the daemon is still running" kill -0 "$MG_DAEMON"

mg_finish
