#!/bin/bash
# bench/packet_path.sh: what guarding every path (issue: Docker-published ports and forged UDP
# sources) costs memcached, per backend. Writes bench/packet_path.md.
#
# memcached in a server namespace (direct: on the server's own address) or in a "container"
# namespace behind it, reached through a DNAT of the server's port (dnat). The load client
# (bench/mcload) in a client namespace; veths between. Modes: `connect` (a new TCP connection
# per request: every request's SYN is judged by the rules) and `udp` (one socket per thread;
# every datagram passes the reverse-path check, which comes before the established accept).
# Firewalls, run alternately within each round:
#   none   no rules of ours (the DNAT, if any, only)
#   input  memguardd's rules as they were before this issue: its INPUT path only (applied by
#          memguardd, then the new parts deleted: the mangle table's rules / the prerouting
#          chain and the fib rule)
#   norp   memguardd's rules now with "reverse_path_check": [] (the DNAT path's cost alone)
#   full   memguardd's rules now (apply --once)
# CPU per request (client user+sys, which includes the softirq receive path of the packets it
# sends, + memcached's run time) and throughput; the cost is the median over rounds of the
# per-round ratio, with its range: a cost inside the range is noise, not resolved.
# Usage: sudo bench/packet_path.sh [MEMGUARDD]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
MG=$(realpath "${1:-$REPO/build/daemon/memguardd}")
RUNS=${RUNS:-5}
PKT_S=${PKT_S:-2}
THREADS=${THREADS:-2}
BACKENDS=${BACKENDS:-"iptables-legacy nftables"}
TARGETS=${TARGETS:-"direct:11211 dnat:11311"}
MODES=${MODES:-"connect udp"}
OUT=${OUT:-$HERE/packet_path.md}
W=$(mktemp -d /root/mgpp.XXXXXX)
S=mgpp-srv-$$ C=mgpp-cli-$$ K=mgpp-ctr-$$
cleanup() {
    # shellcheck disable=SC2046 # one pid per word
    kill $(jobs -p) 2>/dev/null || true
    for ns in $S $C $K; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT
export XTABLES_LOCKFILE=$W/xtables.lock MEMGUARD_RUNTIME_DIRECTORY=$W
gcc -O2 -pthread -o "$W/mcload" "$HERE/mcload.c"

for ns in $S $C $K; do ip netns add "$ns" && ip -n "$ns" link set lo up; done
ip -n $S link add vs type veth peer name vc netns $C
ip -n $S link add vk type veth peer name ve netns $K
ip -n $S addr add 10.77.0.1/24 dev vs && ip -n $C addr add 10.77.0.2/24 dev vc
ip -n $S addr add 10.78.0.1/24 dev vk && ip -n $K addr add 10.78.0.2/24 dev ve
for l in "$S vs" "$S vk" "$C vc" "$K ve"; do set -- $l; ip -n "$1" link set "$2" up; done
ip -n $K route add default via 10.78.0.1
ip netns exec $S sysctl -qw net.ipv4.ip_forward=1
# memcached on port 11211 of the server (direct) and of the container (behind the DNAT of
# the server's port 11311, which memguardd also guards).
ip netns exec $S memcached -u nobody -l 10.77.0.1 -p 11211 -U 11211 -t 2 -c 4096 -m 64 &
ip netns exec $K memcached -u nobody -l 10.78.0.2 -p 11211 -U 11211 -t 2 -c 4096 -m 64 &
ip netns exec $S iptables-legacy -w -t nat -A PREROUTING -d 10.77.0.1 -p tcp --dport 11311 \
    -j DNAT --to-destination 10.78.0.2:11211
ip netns exec $S iptables-legacy -w -t nat -A PREROUTING -d 10.77.0.1 -p udp --dport 11311 \
    -j DNAT --to-destination 10.78.0.2:11211
sleep 0.5
for port in 11211 11311; do ip netns exec $C "$W/mcload" 10.77.0.1 $port set; done

for b in iptables-legacy nftables; do
    printf '{"backend": "%s", "ports": [11211, 11311], "allow": ["10.77.0.2/32"]}\n' "$b" >"$W/$b.json"
    printf '{"backend": "%s", "ports": [11211, 11311], "allow": ["10.77.0.2/32"], "reverse_path_check": []}\n' \
        "$b" >"$W/$b-norp.json"
done
chmod 600 "$W"/*.json
srv() { ip netns exec $S "$@"; }
firewall() { # firewall BACKEND none|input|norp|full
    srv "$MG" remove --force >/dev/null 2>&1 || true
    case $2 in
    none) return ;;
    norp) srv "$MG" apply --once --config "$W/$1-norp.json" >/dev/null; return ;;
    esac
    srv "$MG" apply --once --config "$W/$1.json" >/dev/null
    [ "$2" = full ] && return
    if [ "$1" = iptables-legacy ]; then
        for t in iptables-legacy ip6tables-legacy; do srv $t -w -t mangle -F; srv $t -w -t mangle -X; done
    else
        srv nft flush chain inet memguard prerouting && srv nft delete chain inet memguard prerouting
        for c in guard4 guard6; do
            srv nft -a list chain inet memguard $c | sed -n 's/.* fib saddr .* handle \([0-9]*\)$/\1/p' |
                while read -r h; do srv nft delete rule inet memguard $c handle "$h"; done
        done
    fi
}
mc_pids() { pgrep -d ' ' -x memcached; }
sched_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }
cpu_all() { local t=0 p; for p in $(mc_pids); do t=$((t + $(sched_ns "$p"))); done; echo $t; }

echo "backend target mode firewall round ops_per_s cpu_us_per_req" >"$W/raw"
for ((r = 1; r <= RUNS; r++)); do
    for b in $BACKENDS; do
        fws=(none input norp full)
        for k in 0 1 2 3; do
            fw=${fws[(k + r) % 4]}
            firewall "$b" "$fw"
            for target in $TARGETS; do
                for mode in $MODES; do
                    s0=$(cpu_all)
                    out=$(ip netns exec $C "$W/mcload" 10.77.0.1 "${target#*:}" "$THREADS" "$PKT_S" "$mode")
                    s1=$(cpu_all)
                    [[ $out == *"errors=0 "* ]] || echo "note: $b $target $mode $fw: $out" >&2
                    awk -v o="$out" -v d=$((s1 - s0)) -v pre="$b ${target%:*} $mode $fw $r" 'BEGIN {
                        split(o, f, /[ =]/); printf "%s %s %.3f\n", pre, f[6], (f[8] + d / 1000) / f[2] }' >>"$W/raw"
                done
            done
        done
    done
    echo "round $r/$RUNS done" >&2
done
firewall iptables-legacy none

python3 - "$W/raw" "$OUT" "$RUNS" "$PKT_S" "$THREADS" "$(git -C "$REPO" rev-parse --short HEAD)" "$(uname -r)" <<'PY'
import collections, statistics, sys
raw, out, runs, secs, threads, commit, kernel = sys.argv[1:8]
rows = [l.split() for l in open(raw).read().splitlines()[1:]]
v = collections.defaultdict(dict)  # (backend, target, mode, metric) -> {(fw, round): value}
for b, t, m, fw, r, ops, cpu in rows:
    v[(b, t, m, "ops")][(fw, r)] = float(ops)
    v[(b, t, m, "cpu")][(fw, r)] = float(cpu)
def cost(d, fw, base, metric):
    # positive = worse: fewer ops/s, or more CPU per request
    ratios = sorted((d[(fw, r)] / d[(base, r)] - 1) * (-1 if metric == "ops" else 1) * 100
                    for (f, r) in d if f == fw and (base, r) in d)
    return f"**{statistics.median(ratios):+.1f} %** [{ratios[0]:+.1f}…{ratios[-1]:+.1f}]"
with open(out, "w") as o:
    o.write(f"# Packet path: what guarding every path costs\n\nGenerated by `bench/packet_path.sh` "
            f"(commit {commit}, kernel {kernel}), {runs} rounds, {secs} s per run, {threads} client "
            "threads. Cost = median over rounds of the per-round ratio (positive = worse), "
            "[lowest…highest] round.\n\n")
    for metric, title in (("cpu", "CPU per request"), ("ops", "Throughput")):
        o.write(f"## {title}\n\n| backend | path | mode | none | input (before) | now, no rp check | "
                "now (full) | full vs none | full vs input | no rp check vs input |\n"
                "|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
        for (b, t, m, met), d in sorted(v.items()):
            if met != metric:
                continue
            med = {fw: statistics.median(x for (f, _), x in d.items() if f == fw)
                   for fw in ("none", "input", "norp", "full")}
            fmt = (lambda x: f"{x:.1f} µs") if metric == "cpu" else (lambda x: f"{x:,.0f}/s")
            o.write(f"| {b} | {t} | {m} | {fmt(med['none'])} | {fmt(med['input'])} | {fmt(med['norp'])} | "
                    f"{fmt(med['full'])} | {cost(d, 'full', 'none', metric)} | "
                    f"{cost(d, 'full', 'input', metric)} | {cost(d, 'norp', 'input', metric)} |\n")
        o.write("\n")
    o.write("On the dnat path, *input* is no protection at all (the packets never pass INPUT): "
            "it is listed for the cost only.\n")
print(open(out).read())
PY
