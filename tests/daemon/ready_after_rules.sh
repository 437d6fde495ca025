#!/bin/bash
# daemon_ready_after_rules: READY=1 is sent only once the rules are in the kernel.
#
# Two independent proofs:
#  1. The test holds the xtables lock (flock on /run/xtables.lock, what the
#     daemon takes from read to commit) while the daemon starts: it cannot
#     commit, so READY=1 must not come until the lock is released. (A private
#     /run in a private mount namespace, so nobody else waits on this lock.)
#  2. The notify listener stops the daemon (SIGSTOP) the moment READY=1
#     arrives and, before continuing it, records what the kernel holds:
#     `iptables-legacy -C` of the jump rules and the save output of both
#     families.
. "$(dirname "$0")/lib.sh"
mg_init "$1" --private-run

HOLD=1 # seconds the lock is held
NETS=(192.168.1.0/24 fd12:3456::/48)
mg_write_config "$TMP/memguard.json" 5 "${NETS[@]}"
for fam in ipv4 ipv6; do
    mg_expect $fam "${NETS[@]}" >"$TMP/want.$fam"
    mg_add_foreign $fam || mg_fatal "cannot add the foreign rules ($fam)"
    mg_foreign $fam >"$TMP/foreign.before.$fam"
done

# Runs inside the listener, while the daemon is stopped.
cat >"$TMP/at_ready.sh" <<EOS
#!/bin/bash
for fam in ipv4 ipv6; do
    tool=iptables-legacy; [ \$fam = ipv6 ] && tool=ip6tables-legacy
    for proto in tcp udp; do
        \$tool -w 1 -C INPUT -p \$proto -m \$proto --dport $MG_PORT -m comment --comment $MG_TAG -j MEMGUARD 2>/dev/null
        echo "\$fam \$proto \$?"
    done >>"$TMP/at_ready.C"
    \${tool}-save -t filter >"$TMP/at_ready.\$fam.save"
done
EOS
chmod +x "$TMP/at_ready.sh"
mg_start_listener notify --on-ready "$TMP/at_ready.sh" --freeze-sender

# 1. The lock held: no commit possible, so no READY=1.
"${MG_ORPHAN_GUARD[@]}" flock -F /run/xtables.lock sleep 60 &
holder=$!
MG_PIDS+=("$holder")
mg_wait_until 5 eval '! flock -n /run/xtables.lock true' || mg_fatal "could not take /run/xtables.lock within 5 s"
mg_start_daemon daemon "$TMP/memguard.json"
# Observing an absence takes a window; the daemon waits up to 10 s for the lock.
sleep $HOLD
check "no READY=1 while the test held the xtables lock for $HOLD s (got $(mg_notify_count READY=1))" \
    [ "$(mg_notify_count READY=1)" = 0 ]
check "the daemon is alive, waiting for the lock" kill -0 "$MG_DAEMON"
check "no rules in the kernel yet (the lock really kept the daemon out)" \
    eval "! mg_ours ipv4 | grep -q . && ! mg_ours ipv6 | grep -q ."
released=$(mg_now_us)
kill "$holder"
mg_wait_until 5 mg_gone "$holder" || mg_fatal "the lock holder did not exit"

# 2. READY=1 once the lock is free, and the rules there at that moment.
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s of releasing the lock"
pass "READY=1 arrived $(mg_ms_since "$released") ms after the lock was released"
mg_wait_until 15 grep -q '#on-ready' "$MG_NOTIFY_OUT" ||
    mg_fatal "the listener's check at READY=1 did not finish within 15 s"

seq=$(mg_notify_field READY=1 1 2)
datagram=$(mg_notify_datagram "$seq")
check "READY=1 was sent by the daemon's main process (pid $MG_DAEMON)" \
    [ "$(mg_notify_field READY=1 1 3)" = "$MG_DAEMON" ]
check "the daemon was frozen while the kernel was inspected at READY=1" \
    grep -q '^#on-ready rc=0 frozen=1$' <<<"$datagram"

for fam in ipv4 ipv6; do
    for proto in tcp udp; do
        check "$fam: at READY=1, iptables -C finds the $proto jump rule" \
            grep -qx "$fam $proto 0" "$TMP/at_ready.C"
    done
    got=$(sed -e '/^#/d' -e 's/ \[[0-9]*:[0-9]*\]$//' "$TMP/at_ready.$fam.save" | grep -E "$MG_TAG|MEMGUARD")
    if [ "$got" = "$(cat "$TMP/want.$fam")" ]; then
        pass "$fam: at READY=1, the MEMGUARD chain and jumps are exactly the configured ones"
    else
        fail "$fam: at READY=1, our rules differ from the configured ones:"
        mg_diff_report "$TMP/want.$fam" "$got"
    fi
    top=$(sed -e '/^#/d' "$TMP/at_ready.$fam.save" | grep '^-A INPUT' | head -n 2)
    check "$fam: at READY=1, the jumps are the first two rules of INPUT" \
        [ "$top" = "$(grep '^-A INPUT' "$TMP/want.$fam")" ]
    check "$fam: the foreign rules (INPUT --dport 22, chain FOREIGN) are unchanged" \
        [ "$(mg_foreign $fam)" = "$(cat "$TMP/foreign.before.$fam")" ]
done

status=$(grep '^STATUS=' <<<"$datagram" | head -n 1)
check "READY=1 carries a STATUS= text (${status:-none})" [ -n "${status#STATUS=}" ]

state=$RUNTIME_DIRECTORY/state.json
check "state.json written to \$RUNTIME_DIRECTORY with the daemon's pid and fail_closed false" \
    "$MG_PYTHON" -c 'import json, sys; s = json.load(open(sys.argv[1]))
sys.exit(not (s["pid"] == int(sys.argv[2]) and s["fail_closed"] is False and s["last_apply"]))' \
    "$state" "$MG_DAEMON"
check "the daemon is still running after READY=1" kill -0 "$MG_DAEMON"

mg_finish
