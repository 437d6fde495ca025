#!/bin/bash
# hostile_remove_partial: `memguardd remove` when it cannot remove everything.
#
# The daemon applied (one IPv4 and one IPv6 network) and was stopped with SIGTERM (rules stay).
# Then somebody added `-A FORWARD -j MEMGUARD` (IPv4 only), so IPv4's chain MEMGUARD cannot be
# deleted. `memguardd remove` must still
#   - remove everything of ours on IPv6 (ip6tables-legacy-save holds no "memguard" and no
#     MEMGUARD chain),
#   - on IPv4 remove our INPUT jumps, and leave the chain MEMGUARD (a foreign rule uses it) and
#     the foreign FORWARD rule,
#   - print a line for each family, and exit non-zero.
# The other foreign rules (daemon/lib.sh's mg_add_foreign, both families) stay byte-identical.
# shellcheck disable=SC2034 # variables read inside eval strings
. "$(dirname "$0")/lib.sh"
h_init "$@"

h_netns SRV
H_NS=$SRV
for fam in ipv4 ipv6; do
    mg_add_foreign $fam || mg_fatal "cannot add the foreign rules ($fam)"
done
h_config "$TMP/memguard.json" 5 "$H_OK4/32" "$H_OK6/128"
mg_start_listener notify
h_start_daemon daemon "$TMP/memguard.json"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s of starting the daemon"
for fam in ipv4 ipv6; do
    mg_expect $fam "$H_OK4/32" "$H_OK6/128" >"$TMP/want.$fam"
    mg_rules_ok $fam "$TMP/want.$fam" || mg_fatal "$fam rules not as configured after READY=1"
done
h_stop_daemon
[ "${MG_EXIT_STATUS:-}" = 0 ] || mg_fatal "the daemon did not exit 0 on SIGTERM (${MG_EXIT_STATUS:-still running})"
pass "the daemon applied and was stopped with SIGTERM, rules left in place"

mg_ipt ipv4 -A FORWARD -j MEMGUARD || mg_fatal "cannot add the foreign FORWARD rule"
foreign4=$(mg_foreign ipv4)
foreign6=$(mg_foreign ipv6)
chain_header=$(mg_save ipv4 | grep '^:MEMGUARD ')

h_mg remove
note "remove exited $H_RC; stdout:"
sed 's/^/     | /' <<<"$H_OUT"
[ -n "$H_ERR" ] && { note "stderr:"; sed 's/^/     | /' <<<"$H_ERR"; }
check "remove exits non-zero (got $H_RC)" [ "$H_RC" != 0 ]
check "remove prints a line for ipv4" grep -q 'ipv4' <<<"$H_OUT$H_ERR"
check "remove prints a line for ipv6" grep -q 'ipv6' <<<"$H_OUT$H_ERR"

save6=$(mg_save ipv6)
check "ipv6: ip6tables-legacy-save holds no \"memguard\"" eval "! grep -q '$MG_TAG' <<<\"\$save6\""
check "ipv6: ip6tables-legacy-save holds no MEMGUARD chain" eval "! grep -q 'MEMGUARD' <<<\"\$save6\""
save4=$(mg_save ipv4)
check "ipv4: our INPUT jumps are gone" eval "! grep -qE '^-A INPUT .*--comment $MG_TAG' <<<\"\$save4\""
check "ipv4: the chain MEMGUARD is still there (a foreign rule uses it): $chain_header" \
    grep -qx -- "$chain_header" <<<"$save4"
check "ipv4: the foreign -A FORWARD -j MEMGUARD is still there" mg_ipt ipv4 -C FORWARD -j MEMGUARD
h_same "ipv4: every foreign line identical" "$foreign4" "$(mg_foreign ipv4)"
h_same "ipv6: every foreign line identical" "$foreign6" "$(mg_foreign ipv6)"

mg_finish
