#!/bin/bash
# `memguardd remove` gives back exactly the table it found (foreign rules and their counters
# byte for byte), also after drift and repairs; a second remove is harmless. An invalid
# config makes `diff` exit 2 and `apply --once` fail with the JSON path in stderr, and
# touches nothing.
# Usage: remove_restores.sh PATH/TO/memguardd     (root; runs in its own network namespace)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
mg_init "$@"

CONF=$MG_WORK/memguard.json
ALLOW=(192.168.1.0/24 fd12:3456::/48)
write_config "$CONF" drop "${ALLOW[@]}"

# Invalid configs, each with what stderr must name.
BAD_CIDR=$MG_WORK/bad-cidr.json
write_config "$BAD_CIDR" drop 192.168.1.0/24 192.168.1.300/24
UNKNOWN_KEY=$MG_WORK/unknown-key.json
printf '{\n  "ports": [11211],\n  "alow": ["192.168.1.0/24"]\n}\n' >"$UNKNOWN_KEY"
chmod 600 "$UNKNOWN_KEY"
GROUP_WRITABLE=$MG_WORK/group-writable.json
write_config "$GROUP_WRITABLE" drop 192.168.1.0/24
chmod 620 "$GROUP_WRITABLE"

for fam in 4 6; do
    if [ "$fam" == 4 ]; then h=10.1.2.3/32 d=10.20.30.40/32; else h=2001:db8::3/128 d=2001:db8::40/128; fi
    ipt "$fam" -A INPUT -p tcp --dport 22 -j ACCEPT -c 10 600
    ipt "$fam" -N FOREIGN
    ipt "$fam" -A FOREIGN -s "$h" -j DROP -c 3 180
    ipt "$fam" -A FOREIGN -p udp --dport 53 -j ACCEPT -c 4 240
    ipt "$fam" -A INPUT -j FOREIGN -c 8 480
    ipt "$fam" -A INPUT -p tcp --dport 11211 -s "$h" -j LOG -c 1 60
    ipt "$fam" -A OUTPUT -d "$d" -p tcp --dport 25 -j REJECT -c 2 120
done
orig4=$(save 4 -c)
orig6=$(save 6 -c)
tables() { save 4 -c; save 6 -c; }
orig=$(tables)

# invalid_config_checks LABEL : none of the bad configs may change anything
invalid_config_checks() {
    local label=$1 before
    before=$(tables)
    mg_run diff --config "$BAD_CIDR"
    assert_eq "$label: diff with a bad CIDR exits 2" 2 "$MG_RC"
    assert_match "$label: diff names the JSON path and value" 'allow\[1\].*192\.168\.1\.300/24' "$MG_ERR"

    mg_run apply --once --config "$BAD_CIDR"
    if [ "$MG_RC" -ne 0 ]; then pass "$label: apply with a bad CIDR exits non-zero ($MG_RC)"; else
        fail "$label: apply with a bad CIDR exits non-zero" "exit 0; stdout: $MG_OUT"
    fi
    assert_match "$label: apply stderr names the JSON path and value" 'allow\[1\].*192\.168\.1\.300/24' "$MG_ERR"
    assert_eq "$label: apply with a bad CIDR reports nothing done" "" "$MG_OUT"

    mg_run apply --once --config "$UNKNOWN_KEY"
    if [ "$MG_RC" -ne 0 ]; then pass "$label: apply with an unknown key exits non-zero ($MG_RC)"; else
        fail "$label: apply with an unknown key exits non-zero" "exit 0; stdout: $MG_OUT"
    fi
    assert_match "$label: apply stderr names the unknown key" 'alow' "$MG_ERR"

    mg_run apply --once --config "$GROUP_WRITABLE"
    if [ "$MG_RC" -ne 0 ]; then pass "$label: apply with a group-writable config exits non-zero ($MG_RC)"; else
        fail "$label: apply with a group-writable config exits non-zero" "exit 0; stdout: $MG_OUT"
    fi
    mg_run diff --config "$GROUP_WRITABLE"
    assert_eq "$label: diff with a group-writable config exits 2" 2 "$MG_RC"

    assert_eq "$label: both tables byte-identical after the invalid configs" "$before" "$(tables)"
}

invalid_config_checks "before any apply"

# --- apply, drift, repair, remove ------------------------------------------------------------
mg_run apply --once --config "$CONF"
assert_eq "apply exits 0" 0 "$MG_RC"
for fam in 4 6; do assert_ours_exact "apply" "$fam" drop "${ALLOW[@]}"; done
assert_eq "apply kept every foreign line (counters included)" \
    "$(foreign <<<"$orig")" "$(tables | foreign)"

invalid_config_checks "with rules applied"
for fam in 4 6; do assert_ours_exact "invalid config keeps the last good rules" "$fam" drop "${ALLOW[@]}"; done

iptables-legacy -D MEMGUARD 3
iptables-legacy -D INPUT -p udp -m udp --dport 11211 -m comment --comment memguard -j MEMGUARD
ip6tables-legacy -I MEMGUARD 1 -j ACCEPT
ip6tables-legacy -R MEMGUARD 3 -s ::/0 -j ACCEPT
mg_run apply --once --config "$CONF"
assert_eq "repair apply exits 0" 0 "$MG_RC"
assert_match "repair apply: ipv4 puts back its rule and jump" \
    '^ipv4: added 1 rule to MEMGUARD, added 1 rule to INPUT$' "$MG_OUT"
assert_match "repair apply: ipv6 replaces the rules" '^ipv6: replaced rule 1 of MEMGUARD \(was "-j ACCEPT"\), ' "$MG_OUT"

mg_run remove
assert_eq "remove exits 0" 0 "$MG_RC"
assert_match "remove says what it removed (ipv4)" '^iptables-legacy ipv4: .*removed' "$MG_OUT"
assert_match "remove says what it removed (ipv6)" '^iptables-legacy ipv6: .*removed' "$MG_OUT"
assert_eq "remove: iptables-legacy-save -c identical to before the first apply" "$orig4" "$(save 4 -c)"
assert_eq "remove: ip6tables-legacy-save -c identical to before the first apply" "$orig6" "$(save 6 -c)"
for fam in 4 6; do
    assert_fails "remove: ipv$fam MEMGUARD chain is gone (-S MEMGUARD fails)" ipt "$fam" -S MEMGUARD
done

mg_run remove
assert_eq "second remove exits 0" 0 "$MG_RC"
assert_match "second remove says nothing was there" 'nothing' "$MG_OUT"
assert_no_match "second remove claims to have removed nothing" 'removed' "$MG_OUT"
assert_eq "second remove: both tables still identical" "$orig" "$(tables)"

# --- remove straight out of a drifted state (no repair in between) ---------------------------
mg_run apply --once --config "$CONF"
assert_eq "apply again exits 0" 0 "$MG_RC"
iptables-legacy -D INPUT -p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD
iptables-legacy -I MEMGUARD 2 -s 10.0.0.0/8 -j ACCEPT
ip6tables-legacy -F MEMGUARD
mg_run remove
assert_eq "remove from a drifted state exits 0" 0 "$MG_RC"
assert_eq "remove from a drifted state: both tables identical to the original" "$orig" "$(tables)"

# ... and with only the orphaned chain left (jumps gone)
mg_run apply --once --config "$CONF"
for fam in 4 6; do
    ipt "$fam" -D INPUT -p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD
    ipt "$fam" -D INPUT -p udp -m udp --dport 11211 -m comment --comment memguard -j MEMGUARD
done
mg_run remove
assert_eq "remove of an orphaned chain exits 0" 0 "$MG_RC"
assert_eq "remove of an orphaned chain: both tables identical to the original" "$orig" "$(tables)"

finish
