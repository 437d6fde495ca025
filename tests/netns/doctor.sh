#!/bin/bash
# `memguardd doctor` against a real memcached: listening on every address with UDP on (the
# amplification note, tcp and udp behind the allowlist), on loopback with -U 0 (nothing
# found), not running at all (a note), with a tcp-only config while UDP is open (open to
# everybody: an exposure), with an iptables-nft rule beside ours (nftables holds a table: a
# note, no finding), and with an allowlist of 0.0.0.0/0 (a config warning, and the port open to
# every IPv4 host: an exposure), and with no config file at all (a warning).
# No daemon runs here (apply --once programs the rules): every run is an exposure for that, and
# the class of the other findings is judged. Every run prints the backend, where to see its
# rules, and "E exposure(s), W warning(s), N note(s)" matching its lines, each with a fix.
# Usage: doctor.sh PATH/TO/memguardd     (root, memcached; runs in its own network namespace)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
mg_init "$@"
trap 'exit 130' INT
trap 'exit 143' TERM # run the EXIT trap (stop memcached) when ctest's timeout kills us

for tool in memcached ss iptables-nft; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not installed (apt-get install memcached iproute2 iptables)"
        # shellcheck disable=SC2034 # read by lib.sh's exit trap
        MG_DONE=1
        exit 77
    fi
done
ip link set lo up

PORT=11211
# A narrowed list, as an admin leaves it: the shipped one (the private ranges) is itself a
# finding ("the shipped default", case (g)).
DEFAULT=$MG_WORK/default.json
write_config "$DEFAULT" drop 192.168.1.0/24
SHIPPED=$MG_WORK/shipped.json
cp "$HERE/../../config/memguard.json" "$SHIPPED"
chmod 600 "$SHIPPED"
TCP_ONLY=$MG_WORK/tcp-only.json
cat >"$TCP_ONLY" <<EOF
{
  "ports": [$PORT],
  "protocols": ["tcp"],
  "allow": ["192.168.1.0/24"],
  "allow_loopback": true,
  "accept_established": true,
  "action": "drop",
  "verify_interval_s": 5
}
EOF
chmod 600 "$TCP_ONLY"

# Children get SIGTERM if this script is killed without running its trap.
GUARD=()
setpriv --help 2>/dev/null | grep -q pdeathsig && GUARD=(setpriv --pdeathsig TERM)

# wait_until SECONDS CMD... : poll CMD every 20 ms until it succeeds or the time is up
wait_until() {
    local end=$((${EPOCHREALTIME/./} + ${1%.*} * 1000000))
    shift
    until "$@"; do
        [ "${EPOCHREALTIME/./}" -ge "$end" ] && return 1
        sleep 0.02
    done
}

# ---------------------------------------------------------------------------------------
# memcached: one at a time, started by us, gone (waited for) before the next one starts

MC_PID=
gone() { # gone PID : exited (a zombie counts as exited)
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    [ "${stat%% *}" = Z ]
}
# listening tcp|udp ADDRESS : ss shows a socket bound to ADDRESS:11211 (tcp: in LISTEN)
listening() {
    local flags=-Hltn
    [ "$1" = udp ] && flags=-Hlun
    ss $flags "sport = :$PORT" 2>/dev/null | awk -v a="$2:$PORT" '$4 == a { f = 1 } END { exit !f }'
}
port_free() {
    [ -z "$(ss -Hltun "sport = :$PORT" 2>/dev/null)" ]
}
mc_stop() {
    [ -n "$MC_PID" ] || return 0
    kill -TERM "$MC_PID" 2>/dev/null || true
    if ! wait_until 5 gone "$MC_PID"; then
        kill -KILL "$MC_PID" 2>/dev/null || true
        wait_until 5 gone "$MC_PID" || true
    fi
    wait "$MC_PID" 2>/dev/null || true
    MC_PID=
}
mg_at_exit mc_stop
# mc_start LABEL ADDRESS UDP_PORT : memcached on ADDRESS:11211, UDP on UDP_PORT (0 = off);
# returns once ss shows what it should (tcp LISTEN, and the udp socket when UDP is on)
mc_start() {
    local label=$1 addr=$2 udp=$3
    mc_stop
    if ! wait_until 5 port_free; then
        fail "$label: port $PORT still in use before starting memcached" "$(ss -ltnup)"
        return 1
    fi
    "${GUARD[@]}" memcached -u nobody -l "$addr" -p "$PORT" -U "$udp" 2>"$MG_WORK/memcached.err" &
    MC_PID=$!
    local up=(listening tcp "$addr")
    if wait_until 5 "${up[@]}" && { [ "$udp" = 0 ] || wait_until 5 listening udp "$addr"; }; then
        pass "$label: memcached (pid $MC_PID) listens on $addr:$PORT$([ "$udp" = 0 ] && echo ', no UDP' || echo ', UDP on')"
    else
        fail "$label: memcached listening on $addr:$PORT within 5 s" "$(ss -ltnup)" "$(cat "$MG_WORK/memcached.err")"
        return 1
    fi
    if [ "$udp" = 0 ] && ss -Hlun "sport = :$PORT" | grep -q .; then
        fail "$label: memcached -U 0 still has a UDP socket" "$(ss -lunp)"
    fi
}

# ---------------------------------------------------------------------------------------
# doctor

# doctor LABEL CONFIG WORST : runs doctor; no daemon runs here, so it exits 2 and says so as an
# exposure; WORST is the class of the other findings (2 an exposure, 1 a warning, 0 notes only
# or nothing). Checks the iptables-legacy note and that the closing counts match the lines.
doctor() {
    local label=$1 config=$2 want=$3 e w n worst
    mg_doctor "$label" "$config"
    assert_match "$label: that is an exposure, with what to do" \
        '^EXPOSURE: memguardd is not running in this network namespace' "$MG_OUT"
    read -r e w n <<<"$DOCTOR_COUNTS"
    worst=$((e > 1 ? 2 : w > 0 ? 1 : 0))
    assert_eq "$label: apart from that, the worst finding is $want ($e exposure(s), $w warning(s))" \
        "$want" "$worst"
    assert_match "$label: doctor names the backend and why" \
        '^backend iptables-legacy \("backend": "auto" and the kernel has legacy x_tables\)' "$MG_OUT"
    assert_match "$label: the note says where to see our rules, and that plain iptables does not" \
        'iptables-legacy -L -n -v shows them; Debian.s plain `iptables` is the nft variant' "$MG_OUT"
    assert_match "$label: the config is valid, the kernel holds exactly its rules" \
        '^ok: the kernel holds exactly the rules the config asks for$' "$MG_OUT"
}

# --- setup: a narrowed config in the kernel -------------------------------------------------
mg_run apply --once --config "$DEFAULT"
assert_eq "setup: apply --once with the shipped config exits 0" 0 "$MG_RC"
assert_ours_exact setup 4 drop 192.168.1.0/24
assert_ours_exact setup 6 drop 192.168.1.0/24

# --- (a) memcached on 0.0.0.0 with UDP on ----------------------------------------------------
if mc_start "(a) 0.0.0.0 + UDP" 0.0.0.0 "$PORT"; then
    doctor "(a) 0.0.0.0 + UDP" "$DEFAULT" 0
    assert_match "(a) notes UDP amplification (advice: the port is behind the allowlist)" \
        "^note: udp 0\\.0\\.0\\.0:$PORT: memcached answers UDP.*amplification" "$MG_OUT"
    assert_match "(a) and says to turn it off with -U 0" \
        "^  fix: unless clients need UDP, turn it off: -U 0 in /etc/memcached.conf" "$MG_OUT"
    assert_match "(a) tcp is reported behind the allowlist" \
        "^ok: tcp 0\\.0\\.0\\.0:$PORT is behind the allowlist\$" "$MG_OUT"
    assert_match "(a) udp is reported behind the allowlist" \
        "^ok: udp 0\\.0\\.0\\.0:$PORT is behind the allowlist\$" "$MG_OUT"
    assert_match "(a) the UDP note is the only finding besides the daemon" \
        '^1 exposure\(s\), 0 warning\(s\), 1 note\(s\)$' "$MG_OUT"
    assert_no_match "(a) nothing reported open to everybody" 'open to everybody' "$MG_OUT"
fi

# --- (b) memcached on 127.0.0.1, -U 0 --------------------------------------------------------
if mc_start "(b) loopback, -U 0" 127.0.0.1 0; then
    doctor "(b) loopback, -U 0" "$DEFAULT" 0
    assert_match "(b) tcp reported as loopback only" \
        "^ok: tcp 127\\.0\\.0\\.1:$PORT listens on loopback only\$" "$MG_OUT"
    # (the reverse-path lines name udp whatever memcached does: not about this socket)
    assert_no_match "(b) no UDP warning" 'udp|UDP|amplification' \
        "$(grep -v -e '^note: ' -e '^ok: reverse-path check ' <<<"$MG_OUT")"
    assert_no_match "(b) no WARNING at all" '^WARNING' "$MG_OUT"
    assert_match "(b) no finding besides the daemon" '^1 exposure\(s\), 0 warning\(s\), 0 note\(s\)$' "$MG_OUT"
    assert_match "(b) no nftables tables yet" '^ok: no nftables tables' "$MG_OUT"
fi

# --- (c) no memcached --------------------------------------------------------------------------
mc_stop
if wait_until 5 port_free; then
    pass "(c) memcached is gone (waited for), nothing on port $PORT"
else
    fail "(c) port $PORT free after stopping memcached" "$(ss -ltnup)"
fi
doctor "(c) no memcached" "$DEFAULT" 0
assert_match "(c) notes that nothing listens on port $PORT" \
    "^note: nothing listens on port $PORT " "$MG_OUT"
assert_match "(c) that is the only finding besides the daemon" \
    '^1 exposure\(s\), 0 warning\(s\), 1 note\(s\)$' "$MG_OUT"

# --- (d) protocols ["tcp"] only, memcached UDP on 0.0.0.0 --------------------------------------
mg_run apply --once --config "$TCP_ONLY"
assert_eq "(d) apply --once with the tcp-only config exits 0" 0 "$MG_RC"
for fam in 4 6; do
    assert_match "(d) ipv$fam: the tcp jump is there" \
        "^-A INPUT -p tcp -m tcp --dport $PORT -m comment --comment memguard -j MEMGUARD\$" "$(save $fam)"
    assert_no_match "(d) ipv$fam: the udp jump is gone" '^-A INPUT -p udp' "$(save $fam)"
done
if mc_start "(d) tcp-only config" 0.0.0.0 "$PORT"; then
    doctor "(d) tcp-only config" "$TCP_ONLY" 2
    assert_match "(d) udp open to everybody (rules cover only tcp) is an exposure" \
        "^EXPOSURE: udp 0\\.0\\.0\\.0:$PORT is open to everybody: the rules cover only tcp\$" "$MG_OUT"
    assert_match "(d) and says to add udp or turn UDP off" \
        "^  fix: add \"udp\" to \"protocols\", or start memcached with -U 0\$" "$MG_OUT"
    assert_match "(d) tcp still behind the allowlist" \
        "^ok: tcp 0\\.0\\.0\\.0:$PORT is behind the allowlist\$" "$MG_OUT"
    assert_no_match "(d) udp not called behind the allowlist" '^ok: udp .*behind the allowlist' "$MG_OUT"
    assert_match "(d) the amplification note too" '^2 exposure\(s\), 0 warning\(s\), 1 note\(s\)$' "$MG_OUT"
fi

# --- (e) an iptables-nft rule in this namespace --------------------------------------------
mg_run apply --once --config "$DEFAULT"
assert_eq "(e) apply --once with the shipped config again exits 0" 0 "$MG_RC"
if mc_start "(e) iptables-nft rule" 127.0.0.1 0; then
    before4=$(save 4)
    before6=$(save 6)
    assert_ok "(e) iptables-nft -A INPUT -p tcp --dport 22 -j ACCEPT" \
        iptables-nft -w 5 -A INPUT -p tcp --dport 22 -j ACCEPT
    assert_ok "(e) iptables-nft -C finds it" iptables-nft -w 5 -C INPUT -p tcp --dport 22 -j ACCEPT
    assert_eq "(e) the legacy tables did not change" "$before4$before6" "$(save 4)$(save 6)"
    doctor "(e) iptables-nft rule" "$DEFAULT" 0
    assert_match "(e) notes that nftables holds a table (ip filter)" \
        '^note: nftables holds [0-9]+ other table\(s\) \(([^)]*, )?ip filter(, [^)]*)?\): their rules run too' "$MG_OUT"
    assert_match "(e) and points to nft list ruleset / iptables-legacy" \
        'read both: .nft list ruleset., .iptables-legacy -L -n -v.' "$MG_OUT"
    assert_match "(e) a table that opens nothing is no finding" \
        '^1 exposure\(s\), 0 warning\(s\), 0 note\(s\)$' "$MG_OUT"
fi

# --- (f) allow ["0.0.0.0/0"]: valid, but it lets every IPv4 host in -----------------------
EVERYONE=$MG_WORK/everyone.json
write_config "$EVERYONE" drop 0.0.0.0/0
EVERYONE_WARNING="allow\\[0\\]: 0\\.0\\.0\\.0/0 lets every IPv4 host in: port $PORT is not guarded for IPv4; list the networks that need memcached\$"
mg_run check "$EVERYONE"
assert_eq "(f) check accepts it: exit 0" 0 "$MG_RC"
assert_match "(f) check says ok" "^$EVERYONE: ok " "$MG_OUT"
assert_match "(f) check warns on stderr, naming allow[0]" \
    "^memguardd: warning: $EVERYONE: $EVERYONE_WARNING" "$MG_ERR"
mg_run apply --once --config "$EVERYONE"
assert_eq "(f) apply --once with allow [\"0.0.0.0/0\"] exits 0" 0 "$MG_RC"
if mc_start "(f) allow 0.0.0.0/0" 0.0.0.0 0; then
    doctor "(f) allow 0.0.0.0/0" "$EVERYONE" 2
    assert_match "(f) the config warning is a warning" "^WARNING: $EVERYONE: $EVERYONE_WARNING" \
        "$MG_OUT"
    assert_match "(f) tcp 0.0.0.0 open to every IPv4 host is an exposure" \
        "^EXPOSURE: tcp 0\\.0\\.0\\.0:$PORT is open to every IPv4 host: the allowlist lets them all in\$" \
        "$MG_OUT"
    assert_match "(f) and says to list the networks" \
        '^  fix: list the networks that need memcached in "allow"$' "$MG_OUT"
    assert_no_match "(f) nothing is called behind the allowlist" 'behind the allowlist' "$MG_OUT"
    assert_match "(f) those are the findings besides the daemon" \
        '^2 exposure\(s\), 1 warning\(s\), 0 note\(s\)$' "$MG_OUT"
fi
mc_stop

# --- (g) the shipped list: named as the shipped default, to be narrowed -----------------------
mg_run check "$SHIPPED"
assert_eq "(g) check accepts the shipped config: exit 0" 0 "$MG_RC"
assert_match "(g) check says it is the shipped default" 'it is the shipped default' "$MG_ERR"
mg_run doctor --config "$SHIPPED"
assert_match "(g) doctor says so too, as a note, pointing to memguardd clients" \
    '^note: .*it is the shipped default.*memguardd clients' "$MG_OUT"

# --- (h) no config file at all: a finding, never "ok" -------------------------------------------
mg_doctor "(h) missing config (and no daemon)" "$MG_WORK/none.json"
assert_match "(h) missing config is a warning" \
    "^WARNING: $MG_WORK/none\\.json does not exist: a daemon started now fails closed" "$MG_OUT"
assert_match "(h) with what to do" "^  fix: write it .*memguardd check $MG_WORK/none\\.json" "$MG_OUT"
assert_no_match "(h) nothing says the config's rules are in place" 'rules the config asks for' "$MG_OUT"
read -r e w n <<<"$DOCTOR_COUNTS"
assert_ok "(h) every exposure and warning says what to do ($e + $w findings, $((e + w + n)) fix lines)" \
    test "$n" -ge 0

finish
