#!/bin/bash
# Runs against iptables-legacy only, not parametrized yet (see CMakeLists.txt).
# daemon_fail_closed: with no usable config at start the daemon programs the
# chain with loopback-only access (lo ACCEPT + DROP, both families), logs an
# error, still says READY=1 (it is guarding), and takes the full rules on
# SIGHUP once the file is valid.
#
# Two starts in the same namespace: a missing file, then a bad CIDR. The
# second start finds the full rules of the first one still in the kernel (a
# stopped memguardd leaves them), so it also shows that failing closed takes
# allowed networks *out*.
# shellcheck disable=SC2034 # variables read inside eval strings
. "$(dirname "$0")/lib.sh"
mg_init "$@"

NETS=(192.168.1.0/24 fd12:3456::/48)
for fam in ipv4 ipv6; do
    mg_expect $fam --fail-closed >"$TMP/closed.$fam"
    mg_expect $fam "${NETS[@]}" >"$TMP/full.$fam"
    mg_add_foreign $fam || mg_fatal "cannot add the foreign rules ($fam)"
done

state_field() { mg_daemon_field "$1"; }

# case NAME CONFIG ERROR-REGEX
case_() {
    local name=$1 conf=$2 error_re=$3 fam
    echo "---- $name"
    mg_start_listener "$name"
    mg_start_daemon "$name" "$conf"
    if ! mg_wait_notify READY=1 1 10; then
        fail "$name: no READY=1 within 10 s of starting the daemon"
        return
    fi
    pass "$name: READY=1 arrived although the config is unusable"
    local status
    status=$(mg_notify_datagram "$(mg_notify_field READY=1 1 2)" | grep '^STATUS=')
    check "$name: STATUS says it failed closed ($status)" grep -q 'FAIL-CLOSED' <<<"$status"
    for fam in ipv4 ipv6; do
        if mg_rules_ok $fam "$TMP/closed.$fam"; then
            pass "$name: $fam MEMGUARD holds exactly loopback ACCEPT + DROP, jumps on top of INPUT"
        else
            fail "$name: $fam rules are not the fail-closed set:"
            mg_diff_report "$TMP/closed.$fam" "$(mg_ours $fam)"
        fi
        check "$name: $fam: iptables -C finds lo ACCEPT, DROP and both jumps" mg_check_C $fam "$TMP/closed.$fam"
        check "$name: $fam: no allow (-s) rule and no established rule in MEMGUARD" \
            eval "! mg_save $fam | grep -E '^-A MEMGUARD .*(-s |ctstate)'"
        check "$name: $fam: the foreign rules are still there" mg_foreign_present $fam
    done
    local log
    log=$(cat "$MG_ERR")
    check "$name: the cause is logged as an error" grep -qE "^memguardd: error: .*$error_re" <<<"$log"
    check "$name: failing closed is logged as an error" grep -qE '^memguardd: error: .*failing closed' <<<"$log"
    grep -E '^memguardd: error:' <<<"$log" | sed 's/^/     log: /'
    check "$name: status --json says fail_closed: true" [ "$(state_field fail_closed)" = true ]

    # SIGHUP with the file still unusable: rejected, still failing closed.
    local off
    off=$(mg_log_size "$MG_ERR")
    kill -HUP "$MG_DAEMON"
    if ! mg_wait_notify READY=1 2 10; then
        fail "$name: no READY=1 within 10 s of SIGHUP with the file still unusable"
        return
    fi
    check "$name, SIGHUP, file still unusable: \"reload rejected\" logged" \
        eval "mg_log_since '$MG_ERR' $off | grep -q 'reload rejected'"
    for fam in ipv4 ipv6; do
        check "$name, SIGHUP, file still unusable: $fam still exactly loopback ACCEPT + DROP" \
            mg_rules_ok $fam "$TMP/closed.$fam"
    done
    status=$(mg_notify_datagram "$(mg_notify_field READY=1 2 2)" | grep '^STATUS=')
    check "$name, SIGHUP, file still unusable: STATUS still says FAIL-CLOSED ($status)" \
        grep -q 'FAIL-CLOSED' <<<"$status"
    check "$name, SIGHUP, file still unusable: status --json still says fail_closed: true" \
        [ "$(state_field fail_closed)" = true ]

    # Now a valid file, and SIGHUP.
    mg_write_config "$conf" 5 "${NETS[@]}"
    kill -HUP "$MG_DAEMON"
    if ! mg_wait_notify READY=1 3 10; then
        fail "$name: no READY=1 within 10 s of SIGHUP with a valid file"
        return
    fi
    local reloading
    reloading=$(mg_notify_field RELOADING=1 2 2)
    check "$name: RELOADING=1 came before READY=1 again" \
        eval '[ -n "$reloading" ] && [ "$reloading" -lt "$(mg_notify_field READY=1 3 2)" ]'
    for fam in ipv4 ipv6; do
        if mg_rules_ok $fam "$TMP/full.$fam"; then
            pass "$name: after SIGHUP with a valid file, $fam holds the full rules"
        else
            fail "$name: after SIGHUP with a valid file, $fam rules are wrong:"
            mg_diff_report "$TMP/full.$fam" "$(mg_ours $fam)"
        fi
        check "$name: $fam: iptables -C finds every rule" mg_check_C $fam "$TMP/full.$fam"
    done
    status=$(mg_notify_datagram "$(mg_notify_field READY=1 3 2)" | grep '^STATUS=')
    check "$name: STATUS no longer says FAIL-CLOSED ($status)" eval "! grep -q 'FAIL-CLOSED' <<<\"\$status\""
    check "$name: status --json says fail_closed: false" [ "$(state_field fail_closed)" = false ]

    kill -TERM "$MG_DAEMON"
    mg_wait_exit "$MG_DAEMON" 10 || fail "$name: the daemon did not exit within 10 s of SIGTERM"
}

case_ missing "$TMP/does-not-exist.json" "does-not-exist\.json: cannot open"

mg_write_raw "$TMP/bad-cidr.json" '{
  "ports": [11211],
  "protocols": ["tcp", "udp"],
  "allow": ["192.168.1.0/24", "10.0.0.300/8"],
  "allow_loopback": true,
  "accept_established": true,
  "action": "drop",
  "verify_interval_s": 5
}'
for fam in ipv4 ipv6; do
    mg_rules_ok $fam "$TMP/full.$fam" || fail "bad_cidr: precondition: the full $fam rules of the last run are not in place"
done
case_ bad_cidr "$TMP/bad-cidr.json" 'allow\[1\]: "10\.0\.0\.300/8"'

# A port the last good run guarded must stay guarded when the daemon restarts
# with a broken file: failing closed must not delete that port's jumps (which
# would leave it open to everybody) just because the fallback policy only
# knows the default port.
echo "---- second_port"
two_ports() { # two_ports FILE ALLOW-LIST
    mg_write_raw "$1" "{
  \"ports\": [11211, 11212],
  \"protocols\": [\"tcp\", \"udp\"],
  \"allow\": [$2],
  \"verify_interval_s\": 5
}"
}
two_ports "$TMP/two-ports.json" '"192.168.1.0/24", "fd12:3456::/48"'
mg_start_listener two_ports_good
mg_start_daemon two_ports_good "$TMP/two-ports.json"
mg_wait_notify READY=1 1 10 || mg_fatal "second_port: no READY=1 from the run with a valid file"
kill -TERM "$MG_DAEMON"
mg_wait_exit "$MG_DAEMON" 10 || mg_fatal "second_port: the daemon did not exit within 10 s of SIGTERM"
for fam in ipv4 ipv6; do
    for proto in tcp udp; do
        mg_ipt $fam -C INPUT -p $proto -m $proto --dport 11212 -m comment --comment $MG_TAG -j MEMGUARD 2>/dev/null ||
            mg_fatal "second_port: precondition: $fam $proto 11212 jump missing after the valid run"
    done
done
pass "second_port: a valid run guarded ports 11211 and 11212 and stopped, rules left in place"
two_ports "$TMP/two-ports.json" '"192.168.1.0/24", "10.0.0.300/8"'
mg_start_listener two_ports_bad
mg_start_daemon two_ports_bad "$TMP/two-ports.json"
mg_wait_notify READY=1 1 10 || mg_fatal "second_port: no READY=1 from the run with a broken file"
for fam in ipv4 ipv6; do
    for proto in tcp udp; do
        check "second_port: restarted with a broken file, $fam $proto port 11212 still jumps to MEMGUARD (not left open)" \
            mg_ipt $fam -C INPUT -p $proto -m $proto --dport 11212 -m comment --comment $MG_TAG -j MEMGUARD 2>/dev/null
    done
    check "second_port: $fam MEMGUARD holds exactly loopback ACCEPT + DROP" \
        [ "$(mg_ours $fam | grep '^-A MEMGUARD')" = "$(grep '^-A MEMGUARD' "$TMP/closed.$fam")" ]
done

mg_finish
