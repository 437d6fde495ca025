#!/bin/bash
# daemon_fail_closed: with no usable config at start the daemon programs the
# chain with loopback-only access (lo ACCEPT + DROP, both families), logs an
# error, still says READY=1 (it is guarding), and takes the full rules on
# SIGHUP once the file is valid.
#
# Two starts in the same namespace: a missing file, then a bad CIDR. The
# second start finds the full rules of the first one still in the kernel (a
# stopped memguardd leaves them), so it also shows that failing closed takes
# allowed networks *out*.
#
# With nftables the fail-closed state is the table `inet memguard` with empty sets allow4 and
# allow6, no established rule, loopback accept and drop on the ports. A daemon without a usable
# config cannot read "backend" from it: it fails closed in the backend that already holds our
# rules, or by "auto" (iptables-legacy wherever legacy tables exist, as here). So the nftables
# variant first runs the daemon once with a valid config naming nftables and stops it (the table
# stays), and each start with an unusable file must then fail closed in that table, with nothing
# of ours in the legacy tables.
# Usage: fail_closed.sh MEMGUARDD [iptables-legacy|nftables]
# shellcheck disable=SC2034 # variables read inside eval strings
. "$(dirname "$0")/lib.sh"
mg_backend "$@"
mg_init "$1"
note "backend: $MG_BACKEND"

NETS=(192.168.1.0/24 fd12:3456::/48)
for fam in ipv4 ipv6; do
    mg_expect $fam --fail-closed >"$TMP/closed.$fam"
    mg_expect $fam "${NETS[@]}" >"$TMP/full.$fam"
    mg_add_foreign $fam || mg_fatal "cannot add the foreign rules ($fam)"
done
if mg_is_nft; then
    mg_add_foreign_all || mg_fatal "cannot add the foreign nftables table"
    # The fail-closed table: no elements in the sets, no established rule.
    mg_nft_expect | grep -v -e 'ct state established,related accept' -e 'fib saddr . iif oif missing' >"$TMP/closed.nft"
    mg_nft_expect "${NETS[@]}" >"$TMP/full.nft"
fi

# nft_guard_chains FILE|- : the guard4 and guard6 chains of a table text (mg_nft_table's)
nft_guard_chains() { sed -n '/^\tchain guard4 {/,$p' "${1:--}"; }
# nft_closed_ok : our table is exactly the fail-closed one, and the legacy tables hold nothing of ours
nft_closed_ok() { [ "$(mg_nft_table)" = "$(cat "$TMP/closed.nft")" ] && nothing_legacy; }
nft_full_ok() { [ "$(mg_nft_table)" = "$(cat "$TMP/full.nft")" ] && nothing_legacy; }
nothing_legacy() { [ -z "$(mg_ours ipv4)" ] && [ -z "$(mg_ours ipv6)" ]; }
# nft_rules FAMILY : the rules of guard4|guard6, as nft -j prints their expressions, one a line
nft_rules() { nft -j list chain inet memguard "guard${1#ipv}" | jq -c '.nftables[] | select(.rule) | .rule.expr'; }
# nft_sets_empty : allow4 and allow6 exist and hold no element
nft_sets_empty() {
    local set
    for set in allow4 allow6; do
        nft -j list set inet memguard $set | jq -e '[.nftables[] | select(.set)] | length == 1 and (.[0].set.elem // [] | length == 0)' >/dev/null || return 1
    done
}
# nft_closed_rules FAMILY : lo accept first, drop last, no established rule and no accept of a
# source other than the (empty) allow set
nft_closed_rules() {
    local rules
    rules=$(nft_rules "$1") || return 1
    head -n 1 <<<"$rules" | grep -q '"iifname".*"lo".*"accept"' &&
        tail -n 1 <<<"$rules" | grep -q '"drop"' &&
        ! grep -q '"ct"' <<<"$rules" &&
        [ "$(grep -c '"saddr"' <<<"$rules")" = "$(grep -c '"saddr".*"@allow' <<<"$rules")" ]
}
# nft_jump_ok FAMILY PROTO PORT : the input chain sends PROTO PORT of FAMILY to guard4|guard6
nft_jump_ok() {
    nft list chain inet memguard input 2>/dev/null |
        grep -q "meta nfproto $1 $2 dport $3 jump guard${1#ipv} "
}

if mg_is_nft; then
    echo "---- prime"
    mg_config "$TMP/prime.json" 5 "${NETS[@]}"
    mg_start_listener prime
    mg_start_daemon prime "$TMP/prime.json"
    mg_wait_notify READY=1 1 10 || mg_fatal "prime: no READY=1 from the run with a valid nftables config"
    kill -TERM "$MG_DAEMON"
    mg_wait_exit "$MG_DAEMON" 10 || mg_fatal "prime: the daemon did not exit within 10 s of SIGTERM"
    if nft_full_ok; then
        pass "prime: a valid nftables run left the full table in place, nothing of ours in legacy"
    else
        mg_diff_report "$TMP/full.nft" "$(mg_nft_table)"
        mg_fatal "prime: precondition: the full table of the valid run is not in place"
    fi
fi

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
    if mg_is_nft; then
        if nft_closed_ok; then
            pass "$name: the table holds exactly empty sets, loopback accept + drop, the port's jumps; nothing of ours in legacy"
        else
            fail "$name: the table is not the fail-closed one (or legacy holds rules of ours):"
            mg_diff_report "$TMP/closed.nft" "$(mg_nft_table)"
            mg_ours ipv4 | sed 's/^/     legacy: /'
            mg_ours ipv6 | sed 's/^/     legacy: /'
        fi
        check "$name: nft -j: allow4 and allow6 hold no element" nft_sets_empty
        for fam in ipv4 ipv6; do
            check "$name: $fam: nft -j: guard${fam#ipv} starts with lo accept, ends with drop, no ct state rule" \
                nft_closed_rules $fam
            check "$name: $fam: the input chain jumps tcp and udp $MG_PORT to guard${fam#ipv}" \
                eval "nft_jump_ok $fam tcp $MG_PORT && nft_jump_ok $fam udp $MG_PORT"
        done
        check "$name: the foreign rules (legacy and nftables) are still there" mg_foreign_all_present
    else
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
    fi
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
    if mg_is_nft; then
        check "$name, SIGHUP, file still unusable: the table is still exactly the fail-closed one" nft_closed_ok
    else
        for fam in ipv4 ipv6; do
            check "$name, SIGHUP, file still unusable: $fam still exactly loopback ACCEPT + DROP" \
                mg_rules_ok $fam "$TMP/closed.$fam"
        done
    fi
    status=$(mg_notify_datagram "$(mg_notify_field READY=1 2 2)" | grep '^STATUS=')
    check "$name, SIGHUP, file still unusable: STATUS still says FAIL-CLOSED ($status)" \
        grep -q 'FAIL-CLOSED' <<<"$status"
    check "$name, SIGHUP, file still unusable: status --json still says fail_closed: true" \
        [ "$(state_field fail_closed)" = true ]

    # Now a valid file, and SIGHUP.
    mg_config "$conf" 5 "${NETS[@]}"
    kill -HUP "$MG_DAEMON"
    if ! mg_wait_notify READY=1 3 10; then
        fail "$name: no READY=1 within 10 s of SIGHUP with a valid file"
        return
    fi
    local reloading
    reloading=$(mg_notify_field RELOADING=1 2 2)
    check "$name: RELOADING=1 came before READY=1 again" \
        eval '[ -n "$reloading" ] && [ "$reloading" -lt "$(mg_notify_field READY=1 3 2)" ]'
    if mg_is_nft; then
        if nft_full_ok; then
            pass "$name: after SIGHUP with a valid file, the table holds the full rules"
        else
            fail "$name: after SIGHUP with a valid file, the table is wrong (or legacy holds rules of ours):"
            mg_diff_report "$TMP/full.nft" "$(mg_nft_table)"
        fi
        local net set
        for net in "${NETS[@]}"; do
            set=allow4
            [[ $net == *:* ]] && set=allow6
            check "$name: nft get element finds $net in $set" \
                eval "nft get element inet memguard $set '{ $net }' >/dev/null 2>&1"
        done
    else
        for fam in ipv4 ipv6; do
            if mg_rules_ok $fam "$TMP/full.$fam"; then
                pass "$name: after SIGHUP with a valid file, $fam holds the full rules"
            else
                fail "$name: after SIGHUP with a valid file, $fam rules are wrong:"
                mg_diff_report "$TMP/full.$fam" "$(mg_ours $fam)"
            fi
            check "$name: $fam: iptables -C finds every rule" mg_check_C $fam "$TMP/full.$fam"
        done
    fi
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
mg_is_nft && mg_backend_config "$TMP/bad-cidr.json" # unusable all the same: the backend is not read
if mg_is_nft; then
    nft_full_ok || fail "bad_cidr: precondition: the full table of the last run is not in place"
else
    for fam in ipv4 ipv6; do
        mg_rules_ok $fam "$TMP/full.$fam" || fail "bad_cidr: precondition: the full $fam rules of the last run are not in place"
    done
fi
case_ bad_cidr "$TMP/bad-cidr.json" 'allow\[1\]: "10\.0\.0\.300/8"'

# A port the last good run guarded must stay guarded when the daemon restarts
# with a broken file and no last good policy (its state file gone; with one, the
# daemon runs that instead: backend_last_good): failing closed must not delete
# that port's jumps (which would leave it open to everybody) just because the
# fallback policy only knows the default port.
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
mg_backend_config "$TMP/two-ports.json"
mg_start_listener two_ports_good
mg_start_daemon two_ports_good "$TMP/two-ports.json"
mg_wait_notify READY=1 1 10 || mg_fatal "second_port: no READY=1 from the run with a valid file"
kill -TERM "$MG_DAEMON"
mg_wait_exit "$MG_DAEMON" 10 || mg_fatal "second_port: the daemon did not exit within 10 s of SIGTERM"
for fam in ipv4 ipv6; do
    for proto in tcp udp; do
        if mg_is_nft; then
            nft_jump_ok $fam $proto 11212 ||
                mg_fatal "second_port: precondition: $fam $proto 11212 jump missing from the table after the valid run"
        else
            mg_ipt $fam -C INPUT -p $proto -m $proto --dport 11212 -m comment --comment $MG_TAG -j MEMGUARD 2>/dev/null ||
                mg_fatal "second_port: precondition: $fam $proto 11212 jump missing after the valid run"
        fi
    done
done
pass "second_port: a valid run guarded ports 11211 and 11212 and stopped, rules left in place"
two_ports "$TMP/two-ports.json" '"192.168.1.0/24", "10.0.0.300/8"'
rm "$STATE_DIRECTORY/last-good.json" || mg_fatal "second_port: the valid run kept no last good policy"
mg_backend_config "$TMP/two-ports.json"
mg_start_listener two_ports_bad
mg_start_daemon two_ports_bad "$TMP/two-ports.json"
mg_wait_notify READY=1 1 10 || mg_fatal "second_port: no READY=1 from the run with a broken file"
if mg_is_nft; then
    for fam in ipv4 ipv6; do
        for proto in tcp udp; do
            check "second_port: restarted with a broken file, $fam $proto port 11212 still jumps to guard${fam#ipv} (not left open)" \
                nft_jump_ok $fam $proto 11212
        done
    done
    check "second_port: guard4 and guard6 hold exactly loopback accept, the empty set's accept, drop" \
        [ "$(mg_nft_table | nft_guard_chains)" = "$(nft_guard_chains "$TMP/closed.nft")" ]
    check "second_port: allow4 and allow6 hold no element" nft_sets_empty
    check "second_port: nothing of ours in the legacy tables" nothing_legacy
else
    for fam in ipv4 ipv6; do
        for proto in tcp udp; do
            check "second_port: restarted with a broken file, $fam $proto port 11212 still jumps to MEMGUARD (not left open)" \
                mg_ipt $fam -C INPUT -p $proto -m $proto --dport 11212 -m comment --comment $MG_TAG -j MEMGUARD 2>/dev/null
        done
        check "second_port: $fam MEMGUARD holds exactly loopback ACCEPT + DROP" \
            [ "$(mg_ours $fam | grep '^-A MEMGUARD')" = "$(grep '^-A MEMGUARD' "$TMP/closed.$fam")" ]
    done
fi

mg_finish
