#!/bin/bash
# daemon_verify_status: `memguardd verify` and `memguardd status` tell the truth, from the
# running daemon itself (its control socket), with systemctl-like exit codes:
#  - no daemon: status exits 3 and says "not running"; verify compares only (1 when the kernel
#    differs), and says it repaired nothing;
#  - a daemon in sync: status exits 0 and names its pid, version, backend and config (also
#    without --config) in at most 12 lines with no WARNING; --verbose adds our rules with their
#    counters and how to see them; verify exits 0;
#  - a tamper between two timer passes (the interval is an hour): verify repairs it now, names
#    it, exits 1; SIGUSR1 does the same pass for scripts;
#  - the last drift survives a reload; an invalid config at start: status exits 1 and says the
#    daemon runs the last good config; without one, FAILING CLOSED.
# With nftables the daemon hears of a tamper from the kernel and repairs it at once, before any
# verify could: the tampers (on the test-only unowned table) are judged by the repair and its
# count in status instead.
# Usage: verify_status.sh MEMGUARDD [iptables-legacy|nftables]
. "$(dirname "$0")/lib.sh"
mg_backend "$@"
mg_init "$1"
note "backend: $MG_BACKEND"

NETS=(192.168.1.0/24 fd12:3456::/48)
CONF=$TMP/memguard.json
mg_config "$CONF" 3600 "${NETS[@]}"
st() { "$MEMGUARDD" status "$@"; }

rc=0; out=$(st --config "$CONF") || rc=$?
check "no daemon: status exits 3 (got $rc)" [ "$rc" = 3 ]
check "no daemon: status says not running" grep -q 'not running' <<<"$out"
check "no daemon: status says what to do" grep -q 'WARNING: .*fix: systemctl start memguardd' <<<"$out"
out=$(st --verbose --config "$CONF") || true
check "no daemon, nothing applied: status --verbose says so per family" \
    grep -q "ipv4: nothing of memguardd's in the kernel" <<<"$out"
rc=0; out=$("$MEMGUARDD" verify --config "$CONF") || rc=$?
check "no daemon: verify compares only and exits 1 (got $rc)" [ "$rc" = 1 ]
check "no daemon: verify says it repaired nothing" grep -q 'repaired nothing' <<<"$out"

mg_start_listener notify
# Unowned for status and verify too: they compare the table with the one they would build, and
# an owned one has flags that the test-only table lacks.
mg_is_nft && export MEMGUARD_TEST_NFT_UNOWNED=1
mg_start_daemon daemon "$CONF"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s of starting the daemon"
rc=0; json=$(st --json --config "$CONF") || rc=$?
check "in sync: status --json exits 0 (got $rc)" [ "$rc" = 0 ]
check "status --json: .daemon.pid is the daemon's ($MG_DAEMON)" \
    [ "$(jq -r .daemon.pid <<<"$json")" = "$MG_DAEMON" ]
check "status --json: version, backend and config at the top" \
    jq -e --arg c "$CONF" '.version != null and .backend == "'"$MG_BACKEND"'" and .config == $c' <<<"$json"
check "status --json: no array under two names (no .jumps beside .input)" \
    jq -e '[.families[] | has("jumps")] | any | not' <<<"$json"
rc=0; out=$(st) || rc=$?
check "without --config, status compares the running daemon's config (exit $rc)" \
    eval '[ "$rc" = 0 ] && grep -q "config $CONF: in sync" <<<"$out"'
check "in sync: status is at most 12 lines ($(wc -l <<<"$out"))" [ "$(wc -l <<<"$out")" -le 12 ]
check "in sync: status names the pid, the backend, the guard and the last apply" \
    eval 'grep -q "running, pid $MG_DAEMON" <<<"$out" && grep -q "^backend $MG_BACKEND (" <<<"$out" &&
          grep -q "^guard default (tcp/udp $MG_PORT): 2 network(s) allowed" <<<"$out" &&
          grep -q "^last apply 20" <<<"$out"'
check "in sync: status has no WARNING and no rule counters" eval '! grep -qE "WARNING|pkts" <<<"$out"'
out=$(st --verbose) || true
check "status --verbose: the summary, then our rules with their counters" \
    eval 'grep -q "config $CONF: in sync" <<<"$out" && grep -qE "^ +[0-9]+ +[0-9]+ pkts" <<<"$out"'
check "status --verbose: how to see the rules with the backend's own tools" \
    grep -qE "^backend $MG_BACKEND: .*(iptables-legacy|nft list)" <<<"$out"
rc=0; out=$("$MEMGUARDD" verify --config "$CONF") || rc=$?
check "in sync: verify exits 0 (got $rc)" [ "$rc" = 0 ]

# The control socket is root's (0600, in a directory only root can write): a user who is not
# root cannot even connect. $TMP is opened for the walk, as /run is.
chmod 711 "$TMP"
answer=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$MG_PYTHON" - "$MEMGUARD_RUNTIME_DIRECTORY"/net-*.sock <<'PY' 2>&1
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as e:
    print("refused:", e.strerror)
PY
)
chmod 700 "$TMP"
check "the control socket refuses a user who is not root ($answer)" test "$answer" = "refused: Permission denied"

if mg_is_nft; then
    in4() { nft get element inet memguard allow4 '{ 192.168.1.0/24 }' >/dev/null 2>&1; }
    in6() { nft get element inet memguard allow6 '{ fd12:3456::/48 }' >/dev/null 2>&1; }
    nft delete element inet memguard allow4 '{ 192.168.1.0/24 }' || fail "tamper: nft delete element failed"
    check "tamper: the daemon put 192.168.1.0/24 back in allow4 at once (kernel event)" mg_wait_until 2 in4
    check "tamper: status counts the repair (1)" mg_wait_until 2 eval '[ "$(mg_daemon_field repairs)" = 1 ]'
    rc=0; out=$("$MEMGUARDD" verify --config "$CONF") || rc=$?
    check "after the repair: verify exits 0 (got $rc)" [ "$rc" = 0 ]
    nft delete element inet memguard allow6 '{ fd12:3456::/48 }' || fail "tamper: nft delete element failed"
    kill -USR1 "$MG_DAEMON"
    check "second tamper: fd12:3456::/48 back in allow6" mg_wait_until 5 in6
    check "second tamper: status counts the repairs (2)" mg_wait_until 2 eval '[ "$(mg_daemon_field repairs)" = 2 ]'
    drift_re='allow6'
else
iptables-legacy -D MEMGUARD 3
rc=0; out=$("$MEMGUARDD" verify --config "$CONF") || rc=$?
check "tamper: verify exits 1, repaired (got $rc)" [ "$rc" = 1 ]
check "tamper: verify names the missing rule" grep -q 'MEMGUARD rule 3: missing' <<<"$out"
check "tamper: the rule is back" \
    iptables-legacy -C MEMGUARD -s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT

ip6tables-legacy -D MEMGUARD 3
kill -USR1 "$MG_DAEMON"
check "SIGUSR1: the daemon repaired at once" mg_wait_until 5 \
    ip6tables-legacy -C MEMGUARD -s fd12:3456::/48 -m comment --comment memguard -j ACCEPT
check "SIGUSR1: status counts the repairs (2)" [ "$(mg_daemon_field repairs)" = 2 ]
drift_re='ipv6 MEMGUARD rule 3'
fi

kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 2 10 || mg_fatal "no READY=1 after SIGHUP"
check "the last drift survives a reload" grep -q "$drift_re" <<<"$(mg_daemon_field last_drift)"

kill "$MG_DAEMON"
mg_wait_until 5 mg_gone "$MG_DAEMON" || mg_fatal "the daemon did not stop"
echo '{"allow": ["192.168.1.0/24"], "alow": 1}' >"$CONF"
mg_start_daemon bad "$CONF"
mg_wait_notify READY=1 3 10 || mg_fatal "no READY=1 with an invalid config"
rc=0; out=$(st --config "$CONF") || rc=$?
check "invalid config: status exits 1 (got $rc)" [ "$rc" = 1 ]
check "invalid config: status says the last good config runs" \
    grep -q "^WARNING: memguardd is running the last good config from .*; $CONF is invalid: " <<<"$out"

kill "$MG_DAEMON"
mg_wait_until 5 mg_gone "$MG_DAEMON" || mg_fatal "the daemon did not stop"
rm "$STATE_DIRECTORY/last-good.json" || fail "no last good policy was kept"
mg_start_daemon bad_no_last_good "$CONF"
mg_wait_notify READY=1 4 10 || mg_fatal "no READY=1 with an invalid config and no last good one"
rc=0; out=$(st --config "$CONF") || rc=$?
check "invalid config, no last good one: status exits 1 (got $rc)" [ "$rc" = 1 ]
check "invalid config, no last good one: status says FAILING CLOSED" grep -q 'FAILING CLOSED' <<<"$out"

mg_finish
