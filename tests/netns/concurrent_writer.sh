#!/bin/bash
# memguardd and another iptables writer at the same time: a background loop adds and
# deletes rules with `iptables-legacy -w` (and now and then appends one that stays) while
# the foreground runs `memguardd apply --once` over and over with alternating configs, so
# that every apply commits. Nothing the writer did may be lost or resurrected, our rules
# must equal the last config, and memguardd must never fail (a lost race is retried).
# Usage: concurrent_writer.sh PATH/TO/memguardd     (root; runs in its own network namespace)
set -euo pipefail
if [ -z "${IN_NETNS:-}" ]; then exec env IN_NETNS="outer:$(readlink /proc/self/ns/net)" unshare -n "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
mg_init "$@"

WINDOW_S=${WINDOW_S:-15}
MAX_ITER=${MAX_ITER:-3000}

A_NETS=(192.168.1.0/24 fd12:3456::/48)
B_NETS=(10.0.0.0/8 172.16.0.0/12 fd00:1::/64)
write_config "$MG_WORK/a.json" drop "${A_NETS[@]}"
write_config "$MG_WORK/b.json" reject "${B_NETS[@]}"

for fam in 4 6; do
    ipt "$fam" -N FOREIGN2
    ipt "$fam" -A INPUT -j FOREIGN2
done
mg_run apply --once --config "$MG_WORK/a.json"
assert_eq "setup: first apply exits 0" 0 "$MG_RC"

# --- the writer -------------------------------------------------------------------------
# Files it leaves: sticky.<fam> (save lines of rules appended to stay, in order, per chain
# prefix), writer.fail (every iptables command that failed, with its message),
# writer.count ("ITERATIONS OPERATIONS").
writer() {
    local deadline=$1 i=0 ops=0 fam chain addr line msg
    : >"$MG_WORK/sticky.4"
    : >"$MG_WORK/sticky.6"
    : >"$MG_WORK/writer.fail"
    run() { # run CMD... ; count it, log failures
        ops=$((ops + 1))
        if ! msg=$("$@" 2>&1); then
            printf 'iteration %d: %s: %s\n' "$i" "$*" "$msg" >>"$MG_WORK/writer.fail"
        fi
    }
    while [ "$i" -lt "$MAX_ITER" ] && [ "$(date +%s%N)" -lt "$deadline" ]; do
        i=$((i + 1))
        addr="10.9.$((i / 250)).$((i % 250 + 1))/32"
        run iptables-legacy -w -A FOREIGN2 -s "$addr" -j ACCEPT
        run iptables-legacy -w -D FOREIGN2 -s "$addr" -j ACCEPT
        if [ $((i % 5)) -eq 0 ]; then
            addr="2001:db8:9::$(printf '%x' "$i")/128"
            run ip6tables-legacy -w -A FOREIGN2 -s "$addr" -j ACCEPT
            run ip6tables-legacy -w -D FOREIGN2 -s "$addr" -j ACCEPT
        fi
        if [ $((i % 20)) -eq 0 ]; then # a rule that stays: FOREIGN2 or INPUT, v4 or v6
            case $(((i / 20) % 4)) in
            0) fam=4 chain=FOREIGN2 addr="10.7.$((i / 250)).$((i % 250 + 1))/32" ;;
            1) fam=4 chain=INPUT addr="10.6.$((i / 250)).$((i % 250 + 1))/32" ;;
            2) fam=6 chain=FOREIGN2 addr="2001:db8:7::$(printf '%x' "$i")/128" ;;
            3) fam=6 chain=INPUT addr="2001:db8:6::$(printf '%x' "$i")/128" ;;
            esac
            line="-A $chain -s $addr -j DROP"
            local before
            before=$(wc -l <"$MG_WORK/writer.fail")
            # shellcheck disable=SC2086
            run ipt "$fam" -w $line
            if [ "$(wc -l <"$MG_WORK/writer.fail")" == "$before" ]; then
                echo "$line" >>"$MG_WORK/sticky.$fam"
            fi
        fi
    done
    echo "$i $ops" >"$MG_WORK/writer.count"
}

deadline=$(($(date +%s%N) + WINDOW_S * 1000000000))
writer "$deadline" &
WRITER_PID=$!
mg_at_exit "kill $WRITER_PID 2>/dev/null"

# --- the foreground: apply, alternating configs, for the same window ---------------------
applies=0
applied4=0
applied6=0
failures=()
noise=()
last=a
while kill -0 "$WRITER_PID" 2>/dev/null && [ "$(date +%s%N)" -lt "$deadline" ]; do
    if [ "$last" == a ]; then last=b; else last=a; fi
    mg_run apply --once --config "$MG_WORK/$last.json"
    applies=$((applies + 1))
    if [ "$MG_RC" -ne 0 ]; then
        failures+=("apply #$applies ($last.json) exit $MG_RC: $MG_ERR")
    elif [ -n "$MG_ERR" ]; then
        noise+=("apply #$applies ($last.json) stderr: $MG_ERR")
    fi
    grep -Eq "$(changed 4)" <<<"$MG_OUT" && applied4=$((applied4 + 1))
    grep -Eq "$(changed 6)" <<<"$MG_OUT" && applied6=$((applied6 + 1))
done
wrc=0
wait "$WRITER_PID" || wrc=$?
read -r iterations ops <"$MG_WORK/writer.count"
sticky4=$(cat "$MG_WORK/sticky.4")
sticky6=$(cat "$MG_WORK/sticky.6")
echo "ran: $applies applies of memguardd (ipv4 committed $applied4, ipv6 committed $applied6);" \
    "writer: $iterations iterations, $ops iptables operations," \
    "$(grep -c . <<<"$sticky4$sticky6" || true) rules left to stay"

assert_eq "writer: background loop exited cleanly" 0 "$wrc"
if [ "$applies" -ge 10 ] && [ "$iterations" -ge 10 ]; then
    pass "both sides ran enough to overlap ($applies applies, $iterations writer iterations)"
else
    fail "both sides ran enough to overlap" "$applies applies, $iterations writer iterations"
fi
if [ ${#failures[@]} -eq 0 ]; then
    pass "memguardd: every apply --once exited 0"
else
    fail "memguardd: ${#failures[@]} of $applies applies failed" "${failures[@]:0:10}"
fi
if [ ${#noise[@]} -eq 0 ]; then
    pass "memguardd: no apply wrote to stderr"
else
    fail "memguardd: ${#noise[@]} applies wrote to stderr" "${noise[@]:0:10}"
fi
assert_eq "memguardd: every apply committed ipv4 (configs alternate)" "$applies" "$applied4"
assert_eq "memguardd: every apply committed ipv6 (configs alternate)" "$applies" "$applied6"
assert_eq "writer: no iptables-legacy -w command failed (a failed -D means its rule was undone)" \
    "" "$(head -n 20 "$MG_WORK/writer.fail")"

# Everything the writer left, exactly, in order; nothing it deleted came back.
for fam in 4 6; do
    [ "$fam" == 4 ] && st=$sticky4 || st=$sticky6
    assert_eq "ipv$fam: FOREIGN2 holds exactly the rules the writer left there (none lost, none resurrected)" \
        "$(grep '^-A FOREIGN2 ' <<<"$st" || true)" "$(ipt "$fam" -S FOREIGN2 | grep -v '^-N ' || true)"
    assert_eq "ipv$fam: INPUT is our jumps, the FOREIGN2 jump, then the writer's INPUT rules in order" \
        "$(expected "$fam" x | grep '^-A INPUT '; echo '-A INPUT -j FOREIGN2'; grep '^-A INPUT ' <<<"$st" || true)" \
        "$(input_rules "$fam")"
    missing=()
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        check_rule "$fam" "$line" >/dev/null 2>&1 || missing+=("$line")
    done <<<"$st"
    if [ ${#missing[@]} -eq 0 ]; then
        pass "ipv$fam: -C finds every rule the writer left"
    else
        fail "ipv$fam: -C misses ${#missing[@]} rule(s) the writer left" "${missing[@]}"
    fi
done

if [ "$last" == a ]; then
    for fam in 4 6; do assert_ours_exact "after the race (last config a)" "$fam" drop "${A_NETS[@]}"; done
else
    for fam in 4 6; do assert_ours_exact "after the race (last config b)" "$fam" reject "${B_NETS[@]}"; done
fi
mg_run diff --config "$MG_WORK/$last.json"
assert_eq "diff against the last config exits 0" 0 "$MG_RC"

finish
