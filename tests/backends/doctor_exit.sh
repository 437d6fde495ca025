#!/bin/bash
# backend_doctor_exit_<backend>: `memguardd doctor` as a health check (the monitoring-plugin
# convention) against the real daemon; memcached answers tcp and udp on 0.0.0.0 and ::.
#   (a) the daemon runs, in sync, the clients behind the allowlist: exit 0 (the UDP and
#       rp_filter advice are notes, counted but not in the exit status).
#   (b) a file the fragment directory does not read (50-web.conf): a warning, exit 1.
#   (c) exposure: a reload to protocols ["tcp"] while memcached answers udp: the outside client
#       really gets an answer over udp, and doctor names that as an EXPOSURE, exit 2.
#       iptables-legacy: a foreign accept put ahead of our jump (the daemon's next verify is an
#       hour away) lets the outside client in over tcp: an EXPOSURE, exit 2.
#   (d) the guard not running: the daemon stopped (its rules stay), exit 2; then `memguardd
#       remove` (none of our rules in the kernel), exit 2 for that too.
# Usage: doctor_exit.sh MEMGUARDD iptables-legacy|nftables   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$@"

b_topology
b_config "$CONF" 3600 "$H_OK4/32" "$H_OK6/128"
mkdir -m 700 "$TMP/state"

# doctor_run LABEL WANT_RC : runs doctor; checks its exit status and that the closing counts
# ("E exposure(s), W warning(s), N note(s)") match its lines
doctor_run() {
    local label=$1 want=$2 e w fixes
    h_mg doctor --config "$CONF"
    e=$(grep -c '^EXPOSURE: ' <<<"$H_OUT" || true)
    w=$(grep -c '^WARNING: ' <<<"$H_OUT" || true)
    fixes=$(grep -c '^  fix: ' <<<"$H_OUT" || true)
    check "$label: doctor exits $want (got $H_RC; $e exposure(s), $w warning(s))" test "$H_RC" = "$want"
    check "$label: the closing counts match the lines" \
        grep -qx "$e exposure(s), $w warning(s), $((fixes - e - w)) note(s)" <<<"$H_OUT"
    [ "$H_RC" = "$want" ] || sed 's/^/     doctor: /' <<<"$H_OUT"
}

# --- (a) -----------------------------------------------------------------------------------------
mg_start_listener notify
h_start_daemon daemon "$CONF" STATE_DIRECTORY="$TMP/state"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s"
check "(a) the outside client gets no udp answer" test "$(b_udp "$H_OUT4" "$H_SRV4")" = silent
doctor_run "(a) running, in sync" 0
check "(a) the daemon is named as running" grep -q '^ok: memguardd runs in this network namespace' <<<"$H_OUT"
check "(a) UDP amplification is a note" grep -q '^note: udp .*memcached answers UDP' <<<"$H_OUT"
check "(a) no EXPOSURE and no WARNING" eval '! grep -qE "^(EXPOSURE|WARNING): " <<<"$H_OUT"'

# --- (b) -----------------------------------------------------------------------------------------
mkdir -m 700 "$TMP/memguard.d"
echo '{}' >"$TMP/memguard.d/50-web.conf"
chmod 600 "$TMP/memguard.d/50-web.conf"
doctor_run "(b) an ignored fragment" 1
check "(b) it is a WARNING naming the file" grep -q "^WARNING: .*50-web.conf.*ignored" <<<"$H_OUT"
rm -r "$TMP/memguard.d"

# --- (c) -----------------------------------------------------------------------------------------
sed -i 's/"protocols": \["tcp", "udp"\]/"protocols": ["tcp"]/' "$CONF"
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 2 10 || mg_fatal "no READY=1 after the reload"
check "(c) oracle: the outside client now gets a udp answer" test "$(b_udp "$H_OUT4" "$H_SRV4")" = answered
doctor_run "(c) udp not guarded" 2
check "(c) the open udp port is an EXPOSURE" \
    grep -q "^EXPOSURE: udp 0\.0\.0\.0:$MG_PORT is open to everybody: the rules cover only tcp" <<<"$H_OUT"
sed -i 's/"protocols": \["tcp"\]/"protocols": ["tcp", "udp"]/' "$CONF"
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 3 10 || mg_fatal "no READY=1 after the second reload"
doctor_run "(c) udp guarded again" 0

if [ "$B_BACKEND" = iptables-legacy ]; then
    mg_ipt ipv4 -I INPUT 1 -p tcp --dport "$MG_PORT" -j ACCEPT
    check "(c) oracle: with a foreign accept ahead of ours the outside client connects" \
        h_reaches "$H_OUT4" "$H_SRV4"
    doctor_run "(c) a foreign accept ahead of ours" 2
    check "(c) the shadowed jump is named in an EXPOSURE" \
        eval 'grep -A3 "^EXPOSURE: the kernel does not hold the rules the config asks for, in a way" <<<"$H_OUT" |
              grep -q "ipv4 INPUT rule"'
    mg_ipt ipv4 -D INPUT -p tcp --dport "$MG_PORT" -j ACCEPT
    doctor_run "(c) the foreign accept gone" 0
fi

# --- (d) -----------------------------------------------------------------------------------------
h_stop_daemon
check "(d) the rules stayed" b_guards_ok "$H_OK4/32" "$H_OK6/128"
doctor_run "(d) the daemon stopped" 2
check "(d) that is an EXPOSURE with what to do" \
    grep -qx 'EXPOSURE: memguardd is not running in this network namespace: .*' <<<"$H_OUT"
# (nftables: the table the daemon owned is orphaned now, which is a warning)
check "(d) and the only exposure" grep -qx '1 exposure(s), .* warning(s), .* note(s)' <<<"$H_OUT"
h_mg remove
check "(d) remove exits 0 (got $H_RC)" test "$H_RC" = 0
doctor_run "(d) none of our rules" 2
check "(d) no rules of ours is an EXPOSURE" \
    grep -q '^EXPOSURE: none of memguardd.s rules are in the kernel for ipv4 and ipv6' <<<"$H_OUT"

mg_finish
