#!/bin/bash
# hostile_second_instance: one memguardd per network namespace.
#
#   - a second `memguardd run` in the same namespace exits non-zero within 5 s, saying
#     "already running" and the first daemon's pid; the first daemon keeps guarding: still
#     alive, its rules byte-identical, no revocation in its log since then;
#   - `memguardd apply --once --config OTHER` and `memguardd remove` while the daemon runs exit
#     non-zero with a message that names `--force`, and change nothing (save output and
#     ipsets identical); with `--force` they act (the other config's rules are in / nothing of
#     memguardd's is left); under nftables the kernel refuses even those (the running daemon
#     owns the table): non-zero exit naming "Operation not permitted", the allowed client still
#     connects right after it, our table byte-identical, the outside client out, and within 5 s
#     all of netfilter as before;
#   - a daemon in ANOTHER network namespace, with the same MEMGUARD_RUNTIME_DIRECTORY, started while the
#     first one runs, starts fine (READY=1, its rules in place, still running): the instance
#     lock is per network namespace.
# verify_interval_s is 60 so that the first daemon's verify passes do not mix into what the
# one-shot commands did. "Changed nothing" compares the whole of netfilter before and after:
# both legacy save outputs and every ipset, and on nftables the whole ruleset too.
# The nftables variant has memcached and a client namespace for probes.
# Usage: second_instance.sh MEMGUARDD [iptables-legacy|nftables]
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/../backends/lib.sh"
b_init "$1" "${2:-iptables-legacy}"

h_netns SRV
h_netns OTHER
h_netns CLI
h_link "$SRV" "$CLI"
H_NS=$SRV
h_memcached "$SRV" "$MG_PORT"
b_config "$TMP/memguard.json" 60 "$H_OK4/32" "$H_OK6/128"
b_config "$TMP/other.json" 60 "$H_OK4/32" 192.0.2.0/24 "$H_OK6/128"
state() { mg_kernel_all; ipset save; }
# rules_ok : our rules in $H_NS are the config's (tests/backends/lib.sh: b_guards_ok)
rules_ok() { b_guards_ok "$H_OK4/32" "$H_OK6/128"; }

mg_start_listener first
h_start_daemon first "$TMP/memguard.json"
FIRST=$MG_DAEMON
FIRST_ERR=$MG_ERR
mg_wait_notify READY=1 1 10 || mg_fatal "the first daemon sent no READY=1 within 10 s"
rules_ok || mg_fatal "the rules of the first daemon are not as configured"
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
check "other namespace: rules in place" rules_ok
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

if mg_is_nft; then
    # The running daemon owns the table: the kernel refuses the one-shot even with --force
    # (docs/design.md says so). The table stays as it was, the port guarded; once the daemon has had
    # a verify pass all of netfilter is as before (whatever the refused one-shot left on its way
    # to failing closed is taken out by the daemon).
    ours_before=$(b_ours)
    # `remove` reads the legacy mangle tables too, and reading one makes it exist (empty): make
    # them exist now, so that "as before" compares rules, not that.
    mg_ipt ipv4 -t mangle -S >/dev/null && mg_ipt ipv6 -t mangle -S >/dev/null || mg_fatal "cannot read the mangle tables"
    before=$(state)
    for cmd in "apply --once --force --config $TMP/other.json" "remove --force"; do
        # shellcheck disable=SC2086 # the command is words
        h_mg $cmd
        # At once: a refused one-shot must not cut the allowed, not even until the daemon's next pass.
        out=$(h_probe $H_OK4 $H_SRV4)
        check "nft: right after $cmd: allowed $H_OK4 connects (probe: $out)" [ "$out" = open ]
        check "nft: $cmd while the daemon owns the table exits non-zero (got $H_RC)" [ "$H_RC" != 0 ]
        check "nft: $cmd says the daemon's table is not its to change" \
            grep -qE 'Operation not permitted|owned by another process' <<<"$H_ERR"
        h_same "nft: $cmd left table inet memguard byte-identical" "$ours_before" "$(b_ours)"
        check "nft: $cmd: 192.0.2.0/24 is not allowed" eval '! b_allowed ipv4 192.0.2.0/24'
        out=$(h_probe $H_OUT4 $H_SRV4)
        check "nft: $cmd: outside $H_OUT4 gets no answer (probe: $out)" [ "$out" = timeout ]
        out=$(h_probe $H_OK4 $H_SRV4)
        check "nft: $cmd: allowed $H_OK4 connects (probe: $out)" [ "$out" = open ]
        same_as_before() { [ "$(state)" = "$before" ]; }
        if mg_wait_until 5 same_as_before; then
            pass "nft: $cmd: within 5 s all of netfilter is as before it"
        else
            h_same "nft: $cmd: within 5 s all of netfilter is as before it" "$before" "$(state)"
        fi
    done
    check "the daemon is still running" eval "! mg_gone $FIRST"
    mg_finish
fi
h_mg apply --once --force --config "$TMP/other.json"
check "apply --once --force exits 0 (got $H_RC: $(echo "$H_ERR" | head -n 1))" [ "$H_RC" = 0 ]
check "apply --once --force acted: the other config's 192.0.2.0/24 is allowed in the kernel" \
    b_allowed ipv4 192.0.2.0/24
h_mg remove --force
check "remove --force exits 0 (got $H_RC: $(echo "$H_ERR" | head -n 1))" [ "$H_RC" = 0 ]
for fam in ipv4 ipv6; do
    check "remove --force acted: nothing of memguardd's left in $fam" eval "! mg_save $fam | grep -qE '$MG_TAG|MEMGUARD'"
done
if mg_is_nft; then
    check "remove --force acted: no table inet memguard left" eval '! b_nft list table inet memguard >/dev/null 2>&1'
fi
check "remove --force acted: no ipset of ours left" eval "! ipset list -n | grep -q '^memguard'"

mg_finish
