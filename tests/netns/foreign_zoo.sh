#!/bin/bash
# A filter table full of what docker, kube-proxy and fail2ban leave behind (IPv4 and IPv6:
# user chains jumping to each other, goto, RETURN, and a zoo of matches and targets memguardd
# never writes, with counters). memguardd must apply, repair every kind of drift and remove
# without touching a byte of any of it, must not take any of it for drift, must see through
# look-alikes of its own rules (same rule plus one exotic flag or match), and `remove` must
# give back the exact original table.
#
# Matches and targets used, all accepted by the kernel this was written on (6.18, legacy
# x_tables built in); none had to be dropped. If a kernel lacks one, the restore fails and
# the test aborts at "setup: the ipvN zoo loads" -- take that rule out and name it here.
#   IPv4: conntrack, comment, multiport, state, -f, tcp (--tcp-flags, --syn, --dport),
#         connlimit, set, hashlimit, icmp, u32, string (bm), addrtype, mark, connmark,
#         recent (--set / --update --seconds --hitcount), limit, udp;
#         LOG (--log-prefix, --log-level, --log-tcp-options), REJECT (icmp-host-prohibited,
#         tcp-reset, icmp-port-unreachable), RETURN, -g, -i/-o eth+/docker0, ! inversions.
#   IPv6: conntrack, comment, multiport, ipv6header, frag, hbh, dst, rt, hl, icmp6, udp,
#         tcp (! --tcp-flags, --syn), state, recent, set, connlimit, hashlimit, u32,
#         string (kmp), addrtype, mark, connmark, limit; LOG (--log-level,
#         --log-tcp-sequence, --log-ip-options), REJECT (icmp6-adm-prohibited, tcp-reset),
#         RETURN, -g, -i/-o eth+/docker0, ! inversions.
# Dropped because the kernel rejected them: none.
#
# Every check of the tables also runs snapshot_agrees: the lock-free reader that verify passes
# use must decode this zoo exactly as libiptc does.
#
# Usage: foreign_zoo.sh PATH/TO/memguardd PATH/TO/snapshot_agrees   (root; own network namespace)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
for tool in jq ipset iptables-legacy-restore ip6tables-legacy-restore; do
    if ! command -v "$tool" >/dev/null; then
        echo "FATAL: $tool is needed (apt-get install jq ipset iptables)" >&2
        MG_DONE=1
        exit 1
    fi
done
AGREE=${2:?usage: foreign_zoo.sh MEMGUARDD SNAPSHOT_AGREES}
mg_init "$@"

# --- config: the shipped default plus an IPv6 network ---------------------------------------
DEFAULT_CONF=$(cd "$HERE/../.." && pwd)/config/memguard.json
CONF=$MG_WORK/memguard.json
jq '.allow += ["fd12:3456::/48"]' "$DEFAULT_CONF" >"$CONF"
chmod 600 "$CONF"
# lib.sh's expected() knows port 11211, tcp+udp, loopback and established accepted; make sure
# the shipped default is still that, so that a change there shows up as a clear setup failure.
assert_eq "setup: the shipped default config is the one this test expects" \
    '[11211] ["tcp","udp"] true true "drop"' \
    "$(jq -c '.ports, .protocols, .allow_loopback, .accept_established, .action' "$CONF" | tr '\n' ' ' | sed 's/ $//')"
mapfile -t ALLOW < <(jq -r '.allow[]' "$CONF")
ACTION=$(jq -r .action "$CONF")
echo "# config: $DEFAULT_CONF + fd12:3456::/48 -> allow ${ALLOW[*]}"

# --- the zoo ---------------------------------------------------------------------------------
# ipset sets live in the network namespace, like the tables: this one is as fresh as they are.
if [ -n "$(ipset list -n)" ]; then
    echo "FATAL: ipset sets exist in this namespace; it is not a fresh one" >&2
    ipset list -n >&2
    exit 1
fi
ipset create zoo-block4 hash:net family inet
ipset add zoo-block4 198.51.100.0/24
ipset create zoo-block6 hash:net family inet6
ipset add zoo-block6 2001:db8:bad::/48

ZOO4=$MG_WORK/zoo4.rules
cat >"$ZOO4" <<'EOF'
*filter
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-FIREWALL - [0:0]
:f2b-sshd - [0:0]
:LOGDROP - [0:0]
:ZOO-SCAN - [0:0]
[101:6060] -A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
[102:6120] -A INPUT -p tcp -m multiport --dports 22,2222 -j f2b-sshd
[103:6180] -A INPUT -j KUBE-FIREWALL
[104:6240] -A INPUT -i lo -j ACCEPT
[105:6300] -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
[106:6360] -A INPUT -f -j DROP
[107:6420] -A INPUT -s 192.168.1.0/24 -p tcp -m tcp --dport 11211 -j ACCEPT
[108:6480] -A INPUT -i eth+ -p tcp -m tcp --tcp-flags SYN,RST SYN -m connlimit --connlimit-above 50 --connlimit-mask 32 --connlimit-saddr -j REJECT --reject-with tcp-reset
[109:6540] -A INPUT -p tcp -m tcp --syn -g ZOO-SCAN
[110:6600] -A INPUT -m set --match-set zoo-block4 src -j DROP
[111:6660] -A INPUT ! -i lo -d 127.0.0.0/8 -j REJECT --reject-with icmp-host-prohibited
[112:6720] -A INPUT -p icmp -m icmp --icmp-type 8 -m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 10 --hashlimit-mode srcip --hashlimit-name icmp-echo -j ACCEPT
[113:6780] -A INPUT -p tcp -m u32 --u32 "0>>22&0x3C@12>>26&0x3F=0x10" -j DROP
[114:6840] -A INPUT -p tcp -m tcp --dport 80 -m string --algo bm --string "GET /admin" --to 1500 -j DROP
[115:6900] -A INPUT -m addrtype ! --dst-type LOCAL -j DROP
[116:6960] -A INPUT -m mark --mark 0x1/0x1 -m connmark ! --mark 0x2/0xff -j ACCEPT
[117:7020] -A INPUT -p udp -m multiport --sports 53,123 ! -s 10.0.0.0/8 -j RETURN
[118:7080] -A INPUT -j LOG --log-prefix "zoo-input: " --log-level 6
[11:660] -A FORWARD -j DOCKER-USER
[12:720] -A FORWARD -j DOCKER-ISOLATION-STAGE-1
[13:780] -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
[14:840] -A FORWARD -o docker0 -j DOCKER
[15:900] -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
[16:960] -A FORWARD -i docker0 -o docker0 -j ACCEPT
[17:1020] -A FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
[21:1260] -A OUTPUT -j KUBE-FIREWALL
[22:1320] -A OUTPUT -o eth+ -p tcp -m tcp --dport 25 -j REJECT --reject-with icmp-port-unreachable
[31:1860] -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
[32:1920] -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
[33:1980] -A DOCKER-ISOLATION-STAGE-1 -j RETURN
[34:2040] -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
[35:2100] -A DOCKER-ISOLATION-STAGE-2 -j RETURN
[36:2160] -A DOCKER-USER -j RETURN
[41:2460] -A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
[42:2520] -A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP
[43:2580] -A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "kube-system/kube-dns:dns-tcp has no endpoints" -m tcp --dport 53 -j REJECT --reject-with icmp-port-unreachable
[44:2640] -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
[45:2700] -A KUBE-NODEPORTS -p tcp -m comment --comment "default/memcached:client" -m tcp --dport 31211 -j ACCEPT
[51:3060] -A f2b-sshd -s 203.0.113.7/32 -j REJECT --reject-with icmp-port-unreachable
[52:3120] -A f2b-sshd -j RETURN
[61:3660] -A LOGDROP -m limit --limit 5/min -j LOG --log-prefix "LOGDROP " --log-level 6 --log-tcp-options
[62:3720] -A LOGDROP -j DROP
[71:4260] -A ZOO-SCAN -m recent --set --name portscan --rsource
[72:4320] -A ZOO-SCAN -m recent --update --seconds 60 --hitcount 10 --name portscan --rsource -g LOGDROP
[73:4380] -A ZOO-SCAN -j RETURN
COMMIT
EOF

ZOO6=$MG_WORK/zoo6.rules
cat >"$ZOO6" <<'EOF'
*filter
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:f2b-sshd - [0:0]
:ICMP6-IN - [0:0]
[201:16080] -A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
[202:16160] -A INPUT -p tcp -m multiport --dports 22,2222 -j f2b-sshd
[203:16240] -A INPUT -m ipv6header --header hop-by-hop,frag --soft -j DROP
[204:16320] -A INPUT -m frag --fragid 0:65535 --fragmore -j DROP
[205:16400] -A INPUT -m hbh --hbh-len 8 -j DROP
[206:16480] -A INPUT -m dst --dst-len 16 -j DROP
[207:16560] -A INPUT -m rt --rt-type 0 --rt-segsleft 0:255 -j DROP
[208:16640] -A INPUT -p ipv6-icmp -g ICMP6-IN
[209:16720] -A INPUT -s fd12:3456::/48 -p udp -m udp --dport 11211 -j ACCEPT
[210:16800] -A INPUT -i eth+ -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m state --state NEW -j DROP
[211:16880] -A INPUT -p tcp -m tcp --syn -m recent --set --name ssh6 --rsource
[212:16960] -A INPUT -p tcp -m tcp --syn -m recent --update --seconds 60 --hitcount 5 --name ssh6 --rsource -j LOG --log-prefix "ssh6-flood " --log-level 6
[213:17040] -A INPUT -m set --match-set zoo-block6 src -j REJECT --reject-with icmp6-adm-prohibited
[214:17120] -A INPUT -p tcp -m connlimit --connlimit-above 20 --connlimit-mask 64 --connlimit-saddr -j REJECT --reject-with tcp-reset
[215:17200] -A INPUT -p tcp -m tcp --dport 443 -m hashlimit --hashlimit-above 100/sec --hashlimit-burst 200 --hashlimit-mode srcip --hashlimit-srcmask 64 --hashlimit-name https6 -j DROP
[216:17280] -A INPUT -p udp -m u32 --u32 "0>>4&0xFF=0x0" -j DROP
[217:17360] -A INPUT -p tcp -m tcp --dport 80 -m string --algo kmp --string "/etc/passwd" -j DROP
[218:17440] -A INPUT -m addrtype --dst-type MULTICAST -j RETURN
[219:17520] -A INPUT -m mark ! --mark 0x0 -m connmark --mark 0x4000/0x4000 -j ACCEPT
[220:17600] -A INPUT ! -s fe80::/10 -i docker0 -j DOCKER-USER
[221:17680] -A INPUT -j LOG --log-prefix "zoo6-input: " --log-level 7 --log-tcp-sequence --log-ip-options
[11:880] -A FORWARD -j DOCKER-USER
[12:960] -A FORWARD -j DOCKER-ISOLATION-STAGE-1
[13:1040] -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
[14:1120] -A FORWARD -o docker0 -j DOCKER
[15:1200] -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
[21:1680] -A OUTPUT -j KUBE-FIREWALL
[22:1760] -A OUTPUT -o eth+ -p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP
[31:2480] -A DOCKER -d fd00:dead::2/128 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
[32:2560] -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
[33:2640] -A DOCKER-ISOLATION-STAGE-1 -j RETURN
[34:2720] -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
[35:2800] -A DOCKER-ISOLATION-STAGE-2 -j RETURN
[36:2880] -A DOCKER-USER -j RETURN
[41:3280] -A KUBE-FIREWALL ! -s ::1/128 -d ::1/128 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
[42:3360] -A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP
[43:3440] -A KUBE-SERVICES -d fd00:96::10/128 -p udp -m comment --comment "kube-system/kube-dns:dns has no endpoints" -m udp --dport 53 -j REJECT --reject-with icmp6-port-unreachable
[51:4080] -A f2b-sshd -s 2001:db8::7/128 -j REJECT --reject-with icmp6-port-unreachable
[52:4160] -A f2b-sshd -j RETURN
[61:4880] -A ICMP6-IN -p ipv6-icmp -m icmp6 --icmpv6-type 135 -m hl --hl-eq 255 -j ACCEPT
[62:4960] -A ICMP6-IN -p ipv6-icmp -m icmp6 --icmpv6-type 136 -m hl --hl-eq 255 -j ACCEPT
[63:5040] -A ICMP6-IN -p ipv6-icmp -m icmp6 --icmpv6-type echo-request -m limit --limit 10/sec --limit-burst 20 -j ACCEPT
[64:5120] -A ICMP6-IN -p ipv6-icmp -m hl --hl-lt 2 -j LOG --log-prefix "icmp6-low-hl " --log-level 5
[65:5200] -A ICMP6-IN -j RETURN
COMMIT
EOF

for fam in 4 6; do
    zoo=$ZOO4
    [ "$fam" == 6 ] && zoo=$ZOO6
    if [ "$fam" == 4 ]; then rc=0; out=$(iptables-legacy-restore -c --noflush <"$zoo" 2>&1) || rc=$?; else
        rc=0; out=$(ip6tables-legacy-restore -c --noflush <"$zoo" 2>&1) || rc=$?; fi
    if [ "$rc" -ne 0 ]; then
        fail "setup: the ipv$fam zoo loads (a match or target this kernel does not have?)" "$out"
        finish
    fi
    n_rules=$(grep -c -- ' -A ' "$zoo")
    n_loaded=$(save "$fam" | grep -c '^-A ')
    assert_eq "setup: the ipv$fam zoo loads, all $n_rules rules" "$n_rules" "$n_loaded"
    echo "# ipv$fam zoo: $n_rules rules ($(input_rules "$fam" | wc -l) in INPUT), $(save "$fam" | grep -c '^:[^ ]* - ') user chains"
done

orig4=$(save 4 -c)
orig6=$(save 6 -c)
orig_input4=$(input_rules 4)
orig_input6=$(input_rules 6)
assert_match "setup: ipv4 counters from the restore file are in the kernel" \
    '^\[113:6780\] -A INPUT -p tcp -m u32 ' "$orig4"
assert_match "setup: ipv6 counters from the restore file are in the kernel" \
    '^\[204:16320\] -A INPUT -m frag ' "$orig6"

JUMP_TCP='-p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD'
JUMP_UDP='-p udp -m udp --dport 11211 -m comment --comment memguard -j MEMGUARD'

# not_ours_to_name TEXT : the lines of a diff report that name something other than
# memguardd's own rules. Drift may name anything in MEMGUARD (ours to own), but in INPUT only
# our jumps: missing, stale (a rule with our comment), or ours sitting below somebody's rule.
not_ours_to_name() {
    grep -Ev "^in sync: |^ipv[46] MEMGUARD( rule [0-9]+)?: |^ipv[46] mangle MEMGUARD: chain missing\$|^ipv[46] mangle (FORWARD|PREROUTING) rule [0-9]+: missing: \"[^\"]*--comment memguard -j (MEMGUARD|DROP)\"\$|^ipv[46] INPUT rule [0-9]+: (missing: \"($JUMP_TCP|$JUMP_UDP)\"\$|stale: |\"($JUMP_TCP|$JUMP_UDP)\" is below rule [0-9]+: )" <<<"$1" || true
}

# apply_not_ours TEXT : what an apply report says it did to a rule of INPUT that is not ours
# (it may only have moved ours above one), and any line that is not one family's report.
apply_not_ours() {
    grep -Ev '^(ipv[46]|backend): ' <<<"$1" || true
    grep -oE 'deleted [a-z]+ rule [0-9]+ of INPUT \("[^"]*"\)' <<<"$1" | grep -Ev -- "--comment memguard|rule of memguardd's" || true
}

# diff_is_clean LABEL : `diff` exits 0 and names no drift at all
diff_is_clean() {
    mg_run diff --config "$CONF"
    assert_eq "$1: diff exits 0" 0 "$MG_RC"
    assert_eq "$1: diff names nothing but 'in sync' (no foreign rule taken for drift)" \
        "" "$(grep -v '^in sync: ' <<<"$MG_OUT" || true)"
    assert_eq "$1: diff writes nothing to stderr" "" "$MG_ERR"
}

# all_correct LABEL FOREIGN4 FOREIGN6 : our rules exact in both families, every foreign line
# (counters included, in order) as given
all_correct() {
    local label=$1 f4=$2 f6=$3 fam
    for fam in 4 6; do assert_ours_exact "$label" "$fam" "$ACTION" "${ALLOW[@]}"; done
    assert_eq "$label: every foreign ipv4 line byte-identical (counters included)" "$f4" "$(foreign_state 4)"
    assert_eq "$label: every foreign ipv6 line byte-identical (counters included)" "$f6" "$(foreign_state 6)"
    assert_ok "$label: the lock-free snapshot decodes both tables as libiptc does" "$AGREE"
}

# apply_ok LABEL WANT4 WANT6 : apply --once exits 0, quiet on stderr, ipvN changed/unchanged
apply_ok() {
    local want4 want6
    want4=$([ "$2" = changed ] && changed 4 || echo '^ipv4: unchanged$')
    want6=$([ "$3" = changed ] && changed 6 || echo '^ipv6: unchanged$')
    mg_run apply --once --config "$CONF"
    assert_eq "$1: apply exits 0" 0 "$MG_RC"
    assert_eq "$1: apply writes nothing to stderr" "" "$MG_ERR"
    assert_match "$1: apply reports ipv4 $2" "$want4" "$MG_OUT"
    assert_match "$1: apply reports ipv6 $3" "$want6" "$MG_OUT"
    assert_eq "$1: apply takes out no foreign rule" "" "$(apply_not_ours "$MG_OUT")"
}

# --- before the first apply: diff names only memguardd's missing rules ------------------------
mg_run diff --config "$CONF"
assert_eq "before apply: diff exits 1" 1 "$MG_RC"
for fam in 4 6; do
    assert_match "before apply: diff names the missing ipv$fam chain" "^ipv$fam MEMGUARD: .*missing" "$MG_OUT"
    assert_eq "before apply: diff names both missing ipv$fam jumps" 2 "$(grep -Ec "^ipv$fam INPUT rule [12]: missing: " <<<"$MG_OUT" || true)"
done
assert_eq "before apply: diff names nothing else (no foreign rule)" "" "$(not_ours_to_name "$MG_OUT")"
# per family: filter's chain and 2 jumps, mangle's chain, 2 jumps and the reverse-path drops
# (one for IPv4; two for IPv6, whose multicast needs a rule of its own)
assert_eq "before apply: diff prints exactly those 15 lines" 15 "$(wc -l <<<"$MG_OUT")"
assert_eq "before apply: diff touched nothing" "$orig4$orig6" "$(save 4 -c)$(save 6 -c)"

# --- first apply -----------------------------------------------------------------------------
base4=$(foreign_state 4)
base6=$(foreign_state 6)
apply_ok "first apply" changed changed
all_correct "first apply" "$base4" "$base6"
assert_eq "first apply: ipv4 foreign INPUT rules follow our jumps, in their old order" \
    "$orig_input4" "$(input_rules 4 | tail -n +3)"
assert_eq "first apply: ipv6 foreign INPUT rules follow our jumps, in their old order" \
    "$orig_input6" "$(input_rules 6 | tail -n +3)"
diff_is_clean "first apply"
apply_ok "second apply (nothing to do)" unchanged unchanged
all_correct "second apply" "$base4" "$base6"

# --- status --json with the zoo in INPUT -------------------------------------------------------
# status_checks LABEL
status_checks() {
    local label=$1 json fam n_foreign listed
    mg_run status --json --config "$CONF"
    assert_eq "$label: status --json exits 3 (in sync, but no daemon runs)" 3 "$MG_RC"
    if ! json=$(jq -e . <<<"$MG_OUT" 2>&1); then
        fail "$label: status --json prints valid JSON" "$json" "$MG_OUT" "$MG_ERR"
        return
    fi
    pass "$label: status --json prints valid JSON"
    assert_eq "$label: status --json says in sync" true "$(jq -c .in_sync <<<"$json")"
    for fam in 4 6; do
        assert_eq "$label: status --json ipv$fam jumps at INPUT positions 1 and 2" "[1,2]" \
            "$(jq -c --arg f "ipv$fam" '[.families[] | select(.family == $f) | .chains[] | select(.name == "INPUT") | .rules[] | select(.ours) | .position]' <<<"$json")"
        assert_eq "$label: status --json ipv$fam MEMGUARD chain lists each of our rules as ours" \
            "$(expected "$fam" "$ACTION" "${ALLOW[@]}" | grep -c '^-A MEMGUARD ')" \
            "$(jq --arg f "ipv$fam" '[.families[] | select(.family == $f) | .chains[] | select(.name == "MEMGUARD") | .rules[] | select(.ours)] | length' <<<"$json")"
        # Every rule of INPUT that is not ours, each with "ours": false.
        n_foreign=$(input_rules "$fam" | foreign | wc -l)
        listed=$(jq --arg f "ipv$fam" '[.families[] | select(.family == $f) | .chains[].rules[] | select(.ours == false)] | length' <<<"$json")
        assert_eq "$label: status --json lists the $n_foreign foreign ipv$fam INPUT rules" "$n_foreign" "$listed"
    done
    mg_run status --config "$CONF"
    assert_eq "$label: status (text) exits 3 (no daemon runs)" 3 "$MG_RC"
    assert_match "$label: status (text) says in sync" 'in sync' "$MG_OUT"
}
status_checks "after apply"

# --- tamper with our rules, round by round; each apply repairs, nothing foreign moves ----------
# round LABEL WANT4 WANT6 DIFF_ERE... : run after tampering: diff exits 1 and some line
#   matches each ERE ("=N ERE": exactly N lines do); apply repairs; all checks; diff clean.
round() {
    local label=$1 w4=$2 w6=$3 re n
    shift 3
    local t4 t6
    t4=$(foreign_state 4)
    t6=$(foreign_state 6)
    mg_run diff --config "$CONF"
    assert_eq "$label: diff exits 1" 1 "$MG_RC"
    for re in "$@"; do
        if [[ "$re" =~ ^=([0-9]+)\ (.*)$ ]]; then
            n=${BASH_REMATCH[1]} re=${BASH_REMATCH[2]}
            assert_eq "$label: diff names /$re/ $n times" "$n" "$(grep -Ec -- "$re" <<<"$MG_OUT" || true)"
        else
            assert_match "$label: diff names /$re/" "$re" "$MG_OUT"
        fi
    done
    assert_eq "$label: diff names no foreign INPUT rule or other chain as drift" "" "$(not_ours_to_name "$MG_OUT")"
    apply_ok "$label" "$w4" "$w6"
    all_correct "$label" "$t4" "$t6"
    diff_is_clean "$label: after the repair"
}

iptables-legacy -F MEMGUARD
round "flush MEMGUARD (ipv4)" changed unchanged '^ipv4 MEMGUARD rule 1: missing'

ip6tables-legacy -R MEMGUARD 3 -s ::/0 -j ACCEPT
round "-R MEMGUARD 3 (ipv6)" unchanged changed '^ipv6 MEMGUARD rule 3: changed'

# shellcheck disable=SC2086 # word splitting of the rule-spec is meant
iptables-legacy -D INPUT $JUMP_UDP
# shellcheck disable=SC2086
ip6tables-legacy -D INPUT $JUMP_TCP
round "jump deleted (both)" changed changed '^ipv4 INPUT rule 2: missing' '^ipv6 INPUT rule 1: missing'

iptables-legacy -F MEMGUARD
ip6tables-legacy -R MEMGUARD 1 -i lo+ -m comment --comment memguard -j ACCEPT
# shellcheck disable=SC2086
iptables-legacy -D INPUT $JUMP_TCP
# shellcheck disable=SC2086
ip6tables-legacy -D INPUT $JUMP_UDP
round "flush + -R + jump deleted at once" changed changed \
    '^ipv4 MEMGUARD rule 1: missing' '^ipv4 INPUT rule 1: missing' \
    '^ipv6 MEMGUARD rule 1: changed' '^ipv6 INPUT rule 2: missing'

# --- look-alikes: our rule plus one thing only the bytes show. The decoder must not take any
# of them for ours (each is drift, and the repair puts the real rule back) ---------------------
iptables-legacy -R MEMGUARD 3 -f -s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT
iptables-legacy -R MEMGUARD 1 ! -i lo -m comment --comment memguard -j ACCEPT
iptables-legacy -R INPUT 1 -p tcp -m tcp --dport 11211 -m comment --comment memguard -g MEMGUARD
iptables-legacy -R INPUT 2 -p udp -m udp ! --dport 11211 -m comment --comment memguard -j MEMGUARD
round "look-alikes: -f, ! -i, -g MEMGUARD, ! --dport (ipv4)" changed unchanged \
    '^ipv4 MEMGUARD rule 1: changed' '^ipv4 MEMGUARD rule 3: changed' \
    '^ipv4 INPUT rule 1: missing' '^ipv4 INPUT rule 2: missing' '^ipv4 INPUT rule [12]: stale'

ip6tables-legacy -R MEMGUARD 3 -s fd12:3456::/48 -m ipv6header --header frag --soft -m comment --comment memguard -j ACCEPT
ip6tables-legacy -R MEMGUARD 1 -i lo -m comment --comment memguard -m hl --hl-eq 255 -j ACCEPT
ip6tables-legacy -R MEMGUARD 2 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment memguard -j ACCEPT
ip6tables-legacy -R INPUT 1 -p tcp -m tcp --dport 11211 --tcp-flags SYN,RST SYN -m comment --comment memguard -j MEMGUARD
round "look-alikes: ipv6header, hl, ctstate DNAT, --tcp-flags (ipv6)" unchanged changed \
    '^ipv6 MEMGUARD rule 1: changed' '^ipv6 MEMGUARD rule 2: changed' '^ipv6 MEMGUARD rule 3: changed' \
    '^ipv6 INPUT rule 1: missing'

# zoo rules put into our chain are not ours: each one is named, and the repair takes it out.
# (diff compares position by position around a common head and tail, so a rule inserted in the
# middle shows as "changed" lines rather than "unexpected rule"; what matters is that each
# foreign rule is named.)
iptables-legacy -I MEMGUARD 1 -m set --match-set zoo-block4 src -j ACCEPT
iptables-legacy -I MEMGUARD 3 -p tcp -m u32 --u32 "0>>22&0x3C@12>>26&0x3F=0x10" -j ACCEPT
iptables-legacy -A MEMGUARD -p tcp -m tcp --syn -g ZOO-SCAN
ip6tables-legacy -I MEMGUARD 2 -m frag --fragmore -j ACCEPT
ip6tables-legacy -I MEMGUARD 4 -j LOG --log-prefix "memguard " --log-level 6
round "zoo rules inside MEMGUARD" changed changed \
    '=2 ^ipv4 MEMGUARD rule [0-9]+: .*"\(a rule memguardd does not write, -j ACCEPT\)"' \
    '=1 ^ipv4 MEMGUARD rule [0-9]+: .*"\(a rule memguardd does not write, -j ZOO-SCAN\)"' \
    '=1 ^ipv6 MEMGUARD rule [0-9]+: .*"\(a rule memguardd does not write, -j ACCEPT\)"' \
    '=1 ^ipv6 MEMGUARD rule [0-9]+: .*"\(a rule memguardd does not write, -j LOG\)"'
status_checks "after the repairs"

# A match given twice: the kernel ANDs both, so "--dport 1 ... --dport 11211" never matches
# and the port is unguarded; the duplicate comment is harmless but still not our rule.
# shellcheck disable=SC2086
iptables-legacy -R INPUT 1 -p tcp -m tcp --dport 1 ${JUMP_TCP#-p tcp }
iptables-legacy -R MEMGUARD 1 -i lo -m comment --comment "not memguard" -m comment --comment memguard -j ACCEPT
# shellcheck disable=SC2086
ip6tables-legacy -R INPUT 2 -p udp -m udp --dport 1 ${JUMP_UDP#-p udp }
round "look-alikes: a match given twice" changed changed \
    '^ipv4 INPUT rule 1: (missing|stale)' '^ipv4 MEMGUARD rule 1: changed' '^ipv6 INPUT rule 2: (missing|stale)'

# --- remove gives back the exact original table -----------------------------------------------
mg_run remove
assert_eq "remove exits 0" 0 "$MG_RC"
assert_eq "remove: iptables-legacy-save -c identical to the original snapshot" "$orig4" "$(save 4 -c)"
assert_eq "remove: ip6tables-legacy-save -c identical to the original snapshot" "$orig6" "$(save 6 -c)"

# --- the other tools come back and insert their rules above ours -------------------------------
apply_ok "apply after remove" changed changed
all_correct "apply after remove" "$base4" "$base6"

# A rule right below our jumps is nobody's business but its owner's: no drift.
iptables-legacy -I INPUT 3 -p tcp -m tcp --dport 11211 -m comment --comment "docker-proxy memcached" -j DOCKER -c 7 420
ip6tables-legacy -I INPUT 3 -i docker0 -p udp -m udp --dport 11211 -j DROP -c 8 640
diff_is_clean "foreign rules inserted right below our jumps"

# The admin's ACCEPT-the-port above our jumps; fail2ban and kube-proxy restarting (they insert
# at the top of INPUT); one foreign rule between our two jumps.
iptables-legacy -I INPUT 1 -p tcp --dport 11211 -j ACCEPT -c 5 300
iptables-legacy -I INPUT 1 -p tcp -m multiport --dports 22 -j f2b-sshd -c 6 360
iptables-legacy -I INPUT 4 -m addrtype --dst-type BROADCAST -j DROP -c 9 540
ip6tables-legacy -I INPUT 1 -p tcp --dport 11211 -j ACCEPT -c 5 400
ip6tables-legacy -I INPUT 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES -c 6 480
ip6tables-legacy -I INPUT 4 -m ipv6header --header route --soft -j DROP -c 9 720
round "foreign rules above and between our jumps" changed changed \
    '^ipv4 INPUT rule 3: .* is below rule 1: ' '^ipv6 INPUT rule 3: .* is below rule 1: '
assert_eq "the admin's ACCEPT-the-port stays, below our jumps (ipv4 INPUT rule 4, after fail2ban's jump)" \
    "-A INPUT -p tcp -m tcp --dport 11211 -j ACCEPT" "$(input_rules 4 | sed -n 4p)"
assert_eq "the admin's ACCEPT-the-port stays, below our jumps (ipv6 INPUT rule 4, after kube-proxy's jump)" \
    "-A INPUT -p tcp -m tcp --dport 11211 -j ACCEPT" "$(input_rules 6 | sed -n 4p)"
status_checks "with rules above our jumps repaired"

# remove: the table is exactly what is not ours; and without the test's own additions it is the
# original snapshot
pre4=$(foreign_state 4)
pre6=$(foreign_state 6)
mg_run remove
assert_eq "second remove exits 0" 0 "$MG_RC"
assert_eq "second remove: ipv4 table is exactly the foreign lines it held" "$pre4" "$(save 4 -c)"
assert_eq "second remove: ipv6 table is exactly the foreign lines it held" "$pre6" "$(save 6 -c)"
iptables-legacy -D INPUT -p tcp --dport 11211 -j ACCEPT
iptables-legacy -D INPUT -p tcp -m multiport --dports 22 -j f2b-sshd
iptables-legacy -D INPUT -m addrtype --dst-type BROADCAST -j DROP
iptables-legacy -D INPUT -p tcp -m tcp --dport 11211 -m comment --comment "docker-proxy memcached" -j DOCKER
ip6tables-legacy -D INPUT -p tcp --dport 11211 -j ACCEPT
ip6tables-legacy -D INPUT 1 # the second KUBE-SERVICES jump, inserted at the top above
ip6tables-legacy -D INPUT -m ipv6header --header route --soft -j DROP
ip6tables-legacy -D INPUT -i docker0 -p udp -m udp --dport 11211 -j DROP
assert_eq "second remove: without the test's additions, ipv4 is the original snapshot" "$orig4" "$(save 4 -c)"
assert_eq "second remove: without the test's additions, ipv6 is the original snapshot" "$orig6" "$(save 6 -c)"

finish
