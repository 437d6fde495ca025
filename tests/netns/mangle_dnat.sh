#!/bin/bash
# The mangle table's part, for IPv4 and IPv6: after an apply, mangle holds exactly
# our chain, the DNAT jumps at the top of FORWARD and the reverse-path drops at the top of
# PREROUTING (save output and -C, in the spelling an admin would type); a running daemon's verify
# pass repairs a deleted jump, a foreign rule put above it, a flushed chain and a deleted drop;
# remove leaves mangle as it found it, foreign rules and counters byte for byte; a foreign mangle
# MEMGUARD chain is left alone while the DNAT path is still closed by DROP rules in FORWARD; and
# the same rules written by iptables-legacy-restore read back as in sync (iptables' bytes are ours).
# Usage: mangle_dnat.sh PATH/TO/memguardd PATH/TO/snapshot_agrees   (root; own network namespace)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
mg_init "$1"
AGREE=${2:?usage: $0 MEMGUARDD SNAPSHOT_AGREES}

ALLOW=(192.168.1.0/24 fd12:3456::/48)
CONF=$MG_WORK/memguard.json
write_config "$CONF" drop "${ALLOW[@]}"
sed -i 's/"verify_interval_s": 5/"verify_interval_s": 1/' "$CONF"
REJECT=$MG_WORK/reject.json
write_config "$REJECT" reject "${ALLOW[@]}"

mangle() { # mangle FAM [-c] : the mangle table as saved, without the "#" lines
    local fam=$1
    shift
    if [ "$fam" == 4 ]; then iptables-legacy-save -t mangle "$@"; else ip6tables-legacy-save -t mangle "$@"; fi | grep -v '^#'
}
DNAT_TCP='-p tcp -m conntrack --ctstate DNAT --ctorigdstport 11211 --ctdir ORIGINAL -m comment --comment memguard'
DNAT_UDP='-p udp -m conntrack --ctstate DNAT --ctorigdstport 11211 --ctdir ORIGINAL -m comment --comment memguard'
# The reverse-path drop covers every destination delivered here: IPv4 in one rule, IPv6 in two
# (addrtype has no BROADCAST there, and takes MULTICAST only alone).
rp_types() { if [ "$1" == 4 ]; then echo LOCAL,BROADCAST,ANYCAST,MULTICAST; else echo LOCAL,ANYCAST MULTICAST; fi; }
rp() { echo "-p udp -m udp --dport 11211 -m addrtype --dst-type $1 -m rpfilter --invert -m comment --comment memguard -j DROP"; }
# rp_lines FAM : our PREROUTING lines as saved
rp_lines() { local t; for t in $(rp_types "$1"); do echo "-A PREROUTING $(rp "$t")"; done; }

# mangle_ours FAM : the lines memguardd must own in mangle, in save order
mangle_ours() {
    local fam=$1 n
    echo ":MEMGUARD - [0:0]"
    rp_lines "$fam"
    echo "-A FORWARD $DNAT_TCP -j MEMGUARD"
    echo "-A FORWARD $DNAT_UDP -j MEMGUARD"
    echo "-A MEMGUARD -i lo -m comment --comment memguard -j ACCEPT"
    echo "-A MEMGUARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment memguard -j ACCEPT"
    for n in "${ALLOW[@]}"; do
        case "$n" in *:*) [ "$fam" == 6 ] ;; *) [ "$fam" == 4 ] ;; esac && echo "-A MEMGUARD -s $n -m comment --comment memguard -j ACCEPT"
    done
    echo "-A MEMGUARD -p tcp -m comment --comment memguard -j DROP"
    echo "-A MEMGUARD -m comment --comment memguard -j DROP"
}
# mangle_exact PREFIX FAM : the whole mangle table is the built-in chains and our lines; -C finds
# each of our rules, which is iptables' own byte comparison of the entry
mangle_exact() {
    local prefix=$1 fam=$2 line bad=()
    assert_eq "$prefix: ipv$fam mangle is exactly memguardd's lines" \
        "$(printf '%s\n' '*mangle' ':PREROUTING ACCEPT [0:0]' ':INPUT ACCEPT [0:0]' ':FORWARD ACCEPT [0:0]' \
            ':OUTPUT ACCEPT [0:0]' ':POSTROUTING ACCEPT [0:0]'; mangle_ours "$fam"; echo COMMIT)" \
        "$(mangle "$fam")"
    while IFS= read -r line; do
        case "$line" in -A*) check_mangle "$fam" "$line" >/dev/null 2>&1 || bad+=("$line") ;; esac
    done <<<"$(mangle_ours "$fam")"
    if [ ${#bad[@]} -eq 0 ]; then pass "$prefix: ipv$fam mangle -C finds every rule"; else fail "$prefix: ipv$fam mangle -C does not find:" "${bad[@]}"; fi
}
# check_mangle FAM "-A CHAIN spec..." : iptables-legacy -t mangle -C finds exactly that rule
check_mangle() {
    local -a words
    read -ra words <<<"$2"
    ipt "$1" -t mangle -C "${words[1]}" "${words[@]:2}"
}
# mangle_ours_now FAM : our lines in mangle as they are
mangle_ours_now() { mangle "$1" | ours; }

# --- (a) apply in a fresh namespace --------------------------------------------------------------
mg_run apply --once --config "$CONF"
assert_eq "apply: exits 0" 0 "$MG_RC"
assert_eq "apply: nothing on stderr" "" "$MG_ERR"
for fam in 4 6; do
    mangle_exact apply "$fam"
    assert_ours_exact "apply (filter unchanged)" "$fam" drop "${ALLOW[@]}"
    # in the order the design writes them, as an admin would type them
    assert_ok "apply: ipv$fam -C the tcp DNAT jump as typed" ipt "$fam" -t mangle -C FORWARD -p tcp -m conntrack \
        --ctstate DNAT --ctdir ORIGINAL --ctorigdstport 11211 -m comment --comment memguard -j MEMGUARD
    for types in $(rp_types "$fam"); do
        typed=$(tr , '\n' <<<"$types" | sort -r | paste -sd,) # any order names the same bits
        assert_ok "apply: ipv$fam -C the reverse-path drop as typed (--dst-type $typed)" ipt "$fam" -t mangle -C PREROUTING \
            -p udp --dport 11211 -m addrtype --dst-type "$typed" -m rpfilter --invert -m comment --comment memguard -j DROP
    done
    assert_fails "apply: ipv$fam -C does not find the LOCAL-only drop" ipt "$fam" -t mangle -C PREROUTING -p udp --dport 11211 \
        -m addrtype --dst-type LOCAL -m rpfilter --invert -m comment --comment memguard -j DROP
    assert_fails "apply: ipv$fam -C does not find --ctdir REPLY" ipt "$fam" -t mangle -C FORWARD -p tcp -m conntrack \
        --ctstate DNAT --ctdir REPLY --ctorigdstport 11211 -m comment --comment memguard -j MEMGUARD
    assert_fails "apply: ipv$fam -C does not find rpfilter --loose" ipt "$fam" -t mangle -C PREROUTING -p udp --dport 11211 \
        -m addrtype --dst-type LOCAL -m rpfilter --loose --invert -m comment --comment memguard -j DROP
done
assert_ok "apply: the lock-free snapshot reads what libiptc reads (mangle too)" "$AGREE"
mg_run diff --config "$CONF"
assert_eq "apply: diff is in sync" 0 "$MG_RC"

# An upgrade: the drop older versions wrote (--dst-type LOCAL only, blind to broadcast and
# multicast) is drift, and apply replaces it.
for fam in 4 6; do
    while ipt "$fam" -t mangle -D PREROUTING 1 2>/dev/null; do :; done
    ipt "$fam" -t mangle -A PREROUTING -p udp --dport 11211 -m addrtype --dst-type LOCAL -m rpfilter --invert \
        -m comment --comment memguard -j DROP
done
mg_run diff --config "$CONF"
assert_eq "upgrade: diff sees the LOCAL-only drop as drift" 1 "$MG_RC"
assert_match "upgrade: diff names the old rule" 'dst-type LOCAL -m rpfilter' "$MG_OUT"
mg_run apply --once --config "$CONF"
assert_eq "upgrade: apply exits 0" 0 "$MG_RC"
for fam in 4 6; do mangle_exact upgrade "$fam"; done

# "action": "reject" rejects in filter, and drops on the DNAT path (no REJECT in mangle)
mg_run apply --once --config "$REJECT"
assert_match "reject: ipv4 changes the filter chain only" \
    '^ipv4: replaced rule 4 of MEMGUARD \(was "-p tcp -m comment --comment memguard -j DROP"\), replaced rule 5 of MEMGUARD \(was "-m comment --comment memguard -j DROP"\)$' "$MG_OUT"
assert_no_match "reject: no mangle change" 'mangle' "$MG_OUT"
for fam in 4 6; do mangle_exact reject "$fam"; done
mg_run apply --once --config "$CONF"

# --- foreign mangle state with counters, kept byte for byte from here on -----------------------
for fam in 4 6; do
    ipt "$fam" -t mangle -A FORWARD -p tcp --dport 80 -j MARK --set-mark 1 -c 5 300
    ipt "$fam" -t mangle -A PREROUTING -p udp --dport 53 -j ACCEPT -c 3 100
    ipt "$fam" -t mangle -N FOREIGN
    ipt "$fam" -t mangle -A FOREIGN -j MARK --set-mark 2 -c 2 80
    ipt "$fam" -t mangle -A OUTPUT -j FOREIGN -c 4 160
done
foreign_mangle() { mangle 4 -c | foreign; mangle 6 -c | foreign; }
base=$(foreign_mangle)
assert_match "setup: foreign mangle rules carry counters" '^\[5:300\] -A FORWARD -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x1/0xffffffff$' "$base"
mg_run apply --once --config "$CONF"
assert_eq "apply with foreign rules: both families unchanged" \
    "$(printf '%s\n' 'ipv4: unchanged' 'ipv6: unchanged')" "$(grep '^ipv' <<<"$MG_OUT")"

# --- (b) tampering is repaired by the daemon's verify pass ---------------------------------------
export MEMGUARD_RUNTIME_DIRECTORY=$MG_WORK/run
mkdir -p "$MEMGUARD_RUNTIME_DIRECTORY"
mg_run_daemon "$CONF" || { fail "verify: the daemon said no READY=1 within 10 s" "$(cat "$MG_WORK/daemon.err")"; finish; }
DAEMON=$MG_DAEMON

# wait_ours FAM WANT : up to 5 s for our mangle lines to be WANT
wait_ours() {
    local i
    for i in $(seq 50); do
        [ "$(mangle_ours_now "$1")" == "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
for fam in 4 6; do
    want=$(mangle_ours "$fam")
    ipt "$fam" -t mangle -D FORWARD 1
    if wait_ours "$fam" "$want"; then pass "verify: ipv$fam deleted FORWARD jump is back"; else fail "verify: ipv$fam deleted FORWARD jump" "$(mangle "$fam")"; fi
    ipt "$fam" -t mangle -I FORWARD 1 -p tcp -j MARK --set-mark 9
    moved=false
    for i in $(seq 50); do
        if [ "$(ipt "$fam" -t mangle -S FORWARD | sed -n 2,3p)" == "$(printf '%s\n' "-A FORWARD $DNAT_TCP -j MEMGUARD" "-A FORWARD $DNAT_UDP -j MEMGUARD")" ]; then moved=true; break; fi
        sleep 0.1
    done
    if $moved; then pass "verify: ipv$fam jumps back above a foreign rule put on top"; else fail "verify: ipv$fam jumps not moved" "$(ipt "$fam" -t mangle -S FORWARD)"; fi
    ipt "$fam" -t mangle -D FORWARD -p tcp -j MARK --set-mark 9
    ipt "$fam" -t mangle -F MEMGUARD
    if wait_ours "$fam" "$want"; then pass "verify: ipv$fam flushed mangle MEMGUARD is refilled"; else fail "verify: ipv$fam flushed chain" "$(mangle "$fam")"; fi
    ipt "$fam" -t mangle -D PREROUTING 1
    if wait_ours "$fam" "$want"; then pass "verify: ipv$fam deleted reverse-path drop is back"; else fail "verify: ipv$fam deleted drop" "$(mangle "$fam")"; fi
    ipt "$fam" -t mangle -R MEMGUARD 4 -m comment --comment memguard -j ACCEPT
    if wait_ours "$fam" "$want"; then pass "verify: ipv$fam DROP turned ACCEPT is DROP again"; else fail "verify: ipv$fam tampered rule" "$(mangle "$fam")"; fi
done
assert_eq "verify: every foreign mangle line unchanged (counters included)" "$base" "$(foreign_mangle)"
assert_match "verify: the daemon logged the mangle drift" 'mangle (FORWARD|MEMGUARD|PREROUTING)' "$(cat "$MG_WORK/daemon.err")"
kill "$DAEMON"
wait "$DAEMON" 2>/dev/null || true

# --- (c) remove ----------------------------------------------------------------------------------
mg_run remove
assert_eq "remove: exits 0" 0 "$MG_RC"
assert_match "remove: says what went from mangle" '^iptables-legacy ipv4: .*3 rule\(s\) in mangle FORWARD/PREROUTING and mangle chain MEMGUARD' "$MG_OUT"
for fam in 4 6; do
    assert_eq "remove: nothing of ours left in ipv$fam mangle" "" "$(mangle "$fam" | ours)"
done
assert_eq "remove: foreign mangle byte-identical (counters included)" "$base" "$(foreign_mangle)"

# --- (d) a foreign mangle MEMGUARD chain: left alone, the DNAT path closed without it -----------
for fam in 4 6; do
    ipt "$fam" -t mangle -N MEMGUARD
    ipt "$fam" -t mangle -A MEMGUARD -j MARK --set-mark 7 -c 1 40
    ipt "$fam" -t mangle -A PREROUTING -p tcp --dport 8080 -j MEMGUARD -c 6 360
done
# every line but those with our comment: the foreign chain under our name included
not_tagged() { mangle 4 -c | grep -v -e '--comment memguard' || true; mangle 6 -c | grep -v -e '--comment memguard' || true; }
base=$(not_tagged)
mg_run apply --once --config "$CONF"
assert_match "foreign chain: apply names it" 'mangle chain MEMGUARD is not memguardd' "$MG_OUT$MG_ERR"
for fam in 4 6; do
    assert_eq "foreign chain: ipv$fam FORWARD starts with our DROP rules" \
        "$(printf '%s\n' "-A FORWARD $DNAT_TCP -j DROP" "-A FORWARD $DNAT_UDP -j DROP")" \
        "$(ipt "$fam" -t mangle -S FORWARD | sed -n 2,3p)"
    assert_ok "foreign chain: ipv$fam -C the DROP as typed" ipt "$fam" -t mangle -C FORWARD -p udp -m conntrack \
        --ctstate DNAT --ctdir ORIGINAL --ctorigdstport 11211 -m comment --comment memguard -j DROP
    assert_eq "foreign chain: ipv$fam reverse-path drop in place" "$(rp_lines "$fam")" \
        "$(ipt "$fam" -t mangle -S PREROUTING | sed -n "2,$((1 + $(rp_types "$fam" | wc -w)))p")"
    assert_ours_exact "foreign chain (filter as wanted)" "$fam" drop "${ALLOW[@]}"
done
assert_eq "foreign chain: every foreign mangle line unchanged" "$base" "$(not_tagged)"
assert_ok "foreign chain: snapshot agrees" "$AGREE"
before=$(mangle 4 -c; mangle 6 -c)
mg_run apply --once --config "$CONF"
assert_eq "foreign chain: a second apply changes nothing (mangle byte-identical)" "$before" "$(mangle 4 -c; mangle 6 -c)"
assert_match "foreign chain: and says the DNAT path is closed to everybody, INPUT as configured" \
    'mangle chain MEMGUARD is not memguardd.s \(failed closed: ports published through DNAT closed to everybody, INPUT as configured\)' "$MG_ERR"
mg_run remove
for fam in 4 6; do
    assert_eq "foreign chain: remove takes our rules, ipv$fam" "" "$(mangle "$fam" | grep -e '--comment memguard' || true)"
done
assert_eq "foreign chain: remove leaves the foreign chain and its jump" "$base" "$(not_tagged)"

# --- the same rules written by iptables-legacy-restore read back as ours, unchanged ----------------
# (iptables' own bytes for every rule, decoded by memguardd: any byte it would write differently
# shows up as drift and a rewrite)
for fam in 4 6; do
    if [ "$fam" == 4 ]; then restore=iptables-legacy-restore; else restore=ip6tables-legacy-restore; fi
    { echo '*mangle'; mangle_ours "$fam"; echo COMMIT; echo '*filter'; expected "$fam" drop "${ALLOW[@]}"; echo COMMIT; } |
        $restore # both tables replaced: they hold these rules and nothing else
done
mg_run apply --once --config "$CONF"
assert_eq "restored by iptables: apply finds both tables of both families in sync" \
    "$(printf '%s\n' 'ipv4: unchanged' 'ipv6: unchanged')" "$(grep '^ipv' <<<"$MG_OUT")"
for fam in 4 6; do
    mangle_exact "restored by iptables" "$fam"
    assert_ours_exact "restored by iptables" "$fam" drop "${ALLOW[@]}"
done

finish
