#!/bin/bash
# docker_published_<backend>: memguardd closes a port that a REAL dockerd publishes
# (`docker run -p 11211:11211 -p 11211:11211/udp`) to every source not on the allowlist. Docker
# DNATs such packets in nat PREROUTING and routes them through FORWARD: INPUT never sees them.
#
# Everything runs in namespaces this test made (tests/docker/dockerd_netns.sh): a host H with
# dockerd, its containerd and the memcached container, and two clients on veths to H: IN (on the
# allowlist) and OUT (not). Only a real dockerd counts: when dockerd, the image (rootfs_cache.sh,
# which tries the download three times) or the container cannot be made, the test FAILS and says
# why; exit 77 (SKIP) only when docker.io is not installed at all.
#
# Oracles (memcached's own answer to "version", dprobe.py; TCP a new connection, UDP with the
# 8-byte frame header):
#   0. without memguardd both clients get VERSION over tcp and udp (the DNAT path works, so a
#      silence later is memguardd's doing)
#   1. memguardd (allowlist: IN's networks) READY: IN gets VERSION, OUT silence, tcp and udp
#   2. dockerd restart: OUT probes tcp+udp without pause from the kill until after the container
#      answers again, and never gets VERSION; IN gets VERSION afterwards
#   3. reload without IN's networks: IN's TCP connection opened before gets no VERSION on its
#      next request (reset or silence), new tcp/udp requests from IN get none
#   4. SIGTERM memguardd: OUT still gets no VERSION, and our rules are as before the SIGTERM
#   `memguardd doctor` (steps 1 and 4) names each of Docker's DNATs of the port (the real ones,
#   as iptables-nft writes them) and finds none of them unguarded.
#   UDP reverse-path check: OUT sends a memcached "set" in one UDP datagram with a FORGED source
#   in IN's (allowed) network; whether the key then exists (read from H, straight from the
#   container) says whether the datagram reached memcached. Without memguardd it must (else the
#   check would prove nothing, and says so); with memguardd (default reverse_path_check ["udp"])
#   it must not.
#   Docker's rules (d_docker_rules: everything of Docker's in both iptables families and the
#   nftables tables iptables-nft keeps them in; not our lines, not our tables) before memguardd
#   starts are byte-identical after steps 1, 3 (reload) and 4. A dockerd restart rebuilds them
#   itself (deletes and re-adds its chains, may reorder): after step 2 they must be the same SET
#   of lines as before (sorted), and from then on byte-identical to the post-restart snapshot.
#   IPv6: the same checks when Docker publishes over IPv6 (ip6tables, experimental in 20.10);
#   otherwise said in the output.
#
# Usage: published.sh MEMGUARDD iptables-legacy|nftables
# Env: MEMGUARD_DOCKER_INFRA_ONLY=1 stops after step 0.
# shellcheck disable=SC2034,SC2016 # variables read inside eval strings, in single quotes
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../hostile/lib.sh
. "$HERE/../hostile/lib.sh"
mg_backend "$@"
h_init "$1"
# shellcheck source=dockerd_netns.sh
. "$HERE/dockerd_netns.sh"
d_init
note "backend: $MG_BACKEND"
T_START=$(mg_now_us)

# ---- the host, the clients, dockerd, the container -------------------------------------------
d_topology
d_start_dockerd || mg_fatal "dockerd: $D_WHY"
d_image || mg_fatal "image: $D_WHY"
d_run_memcached || mg_fatal "container: $D_WHY"
note "dockerd's rules via iptables-$D_XT (its own \`iptables\`)"

# OUT can forge a source in IN's networks (the datagram leaves by OUT's default route to H).
if ! h_at "$D_OUT" ip addr add 192.168.1.99/32 dev eth0 || ! h_at "$D_OUT" ip addr add fd00:1::99/128 dev eth0 nodad; then
    mg_fatal "cannot add OUT's forged addresses"
fi

# Which targets: (namespace, address) pairs per family; IPv6 only when Docker publishes it.
FAMS=(4)
V6_NOTE=
if [ -n "${D_CT6_REAL:-}" ] && d_xt 6 -save -t nat 2>/dev/null | grep -q -- "--to-destination \[$D_CT6_REAL\]:11211"; then
    FAMS=(4 6)
else
    V6_NOTE="Docker did not publish the port over IPv6 (no ip6tables DNAT to the container)"
fi

# expect NS-NAME FAM PROTO WANT : WANT is VERSION (an answer) or none (no answer)
probe() {
    local who=$1 fam=$2 proto=$3 ns dst
    case $who$fam in
    in4) ns=$D_IN dst=$D_TO_IN4 ;; in6) ns=$D_IN dst=$D_TO_IN6 ;;
    out4) ns=$D_OUT dst=$D_TO_OUT4 ;; out6) ns=$D_OUT dst=$D_TO_OUT6 ;;
    esac
    d_version "$ns" "$proto" "$dst"
}
# expect WHAT WHO WANT : every family and protocol from client WHO (in|out); WANT answer|none.
# The probes run in parallel (a silence costs its whole timeout).
expect() {
    local what=$1 who=$2 want=$3 fam proto got
    local -a pids=()
    for fam in "${FAMS[@]}"; do
        for proto in tcp udp; do
            probe "$who" "$fam" "$proto" >"$TMP/probe.$who.$fam.$proto" &
            pids+=($!)
        done
    done
    wait "${pids[@]}"
    for fam in "${FAMS[@]}"; do
        for proto in tcp udp; do
            got=$(cat "$TMP/probe.$who.$fam.$proto")
            if [ "$want" = answer ]; then
                check "$what: ${who^^} ipv$fam $proto gets VERSION (got: ${got:-nothing})" \
                    eval '[[ $got == VERSION* ]]'
            else
                check "$what: ${who^^} ipv$fam $proto gets no answer (got: ${got:-nothing})" \
                    eval '[[ $got != VERSION* ]]'
            fi
        done
    done
}

# d_ours : everything of ours in H: legacy, every table's lines with our comment or chain (both
# families) and our ipsets; nftables, our tables inet memguard* (counters and owner dropped)
d_ours() {
    local t
    if mg_is_nft; then
        for t in $(h_tool nft list tables 2>/dev/null | awk '$2 == "inet" && $3 ~ /^memguard/ { print $3 }'); do
            h_tool nft list table inet "$t" | mg_nft_strip
        done
    else
        { iptables-legacy-save; ip6tables-legacy-save; } 2>/dev/null | sed -e '/^#/d' -e 's/ \[[0-9]*:[0-9]*\]$//' |
            grep -E "$MG_TAG|MEMGUARD"
        ipset save 2>/dev/null | grep -E '^(create|add) memguard'
    fi
    return 0
}

# doctor WHAT : `memguardd doctor` in H sees Docker's DNATs of the port (tcp and udp, per family
# Docker publishes) and finds none of them unguarded
doctor() {
    local what=$1 fam proto dst
    h_mg doctor --config "$CONF"
    for fam in "${FAMS[@]}"; do
        dst=$D_CT4
        [ "$fam" = 6 ] && dst=$D_CT6_REAL
        for proto in tcp udp; do
            check "$what: doctor sees Docker's $proto DNAT to $dst" \
                eval 'grep -F "$dst" <<<"$H_OUT" | grep -qE "(DNAT: |by DNAT).*$proto|$proto.*(DNAT|forwarded)"'
        done
    done
    check "$what: doctor finds no DNAT of the port unguarded" eval '! grep -q "NOT guarded" <<<"$H_OUT"' ||
        grep "NOT guarded" <<<"$H_OUT" | cut -c 1-150 | sed 's/^/     doctor: /'
}

# forged WHAT STEP : OUT's forged UDP "set" (source in IN's network) to H's address on OUT's link;
# prints, per family, "FAM stored" or "FAM dropped" (the container's memcached, read from H)
forged() {
    local step=$1 fam src dst got
    for fam in "${FAMS[@]}"; do
        if [ "$fam" = 4 ]; then src=192.168.1.99 dst=$D_TO_OUT4; else src=fd00:1::99 dst=$D_TO_OUT6; fi
        h_at "$D_OUT" "$MG_PYTHON" "$D_PROBE" udp-set "$dst" "forged$step$fam" x --src "$src"
    done
    sleep 0.3
    for fam in "${FAMS[@]}"; do
        got=$(d_at_h "$MG_PYTHON" "$D_PROBE" get "$D_CT4" "forged$step$fam")
        if [ "$got" = x ]; then echo "$fam stored"; else echo "$fam dropped"; fi
    done
}

# ---- 0. without memguardd ---------------------------------------------------------------------
expect "without memguardd" in answer
expect "without memguardd" out answer
FORGED0=$(forged 0)
note "without memguardd, OUT's UDP with a forged source in IN's network: $(tr '\n' ' ' <<<"$FORGED0")"
[ -n "$V6_NOTE" ] && note "IPv6 not covered by Docker here: $V6_NOTE"
[ "${MEMGUARD_DOCKER_INFRA_ONLY:-0}" = 1 ] && { note "infra only ($(mg_ms_since "$T_START") ms)"; mg_finish; }
DOCKER0=$(d_docker_rules)
grep -q DOCKER <<<"$DOCKER0" || mg_fatal "no Docker rules found in H (iptables-$D_XT-save)"
docker_same() { h_same "$1: Docker's rules byte-identical" "$2" "$(d_docker_rules)"; }

# ---- 1. memguardd up ---------------------------------------------------------------------------
CONF=$TMP/memguard.json
mg_config "$CONF" 1 "${D_IN_NETS[@]}"
mg_start_listener notify
t0=$(mg_now_us)
h_start_daemon daemon "$CONF"
mg_wait_notify READY=1 1 15 || mg_fatal "memguardd: no READY=1 within 15 s"
note "memguardd READY=1 after $(mg_ms_since "$t0") ms"
expect "memguardd up" in answer
expect "memguardd up" out none
docker_same "memguardd up" "$DOCKER0"
doctor "memguardd up"
FORGED1=$(forged 1)
for fam in "${FAMS[@]}"; do
    if grep -qx "$fam stored" <<<"$FORGED0"; then
        check "reverse path: OUT's UDP from a forged ipv$fam source in IN's network does not reach memcached" \
            grep -qx "$fam dropped" <<<"$FORGED1"
    else
        note "reverse path ipv$fam: not checked (the forged datagram did not reach memcached even without memguardd)"
    fi
done

# ---- 2. dockerd restart -----------------------------------------------------------------------
rm -f "$TMP/watch.stop" "$TMP/watch.out"
WATCH_DSTS=("$D_TO_OUT4")
[ "${FAMS[*]}" = "4 6" ] && WATCH_DSTS+=("$D_TO_OUT6")
"${MG_ORPHAN_GUARD[@]}" nsenter -t "$D_OUT" -n -- "$MG_PYTHON" "$D_PROBE" watch "${WATCH_DSTS[@]}" \
    --stop "$TMP/watch.stop" --out "$TMP/watch.out" --max 90 &
WATCH_PID=$!
MG_PIDS+=("$WATCH_PID")
sleep 0.3
t0=$(mg_now_us)
d_restart_dockerd && mg_wait_until 30 d_ct_answers
restarted=$?
[ -n "$D_WHY" ] && note "restart: $D_WHY"
check "dockerd restart: the container answers again ($(mg_ms_since "$t0") ms)" [ $restarted = 0 ]
# Docker's DNAT and FORWARD accepts are back now: the outside client keeps probing for a while.
sleep 2
touch "$TMP/watch.stop"
mg_wait_exit "$WATCH_PID" 10
note "outside probes during the restart: $(tail -n 1 "$TMP/watch.out")"
check "dockerd restart: OUT never got VERSION while dockerd went down and came back" \
    eval '! grep -q ANSWERED "$TMP/watch.out"'
grep ANSWERED "$TMP/watch.out" | head -n 5 | sed 's/^/     /'
expect "after the dockerd restart" in answer
expect "after the dockerd restart" out none
DOCKER1=$(d_docker_rules)
h_same "dockerd restart: Docker's rules the same set of lines as before (sorted)" \
    "$(sort <<<"$DOCKER0")" "$(sort <<<"$DOCKER1")"
if [ "$DOCKER0" != "$DOCKER1" ]; then
    note "Docker's own restart changed the order of its lines:"
    diff <(echo "$DOCKER0") <(echo "$DOCKER1") | grep '^[<>]' | head -n 10 | sed 's/^/       /'
fi

# ---- 3. reload that revokes IN -----------------------------------------------------------------
rm -f "$TMP/hold."*
"${MG_ORPHAN_GUARD[@]}" nsenter -t "$D_IN" -n -- "$MG_PYTHON" "$D_PROBE" hold "$D_TO_IN4" \
    --ready "$TMP/hold.ready" --go "$TMP/hold.go" --out "$TMP/hold.out" --timeout 2 --max 60 &
HOLD_PID=$!
MG_PIDS+=("$HOLD_PID")
mg_wait_until 5 test -s "$TMP/hold.ready"
check "reload: IN's connection, opened before, gets VERSION ($(cat "$TMP/hold.ready" 2>/dev/null))" \
    eval '[[ $(cat "$TMP/hold.ready" 2>/dev/null) == VERSION* ]]'
mg_config "$CONF" 1 203.0.113.0/24 2001:db8:113::/48 # nobody of this test
t0=$(mg_now_us)
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 2 15 || fail "reload: no second READY=1 within 15 s of SIGHUP"
note "reload: READY=1 after $(mg_ms_since "$t0") ms"
touch "$TMP/hold.go"
mg_wait_until 5 test -s "$TMP/hold.out"
got=$(cat "$TMP/hold.out" 2>/dev/null)
check "reload: IN's open TCP connection is cut: its next request gets no VERSION (got: ${got:-nothing})" \
    eval '[ -n "$got" ] && [[ $got != VERSION* ]]'
expect "after the reload" in none
expect "after the reload" out none
docker_same "reload" "$DOCKER1"

# ---- 4. SIGTERM -----------------------------------------------------------------------------------
OURS=$(d_ours)
h_stop_daemon
check "SIGTERM: memguardd exited (status ${MG_EXIT_STATUS:-none})" [ "${MG_EXIT_STATUS:-x}" = 0 ]
expect "after SIGTERM (rules stay)" out none
check "SIGTERM: our rules are there ($(grep -c . <<<"$OURS") lines)" [ -n "$OURS" ]
h_same "SIGTERM: our rules as they were before it" "$OURS" "$(d_ours)"
doctor "after SIGTERM"
docker_same "SIGTERM" "$DOCKER1"

[ -n "$V6_NOTE" ] && note "IPv6 NOT covered through Docker: $V6_NOTE"
note "$(mg_ms_since "$T_START") ms from the namespaces to here"
mg_finish
