#!/bin/bash
# bench/scale.sh: memguardd at N4 IPv4 + N6 IPv6 networks (default 100,000 + 100,000, every
# tenth with a comment), against the floor tools loading the very same networks:
#   1. `memguardd check` of the config as one flat file and split in fragments (conf.d).
#   2. `memguardd apply --once` from nothing, and again with everything in place, for each
#      backend; beside it nftables: `nft -f` of a table with the same two interval sets;
#      iptables-legacy: `ipset restore` of the same two hash:net sets.
#   3. against a running daemon (`memguardd run`), for each backend: how long it takes to say
#      READY=1, `memguardd status` of its unchanged config, `memguardd verify` (a pass with
#      nothing changed, asked over the control socket), and the daemon's peak and steady RSS.
# STEPS picks the steps (default "check apply daemon"): the table has the rows of those run.
# Medians of RUNS rounds, competitors alternating. Everything runs in a network namespace and a
# private /run this script makes (unshare -n -m); the host's tables are never touched.
# Writes bench/scale.md. Usage: sudo bench/scale.sh [MEMGUARDD]   (a Release build, best)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
MG=$(realpath "${1:-$REPO/build/daemon/memguardd}")
RUNS=${RUNS:-5}
STEPS=${STEPS:-check apply daemon}
N4=${N4:-100000}
N6=${N6:-100000}
OUT=${OUT:-$HERE/scale.md}

if [ -z "${MGS_INNER:-}" ]; then
    export MGS_INNER=1
    exec unshare -n -m --propagation private -- /bin/bash "$0" "$MG"
fi
mount -t tmpfs tmpfs /run
ip link set lo up
W=$(mktemp -d /root/mgscale.XXXXXX)
chmod 700 "$W"
# a step that fails leaves no daemon or listener of its own behind
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
export XTABLES_LOCKFILE=$W/xtables.lock MEMGUARD_RUNTIME_DIRECTORY=$W STATE_DIRECTORY=$W

now_us() { echo "${EPOCHREALTIME/./}"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.0f", us / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f×", a / b }'; }
progress() { echo "scale: $*" >&2; }
gen() { python3 "$HERE/scale_config.py" "$@"; }
clean() {
    "$MG" remove --force >/dev/null 2>&1 || true
    nft delete table inet mgbench 2>/dev/null || true
    ipset destroy mgbench4 2>/dev/null || true
    ipset destroy mgbench6 2>/dev/null || true
}
# timed FILE CMD... : appends CMD's wall time in µs to FILE; CMD must succeed
timed() {
    local file=$1 t
    shift
    t=$(now_us)
    "$@" >/dev/null
    echo $(($(now_us) - t)) >>"$file"
}

progress "generating $N4 + $N6 networks (flat, fragments, nft -f script, ipset restore file)"
gen "$W/flat.json" nftables "$N4" "$N6" flat
gen "$W/frag.json" nftables "$N4" "$N6" fragments
gen "$W/nft.json" nftables "$N4" "$N6" flat
gen "$W/leg.json" iptables-legacy "$N4" "$N6" flat
gen "$W/floor.nft" - "$N4" "$N6" nft
gen "$W/floor.ipset" - "$N4" "$N6" ipset

step() { [[ " $STEPS " == *" $1 "* ]]; }
# daemon_step BACKEND CONFIG : a daemon on CONFIG until READY=1 (its time into BACKEND_ready),
# then RUNS of status and of verify, alternating; its VmHWM and VmRSS (KiB) after them
daemon_step() {
    local b=$1 conf=$2 pid listener t r
    rm -f "$W/notify.sock" "$W/notify.out"
    python3 "$REPO/tests/daemon/notify_listener.py" "$W/notify.sock" "$W/notify.out" &
    listener=$!
    until [ -S "$W/notify.sock" ]; do sleep 0.05; done
    t=$(now_us)
    NOTIFY_SOCKET=$W/notify.sock "$MG" run --config "$conf" 2>"$W/daemon.err" &
    pid=$!
    until grep -q READY=1 "$W/notify.out" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { cat "$W/daemon.err" >&2; exit 1; }
        sleep 0.05
    done
    echo $(($(now_us) - t)) >>"$W/${b}_ready"
    for ((r = 1; r <= RUNS; r++)); do
        timed "$W/${b}_status" "$MG" status --config "$conf"
        timed "$W/${b}_verify" "$MG" verify
    done
    awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" >>"$W/${b}_hwm"
    awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" >>"$W/${b}_rss"
    kill "$pid" "$listener"
    wait "$pid" "$listener" || true
    clean
}

steps=(check_flat check_frag nft_apply nft_again nft_floor leg_apply leg_again leg_floor)
for b in nft leg; do steps+=("${b}_ready" "${b}_status" "${b}_verify" "${b}_hwm" "${b}_rss"); done
for f in "${steps[@]}"; do : >"$W/$f"; done
for ((r = 1; r <= RUNS; r++)); do
    if step check; then
        progress "round $r/$RUNS: check (flat, fragments)"
        timed "$W/check_flat" "$MG" check "$W/flat.json"
        timed "$W/check_frag" "$MG" check "$W/frag.json"
    fi
    step apply || continue
    progress "round $r/$RUNS: nftables apply --once (from nothing, again), nft -f"
    clean
    timed "$W/nft_apply" "$MG" apply --once --config "$W/nft.json"
    timed "$W/nft_again" "$MG" apply --once --config "$W/nft.json"
    clean
    timed "$W/nft_floor" nft -f "$W/floor.nft"
    progress "round $r/$RUNS: iptables-legacy apply --once (from nothing, again), ipset restore"
    clean
    timed "$W/leg_apply" "$MG" apply --once --config "$W/leg.json"
    timed "$W/leg_again" "$MG" apply --once --config "$W/leg.json"
    clean
    timed "$W/leg_floor" ipset restore -f "$W/floor.ipset"
    clean
done
if step daemon; then
    clean
    progress "nftables daemon: READY=1, then $RUNS of status and verify"
    daemon_step nft "$W/nft.json"
    progress "iptables-legacy daemon: READY=1, then $RUNS of status and verify"
    daemon_step leg "$W/leg.json"
fi

declare -A m
for f in "${steps[@]}"; do
    m[$f]=$(median <"$W/$f")
done
mib() { awk -v kib="$1" 'BEGIN { printf "%.0f MiB", kib / 1024 }'; }
{
echo "# Scale: $N4 IPv4 + $N6 IPv6 networks"
echo
echo "Generated by \`bench/scale.sh\` (steps: $STEPS) on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$REPO" rev-parse --short HEAD), kernel $(uname -r), $(nproc) cores, binary \`${MG#"$REPO"/}\`. Every tenth network has a comment; no two merge into one interval. Medians of $RUNS alternating rounds, wall time."
echo
echo "| what | memguardd (ms) | floor | floor (ms) | ratio |"
echo "|---|---:|---|---:|---:|"
if step check; then
    printf '| check, one flat file | %s | | | |\n' "$(ms "${m[check_flat]}")"
    printf '| check, main file + %s fragments | %s | | | |\n' "$(find "$W/frag.d" -name '*.json' | wc -l)" "$(ms "${m[check_frag]}")"
fi
if step apply; then
    printf '| nftables: apply --once from nothing | %s | nft -f of the two interval sets | %s | %s |\n' \
        "$(ms "${m[nft_apply]}")" "$(ms "${m[nft_floor]}")" "$(ratio "${m[nft_apply]}" "${m[nft_floor]}")"
    printf '| nftables: apply --once, all in place | %s | | | |\n' "$(ms "${m[nft_again]}")"
    printf '| iptables-legacy: apply --once from nothing | %s | ipset restore of the two hash:net sets | %s | %s |\n' \
        "$(ms "${m[leg_apply]}")" "$(ms "${m[leg_floor]}")" "$(ratio "${m[leg_apply]}" "${m[leg_floor]}")"
    printf '| iptables-legacy: apply --once, all in place | %s | | | |\n' "$(ms "${m[leg_again]}")"
fi
if step daemon; then
    for b in nft leg; do
        name=$([ "$b" = nft ] && echo nftables || echo iptables-legacy)
        printf '| %s daemon: start until READY=1 | %s | | | |\n' "$name" "$(ms "${m[${b}_ready]}")"
        printf '| %s daemon: status, config unchanged | %s | | | |\n' "$name" "$(ms "${m[${b}_status]}")"
        printf '| %s daemon: verify, nothing changed (CLI round trip) | %s | | | |\n' "$name" "$(ms "${m[${b}_verify]}")"
        printf '| %s daemon: RSS peak / steady | %s / %s | | | |\n' "$name" "$(mib "${m[${b}_hwm]}")" "$(mib "${m[${b}_rss]}")"
    done
fi
} >"$OUT"
cat "$OUT"
