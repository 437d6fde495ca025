#!/bin/bash
# memguardd benchmarks: apply, verify, idle cost, packet path. See bench/README.md.
#
#   sudo bench/run.sh            # writes bench/results.md, bench/results.png, bench/results.tsv
#
# Everything that touches netfilter or sends packets runs in network namespaces this script
# creates (unshare -n for scenarios 1-3, ip netns mgb-*-PID for scenario 4); the host's tables
# are never read or written. Knobs: environment variables, with their defaults below.
set -Eeuo pipefail

RUNS=${RUNS:-7}                      # timed runs per competitor and N (apply, verify)
SIZES=${SIZES:-"1 10 100 1000 10000"} # allowlist sizes for apply and verify
FOREIGN=${FOREIGN:-5000}             # foreign rules per family (IPv4 and IPv6 filter table)
PERRULE_BIG_N=${PERRULE_BIG_N:-1000} # from this N on, per-rule iptables gets fewer runs ...
PERRULE_BIG_RUNS=${PERRULE_BIG_RUNS:-3} # ... this many (it takes ~10-20 s per run at N=1000)
PERRULE_MAX_N=${PERRULE_MAX_N:-1000} # and above this N none (10,000 calls: minutes per run)
PROBE_ITERS=${PROBE_ITERS:-40}       # in-process verify passes timed by passprobe, per N
PROBE_APPLY_ITERS=${PROBE_APPLY_ITERS:-10} # in-process applies timed by passprobe, per N
PROBE_BIG_N=${PROBE_BIG_N:-10000}    # from this N on, passprobe runs only ...
PROBE_BIG_ITERS=${PROBE_BIG_ITERS:-5} # ... this many iterations (a pass can take 0.5 s there)
IDLE_S=${IDLE_S:-60}                 # idle scenario: observation window (seconds)
IDLE_WARMUP_S=${IDLE_WARMUP_S:-3}    # idle scenario: excluded start-up time
IDLE_N=${IDLE_N:-100}                # idle scenario: allowlist size
IDLE_SMALL_S=${IDLE_SMALL_S:-15}     # idle scenario: the daemons with N=IDLE_LONG_N, and without foreign rules
IDLE_LONG_N=${IDLE_LONG_N:-10000}    # idle scenario: the long allowlist
PKT_RUNS=${PKT_RUNS:-7}              # packet path: rounds (each round runs every config/mode)
PKT_S=${PKT_S:-3}                    # packet path: seconds per mcload run
PKT_THREADS=${PKT_THREADS:-4}        # packet path: client threads / connections
MEMCSLAP_EXEC=${MEMCSLAP_EXEC:-40000} # packet path: memcslap --execute-number
MC_THREADS=${MC_THREADS:-2}          # memcached worker threads
BENCH_NICE=${BENCH_NICE:--10}        # niceness of the benchmark (less noise from other load)
BUILD_DIR=${BUILD_DIR:-}             # default: <repo>/build-bench
KEEP_WORK=${KEEP_WORK:-0}            # 1: keep the scratch directory (raw data) for inspection

SELF=$(readlink -f "$0")
BENCH_DIR=$(dirname "$SELF")
REPO=$(dirname "$BENCH_DIR")
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Wall time (µs, into variable $1) and CPU time (user+sys of the children, ms, into $2) of
# "$@", whose stdout and stderr are discarded. $EPOCHREALTIME needs no fork, so nothing but the
# command is inside the window; `times` (getrusage RUSAGE_CHILDREN, ms resolution) runs in
# this shell, written to a file so that no subshell is involved.
children_cpu_ms() {
    local _ u s us ss
    times >"$WORK/times.txt"
    { read -r _ _; read -r u s; } <"$WORK/times.txt"
    us=${u#*m} ss=${s#*m} # "0m1.234s" -> "1.234s" (always 3 decimals)
    us=${us%s} ss=${ss%s}
    printf -v "$1" '%d' $((${u%%m*} * 60000 + 10#${us/./} + ${s%%m*} * 60000 + 10#${ss/./}))
}
timeit() {
    local __wall=$1 __cpu=$2 s e c0 c1
    shift 2
    children_cpu_ms c0
    s=$EPOCHREALTIME
    "$@" >/dev/null 2>&1
    e=$EPOCHREALTIME
    children_cpu_ms c1
    printf -v "$__wall" '%d' $((10#${e/./} - 10#${s/./}))
    printf -v "$__cpu" '%d' $((c1 - c0))
}

# One measurement: scenario, competitor, n, run, value (ms for times, ops/s for throughput).
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$WORK/raw.tsv"; }
us_to_ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }

# ================================================================ inside unshare -n: 1-3
# Runs in a private network namespace created by `unshare -n`: its filter tables start empty
# and vanish with it.
reset_tables() {
    iptables-legacy-restore -w <"$WORK/foreign4.rules"
    ip6tables-legacy-restore -w <"$WORK/foreign6.rules"
    ipset destroy 2>/dev/null || true # memguardd's sets (nothing references them any more)
}

apply_memguardd() { "$MG" apply --once --config "$WORK/allow$1.json"; }
# Where memguardd uses a set (N > 16), each competitor makes the same set first: `ipset restore`
# for restore, one `ipset` call per member for per-rule.
apply_restore() {
    local fam
    for fam in 4 6; do
        if [[ -s $WORK/set${fam}_$1.ipset ]]; then # no ipset process where there is no set
            ipset restore <"$WORK/set${fam}_$1.ipset" || return 1
        fi
        "ip${fam/4/}tables-legacy-restore" -w --noflush <"$WORK/restore${fam}_$1.rules" || return 1
    done
}
# run_calls FILE TOOL [ARG...] : one TOOL process per line of FILE, the line's words appended
run_calls() {
    local file=$1 line
    shift
    while read -r line; do
        # shellcheck disable=SC2086 # one line = one call, split into arguments
        "$@" $line || return 1
    done <"$file"
}
apply_perrule() {
    run_calls "$WORK/set4_$1.ipset" ipset &&
        run_calls "$WORK/set6_$1.ipset" ipset &&
        run_calls "$WORK/perrule4_$1.args" iptables-legacy -w &&
        run_calls "$WORK/perrule6_$1.args" ip6tables-legacy -w
}
# The recipe as admins write it: one iptables call per network (-s rules), no set. Its table
# differs from memguardd's where memguardd uses a set, so it is timed but not checked in sync.
apply_recipe() {
    run_calls "$WORK/recipe4_$1.args" iptables-legacy -w &&
        run_calls "$WORK/recipe6_$1.args" ip6tables-legacy -w
}

tables_hash() { # both filter tables without counters, and every set's members
    { iptables-legacy-save -t filter; ip6tables-legacy-save -t filter; ipset save | grep '^add' | sort || true; } |
        grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//' | sha256sum | cut -c1-16
}

scenario_apply() {
    local run n i c t cpu rc comps ordered
    comps=(memguardd restore perrule recipe)
    for ((run = 1; run <= RUNS; run++)); do
        for n in $SIZES; do
            ordered=()
            for ((i = 0; i < 4; i++)); do ordered+=("${comps[(i + run - 1) % 4]}"); done
            for c in "${ordered[@]}"; do
                if [[ $c == perrule || $c == recipe ]] &&
                    ((n > PERRULE_MAX_N || (n >= PERRULE_BIG_N && run > PERRULE_BIG_RUNS))); then
                    continue
                fi
                reset_tables
                timeit t cpu "apply_$c" "$n"
                # the apply must have worked: every competitor but the recipe leaves memguardd
                # in sync (the recipe, where memguardd uses a set, has -s rules instead)
                rc=0
                "$MG" diff --config "$WORK/allow$n.json" >/dev/null 2>&1 || rc=$?
                if [[ $c != recipe ]] || ((n <= 16)); then
                    ((rc == 0)) || die "apply $c N=$n: memguardd diff says not in sync (exit $rc)"
                fi
                record apply "$c" "$n" "$run" "$(us_to_ms "$t")"
                record apply_cpu "$c" "$n" "$run" "$cpu"
                if ((run == 1)); then
                    printf 'N=%-5s %-9s diff=%-8s tables=%s\n' "$n" "$c" \
                        "$( ((rc == 0)) && echo in-sync || echo differs)" "$(tables_hash)" \
                        >>"$WORK/checks.txt"
                fi
            done
        done
        log "apply: round $run/$RUNS done"
    done
}

scenario_verify() {
    local n run t cpu c
    # process start alone (load the binary and its shared libraries, print the version)
    for ((run = 1; run <= RUNS; run++)); do
        timeit t cpu "$MG" --version
        record startup memguardd 0 "$run" "$(us_to_ms "$t")"
        record startup_cpu memguardd 0 "$run" "$cpu"
        timeit t cpu iptables-legacy --version
        record startup iptables 0 "$run" "$(us_to_ms "$t")"
        record startup_cpu iptables 0 "$run" "$cpu"
    done
    for n in $SIZES; do
        reset_tables
        "$MG" apply --once --config "$WORK/allow$n.json" >/dev/null
        for ((run = 1; run <= RUNS; run++)); do
            # alternate which competitor goes first
            local order=(diff save_both save_v4)
            ((run % 2 == 0)) && order=(save_v4 save_both diff)
            for c in "${order[@]}"; do
                case $c in
                diff)
                    timeit t cpu "$MG" diff --config "$WORK/allow$n.json"
                    "$MG" diff --config "$WORK/allow$n.json" >/dev/null 2>&1 ||
                        die "verify N=$n: not in sync"
                    record verify memguardd_diff "$n" "$run" "$(us_to_ms "$t")"
                    record verify_cpu memguardd_diff "$n" "$run" "$cpu"
                    ;;
                save_both)
                    timeit t cpu save_both
                    record verify save_both "$n" "$run" "$(us_to_ms "$t")"
                    record verify_cpu save_both "$n" "$run" "$cpu"
                    ;;
                save_v4)
                    timeit t cpu iptables-legacy-save -t filter
                    record verify save_v4 "$n" "$run" "$(us_to_ms "$t")"
                    record verify_cpu save_v4 "$n" "$run" "$cpu"
                    ;;
                esac
            done
        done
        local vi=$PROBE_ITERS ai=$PROBE_APPLY_ITERS
        ((n >= PROBE_BIG_N)) && vi=$PROBE_BIG_ITERS ai=$PROBE_BIG_ITERS
        "$PROBE" verify "$WORK/allow$n.json" "$vi" >"$WORK/probe_verify_$n.txt"
        "$PROBE" apply "$WORK/allow$n.json" "$ai" >"$WORK/probe_apply_$n.txt"
        if [[ $n == 100 ]] && command -v strace >/dev/null; then
            strace -c -f -o "$WORK/strace_diff.txt" "$MG" diff --config "$WORK/allow$n.json" \
                >/dev/null 2>&1 || true
            sed -i '/^$/d' "$WORK/strace_diff.txt"
            head -n 12 "$WORK/strace_diff.txt" >"$WORK/strace_diff.tmp"
            grep -E 'total' "$WORK/strace_diff.txt" >>"$WORK/strace_diff.tmp" || true
            mv "$WORK/strace_diff.tmp" "$WORK/strace_diff.txt"
        fi
        log "verify: N=$n done"
    done
}
save_both() { iptables-legacy-save -t filter && ip6tables-legacy-save -t filter; }

# Sum of utime+stime (clock ticks) of a process, from /proc/PID/stat.
proc_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# Sum of on-CPU nanoseconds of all threads, from /proc/PID/task/*/schedstat.
# (%.0f, not %d: mawk's %d stops at 2^31, which is 2.1 s of CPU)
proc_sched_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }

DAEMON_PID=
# idle_run PREFIX SECONDS N: the daemon (allowlist of N) on the current tables for SECONDS
# after a warm-up; writes PREFIX_* keys to idle.txt.
idle_run() {
    local p=$1 secs=$2 n=$3 cfg="$WORK/idle.json" rt="$WORK/runtime" hz t0 t1 k0 k1 s0 s1 \
        life start_ticks uptime i
    sed 's/"verify_interval_s": *[0-9]*/"verify_interval_s": 1/' "$WORK/allow$n.json" >"$cfg"
    chmod 600 "$cfg"
    mkdir -p "$rt"
    env -u JOURNAL_STREAM -u NOTIFY_SOCKET MEMGUARD_RUNTIME_DIRECTORY="$rt" \
        "$MG" run --config "$cfg" 2>"$WORK/daemon_$p.log" &
    DAEMON_PID=$!
    for ((i = 0; i < 100; i++)); do # up to 10 s for the first apply
        "$MG" diff --config "$cfg" >/dev/null 2>&1 && break
        sleep 0.1
    done
    ((i < 100)) || die "idle: the daemon did not apply its rules"
    sleep "$IDLE_WARMUP_S"
    hz=$(getconf CLK_TCK)
    t0=$EPOCHREALTIME k0=$(proc_ticks "$DAEMON_PID") s0=$(proc_sched_ns "$DAEMON_PID")
    sleep "$secs"
    t1=$EPOCHREALTIME k1=$(proc_ticks "$DAEMON_PID") s1=$(proc_sched_ns "$DAEMON_PID")
    kill -0 "$DAEMON_PID" || die "idle: the daemon died"
    start_ticks=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$DAEMON_PID/stat")
    uptime=$(awk '{ print $1 }' /proc/uptime)
    life=$(awk -v u="$uptime" -v st="$start_ticks" -v hz="$hz" -v k="$k1" \
        'BEGIN { printf "%.4f", (k / hz) / (u - st / hz) * 100 }')
    {
        echo "${p}_N=$n"
        echo "${p}_WARMUP_S=$IDLE_WARMUP_S"
        awk -v a="${t0/./}" -v b="${t1/./}" -v p="$p" 'BEGIN { printf "%s_WINDOW_S=%.1f\n", p, (b - a) / 1e6 }'
        echo "${p}_PASSES=$secs"
        awk -v a="${t0/./}" -v b="${t1/./}" -v k0="$k0" -v k1="$k1" -v hz="$hz" -v p="$p" \
            'BEGIN { printf "%s_CPU_PCT_TICKS=%.4f\n", p, ((k1 - k0) / hz) / ((b - a) / 1e6) * 100 }'
        awk -v a="${t0/./}" -v b="${t1/./}" -v s0="$s0" -v s1="$s1" -v p="$p" \
            'BEGIN { printf "%s_CPU_PCT_SCHED=%.4f\n", p, ((s1 - s0) / 1e9) / ((b - a) / 1e6) * 100 }'
        awk -v s0="$s0" -v s1="$s1" -v n="$secs" -v p="$p" \
            'BEGIN { printf "%s_CPU_MS_PER_PASS=%.3f\n", p, (s1 - s0) / 1e6 / n }'
        echo "${p}_CPU_PCT_LIFE=$life"
        for f in VmHWM VmRSS RssAnon RssFile Threads; do
            echo "${p}_$f=$(awk -v f="$f:" '$1 == f { print $2 }' "/proc/$DAEMON_PID/status")"
        done
        echo "${p}_DRIFT_LINES=$(grep -c -i drift "$WORK/daemon_$p.log" || true)"
    } >>"$WORK/idle.txt"
    stop_daemon
}

# SIGTERM, then SIGKILL if it is still there after 5 s (a pass at N=10,000 takes ~0.6 s).
stop_daemon() {
    [[ -n $DAEMON_PID ]] || return 0
    kill "$DAEMON_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
        # gone, or exited and waiting to be reaped (a zombie still answers kill -0)
        [[ -e /proc/$DAEMON_PID && $(awk '{ sub(/.*\) /, ""); print $1 }' \
            "/proc/$DAEMON_PID/stat" 2>/dev/null) != Z ]] || break
        sleep 0.1
    done
    kill -9 "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=
}

scenario_idle() {
    : >"$WORK/idle.txt"
    reset_tables
    idle_run big "$IDLE_S" "$IDLE_N"
    # a long allowlist (as in scenario 4) on the same tables
    reset_tables
    idle_run long "$IDLE_SMALL_S" "$IDLE_LONG_N"
    # the first daemon again on a table without foreign rules: what the 5,000 rules cost
    iptables-legacy -w -F; iptables-legacy -w -X; ip6tables-legacy -w -F; ip6tables-legacy -w -X
    idle_run small "$IDLE_SMALL_S" "$IDLE_N"
    # peak RSS of a process that only loads the binary and its libraries (and parses the config)
    echo "VERSION_MAXRSS_KB=$(/usr/bin/time -f %M "$MG" --version 2>&1 >/dev/null | tail -n1)" \
        >>"$WORK/idle.txt"
    echo "CHECK_MAXRSS_KB=$(/usr/bin/time -f %M "$MG" check "$WORK/allow$IDLE_N.json" 2>&1 \
        >/dev/null | tail -n1)" >>"$WORK/idle.txt"
}

inner_tables() {
    trap 'stop_daemon' EXIT
    [[ $(readlink /proc/self/ns/net) != "$HOST_NETNS" ]] || die "not in a private namespace"
    ip link set lo up
    log "scenario 1: apply (RUNS=$RUNS, SIZES=$SIZES, $FOREIGN foreign rules per family)"
    scenario_apply
    log "scenario 2: verify"
    scenario_verify
    log "scenario 3: idle daemon for $IDLE_S s (+ 2 x $IDLE_SMALL_S s: N=$IDLE_LONG_N; no foreign rules)"
    scenario_idle
}

# ============================================================= scenario 4: packet path
NS_SRV='' NS_CLI='' MC_PID=''
pkt_cleanup() {
    if [[ -n $MC_PID ]]; then kill "$MC_PID" 2>/dev/null || true; wait "$MC_PID" 2>/dev/null || true; fi
    [[ -n $NS_SRV ]] && ip netns del "$NS_SRV" 2>/dev/null
    [[ -n $NS_CLI ]] && ip netns del "$NS_CLI" 2>/dev/null
    MC_PID='' NS_SRV='' NS_CLI=''
    true
}

set_firewall() { # none | ctonly | allow1 | allow10000 | rules10000, in the server namespace
    local ns=(ip netns exec "$NS_SRV")
    # the server namespace holds nothing but what this function puts there: start from empty
    "${ns[@]}" iptables-legacy -w -F
    "${ns[@]}" iptables-legacy -w -X
    "${ns[@]}" ip6tables-legacy -w -F
    "${ns[@]}" ip6tables-legacy -w -X
    "${ns[@]}" ipset destroy 2>/dev/null || true
    case $1 in
    none) ;;
    ctonly)
        # not memguardd: one stateful rule, so conntrack is on but nothing is filtered. The
        # difference none -> ctonly is what connection tracking costs any stateful firewall.
        "${ns[@]}" iptables-legacy -w -A INPUT -p tcp --dport 11211 \
            -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        ;;
    rules10000)
        # before: memguardd's layout up to the ipset (commit a0fa138), one -s rule per
        # network, the client's last; written with iptables-legacy-restore
        "${ns[@]}" iptables-legacy-restore -w --noflush <"$WORK/pkt_rules10000.rules"
        ;;
    *)
        "${ns[@]}" "$MG" apply --once --config "$WORK/pkt_$1.json" >/dev/null
        "${ns[@]}" "$MG" diff --config "$WORK/pkt_$1.json" >/dev/null ||
            die "packet path: firewall $1 not in place"
        ;;
    esac
}

scenario_packets() {
    NS_SRV=mgb-srv-$$ NS_CLI=mgb-cli-$$
    ip netns add "$NS_SRV"
    ip netns add "$NS_CLI"
    ip -n "$NS_SRV" link add vs type veth peer name vc netns "$NS_CLI"
    ip -n "$NS_SRV" addr add 10.77.0.1/24 dev vs
    ip -n "$NS_CLI" addr add 10.77.0.2/24 dev vc
    for ns in "$NS_SRV" "$NS_CLI"; do ip -n "$ns" link set lo up; done
    ip -n "$NS_SRV" link set vs up
    ip -n "$NS_CLI" link set vc up
    ip netns exec "$NS_SRV" memcached -u nobody -l 10.77.0.1 -p 11211 -U 0 -t "$MC_THREADS" \
        -c 4096 -m 64 &
    MC_PID=$!
    local i
    for ((i = 0; i < 50; i++)); do
        ip netns exec "$NS_CLI" "$MCLOAD" 10.77.0.1 11211 set 2>/dev/null && break
        sleep 0.1
    done
    ((i < 50)) || die "memcached did not come up"
    local run cfg mode out ops cfgs ordered k s0 s1
    cfgs=(none ctonly allow1 allow10000 rules10000)
    for ((run = 1; run <= PKT_RUNS; run++)); do
        ordered=()
        for ((k = 0; k < 5; k++)); do ordered+=("${cfgs[(k + run - 1) % 5]}"); done
        for cfg in "${ordered[@]}"; do
            set_firewall "$cfg"
            for mode in persist connect; do
                s0=$(proc_sched_ns "$MC_PID")
                out=$(ip netns exec "$NS_CLI" "$MCLOAD" 10.77.0.1 11211 "$PKT_THREADS" "$PKT_S" "$mode")
                s1=$(proc_sched_ns "$MC_PID")
                [[ $out == *"errors=0 "* ]] || log "packet path: $cfg $mode: $out"
                ops=${out#*ops_per_s=} ops=${ops%% *}
                record "pkt_$mode" "$cfg" 0 "$run" "$ops"
                # CPU per request: the client's user+sys (incl. the softirq receive path of
                # the packets it sends, firewall included) + memcached's run time
                record "pkt_${mode}_cpu" "$cfg" 0 "$run" "$(awk -v o="$out" -v s0="$s0" \
                    -v s1="$s1" 'BEGIN { split(o, f, /[ =]/); printf "%.2f", (f[8] + (s1 - s0) / 1000) / f[2] }')"
            done
            out=$(ip netns exec "$NS_CLI" timeout 120 memcslap -s 10.77.0.1:11211 \
                -c "$PKT_THREADS" -e "$MEMCSLAP_EXEC" -t get 2>&1) || true
            # "Time to get   78356 keys by    4 threads:     1.550 seconds."
            ops=$(awk '/Time to get/ { for (i = 1; i <= NF; i++) if ($i == "keys") k = $(i - 1);
                        s = $(NF - 1); if (s > 0) printf "%.0f", k / s }' <<<"$out")
            if [[ -n $ops ]]; then record pkt_memcslap "$cfg" 0 "$run" "$ops"; else
                log "packet path: memcslap output not understood: $out"; fi
        done
        log "packet path: round $run/$PKT_RUNS done"
    done
    pkt_cleanup
}

# ======================================================================= orchestration
install_deps() {
    local need=() p
    for p in iptables ipset memcached libmemcached-tools gnuplot-nox strace iproute2 \
        cmake g++ gcc pkg-config libiptc-dev libmnl-dev libsystemd-dev nlohmann-json3-dev \
        libspdlog-dev python3 util-linux procps time; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if ((${#need[@]})); then
        log "installing ${need[*]}"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
    fi
}

build() {
    log "building memguardd (Release) in $BUILD_DIR"
    cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target memguardd >/dev/null
    MG=$BUILD_DIR/daemon/memguardd
    # passprobe: times the in-daemon verify pass and the phases of an apply through libfw
    # shellcheck disable=SC2046 # pkg-config prints several flags
    g++ -O2 -std=c++20 -I"$REPO/libfw" "$BENCH_DIR/passprobe.cpp" \
        "$BUILD_DIR/libfw/libmemguard_fw.a" $(pkg-config --libs libip4tc libip6tc libmnl libnftnl) \
        -o "$WORK/passprobe"
    PROBE=$WORK/passprobe
    gcc -O2 -pthread "$BENCH_DIR/mcload.c" -o "$WORK/mcload"
    MCLOAD=$WORK/mcload
}

machine_info() {
    {
        echo "NPROC=$(nproc)"
        echo "CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
        echo "KERNEL=$(uname -r)"
        # shellcheck disable=SC1091
        echo "OS=$(. /etc/os-release && echo "$PRETTY_NAME")"
        echo "DATE=$(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(
            git -C "$REPO" diff --quiet HEAD -- libfw daemon 2>/dev/null || echo ' (+ uncommitted changes in libfw/ or daemon/)')"
        echo "IPTABLES=$(iptables-legacy --version)"
        echo "MEMCACHED=$(memcached -V)"
        echo "LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)"
        echo "NICE=$BENCH_NICE"
        echo "SIZES=$SIZES"
        echo "PROBE_ITERS=$PROBE_ITERS"
        echo "PROBE_APPLY_ITERS=$PROBE_APPLY_ITERS"
        echo "FOREIGN=$FOREIGN"
        echo "PKT_S=$PKT_S"
        echo "MEMCSLAP_EXEC=$MEMCSLAP_EXEC"
        echo "PKT_THREADS=$PKT_THREADS"
        echo "MC_THREADS=$MC_THREADS"
        echo "PARAMS=RUNS=$RUNS (per-rule at N≥$PERRULE_BIG_N: $PERRULE_BIG_RUNS, above N=$PERRULE_MAX_N: none), FOREIGN=$FOREIGN, PROBE_ITERS=$PROBE_ITERS (N≥$PROBE_BIG_N: $PROBE_BIG_ITERS), IDLE_S=$IDLE_S, PKT_RUNS=$PKT_RUNS, PKT_S=$PKT_S, PKT_THREADS=$PKT_THREADS, MC_THREADS=$MC_THREADS"
    } >"$WORK/env.txt"
}

main() {
    [[ $(id -u) == 0 ]] || die "run as root: sudo $0"
    local start=$SECONDS
    install_deps
    for c in unshare ip iptables-legacy-restore ip6tables-legacy-restore memcached memcslap gnuplot; do
        command -v "$c" >/dev/null || die "$c not found"
    done
    WORK=$(mktemp -d /tmp/mgbench.XXXXXX)
    trap 'pkt_cleanup; if [[ $KEEP_WORK == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi' EXIT
    trap 'exit 130' INT TERM
    renice -n "$BENCH_NICE" -p $$ >/dev/null || true
    build
    machine_info
    # shellcheck disable=SC2086
    /usr/bin/python3 "$BENCH_DIR/bench.py" gen "$WORK" "$FOREIGN" $SIZES "$IDLE_N" "$IDLE_LONG_N"
    : >"$WORK/raw.tsv"

    export WORK MG PROBE RUNS SIZES FOREIGN PERRULE_BIG_N PERRULE_BIG_RUNS PERRULE_MAX_N \
        PROBE_BIG_N PROBE_BIG_ITERS PROBE_ITERS \
        PROBE_APPLY_ITERS IDLE_S IDLE_WARMUP_S IDLE_N IDLE_SMALL_S IDLE_LONG_N
    HOST_NETNS=$(readlink /proc/self/ns/net)
    export HOST_NETNS
    unshare -n -- "$SELF" __tables

    log "scenario 4: packet path (PKT_RUNS=$PKT_RUNS x 5 configs x 3 modes)"
    scenario_packets

    echo "LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/env.txt"
    echo "ELAPSED_S=$((SECONDS - start))" >>"$WORK/env.txt"
    /usr/bin/python3 "$BENCH_DIR/bench.py" report "$WORK" "$BENCH_DIR"
    gnuplot "$WORK/plot.gp"
    cp "$WORK/raw.tsv" "$BENCH_DIR/results.tsv"
    log "done in $((SECONDS - start)) s: $BENCH_DIR/results.md, $BENCH_DIR/results.png"
}

if [[ ${1:-} == __tables ]]; then
    inner_tables
else
    main "$@"
fi
