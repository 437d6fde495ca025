# shellcheck shell=bash disable=SC2034  # variables read by the sourcing scripts
# Shared harness for the hostile tests (sourced, not run). Builds on tests/daemon/lib.sh,
# which it sources: pass/fail/check/note, mg_finish/mg_fatal/mg_skip, mg_wait_until,
# mg_start_listener/mg_wait_notify (the stand-in notification socket), mg_save/mg_ours/
# mg_foreign/mg_expect/mg_check_C, mg_write_raw/mg_write_config, the cleanup trap.
# (tests/netns/lib.sh is not sourced as well: it defines its own pass/fail/mg_init and an
# EXIT trap of its own, which would fight daemon/lib.sh's.)
#
# What this file adds:
#
#   h_init MEMGUARDD [--no-netns]
#       mg_init with a private network namespace AND a private /run (daemon/lib.sh's
#       --private-run): today's memguardd takes /run/xtables.lock whatever XTABLES_LOCKFILE
#       says, so without a private /run two tests (or a test and anybody else on the machine)
#       would share that lock. Exports XTABLES_LOCKFILE=$TMP/xtables.lock for every daemon,
#       iptables-legacy and ipset command the test runs, and MEMGUARD_RUNTIME_DIRECTORY=$TMP/run.
#
#   More network namespaces, each held by a `sleep` this script started (h_netns), and
#   H_NS, the namespace the netfilter helpers act on: iptables-legacy, ip6tables-legacy,
#   their -save/-restore, ipset and conntrack are shell functions here that run the real
#   tool in namespace $H_NS (empty: this script's own). So daemon/lib.sh's mg_ipt, mg_save,
#   mg_tamper, mg_check_C... work in whichever namespace a case made. (Only when called
#   directly: `timeout 5 iptables-legacy` would run the real tool in this namespace.)
#
#   h_link SRV CLI: a veth pair between namespaces SRV and CLI (pids; "" = this one):
#       server  10.0.0.1/24  fd99::1/64
#       client  10.0.0.5/24  fd99::5/64    the outside client (on no allowlist)
#               10.0.0.10/24 fd99::10/64   the allowed client ($H_OK4/32, $H_OK6/128 allowed)
#   No address is used anywhere but on these veths, inside namespaces the test made.
#
#   h_probe SRC DST [PORT [SECONDS]]: one `nc -z` connect from the client namespace
#   ($H_CLI), bound to SRC, cut off by `timeout`; prints open|refused|timeout.
#
#   h_start_daemon NAME CONFIG [VAR=value...]: mg_start_daemon, in namespace $H_NS.
#   h_mg ARGS...: a one-shot memguardd command in $H_NS (bounded by a timeout); sets
#       H_RC, H_OUT (stdout), H_ERR (stderr).

H_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../daemon/lib.sh
. "$H_DIR/../daemon/lib.sh"

H_CLIENT_PY=$H_DIR/hclient.py
H_NS=  # the network namespace the netfilter helpers act on (a pid; empty: our own)
H_CLI= # the client namespace of h_probe (a pid)

H_SRV4=10.0.0.1 H_SRV6=fd99::1
H_OUT4=10.0.0.5 H_OUT6=fd99::5
H_OK4=10.0.0.10 H_OK6=fd99::10
H_MC_USER=nobody
id memcache >/dev/null 2>&1 && H_MC_USER=memcache

# h_need TOOL... : skip (77) unless every tool is installed
h_need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || mg_skip "$t not installed"
    done
}

h_init() {
    if [ "${2:-}" = --no-netns ]; then
        mg_init "$1" --no-netns
        return
    fi
    h_need ip nsenter setpriv ipset flock timeout
    mg_init "$1" --private-run
    export XTABLES_LOCKFILE=$TMP/xtables.lock
    export MEMGUARD_RUNTIME_DIRECTORY
    [ -z "$(ipset list -n 2>/dev/null)" ] || mg_fatal "this network namespace already holds ipsets"
}

# ---- the netfilter tools, in namespace $H_NS ------------------------------------------------
h_tool() {
    local t=$1
    shift
    if [ -n "$H_NS" ]; then
        nsenter -t "$H_NS" -n -- "$t" "$@"
    else
        command "$t" "$@"
    fi
}
iptables-legacy() { h_tool iptables-legacy "$@"; }
ip6tables-legacy() { h_tool ip6tables-legacy "$@"; }
# shellcheck disable=SC2120 # the sourcing scripts pass arguments
iptables-legacy-save() { h_tool iptables-legacy-save "$@"; }
# shellcheck disable=SC2120
ip6tables-legacy-save() { h_tool ip6tables-legacy-save "$@"; }
iptables-legacy-restore() { h_tool iptables-legacy-restore "$@"; }
ip6tables-legacy-restore() { h_tool ip6tables-legacy-restore "$@"; }
ipset() { h_tool ipset "$@"; }
conntrack() { h_tool conntrack "$@"; }

# h_at NS CMD... : CMD (a program) in network namespace NS (a pid; empty: this one)
h_at() {
    local ns=$1
    shift
    if [ -n "$ns" ]; then nsenter -t "$ns" -n -- "$@"; else "$@"; fi
}

# ---- namespaces and the veth pair ------------------------------------------------------------

# h_netns VAR : a fresh network namespace (lo up), held by a `sleep` child; VAR = its pid
h_netns() {
    local var=$1 pid own
    "${MG_ORPHAN_GUARD[@]}" unshare -n -- sleep 3600 &
    pid=$!
    MG_PIDS+=("$pid")
    own=$(readlink /proc/self/ns/net)
    h_ns_ready() {
        local ns
        ns=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 1
        [ "$ns" != "$own" ] && [ "$ns" != "$MG_PARENT_NETNS" ] && [ "$(cat "/proc/$1/comm")" = sleep ]
    }
    mg_wait_until 5 h_ns_ready "$pid" || mg_fatal "a new network namespace (unshare -n sleep) did not come up"
    [ -z "$(nsenter -t "$pid" -n -- ip -o addr show)" ] || mg_fatal "namespace of $pid is not a fresh one"
    if nsenter -t "$pid" -n -- iptables-legacy-save | grep -q '^-A' ||
        nsenter -t "$pid" -n -- ip6tables-legacy-save | grep -q '^-A' ||
        [ -n "$(nsenter -t "$pid" -n -- ipset list -n 2>/dev/null)" ]; then
        mg_fatal "namespace of $pid already holds rules or sets"
    fi
    nsenter -t "$pid" -n -- ip link set lo up || mg_fatal "lo up in namespace of $pid"
    # Instantiate both filter tables, so that a later -save shows the same (empty) tables
    # whether or not memguardd has touched a family yet.
    nsenter -t "$pid" -n -- iptables-legacy -w 5 -S >/dev/null &&
        nsenter -t "$pid" -n -- ip6tables-legacy -w 5 -S >/dev/null ||
        mg_fatal "cannot read the filter tables in namespace of $pid"
    printf -v "$var" '%s' "$pid"
}

# h_link SRV CLI : the veth pair (see the top of this file); sets H_CLI=CLI
h_link() {
    local srv=$1 cli=$2
    if ! {
        h_at "$srv" ip link add h-srv type veth peer name h-cli netns "$cli" &&
            h_at "$srv" ip addr add $H_SRV4/24 dev h-srv &&
            h_at "$srv" ip addr add $H_SRV6/64 dev h-srv nodad &&
            h_at "$srv" ip link set h-srv up &&
            h_at "$srv" ip link set lo up &&
            h_at "$cli" ip addr add $H_OUT4/24 dev h-cli &&
            h_at "$cli" ip addr add $H_OK4/24 dev h-cli &&
            h_at "$cli" ip addr add $H_OUT6/64 dev h-cli nodad &&
            h_at "$cli" ip addr add $H_OK6/64 dev h-cli nodad &&
            h_at "$cli" ip link set h-cli up
    }; then
        mg_fatal "cannot set up the veth pair"
    fi
    H_CLI=$cli
    h_link_up() {
        h_at "$1" ip -br link show h-srv | grep -qw UP && h_at "$2" ip -br link show h-cli | grep -qw UP
    }
    mg_wait_until 5 h_link_up "$srv" "$cli" || mg_fatal "the veth pair did not come up"
}

# h_memcached NS PORT : memcached on 0.0.0.0 and :: (tcp and udp PORT) in namespace NS;
# waits until it listens
h_memcached() {
    local ns=$1 port=$2
    "${MG_ORPHAN_GUARD[@]}" nsenter -t "${ns:-$$}" -n -- memcached -u "$H_MC_USER" -l '0.0.0.0,[::]' \
        -p "$port" -U "$port" -m 8 -t 1 -c 64 2>>"$TMP/memcached.$port.log" &
    MG_PIDS+=($!)
    h_listening() { h_at "$1" ss -Hltn "sport = :$2" | grep -q .; }
    mg_wait_until 5 h_listening "$ns" "$port" || mg_fatal "memcached did not listen on $port"
}

# h_probe SRC DST [PORT [SECONDS]] : prints open|refused|timeout (connect from $H_CLI)
h_probe() {
    local src=$1 dst=$2 port=${3:-$MG_PORT} t=${4:-1} rc=0
    timeout "$t" nsenter -t "$H_CLI" -n -- nc -z -s "$src" "$dst" "$port" >/dev/null 2>&1 || rc=$?
    case $rc in
    0) echo open ;;
    124) echo timeout ;;
    *) echo refused ;;
    esac
}
# h_blocked SRC DST [PORT [SECONDS]] : the connect timed out (dropped)
h_blocked() { [ "$(h_probe "$@")" = timeout ]; }
# h_reaches SRC DST [PORT [SECONDS]] : the connect succeeded
h_reaches() { [ "$(h_probe "$@")" = open ]; }
# h_loopback_reaches PORT : a connect to 127.0.0.1:PORT in $H_NS succeeds
h_loopback_reaches() {
    timeout 1 nsenter -t "${H_NS:-$$}" -n -- nc -z 127.0.0.1 "$1" >/dev/null 2>&1
}

# ---- daemon and commands ----------------------------------------------------------------------

# h_start_daemon NAME CONFIG [VAR=value...] : `memguardd run --config CONFIG` in $H_NS, with
# NOTIFY_SOCKET=$MG_NOTIFY (when a listener runs); sets MG_ERR, MG_DAEMON
h_start_daemon() {
    local name=$1 config=$2
    shift 2
    MG_ERR=$TMP/$name.err
    MG_LOGS+=("$MG_ERR")
    "${MG_ORPHAN_GUARD[@]}" nsenter -t "${H_NS:-$$}" -n -- env NOTIFY_SOCKET="${MG_NOTIFY:-}" \
        XTABLES_LOCKFILE="$XTABLES_LOCKFILE" MEMGUARD_RUNTIME_DIRECTORY="$MEMGUARD_RUNTIME_DIRECTORY" "$@" \
        "$MEMGUARDD" run --config "$config" 2>"$MG_ERR" &
    MG_DAEMON=$!
    MG_PIDS+=("$MG_DAEMON")
}

# h_mg ARGS... : memguardd ARGS in $H_NS, at most $H_MG_TIMEOUT (30) s (then H_RC is 124);
# sets H_RC, H_OUT, H_ERR
H_MG_TIMEOUT=30
h_mg() {
    H_RC=0
    timeout "$H_MG_TIMEOUT" nsenter -t "${H_NS:-$$}" -n -- "$MEMGUARDD" "$@" >"$TMP/h_mg.out" 2>"$TMP/h_mg.err" || H_RC=$?
    H_OUT=$(cat "$TMP/h_mg.out")
    H_ERR=$(cat "$TMP/h_mg.err")
}

# h_stop_daemon : SIGTERM the daemon, wait (10 s) for it to exit
h_stop_daemon() {
    kill -TERM "$MG_DAEMON" 2>/dev/null
    mg_wait_exit "$MG_DAEMON" 10 || { kill -KILL "$MG_DAEMON" 2>/dev/null; mg_wait_exit "$MG_DAEMON" 5; }
}

# h_config FILE INTERVAL NETWORK... : a valid config (mg_write_config: port 11211, tcp+udp,
# drop, loopback and established accepted)
h_config() { mg_write_config "$@"; }

# h_filler N : N IPv4 networks that are nobody's here (172.16.X.0/24)
h_filler() {
    local i
    for ((i = 0; i < $1; i++)); do echo "172.$((16 + i / 256)).$((i % 256)).0/24"; done
}

# h_jump_present FAMILY PROTO PORT : our jump for PROTO/PORT is in INPUT (iptables -C)
h_jump_present() {
    mg_ipt "$1" -C INPUT -p "$2" -m "$2" --dport "$3" -m comment --comment "$MG_TAG" -j MEMGUARD 2>/dev/null
}

# h_foreign_all : the filter table of both families (save output without counters) and every
# set (ipset save, sorted) except the lines that are memguardd's (comment memguard, chain
# MEMGUARD, sets memguard4/memguard6 and their -new staging sets)
h_foreign_all() {
    echo "# ipv4"
    mg_save ipv4 | grep -vE "$MG_TAG|MEMGUARD"
    echo "# ipv6"
    mg_save ipv6 | grep -vE "$MG_TAG|MEMGUARD"
    echo "# ipset"
    ipset save | grep -vE '^(create|add) memguard[46](-new)? ' | LC_ALL=C sort
}

# h_same LABEL BEFORE AFTER : pass if equal, else fail and show the difference
h_same() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1"
        diff -u <(echo "$2") <(echo "$3") | sed -n '3,$s/^/     /p' | head -n 30
    fi
}

# h_hold_lock FILE : hold flock FILE in a child (flock -o: only flock itself holds it); sets
# H_LOCK_PID
h_hold_lock() {
    "${MG_ORPHAN_GUARD[@]}" flock -o "$1" "${MG_ORPHAN_GUARD[@]}" sleep 60 &
    H_LOCK_PID=$!
    MG_PIDS+=("$H_LOCK_PID")
    h_lock_held() { ! flock -n "$1" true; }
    mg_wait_until 5 h_lock_held "$1" || mg_fatal "could not take $1"
}

# h_stopped PID : PID is stopped (state T)
h_stopped() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" = T ]
}
