#!/bin/bash
# backend_temporary_<backend>: temporary allowlist entries (memguardd allow --for, revoke), judged
# by real clients over a veth pair:
#   (a) an outsider is blocked; `allow ADDR --for 4s --comment vendor` lets its new connections
#       in at once (tcp and udp answered) and status lists the entry with its expiry; when it
#       expires (within a verify interval of its time) the connection it held open is cut, new
#       ones are blocked again, and the log says it expired.
#   (b) an entry for 1h survives a restart of the daemon (still allowed, listed with the same
#       expiry, kept in $STATE_DIRECTORY/temporary.json; clients judges its flow by it, allowed
#       and labelled); `revoke` takes it out at once. One that
#       expires while the daemon is stopped is dropped at the start, logged as expired.
#   (c) errors, each a clear message and a non-zero exit: a bad duration, an unknown guard, a
#       network the config allows already (and revoking it), no --guard when the config has
#       several guards, no daemon running.
# Usage: temporary.sh MEMGUARDD iptables-legacy|nftables   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$@"

b_topology
export STATE_DIRECTORY=$TMP/state
b_config "$CONF" 1 "$H_OK6/128"

reach() { b_reach "$@"; }
blocked() { b_blocked "$@"; }
logged() { grep -q "$1" "$MG_ERR"; }
# in_rules ADDR : our rules accept ADDR (an IPv4 host); an nftables element may carry its label
in_rules() {
    if [ "$B_BACKEND" = nftables ]; then
        b_nft_elems allow4 | grep -qx "$1"
    else
        mg_save ipv4 | grep -q -- "^-A MEMGUARD -s $1/32 .*-j ACCEPT"
    fi
}

# --- (a) ----------------------------------------------------------------------------------------
mg_start_listener notify
h_start_daemon daemon "$CONF"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s"
blocked "(a) before" "$H_OUT4" "$H_SRV4"
h_mg allow "$H_OUT4" --for 4s --comment vendor
granted_us=$(mg_now_us)
check "(a) allow exits 0: $H_OUT $H_ERR" test "$H_RC" = 0
check "(a) allow says what it granted: $H_OUT" \
    grep -q "^allowed $H_OUT4 \"vendor\" in guard default for 4s, until 20" <<<"$H_OUT"
reach "(a) at once" "$H_OUT4" "$H_SRV4"
check "(a) the rules name the temporary address" in_rules "$H_OUT4"
h_mg status --config "$CONF"
check "(a) status lists the entry with its expiry: $H_OUT" \
    grep -qE "^temporary $H_OUT4 \"vendor\" in guard default until 20[0-9-]+T[0-9:]+Z \([0-9]s left\)" <<<"$H_OUT"
h_mg status --json --config "$CONF"
check "(a) status --json has the entry and its expiry" \
    jq -e --arg n "$H_OUT4" '.daemon.temporary | length == 1 and .[0].net == $n and
        .[0].comment == "vendor" and (.[0].expires | test("^20..-..-..T..:..:..Z$"))' <<<"$H_OUT"
check "(a) the log says it was granted" logged "temporary entry granted: $H_OUT4 \"vendor\" in guard default for 4s.*event=temporary"

b_hold "$H_OUT4" "(a) the temporary client holds a connection"
expired() { logged "temporary entry expired: $H_OUT4 \"vendor\" in guard default"; }
cut() { logged "revoked $H_OUT4 (vendor): cut [1-9]"; }
mg_wait_until 10 cut || fail "(a) no connection cut logged within 10 s of the grant"
took=$(mg_ms_since "$granted_us")
check "(a) the log says it expired" expired
# Its connections cut not before 4 s (the expiry is the grant's time rounded up to a second, plus 4 s); not later
# than one verify interval (1 s) after it, plus a second for that rounding.
check "(a) it expired on time: ${took} ms after the grant" test "$took" -ge 4000 -a "$took" -le 6000
touch "$TMP/held.go"
mg_wait_until 5 test -s "$TMP/held.out"
check "(a) its held connection is cut: $(cat "$TMP/held.out" 2>/dev/null)" \
    grep -qE '^(no answer|reset|closed)' "$TMP/held.out"
blocked "(a) after the expiry" "$H_OUT4" "$H_SRV4"
h_mg status --json --config "$CONF"
check "(a) status --json lists no entry any more" jq -e '.daemon.temporary == []' <<<"$H_OUT"

# --- (b) ----------------------------------------------------------------------------------------
h_mg allow "$H_OUT4" --for 1h --comment partner
check "(b) allow --for 1h exits 0: $H_ERR" test "$H_RC" = 0
h_mg status --json --config "$CONF"
expires=$(jq -r '.daemon.temporary[0].expires' <<<"$H_OUT")
check "(b) the entry is kept in the state directory, mode 0600" \
    test "$(stat -c %a "$STATE_DIRECTORY/temporary.json" 2>/dev/null)" = 600
h_stop_daemon
h_start_daemon again "$CONF"
mg_wait_notify READY=1 2 10 || mg_fatal "(b) no READY=1 after the restart"
reach "(b) after the restart" "$H_OUT4" "$H_SRV4"
h_mg clients --json --config "$CONF"
check "(b) clients judges its udp flow by the temporary entry: allowed, labelled partner" \
    jq -e --arg n "$H_OUT4" 'any(.groups[]; .network == $n and .verdict == "allowed" and
        .label == "partner" and .udp >= 1)' <<<"$H_OUT"
h_mg status --json --config "$CONF"
check "(b) still listed, with the same expiry ($expires)" \
    test "$(jq -r '.daemon.temporary[0].expires' <<<"$H_OUT")" = "$expires"
# The kernel holds the config and the entry: that is in sync, not drift nor an exposure.
h_mg status --config "$CONF"
check "(b) status with an entry in force: in sync, exit 0 ($H_RC): $H_OUT" \
    eval 'test "$H_RC" = 0 && grep -q ": in sync$" <<<"$H_OUT"'
h_mg doctor --config "$CONF"
check "(b) doctor with an entry in force: no exposure, no warning ($H_RC)" \
    eval 'test "$H_RC" = 0 && ! grep -q "EXPOSURE\|WARNING" <<<"$H_OUT"'
h_mg explain "$H_OUT4" 11211/tcp --config "$CONF"
check "(b) explain: allowed by the temporary entry ($H_RC): $H_OUT" \
    eval 'test "$H_RC" = 0 && grep -q "temporary.json" <<<"$H_OUT"'
h_mg revoke "$H_OUT4"
check "(b) revoke exits 0: $H_OUT $H_ERR" test "$H_RC" = 0
blocked "(b) at once after revoke" "$H_OUT4" "$H_SRV4"
check "(b) the log says it was revoked" logged "temporary entry revoked: $H_OUT4 \"partner\" in guard default"
h_mg allow "$H_OUT4" --for 1s
check "(b) allow --for 1s exits 0: $H_ERR" test "$H_RC" = 0
h_stop_daemon
expiry=$(jq -r '.temporary[0].expires' "$STATE_DIRECTORY/temporary.json")
past() { [ "$(date -u +%s)" -gt "$(date -u -d "$expiry" +%s)" ]; }
mg_wait_until 3 past || fail "(b) the clock did not pass $expiry"
h_start_daemon third "$CONF"
mg_wait_notify READY=1 3 10 || mg_fatal "(b) no READY=1 after the second restart"
check "(b) an entry that expired while the daemon was stopped is logged as expired" \
    logged "temporary entry expired: $H_OUT4 in guard default at .*, while memguardd was not running"
blocked "(b) after the start" "$H_OUT4" "$H_SRV4"

# --- (c) ----------------------------------------------------------------------------------------
h_mg allow "$H_OUT4" --for 5x
check "(c) a bad duration: exit 2 and the unit named: $H_ERR" \
    eval '[ "$H_RC" = 2 ] && grep -q "unknown unit \"x\"" <<<"$H_ERR"'
h_mg allow "$H_OUT4" --for 500ms
check "(c) below one second is refused: $H_ERR" \
    eval '[ "$H_RC" = 2 ] && grep -q "below one second" <<<"$H_ERR"'
h_mg allow "$H_OUT4" --for 1h --guard nope
check "(c) an unknown guard: exit 1, named: $H_ERR" \
    eval '[ "$H_RC" = 1 ] && grep -q "no guard \"nope\" in the config" <<<"$H_ERR"'
h_mg allow "$H_OK6" --for 1h
check "(c) a network of the config: exit 1, where it is listed: $H_ERR" \
    eval '[ "$H_RC" = 1 ] && grep -qF "$H_OK6 is already allowed by $CONF at allow[0]" <<<"$H_ERR"'
h_mg revoke "$H_OK6"
check "(c) revoking a config entry: exit 1, edit the file: $H_ERR" \
    eval '[ "$H_RC" = 1 ] && grep -qF "edit $CONF at allow[0]" <<<"$H_ERR"'
h_mg allow "10.0.0.5/24" --for 1h
check "(c) host bits: exit 1, the network meant: $H_ERR" \
    eval '[ "$H_RC" = 1 ] && grep -qF "did you mean \"10.0.0.0/24\"" <<<"$H_ERR"'
h_mg status --json --config "$CONF"
check "(c) none of them made an entry" jq -e '.daemon.temporary == []' <<<"$H_OUT"
mg_write_raw "$CONF" "{\"backend\": \"$B_BACKEND\", \"verify_interval_s\": 1, \"metrics_file\": null,
  \"guards\": [{\"name\": \"cache\", \"ports\": [$MG_PORT], \"allow\": [\"$H_OK6\"]},
             {\"name\": \"pages\", \"ports\": [11311], \"allow\": []}]}"
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 4 10 || fail "(c) no READY=1 after the reload to two guards"
h_mg allow "$H_OUT4" --for 1h
check "(c) two guards and no --guard: exit 1, name one: $H_ERR" \
    eval '[ "$H_RC" = 1 ] && grep -q "the config has 2 guards (cache, pages): name one with --guard" <<<"$H_ERR"'
h_mg allow "$H_OUT4" --for 1h --guard cache
check "(c) with --guard cache: granted: $H_OUT $H_ERR" test "$H_RC" = 0
b_reach "(c) in guard cache" "$H_OUT4" "$H_SRV4"
h_stop_daemon
h_mg allow "$H_OUT4" --for 1h
check "(c) no daemon: exit 1 and why: $H_ERR" \
    eval '[ "$H_RC" = 1 ] && grep -q "memguardd is not running; a temporary entry needs the daemon" <<<"$H_ERR"'
mg_finish
