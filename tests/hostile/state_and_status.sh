#!/bin/bash
# hostile_state_and_status: `memguardd status` asks the running daemon (over a control socket
# of its network namespace), not a state file that anybody can plant, that outlives the
# daemon, or that another namespace's daemon overwrites.
#
#   - with the daemon running and in sync: `status --json` exits 0 and .daemon.pid is the
#     daemon's pid;
#   - a symlink planted at $MEMGUARD_RUNTIME_DIRECTORY/state.json.tmp, pointing at a file outside, is
#     never written through: the file is unchanged after the daemon applied and repaired;
#   - a FIFO, then a 300 MB sparse file at $MEMGUARD_RUNTIME_DIRECTORY/state.json: `timeout 10
#     memguardd status --json` neither hangs nor fails (exit 0, .daemon.pid right);
#   - two daemons in two network namespaces (same MEMGUARD_RUNTIME_DIRECTORY): `status --json` in each
#     namespace reports that namespace's daemon;
#   - after `kill -9` of the daemon: `status --json` exits 3 with .daemon null, and `status`
#     exits 3 and says "not running"; the other namespace's status is not affected.
# The repair: on iptables-legacy a rule of ours is deleted; on nftables the table is not owned
# (MEMGUARD_TEST_NFT_UNOWNED=1 for every memguardd process, as on kernels before 6.9, so that
# `nft` can tamper with it) and the allowed client's element is deleted from allow4.
# Usage: state_and_status.sh MEMGUARDD [iptables-legacy|nftables]
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/../backends/lib.sh"
h_need jq truncate mkfifo
b_init "$1" "${2:-iptables-legacy}"

h_netns SRV
h_netns OTHER
H_NS=$SRV
CONF=$TMP/memguard.json
b_config "$CONF" 1 "$H_OK4/32" "$H_OK6/128"
# For every memguardd process: the daemons and `status`, which compares with an unowned table too.
mg_is_nft && export MEMGUARD_TEST_NFT_UNOWNED=1
# rules_ok : our rules in $H_NS are the config's (tests/backends/lib.sh: b_guards_ok)
rules_ok() { b_guards_ok "$H_OK4/32" "$H_OK6/128"; }
RD=$MEMGUARD_RUNTIME_DIRECTORY

# status_json LABEL WANT_PID : status --json in $H_NS exits 0 and reports WANT_PID
status_json() {
    local label=$1 want=$2 pid
    h_mg status --json --config "$CONF"
    check "$label: status --json exits 0 (got $H_RC)" [ "$H_RC" = 0 ]
    pid=$(jq -r '.daemon.pid // "null"' <<<"$H_OUT" 2>/dev/null) || pid="(not JSON)"
    check "$label: status --json .daemon.pid is $want (got $pid)" [ "$pid" = "$want" ]
    [ "$H_RC" = 0 ] || echo "$H_ERR" | head -n 3 | sed 's/^/     stderr: /'
}

# ---- a symlink at state.json.tmp ----------------------------------------------------------------------
printf 'precious, not memguardd'"'"'s\n' >"$TMP/outside.txt"
ln -s "$TMP/outside.txt" "$RD/state.json.tmp"
outside_before=$(sha256sum <"$TMP/outside.txt")

mg_start_listener first
h_start_daemon first "$CONF"
FIRST=$MG_DAEMON
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s of starting the daemon"
rules_ok || mg_fatal "rules not as configured after READY=1"
pass "daemon (pid $FIRST) ready, rules in place"
status_json "running, in sync" "$FIRST"
check "running, in sync: status --json says in_sync true" eval "[ \"\$(jq -r .in_sync <<<\"\$H_OUT\" 2>/dev/null)\" = true ]"

if mg_is_nft; then
    b_nft delete element inet memguard allow4 "{ $H_OK4 }" || fail "nft delete element allow4 { $H_OK4 } failed"
else
    mg_ipt ipv4 -D MEMGUARD -s "$H_OK4/32" -m comment --comment "$MG_TAG" -j ACCEPT
fi
if mg_wait_until 4 rules_ok; then
    pass "a deleted rule was repaired"
else
    fail "a deleted rule was not repaired within 4 s"
fi
check "the file behind the planted symlink is unchanged after an apply and a repair" \
    [ "$(sha256sum <"$TMP/outside.txt")" = "$outside_before" ]
[ "$(sha256sum <"$TMP/outside.txt")" = "$outside_before" ] || head -c 300 "$TMP/outside.txt" | sed 's/^/     now: /'

# ---- a FIFO, a 300 MB sparse file at state.json ------------------------------------------------------
H_MG_TIMEOUT=10
rm -f "$RD/state.json"
mkfifo -m 600 "$RD/state.json"
t0=$(mg_now_us)
status_json "FIFO at state.json ($((H_MG_TIMEOUT)) s limit)" "$FIRST"
note "status took $(mg_ms_since "$t0") ms"
rm -f "$RD/state.json"
truncate -s 300M "$RD/state.json"
t0=$(mg_now_us)
status_json "300 MB sparse file at state.json" "$FIRST"
note "status took $(mg_ms_since "$t0") ms"
rm -f "$RD/state.json"
H_MG_TIMEOUT=30

# ---- two daemons, two namespaces ------------------------------------------------------------------------
H_NS=$OTHER
mg_start_listener other
h_start_daemon other "$CONF"
SECOND=$MG_DAEMON
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 from the daemon in the other namespace"
pass "a second daemon (pid $SECOND) runs in another namespace"
status_json "other namespace" "$SECOND"
H_NS=$SRV
status_json "first namespace, with a daemon running in the other one too" "$FIRST"

# ---- kill -9 ------------------------------------------------------------------------------------------------
kill -KILL "$FIRST"
{ mg_wait_exit "$FIRST" 5; } 2>/dev/null || mg_fatal "the daemon did not die on SIGKILL"
h_mg status --json --config "$CONF"
check "after kill -9: status --json exits 3 (got $H_RC)" [ "$H_RC" = 3 ]
daemon=$(jq -c '.daemon' <<<"$H_OUT" 2>/dev/null) || daemon="(not JSON)"
check "after kill -9: status --json .daemon is null (got $daemon)" [ "$daemon" = null ]
h_mg status --config "$CONF"
check "after kill -9: status exits 3 (got $H_RC)" [ "$H_RC" = 3 ]
check "after kill -9: status says \"not running\"" grep -q 'not running' <<<"$H_OUT$H_ERR"
grep -i daemon <<<"$H_OUT" | sed 's/^/     status: /'
H_NS=$OTHER
status_json "other namespace, after the first daemon was killed" "$SECOND"

mg_finish
