#!/bin/bash
# daemon_audit_blocked: the NFLOG audit of blocked attempts, with real packets.
#
# This script's own namespace (mg_init's `unshare -n`) is the server; a second namespace
# of its own (held by a `sleep` started under `unshare -n`) is the outside client. They are
# joined by one veth pair: server mg-srv 10.0.0.1/24 + fd99::1/64, client mg-cli
# 10.0.0.5/24 + fd99::5/64 (and 10.0.0.6 / fd99::6 as never-seen sources for the last
# part). The allowlist is 192.168.1.0/24, so every client address is blocked. No packet
# goes anywhere but between these addresses.
#
#   (a) one TCP SYN from 10.0.0.5 -> a "blocked" line (SOURCE, PROTOCOL=tcp, PORT, IFACE)
#       within 3 s;
#   (b) the same for TCP from fd99::5 and for one UDP datagram from 10.0.0.5;
#   (c) 2000 UDP datagrams from 10.0.0.5 in about 1 s -> few lines in the next 12 s, an
#       aggregated one with a packet count, and that count is what the kernel's limit
#       match let through to NFLOG: <= log_rate_per_s * elapsed + burst;
#   (d) log_blocked false + SIGHUP -> the NFLOG rule is gone from iptables-legacy-save and
#       new attempts, even from sources never seen before, log nothing.
#
# With nftables the log rule is `limit rate RATE/second burst BURST packets log prefix
# "memguard" group GROUP` before the `counter drop` of guard4/guard6 (read with nft -j); the
# daemon's NFLOG reader is the same, so (a)-(c) are the same, except that nft's log rule has no
# counter: in (c) the reported count is held to log_rate_per_s * elapsed + burst only, not to
# what the kernel let through. In (d) the log rule is gone from both chains.
# Usage: audit_blocked.sh MEMGUARDD [iptables-legacy|nftables]
#
# A private /run (--private-run) keeps /run/xtables.lock to ourselves: the daemon's verify
# pass waits for that lock inside its event loop, so another program holding it (a test or
# benchmark elsewhere on the machine) would delay reading NFLOG and measure them, not us.
. "$(dirname "$0")/lib.sh"
mg_backend "$@"
mg_init "$1" --private-run
note "backend: $MG_BACKEND"

for tool in ip nsenter; do
    command -v $tool >/dev/null || mg_skip "$tool not installed"
done

RATE=5     # log_rate_per_s; the kernel's limit match gets --limit 5/sec --limit-burst 5
BURST=$RATE
GROUP=${AUDIT_LOG_GROUP:-11211} # log_group; overridable to tell a group-specific problem apart
SRV_IF=mg-srv CLI_IF=mg-cli
SRV4=10.0.0.1 SRV6=fd99::1 CLI4=10.0.0.5 CLI6=fd99::5 NEW4=10.0.0.6 NEW6=fd99::6
FLOOD_N=2000 FLOOD_S=1.0

# ---- the client namespace ----------------------------------------------------------------
mg_client_veth "$NEW4/24" "$NEW6/64"

# probe.py MODE SRC DST PORT [COUNT SECONDS], run in the client namespace:
#   tcp: one connect() with a 1 s timeout, prints timeout|connected|refused|error
#   udp: one datagram; flood: COUNT datagrams paced over SECONDS, prints "sent N in S"
cat >"$TMP/probe.py" <<'EOF'
import socket, sys, time
mode, src, dst, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
kind = socket.SOCK_STREAM if mode == "tcp" else socket.SOCK_DGRAM
s = socket.socket(fam, kind)
s.bind((src, 0))
payload = b"\x00\x01\x00\x00\x00\x01\x00\x00stats\r\n"  # a memcached UDP request
if mode == "tcp":
    s.settimeout(1.0)
    try:
        s.connect((dst, port))
        print("connected")
    except socket.timeout:
        print("timeout")
    except ConnectionRefusedError:
        print("refused")
    except OSError as e:
        print("error", e)
elif mode == "udp":
    s.sendto(payload, (dst, port))
    print("sent 1 in 0.000")
else:
    n, seconds = int(sys.argv[5]), float(sys.argv[6])
    t0 = time.monotonic()
    for i in range(n):
        due = t0 + i * seconds / n
        while True:
            left = due - time.monotonic()
            if left <= 0:
                break
            if left > 0.002:
                time.sleep(left - 0.001)
        s.sendto(payload, (dst, port))
    print(f"sent {n} in {time.monotonic() - t0:.3f}")
EOF
# probe_bg NAME MODE SRC DST [COUNT SECONDS] : starts the probe, sets PROBE (pid);
# its output goes to $TMP/NAME.probe
probe_bg() {
    local name=$1
    shift
    "${MG_ORPHAN_GUARD[@]}" nsenter -t "$CLIENT" -n -- "$MG_PYTHON" "$TMP/probe.py" \
        "$1" "$2" "$3" "$MG_PORT" "${@:4}" >"$TMP/$name.probe" 2>&1 &
    PROBE=$!
    MG_PIDS+=("$PROBE")
}
# probe_done NAME : waits (bounded) for the probe, prints its output
probe_done() {
    mg_wait_exit "$PROBE" 10 || { echo "probe $1 did not finish"; return 1; }
    cat "$TMP/$1.probe"
}

# ---- the daemon ------------------------------------------------------------------------------
CONF=$TMP/memguard.json
# write_audit_config LOG_BLOCKED
write_audit_config() {
    mg_write_raw "$CONF" "{
  \"ports\": [$MG_PORT],
  \"protocols\": [\"tcp\", \"udp\"],
  \"allow\": [\"192.168.1.0/24\"],
  \"allow_loopback\": true,
  \"accept_established\": true,
  \"action\": \"drop\",
  \"verify_interval_s\": 1,
  \"log_blocked\": $1,
  \"log_group\": $GROUP,
  \"log_rate_per_s\": $RATE
}" && mg_backend_config "$CONF"
}
write_audit_config true
mg_start_listener notify
mg_start_daemon daemon "$CONF"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s of starting the daemon"
pass "daemon ready (READY=1)"

nflog_rule() { # nflog_rule ipv4|ipv6 : our NFLOG rule as -save prints it (with -c: counters)
    local tool=iptables-legacy-save
    [ "$1" = ipv6 ] && tool=ip6tables-legacy-save
    "$tool" -t filter ${2:+-c} | grep -E '^(\[[0-9:]*\] )?-A MEMGUARD .*-j NFLOG'
}
# nft_rules FAMILY : the rules of guard4|guard6, as nft -j prints their expressions, one a line
nft_rules() { nft -j list chain inet memguard "guard${1#ipv}" | jq -c '.nftables[] | select(.rule) | .rule.expr'; }
# nft_log_rule FAMILY BURST : the rule before the closing ones (tcp drop, drop) is exactly limit
# RATE/second burst BURST, log prefix memguard group GROUP (and the last is counter drop)
nft_log_rule() {
    local rules
    rules=$(nft_rules "$1") || return 1
    jq -e --argjson r $RATE --argjson b "$2" --arg p "$MG_TAG" --argjson g "$GROUP" \
        '. == [{"limit": {"rate": $r, "burst": $b, "per": "second"}}, {"log": {"prefix": $p, "group": $g}}]' \
        <<<"$(tail -n 3 <<<"$rules" | head -n 1)" >/dev/null &&
        tail -n 1 <<<"$rules" | jq -e '.[-1] == {"drop": null} and .[0].counter != null' >/dev/null
}
if mg_is_nft; then
    for fam in ipv4 ipv6; do
        check "$fam: the log rule is in guard${fam#ipv} right before counter drop (nft -j): limit $RATE/second, burst $BURST, log prefix $MG_TAG group $GROUP" \
            nft_log_rule $fam $BURST
    done
    note "$(nft list chain inet memguard guard4 | grep -E '(^|[[:space:]])log ')"
    # The kernel's own bucket, for the bound of (c): a wrong burst is the check above's to say.
    KBURST=$(nft_rules ipv4 | tail -n 3 | head -n 1 | jq '.[0].limit.burst // empty')
    [ -n "$KBURST" ] || mg_fatal "no limit in the log rule of guard4"
else
    for fam in ipv4 ipv6; do
        # -save leaves out --limit-burst when it is the default, 5: -C spells everything out.
        check "$fam: the NFLOG rule is in MEMGUARD: limit $RATE/s, burst $BURST, group $GROUP" \
            mg_ipt $fam -C MEMGUARD -m limit --limit $RATE/sec --limit-burst $BURST -m comment \
            --comment "$MG_TAG" -j NFLOG --nflog-prefix "$MG_TAG" --nflog-group "$GROUP"
        check "$fam: the NFLOG rule comes right before the DROPs (tcp, then the catch-all)" eval \
            "mg_save $fam | grep '^-A MEMGUARD' | tail -n 3 | head -n 1 | grep -q -- '-j NFLOG'"
    done
    note "$(nflog_rule ipv4)"
    KBURST=$BURST
fi
check "no error binding NFLOG group $GROUP" eval "! grep -q 'will not be logged' '$MG_ERR'"

# ---- reading the log -------------------------------------------------------------------------
# blocked_lines KEY=VALUE... : the blocked lines of stdin whose [...] fields include all given
blocked_lines() {
    awk -v want="$*" '
        BEGIN { n = split(want, w, " ") }
        /\[event=blocked / {
            b = $0
            sub(/.*\[event=blocked /, "", b)
            sub(/\]$/, "", b)
            m = split(b, f, " ")
            split("", have)
            for (i = 1; i <= m; i++) have[f[i]] = 1
            for (i = 1; i <= n; i++) if (!(w[i] in have)) next
            print
        }'
}
# packets_of : sum of PACKETS= over the lines of stdin
packets_of() { sed -n 's/.* PACKETS=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }'; }
# has_blocked OFFSET KEY=VALUE... : a blocked line with these fields after byte OFFSET
has_blocked() { mg_log_since "$MG_ERR" "$1" | blocked_lines "${@:2}" | grep -q .; }

# counters FAM nflog|drop : packets counted by our NFLOG / DROP rule. nft's log rule has no
# counter: nothing for nflog there.
counter() {
    if mg_is_nft; then
        [ "$2" = drop ] || return 0
        nft_rules "$1" | tail -n 2 | jq -s '[.[][] | .counter.packets // empty] | add' # tcp drop + drop
        return
    fi
    local tool=iptables-legacy-save target=NFLOG
    [ "$1" = ipv6 ] && tool=ip6tables-legacy-save
    [ "$2" = drop ] && target=DROP
    # drop: the tcp-only DROP and the catch-all one, summed
    "$tool" -t filter -c | sed -n "s/^\[\([0-9]*\):[0-9]*\] -A MEMGUARD .*-j $target\( .*\)\{0,1\}\$/\1/p" |
        awk '{ n += $1 } END { print n + 0 }'
}

# single LABEL MODE SRC DST FAMILY PROTO : one attempt, its blocked line within 3 s. Also
# notes when the kernel's NFLOG rule counted the packet, to tell the kernel's delay (the
# nfnetlink_log instance flushes a queue short of its threshold after 1 s) from the daemon's.
single() {
    local label=$1 mode=$2 src=$3 dst=$4 fam=$5 proto=$6 off t0 out now k0 k_ms='' d_ms=''
    local fields=("SOURCE=$src" "PROTOCOL=$proto" "PORT=$MG_PORT" "IFACE=$SRV_IF" "family=$fam")
    LAST_SEEN_US=
    off=$(mg_log_size "$MG_ERR")
    k0=$(counter "$fam" nflog)
    t0=$(mg_now_us)
    probe_bg "$label" "$mode" "$src" "$dst"
    while :; do
        now=$(mg_now_us)
        [ -z "$k_ms" ] && [ "$(counter "$fam" nflog)" != "$k0" ] && k_ms=$(((now - t0) / 1000))
        if has_blocked "$off" "${fields[@]}"; then
            d_ms=$(((now - t0) / 1000))
            break
        fi
        [ $((now - t0)) -ge 3000000 ] && break
        sleep 0.02
    done
    if [ -n "$d_ms" ]; then
        pass "$label: blocked line with ${fields[*]} ${d_ms} ms after the attempt"
        note "$(mg_log_since "$MG_ERR" "$off" | blocked_lines "${fields[@]}" | head -n 1)"
        LAST_SEEN_US=$now
    else
        fail "$label: no blocked line with ${fields[*]} within 3 s"
        mg_log_since "$MG_ERR" "$off" | sed 's/^/     log: /'
    fi
    if mg_is_nft; then
        note "$label: nft's log rule has no counter to tell the kernel's delay from the daemon's"
    else
        note "$label: the kernel's NFLOG rule counted it $([ -n "$k_ms" ] && echo "$k_ms ms after the attempt" || echo "not within 3 s")"
    fi
    out=$(probe_done "$label")
    if [ "$mode" = tcp ]; then
        check "$label: the connection attempt timed out (dropped), probe said: $out" [ "$out" = timeout ]
    fi
}

# ---- (a), (b) single attempts ------------------------------------------------------------
single "(a) tcp from $CLI4" tcp $CLI4 $SRV4 ipv4 tcp
single "(b) tcp from $CLI6" tcp $CLI6 $SRV6 ipv6 tcp
# The flood below must start right after this line: the udp flow's aggregation window
# (10 s) then starts before the flood and ends within the 12 s we watch.
single "(b) udp from $CLI4" udp $CLI4 $SRV4 ipv4 udp
t_udp_seen=$LAST_SEEN_US

# ---- (c) the flood -------------------------------------------------------------------------
nflog_before=$(counter ipv4 nflog)
drop_before=$(counter ipv4 drop)
off=$(mg_log_size "$MG_ERR")
t_flood=$(mg_now_us)
[ -n "$t_udp_seen" ] && note "(c) flood starts $(((t_flood - t_udp_seen) / 1000)) ms after the single udp line"
probe_bg flood flood $CLI4 $SRV4 $FLOOD_N $FLOOD_S
sent=$(probe_done flood)
nflog_after=$(counter ipv4 nflog)
drop_after=$(counter ipv4 drop)
read -ra sent_words <<<"$sent"
set -- "${sent_words[@]}"
if [ "${1:-}" = sent ] && [ "${2:-}" = $FLOOD_N ]; then
    elapsed=$4
    pass "(c) flood: sent $2 UDP datagrams from $CLI4 in $elapsed s"
else
    mg_fatal "(c) flood: the sender failed: $sent"
fi
drop_delta=$((drop_after - drop_before))
if mg_is_nft; then
    nflog_delta=
    note "(c) kernel counters during the flood: drop +$drop_delta (nft's log rule has no counter)"
else
    nflog_delta=$((nflog_after - nflog_before))
    note "(c) kernel counters during the flood: DROP +$drop_delta, NFLOG (limit passed) +$nflog_delta"
fi
check "(c) the flood reached the DROP rule (DROP +$drop_delta >= $((FLOOD_N * 95 / 100)))" \
    [ "$drop_delta" -ge $((FLOOD_N * 95 / 100)) ]
# The limit match: a bucket of BURST tokens refilled at RATE per second. Over the flood's
# `elapsed` seconds (the sender's clock, first to last datagram) at most BURST +
# RATE*elapsed packets can pass it. Rounded up: the kernel refills per jiffy and the sender
# prints milliseconds, so a token completed a hair after `elapsed` must not fail the test.
# With nftables the bucket is the log rule's own burst (KBURST; whether it is BURST is checked
# above).
bound=$(awk -v r=$RATE -v e="$elapsed" -v b="$KBURST" 'BEGIN { x = r * e; c = int(x); if (c < x) c++; print c + b }')
if mg_is_nft; then
    note "(c) nft's log rule has no counter: what the kernel let through to NFLOG is not known here"
else
    check "(c) the kernel let $nflog_delta packets through to NFLOG: <= $RATE/s * $elapsed s + $BURST = $bound" \
        [ "$nflog_delta" -le "$bound" ]
fi

# Watch the log for 12 s from the start of the flood.
end=$((t_flood + 12000000))
while [ "$(mg_now_us)" -lt "$end" ]; do sleep 0.1; done
window=$(mg_log_since "$MG_ERR" "$off")
all_lines=$(blocked_lines <<<"$window")
udp_lines=$(blocked_lines "SOURCE=$CLI4" PROTOCOL=udp "PORT=$MG_PORT" "IFACE=$SRV_IF" <<<"$window")
n_all=$(grep -c . <<<"$all_lines" || true)
n_udp=$(grep -c . <<<"$udp_lines" || true)
reported=$(packets_of <<<"$udp_lines")
aggregated=$(grep -E ' in the last [0-9]+ s ' <<<"$udp_lines" | grep -Ev ' PACKETS=0( |\])' || true)
note "(c) in the 12 s from the flood's start: $n_all blocked line(s), $n_udp for udp from $CLI4, reporting $reported packet(s)"
[ -n "$all_lines" ] && sed 's/^/     | /' <<<"$all_lines"
# At most one line per flow per 10 s window, and the first-packet line of each flow we
# used came before the flood: 12 s can hold the ends of two windows per flow, and three
# flows (tcp/ipv4, tcp/ipv6, udp/ipv4) are in play: <= 6. For the flooded flow alone <= 2.
check "(c) few blocked lines in those 12 s despite $FLOOD_N datagrams: $n_all <= 6" [ "$n_all" -le 6 ]
check "(c) udp flow of $CLI4: $n_udp line(s) <= 2" [ "$n_udp" -le 2 ]
if [ -n "$aggregated" ]; then
    pass "(c) an aggregated line reports a packet count"
    note "$(head -n 1 <<<"$aggregated")"
else
    fail "(c) no aggregated line (\"in the last N s\", PACKETS > 0) for udp from $CLI4 within 12 s"
fi
check "(c) the reported count ($reported) is <= $RATE/s * $elapsed s + burst $KBURST = $bound" \
    [ "$reported" -le "$bound" ]
if mg_is_nft; then
    note "(c) nft's log rule has no counter: the reported count is held to the bound above only"
else
    check "(c) the reported count ($reported) is what the kernel passed to NFLOG (+$nflog_delta)" \
        [ "$reported" = "$nflog_delta" ]
fi
check "(c) at least a second's worth was logged ($reported >= $RATE): the count is real" \
    [ "$reported" -ge "$RATE" ]
check "(c) no notification was lost" eval "! grep -q 'blocked-packet notification' <<<\"\$window\""
errors=$(grep 'reading blocked attempts failed' "$MG_ERR" || true)
if [ -z "$errors" ]; then
    pass "(a)-(c) the daemon read every NFLOG message without an error"
else
    fail "(a)-(c) the daemon failed reading NFLOG messages $(grep -c . <<<"$errors") time(s):"
    sed 's/^/     | /' <<<"$errors"
fi

# ---- (d) log_blocked false -------------------------------------------------------------------
write_audit_config false
t0=$(mg_now_us)
kill -HUP "$MG_DAEMON"
if mg_wait_notify READY=1 2 10; then
    pass "(d) reloaded with log_blocked false: READY=1 $(mg_ms_since "$t0") ms after SIGHUP"
else
    mg_fatal "(d) no second READY=1 within 10 s of SIGHUP"
fi
for fam in ipv4 ipv6; do
    if mg_is_nft; then
        rules=$(nft_rules $fam)
        check "(d) $fam: no log rule left in guard${fam#ipv} (nft -j)" \
            eval "[ -n \"\$rules\" ] && ! grep -qE '\"(log|limit)\"' <<<\"\$rules\""
        check "(d) $fam: counter drop is still the last rule of guard${fam#ipv}" \
            eval "tail -n 1 <<<\"\$rules\" | jq -e '.[-1] == {\"drop\": null} and .[0].counter != null' >/dev/null"
        check "(d) $fam: no log rule anywhere in the ruleset of ours" \
            eval "! nft list table inet memguard | grep -qE '(^|[[:space:]])log '"
        continue
    fi
    tool=iptables-legacy-save
    [ $fam = ipv6 ] && tool=ip6tables-legacy-save
    check "(d) $fam: no NFLOG rule left in $tool" eval "! $tool | grep -q NFLOG"
    check "(d) $fam: the DROP rule is still there" \
        mg_ipt $fam -C MEMGUARD -m comment --comment "$MG_TAG" -j DROP
done
off=$(mg_log_size "$MG_ERR")
drop_before=$(counter ipv4 drop)
drop6_before=$(counter ipv6 drop)
# 10.0.0.6 and fd99::6 were never seen: with the audit on, each would be logged at once.
for attempt in "tcp $CLI4 $SRV4" "udp $CLI4 $SRV4" "tcp $CLI6 $SRV6" "tcp $NEW4 $SRV4" "udp $NEW4 $SRV4" "tcp $NEW6 $SRV6"; do
    read -ra words <<<"$attempt"
    set -- "${words[@]}"
    probe_bg "off-$1-$2" "$1" "$2" "$3"
    out=$(probe_done "off-$1-$2")
    [ "$1" = tcp ] && check "(d) $1 from $2: still dropped (probe said: $out)" [ "$out" = timeout ]
done
drop_delta=$(($(counter ipv4 drop) - drop_before))
drop6_delta=$(($(counter ipv6 drop) - drop6_before))
check "(d) the attempts reached the DROP rules (ipv4 +$drop_delta >= 4, ipv6 +$drop6_delta >= 2)" \
    eval "[ $drop_delta -ge 4 ] && [ $drop6_delta -ge 2 ]"
# Longer than an aggregation window (10 s) plus the 1 s flush tick, so not even a summary
# of old flows could still be on its way.
end=$(($(mg_now_us) + 11000000))
while [ "$(mg_now_us)" -lt "$end" ]; do sleep 0.1; done
new=$(mg_log_since "$MG_ERR" "$off" | blocked_lines)
n_new=$(grep -c . <<<"$new" || true)
note "(d) blocked lines in the 11 s after the attempts (audit off): $n_new"
if [ "$n_new" = 0 ]; then
    pass "(d) no blocked line for new attempts with log_blocked false"
else
    fail "(d) blocked lines appeared with log_blocked false:"
    sed 's/^/     | /' <<<"$new"
fi
check "(d) the daemon is still running" eval "! mg_gone $MG_DAEMON"

mg_finish
