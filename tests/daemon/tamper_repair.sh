#!/bin/bash
# daemon_tamper_repair: every kind of drift, in both families, is repaired by
# the next verify pass (verify_interval_s=1), in one commit, and logged with
# its drift kind; rules that are not memguardd's are left exactly as they are.
#
# Each tamper is one transaction (iptables-legacy-restore --noflush), like a
# single iptables command, so a verify pass never sees half of it. Between
# tampers the test lets one verify pass go by with nothing to repair:
# memguardd reports three repairing passes in a row as a conflict and then
# stops logging single drifts, which is test_conflict's business, not this one's.
#
# nftables (tamper_repair_nft.sh, sourced):
#   (a) our table is owned (the default on kernels from 6.9): each tamper by `nft` (delete or
#       add an element, delete our final drop, insert an accept, flush a chain or a set, delete
#       a chain, delete the table, add an accept to the input chain) is refused with EPERM; the
#       table stays byte-identical, all of netfilter too, the outside client stays out (tcp,
#       udp) and the allowed one in; the daemon repaired nothing.
#   (b) the table is not owned (MEMGUARD_TEST_NFT_UNOWNED=1, as on kernels before 6.9): the same
#       tampers go through and each is repaired within one interval plus 2 s, in one commit per
#       family it touched, logged with its drift kind; the table byte-identical to before, the
#       foreign rules (legacy and a foreign nftables table) untouched, the outside client out.
# Usage: tamper_repair.sh MEMGUARDD [iptables-legacy|nftables]
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/../backends/lib.sh"
b_init "$1" "${2:-iptables-legacy}"
if mg_is_nft; then
    # shellcheck source=tamper_repair_nft.sh
    . "$(dirname "$0")/tamper_repair_nft.sh"
    mg_finish
fi

INTERVAL=1
LIMIT_MS=$((INTERVAL * 1000 + 2000)) # one interval plus 2 s margin
NETS=(192.168.1.0/24 fd12:3456::/48)
mg_write_config "$TMP/memguard.json" $INTERVAL "${NETS[@]}"
for fam in ipv4 ipv6; do
    mg_expect $fam "${NETS[@]}" >"$TMP/want.$fam"
    mg_add_foreign $fam || mg_fatal "cannot add the foreign rules ($fam)"
done

mg_start_listener notify
mg_start_daemon daemon "$TMP/memguard.json"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s of starting the daemon"
for fam in ipv4 ipv6; do
    mg_rules_ok $fam "$TMP/want.$fam" || mg_fatal "$fam: rules not as configured after READY=1"
done
pass "daemon ready, rules in place in both families"

LAST_REPAIR_US=$(mg_now_us)
SCENARIOS=0
declare -a SUMMARY

counted_rules_ok() {
    POLLS=$((POLLS + 1))
    mg_rules_ok "$1" "$TMP/want.$1"
}

# scenario FAMILY NAME "KIND..." TAMPER-LINE...
scenario() {
    local fam=$1 name=$2 kinds=$3
    shift 3
    local what="$fam $name"
    SCENARIOS=$((SCENARIOS + 1))
    echo "---- $what: $(printf '%s; ' "$@" | sed 's/; $//')"

    # Let one verify pass find nothing (see the top of this file).
    local quiet_until=$((LAST_REPAIR_US + INTERVAL * 1000000 + 300000)) now
    now=$(mg_now_us)
    [ "$now" -lt "$quiet_until" ] && sleep "$(awk -v us=$((quiet_until - now)) 'BEGIN { printf "%.3f", us / 1e6 }')"

    local off t0 latency
    off=$(mg_log_size "$MG_ERR")
    t0=$(mg_now_us)
    if ! mg_tamper "$fam" "$@"; then
        fail "$what: the tamper command itself failed"
        return
    fi
    local foreign_after_tamper
    foreign_after_tamper=$(mg_foreign "$fam")
    POLLS=0
    if mg_wait_until $((LIMIT_MS / 1000)) counted_rules_ok "$fam"; then
        latency=$(mg_ms_since "$t0")
        LAST_REPAIR_US=$(mg_now_us)
        [ "$POLLS" = 1 ] && note "$what: already right at the first look (a verify pass coincided with the tamper)"
        pass "$what: rules exactly right again after $latency ms (limit $LIMIT_MS ms)"
        SUMMARY+=("$(printf '%-5s %-14s %5d ms' "$fam" "$name" "$latency")")
    else
        LAST_REPAIR_US=$(mg_now_us)
        fail "$what: rules not repaired within $LIMIT_MS ms; ours now:"
        mg_diff_report "$TMP/want.$fam" "$(mg_ours "$fam")"
        SUMMARY+=("$(printf '%-5s %-14s   not repaired' "$fam" "$name")")
    fi
    check "$what: iptables -C finds every rule of ours" mg_check_C "$fam" "$TMP/want.$fam"

    if [ "$(mg_foreign "$fam")" = "$foreign_after_tamper" ]; then
        pass "$what: rules that are not ours are untouched"
    else
        fail "$what: rules that are not ours changed:"
        diff -u <(echo "$foreign_after_tamper") <(mg_foreign "$fam") | sed -n '3,$s/^/     /p'
    fi
    if [ "$name" != table_flush ]; then
        check "$what: the foreign rules (INPUT --dport 22, chain FOREIGN) are still there" \
            mg_foreign_present "$fam"
    fi

    # The log: a "repaired" line for this family, one drift line per expected kind.
    if ! mg_wait_until 2 eval "mg_log_since '$MG_ERR' $off | grep -q 'repaired $fam'"; then
        fail "$what: no \"repaired $fam\" line logged"
    fi
    local log kind
    log=$(mg_log_since "$MG_ERR" "$off")
    for kind in $kinds; do
        check "$what: logged a drift: line with DRIFT_KIND=$kind" \
            grep -qE "drift: .*\[event=drift family=$fam DRIFT_KIND=$kind " <<<"$log"
    done
    check "$what: repaired in exactly one commit (one \"repaired $fam\" line)" \
        [ "$(grep -c "repaired $fam: " <<<"$log")" = 1 ]
    local other=ipv6
    [ "$fam" = ipv6 ] && other=ipv4
    check "$what: nothing logged as drift in $other" \
        eval "! grep -q 'family=$other' <<<\"\$log\""
    if grep -q 'drift: ' <<<"$log"; then
        grep 'drift: ' <<<"$log" | sed 's/^memguardd: warning: /     log: /'
    fi
}

for fam in ipv4 ipv6; do
    any=0.0.0.0/0
    [ $fam = ipv6 ] && any=::/0
    jump="-p tcp -m tcp --dport $MG_PORT -m comment --comment $MG_TAG -j MEMGUARD"
    ujump="-p udp -m udp --dport $MG_PORT -m comment --comment $MG_TAG -j MEMGUARD"

    scenario $fam flush_chain rule_missing "-F MEMGUARD"
    scenario $fam chain_deleted "chain_missing jump_missing" \
        "-D INPUT $jump" "-D INPUT $ujump" "-F MEMGUARD" "-X MEMGUARD"
    scenario $fam delete_rule rule_missing "-D MEMGUARD 2"
    scenario $fam replace_rule rule_changed "-R MEMGUARD 3 -s $any -j ACCEPT"
    scenario $fam insert_extra rule_extra "-I MEMGUARD 1 -j ACCEPT"
    scenario $fam shadow_jump jump_shadowed "-I INPUT 1 -p tcp --dport $MG_PORT -j ACCEPT"
    # Somebody else's ACCEPT stays (below our jumps); take it out for the next scenarios.
    mg_ipt $fam -D INPUT -p tcp --dport $MG_PORT -j ACCEPT || fail "$fam: cannot take out the shadowing ACCEPT"
    scenario $fam delete_jump jump_missing "-D INPUT 1"
    scenario $fam table_flush "chain_missing jump_missing" "-F" "-X MEMGUARD"
    # The admin's flush took the foreign rules too; put them back (not drift of ours).
    mg_add_foreign $fam || fail "$fam: cannot restore the foreign rules"
done

log=$(cat "$MG_ERR")
check "no conflict was reported for one-off tampers (one quiet pass between them; fails if passes ran >300 ms late)" eval "! grep -q 'conflict' <<<\"\$log\""
repairs=$(mg_daemon_field repairs)
check "status --json counts one repair per tamper ($SCENARIOS, got ${repairs:-none})" [ "${repairs:-}" = "$SCENARIOS" ]
check "the daemon is still running" kill -0 "$MG_DAEMON"

echo "repair latency (verify_interval_s=$INTERVAL, tamper to rules right again):"
printf '     %s\n' "${SUMMARY[@]}"
mg_finish
