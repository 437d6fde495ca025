#!/bin/bash
# daemon_ready_after_rules: READY=1 is sent only once the rules are in the kernel.
#
# Two proofs:
#  1. The test holds the xtables lock (flock on /run/xtables.lock) while the
#     daemon starts. The port is open until the daemon writes, so it must not
#     wait for a lock somebody else holds: it writes without it after a second
#     and says so, and only then sends READY=1. (A private /run in a private
#     mount namespace, so nobody else waits on this lock.)
#  2. The notify listener stops the daemon (SIGSTOP) the moment READY=1
#     arrives and, before continuing it, records what the kernel holds:
#     `iptables-legacy -C` of the jump rules and the save output of both
#     families.
# With nftables only the second proof applies (nft takes no xtables lock): at
# READY=1 the listener records `nft list table inet memguard`, which must be
# the configured table exactly.
# Usage: ready_after_rules.sh MEMGUARDD [iptables-legacy|nftables]
. "$(dirname "$0")/lib.sh"
mg_backend "$@"
mg_init "$1" --private-run
note "backend: $MG_BACKEND"

HOLD=1 # seconds the lock is held
NETS=(192.168.1.0/24 fd12:3456::/48)
mg_config "$TMP/memguard.json" 5 "${NETS[@]}"
mg_want "$TMP/want" "${NETS[@]}"
for fam in ipv4 ipv6; do
    mg_expect $fam "${NETS[@]}" >"$TMP/want.$fam"
    mg_add_foreign $fam || mg_fatal "cannot add the foreign rules ($fam)"
    mg_foreign $fam >"$TMP/foreign.before.$fam"
done
if mg_is_nft; then
    mg_add_foreign_all || mg_fatal "cannot add the foreign nftables table"
fi

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
nft list table inet memguard >"$TMP/at_ready.nft" 2>&1 || :
EOS
chmod +x "$TMP/at_ready.sh"
mg_start_listener notify --on-ready "$TMP/at_ready.sh" --freeze-sender

if mg_is_nft; then
    mg_start_daemon daemon "$TMP/memguard.json"
    mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s"
else
    # 1. The lock held for a minute: the daemon must not leave the port open that long.
    "${MG_ORPHAN_GUARD[@]}" flock -F /run/xtables.lock sleep 60 &
    holder=$!
    MG_PIDS+=("$holder")
    mg_wait_until 5 eval '! flock -n /run/xtables.lock true' || mg_fatal "could not take /run/xtables.lock within 5 s"
    mg_start_daemon daemon "$TMP/memguard.json"

    # 2. READY=1 while the lock is still held, and the rules there at that moment.
    mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s while the test held the lock"
    check "the test still held the xtables lock at READY=1" kill -0 "$holder"
    check "the daemon said it wrote without the xtables lock" \
        grep -q 'without the xtables lock' "$MG_ERR"
    kill "$holder"
fi
mg_wait_until 15 grep -q '#on-ready' "$MG_NOTIFY_OUT" ||
    mg_fatal "the listener's check at READY=1 did not finish within 15 s"

seq=$(mg_notify_field READY=1 1 2)
datagram=$(mg_notify_datagram "$seq")
check "READY=1 was sent by the daemon's main process (pid $MG_DAEMON)" \
    [ "$(mg_notify_field READY=1 1 3)" = "$MG_DAEMON" ]
check "the daemon was frozen while the kernel was inspected at READY=1" \
    grep -q '^#on-ready rc=0 frozen=1$' <<<"$datagram"

if mg_is_nft; then
    got=$(mg_nft_strip <"$TMP/at_ready.nft")
    if [ "$got" = "$(cat "$TMP/want.nft")" ]; then
        pass "at READY=1, the table inet memguard is exactly the configured one"
    else
        fail "at READY=1, our table differs from the configured one:"
        mg_diff_report "$TMP/want.nft" "$got"
    fi
    check "the foreign rules (legacy, and the table inet foreign) are still there" mg_foreign_all_present
fi
for fam in ipv4 ipv6; do
    mg_is_nft && break # the legacy tables hold nothing of ours
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

check "status --json names the daemon's pid and says it does not fail closed" \
    eval '"$MEMGUARDD" status --json --config "$TMP/memguard.json" |
        jq -e --argjson pid "$MG_DAEMON" ".daemon.pid == \$pid and .daemon.fail_closed == false" >/dev/null'
check "the daemon is still running after READY=1" kill -0 "$MG_DAEMON"

mg_finish
