#!/usr/bin/env bash
# End-to-end test: real memcached and the real memguardd daemon in a server network
# namespace, an allowed client and an outside client in namespaces of their own, joined by
# veth pairs. Every address used below is one this script configures inside its own
# namespaces; the host's interfaces and netfilter tables are never touched.
#
#   usage: sudo tests/e2e/run.sh path/to/memguardd [iptables-legacy|nftables]
#
# The same scenarios run against either backend (iptables-legacy when none is named); only the
# oracles that read the rules back, and the tamper of section 4, differ.
#
# Prints one "PASS|FAIL <scenario>: <detail>" line per check, "INFO ..." lines for facts that
# are reported but not asserted, and "N passed, N failed" at the end. Exit status: 0 all
# passed, 1 a check failed, 77 skipped (not root or a tool is missing).

set -u -o pipefail
export LC_ALL=C

MG=${1:-}
BACKEND=${2:-iptables-legacy}
if [[ -z $MG || ! -x $MG || ! $BACKEND =~ ^(iptables-legacy|nftables)$ ]]; then
    echo "usage: $0 path/to/memguardd [iptables-legacy|nftables]" >&2
    exit 2
fi
MG=$(readlink -f "$MG")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3 || true)
CLIENT=("$PY" "$HERE/mcclient.py")

skip() { echo "SKIP e2e: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, netfilter)"
for tool in ip iptables-legacy ip6tables-legacy memcached memcping memccp memccat memcstat nc timeout "$PY"; do
    command -v "$tool" >/dev/null 2>&1 || skip "missing $tool (apt-get install memcached netcat-openbsd libmemcached-tools iproute2 iptables python3)"
done
[[ $BACKEND == nftables ]] && ! command -v nft >/dev/null 2>&1 && skip "missing nft (apt-get install nftables)"
MC_USER=nobody
id memcache >/dev/null 2>&1 && MC_USER=memcache

# ---------------------------------------------------------------------------------------------
# Names, addresses, scratch space
SUF=$$
SRV=mg-srv-$SUF
IN=mg-in-$SUF
OUT=mg-out-$SUF
NAMESPACES=("$SRV" "$IN" "$OUT")
SRV_IN4=192.168.1.1 SRV_IN6=fd12:3456::1 IN4=192.168.1.10 IN6=fd12:3456::10
SRV_OUT4=10.0.0.1 SRV_OUT6=fd99::1 OUT4=10.0.0.5 OUT6=fd99::5
PORT=11211
INTERVAL=1                          # verify_interval_s given to the daemon
ALLOW_ALL='["192.168.1.0/24","fd12:3456::/48"]'
ALLOW_V6_ONLY='["fd12:3456::/48"]'

WORK=$(mktemp -d /tmp/mg-e2e.XXXXXX)
chmod 700 "$WORK"
CFG=$WORK/memguard.json
MG_LOG=$WORK/memguardd.log
NOTIFY_SOCK=$WORK/notify.sock
NOTIFY_LOG=$WORK/notify.log
mkdir -p "$WORK/state"

MG_PID='' MC_PID='' NOTIFY_PID=''
BG_PIDS=()
# shellcheck source=../lib/check.sh
. "$HERE/../lib/check.sh"
T_START=${EPOCHREALTIME/./}

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
elapsed_s() { local t=${EPOCHREALTIME/./}; printf '%d.%03d' $(((t - $1) / 1000000)) $((((t - $1) / 1000) % 1000)); }

cleanup() {
    local rc=$?
    [[ $BASHPID == "$$" ]] || exit "$rc" # never from a subshell
    trap - EXIT INT TERM HUP
    for pid in "${BG_PIDS[@]}" $MG_PID $MC_PID $NOTIFY_PID; do
        kill "$pid" 2>/dev/null
    done
    # Anything still running inside our own namespaces was started by this script.
    for ns in "${NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill "$pid" 2>/dev/null
        done
    done
    for _ in $(seq 20); do
        local alive=0
        for ns in "${NAMESPACES[@]}"; do
            [[ -n $(ip netns pids "$ns" 2>/dev/null) ]] && alive=1
        done
        ((alive)) || break
        sleep 0.1
    done
    for ns in "${NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$ns" 2>/dev/null
    done
    if ((rc != 0)) && [[ -s $MG_LOG ]]; then
        echo "--- last lines of the memguardd log ($MG_LOG) ---" >&2
        tail -n 40 "$MG_LOG" >&2
    fi
    if [[ -n ${E2E_KEEP:-} ]]; then
        echo "scratch kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

info() { echo "INFO $1: $2"; }
# e2e_check NAME DETAIL-IF-OK DETAIL-IF-NOT CMD... : "PASS NAME: DETAIL-IF-OK" when CMD succeeds,
# else "FAIL NAME: DETAIL-IF-NOT"
e2e_check() {
    local name=$1 ok=$2 bad=$3
    shift 3
    if "$@"; then pass "$name: $ok"; else fail "$name: $bad"; fi
}
abort() { fail "setup: $*"; check_summary; exit 1; }

# wait_until SECONDS command... : poll every 50 ms, bounded.
# wait_bounded SECONDS pid... : wait for our own background jobs, killing them if they overrun.
# (bash reaps its children as they exit, so kill -0 fails once a job is done; `wait` then still
# returns the job's status.)
wait_bounded() {
    local deadline=$(($(now_ms) + ${1%.*} * 1000)) pid rc=0
    shift
    for pid in "$@"; do
        while kill -0 "$pid" 2>/dev/null && (($(now_ms) < deadline)); do
            sleep 0.05
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        wait "$pid" || rc=$?
    done
    return "$rc"
}

wait_until() {
    local deadline=$(($(now_ms) + ${1%.*} * 1000))
    shift
    until "$@"; do
        (($(now_ms) >= deadline)) && return 1
        sleep 0.05
    done
}

in_srv() { ip netns exec "$SRV" "$@"; }
in_in() { ip netns exec "$IN" "$@"; }
in_out() { ip netns exec "$OUT" "$@"; }
# (Background jobs call `ip netns exec` directly, not these functions: a function run with &
# is a subshell, and $! would be the subshell's pid instead of the daemon's or client's.)
quiet() { "$@" >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------
# Config and daemon control
write_config() { # action allow-json-array
    local tmp=$CFG.tmp
    (
        umask 077
        printf '{"backend":"%s","ports":[%d],"protocols":["tcp","udp"],"allow":%s,"allow_loopback":true,"accept_established":true,"action":"%s","verify_interval_s":%d}\n' \
            "$BACKEND" "$PORT" "$2" "$1" "$INTERVAL" >"$tmp"
    )
    chown root:root "$tmp" && chmod 600 "$tmp" && mv -f "$tmp" "$CFG"
}

ready_count() {
    local n=0
    [[ -f $NOTIFY_LOG ]] && n=$(grep -c 'READY=1' "$NOTIFY_LOG")
    echo "${n:-0}"
}
ready_above() { (($(ready_count) > $1)); }
daemon_alive() { [[ -n $MG_PID ]] && kill -0 "$MG_PID" 2>/dev/null; }

start_daemon() { # [VAR=value...] : more environment for the daemon
    local before
    before=$(ready_count)
    echo "=== memguardd run started at +$(elapsed_s "$T_START")s $*" >>"$MG_LOG"
    ip netns exec "$SRV" env -u JOURNAL_STREAM NOTIFY_SOCKET="$NOTIFY_SOCK" MEMGUARD_RUNTIME_DIRECTORY="$WORK/state" STATE_DIRECTORY="$WORK/lib" "$@" \
        "$MG" run --config "$CFG" 2>>"$MG_LOG" &
    MG_PID=$!
    wait_until 10 ready_above "$before" && daemon_alive
}

stop_daemon() { # returns the daemon's exit status
    local rc
    kill -TERM "$MG_PID" 2>/dev/null
    wait_bounded 10 "$MG_PID"
    rc=$?
    MG_PID=
    return "$rc"
}

# reload ACTION ALLOW CONDITION... : rewrite the config, SIGHUP, wait for READY=1 and for the
# kernel to show CONDITION.
reload() {
    local action=$1 allow=$2 before
    shift 2
    write_config "$action" "$allow"
    before=$(ready_count)
    kill -HUP "$MG_PID"
    wait_until 10 ready_above "$before" && wait_until 5 "$@"
}

# The rules as the backend's own tool shows them. chain 4|6 is what guards one family: the
# MEMGUARD chain (iptables-legacy -S), or the chain guard4/guard6 and the set allow4/allow6 it
# takes the allowed networks from (nft list; counters left out, they move with every drop).
# ours is everything of ours in the kernel, for before/after comparisons: both MEMGUARD chains,
# or the whole table inet memguard without counters, the table's flags and the owner's name (a
# restarted daemon owns it under another pid; the unowned table of section 4 has no flags, and
# nft prints a blank line after the flags line when there is one: blank lines go too).
nft_strip() { sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/; s/ # progname .*//; /^\tflags /d; /^\tflags$/d; /^$/d'; }
if [[ $BACKEND == nftables ]]; then
    chain() {
        { in_srv nft list chain inet memguard "guard$1" && in_srv nft list set inet memguard "allow$1"; } 2>/dev/null | nft_strip
    }
    ours() { in_srv nft list table inet memguard 2>/dev/null | nft_strip; }
    DROP_RE='counter drop' REJECT_RE=' reject'
    # The chain takes its accepts from the set: a network in the set counts only with that rule.
    set_used() { chain 4 | grep -q 'ip saddr @allow4 accept' && chain 6 | grep -q 'ip6 saddr @allow6 accept'; }
else
    chain() {
        local tool=iptables-legacy
        [[ $1 == 6 ]] && tool=ip6tables-legacy
        in_srv "$tool" -w 5 -S MEMGUARD 2>/dev/null
    }
    ours() { chain 4; echo; chain 6; }
    DROP_RE='-j DROP' REJECT_RE='REJECT'
    set_used() { true; }
fi
both_have() { chain 4 | grep -v ' fib saddr ' | grep -q -- "$1" && chain 6 | grep -v ' fib saddr ' | grep -q -- "$1"; }
both_lack() { ! chain 4 | grep -v ' fib saddr ' | grep -q -- "$1" && ! chain 6 | grep -v ' fib saddr ' | grep -q -- "$1"; }
is_drop() { both_have "$DROP_RE" && both_lack "$REJECT_RE"; }
is_reject() { both_have "$REJECT_RE" && both_lack "$DROP_RE"; }
v4_revoked() { is_drop && set_used && ! chain 4 | grep -q 192.168.1.0/24 && chain 6 | grep -q fd12:3456::/48; }
all_allowed() { is_drop && set_used && chain 4 | grep -q 192.168.1.0/24 && chain 6 | grep -q fd12:3456::/48; }

# Clients. srv4/srv6 give memcached server specs as libmemcached wants them.
probe() { # ns host timeout -> prints "outcome ms"
    ip netns exec "$1" "${CLIENT[@]}" probe "$2" "$PORT" --timeout "$3"
}
udp_get() { ip netns exec "$1" "${CLIENT[@]}" udp-get "$2" "$PORT" "$3" --timeout "${4:-1}"; }
spec() { [[ $1 == *:* ]] && echo "[$1]:$PORT" || echo "$1:$PORT"; }
nc_setget() { # ns host key value -> transcript
    printf 'set %s 0 0 %d\r\n%s\r\nget %s\r\nquit\r\n' "$3" "${#4}" "$4" "$3" |
        timeout 5 ip netns exec "$1" nc -w 2 "$2" "$PORT" | tr -d '\r'
}
nc_get() { printf 'get %s\r\nquit\r\n' "$3" | timeout 5 ip netns exec "$1" nc -w 2 "$2" "$PORT" | tr -d '\r'; }

# ---------------------------------------------------------------------------------------------
# Topology
#   mg-in  (192.168.1.10/24, fd12:3456::10/64) ==veth== (192.168.1.1/24, fd12:3456::1/64)  mg-srv
#   mg-out (10.0.0.5/24,     fd99::5/64)       ==veth== (10.0.0.1/24,     fd99::1/64)       mg-srv
# Veths are created directly inside the namespaces, never in the host's.
for ns in "${NAMESPACES[@]}"; do
    ip netns add "$ns" || abort "ip netns add $ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 >/dev/null
done
ip -n "$SRV" link add v-in type veth peer name v-srv netns "$IN" || abort "veth srv<->in"
ip -n "$SRV" link add v-out type veth peer name v-srv netns "$OUT" || abort "veth srv<->out"
ip -n "$SRV" addr add "$SRV_IN4/24" dev v-in
ip -n "$SRV" addr add "$SRV_IN6/64" dev v-in nodad
ip -n "$SRV" addr add "$SRV_OUT4/24" dev v-out
ip -n "$SRV" addr add "$SRV_OUT6/64" dev v-out nodad
ip -n "$IN" addr add "$IN4/24" dev v-srv
ip -n "$IN" addr add "$IN6/64" dev v-srv nodad
ip -n "$OUT" addr add "$OUT4/24" dev v-srv
ip -n "$OUT" addr add "$OUT6/64" dev v-srv nodad
for l in "$SRV v-in" "$SRV v-out" "$IN v-srv" "$OUT v-srv"; do
    read -r ns dev <<<"$l"
    ip -n "$ns" link set "$dev" up || abort "link up $l"
done
# Reachability before anything guards or listens: a TCP connect to the port must be refused
# (RST from the server's kernel) from both clients over both families. This proves the links
# work, so the timeouts later on are memguardd's doing.
reach() { [[ $(probe "$1" "$2" 1) == refused* ]]; }
for pair in "$IN $SRV_IN4" "$IN $SRV_IN6" "$OUT $SRV_OUT4" "$OUT $SRV_OUT6"; do
    read -r ns host <<<"$pair"
    wait_until 5 reach "$ns" "$host" ||
        abort "no RST from $host seen in $ns before setup: topology broken ($(probe "$ns" "$host" 1))"
done

# The guard first (as at boot: Before=memcached.service), then memcached.
ip netns exec "$SRV" "${CLIENT[@]}" notify-listen "$NOTIFY_SOCK" "$NOTIFY_LOG" --max 600 &
NOTIFY_PID=$!
wait_until 5 test -S "$NOTIFY_SOCK" || abort "sd_notify listener did not start"
write_config drop "$ALLOW_ALL"
start_daemon || abort "memguardd did not send READY=1 within 10 s (log: $(tail -n 3 "$MG_LOG" | tr '\n' ' '))"
all_allowed || abort "after READY=1 the MEMGUARD chains are not as configured: $(chain 4 | tr '\n' ';')"

ip netns exec "$SRV" memcached -u "$MC_USER" -l '0.0.0.0,[::]' -p "$PORT" -U "$PORT" -m 16 -t 2 -c 256 \
    2>>"$WORK/memcached.log" &
MC_PID=$!
echo "$MC_PID" >"$WORK/memcached.pid"
wait_until 5 quiet in_srv memcping --servers="127.0.0.1:$PORT" || abort "memcached did not come up in $SRV"
printf 'set seed 0 0 4\r\nseed\r\nquit\r\n' | timeout 5 ip netns exec "$SRV" nc -w 2 127.0.0.1 "$PORT" | grep -q STORED ||
    abort "could not seed memcached over loopback"
listening=$(in_srv ss -Hlntu "sport = :$PORT" | awk '{print $1 " " $5}' | sort | tr '\n' ' ')
info setup "namespaces $SRV $IN $OUT; memcached (-u $MC_USER) listening on: $listening; memguardd pid $MG_PID, verify every ${INTERVAL}s"

# ---------------------------------------------------------------------------------------------
# 1. Inside client: TCP set/get and UDP get, IPv4 and IPv6, with libmemcached tools and nc.
for fam in 4 6; do
    if [[ $fam == 4 ]]; then host=$SRV_IN4; else host=$SRV_IN6; fi
    t0=${EPOCHREALTIME/./}
    ping_out=$(timeout 5 ip netns exec "$IN" memcping --servers="$(spec "$host")" 2>&1)
    ping_rc=$?
    echo "value-from-memccp-ipv$fam" >"$WORK/e2e-ipv$fam"
    cp_out=$(cd "$WORK" && timeout 5 ip netns exec "$IN" memccp --servers="$(spec "$host")" "e2e-ipv$fam" 2>&1)
    cp_rc=$?
    cat_out=$(timeout 5 ip netns exec "$IN" memccat --servers="$(spec "$host")" "e2e-ipv$fam" 2>&1)
    if ((ping_rc == 0 && cp_rc == 0)) && [[ $cat_out == "value-from-memccp-ipv$fam" ]]; then
        pass "1 inside-ipv$fam-tcp-libmemcached: memcping ok, memccp set + memccat got '$cat_out' from $(spec "$host") in $(elapsed_s "$t0")s"
    else
        fail "1 inside-ipv$fam-tcp-libmemcached: memcping rc=$ping_rc ($ping_out), memccp rc=$cp_rc ($cp_out), memccat: '$cat_out'"
    fi
    nc_out=$(nc_setget "$IN" "$host" "nc$fam" "hello$fam")
    if grep -qx STORED <<<"$nc_out" && grep -qx "hello$fam" <<<"$nc_out"; then
        pass "1 inside-ipv$fam-tcp-nc: set + get nc$fam over the text protocol: $(tr '\n' ' ' <<<"$nc_out")"
    else
        fail "1 inside-ipv$fam-tcp-nc: transcript: '$(tr '\n' ' ' <<<"$nc_out")'"
    fi
    udp_out=$(udp_get "$IN" "$host" "nc$fam" 2)
    udp_rc=$?
    e2e_check "1 inside-ipv$fam-udp" "UDP get nc$fam answered: '$udp_out'" "UDP get: rc=$udp_rc '$udp_out'" \
        test "$udp_rc" = 0 -a "$udp_out" = "hello$fam"
done
stat_out=$(timeout 5 ip netns exec "$IN" memcstat --servers="$(spec "$SRV_IN4")" 2>&1 | grep -E 'curr_connections|cmd_get|cmd_set' | tr -s ' \t\n' ' ')
info "1 inside-memcstat" "$stat_out"

# ---------------------------------------------------------------------------------------------
# 2. Outside client: drop -> TCP connect times out, UDP unanswered; reject -> refused at once.
for host in "$SRV_OUT4" "$SRV_OUT6"; do
    out=$(probe "$OUT" "$host" 1.5)
    e2e_check "2 outside-drop-tcp $host" "connect timed out after ${out#* } ms (dropped)" "connect: $out (expected timeout)" \
        test "${out%% *}" = timeout
    t0=${EPOCHREALTIME/./}
    timeout 2 ip netns exec "$OUT" memcping --servers="$(spec "$host")" >/dev/null 2>&1
    rc=$?
    e2e_check "2 outside-drop-memcping $host" "memcping failed (rc=$rc) after $(elapsed_s "$t0")s" "memcping succeeded" test "$rc" != 0
    out=$(udp_get "$OUT" "$host" seed 1)
    e2e_check "2 outside-drop-udp $host" "UDP get: $out (no answer)" "UDP get: $out (expected timeout)" test "$out" = timeout
done

if reload reject "$ALLOW_ALL" is_reject; then
    pass "2 reload-to-reject: SIGHUP applied; chains now end in: $(chain 4 | grep -- "$REJECT_RE" | sed -E 's/.*-j //; s/^[[:space:]]+//' | tr '\n' ';')"
    for host in "$SRV_OUT4" "$SRV_OUT6"; do
        out=$(probe "$OUT" "$host" 2)
        ms=${out#* }
        e2e_check "2 outside-reject-tcp $host" "connect refused after ${ms} ms (RST)" "connect: $out (expected refused within 500 ms)" \
            test "${out%% *}" = refused -a "${ms%.*}" -lt 500
        t0=${EPOCHREALTIME/./}
        timeout 2 ip netns exec "$OUT" memcping --servers="$(spec "$host")" >/dev/null 2>&1
        rc=$?
        e2e_check "2 outside-reject-memcping $host" "memcping failed (rc=$rc) after $(elapsed_s "$t0")s" "memcping succeeded" test "$rc" != 0
        info "2 outside-reject-udp $host" "$(udp_get "$OUT" "$host" seed 1)"
    done
    out=$(nc_get "$IN" "$SRV_IN4" seed)
    e2e_check "2 inside-under-reject" "inside client still served: $(tr '\n' ' ' <<<"$out")" "inside get: '$out'" grep -qx seed <<<"$out"
else
    fail "2 reload-to-reject: no READY=1 or no REJECT in both chains 10 s after SIGHUP: $(chain 4 | tr '\n' ';')"
fi
if reload drop "$ALLOW_ALL" all_allowed; then
    out=$(probe "$OUT" "$SRV_OUT4" 1)
    e2e_check "2 reload-back-to-drop" "chains end in DROP again; outside IPv4 connect: $out" "outside IPv4 connect: $out (expected timeout)" \
        test "${out%% *}" = timeout
else
    fail "2 reload-back-to-drop: chains not back to DROP 10 s after SIGHUP: $(chain 4 | tr '\n' ';')"
fi

# ---------------------------------------------------------------------------------------------
# 3. Loopback inside the server namespace.
for host in 127.0.0.1 ::1; do
    ping_rc=0
    timeout 5 ip netns exec "$SRV" memcping --servers="$(spec "$host")" >/dev/null 2>&1 || ping_rc=$?
    out=$(nc_get "$SRV" "$host" seed)
    udp_out=$(udp_get "$SRV" "$host" seed 1)
    if ((ping_rc == 0)) && grep -qx seed <<<"$out" && [[ $udp_out == seed ]]; then
        pass "3 loopback $host: memcping ok, TCP get seed ok, UDP get: $udp_out"
    else
        fail "3 loopback $host: memcping rc=$ping_rc, TCP get: '$(tr '\n' ' ' <<<"$out")', UDP get: '$udp_out'"
    fi
done

# ---------------------------------------------------------------------------------------------
# 4. Drift repair under load: flush MEMGUARD (both families) while the inside client runs a
#    TCP get every 50 ms; the outside client must be blocked again within interval + margin.
#    nftables: the kernel refuses the flush of a table the daemon owns, so the daemon is
#    restarted with the test-only unowned table first, and guard4 and guard6 are flushed.
MARGIN_MS=1500
LIMIT_MS=$((INTERVAL * 1000 + MARGIN_MS))
MAX_INSIDE_FAILURES=2
flush_ours() {
    if [[ $BACKEND == nftables ]]; then
        in_srv nft flush chain inet memguard guard4
        in_srv nft flush chain inet memguard guard6
    else
        in_srv iptables-legacy -w 5 -F MEMGUARD
        in_srv ip6tables-legacy -w 5 -F MEMGUARD
    fi
}
if [[ $BACKEND == nftables ]]; then
    refused=$(in_srv nft flush chain inet memguard guard4 2>&1)
    e2e_check "4 owned-flush-refused" "the kernel refuses to flush guard4 of the owned table: $refused" \
        "nft flush chain guard4 of the owned table: '$refused' (expected Operation not permitted)" \
        grep -q 'Operation not permitted' <<<"$refused"
    all_allowed || fail "4 owned-flush-refused: the table changed: $(chain 4 | tr '\n' ';')"
    stop_daemon || fail "4 unowned-restart: memguardd exit status $? at SIGTERM"
    start_daemon MEMGUARD_TEST_NFT_UNOWNED=1 || abort "memguardd (unowned table) did not send READY=1 within 10 s"
    all_allowed || abort "after READY=1 (unowned table) the chains are not as configured: $(chain 4 | tr '\n' ';')"
fi
snap=$(ours)
rm -f "$WORK/steady.stop"
ip netns exec "$IN" "${CLIENT[@]}" steady "$SRV_IN4" "$PORT" seed --stop "$WORK/steady.stop" --interval 0.05 --max 20 >"$WORK/steady4.out" &
st4=$!
ip netns exec "$IN" "${CLIENT[@]}" steady "$SRV_IN6" "$PORT" seed --stop "$WORK/steady.stop" --interval 0.05 --max 20 >"$WORK/steady6.out" &
st6=$!
BG_PIDS+=("$st4" "$st6")
sleep 0.5
t0=$EPOCHREALTIME
flush_ours
blocked=$(in_out "${CLIENT[@]}" until-blocked --t0 "$t0" --max 10 --timeout 0.25 "$SRV_OUT4" "$SRV_OUT6")
blocked_rc=$?
sleep 0.5
touch "$WORK/steady.stop"
wait_bounded 5 "$st4" "$st6"
at=$(sed -n 's/.*blocked_at=\([0-9.]*\).*/\1/p' <<<"$blocked")
last_open=$(sed -n 's/.*last_open=\([0-9.a-z]*\).*/\1/p' <<<"$blocked")
at_ms=$(awk -v a="${at:-999}" 'BEGIN { printf "%d", a * 1000 }')
if ((blocked_rc == 0 && at_ms <= LIMIT_MS)); then
    pass "4 flush-repaired: outside blocked again (IPv4 and IPv6) ${at}s after the flush (limit $((LIMIT_MS / 1000)).$((LIMIT_MS % 1000 / 100))s = interval ${INTERVAL}s + margin); last outside connect that got through: ${last_open}s"
else
    fail "4 flush-repaired: outside not blocked again within $((LIMIT_MS))ms: $blocked"
fi
if [[ $last_open == none ]]; then
    info "4 flush-window" "the repair came before the first outside probe, so the open window was not observed"
fi
if [[ $(ours) == "$snap" ]]; then
    pass "4 chain-restored: both families' rules read back identical to before the flush ($(wc -l <<<"$snap") lines)"
else
    fail "4 chain-restored: after repair, what differs from before the flush:"
    diff <(echo "$snap") <(ours) | sed 's/^/     /'
fi
drift_lines=$(grep -c 'drift' "$MG_LOG" || true)
info "4 daemon-log" "$drift_lines log line(s) mention drift; last: $(grep 'repaired' "$MG_LOG" | tail -n 2 | tr '\n' ' ')"
for fam in 4 6; do
    res=$(head -n 1 "$WORK/steady$fam.out")
    ok=$(sed -n 's/^ok=\([0-9]*\).*/\1/p' <<<"$res")
    bad=$(sed -n 's/.*fail=\([0-9]*\).*/\1/p' <<<"$res")
    details=$(sed -n '2,4p' "$WORK/steady$fam.out" | tr '\n' ';')
    if [[ -n $ok && -n $bad ]] && ((ok >= 10 && bad <= MAX_INSIDE_FAILURES)); then
        pass "4 inside-steady-ipv$fam: inside gets every 50 ms across flush + repair: $ok ok, $bad failed (allowed <= $MAX_INSIDE_FAILURES) $details"
    else
        fail "4 inside-steady-ipv$fam: inside gets across flush + repair: '$res' $details (expected >= 10 ok, <= $MAX_INSIDE_FAILURES failed)"
    fi
done

# ---------------------------------------------------------------------------------------------
# 5. Revoke 192.168.1.0/24: new IPv4 connections from the inside client fail, and so does a TCP
#    connection it opened before the reload (memguardd deletes its conntrack entry), while a
#    connection held open from the still-allowed IPv6 network keeps working.
rm -f "$WORK"/hold4.* "$WORK"/hold6.* "$WORK/hold.go"
ip netns exec "$IN" "${CLIENT[@]}" hold "$SRV_IN4" "$PORT" seed --ready "$WORK/hold4.ready" --go "$WORK/hold.go" \
    --out "$WORK/hold4.out" --max 30 --timeout 1 &
hold_pid=$!
BG_PIDS+=("$hold_pid")
ip netns exec "$IN" "${CLIENT[@]}" hold "$SRV_IN6" "$PORT" seed --ready "$WORK/hold6.ready" --go "$WORK/hold.go" \
    --out "$WORK/hold6.out" --max 30 --timeout 1 &
hold6_pid=$!
BG_PIDS+=("$hold6_pid")
wait_until 5 test -s "$WORK/hold4.ready"
wait_until 5 test -s "$WORK/hold6.ready"
info "5 held-connections" "ipv4: $(cat "$WORK/hold4.ready" 2>/dev/null || echo 'never opened'); ipv6: $(cat "$WORK/hold6.ready" 2>/dev/null || echo 'never opened')"
if reload drop "$ALLOW_V6_ONLY" v4_revoked; then
    pass "5 reload-revoke: SIGHUP applied; 192.168.1.0/24 gone from the IPv4 chain, fd12:3456::/48 still in the IPv6 chain"
else
    fail "5 reload-revoke: chains not as expected 10 s after SIGHUP: $(chain 4 | tr '\n' ';')"
fi
out=$(probe "$IN" "$SRV_IN4" 1)
e2e_check "5 inside-ipv4-revoked" "new connection from $IN4: $out (dropped)" "new connection from $IN4: $out (expected timeout)" \
    test "${out%% *}" = timeout
t0=${EPOCHREALTIME/./}
timeout 2 ip netns exec "$IN" memcping --servers="$(spec "$SRV_IN4")" >/dev/null 2>&1
rc=$?
e2e_check "5 inside-ipv4-revoked-memcping" "memcping from $IN4 failed (rc=$rc) after $(elapsed_s "$t0")s" "memcping from $IN4 succeeded" test "$rc" != 0
out=$(nc_get "$IN" "$SRV_IN6" seed)
e2e_check "5 inside-ipv6-still-allowed" "fd12:3456::/48 still allowed: $(tr '\n' ' ' <<<"$out")" "IPv6 get: '$out'" grep -qx seed <<<"$out"
touch "$WORK/hold.go"
wait_until 5 test -s "$WORK/hold4.out"
wait_until 5 test -s "$WORK/hold6.out"
held4=$(cat "$WORK/hold4.out" 2>/dev/null || echo 'no result from the holder')
held6=$(cat "$WORK/hold6.out" 2>/dev/null || echo 'no result from the holder')
e2e_check "5 established-revoked" "the IPv4 connection opened before the reload is cut: $held4" \
    "the revoked IPv4 connection still answers within 1 s: $held4" \
    grep -qE '^(no answer|broken)' <<<"$held4"
e2e_check "5 established-still-allowed" "the IPv6 connection opened before the reload still works: $held6" \
    "the still-allowed IPv6 connection broke: $held6" grep -q '^still works' <<<"$held6"
if grep -q "revoked 192.168.1.0/24: cut [1-9]" "$MG_LOG" 2>/dev/null; then
    pass "5 revoke-logged: $(grep -o 'revoked 192.168.1.0/24: cut [0-9]* open connection(s)' "$MG_LOG" | head -1)"
else
    fail "5 revoke-logged: no 'revoked 192.168.1.0/24: cut N' line in the daemon log"
fi
wait_bounded 5 "$hold_pid"
wait_bounded 5 "$hold6_pid"
if reload drop "$ALLOW_ALL" all_allowed; then
    out=$(nc_get "$IN" "$SRV_IN4" seed)
    e2e_check "5 reload-restore" "192.168.1.0/24 allowed again: $(tr '\n' ' ' <<<"$out")" "IPv4 get after restore: '$out'" grep -qx seed <<<"$out"
else
    fail "5 reload-restore: chains not restored 10 s after SIGHUP: $(chain 4 | tr '\n' ';')"
fi

# ---------------------------------------------------------------------------------------------
# 6. Restart (SIGTERM, pause, start) while the outside client keeps trying: never let in.
snap=$(ours)
rm -f "$WORK/attempts.stop"
ip netns exec "$OUT" "${CLIENT[@]}" attempts --stop "$WORK/attempts.stop" --timeout 0.2 --interval 0.02 --max 30 "$SRV_OUT4" >"$WORK/attempts4.out" &
at4=$!
ip netns exec "$OUT" "${CLIENT[@]}" attempts --stop "$WORK/attempts.stop" --timeout 0.2 --interval 0.02 --max 30 "$SRV_OUT6" >"$WORK/attempts6.out" &
at6=$!
BG_PIDS+=("$at4" "$at6")
sleep 0.5
t0=${EPOCHREALTIME/./}
stop_daemon
stop_rc=$?
e2e_check "6 sigterm" "memguardd exited with status $stop_rc after SIGTERM in $(elapsed_s "$t0")s" "memguardd exit status $stop_rc" test "$stop_rc" = 0
if [[ $(ours) == "$snap" ]] && all_allowed; then
    pass "6 rules-while-stopped: both families' rules unchanged while the daemon is stopped"
else
    fail "6 rules-while-stopped: chains while stopped: $(chain 4 | tr '\n' ';')"
fi
sleep 1.5
udp_out=$(udp_get "$OUT" "$SRV_OUT4" seed 0.5)
e2e_check "6 udp-while-stopped" "outside UDP get while stopped: $udp_out" "outside UDP get while stopped: $udp_out (expected timeout)" test "$udp_out" = timeout
if start_daemon; then
    pass "6 restart: memguardd started again (READY=1) $(elapsed_s "$t0")s after SIGTERM"
else
    fail "6 restart: memguardd did not send READY=1 within 10 s after restart"
fi
sleep 1
touch "$WORK/attempts.stop"
wait_bounded 5 "$at4" "$at6"
for fam in 4 6; do
    res=$(tail -n 1 "$WORK/attempts$fam.out")
    n=$(sed -n 's/^attempts=\([0-9]*\).*/\1/p' <<<"$res")
    opened=$(sed -n 's/.* open=\([0-9]*\).*/\1/p' <<<"$res")
    if [[ -n $n && -n $opened ]] && ((n >= 5 && opened == 0)); then
        pass "6 outside-during-restart-ipv$fam: $res (before, during and after the stop)"
    else
        fail "6 outside-during-restart-ipv$fam: $(tr '\n' ';' <"$WORK/attempts$fam.out") (expected >= 5 attempts, 0 open)"
    fi
done
out=$(nc_get "$IN" "$SRV_IN4" seed)
e2e_check "6 inside-after-restart" "inside client served: $(tr '\n' ' ' <<<"$out")" "inside get: '$out'" grep -qx seed <<<"$out"

# ---------------------------------------------------------------------------------------------
daemon_alive && stop_daemon
e2e_check "end daemon-log" "no error or critical lines in the memguardd log" "memguardd logged errors: $(grep -E 'error|critical' "$MG_LOG" | head -n 3 | tr '\n' ' ')" \
    eval '! grep -qE "memguardd: (error|critical)" "$MG_LOG"'
check_summary "$(elapsed_s "$T_START")s"
