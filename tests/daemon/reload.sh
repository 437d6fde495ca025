#!/bin/bash
# daemon_reload: SIGHUP re-reads the config and applies it (RELOADING=1 ...
# READY=1 around it); an invalid file is rejected with its errors logged and
# the kernel left exactly as it was; fixing the file and SIGHUP again works.
# Usage: reload.sh MEMGUARDD [iptables-legacy|nftables]
# shellcheck disable=SC2034 # variables read inside eval strings
. "$(dirname "$0")/lib.sh"
mg_backend "$@"
mg_init "$1"
note "backend: $MG_BACKEND"

INTERVAL=1
CONF=$TMP/memguard.json
NETS=(192.168.1.0/24 fd12:3456::/48)
mg_config "$CONF" $INTERVAL "${NETS[@]}"
mg_add_foreign_all || mg_fatal "cannot add the foreign rules"

mg_start_listener notify
mg_start_daemon daemon "$CONF"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s of starting the daemon"
mg_want "$TMP/want" "${NETS[@]}"
mg_want_ok "$TMP/want" || mg_fatal "rules not as configured after READY=1"
pass "daemon ready, rules in place"

# reload N WHAT : SIGHUP, then wait for the Nth READY=1; checks RELOADING=1 came
# between the previous READY=1 and this one.
reload() {
    local n=$1 what=$2 t0
    t0=$(mg_now_us)
    kill -HUP "$MG_DAEMON"
    if ! mg_wait_notify READY=1 "$n" 10; then
        fail "$what: no READY=1 within 10 s of SIGHUP"
        return 1
    fi
    local prev ready reloading
    prev=$(mg_notify_field READY=1 $((n - 1)) 2)
    ready=$(mg_notify_field READY=1 "$n" 2)
    reloading=$(mg_notify_field RELOADING=1 $((n - 1)) 2)
    check "$what: RELOADING=1 then READY=1 arrived ($(mg_ms_since "$t0") ms after SIGHUP)" \
        eval '[ -n "$reloading" ] && [ "$reloading" -gt "$prev" ] && [ "$reloading" -lt "$ready" ]'
    check "$what: both sent by the daemon's main process" \
        eval '[ "$(mg_notify_field RELOADING=1 $((n - 1)) 3)" = "$MG_DAEMON" ] &&
              [ "$(mg_notify_field READY=1 "$n" 3)" = "$MG_DAEMON" ]'
    note "$what: $(mg_notify_datagram "$ready" | grep '^STATUS=')"
}

# rules_now WHAT NETWORK... : right after READY=1 the kernel holds exactly these
rules_now() {
    local what=$1 fam
    shift
    if mg_is_nft; then
        mg_want "$TMP/want" "$@"
        if mg_want_ok "$TMP/want"; then
            pass "$what: the table exactly as the new config says when READY=1 arrives"
        else
            fail "$what: the table differs from the new config at READY=1:"
            mg_want_report "$TMP/want"
        fi
        check "$what: nft get element finds every allowed network" mg_want_C "$TMP/want"
        check "$what: the foreign rules (legacy and nftables) are still there" mg_foreign_all_present
        return
    fi
    for fam in ipv4 ipv6; do
        mg_expect $fam "$@" >"$TMP/want.$fam"
        if mg_rules_ok $fam "$TMP/want.$fam"; then
            pass "$what: $fam rules exactly as the new config says when READY=1 arrives"
        else
            fail "$what: $fam rules differ from the new config at READY=1:"
            mg_diff_report "$TMP/want.$fam" "$(mg_ours $fam)"
        fi
        check "$what: $fam: iptables -C finds every rule" mg_check_C $fam "$TMP/want.$fam"
        check "$what: $fam: the foreign rules are still there" mg_foreign_present $fam
    done
}

# 1. A valid change: two more networks.
NETS2=("${NETS[@]}" 10.20.0.0/16 fd00:20::/32)
mg_config "$CONF" $INTERVAL "${NETS2[@]}"
off=$(mg_log_size "$MG_ERR")
reload 2 "add 10.20.0.0/16 + fd00:20::/32" &&
    rules_now "add 10.20.0.0/16 + fd00:20::/32" "${NETS2[@]}"
if mg_is_nft; then
    check "add: nft get element finds 10.20.0.0/16 in allow4" \
        nft get element inet memguard allow4 '{ 10.20.0.0/16 }'
    check "add: nft get element finds fd00:20::/32 in allow6" \
        nft get element inet memguard allow6 '{ fd00:20::/32 }'
else
    check "add: iptables -C finds -s 10.20.0.0/16 in MEMGUARD" \
        mg_ipt ipv4 -C MEMGUARD -s 10.20.0.0/16 -m comment --comment $MG_TAG -j ACCEPT
    check "add: ip6tables -C finds -s fd00:20::/32 in MEMGUARD" \
        mg_ipt ipv6 -C MEMGUARD -s fd00:20::/32 -m comment --comment $MG_TAG -j ACCEPT
fi
check "add: \"reloaded\" logged" eval "mg_log_since '$MG_ERR' $off | grep -q 'reloaded $CONF'"

# 2. A broken file: a bad CIDR. Everything stays as it is.
mg_write_raw "$CONF" '{
  "ports": [11211],
  "protocols": ["tcp", "udp"],
  "allow": ["192.168.1.0/24", "10.0.0.300/8", "fd12:3456::/48", "10.20.0.0/16", "fd00:20::/32"],
  "allow_loopback": true,
  "accept_established": true,
  "action": "drop",
  "verify_interval_s": 1
}'
mg_backend_config "$CONF"
before4=$(mg_save_all ipv4)
before6=$(mg_save_all ipv6)
before=$(mg_kernel_all)
off=$(mg_log_size "$MG_ERR")
reload 3 "broken file"
log=$(mg_log_since "$MG_ERR" "$off")
check "broken file: the error names allow[1] and the bad value" \
    grep -qE 'allow\[1\].*"10\.0\.0\.300/8"' <<<"$log"
check "broken file: \"reload rejected\" logged" grep -q 'reload rejected' <<<"$log"
grep -E 'allow\[|reload rejected' <<<"$log" | sed 's/^/     log: /'
check "broken file: iptables-legacy-save identical to before the SIGHUP" [ "$(mg_save_all ipv4)" = "$before4" ]
check "broken file: ip6tables-legacy-save identical to before the SIGHUP" [ "$(mg_save_all ipv6)" = "$before6" ]
# The verify timer must go on guarding the last good config, not a half-read one.
sleep $((INTERVAL + 1))
check "broken file: still identical (both families) after $((INTERVAL + 1)) s of verify passes" \
    eval '[ "$(mg_save_all ipv4)" = "$before4" ] && [ "$(mg_save_all ipv6)" = "$before6" ]'
if mg_is_nft; then
    check "broken file: nft list ruleset identical (counters aside) to before the SIGHUP and after the verify passes" \
        [ "$(mg_kernel_all)" = "$before" ]
fi
check "broken file: the daemon is still running" kill -0 "$MG_DAEMON"

# 3. Fixed: another valid change (10.20/fd00:20 replaced by 10.30/fd00:30).
NETS3=("${NETS[@]}" 10.30.0.0/16 fd00:30::/32)
mg_config "$CONF" $INTERVAL "${NETS3[@]}"
off=$(mg_log_size "$MG_ERR")
reload 4 "fixed file" && rules_now "fixed file" "${NETS3[@]}"
log=$(mg_log_since "$MG_ERR" "$off")
check "fixed file: \"reloaded\" logged, nothing rejected" \
    eval "grep -q 'reloaded $CONF' <<<\"\$log\" && ! grep -q 'rejected' <<<\"\$log\""
check "the daemon is still running" kill -0 "$MG_DAEMON"

mg_finish
