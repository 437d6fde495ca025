#!/bin/bash
# An allowlist longer than 16 networks per family goes into an ipset hash:net set (memguard4,
# memguard6) matched by one rule. Checked with ipset's and iptables-legacy's own tools: the
# set rule is found by `iptables-legacy -C` (iptables builds the xt_set bytes itself), the
# members are what `ipset save` prints. Drift in the set (a member deleted or slipped in, a
# flush, our rule pointed at another set) is found and repaired; shrinking the list below the
# threshold goes back to -s rules and destroys the set; remove takes our sets out and leaves a
# foreign set, and the foreign rule matching on it, alone.
# Usage: ipset_allowlist.sh PATH/TO/memguardd PATH/TO/snapshot_agrees  (root; own network namespace)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
if ! command -v ipset >/dev/null; then
    echo "FATAL: ipset is needed (apt-get install ipset)" >&2
    MG_DONE=1
    exit 1
fi
AGREE=${2:?usage: ipset_allowlist.sh MEMGUARDD SNAPSHOT_AGREES}
mg_init "$@"

# 200 IPv4 hosts and 30 IPv6 /64s, plus two networks each, all in a family's set.
V4=() V6=()
for i in $(seq 0 199); do V4+=("10.9.$((i / 100)).$((i % 100 + 1))"); done
V4+=(192.168.0.0/16 172.16.0.0/12)
for i in $(seq 1 30); do V6+=("fd00:$(printf %x "$i")::/64"); done
V6+=(2001:db8::/32 fd12:3456::/48)
BIG=$MG_WORK/big.json
write_config "$BIG" drop "${V4[@]}" "${V6[@]}"
SMALL=$MG_WORK/small.json
write_config "$SMALL" drop 192.168.0.0/16 2001:db8::/32

# A foreign set and a foreign rule matching on it, that must survive everything.
ipset create f2b-sshd hash:ip
ipset add f2b-sshd 198.51.100.7
iptables-legacy -A INPUT -p tcp --dport 22 -m set --match-set f2b-sshd src -j REJECT
foreign_set=$(ipset save f2b-sshd)
orig4=$(save 4 -c)
orig6=$(save 6 -c)

# members SET : the set's members as `ipset save` prints them, sorted
members() { ipset save "$1" | awk '$1 == "add" { print $3 }' | sort; }
# want FAM : the members the config asks for, as ipset prints them (hosts without /32)
want() {
    local n
    if [ "$1" == 4 ]; then for n in "${V4[@]}"; do echo "$n"; done; else for n in "${V6[@]}"; do echo "$n"; done; fi | sort
}
set_rule() { echo "MEMGUARD -m set --match-set memguard$1 src -m comment --comment memguard -j ACCEPT"; }

# in_sync LABEL : both sets hold exactly the list, iptables finds the set rule, diff is clean
in_sync() {
    local label=$1 fam refs
    for fam in 4 6; do
        assert_eq "$label: ipset save memguard$fam holds exactly the allowlist" "$(want $fam)" "$(members memguard$fam)"
        # shellcheck disable=SC2046 # the rule-spec is meant to be split
        assert_ok "$label: ip${fam/4/}tables-legacy -C finds the set rule" ipt "$fam" -C $(set_rule "$fam")
        assert_eq "$label: no ipv$fam -s rule of ours is left" "" "$(save "$fam" | grep -E -- '-A MEMGUARD -s ' || true)"
        refs=$(ipset list -t "memguard$fam" | awk '/^References:/ { print $2 }')
        # one rule in filter's MEMGUARD, one in mangle's
        assert_eq "$label: memguard$fam is matched on by two rules" 2 "$refs"
        assert_ok "$label: ip${fam/4/}tables-legacy -t mangle -C finds the set rule" ipt "$fam" -t mangle -C $(set_rule "$fam")
    done
    mg_run diff --config "$BIG"
    assert_eq "$label: diff exits 0" 0 "$MG_RC"
    assert_eq "$label: the foreign set is untouched" "$foreign_set" "$(ipset save f2b-sshd)"
    assert_ok "$label: the lock-free snapshot decodes both tables as libiptc does" "$AGREE"
}

# --- first apply ---------------------------------------------------------------------------------
mg_run apply --once --config "$BIG"
assert_eq "first apply: exits 0" 0 "$MG_RC"
assert_eq "first apply: nothing on stderr" "" "$MG_ERR"
assert_match "first apply: creates the ipv4 set" '^ipv4: .*, created ipset memguard4 with 202 networks$' "$MG_OUT"
assert_match "first apply: creates the ipv6 set" '^ipv6: .*, created ipset memguard6 with 32 networks$' "$MG_OUT"
in_sync "first apply"
assert_eq "first apply: memguard4 is a hash:net set of family inet" "hash:net inet" \
    "$(ipset list -t memguard4 | awk '/^Type:/ { t = $2 } /^Header:/ { print t, $3 }')"
mg_run apply --once --config "$BIG"
assert_match "second apply: ipv4 unchanged" '^ipv4: unchanged$' "$MG_OUT"
assert_match "second apply: ipv6 unchanged" '^ipv6: unchanged$' "$MG_OUT"

# --- drift in the set ------------------------------------------------------------------------------
ipset del memguard4 10.9.0.5
ipset add memguard4 203.0.113.0/24
mg_run diff --config "$BIG"
assert_eq "member deleted + added: diff exits 1" 1 "$MG_RC"
assert_match "member deleted + added: diff names both" \
    '^ipv4 ipset memguard4: want 202 networks, found 1 missing \(10\.9\.0\.5…\), 1 not in the allowlist \(203\.0\.113\.0/24…\)$' "$MG_OUT"
mg_run apply --once --config "$BIG"
assert_match "member deleted + added: apply reloads memguard4" \
    '^ipv4: reloaded ipset memguard4 with 202 networks \(found: 1 missing \(10\.9\.0\.5…\), 1 not in the allowlist \(203\.0\.113\.0/24…\)\)$' "$MG_OUT"
assert_match "member deleted + added: ipv6 was not touched" '^ipv6: unchanged$' "$MG_OUT"
in_sync "member deleted + added"

ipset flush memguard6
mg_run apply --once --config "$BIG"
assert_match "ipset flush memguard6: apply reloads it" '^ipv6: reloaded ipset memguard6 with 32 networks \(found: 32 missing ' "$MG_OUT"
in_sync "ipset flush memguard6"

# A load interrupted after its staging set was made must not block the next one. Ours carries
# memguardd's mark, initval 0x6d656d67.
ipset create memguard4-new hash:net initval 0x6d656d67
ipset del memguard4 172.16.0.0/12
mg_run apply --once --config "$BIG"
assert_eq "leftover staging set: apply exits 0" 0 "$MG_RC"
in_sync "leftover staging set"
assert_fails "leftover staging set: is gone" ipset list -n memguard4-new

# Our rule pointed at somebody else's set.
ipset create other hash:net
iptables-legacy -R MEMGUARD 3 -m set --match-set other src -m comment --comment memguard -j ACCEPT
mg_run apply --once --config "$BIG"
assert_match "rule on another set: apply names it" '^ipv4: replaced rule 3 of MEMGUARD \(was ' "$MG_OUT"
in_sync "rule on another set"
ipset destroy other

# Somebody else's set under our staging name is left alone; the list goes into -s rules meanwhile.
ipset create memguard4-new hash:net
ipset add memguard4-new 198.51.100.0/24
mg_run apply --once --config "$BIG"
assert_match "foreign staging set: apply names it" "ipset memguard4-new is not memguardd's" "$MG_ERR"
assert_eq "foreign staging set: untouched" "add memguard4-new 198.51.100.0/24" \
    "$(ipset save memguard4-new | grep '^add')"
assert_ok "foreign staging set: the list is in -s rules meanwhile" \
    iptables-legacy -C MEMGUARD -s 172.16.0.0/12 -m comment --comment memguard -j ACCEPT
ipset destroy memguard4-new
mg_run apply --once --config "$BIG"
in_sync "foreign staging set gone"

# --- below the threshold and back ------------------------------------------------------------------
mg_run apply --once --config "$SMALL"
assert_eq "shrink: apply exits 0" 0 "$MG_RC"
assert_match "shrink: names the stale set" '^ipv4: .*destroyed ipset memguard4 \(the allowlist no longer needs it\)' "$MG_OUT"
for fam in 4 6; do
    assert_fails "shrink: memguard$fam is destroyed" ipset list -n "memguard$fam"
done
assert_ok "shrink: iptables-legacy -C finds the -s rule" \
    iptables-legacy -C MEMGUARD -s 192.168.0.0/16 -m comment --comment memguard -j ACCEPT
assert_ok "shrink: ip6tables-legacy -C finds the -s rule" \
    ip6tables-legacy -C MEMGUARD -s 2001:db8::/32 -m comment --comment memguard -j ACCEPT
assert_match "shrink: the networks that went are revoked" '^revoked .*: cut 0 open connection' "$MG_OUT"
mg_run apply --once --config "$BIG"
in_sync "grow again"

# --- remove ---------------------------------------------------------------------------------------
mg_run remove
assert_eq "remove: exits 0" 0 "$MG_RC"
for fam in 4 6; do
    assert_fails "remove: memguard$fam is destroyed" ipset list -n "memguard$fam"
done
assert_eq "remove: iptables-legacy-save -c is the original" "$orig4" "$(save 4 -c)"
assert_eq "remove: ip6tables-legacy-save -c is the original" "$orig6" "$(save 6 -c)"
assert_eq "remove: the foreign set is untouched" "$foreign_set" "$(ipset save f2b-sshd)"
mg_run remove
assert_eq "second remove: exits 0" 0 "$MG_RC"

finish
