#!/bin/bash
# daemon_sigterm: SIGTERM (systemctl stop) -> STOPPING=1, exit status 0, and
# the rules stay in the kernel exactly as they were: a stopped guard must not
# open the cache. SIGINT (Ctrl-C in a terminal) behaves the same.
# Usage: sigterm.sh MEMGUARDD [iptables-legacy|nftables]
. "$(dirname "$0")/lib.sh"
mg_backend "$@"
mg_init "$1"
note "backend: $MG_BACKEND"

NETS=(192.168.1.0/24 fd12:3456::/48)
mg_config "$TMP/memguard.json" 1 "${NETS[@]}"
mg_want "$TMP/want" "${NETS[@]}"
mg_add_foreign_all || mg_fatal "cannot add the foreign rules"

stop_with() {
    local sig=$1
    echo "---- SIG$sig"
    mg_start_listener "sig$sig"
    mg_start_daemon "sig$sig" "$TMP/memguard.json"
    mg_wait_notify READY=1 1 10 || mg_fatal "SIG$sig: no READY=1 within 10 s of starting the daemon"
    mg_want_ok "$TMP/want" || mg_fatal "SIG$sig: rules not as configured after READY=1"
    local before4 before6 before t0
    before4=$(mg_save_all ipv4)
    before6=$(mg_save_all ipv6)
    before=$(mg_kernel_all)
    t0=$(mg_now_us)
    kill -"$sig" "$MG_DAEMON"
    if mg_wait_notify STOPPING=1 1 10; then
        pass "SIG$sig: STOPPING=1 arrived $(mg_ms_since "$t0") ms after the signal"
        check "SIG$sig: STOPPING=1 sent by the daemon's main process" \
            [ "$(mg_notify_field STOPPING=1 1 3)" = "$MG_DAEMON" ]
    else
        fail "SIG$sig: no STOPPING=1 within 10 s of the signal"
    fi
    if mg_wait_exit "$MG_DAEMON" 10; then
        check "SIG$sig: the daemon exited with status 0 (got $MG_EXIT_STATUS)" [ "$MG_EXIT_STATUS" = 0 ]
    else
        fail "SIG$sig: the daemon did not exit within 10 s"
    fi
    check "SIG$sig: iptables-legacy-save identical before and after the stop" [ "$(mg_save_all ipv4)" = "$before4" ]
    check "SIG$sig: ip6tables-legacy-save identical before and after the stop" [ "$(mg_save_all ipv6)" = "$before6" ]
    if mg_is_nft; then
        check "SIG$sig: nft list ruleset identical before and after the stop (counters aside)" \
            [ "$(mg_kernel_all)" = "$before" ]
        check "SIG$sig: the table is exactly as configured" mg_want_ok "$TMP/want"
    fi
    check "SIG$sig: the kernel still finds every rule (iptables -C, nft get element)" mg_want_C "$TMP/want"
    check "SIG$sig: the foreign rules are still there" mg_foreign_all_present
    check "SIG$sig: the stop is logged, saying the rules stay" grep -q 'stopping; the rules stay' "$MG_ERR"
}

stop_with TERM
stop_with INT

mg_finish
