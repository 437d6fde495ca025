# shellcheck shell=bash disable=SC2034,SC2015,SC2317  # variables read by the sourcing scripts; A && B || fail; functions run by mg_wait_until
# A real dockerd in network namespaces the test made (sourced, not run). Builds on
# tests/hostile/lib.sh (which sources tests/daemon/lib.sh): the caller runs `h_init` first, so
# this script already runs in a private network namespace with a private /run (mg_init
# --private-run), and nothing here touches the machine's own namespace, tables or cgroups
# beyond the test's own cgroup dirs (removed at the end).
#
#   d_init : tools, paths, the teardown trap (d_teardown, then daemon/lib.sh's mg_cleanup)
#   d_topology : three namespaces, each held by a `sleep` (h_netns):
#       H   (D_H, also H_NS: where memguardd, dockerd and the netfilter helpers act)
#       IN  (D_IN)  eth0 192.168.1.2/24  fd00:1::2/64   <- veth d-in  192.168.1.1  fd00:1::1 in H
#       OUT (D_OUT) eth0 198.51.100.2/24 fd00:2::2/64   <- veth d-out 198.51.100.1 fd00:2::1 in H
#     Clients reach the published port at H's address on their own link (D_TO_IN4/6 for IN,
#     D_TO_OUT4/6 for OUT): a local address, so Docker's DNAT (--dst-type LOCAL) takes it.
#   d_start_dockerd : dockerd in H (dockerd_launch.sh), private data/exec roots, socket, pidfile,
#       containerd (its own, under the exec root: /run is the test's tmpfs), cgroup parent
#       /$D_NAME; bridge 172.31.0.1/24, IPv6 fd00:ac::/64 (ip6tables, experimental). Returns
#       non-zero with D_WHY set when dockerd does not come up.
#   d_stop_dockerd / d_restart_dockerd : SIGTERM and wait / the same dockerd started again
#   d_image : imports the cached rootfs tarball (rootfs_cache.sh) as local/memcached
#   d_run_memcached : `docker run -d -p 11211:11211 -p 11211:11211/udp local/memcached memcached
#       -u nobody -U 11211` (restart policy unless-stopped, so a dockerd restart brings it back)
#   d_version NS PROTO DST : one memcached "version" (dprobe.py) from namespace NS; prints the
#       answer (VERSION ...) or silent|refused|reset
#   d_docker_rules : Docker's netfilter rules in H as its own tool shows them (see the function)
#   d_docker ARGS... : /usr/bin/docker against the test's dockerd

D_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D_PROBE=$D_DIR/dprobe.py
D_DOCKER_BIN=/usr/bin/docker # another client may come first in PATH
D_PID=       # dockerd (the launcher's pid: nsenter, unshare and the launcher exec each other)
D_MNTNS=     # dockerd's mount namespace, to find what it leaves behind
D_WHY=
D_H='' D_IN='' D_OUT=''
D_IN4=192.168.1.2 D_IN6=fd00:1::2 D_TO_IN4=192.168.1.1 D_TO_IN6=fd00:1::1
D_OUT4=198.51.100.2 D_OUT6=fd00:2::2 D_TO_OUT4=198.51.100.1 D_TO_OUT6=fd00:2::1
D_IN_NETS=(192.168.1.0/24 fd00:1::/64)
D_BIP=172.31.0.1/24 D_CT4=172.31.0.2
D_V6NET=fd00:ac::/64
D_RUN_ARGS=(-p 11211:11211 -p 11211:11211/udp)

d_log() { echo "[$(date +%T.%3N)] $*"; }

d_init() {
    h_need ip nsenter unshare python3 iptables-nft-save ip6tables-nft-save \
        dockerd containerd runc docker-proxy "$D_DOCKER_BIN"
    d_sweep_stale
    D_NAME=memguardd-docker-$$
    D_ROOT=$TMP/docker
    mkdir -p "$D_ROOT"/{data,exec,cli} || mg_fatal "cannot make $D_ROOT"
    d_owner $$ >"$D_ROOT/owner"
    D_SOCK=$D_ROOT/docker.sock
    D_LOG=$D_ROOT/dockerd.log
    MG_LOGS+=("$D_LOG")
    export DOCKER_CONFIG=$D_ROOT/cli # the client's config, not ~/.docker
    # dockerd runs `iptables`, whichever that is here (iptables-nft on Debian 12): its rules are
    # read with the same variant.
    D_XT=nft
    case $(readlink -f "$(command -v iptables 2>/dev/null)") in *legacy*) D_XT=legacy ;; esac
    # MEMGUARD_DOCKER_XT=legacy|nft: the variant dockerd must use whatever `iptables` is here,
    # through a PATH of its own whose iptables* are that variant (xtables-*-multi goes by the
    # name it is called by).
    D_PATH=$PATH
    if [ -n "${MEMGUARD_DOCKER_XT:-}" ] && [ "$MEMGUARD_DOCKER_XT" != "$D_XT" ]; then
        D_XT=$MEMGUARD_DOCKER_XT
        mkdir -p "$D_ROOT/xt-bin"
        local t s
        for t in iptables ip6tables; do
            for s in "" -save -restore; do ln -sf "/usr/sbin/$t-$D_XT$s" "$D_ROOT/xt-bin/$t$s"; done
        done
        D_PATH=$D_ROOT/xt-bin:$PATH
    fi
    trap 'd_teardown; mg_cleanup' EXIT
}

# d_owner PID : "PID STARTTIME", which names a process for as long as it lives (no reuse)
d_owner() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    # shellcheck disable=SC2086 # one word per field
    set -- $stat
    echo "$1 ${20}"
}

# What a run killed by SIGKILL (a harness timeout: no trap ran) left: its processes got SIGTERM
# (pdeathsig) and its namespaces went with them, but its cgroup dirs memguardd-docker-PID and
# its $TMP (with the image layers under docker/) stay. Removed here when their test is gone (the
# owner file names a process that no longer runs); only those.
d_sweep_stale() {
    local dir pid owner
    for dir in /sys/fs/cgroup/*/memguardd-docker-[0-9]*; do
        [ -d "$dir" ] || continue
        pid=${dir##*-}
        [ -d "/proc/$pid" ] && continue
        timeout 20 unshare -m --propagation private -- /bin/bash "$D_DIR/dockerd_launch.sh" rmcgroups \
            "memguardd-docker-$pid" && echo "     removed the cgroup dirs of a killed run (memguardd-docker-$pid)"
    done
    for dir in /tmp/memguardd-daemon-test.*/docker; do
        [ -f "$dir/owner" ] || continue
        read -r pid owner <"$dir/owner"
        [ "$(d_owner "$pid")" = "$pid $owner" ] && continue
        grep -q " ${dir%/docker}/" /proc/self/mounts && continue
        rm -rf --one-file-system "${dir%/docker}" && echo "     removed ${dir%/docker} (a killed run's)"
    done
}

d_docker() { timeout 60 "$D_DOCKER_BIN" -H "unix://$D_SOCK" "$@"; }
d_at_h() { nsenter -t "$D_H" -n -- "$@"; }

# d_veth NS HOST_IF HOST4 HOST6 CLI4 CLI6
d_veth() {
    local ns=$1 hif=$2 h4=$3 h6=$4 c4=$5 c6=$6
    d_at_h ip link add "$hif" type veth peer name eth0 netns "$ns" &&
        d_at_h ip addr add "$h4/24" dev "$hif" &&
        d_at_h ip addr add "$h6/64" dev "$hif" nodad &&
        d_at_h ip link set "$hif" up &&
        h_at "$ns" ip addr add "$c4/24" dev eth0 &&
        h_at "$ns" ip addr add "$c6/64" dev eth0 nodad &&
        h_at "$ns" ip link set eth0 up &&
        h_at "$ns" ip route add default via "$h4" &&
        h_at "$ns" ip -6 route add default via "$h6"
}

d_topology() {
    h_netns D_H
    h_netns D_IN
    h_netns D_OUT
    H_NS=$D_H
    d_veth "$D_IN" d-in $D_TO_IN4 $D_TO_IN6 $D_IN4 $D_IN6 &&
        d_veth "$D_OUT" d-out $D_TO_OUT4 $D_TO_OUT6 $D_OUT4 $D_OUT6 ||
        mg_fatal "cannot set up the client veths"
    # Forwarding stays off: dockerd turns it on, and then sets the FORWARD policy to DROP, as on
    # a fresh Docker host (with forwarding already on it leaves the policy ACCEPT).
    d_link_up() { h_at "$1" ip -br link show eth0 | grep -qw UP; }
    mg_wait_until 5 d_link_up "$D_IN" && mg_wait_until 5 d_link_up "$D_OUT" ||
        mg_fatal "the client veths did not come up"
}

# ---- dockerd ----------------------------------------------------------------------------------

d_start_dockerd() {
    D_WHY=
    local t0 cfg=$D_ROOT/daemon.json
    cat >"$cfg" <<EOF
{
  "deprecated-key-path": "$D_ROOT/key.json",
  "storage-driver": "overlay2",
  "ipv6": true,
  "fixed-cidr-v6": "$D_V6NET",
  "experimental": true,
  "ip6tables": true,
  "log-level": "info"
}
EOF
    t0=$(mg_now_us)
    "${MG_ORPHAN_GUARD[@]}" nsenter -t "$D_H" -n -- unshare -m --propagation private -- \
        env PATH="$D_PATH" /bin/bash "$D_DIR/dockerd_launch.sh" run --data-root "$D_ROOT/data" --exec-root "$D_ROOT/exec" \
        --pidfile "$D_ROOT/dockerd.pid" -H "unix://$D_SOCK" --bip "$D_BIP" --config-file "$cfg" \
        --cgroup-parent "/$D_NAME" >>"$D_LOG" 2>&1 &
    D_PID=$!
    MG_PIDS+=("$D_PID")
    d_up() { mg_gone "$D_PID" && return 0; d_docker version >/dev/null 2>&1; }
    mg_wait_until 30 d_up
    if mg_gone "$D_PID"; then
        D_WHY="dockerd exited: $(grep -E 'level=(fatal|error)|failed|Error' "$D_LOG" | tail -n 3 | tr '\n' ' ')"
        D_PID=
        return 1
    fi
    if ! d_docker version >/dev/null 2>&1; then
        D_WHY="dockerd did not answer on $D_SOCK within 30 s: $(tail -n 3 "$D_LOG" | tr '\n' ' ')"
        d_stop_dockerd
        return 1
    fi
    D_MNTNS=$(readlink "/proc/$D_PID/ns/mnt")
    d_log "dockerd up in $(mg_ms_since "$t0") ms (pid $D_PID)"
}

# d_stop_dockerd : SIGTERM, wait (20 s), then SIGKILL
d_stop_dockerd() {
    [ -n "$D_PID" ] || return 0
    kill -TERM "$D_PID" 2>/dev/null
    mg_wait_exit "$D_PID" 20 || { kill -KILL "$D_PID" 2>/dev/null; mg_wait_exit "$D_PID" 5; }
    D_PID=
}

d_restart_dockerd() {
    d_stop_dockerd
    d_start_dockerd
}

d_image() {
    local tar t0
    t0=$(mg_now_us)
    tar=$("$D_DIR/rootfs_cache.sh") || { D_WHY="no memcached rootfs (rootfs_cache.sh failed)"; return 1; }
    d_docker import - local/memcached <"$tar" >/dev/null ||
        { D_WHY="docker import of $tar failed"; return 1; }
    d_log "image local/memcached imported in $(mg_ms_since "$t0") ms"
}

# d_ct_answers [ADDRESS] : the container's memcached answers on its own address (default the
# IPv4 one), from H: H's output path, which no guard of ours is on
d_ct_answers() {
    d_at_h "$MG_PYTHON" "$D_PROBE" version tcp "${1:-$D_CT4}" --timeout 0.5 >/dev/null 2>&1
}

d_run_memcached() {
    local t0 ip
    t0=$(mg_now_us)
    d_docker run -d --name memcached --restart unless-stopped "${D_RUN_ARGS[@]}" \
        local/memcached memcached -u nobody -U 11211 >/dev/null ||
        { D_WHY="docker run failed"; return 1; }
    ip=$(d_docker inspect -f '{{.NetworkSettings.IPAddress}}' memcached)
    [ "$ip" = "$D_CT4" ] || { D_WHY="the container got $ip, not $D_CT4"; return 1; }
    mg_wait_until 10 d_ct_answers || { D_WHY="memcached in the container does not answer"; return 1; }
    D_CT6_REAL=$(d_docker inspect -f '{{.NetworkSettings.GlobalIPv6Address}}' memcached)
    # Docker's IPv6 address goes through duplicate address detection first: wait for it.
    [ -z "$D_CT6_REAL" ] || mg_wait_until 10 d_ct_answers "$D_CT6_REAL" ||
        { D_WHY="memcached in the container does not answer on $D_CT6_REAL"; return 1; }
    d_log "container up in $(mg_ms_since "$t0") ms (${D_CT4}, ${D_CT6_REAL:-no IPv6})"
}

# ---- Docker's iptables -------------------------------------------------------------------------

d_xt() { # d_xt 4|6 TOOL-SUFFIX ARGS... : iptables of the variant dockerd uses, in H
    local fam=$1 suffix=$2
    shift 2
    local tool=iptables
    [ "$fam" = 6 ] && tool=ip6tables
    d_at_h "$tool-$D_XT$suffix" "$@"
}

# ---- probes and Docker's rules ---------------------------------------------------------------

# d_version NS PROTO DST [TIMEOUT]
d_version() {
    timeout 5 nsenter -t "$1" -n -- "$MG_PYTHON" "$D_PROBE" version "$2" "$3" --timeout "${4:-1}" 2>&1 |
        head -n 1
}

# Docker's rules in H, in the words of the iptables variant dockerd uses (both families, the
# tables Docker writes: filter and nat; counters and comments dropped), and, when that is
# iptables-nft, the nftables tables they live in (`nft list ruleset` without our tables `inet
# memguard*` and without counters). Lines of ours (comment memguard, chain MEMGUARD) are left
# out. (The legacy mangle table is ours to make: Docker 20.10 writes none.)
d_docker_rules() {
    local fam t
    for fam in 4 6; do
        echo "# ipv$fam"
        for t in filter nat; do
            d_xt $fam -save -t $t 2>/dev/null | sed -e '/^#/d' -e 's/ \[[0-9]*:[0-9]*\]$//' -e 's/\[[0-9]*:[0-9]*\]$//' |
                grep -vE 'memguard|MEMGUARD'
        done
    done
    if [ "$D_XT" = nft ] && command -v nft >/dev/null; then
        echo "# nft"
        d_at_h nft list ruleset 2>/dev/null | awk '/^table inet memguard/ { skip = 1 } !skip { print } skip && /^}/ { skip = 0 }' |
            sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'
    fi
    return 0
}

# ---- teardown ----------------------------------------------------------------------------------

d_launch() { # d_launch MODE ARGS... : dockerd_launch.sh in a mount namespace of its own, in H
    timeout 20 nsenter -t "$D_H" -n -- unshare -m --propagation private -- \
        /bin/bash "$D_DIR/dockerd_launch.sh" "$@"
}

# d_left : the pids in dockerd's mount namespace
d_left() {
    local p
    [ -n "$D_MNTNS" ] || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$D_MNTNS" ] && echo "${p#/proc/}"
    done
    return 0
}
d_none_left() { [ -z "$(d_left)" ]; }

d_teardown() {
    local pid leftover=0 names=""
    [ -n "${D_H:-}" ] || return 0
    local t0
    t0=$(mg_now_us)
    if [ -n "$D_PID" ] && ! mg_gone "$D_PID"; then
        d_docker ps -aq 2>/dev/null | xargs -r timeout 30 "$D_DOCKER_BIN" -H "unix://$D_SOCK" rm -f >/dev/null 2>&1
        d_log "teardown: containers removed ($(mg_ms_since "$t0") ms)"
        d_stop_dockerd
        d_log "teardown: dockerd stopped ($(mg_ms_since "$t0") ms)"
    fi
    # What dockerd left: processes in its mount namespace (containerd, shims, docker-proxy) or in
    # the test's cgroups (the containers'). Given 3 s to go by themselves (containerd finishes
    # after dockerd), then only those, each by its pid.
    [ -n "$D_MNTNS" ] && mg_wait_until 3 d_none_left
    for pid in $(d_left); do
        names+=" $(cat "/proc/$pid/comm" 2>/dev/null)"
        kill -KILL "$pid" 2>/dev/null && leftover=$((leftover + 1))
    done
    if [ -n "${D_NAME:-}" ]; then
        for pid in $(d_launch procs "$D_NAME" 2>/dev/null); do
            names+=" $(cat "/proc/$pid/comm" 2>/dev/null)"
            kill -KILL "$pid" 2>/dev/null && leftover=$((leftover + 1))
        done
        [ $leftover = 0 ] || { echo "     teardown: killed $leftover process(es) dockerd left:$names"; sleep 0.5; }
        d_launch rmcgroups "$D_NAME" || echo "     teardown: cgroup dirs /$D_NAME not all removed"
    fi
}
