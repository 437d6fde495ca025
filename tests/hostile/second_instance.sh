#!/bin/bash
# hostile_second_instance: one memguardd per network namespace.
#
#   - a second `memguardd run` in the same namespace exits non-zero within 5 s, saying
#     "already running" and the first daemon's pid; the first daemon keeps guarding: still
#     alive, its rules byte-identical, no revocation in its log since then;
#   - `memguardd apply --once --config OTHER` and `memguardd remove` while the daemon runs exit
#     non-zero with a message that names `--force`, and change nothing (save output and
#     ipsets identical); with `--force` they act (the other config's rules are in / nothing of
#     memguardd's is left);
#   - a daemon in ANOTHER network namespace, with the same RUNTIME_DIRECTORY, started while the
#     first one runs, starts fine (READY=1, its rules in place, still running): the instance
#     lock is per network namespace.
# verify_interval_s is 60 so that the first daemon's verify passes do not mix into what the
# one-shot commands did.
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
h_init "$@"

h_netns SRV
h_netns OTHER
H_NS=$SRV
h_config "$TMP/memguard.json" 60 "$H_OK4/32" "$H_OK6/128"
h_config "$TMP/other.json" 60 "$H_OK4/32" 192.0.2.0/24 "$H_OK6/128"
state() { mg_save_all ipv4; mg_save_all ipv6; ipset save; }

mg_start_listener first
h_start_daemon first "$TMP/memguard.json"
FIRST=$MG_DAEMON
FIRST_ERR=$MG_ERR
mg_wait_notify READY=1 1 10 || mg_fatal "the first daemon sent no READY=1 within 10 s"
for fam in ipv4 ipv6; do
    mg_expect $fam "$H_OK4/32" "$H_OK6/128" >"$TMP/want.$fam"
    mg_rules_ok $fam "$TMP/want.$fam" || mg_fatal "$fam rules of the first daemon not as configured"
done
pass "first daemon (pid $FIRST) ready, rules in place"
before=$(state)
first_log_off=$(mg_log_size "$FIRST_ERR")

# ---- a second `run` in the same namespace ---------------------------------------------------------
mg_start_listener second
t0=$(mg_now_us)
h_start_daemon second "$TMP/memguard.json"
SECOND=$MG_DAEMON
if mg_wait_exit "$SECOND" 5; then
    check "second run exited within 5 s ($(mg_ms_since "$t0") ms) with a non-zero status (got $MG_EXIT_STATUS)" \
        [ "$MG_EXIT_STATUS" != 0 ]
else
    fail "second run still running 5 s after it started"
    kill -TERM "$SECOND" 2>/dev/null
    mg_wait_exit "$SECOND" 10
fi
check "second run says \"already running\"" grep -q 'already running' "$TMP/second.err"
check "second run names the first daemon's pid $FIRST" grep -qw "$FIRST" "$TMP/second.err"
sed 's/^/     second: /' "$TMP/second.err" | head -n 5
check "second run sent no READY=1" [ "$(mg_notify_count READY=1)" = 0 ]
MG_NOTIFY_OUT=$TMP/first.notify
check "the first daemon is still running" eval "! mg_gone $FIRST"
h_same "the first daemon's rules (and every ipset) are byte-identical" "$before" "$(state)"
check "the first daemon logged no revocation since the second run started" \
    eval "! mg_log_since '$FIRST_ERR' $first_log_off | grep -qE 'event=revoke|revoked'"

# ---- a daemon in another namespace at the same time -------------------------------------------------
H_NS=$OTHER
mg_start_listener other
h_start_daemon other "$TMP/memguard.json"
OTHER_PID=$MG_DAEMON
if mg_wait_notify READY=1 1 10; then
    pass "a daemon in another network namespace (pid $OTHER_PID) started: READY=1"
else
    fail "the daemon in another network namespace sent no READY=1 within 10 s: $(tail -n 2 "$MG_ERR" | tr '\n' ' ')"
fi
for fam in ipv4 ipv6; do
    check "other namespace: $fam rules in place" mg_rules_ok $fam "$TMP/want.$fam"
done
sleep 1
check "other namespace: its daemon still running 1 s later" eval "! mg_gone $OTHER_PID"
check "the first daemon is still running" eval "! mg_gone $FIRST"
H_NS=$SRV
h_same "the first namespace is unchanged by the other daemon" "$before" "$(state)"

# ---- one-shot commands while the daemon runs -----------------------------------------------------------
h_mg apply --once --config "$TMP/other.json"
check "apply --once while the daemon runs exits non-zero (got $H_RC)" [ "$H_RC" != 0 ]
check "apply --once names --force" grep -q -- '--force' <<<"$H_OUT$H_ERR"
h_same "apply --once without --force changed nothing" "$before" "$(state)"
h_mg remove
check "remove while the daemon runs exits non-zero (got $H_RC)" [ "$H_RC" != 0 ]
check "remove names --force" grep -q -- '--force' <<<"$H_OUT$H_ERR"
h_same "remove without --force changed nothing" "$before" "$(state)"

h_mg apply --once --force --config "$TMP/other.json"
check "apply --once --force exits 0 (got $H_RC: $(echo "$H_ERR" | head -n 1))" [ "$H_RC" = 0 ]
check "apply --once --force acted: the other config's 192.0.2.0/24 rule is in" \
    eval "mg_ipt ipv4 -C MEMGUARD -s 192.0.2.0/24 -m comment --comment $MG_TAG -j ACCEPT 2>/dev/null"
h_mg remove --force
check "remove --force exits 0 (got $H_RC: $(echo "$H_ERR" | head -n 1))" [ "$H_RC" = 0 ]
for fam in ipv4 ipv6; do
    check "remove --force acted: nothing of memguardd's left in $fam" eval "! mg_save $fam | grep -qE '$MG_TAG|MEMGUARD'"
done

mg_finish
