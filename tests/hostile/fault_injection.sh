#!/bin/bash
# hostile_fault_injection_<backend>: memguardd killed (SIGKILL) at each point of an apply, then
# started again, always ends with the port closed to outsiders, open to the allowlist, and
# everything that is not memguardd's untouched.
# Usage: fault_injection.sh MEMGUARDD iptables-legacy|nftables   (root)
#
# The daemon honours MEMGUARD_TEST_KILL_AT=<checkpoint> (it SIGKILLs itself the first time it
# reaches the checkpoint) and MEMGUARD_TEST_STOP_AT=<checkpoint> (it SIGSTOPs itself there);
# checkpoints:
#   iptables-legacy: before_lock, after_lock, after_set_load, after_commit, before_revocation;
#   nftables: nft_after_read (our tables read, nothing decided), nft_before_commit (the batch
#             built, not sent), nft_after_commit (the batch committed, the pass not finished),
#             before_revocation.
#
# Iterations: ROUNDS x 2 layouts x 2 modes x the backend's checkpoints (iptables-legacy: 5
# rounds x 20 = 100; nftables: 5 rounds x 16 = 80; FAULT_ROUNDS=N for more).
#   layouts: "small" (3 IPv4 networks + 1 IPv6: -s rules) and "big" (40 IPv4 networks: the
#            ipset memguard4; under nftables both are set elements), each in two variants A
#            and B that differ in one network;
#   modes:   "start"  - the daemon is started with KILL_AT and a config that differs from what
#                       the kernel holds (the previous iteration's rules);
#            "reload" - the daemon is started with KILL_AT and the config the kernel already
#                       holds, then the file is changed and SIGHUP sent. A checkpoint that is
#                       already reached during the start kills it there (counted as a kill at
#                       start).
#   After the kill (or if the checkpoint was not reached: after SIGTERM) the daemon is started
#   normally with the file as it then is, and after READY=1:
#     (i)   the outside client (10.0.0.5, fd99::5) gets no answer on 11211 within 0.25 s
#           (hclient.py multi: the four connects of (i) and (ii) at once, the timeout covers
#           the connect alone; a SYN-ACK over the veth takes well under a millisecond),
#     (ii)  the allowed client (10.0.0.10, fd99::10) connects,
#     (iii) every foreign rule (INPUT, FORWARD, a foreign chain) and the foreign ipsets are
#           unchanged: save output and `ipset save` without memguardd's lines, identical; under
#           nftables also the foreign tables (inet filter with a set, ip6 foreign): `nft -j list
#           ruleset` without our tables (inet memguard*), identical.
#   Under nftables every start commits (it adopts the orphaned table), so in mode "reload" the
#   kill comes at the start, except for a checkpoint the start does not reach.
#   One PASS/FAIL line per iteration. At the end, per checkpoint: it must have killed the
#   daemon at least once (a test hook that is never reached proves nothing).
# Then STOP cases: iptables-legacy: STOP_AT=after_lock (both layouts), after_set_load (big),
# after_commit (big to small); nftables: nft_after_read (small), nft_before_commit (big),
# nft_after_commit (small):
# while the daemon is stopped there, the outside client still gets no answer on the port that
# the earlier rules closed (and the allowed one still connects); SIGCONT lets it finish
# (READY=1, rules of the new config, checks (i)-(iii)).
#
# One server namespace and one client namespace, joined by a veth pair, for all iterations;
# memcached listens on 11211 in the server namespace.
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
# mg_init re-executes the script with MEMGUARDD only: the backend goes through the environment.
[ "${2:-}" != --private-run ] && export FAULT_BACKEND=${2:-}
case ${FAULT_BACKEND:-} in
iptables-legacy)
    CHECKPOINTS=(before_lock after_lock after_set_load after_commit before_revocation)
    STOP_CASES=("small after_lock" "big after_lock" "big after_set_load" "small after_commit")
    ;;
nftables)
    CHECKPOINTS=(nft_after_read nft_before_commit nft_after_commit before_revocation)
    STOP_CASES=("small nft_after_read" "big nft_before_commit" "small nft_after_commit")
    ;;
*) echo "usage: $0 MEMGUARDD iptables-legacy|nftables" >&2; exit 2 ;;
esac
h_need memcached nc
[ "$FAULT_BACKEND" = nftables ] && h_need nft jq
h_init "$1"
echo "backend: $FAULT_BACKEND"

ROUNDS=${FAULT_ROUNDS:-5}
h_netns SRV
h_netns CLI
h_link "$SRV" "$CLI"
H_NS=$SRV
h_memcached "$SRV" "$MG_PORT"

# ---- foreign rules and sets -------------------------------------------------------------------
ipset create foreign4 hash:net && ipset add foreign4 198.51.100.0/24 &&
    ipset create foreign6 hash:net family inet6 && ipset add foreign6 2001:db8:bad::/48 ||
    mg_fatal "cannot create the foreign sets"
for fam in ipv4 ipv6; do
    mg_add_foreign $fam || mg_fatal "cannot add the foreign rules ($fam)"
done
mg_tamper ipv4 ':DOCKER-USER - [0:0]' \
    '-A INPUT -m set --match-set foreign4 src -j DROP' \
    '-A FORWARD -j DOCKER-USER' \
    '-A FORWARD -i h-srv -o h-srv -j ACCEPT' \
    '-A DOCKER-USER -s 203.0.113.0/24 -j RETURN' || mg_fatal "cannot add the ipv4 foreign rules"
mg_tamper ipv6 '-A INPUT -m set --match-set foreign6 src -j DROP' \
    '-A FORWARD -i h-srv -j ACCEPT' || mg_fatal "cannot add the ipv6 foreign rules"
nft() { h_tool nft "$@"; }
if [ "$FAULT_BACKEND" = nftables ]; then
    nft -f - <<'NFT' || mg_fatal "cannot add the foreign nftables tables"
table inet filter {
    set foreign4 { type ipv4_addr; flags interval; elements = { 198.51.100.0/24 } }
    chain input { type filter hook input priority 0; policy accept; ip saddr @foreign4 drop; tcp dport 22 accept; }
    chain forward { type filter hook forward priority 0; policy accept; iifname "h-srv" accept; }
}
table ip6 foreign {
    chain input { type filter hook input priority 5; policy accept; ip6 saddr 2001:db8:bad::/48 drop; }
}
NFT
fi
# foreign_all : h_foreign_all, and under nftables the ruleset without our tables (inet memguard*)
foreign_all() {
    h_foreign_all
    [ "$FAULT_BACKEND" = nftables ] || return 0
    echo "# nftables"
    nft -j list ruleset | jq -S '[.nftables[] | select(.metainfo == null) |
        select(([.[] | objects | (.table // .name)] | first // "") | test("^memguard") | not)]'
}
FOREIGN=$(foreign_all)
note "foreign state: $(grep -c '^-A' <<<"$FOREIGN") rules, $(grep -c '^create' <<<"$FOREIGN") sets$(
    [ "$FAULT_BACKEND" = nftables ] && echo ", $(jq length <<<"${FOREIGN##*# nftables}") nftables objects")"

# ---- configs ----------------------------------------------------------------------------------------
mapfile -t FILL < <(h_filler 40)
h_config "$TMP/small-A.json" 5 "$H_OK4/32" 192.0.2.0/24 198.18.0.0/24 "$H_OK6/128"
h_config "$TMP/small-B.json" 5 "$H_OK4/32" 192.0.2.0/24 198.18.1.0/24 "$H_OK6/128"
h_config "$TMP/big-A.json" 5 "$H_OK4/32" "${FILL[@]:0:39}" "$H_OK6/128"
h_config "$TMP/big-B.json" 5 "$H_OK4/32" "${FILL[@]:1:39}" "$H_OK6/128"
sed -i "s/^{/{\n  \"backend\": \"$FAULT_BACKEND\",/" "$TMP"/{small,big}-[AB].json
CONF=$TMP/memguard.json
CUR= # the config the kernel holds (small-A, ..., big-B; empty: nothing yet)
use_config() { cp "$TMP/$1.json" "$CONF.new" && chmod 600 "$CONF.new" && mv -f "$CONF.new" "$CONF"; }
# other_variant LAYOUT : the variant of LAYOUT that the kernel does not hold
other_variant() { if [ "$CUR" = "$1-A" ]; then echo "$1-B"; else echo "$1-A"; fi; }

mg_start_listener notify
ready_count() { mg_notify_count READY=1; }

# start NAME [VAR=value...] : the daemon on $CONF; a fresh log file each time (only the last
# ones are shown if something fails)
start() {
    local name=$1
    shift
    MG_LOGS=()
    h_start_daemon "$name" "$CONF" "$@"
}
# wait_ready_or_gone N SECONDS : until READY=1 count > N or the daemon is gone
ready_or_gone() { [ "$(ready_count)" -gt "$1" ] || mg_gone "$MG_DAEMON"; }
# reap : wait for the daemon (dead already); sets MG_EXIT_STATUS; no job message from bash
reap() { { mg_wait_exit "$MG_DAEMON" 5; } 2>/dev/null; }
stop() { { h_stop_daemon; } 2>/dev/null; }

# probes : (i) and (ii), all four connects at once (hclient.py multi); sets PROBES
# ("out4 out6 ok4 ok6" outcomes)
probes() {
    PROBES=$(nsenter -t "$H_CLI" -n -- "$MG_PYTHON" "$H_CLIENT_PY" multi "$MG_PORT" \
        "$H_OUT4,$H_SRV4,0.25" "$H_OUT6,$H_SRV6,0.25" "$H_OK4,$H_SRV4,2" "$H_OK6,$H_SRV6,2" 2>&1)
}
# verdict LABEL : checks (i)-(iii) now, one PASS or FAIL line
verdict() {
    local label=$1 problems=() now
    probes
    read -r o4 o6 k4 k6 <<<"$PROBES"
    [ "$o4" = timeout ] || problems+=("outside $H_OUT4: $o4")
    [ "$o6" = timeout ] || problems+=("outside $H_OUT6: $o6")
    [ "$k4" = open ] || problems+=("allowed $H_OK4: $k4")
    [ "$k6" = open ] || problems+=("allowed $H_OK6: $k6")
    now=$(foreign_all)
    [ "$now" = "$FOREIGN" ] || problems+=("foreign state changed")
    if [ ${#problems[@]} = 0 ]; then
        pass "$label: outside blocked, allowed connects (ipv4, ipv6), foreign rules and sets unchanged"
    else
        fail "$label: $(printf '%s; ' "${problems[@]}")"
        [ "$now" = "$FOREIGN" ] || diff -u <(echo "$FOREIGN") <(echo "$now") | sed -n '3,$s/^/     /p' | head -n 20
    fi
}
# recover LABEL : start normally on $CONF, wait for READY=1, verdict, stop (SIGTERM)
recover() {
    local label=$1 n
    n=$(ready_count)
    start recover
    if ! mg_wait_until 10 ready_or_gone "$n" || mg_gone "$MG_DAEMON"; then
        reap
        fail "$label: the normal start after the kill did not come up (exit ${MG_EXIT_STATUS:-?}): $(tail -n 1 "$MG_ERR")"
        return
    fi
    verdict "$label"
    stop
}

declare -A KILLED_START KILLED_RELOAD NOT_REACHED
for c in "${CHECKPOINTS[@]}"; do KILLED_START[$c]=0 KILLED_RELOAD[$c]=0 NOT_REACHED[$c]=0; done
OTHER_DEATHS=0

# ---- the iterations ----------------------------------------------------------------------------------
T_START=$(mg_now_us)
iter=0
for ((round = 1; round <= ROUNDS; round++)); do
    for layout in small big; do
        for mode in start reload; do
            for c in "${CHECKPOINTS[@]}"; do
                iter=$((iter + 1))
                label="#$iter $layout/$mode/$c"
                n=$(ready_count)
                where=
                if [ "$mode" = start ]; then
                    target=$(other_variant $layout)
                    use_config "$target"
                    start kill MEMGUARD_TEST_KILL_AT="$c"
                    mg_wait_until 10 ready_or_gone "$n"
                    mg_gone "$MG_DAEMON" || mg_wait_until 0.15 mg_gone "$MG_DAEMON"
                    mg_gone "$MG_DAEMON" && where=start
                else
                    if [ -n "$CUR" ]; then use_config "$CUR"; else use_config "$layout-A"; fi
                    target=$(other_variant $layout)
                    start kill MEMGUARD_TEST_KILL_AT="$c"
                    mg_wait_until 10 ready_or_gone "$n"
                    if mg_gone "$MG_DAEMON"; then
                        where=start
                        target=${CUR:-$layout-A} # the file was not changed yet
                    else
                        n=$(ready_count)
                        use_config "$target"
                        kill -HUP "$MG_DAEMON"
                        mg_wait_until 10 ready_or_gone "$n"
                        mg_gone "$MG_DAEMON" || mg_wait_until 0.15 mg_gone "$MG_DAEMON"
                        mg_gone "$MG_DAEMON" && where=reload
                    fi
                fi
                if [ -n "$where" ]; then
                    reap
                    if [ "$MG_EXIT_STATUS" = 137 ]; then
                        if [ $where = start ]; then
                            KILLED_START[$c]=$((KILLED_START[$c] + 1))
                        else
                            KILLED_RELOAD[$c]=$((KILLED_RELOAD[$c] + 1))
                        fi
                        label="$label (killed at $where)"
                    else
                        OTHER_DEATHS=$((OTHER_DEATHS + 1))
                        fail "$label: the daemon exited with status $MG_EXIT_STATUS, not by SIGKILL: $(tail -n 1 "$MG_ERR")"
                        label="$label (exited $MG_EXIT_STATUS at $where)"
                    fi
                else
                    NOT_REACHED[$c]=$((NOT_REACHED[$c] + 1))
                    label="$label (not reached)"
                    stop
                fi
                CUR=$target
                recover "$label"
            done
        done
    done
done
note "$iter iterations in $(($(mg_ms_since "$T_START") / 1000)) s"

echo "---- per checkpoint: killed at start / killed at reload / not reached"
for c in "${CHECKPOINTS[@]}"; do
    note "$(printf '%-18s %3d / %3d / %3d' "$c" "${KILLED_START[$c]}" "${KILLED_RELOAD[$c]}" "${NOT_REACHED[$c]}")"
    check "checkpoint $c killed the daemon at least once ($((KILLED_START[$c] + KILLED_RELOAD[$c])) times)" \
        [ $((KILLED_START[$c] + KILLED_RELOAD[$c])) -gt 0 ]
done
check "no run of the daemon ended other than by the injected SIGKILL ($OTHER_DEATHS did)" [ "$OTHER_DEATHS" = 0 ]

# ---- STOP cases ------------------------------------------------------------------------------------------
echo "---- STOP cases"
# after_commit needs a change of rules, not only of set members: big -> small has one.
for case_ in "${STOP_CASES[@]}"; do
    read -r layout c <<<"$case_"
    label="STOP $layout/$c"
    # the kernel holds rules that close the port; the daemon starts on the other variant
    target=$(other_variant $layout)
    use_config "$target"
    n=$(ready_count)
    start stop MEMGUARD_TEST_STOP_AT="$c"
    stopped_or_ready() { h_stopped "$MG_DAEMON" || ready_or_gone "$n"; }
    mg_wait_until 10 stopped_or_ready
    if ! h_stopped "$MG_DAEMON"; then
        fail "$label: the daemon did not stop itself at $c (READY=1 came or 10 s passed)"
        stop
        CUR=$target
        continue
    fi
    pass "$label: the daemon stopped itself at $c"
    probes
    read -r o4 o6 k4 k6 <<<"$PROBES"
    check "$label: while it is stopped, the outside client still gets no answer (ipv4: $o4, ipv6: $o6)" \
        eval '[ "$o4" = timeout ] && [ "$o6" = timeout ]'
    check "$label: while it is stopped, the allowed client still connects (ipv4: $k4, ipv6: $k6)" \
        eval '[ "$k4" = open ] && [ "$k6" = open ]'
    kill -CONT "$MG_DAEMON"
    if mg_wait_until 10 ready_or_gone "$n" && ! mg_gone "$MG_DAEMON"; then
        pass "$label: after SIGCONT it finished (READY=1)"
        verdict "$label: after SIGCONT"
    else
        fail "$label: no READY=1 within 10 s of SIGCONT"
    fi
    stop
    CUR=$target
done

mg_finish
