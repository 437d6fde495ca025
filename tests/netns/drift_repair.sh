#!/bin/bash
# Every kind of drift the legacy backend knows (libfw/legacy/diff.hpp), for IPv4 and IPv6: tamper with memguardd's rules,
# `diff` must exit 1 and name the drift, `apply --once` must repair it, after which
# memguardd's rules are exactly right (save output, -C, jump positions) and every rule that
# is not memguardd's -- counters included -- is exactly as it was before the apply.
# Usage: drift_repair.sh PATH/TO/memguardd     (root; runs in its own network namespace)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
mg_init "$@"

CONF=$MG_WORK/memguard.json
ALLOW=(192.168.1.0/24 fd12:3456::/48)
write_config "$CONF" drop "${ALLOW[@]}"

# --- foreign state, with non-zero counters (-c) so that a commit that loses or mixes up
# counters of rules it does not own is caught even though no packet ever flows here ------
install_foreign() {
    local fam=$1 host out_dst
    if [ "$fam" == 4 ]; then
        host=10.1.2.3/32
        out_dst=10.20.30.40/32
    else
        host=2001:db8::3/128
        out_dst=2001:db8::40/128
    fi
    ipt "$fam" -A INPUT -p tcp --dport 22 -j ACCEPT -c 10 600
    ipt "$fam" -N FOREIGN
    ipt "$fam" -A FOREIGN -s "$host" -j DROP -c 3 180
    ipt "$fam" -A FOREIGN -p udp --dport 53 -j ACCEPT -c 4 240
    ipt "$fam" -A INPUT -j FOREIGN -c 8 480
    ipt "$fam" -A OUTPUT -d "$out_dst" -p tcp --dport 25 -j REJECT -c 2 120
}
install_foreign 4
install_foreign 6
base4=$(foreign_state 4)
base6=$(foreign_state 6)
assert_match "setup: foreign ipv4 rules carry counters" '^\[10:600\] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT$' "$base4"
assert_match "setup: foreign ipv6 chain FOREIGN present" '^\[3:180\] -A FOREIGN -s 2001:db8::3/128 -j DROP$' "$base6"

mg_run apply --once --config "$CONF"
assert_eq "first apply: exits 0" 0 "$MG_RC"
assert_eq "first apply: nothing on stderr" "" "$MG_ERR"
for fam in 4 6; do
    assert_ours_exact "first apply" "$fam" drop "${ALLOW[@]}"
done
assert_eq "first apply: every foreign ipv4 line unchanged (counters included)" "$base4" "$(foreign_state 4)"
assert_eq "first apply: every foreign ipv6 line unchanged (counters included)" "$base6" "$(foreign_state 6)"
assert_eq "first apply: foreign INPUT rules follow our jumps in their old order" \
    "$(printf '%s\n' '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT' '-A INPUT -j FOREIGN')" \
    "$(input_rules 4 | tail -n +3)"

# tamper KIND FAM
tamper() {
    local kind=$1 fam=$2 any
    [ "$fam" == 4 ] && any=0.0.0.0/0 || any=::/0
    case "$kind" in
    flush_chain) ipt "$fam" -F MEMGUARD ;;
    chain_deleted)
        ipt "$fam" -D INPUT -p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD
        ipt "$fam" -D INPUT -p udp -m udp --dport 11211 -m comment --comment memguard -j MEMGUARD
        ipt "$fam" -F MEMGUARD
        ipt "$fam" -X MEMGUARD
        ;;
    jump_deleted) ipt "$fam" -D INPUT -p udp -m udp --dport 11211 -m comment --comment memguard -j MEMGUARD ;;
    rule_deleted) ipt "$fam" -D MEMGUARD 3 ;;
    rule_replaced) ipt "$fam" -R MEMGUARD 3 -s "$any" -j ACCEPT ;;
    accept_inserted) ipt "$fam" -I MEMGUARD 1 -j ACCEPT ;;
    jump_shadowed) ipt "$fam" -I INPUT 1 -p tcp --dport 11211 -j ACCEPT ;;
    table_flushed)
        ipt "$fam" -F
        ipt "$fam" -X MEMGUARD
        ;;
    *) return 2 ;;
    esac
}

# diff_pattern KIND FAM : what `diff` must print for that drift (family, chain, and what)
diff_pattern() {
    local kind=$1 fam=$2 net
    [ "$fam" == 4 ] && net='192\.168\.1\.0/24' || net='fd12:3456::/48'
    case "$kind" in
    flush_chain | chain_deleted | table_flushed) echo "^ipv$fam MEMGUARD.*missing" ;;
    jump_deleted) echo "^ipv$fam INPUT.*missing.*-p udp .*--dport 11211" ;;
    rule_deleted) echo "^ipv$fam MEMGUARD.*missing.*-s $net" ;;
    rule_replaced) echo "^ipv$fam MEMGUARD.*(changed|replaced|differ).*-s $net" ;;
    accept_inserted) echo "^ipv$fam MEMGUARD.*(not ours|unexpected|extra|foreign).*-j ACCEPT" ;;
    jump_shadowed) echo "^ipv$fam INPUT.*(below|shadow).*-p tcp -m tcp --dport 11211 -j ACCEPT" ;;
    esac
}

# action_pattern KIND FAM : what `apply --once` prints for the family it repairs
action_pattern() {
    local kind=$1 fam=$2
    case "$kind" in
    flush_chain) echo "^ipv$fam: added 5 rules to MEMGUARD\$" ;;
    chain_deleted | table_flushed) echo "^ipv$fam: created chain MEMGUARD with 5 rules, added 2 rules to INPUT\$" ;;
    jump_deleted) echo "^ipv$fam: added 1 rule to INPUT\$" ;;
    rule_deleted) echo "^ipv$fam: added 1 rule to MEMGUARD\$" ;;
    rule_replaced) echo "^ipv$fam: replaced rule 3 of MEMGUARD \\(was \"-j ACCEPT\"\\)\$" ;;
    accept_inserted) echo "^ipv$fam: deleted unexpected rule 1 of MEMGUARD \\(\"-j ACCEPT\"\\)\$" ;;
    jump_shadowed) echo "^ipv$fam: moved rule 2 of INPUT to the top \\(it was below rule 1: -p tcp -m tcp --dport 11211 -j ACCEPT\\)\$" ;;
    esac
}

KINDS=(flush_chain chain_deleted jump_deleted rule_deleted rule_replaced accept_inserted jump_shadowed table_flushed)

for fam in 4 6; do
    other=$((10 - fam))
    for kind in "${KINDS[@]}"; do
        t="$kind ipv$fam"
        pre=$(foreign_state "$fam")
        tamper "$kind" "$fam"
        tampered=$(foreign_state "$fam")
        case "$kind" in
        jump_shadowed | table_flushed) ;; # these change the admin's rules too; the baseline is what remains
        *) assert_eq "$t: (test sanity) the tamper touched only memguardd's lines" "$pre" "$tampered" ;;
        esac
        other_before=$(save "$other" -c)

        mg_run diff --config "$CONF"
        assert_eq "$t: diff exits 1" 1 "$MG_RC"
        assert_match "$t: diff names the drift" "$(diff_pattern "$kind" "$fam")" "$MG_OUT"
        assert_no_match "$t: diff reports nothing for ipv$other" "^ipv$other " "$MG_OUT"

        mg_run apply --once --config "$CONF"
        assert_eq "$t: apply exits 0" 0 "$MG_RC"
        assert_eq "$t: apply writes nothing to stderr" "" "$MG_ERR"
        assert_match "$t: apply says what it did about the drift" "$(action_pattern "$kind" "$fam")" "$MG_OUT"
        assert_match "$t: apply leaves ipv$other unchanged" "^ipv$other: unchanged$" "$MG_OUT"

        assert_ours_exact "$t" "$fam" drop "${ALLOW[@]}"
        assert_eq "$t: every foreign line unchanged by the repair (counters included)" \
            "$tampered" "$(foreign_state "$fam")"
        assert_eq "$t: ipv$other table byte-identical" "$other_before" "$(save "$other" -c)"
        if [ "$kind" == jump_shadowed ]; then
            assert_eq "$t: the admin's port-11211 ACCEPT is still there, right below our jumps" \
                "-A INPUT -p tcp -m tcp --dport 11211 -j ACCEPT" "$(input_rules "$fam" | sed -n 3p)"
        fi
        if [ "$kind" == table_flushed ]; then
            assert_match "$t: FOREIGN chain still exists (emptied by the admin's flush)" \
                '^:FOREIGN - ' "$(save "$fam")"
        fi
        mg_run diff --config "$CONF"
        assert_eq "$t: diff after the repair exits 0" 0 "$MG_RC"
    done
done

# --- both families drifted at once: one apply repairs both ---------------------------------
iptables-legacy -F
iptables-legacy -X
ip6tables-legacy -F
ip6tables-legacy -X
install_foreign 4
install_foreign 6
mg_run apply --once --config "$CONF"
base4=$(foreign_state 4)
base6=$(foreign_state 6)
iptables-legacy -R MEMGUARD 4 -j ACCEPT
iptables-legacy -I INPUT 1 -p udp --dport 11211 -j ACCEPT
ip6tables-legacy -D INPUT 1
ip6tables-legacy -I MEMGUARD 2 -s fd00::/8 -j ACCEPT
tampered4=$(foreign_state 4)
mg_run diff --config "$CONF"
assert_eq "both families: diff exits 1" 1 "$MG_RC"
assert_match "both families: diff names ipv4 drift" '^ipv4 ' "$MG_OUT"
assert_match "both families: diff names ipv6 drift" '^ipv6 ' "$MG_OUT"
mg_run apply --once --config "$CONF"
assert_eq "both families: apply exits 0" 0 "$MG_RC"
assert_match "both families: ipv4 repaired" "$(changed 4)" "$MG_OUT"
assert_match "both families: ipv6 repaired" "$(changed 6)" "$MG_OUT"
for fam in 4 6; do
    assert_ours_exact "both families" "$fam" drop "${ALLOW[@]}"
done
assert_eq "both families: foreign ipv4 lines unchanged" "$tampered4" "$(foreign_state 4)"
assert_eq "both families: foreign ipv6 lines unchanged" "$base6" "$(foreign_state 6)"

finish
