#!/bin/bash
# `memguardd doctor`: memcached listening on a port the config does not guard (tcp and udp
# on 0.0.0.0:11300 while only 11211 is guarded: notes (advice) naming the pid; on loopback: ok;
# another program on such a port: nothing), and the reverse-path check: reverse_path_check []
# with udp guarded is a note, the default is not; older rules that miss broadcast and multicast
# are a warning; net.ipv4.conf.all.rp_filter is reported as the
# namespace has it; our reverse-path rules by hand, then by apply (that half needs the reverse-path
# rules of the legacy branch: the assertion marked [needs reverse-path rules] fails before).
# Usage: doctor_listen_rp.sh PATH/TO/memguardd     (root, memcached, iptables-legacy, ss)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
mg_init "$@"
trap 'exit 130' INT
trap 'exit 143' TERM # run the EXIT trap (stop what we started) when ctest's timeout kills us

for tool in memcached ss python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not installed (apt-get install memcached iproute2 python3)"
        # shellcheck disable=SC2034 # read by lib.sh's exit trap
        MG_DONE=1
        exit 77
    fi
done
ip link set lo up

# config FILE PORTS PROTOCOLS [REVERSE_PATH] : REVERSE_PATH unset leaves the key out (the default)
config() {
    local file=$1 ports=$2 protocols=$3 rp=${4-unset}
    {
        echo "{"
        echo "  \"ports\": [$ports],"
        echo "  \"protocols\": [$protocols],"
        [ "$rp" != unset ] && echo "  \"reverse_path_check\": [$rp],"
        echo "  \"allow\": [\"192.168.1.0/24\"],"
        echo "  \"verify_interval_s\": 5"
        echo "}"
    } >"$file"
    chmod 600 "$file"
}
DEFAULT=$MG_WORK/default.json
config "$DEFAULT" 11211 '"tcp", "udp"'
NO_RP=$MG_WORK/no-rp.json
config "$NO_RP" 11211 '"tcp", "udp"' ''
TCP_ONLY=$MG_WORK/tcp-only.json
config "$TCP_ONLY" 11211 '"tcp"'
BOTH_PORTS=$MG_WORK/both-ports.json
config "$BOTH_PORTS" '11211, 11300' '"tcp", "udp"'

GUARD=()
setpriv --help 2>/dev/null | grep -q pdeathsig && GUARD=(setpriv --pdeathsig TERM)
wait_until() { # wait_until SECONDS CMD...
    local end=$((${EPOCHREALTIME/./} + ${1%.*} * 1000000))
    shift
    until "$@"; do
        [ "${EPOCHREALTIME/./}" -ge "$end" ] && return 1
        sleep 0.02
    done
}
# bound PROTO ADDRESS:PORT : ss shows a socket there (tcp: listening)
bound() {
    local flags=-Hltn
    [ "$1" = udp ] && flags=-Hlun
    ss $flags | awk -v a="$2" '$4 == a { f = 1 } END { exit !f }'
}
BG_PID=
bg_stop() {
    [ -n "$BG_PID" ] || return 0
    kill -TERM "$BG_PID" 2>/dev/null || true
    wait "$BG_PID" 2>/dev/null || true
    BG_PID=
}
mg_at_exit bg_stop
# mc_start LABEL ADDRESS UDP_PORT : memcached -p 11300 on ADDRESS, UDP on UDP_PORT (0: off)
mc_start() {
    bg_stop
    "${GUARD[@]}" memcached -u nobody -l "$2" -p 11300 -U "$3" 2>"$MG_WORK/memcached.err" &
    BG_PID=$!
    if wait_until 5 bound tcp "$2:11300" && { [ "$3" = 0 ] || wait_until 5 bound udp "$2:11300"; }; then
        pass "$1: oracle: ss shows memcached (pid $BG_PID) on $2:11300"
    else
        fail "$1: memcached on $2:11300 within 5 s" "$(ss -ltnup)" "$(cat "$MG_WORK/memcached.err")"
        return 1
    fi
}
# doctor LABEL CONFIG : mg_doctor (no daemon runs here: exit 2; the counts match the lines)
doctor() { mg_doctor "$@"; }

mg_run apply --once --config "$DEFAULT"
assert_eq "setup: apply --once exits 0" 0 "$MG_RC"

# --- (a) memcached on 0.0.0.0:11300, tcp and udp; only 11211 guarded ------------------------
if mc_start "(a) 0.0.0.0:11300" 0.0.0.0 11300; then
    doctor "(a) 0.0.0.0:11300" "$DEFAULT"
    assert_match "(a) tcp 11300 is a note naming the pid (advice: not a guarded port)" \
        "^note: memcached \\(pid $BG_PID\\) listens on tcp 0\\.0\\.0\\.0:11300, a port memguardd does not guard" "$MG_OUT"
    assert_match "(a) udp 11300 too" \
        "^note: memcached \\(pid $BG_PID\\) listens on udp 0\\.0\\.0\\.0:11300, a port memguardd does not guard" "$MG_OUT"
    assert_match "(a) the fix: add 11300 to \"ports\"" "^  fix: add 11300 to \"ports\" in $DEFAULT, " "$MG_OUT"
    doctor "(a) with 11300 in ports" "$BOTH_PORTS"
    assert_no_match "(a) 11300 in ports: no such finding" 'a port memguardd does not guard' "$MG_OUT"
fi

# --- (b) memcached on 127.0.0.1:11300: no other host reaches it -------------------------------
if mc_start "(b) 127.0.0.1:11300" 127.0.0.1 0; then
    doctor "(b) loopback" "$DEFAULT"
    assert_match "(b) reported as ok, loopback only" \
        "^ok: memcached \\(pid $BG_PID\\) listens on tcp 127\\.0\\.0\\.1:11300, a port memguardd does not guard, on loopback only\$" "$MG_OUT"
    assert_no_match "(b) not a finding" '^(EXPOSURE|WARNING|note): memcached' "$MG_OUT"
fi

# --- (c) another program on 0.0.0.0:11400: not memcached, not reported ------------------------
bg_stop
"${GUARD[@]}" python3 -c 'import socket, time
s = socket.socket(); s.bind(("0.0.0.0", 11400)); s.listen(); time.sleep(60)' &
BG_PID=$!
if wait_until 5 bound tcp 0.0.0.0:11400; then
    doctor "(c) python on 11400" "$DEFAULT"
    assert_no_match "(c) only memcached's sockets are judged" '11400' "$MG_OUT"
else
    fail "(c) python listening on 11400 within 5 s" "$(ss -ltnp)"
fi
bg_stop

# --- (d) the reverse-path check -------------------------------------------------------------------
RP_OFF='^note: reverse-path check for udp: off: forged sources can reach memcached.s handshake-free UDP$'
doctor "(d) reverse_path_check []" "$NO_RP"
assert_match "(d) [] with udp guarded is a note (advice)" "$RP_OFF" "$MG_OUT"
assert_match "(d) the fix sets it to [\"udp\"]" \
    "^  fix: set reverse_path_check to \\[\"udp\"\\] in $NO_RP unless this host routes asymmetrically, " "$MG_OUT"
assert_match "(d) tcp is off, as a note" '^note: reverse-path check for tcp: off' "$MG_OUT"
doctor "(d) default" "$DEFAULT"
assert_no_match "(d) the default (udp) is not a finding" '^(EXPOSURE|WARNING): reverse-path' "$MG_OUT"
assert_no_match "(d) nor a note that udp's check is off" "$RP_OFF" "$MG_OUT"
assert_match "(d) the default says udp is on" '^(ok|note): reverse-path check for udp: on' "$MG_OUT"
doctor "(d) tcp only" "$TCP_ONLY"
assert_no_match "(d) tcp only: nothing about udp's check" 'reverse-path check for udp' "$MG_OUT"
assert_no_match "(d) tcp only: no reverse-path finding" '^WARNING: reverse-path' "$MG_OUT"

for value in 0 2; do
    sysctl -qw net.ipv4.conf.all.rp_filter=$value
    doctor "(d) rp_filter $value" "$DEFAULT"
    assert_match "(d) rp_filter reported as the oracle (sysctl) has it: $value" \
        "^note: net\\.ipv4\\.conf\\.all\\.rp_filter = $(sysctl -n net.ipv4.conf.all.rp_filter) \\($([ $value = 0 ] && echo off || echo loose)" "$MG_OUT"
done

# Our rules as the legacy branch writes them, by hand: mangle PREROUTING, -m rpfilter --invert.
for ipt in iptables-legacy ip6tables-legacy; do
    $ipt -t mangle -A PREROUTING -p udp -m rpfilter --invert -m comment --comment memguard -j DROP
done
doctor "(d) hand-written rpfilter rules" "$DEFAULT"
assert_match "(d) udp's check is in the kernel, both families" \
    '^ok: reverse-path check for udp: on, memguardd.s rules for it are in the kernel \(ipv4 and ipv6\)$' "$MG_OUT"
iptables-legacy -t mangle -F PREROUTING
ip6tables-legacy -t mangle -F PREROUTING
# The drops older versions wrote see only this host's own addresses (--dst-type LOCAL): forged
# packets to a broadcast address or a multicast group pass them.
for ipt in iptables-legacy ip6tables-legacy; do
    $ipt -t mangle -A PREROUTING -p udp -m addrtype --dst-type LOCAL -m rpfilter --invert -m comment --comment memguard -j DROP
done
doctor "(d) LOCAL-only rpfilter rules" "$DEFAULT"
assert_match "(d) LOCAL-only rules are a finding, both families" \
    '^WARNING: reverse-path check for udp: on, but memguardd.s rules for it in the kernel \(ipv4 and ipv6\) check only packets to this host.s own addresses: forged packets to a broadcast address or a multicast group reach memcached' "$MG_OUT"
assert_match "(d) the fix is a restart" '^  fix: restart memguardd' "$MG_OUT"
# IPv4 with every kind named, IPv6 in its two rules: covered
iptables-legacy -t mangle -R PREROUTING 1 -p udp -m addrtype --dst-type LOCAL,BROADCAST,ANYCAST,MULTICAST -m rpfilter --invert -m comment --comment memguard -j DROP
ip6tables-legacy -t mangle -A PREROUTING -p udp -m addrtype --dst-type MULTICAST -m rpfilter --invert -m comment --comment memguard -j DROP
doctor "(d) rpfilter rules that cover broadcast and multicast" "$DEFAULT"
assert_no_match "(d) covered: no finding" '^WARNING: reverse-path' "$MG_OUT"
iptables-legacy -t mangle -F PREROUTING
ip6tables-legacy -t mangle -F PREROUTING
doctor "(d) hand-written rules gone" "$DEFAULT"
assert_match "(d) without them, a note says they are not in the kernel" \
    '^note: reverse-path check for udp: on in the config, but no rule of memguardd.s for it is in the kernel' "$MG_OUT"

mg_run apply --once --config "$DEFAULT"
assert_eq "(d) apply --once exits 0" 0 "$MG_RC"
doctor "(d) after apply" "$DEFAULT"
assert_match "(d) after apply, udp's check is in the kernel" \
    '^ok: reverse-path check for udp: on, memguardd.s rules for it are in the kernel \(ipv4 and ipv6\)$' "$MG_OUT"
assert_no_match "(d) after apply, no finding about them" '^WARNING: reverse-path' "$MG_OUT"

finish
