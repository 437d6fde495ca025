#!/bin/bash
# apply --once with a config shaped like the shipped one (one IPv4 network; the shipped list
# itself is checked by the unit tests and the real boot) programs exactly our rules, for IPv4
# and IPv6; IPv6 networks land only in ip6tables; a second apply is a no-op (no commit,
# counters byte-identical); action "reject" gives the REJECT rules.
# Usage: apply_default.sh PATH/TO/memguardd     (root; runs in its own network namespace)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
mg_init "$@"

DEFAULT=$MG_WORK/default.json
write_config "$DEFAULT" drop 192.168.1.0/24
BOTH=$MG_WORK/both.json
write_config "$BOTH" drop 192.168.1.0/24 fd12:3456::/48
REJECT=$MG_WORK/reject.json
write_config "$REJECT" reject 192.168.1.0/24 fd12:3456::/48

BACKEND_LINE='backend: iptables-legacy ("backend": "auto" and the kernel has legacy x_tables)'

# --- 1. the shipped config ----------------------------------------------------------------
mg_run apply --once --config "$DEFAULT"
assert_eq "default: apply --once exits 0" 0 "$MG_RC"
assert_eq "default: apply --once writes nothing to stderr" "" "$MG_ERR"
assert_eq "default: apply says what it did, per family" \
    "$(printf '%s\n' "$BACKEND_LINE" \
        'ipv4: created chain MEMGUARD with 5 rules, added 2 rules to INPUT, created chain mangle MEMGUARD with 5 rules, added 2 rules to mangle FORWARD, added 1 rule to mangle PREROUTING' \
        'ipv6: created chain MEMGUARD with 4 rules, added 2 rules to INPUT, created chain mangle MEMGUARD with 4 rules, added 2 rules to mangle FORWARD, added 2 rules to mangle PREROUTING')" "$MG_OUT"
assert_ours_exact default 4 drop 192.168.1.0/24
assert_ours_exact default 6 drop 192.168.1.0/24

# The same rules, spelled the way an admin would type them (implicit -m tcp/udp, ctstate
# flags in another order): iptables' own -C must still find them.
for fam in 4 6; do
    assert_ok "default: ipv$fam -C tcp jump (implicit -m tcp)" \
        ipt $fam -C INPUT -p tcp --dport 11211 -m comment --comment memguard -j MEMGUARD
    assert_ok "default: ipv$fam -C udp jump (implicit -m udp)" \
        ipt $fam -C INPUT -p udp --dport 11211 -m comment --comment memguard -j MEMGUARD
    assert_ok "default: ipv$fam -C loopback accept" \
        ipt $fam -C MEMGUARD -i lo -m comment --comment memguard -j ACCEPT
    assert_ok "default: ipv$fam -C established accept (ESTABLISHED,RELATED)" \
        ipt $fam -C MEMGUARD -m conntrack --ctstate ESTABLISHED,RELATED -m comment --comment memguard -j ACCEPT
    assert_ok "default: ipv$fam -C final drop" \
        ipt $fam -C MEMGUARD -m comment --comment memguard -j DROP
    # -C must be able to say no, or the checks above prove nothing
    assert_fails "default: ipv$fam -C does not find a rule that is not there" \
        ipt $fam -C MEMGUARD -i eth0 -m comment --comment memguard -j ACCEPT
done
assert_ok "default: ipv4 -C allow 192.168.1.0/24" \
    iptables-legacy -C MEMGUARD -s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT
assert_fails "default: ipv4 -C allow 10.0.0.0/8 (not configured) fails" \
    iptables-legacy -C MEMGUARD -s 10.0.0.0/8 -m comment --comment memguard -j ACCEPT

mg_run diff --config "$DEFAULT"
assert_eq "default: diff right after apply exits 0 (in sync)" 0 "$MG_RC"

# --- 2. a second apply changes nothing, not even counters --------------------------------
# Give our rules non-zero counters (same rule-spec, -c sets packet/byte counters), so that
# "counters included" means something in a namespace without traffic.
iptables-legacy -R MEMGUARD 1 -i lo -m comment --comment memguard -j ACCEPT -c 7 700
iptables-legacy -R INPUT 1 -p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD -c 11 1100
ip6tables-legacy -R MEMGUARD 1 -i lo -m comment --comment memguard -j ACCEPT -c 5 500
assert_match "setup: counters were set on our ipv4 rule" '^\[7:700\] -A MEMGUARD -i lo ' "$(save 4 -c)"

before4=$(save 4 -c)
before6=$(save 6 -c)
if command -v strace >/dev/null; then
    MG_RC=0
    # LeakSanitizer cannot run under ptrace; the sanitizer build checks leaks everywhere else.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=setsockopt -o "$MG_WORK/strace" \
        "$MG" apply --once --config "$DEFAULT" >"$MG_WORK/out" 2>"$MG_WORK/err" || MG_RC=$?
    MG_OUT=$(cat "$MG_WORK/out")
    MG_ERR=$(cat "$MG_WORK/err")
    assert_no_match "second apply: no table replace reached the kernel (strace)" \
        'SO_SET_REPLACE|SO_SET_ADD_COUNTERS' "$(cat "$MG_WORK/strace")"
else
    echo "SKIP: strace not installed, cannot watch for IPT_SO_SET_REPLACE"
    mg_run apply --once --config "$DEFAULT"
fi
assert_eq "second apply: exits 0" 0 "$MG_RC"
assert_eq "second apply: says both families are unchanged, nothing else" \
    "$(printf '%s\n' "$BACKEND_LINE" 'ipv4: unchanged' 'ipv6: unchanged')" "$MG_OUT"
assert_eq "second apply: iptables-legacy-save -c byte-identical" "$before4" "$(save 4 -c)"
assert_eq "second apply: ip6tables-legacy-save -c byte-identical" "$before6" "$(save 6 -c)"

# --- 3. an IPv6 network in the allowlist goes to ip6tables only ---------------------------
mg_run apply --once --config "$BOTH"
assert_eq "v6 allow: apply exits 0" 0 "$MG_RC"
assert_match "v6 allow: ipv4 unchanged (its rules are the same)" '^ipv4: unchanged$' "$MG_OUT"
assert_match "v6 allow: ipv6 gets the network's rule, in both tables' chains" \
    '^ipv6: added 1 rule to MEMGUARD, added 1 rule to mangle MEMGUARD$' "$MG_OUT"
assert_ours_exact "v6 allow" 4 drop 192.168.1.0/24 fd12:3456::/48
assert_ours_exact "v6 allow" 6 drop 192.168.1.0/24 fd12:3456::/48
assert_no_match "v6 allow: fd12:3456::/48 absent from iptables-legacy-save" 'fd12' "$(save 4)"
assert_match "v6 allow: fd12:3456::/48 present in ip6tables-legacy-save" \
    '^-A MEMGUARD -s fd12:3456::/48 .*-j ACCEPT$' "$(save 6)"
assert_no_match "v6 allow: 192.168.1.0/24 absent from ip6tables-legacy-save" '192\.168' "$(save 6)"
assert_ok "v6 allow: ip6tables -C allow fd12:3456::/48" \
    ip6tables-legacy -C MEMGUARD -s fd12:3456::/48 -m comment --comment memguard -j ACCEPT
assert_eq "v6 allow: counters of unchanged ipv4 rules kept" "$before4" "$(save 4 -c)"

# --- 4. action reject -----------------------------------------------------------------------
mg_run apply --once --config "$REJECT"
assert_eq "reject: apply exits 0" 0 "$MG_RC"
assert_match "reject: ipv4 changed" "$(changed 4)" "$MG_OUT"
assert_match "reject: ipv6 changed" "$(changed 6)" "$MG_OUT"
assert_ours_exact reject 4 reject 192.168.1.0/24 fd12:3456::/48
assert_ours_exact reject 6 reject 192.168.1.0/24 fd12:3456::/48
for fam in 4 6; do
    assert_ok "reject: ipv$fam -C tcp-reset rule" \
        ipt $fam -C MEMGUARD -p tcp -m comment --comment memguard -j REJECT --reject-with tcp-reset
    assert_fails "reject: ipv$fam -C final DROP is gone" \
        ipt $fam -C MEMGUARD -m comment --comment memguard -j DROP
done
assert_ok "reject: ipv4 -C icmp-port-unreachable" \
    iptables-legacy -C MEMGUARD -m comment --comment memguard -j REJECT --reject-with icmp-port-unreachable
assert_ok "reject: ipv6 -C icmp6-port-unreachable" \
    ip6tables-legacy -C MEMGUARD -m comment --comment memguard -j REJECT --reject-with icmp6-port-unreachable
b4=$(save 4 -c)
b6=$(save 6 -c)
mg_run apply --once --config "$REJECT"
assert_match "reject: second apply unchanged (ipv4)" '^ipv4: unchanged$' "$MG_OUT"
assert_match "reject: second apply unchanged (ipv6)" '^ipv6: unchanged$' "$MG_OUT"
assert_eq "reject: second apply leaves both tables byte-identical" "$b4$b6" "$(save 4 -c)$(save 6 -c)"

# --- 5. and back to drop: nothing of the reject rules or of fd12:: stays --------------------
mg_run apply --once --config "$DEFAULT"
assert_eq "back to default: apply exits 0" 0 "$MG_RC"
assert_ours_exact "back to default" 4 drop 192.168.1.0/24
assert_ours_exact "back to default" 6 drop 192.168.1.0/24
assert_no_match "back to default: no REJECT and no fd12 left anywhere" 'REJECT|fd12' "$(save 4; save 6)"

finish
