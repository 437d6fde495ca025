#!/bin/bash
# hostile_squatters: objects that are somebody else's but carry memguardd's names are never
# taken over, changed or destroyed, and the port is closed anyway. Each case gets a fresh
# server namespace and a client namespace joined by a veth pair (lib.sh); memcached listens on
# 11211 in the server namespace.
#
#   (a) a foreign hash:net set memguard4 holding 192.0.2.0/24, used by a foreign SSH rule;
#       config with 40 IPv4 networks: `ipset save memguard4` and the SSH rule are identical
#       afterwards (also after `memguardd remove`), the outside client gets no answer on 11211,
#       the allowed one does, and the log says "memguard4 is not memguardd's".
#   (b) a foreign, unreferenced memguard4 and (c) a foreign memguard4-new (the name of the
#       staging set of a reload), each made by a plain `ipset create NAME hash:net` with one
#       member: both survive, with the same members, a daemon run with a 40-network config
#       (started, then reloaded with SIGHUP to a list with one network changed) and a
#       `memguardd remove`.
#   (d) a foreign chain MEMGUARD (-A MEMGUARD -p tcp --dport 80 -j ACCEPT, ...) with foreign
#       jumps to it from FORWARD and from INPUT (port 80): after the daemon ran, every save line
#       naming MEMGUARD is byte-identical, 11211 is closed to the outside client (ipv4 and
#       ipv6) and still answers on loopback, and the log says "chain MEMGUARD is not
#       memguardd's". The same after `memguardd remove`.
#   (e) the other way round: a memguard4 created with memguardd's mark (initval 0x6d656d67)
#       IS memguardd's: the daemon takes it over, the stray member 192.0.2.0/24 is gone and
#       the set holds exactly the 40 configured networks.
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
h_need memcached nc
h_init "$@"

MARK=0x6d656d67
mapfile -t NETS40 < <(echo "$H_OK4/32"; h_filler 39)
NETS40B=("${NETS40[@]:0:39}" 192.0.2.128/25) # one network changed, for the reload
h_config "$TMP/40.json" 1 "${NETS40[@]}" "$H_OK6/128"
h_config "$TMP/small.json" 1 "$H_OK4/32" "$H_OK6/128"

# fresh_case LABEL : new server and client namespaces, memcached, a listener; H_NS = server
fresh_case() {
    echo "---- $1"
    CASE=${1%% *}
    h_netns SRV
    h_netns CLI
    h_link "$SRV" "$CLI"
    H_NS=$SRV
    h_memcached "$SRV" "$MG_PORT"
    mg_start_listener "case-${1:1:1}"
}
# run_daemon NAME CONFIG : start, wait (at most 10 s) for READY=1 or for the daemon to exit
run_daemon() {
    h_start_daemon "$1" "$2"
    daemon_ready_or_gone() { [ "$(mg_notify_count READY=1)" -ge 1 ] || mg_gone "$MG_DAEMON"; }
    mg_wait_until 10 daemon_ready_or_gone
    if mg_gone "$MG_DAEMON"; then
        note "$CASE: the daemon exited: $(tail -n 1 "$MG_ERR")"
    elif [ "$(mg_notify_count READY=1)" -ge 1 ]; then
        note "$CASE: the daemon is up (READY=1)"
    else
        note "$CASE: no READY=1 within 10 s"
    fi
}
# reload CONFIG_CONTENT_FROM : copy FILE over the running daemon's config and SIGHUP; wait (at
# most 10 s) for the next READY=1
reload_daemon() {
    local n
    n=$(mg_notify_count READY=1)
    cp "$2" "$1.new" && chmod 600 "$1.new" && mv -f "$1.new" "$1"
    kill -HUP "$MG_DAEMON" 2>/dev/null
    mg_wait_until 10 mg_notify_at_least READY=1 $((n + 1)) || note "$CASE: no READY=1 within 10 s of SIGHUP"
}
probe_check() { # probe_check SRC DST WANT
    local out
    out=$(h_probe "$1" "$2")
    check "$CASE: $1 -> $2:$MG_PORT: $3 (probe: $out)" [ "$out" = "$3" ]
}
log_says() { check "$CASE: the log says \"$1\"" grep -qF -- "$1" "$MG_ERR"; }
set_members() { ipset list "$1" 2>/dev/null | sed -n '/^Members:/,$p' | tail -n +2 | grep . | LC_ALL=C sort; }

# ---- (a) ------------------------------------------------------------------------------------------
fresh_case "(a) foreign hash:net memguard4 used by a foreign SSH rule"
ipset create memguard4 hash:net && ipset add memguard4 192.0.2.0/24 || mg_fatal "(a) cannot create the foreign set"
mg_ipt ipv4 -A INPUT -p tcp --dport 22 -m set --match-set memguard4 src -j ACCEPT || mg_fatal "(a) foreign rule"
set_before=$(ipset save memguard4)
rule_before=$(mg_save ipv4 | grep -- '--match-set memguard4' | grep -v -- "--comment $MG_TAG")
run_daemon a "$TMP/40.json"
h_same "$CASE: ipset save memguard4 identical (still only 192.0.2.0/24, same header)" "$set_before" "$(ipset save memguard4 2>&1)"
h_same "$CASE: the foreign SSH rule identical" "$rule_before" "$(mg_save ipv4 | grep -- '--match-set memguard4' | grep -v -- "--comment $MG_TAG")"
probe_check $H_OUT4 $H_SRV4 timeout
probe_check $H_OK4 $H_SRV4 open
log_says "memguard4 is not memguardd's"
mg_gone "$MG_DAEMON" || h_stop_daemon
h_mg remove
note "$CASE: memguardd remove exited $H_RC"
h_same "$CASE: after memguardd remove, ipset save memguard4 identical" "$set_before" "$(ipset save memguard4 2>&1)"
h_same "$CASE: after memguardd remove, the foreign SSH rule identical" "$rule_before" "$(mg_save ipv4 | grep -- '--match-set memguard4' | grep -v -- "--comment $MG_TAG")"

# ---- (b), (c) ---------------------------------------------------------------------------------------
# survivor LABEL NAME : a plain foreign set NAME survives a run (start + reload) and a remove
survivor() {
    local name=$2 before members
    fresh_case "$1"
    ipset create "$name" hash:net && ipset add "$name" 192.0.2.0/24 || mg_fatal "$CASE: cannot create $name"
    before=$(ipset save "$name")
    members=$(set_members "$name")
    cp "$TMP/40.json" "$TMP/run-$name.json"
    h_config "$TMP/40b.json" 1 "${NETS40B[@]}" "$H_OK6/128"
    run_daemon "run-$name" "$TMP/run-$name.json"
    probe_check $H_OUT4 $H_SRV4 timeout
    reload_daemon "$TMP/run-$name.json" "$TMP/40b.json"
    probe_check $H_OUT4 $H_SRV4 timeout
    h_same "$CASE: after the start and a reload, ipset save $name identical" "$before" "$(ipset save "$name" 2>&1)"
    mg_gone "$MG_DAEMON" || h_stop_daemon
    h_mg remove
    note "$CASE: memguardd remove exited $H_RC: $(echo "$H_OUT" "$H_ERR" | tr '\n' ' ')"
    check "$CASE: after memguardd remove, $name is still listed by ipset list -n" eval "ipset list -n | grep -qx -- '$name'"
    h_same "$CASE: after memguardd remove, $name has the same members" "$members" "$(set_members "$name")"
    h_same "$CASE: after memguardd remove, ipset save $name identical" "$before" "$(ipset save "$name" 2>&1)"
}
survivor "(b) foreign unreferenced memguard4" memguard4
survivor "(c) foreign memguard4-new" memguard4-new

# ---- (d) ------------------------------------------------------------------------------------------
fresh_case "(d) foreign chain MEMGUARD with foreign jumps"
mg_tamper ipv4 ':MEMGUARD - [0:0]' \
    '-A MEMGUARD -p tcp -m tcp --dport 80 -j ACCEPT' \
    '-A MEMGUARD -p tcp -m tcp --dport 443 -j ACCEPT' \
    '-A FORWARD -j MEMGUARD' \
    '-A INPUT -p tcp -m tcp --dport 80 -j MEMGUARD' || mg_fatal "(d) cannot make the foreign chain"
chain_lines() { mg_save ipv4 | grep -- 'MEMGUARD'; }
chain_before=$(chain_lines)
foreign_before=$(mg_save ipv4 | grep -v -- "--comment $MG_TAG")
note "$CASE: foreign lines: $(tr '\n' ';' <<<"$chain_before")"
run_daemon d "$TMP/small.json"
h_same "$CASE: every save line naming MEMGUARD is byte-identical" "$chain_before" "$(chain_lines)"
probe_check $H_OUT4 $H_SRV4 timeout
probe_check $H_OUT6 $H_SRV6 timeout
check "$CASE: 127.0.0.1:$MG_PORT still answers on the server (loopback)" h_loopback_reaches "$MG_PORT"
log_says "chain MEMGUARD is not memguardd's"
# Two verify passes later (each run now by `memguardd verify`, which returns when the daemon's
# pass is done): still untouched, still closed.
for pass_no in 1 2; do
    h_mg verify --json --config "$TMP/small.json"
    check "$CASE: verify pass $pass_no ran in the daemon and names the foreign chain (exit $H_RC)" \
        eval 'jq -e ".daemon == true and (.errors | any(contains(\"chain MEMGUARD is not memguardd\")))" <<<"$H_OUT" >/dev/null'
done
h_same "$CASE: after two verify passes, the MEMGUARD lines are still byte-identical" "$chain_before" "$(chain_lines)"
h_same "$CASE: after two verify passes, every ipv4 line without our comment is identical" "$foreign_before" \
    "$(mg_save ipv4 | grep -v -- "--comment $MG_TAG")"
probe_check $H_OUT4 $H_SRV4 timeout
check "$CASE: the daemon is still running" eval "! mg_gone $MG_DAEMON"
mg_gone "$MG_DAEMON" || h_stop_daemon
h_mg remove
note "$CASE: memguardd remove exited $H_RC: $(echo "$H_OUT" "$H_ERR" | tr '\n' ' ')"
h_same "$CASE: after memguardd remove, the MEMGUARD lines are byte-identical" "$chain_before" "$(chain_lines)"

# ---- (e) ------------------------------------------------------------------------------------------
fresh_case "(e) memguard4 with memguardd's mark (initval $MARK) is memguardd's"
ipset create memguard4 hash:net initval $MARK && ipset add memguard4 192.0.2.0/24 ||
    mg_fatal "(e) cannot create the marked set"
run_daemon e "$TMP/40.json"
want=$(printf '%s\n' "${NETS40[@]}" | sed 's|/32$||' | LC_ALL=C sort)
got=$(set_members memguard4)
if [ "$want" = "$got" ]; then
    pass "$CASE: memguard4 holds exactly the 40 configured networks, 192.0.2.0/24 is gone"
else
    fail "$CASE: memguard4 does not hold exactly the 40 configured networks:"
    diff -u <(echo "$want") <(echo "$got") | sed -n '3,$s/^/     /p' | head -n 10
fi
check "$CASE: MEMGUARD matches on memguard4" \
    mg_ipt ipv4 -C MEMGUARD -m set --match-set memguard4 src -m comment --comment "$MG_TAG" -j ACCEPT
probe_check $H_OUT4 $H_SRV4 timeout
probe_check $H_OK4 $H_SRV4 open

mg_finish
