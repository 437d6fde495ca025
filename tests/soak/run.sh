#!/bin/bash
# Soak: memguardd's verify-and-repair pass must not grow when it runs for a long time.
# soak_driver runs Guard::reconcile (what the daemon's timer calls) SOAK_PASSES times (20000)
# in one process over a table with foreign rules, injecting drift every 50th pass (six kinds in
# turn: memguardd remove, another policy, -F MEMGUARD, a jump deleted, the jumps shadowed, a
# rule replaced/inserted), and checks each pass repaired exactly what drifted and nothing else.
#   1. VmRSS at the end <= VmRSS after pass 100 + 512 KiB. Why 512 KiB: RSS moves in 4 KiB
#      pages and glibc keeps up to 128 KiB (M_TRIM_THRESHOLD) of freed heap before it trims,
#      so a few hundred KiB of noise is not growth; a leak of 27 bytes per pass (19900 passes
#      after pass 100) or 1.3 KiB per repair (398 repairs) already exceeds the margin.
#      valgrind (2.) catches anything smaller.
#   2. SOAK_VALGRIND_PASSES (1000) passes under valgrind --leak-check=full: no definite or
#      indirect leak, no memory error ("still reachable" one-time allocations are fine).
# Afterwards memguardd's rules must be exactly right and every foreign rule (counters
# included) exactly as before.
# Usage: run.sh PATH/TO/soak_driver     (root; runs in its own network namespace)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../netns/lib.sh"
mg_init "$@" # MG is the soak driver here
DRIVER=$MG

PASSES=${SOAK_PASSES:-20000}
VG_PASSES=${SOAK_VALGRIND_PASSES:-1000}
MARGIN_KIB=${SOAK_RSS_MARGIN_KIB:-512}
export SOAK_OUTER_NETNS=${IN_NETNS#outer:}

CONF=$MG_WORK/memguard.json
ALLOW=(192.168.1.0/24 fd12:3456::/48)
write_config "$CONF" drop "${ALLOW[@]}"
ALT=$MG_WORK/alt.json
cat >"$ALT" <<'EOF'
{
  "ports": [11211, 11311],
  "protocols": ["tcp", "udp"],
  "allow": ["10.0.0.0/8", "172.16.0.0/12", "192.168.1.0/24", "fd00:1::/64"],
  "allow_loopback": true,
  "accept_established": false,
  "action": "reject",
  "log_blocked": true,
  "log_group": 5,
  "log_rate_per_s": 3,
  "verify_interval_s": 1
}
EOF
chmod 600 "$ALT"

# Foreign rules with counters, in INPUT and elsewhere, so every read decodes rules that are not
# ours and every commit has to carry them along.
iptables-legacy-restore -c --noflush <<'EOF'
*filter
:DOCKER-USER - [0:0]
:f2b-sshd - [0:0]
[10:600] -A INPUT -p tcp -m multiport --dports 22,2222 -j f2b-sshd
[11:660] -A INPUT -i lo -j ACCEPT
[12:720] -A INPUT -p tcp -m tcp --dport 11211 -m hashlimit --hashlimit-upto 5/sec --hashlimit-name mc -j LOG --log-prefix "mc: " --log-level 6
[13:780] -A INPUT -m conntrack --ctstate INVALID -j DROP
[14:840] -A FORWARD -j DOCKER-USER
[15:900] -A DOCKER-USER -j RETURN
[16:960] -A f2b-sshd -s 203.0.113.7/32 -j REJECT --reject-with icmp-port-unreachable
[17:1020] -A f2b-sshd -j RETURN
COMMIT
EOF
ip6tables-legacy-restore -c --noflush <<'EOF'
*filter
:f2b-sshd - [0:0]
[20:1600] -A INPUT -p tcp -m multiport --dports 22,2222 -j f2b-sshd
[21:1680] -A INPUT -m ipv6header --header frag --soft -j DROP
[22:1760] -A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -m hl --hl-eq 255 -j ACCEPT
[23:1840] -A f2b-sshd -s 2001:db8::7/128 -j REJECT --reject-with icmp6-adm-prohibited
[24:1920] -A f2b-sshd -j RETURN
COMMIT
EOF
base4=$(foreign_state 4)
base6=$(foreign_state 6)

# table_checks LABEL : our rules exactly right, every foreign line as it was
table_checks() {
    local fam
    for fam in 4 6; do assert_ours_exact "$1" "$fam" drop "${ALLOW[@]}"; done
    assert_eq "$1: every foreign ipv4 line unchanged (counters included)" "$base4" "$(foreign_state 4)"
    assert_eq "$1: every foreign ipv6 line unchanged (counters included)" "$base6" "$(foreign_state 6)"
}

# --- 1. the long run -----------------------------------------------------------------------
SANITIZED=${SOAK_SANITIZED:-}
rss_args=(--rss-margin-kib "$MARGIN_KIB")
if [ -n "$SANITIZED" ]; then
    echo "# sanitizer build: no RSS check (ASan's quarantine grows by design), no valgrind;"
    echo "# LeakSanitizer checks for leaks at exit; fewer passes (ASan is ~20x slower here)"
    rss_args=(--no-rss-check)
    PASSES=${SOAK_PASSES:-5000}
fi
t0=$(date +%s.%N)
rc=0
"$DRIVER" --config "$CONF" --alt-config "$ALT" --passes "$PASSES" --drift-every 50 \
    "${rss_args[@]}" >"$MG_WORK/soak.out" 2>&1 || rc=$?
t1=$(date +%s.%N)
sed 's/^/    /' "$MG_WORK/soak.out"
awk -v a="$t0" -v b="$t1" -v n="$PASSES" 'BEGIN { printf "# %d passes in %.1f s (%.0f us a pass)\n", n, b - a, (b - a) * 1e6 / n }'
out=$(cat "$MG_WORK/soak.out")
assert_eq "soak: driver exits 0 after $PASSES passes" 0 "$rc"
assert_match "soak: every pass repaired exactly what drifted and nothing else" \
    '^soak: commits .*pass checks failed: 0$' "$out"
if [ -z "$SANITIZED" ]; then
    assert_match "soak: VmRSS at the end within $MARGIN_KIB KiB of VmRSS after pass 100" \
        '^soak: VmRSS after pass 100 .*: ok$' "$out"
fi
table_checks "after the soak"

# --- 2. valgrind -----------------------------------------------------------------------------
if [ -z "$SANITIZED" ]; then
    if ! command -v valgrind >/dev/null; then
        fail "valgrind: installed (apt-get install valgrind)"
    else
        t0=$(date +%s.%N)
        rc=0
        valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --show-leak-kinds=definite,indirect --error-exitcode=1 --log-file="$MG_WORK/vg.log" \
            "$DRIVER" --config "$CONF" --alt-config "$ALT" --passes "$VG_PASSES" --drift-every 50 \
            --no-rss-check >"$MG_WORK/vg.out" 2>&1 || rc=$?
        t1=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" -v n="$VG_PASSES" 'BEGIN { printf "# valgrind: %d passes in %.1f s\n", n, b - a }'
        grep -E 'soak: (commits|[0-9]+ passes)' "$MG_WORK/vg.out" | sed 's/^/    /' || true
        grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|All heap blocks|in use at exit' \
            "$MG_WORK/vg.log" | sed 's/^==[0-9]*== */    valgrind: /' || true
        vg=$(cat "$MG_WORK/vg.log")
        if [ "$rc" -eq 0 ]; then
            pass "valgrind: $VG_PASSES passes, exit 0 (no definite/indirect leak, no memory error)"
        else
            fail "valgrind: $VG_PASSES passes, exit 0 (no definite/indirect leak, no memory error)" \
                "exit $rc" "$(cat "$MG_WORK/vg.out")" "$(grep -vE '^==[0-9]+== *$' "$MG_WORK/vg.log" | head -150)"
        fi
        assert_match "valgrind: ERROR SUMMARY 0 errors" 'ERROR SUMMARY: 0 errors' "$vg"
        assert_no_match "valgrind: nothing definitely lost" 'definitely lost: [1-9]' "$vg"
        assert_no_match "valgrind: nothing indirectly lost" 'indirectly lost: [1-9]' "$vg"
        assert_match "valgrind: the driver's own checks passed" \
            '^soak: commits .*pass checks failed: 0$' "$(cat "$MG_WORK/vg.out")"
        table_checks "after the valgrind run"
    fi
fi

finish
