#!/bin/bash
# hostile_cut_slipped_in: a connection from an outside source that was admitted while port
# 11211 was open must be cut once the port is closed; it must not live on through the
# RELATED,ESTABLISHED rule. Allowed connections are spared.
#
#   (a) before the daemon starts: the outside client (10.0.0.5, fd99::5) and the allowed one
#       (10.0.0.10, fd99::10) each open a TCP connection to memcached, send "version" and
#       read the answer, and keep the connection. After the daemon is up, "version" again on
#       the outside connections gets no answer within 2 s (or a reset), and
#       `conntrack -L -p tcp --dport 11211 -s <outside>` in the server namespace is empty;
#       the allowed connections still get answers.
#   (b) with the daemon running (verify_interval_s 1): `iptables-legacy -I INPUT 1 -p tcp
#       --dport 11211 -j ACCEPT` (and the ip6tables one) opens the port; the outside client
#       connects and holds; the daemon repairs, and the held connections are cut the same way.
#       The daemon is frozen (SIGSTOP) from just before the tamper until the outside client
#       holds its connections, so the repair cannot win the race against the connect; SIGCONT
#       lets it repair.
#   (b) on nftables there is no such tamper while our table is owned (the kernel refuses every
#       change to it: tests/daemon/tamper_repair.sh), and another table's accept does not open
#       the port, because an accept ends only its own base chain and our drop is final. So (b)
#       there is that foreign accept: a table `inet early` whose input chain (priority -100,
#       before ours) and prerouting chain (priority -300) accept tcp and udp 11211. The outside
#       client still gets nothing (tcp probe times out, a held connection gets no first answer,
#       udp is silent, conntrack holds no entry from it, both families); the allowed one is
#       spared; our table and the foreign one are byte-identical a verify pass later.
#
# Namespaces: server (memcached on 0.0.0.0 and ::, tcp+udp 11211, and the daemon) and client,
# joined by a veth pair (lib.sh: h_link). Conntrack is active in the server namespace before
# anything connects, as on any host with a stateful rule: a foreign
# `-m conntrack --ctstate INVALID -j DROP` rule in INPUT (both families), or on nftables a
# foreign table `inet stateful` with `ct state invalid drop` in its input chain.
# Usage: cut_slipped_in.sh MEMGUARDD [iptables-legacy|nftables]
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/../backends/lib.sh"
h_need conntrack
b_init "$1" "${2:-iptables-legacy}"

h_netns SRV
h_netns CLI
h_link "$SRV" "$CLI"
H_NS=$SRV
h_memcached "$SRV" "$MG_PORT"
if mg_is_nft; then
    b_nft -f - <<'NFT' || mg_fatal "cannot add the foreign table with the conntrack rule"
table inet stateful {
    chain input {
        type filter hook input priority 0; policy accept;
        ct state invalid drop
    }
}
NFT
else
    for fam in ipv4 ipv6; do
        mg_ipt $fam -A INPUT -m conntrack --ctstate INVALID -j DROP || mg_fatal "cannot add the foreign conntrack rule ($fam)"
    done
fi

# hold NAME SRC DST : a held connection from the client namespace (hclient.py hold)
hold() {
    local name=$1 src=$2 dst=$3
    rm -f "$TMP/$name.ready" "$TMP/$name.go" "$TMP/$name.out"
    "${MG_ORPHAN_GUARD[@]}" nsenter -t "$CLI" -n -- "$MG_PYTHON" "$H_CLIENT_PY" hold "$src" "$dst" "$MG_PORT" \
        --ready "$TMP/$name.ready" --go "$TMP/$name.go" --out "$TMP/$name.out" --timeout 2 --max 50 \
        2>"$TMP/$name.stderr" &
    MG_PIDS+=($!)
}
# held NAME... : every one of them has its first answer (waits at most 5 s)
held() {
    local name
    for name in "$@"; do
        mg_wait_until 5 test -s "$TMP/$name.ready" || { echo "no ready file for $name"; return 1; }
        grep -q '^first ok' "$TMP/$name.ready" || { echo "$name: $(cat "$TMP/$name.ready")"; return 1; }
    done
}
# go NAME... : ask again on each held connection; wait (at most 5 s) for every outcome
go() {
    local name
    for name in "$@"; do touch "$TMP/$name.go"; done
    for name in "$@"; do mg_wait_until 5 test -s "$TMP/$name.out"; done
}
outcome() { cat "$TMP/$1.out" 2>/dev/null || echo "(no outcome)"; }
# ct_entries FAMILY SRC : conntrack entries of tcp/11211 from SRC in the server namespace
ct_entries() {
    local f=ipv4
    [ "$1" = ipv6 ] && f=ipv6
    conntrack -L -f $f -p tcp --dport "$MG_PORT" -s "$2" 2>/dev/null
}
outside_gone() { [ -z "$(ct_entries ipv4 $H_OUT4)" ] && [ -z "$(ct_entries ipv6 $H_OUT6)" ]; }
cut() { # cut LABEL NAME FAMILY SRC : the held connection NAME got no answer, conntrack is empty
    local label=$1 name=$2 fam=$3 src=$4 out entries
    out=$(outcome "$name")
    case $out in
    "no answer"* | reset* | closed) pass "$label: $fam outside connection from $src is cut: $out" ;;
    *) fail "$label: $fam outside connection from $src still works: $out" ;;
    esac
    entries=$(ct_entries "$fam" "$src")
    if [ -z "$entries" ]; then
        pass "$label: $fam conntrack -L -p tcp --dport $MG_PORT -s $src is empty"
    else
        fail "$label: $fam conntrack still holds the outside connection:"
        sed 's/^/     /' <<<"$entries"
    fi
}
spared() { # spared LABEL NAME FAMILY SRC
    local out
    out=$(outcome "$2")
    check "$1: $3 allowed connection from $4 still answered: $out" eval '[[ $out == answered:* ]]'
}

# ---- (a) connections made before the daemon starts ---------------------------------------------
echo "---- (a) connections opened before the daemon starts"
hold a-out4 $H_OUT4 $H_SRV4
hold a-out6 $H_OUT6 $H_SRV6
hold a-ok4 $H_OK4 $H_SRV4
hold a-ok6 $H_OK6 $H_SRV6
held a-out4 a-out6 a-ok4 a-ok6 || mg_fatal "(a) precondition: the four connections did not all get their first answer"
[ -n "$(ct_entries ipv4 $H_OUT4)" ] && [ -n "$(ct_entries ipv6 $H_OUT6)" ] ||
    mg_fatal "(a) precondition: conntrack in the server namespace does not show the outside connections"
pass "(a) four connections open, outside ones in conntrack: $(ct_entries ipv4 $H_OUT4 | head -n 1)"

b_config "$TMP/memguard.json" 1 "$H_OK4/32" "$H_OK6/128"
mg_start_listener notify
h_start_daemon daemon "$TMP/memguard.json"
mg_wait_notify READY=1 1 10 || mg_fatal "(a) no READY=1 within 10 s of starting the daemon"
b_guards_ok "$H_OK4/32" "$H_OK6/128" || mg_fatal "(a) our rules are not as configured after READY=1"
pass "(a) daemon ready, rules in place"
mg_wait_until 3 outside_gone # give the daemon up to 3 s after READY=1 to cut them
go a-out4 a-out6 a-ok4 a-ok6
cut "(a)" a-out4 ipv4 $H_OUT4
cut "(a)" a-out6 ipv6 $H_OUT6
spared "(a)" a-ok4 ipv4 $H_OK4
spared "(a)" a-ok6 ipv6 $H_OK6

# ---- (b) connections slipped in through a tamper -------------------------------------------------
hold b-ok4 $H_OK4 $H_SRV4
hold b-ok6 $H_OK6 $H_SRV6
held b-ok4 b-ok6 || mg_fatal "(b) precondition: the allowed connections did not get their first answer"

if mg_is_nft; then
    echo "---- (b) nftables: a foreign table that accepts the port before our chains"
    ours_before=$(b_ours)
    b_nft -f - <<NFT || mg_fatal "(b) cannot add the foreign accepting table"
table inet early {
    chain input {
        type filter hook input priority -100; policy accept;
        tcp dport $MG_PORT accept
        udp dport $MG_PORT accept
    }
    chain prerouting {
        type filter hook prerouting priority -300; policy accept;
        tcp dport $MG_PORT accept
        udp dport $MG_PORT accept
    }
}
NFT
    early_before=$(b_nft list table inet early)
    hold b-out4 $H_OUT4 $H_SRV4
    hold b-out6 $H_OUT6 $H_SRV6
    for pair in "b-out4 $H_OUT4 $H_SRV4 ipv4" "b-out6 $H_OUT6 $H_SRV6 ipv6"; do
        read -r name src dst fam <<<"$pair"
        out=$(h_probe "$src" "$dst")
        check "(b) $fam: outside $src gets no tcp answer despite the foreign accept (probe: $out)" [ "$out" = timeout ]
        out=$(b_udp "$src" "$dst")
        check "(b) $fam: outside $src gets no udp answer despite the foreign accept ($out)" [ "$out" = silent ]
        mg_wait_until 5 test -s "$TMP/$name.ready"
        check "(b) $fam: the held connection from $src got no first answer ($(cat "$TMP/$name.ready" 2>/dev/null))" \
            eval "! grep -q '^first ok' '$TMP/$name.ready'"
        entries=$(ct_entries "$fam" "$src")
        check "(b) $fam: conntrack -L -p tcp --dport $MG_PORT -s $src is empty" [ -z "$entries" ]
        [ -z "$entries" ] || sed 's/^/     /' <<<"$entries"
    done
    go b-ok4 b-ok6
    spared "(b)" b-ok4 ipv4 $H_OK4
    spared "(b)" b-ok6 ipv6 $H_OK6
    out=$(h_probe $H_OK4 $H_SRV4)
    check "(b) a new connection from the allowed $H_OK4 connects (probe: $out)" [ "$out" = open ]
    # A verify pass (interval 1 s) has run since the foreign table came.
    h_same "(b) our table is byte-identical with the foreign one beside it" "$ours_before" "$(b_ours)"
    h_same "(b) the foreign table inet early is byte-identical (not ours: never touched)" \
        "$early_before" "$(b_nft list table inet early)"
    check "(b) the daemon is still running" eval "! mg_gone $MG_DAEMON"
    mg_finish
fi

echo "---- (b) connections made while a tamper had opened the port"
kill -STOP "$MG_DAEMON"
mg_wait_until 5 h_stopped "$MG_DAEMON" || mg_fatal "(b) the daemon did not stop on SIGSTOP"
mg_ipt ipv4 -I INPUT 1 -p tcp --dport "$MG_PORT" -j ACCEPT && mg_ipt ipv6 -I INPUT 1 -p tcp --dport "$MG_PORT" -j ACCEPT ||
    mg_fatal "(b) the tamper failed"
hold b-out4 $H_OUT4 $H_SRV4
hold b-out6 $H_OUT6 $H_SRV6
if held b-out4 b-out6; then
    pass "(b) with the port tampered open, the outside client connected and got answers (ipv4, ipv6)"
else
    kill -CONT "$MG_DAEMON"
    mg_fatal "(b) precondition: the outside client could not connect through the tamper"
fi
kill -CONT "$MG_DAEMON"
t0=$(mg_now_us)
jumps_on_top() {
    local fam
    for fam in ipv4 ipv6; do
        [ "$(mg_ipt $fam -S INPUT | sed -n '2,3p')" = "$(mg_ipt $fam -S INPUT | grep -- "--comment $MG_TAG -j MEMGUARD")" ] || return 1
        mg_ipt $fam -S INPUT | sed -n 2p | grep -q -- "--comment $MG_TAG" || return 1
    done
}
if mg_wait_until 5 jumps_on_top; then
    pass "(b) repaired: our jumps back on top of INPUT $(mg_ms_since "$t0") ms after SIGCONT"
else
    fail "(b) our jumps are not back on top of INPUT 5 s after SIGCONT"
    mg_ipt ipv4 -S INPUT | sed 's/^/     /'
fi
mg_wait_until 3 outside_gone
go b-out4 b-out6 b-ok4 b-ok6
cut "(b)" b-out4 ipv4 $H_OUT4
cut "(b)" b-out6 ipv6 $H_OUT6
spared "(b)" b-ok4 ipv4 $H_OK4
spared "(b)" b-ok6 ipv6 $H_OK6
check "(b) the daemon is still running" eval "! mg_gone $MG_DAEMON"

mg_finish
