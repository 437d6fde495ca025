# shellcheck shell=bash disable=SC2034  # variables read inside eval strings
# Shared harness for the daemon tests (sourced, not run).
#
# Every test script starts with
#     . "$(dirname "$0")/lib.sh"; mg_init "$@"
# which re-executes the script inside a network namespace of its own
# (`unshare -n`), so netfilter is only ever touched in a namespace the test
# made; the namespace, and every rule in it, is gone when the script exits.
# It also makes a temp dir ($TMP), sets MEMGUARD_RUNTIME_DIRECTORY, and installs a trap
# that stops every process the test started (daemon, listener, loops).
#
# Results: `pass MSG` / `fail MSG` / `check MSG CMD...` (tests/lib/check.sh) print one line each;
# `mg_finish` prints "N passed, N failed" and exits non-zero on any failure, or when no check ran.
# Waits are polls with a deadline (`mg_wait_until`), never a bare sleep.

set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export LC_ALL=C

MG_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MG_PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$MG_PYTHON" ] || MG_PYTHON=python3
MG_TAG=memguard # the comment memguardd puts on each of its rules
MG_PORT=11211

# Children get SIGTERM if this script dies without running its trap (SIGKILL,
# e.g. a harness timeout), so no daemon outlives its test.
MG_ORPHAN_GUARD=()
setpriv --help 2>/dev/null | grep -q pdeathsig && MG_ORPHAN_GUARD=(setpriv --pdeathsig TERM)

# shellcheck source=../lib/check.sh
. "$MG_HERE/../lib/check.sh"
MG_PIDS=()    # processes to stop on exit
MG_LOGS=()    # daemon stderr files, shown when something failed

mg_show_logs() {
    local f
    for f in "${MG_LOGS[@]}"; do
        [ -s "$f" ] || continue
        echo "---- last lines of $(basename "$f") ----"
        tail -n 40 "$f"
    done
    for f in "$TMP"/*.notify; do
        [ -s "$f" ] || continue
        echo "---- $(basename "$f") ----"
        tail -n 20 "$f"
    done
}

mg_finish() {
    [ "$CHECK_FAILED" -gt 0 ] && mg_show_logs
    check_summary
    exit $?
}

# A precondition failed; the remaining checks would be noise.
mg_fatal() {
    fail "$*"
    mg_finish
}

mg_skip() {
    echo "SKIP: $*"
    exit 77
}

# mg_is_child PID : PID is (still) a child of this script, not a reused pid
mg_is_child() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    set -- $stat
    [ "$2" = "$$" ]
}

mg_cleanup() {
    local pid i
    local -a mine=()
    for pid in "${MG_PIDS[@]}"; do
        mg_is_child "$pid" && mine+=("$pid")
    done
    for pid in "${mine[@]}"; do
        kill -CONT "$pid" 2>/dev/null # in case the listener froze it
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${mine[@]}"; do
        for ((i = 0; i < 40; i++)); do
            mg_gone "$pid" && break
            sleep 0.05
        done
        mg_gone "$pid" || kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    [ -n "${TMP:-}" ] && [ -z "${MG_KEEP_TMP:-}" ] && rm -rf "$TMP"
}

# mg_init MEMGUARDD [--no-netns | --private-run]
#   --no-netns     the test touches no netfilter (no namespace, no root needed)
#   --private-run  also a private mount namespace with a tmpfs on /run, so the
#                  test may hold /run/xtables.lock without stalling anybody else
mg_init() {
    MEMGUARDD=${1:-}
    local mode=${2:-}
    [ -n "$MEMGUARDD" ] || { echo "usage: $0 /path/to/memguardd" >&2; exit 2; }
    [ -x "$MEMGUARDD" ] || { echo "FAIL memguardd binary not found: $MEMGUARDD"; echo "0 passed, 1 failed"; exit 1; }
    MEMGUARDD=$(realpath "$MEMGUARDD")
    if [ "$mode" != --no-netns ]; then
        [ "$(id -u)" = 0 ] || mg_skip "must run as root (network namespace, netfilter)"
        local here_ns here_mnt
        here_ns=$(readlink /proc/self/ns/net)
        here_mnt=$(readlink /proc/self/ns/mnt)
        if [ -z "${MG_PARENT_NETNS:-}" ]; then
            command -v unshare >/dev/null || mg_skip "unshare (util-linux) not installed"
            command -v iptables-legacy >/dev/null || mg_skip "iptables-legacy not installed"
            export MG_PARENT_NETNS=$here_ns MG_PARENT_MNTNS=$here_mnt
            if [ "$mode" = --private-run ]; then
                exec unshare -n -m --propagation private -- /bin/bash "$0" "$MEMGUARDD" "$mode"
            fi
            exec unshare -n -- /bin/bash "$0" "$MEMGUARDD" "$mode"
        fi
        # Never touch the tables of a namespace this script did not make.
        if [ "$here_ns" = "$MG_PARENT_NETNS" ]; then
            echo "FAIL not in a private network namespace (still $here_ns); refusing to touch netfilter"
            echo "0 passed, 1 failed"
            exit 1
        fi
        if [ "$mode" = --private-run ]; then
            if [ "$here_mnt" = "$MG_PARENT_MNTNS" ] || ! mount -t tmpfs -o mode=0755 tmpfs /run; then
                echo "FAIL cannot get a private /run (mount namespace $here_mnt)"
                echo "0 passed, 1 failed"
                exit 1
            fi
        fi
        if iptables-legacy-save 2>/dev/null | grep -q '^-A' ||
            ip6tables-legacy-save 2>/dev/null | grep -q '^-A'; then
            echo "FAIL the new namespace already holds iptables rules; refusing to run"
            echo "0 passed, 1 failed"
            exit 1
        fi
    fi
    TMP=$(mktemp -d /tmp/memguardd-daemon-test.XXXXXX)
    chmod 700 "$TMP"
    trap mg_cleanup EXIT
    trap 'exit 130' INT TERM
    export MEMGUARD_RUNTIME_DIRECTORY=$TMP/run
    mkdir -p "$MEMGUARD_RUNTIME_DIRECTORY"
    # The daemon keeps its last good policy there (the daemon makes it): never a shared
    # /var/lib/memguardd, which a test running beside this one would read.
    export STATE_DIRECTORY=$TMP/state
    # The daemon must log to stderr (not journald) and not see a real service manager.
    unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID JOURNAL_STREAM LISTEN_FDS LISTEN_PID
}

# ---- time and waiting -------------------------------------------------------

mg_now_us() { echo "${EPOCHREALTIME/./}"; }

# mg_ms_since START_US -> milliseconds elapsed
mg_ms_since() { echo $((($(mg_now_us) - $1) / 1000)); }

# mg_wait_until SECONDS CMD... : poll CMD every 20 ms until it succeeds (0) or
# the deadline passes (1).
mg_wait_until() {
    local limit_us end
    limit_us=$(awk -v s="$1" 'BEGIN { printf "%d", s * 1000000 }')
    shift
    end=$(($(mg_now_us) + limit_us))
    while :; do
        "$@" && return 0
        [ "$(mg_now_us)" -ge "$end" ] && return 1
        sleep 0.02
    done
}

# ---- netfilter helpers -------------------------------------------------------

mg_ipt() { # mg_ipt ipv4|ipv6 ARGS... : the legacy tool of that family, waiting for the lock
    if [ "$1" = ipv4 ]; then shift; iptables-legacy -w 5 "$@"; else shift; ip6tables-legacy -w 5 "$@"; fi
}

# The whole save output (all tables), without comments and counters, so two
# snapshots compare byte for byte.
mg_save_all() {
    local tool=iptables-legacy-save
    [ "$1" = ipv6 ] && tool=ip6tables-legacy-save
    "$tool" | sed -e '/^#/d' -e 's/ \[[0-9]*:[0-9]*\]$//'
}
mg_save() { # filter table only
    local tool=iptables-legacy-save
    [ "$1" = ipv6 ] && tool=ip6tables-legacy-save
    "$tool" -t filter | sed -e '/^#/d' -e 's/ \[[0-9]*:[0-9]*\]$//'
}
mg_ours() { mg_save "$1" | grep -E "$MG_TAG|MEMGUARD"; }
mg_foreign() { mg_save "$1" | grep -vE "$MG_TAG|MEMGUARD"; }

# One transaction, like a single iptables command: lines of iptables-restore input.
# mg_tamper FAMILY 'LINE' ...
mg_tamper() {
    local fam=$1 tool=iptables-legacy-restore
    shift
    [ "$fam" = ipv6 ] && tool=ip6tables-legacy-restore
    { echo '*filter'; printf '%s\n' "$@"; echo COMMIT; } | "$tool" -w 5 --noflush
}

# mg_expect FAMILY [--fail-closed] [NETWORK...] : our lines of `-save -t filter`
# (as mg_ours prints them) for ports [11211], tcp+udp, drop; networks of the
# other family are left out, like the daemon does.
mg_expect() {
    local fam=$1 fail_closed=0 net
    shift
    [ "${1:-}" = --fail-closed ] && { fail_closed=1; shift; }
    echo ":MEMGUARD -"
    echo "-A INPUT -p tcp -m tcp --dport $MG_PORT -m comment --comment $MG_TAG -j MEMGUARD"
    echo "-A INPUT -p udp -m udp --dport $MG_PORT -m comment --comment $MG_TAG -j MEMGUARD"
    echo "-A MEMGUARD -i lo -m comment --comment $MG_TAG -j ACCEPT"
    [ $fail_closed = 1 ] ||
        echo "-A MEMGUARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment $MG_TAG -j ACCEPT"
    for net in "$@"; do
        case $net in
        *:*) [ "$fam" = ipv6 ] || continue ;;
        *) [ "$fam" = ipv4 ] || continue ;;
        esac
        echo "-A MEMGUARD -s $net -m comment --comment $MG_TAG -j ACCEPT"
    done
    echo "-A MEMGUARD -p tcp -m comment --comment $MG_TAG -j DROP"
    echo "-A MEMGUARD -m comment --comment $MG_TAG -j DROP"
}

# mg_rules_ok FAMILY EXPECTED_FILE : our lines are exactly the expected ones and
# our jumps are the very first rules of INPUT.
mg_rules_ok() {
    local fam=$1 want=$2 save
    save=$(mg_save "$fam") || return 1
    [ "$(grep -E "$MG_TAG|MEMGUARD" <<<"$save")" = "$(cat "$want")" ] || return 1
    [ "$(grep '^-A INPUT' <<<"$save" | head -n "$(grep -c '^-A INPUT' "$want")")" = \
        "$(grep '^-A INPUT' "$want")" ]
}

# mg_check_C FAMILY EXPECTED_FILE : `iptables-legacy -C` finds every expected rule.
mg_check_C() {
    local fam=$1 line missing=0
    local -a spec
    while read -r line; do
        case $line in -A\ *) ;; *) continue ;; esac
        read -ra spec <<<"${line#-A }"
        mg_ipt "$fam" -C "${spec[@]}" 2>/dev/null || { echo "     -C failed: $line"; missing=1; }
    done <"$2"
    return $missing
}

# mg_diff_report WANT_FILE GOT_TEXT : show how two rule lists differ.
mg_diff_report() {
    diff -u "$1" <(echo "$2") | sed -n '3,$s/^/     /p'
}

# A foreign rule set, like an admin's or docker's: must survive every apply/repair.
mg_add_foreign() {
    local fam=$1 net=198.51.100.0/24
    [ "$fam" = ipv6 ] && net=2001:db8:51::/48
    mg_ipt "$fam" -A INPUT -p tcp --dport 22 -j ACCEPT &&
        { mg_ipt "$fam" -N FOREIGN 2>/dev/null || true; } &&
        mg_ipt "$fam" -A FOREIGN -s "$net" -p tcp --dport 80 -j ACCEPT &&
        mg_ipt "$fam" -A INPUT -j FOREIGN
}
mg_foreign_present() {
    local fam=$1 net=198.51.100.0/24
    [ "$fam" = ipv6 ] && net=2001:db8:51::/48
    mg_ipt "$fam" -C INPUT -p tcp --dport 22 -j ACCEPT 2>/dev/null &&
        mg_ipt "$fam" -C FOREIGN -s "$net" -p tcp --dport 80 -j ACCEPT 2>/dev/null &&
        mg_ipt "$fam" -C INPUT -j FOREIGN 2>/dev/null
}

# ---- config -------------------------------------------------------------------

# mg_write_config FILE INTERVAL NETWORK... : a valid config, root-owned, 0600,
# replaced atomically (a reader never sees half a file).
mg_write_config() {
    local file=$1 interval=$2 nets="" n
    shift 2
    for n in "$@"; do nets="$nets${nets:+, }\"$n\""; done
    mg_write_raw "$file" "{
  \"ports\": [$MG_PORT],
  \"protocols\": [\"tcp\", \"udp\"],
  \"allow\": [$nets],
  \"allow_loopback\": true,
  \"accept_established\": true,
  \"action\": \"drop\",
  \"metrics_file\": null,
  \"verify_interval_s\": $interval
}"
}
mg_write_raw() {
    printf '%s\n' "$2" >"$1.tmp" && chmod 600 "$1.tmp" && chown root:root "$1.tmp" && mv -f "$1.tmp" "$1"
}

# ---- notify listener and daemon -----------------------------------------------

# mg_start_listener NAME [listener options...] : socket $TMP/NAME.sock, output
# $TMP/NAME.notify; sets MG_NOTIFY (socket) and MG_NOTIFY_OUT (output).
mg_start_listener() {
    local name=$1
    shift
    MG_NOTIFY=$TMP/$name.sock
    MG_NOTIFY_OUT=$TMP/$name.notify
    : >"$MG_NOTIFY_OUT"
    "${MG_ORPHAN_GUARD[@]}" "$MG_PYTHON" "$MG_HERE/notify_listener.py" "$@" "$MG_NOTIFY" "$MG_NOTIFY_OUT" \
        2>"$TMP/$name.listener.err" &
    MG_PIDS+=($!)
    mg_wait_until 5 test -S "$MG_NOTIFY" ||
        mg_fatal "notify listener did not bind $MG_NOTIFY within 5 s: $(cat "$TMP/$name.listener.err")"
}

# mg_start_daemon NAME CONFIG [VAR=value...] : runs `memguardd run --config
# CONFIG` in the background with NOTIFY_SOCKET=$MG_NOTIFY; stderr goes to
# $TMP/NAME.err (MG_ERR); the pid is MG_DAEMON.
mg_start_daemon() {
    local name=$1 config=$2
    shift 2
    MG_ERR=$TMP/$name.err
    MG_LOGS+=("$MG_ERR")
    "${MG_ORPHAN_GUARD[@]}" env NOTIFY_SOCKET="$MG_NOTIFY" "$@" "$MEMGUARDD" run --config "$config" 2>"$MG_ERR" &
    MG_DAEMON=$!
    MG_PIDS+=("$MG_DAEMON")
}

# mg_daemon_field NAME : what the running daemon says of itself (status --json's .daemon.NAME)
mg_daemon_field() {
    "$MEMGUARDD" status --json --config /nonexistent 2>/dev/null | jq -r ".daemon.$1"
}

# mg_notify_count MESSAGE [FILE] : how many lines equal MESSAGE (e.g. READY=1)
mg_notify_count() {
    awk -F '\t' -v m="$1" '$4 == m { n++ } END { print n + 0 }' "${2:-$MG_NOTIFY_OUT}"
}
# mg_wait_notify MESSAGE COUNT SECONDS : until at least COUNT lines equal MESSAGE
mg_wait_notify() {
    mg_wait_until "$3" mg_notify_at_least "$1" "$2"
}
mg_notify_at_least() { [ "$(mg_notify_count "$1")" -ge "$2" ]; }
# mg_notify_field MESSAGE N COLUMN : column (1 ts, 2 seq, 3 pid) of the Nth line equal to MESSAGE
mg_notify_field() {
    awk -F '\t' -v m="$1" -v n="$2" -v c="$3" '$4 == m && ++k == n { print $c; exit }' "$MG_NOTIFY_OUT"
}
# mg_notify_lines_of_seq SEQ : every line of datagram SEQ
mg_notify_datagram() {
    awk -F '\t' -v s="$1" '$2 == s { print $4 }' "$MG_NOTIFY_OUT"
}

# mg_gone PID : PID has exited (a zombie counts as exited)
mg_gone() {
    ! kill -0 "$1" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# mg_wait_exit PID SECONDS : wait for PID (a child) to exit; sets MG_EXIT_STATUS
mg_wait_exit() {
    local pid=$1
    if mg_wait_until "$2" mg_gone "$pid"; then
        wait "$pid"
        MG_EXIT_STATUS=$?
        return 0
    fi
    MG_EXIT_STATUS=
    return 1
}

# Log lines written since byte offset OFF of FILE.
mg_log_since() { tail -c +"$(($2 + 1))" "$1"; }
mg_log_size() { stat -c %s "$1"; }

# ---- both backends --------------------------------------------------------------
# Added for the tests that run against either backend. tests/hostile and tests/backends source
# this file too: the functions above keep their behaviour, these only add to them.
#
# Such a test takes the backend after the binary and starts with
#     . "$(dirname "$0")/lib.sh"; mg_backend "$@"; mg_init "$1" [MODE]
# mg_init re-executes the script with the binary (and the mode) only, so the backend goes
# through the environment: MG_BACKEND. None named: iptables-legacy, as before nftables.
mg_backend() {
    case ${2:-} in
    iptables-legacy | nftables) export MG_BACKEND=$2 ;;
    '' | --*) ;;
    *) echo "usage: $0 MEMGUARDD [iptables-legacy|nftables]" >&2; exit 2 ;;
    esac
    export MG_BACKEND=${MG_BACKEND:-iptables-legacy}
    if [ "$MG_BACKEND" = nftables ]; then
        command -v nft >/dev/null || mg_skip "nft not installed"
    fi
}
mg_is_nft() { [ "${MG_BACKEND:-}" = nftables ]; }

# mg_backend_config FILE : puts "backend": MG_BACKEND first in the config in FILE
mg_backend_config() {
    mg_write_raw "$1" "$(sed "0,/{/s//{\"backend\": \"$MG_BACKEND\", /" "$1")"
}
# mg_config FILE INTERVAL NETWORK... : mg_write_config, for the test's backend
mg_config() { mg_write_config "$@" && mg_backend_config "$1"; }

# Counters move with every blocked packet; the table's flags (owner) and its owner's name go
# with the daemon that holds it (an unowned table has no flags line, and nft prints a blank
# line after one): none of these is compared. nft wraps a long list of elements where it likes:
# the list is joined on one line.
mg_nft_strip() {
    sed -E ':a; /,$/{N; s/,\n[[:space:]]*/, /; ba}
        s/counter packets [0-9]+ bytes [0-9]+/counter/; s/ # progname .*//; /^\tflags( .*)?$/d; /^$/d'
}
# mg_nft_table : our table as `nft list table inet memguard` shows it, stripped
mg_nft_table() { nft list table inet memguard 2>/dev/null | mg_nft_strip; }

# mg_ours_text : everything of ours in the kernel, in the words of the backend's own tool
mg_ours_text() {
    if mg_is_nft; then
        mg_nft_table
    else
        mg_ours ipv4
        mg_ours ipv6
        ipset save 2>/dev/null | grep -E '^(create|add) memguard[46] '
    fi
    return 0
}

# mg_nft_jumps CHAIN PRIORITY FORMAT : one of our base chains as mg_nft_table prints it: the
# accept of packets to other ports, then the jumps; FORMAT takes family, protocol, port and family
mg_nft_jumps() {
    local fam proto
    printf '\tchain %s {\n\t\tcomment "memguard"\n' "$1"
    printf '\t\ttype filter hook %s priority %s; policy accept;\n' "$1" "$2"
    if [ "$1" = forward ]; then
        for proto in tcp udp; do
            printf '\t\tmeta l4proto %s ct original proto-dst != %s accept comment "memguard"\n' $proto "$MG_PORT"
        done
    else
        printf '\t\tth dport != %s accept comment "memguard"\n' "$MG_PORT"
    fi
    for fam in 4 6; do
        for proto in tcp udp; do
            # shellcheck disable=SC2059 # the format is the caller's
            printf "\t\t$3 comment \"memguard\"\n" $fam $proto "$MG_PORT" $fam
        done
    done
    printf '\t}\n'
}

# mg_nft_expect NETWORK... : the table (as mg_nft_table prints it) for port 11211, tcp+udp,
# loopback and established accepted, drop (tcp, then the rest); the networks in allow4/allow6, in address order.
mg_nft_expect() {
    local fam ip saddr proto
    local -a nets
    printf 'table inet memguard {\n\tcomment "memguardd"\n'
    for fam in 4 6; do
        mapfile -t nets < <("$MG_PYTHON" -c '
import ipaddress, sys
fam = int(sys.argv[1])
nets = [ipaddress.ip_network(n) for n in sys.argv[2:] if ipaddress.ip_network(n).version == fam]
print("\n".join(str(n) for n in sorted(nets)))' "$fam" "$@")
        printf '\tset allow%s {\n\t\ttype ipv%s_addr\n\t\tflags interval\n\t\tcomment "memguard"\n' $fam $fam
        if [ -n "${nets[0]:-}" ]; then
            printf '\t\telements = { %s }\n' "$(printf '%s, ' "${nets[@]}" | sed 's/, $//')"
        fi
        printf '\t}\n'
    done
    mg_nft_jumps input "filter - 10" 'meta nfproto ipv%s %s dport %s jump guard%s'
    mg_nft_jumps prerouting "dstnat - 10" 'meta nfproto ipv%s %s dport %s fib daddr type local jump guard%s'
    mg_nft_jumps forward mangle 'meta nfproto ipv%s meta l4proto %s ct direction original ct status dnat ct original proto-dst %s jump guard%s'
    for fam in 4 6; do
        ip=ip
        [ $fam = 6 ] && ip=ip6
        printf '\tchain guard%s {\n\t\tcomment "memguard"\n' $fam
        printf '\t\tiifname "lo" accept comment "memguard"\n'
        printf '\t\tmeta l4proto udp fib saddr . iif oif missing counter drop comment "memguard"\n'
        printf '\t\tct state established,related accept comment "memguard"\n'
        printf '\t\t%s saddr @allow%s accept comment "memguard"\n' $ip $fam
        printf '\t\tmeta l4proto tcp counter drop comment "memguard"\n'
        printf '\t\tcounter drop comment "memguard"\n\t}\n'
    done
    printf '}\n'
}

# mg_want FILE [--fail-closed] NETWORK... : what the backend should hold: FILE.ipv4 and
# FILE.ipv6 (mg_expect) for iptables-legacy; FILE.nft (mg_nft_expect) and FILE.nets for
# nftables (there the fail-closed rules are not covered: our fail-closed daemon picks the backend
# by "auto").
mg_want() {
    local file=$1
    shift
    mg_expect ipv4 "$@" >"$file.ipv4"
    mg_expect ipv6 "$@" >"$file.ipv6"
    [ "${1:-}" = --fail-closed ] && shift
    mg_nft_expect "$@" >"$file.nft"
    printf '%s\n' "$@" >"$file.nets"
}
# mg_want_ok FILE : our rules are exactly FILE's (legacy: mg_rules_ok, jumps on top of INPUT,
# both families; nftables: the table, text for text)
mg_want_ok() {
    if mg_is_nft; then
        [ "$(mg_nft_table)" = "$(cat "$1.nft")" ]
    else
        mg_rules_ok ipv4 "$1.ipv4" && mg_rules_ok ipv6 "$1.ipv6"
    fi
}
# mg_want_report FILE : how our rules differ from FILE's
mg_want_report() {
    if mg_is_nft; then
        mg_diff_report "$1.nft" "$(mg_nft_table)"
    else
        mg_diff_report "$1.ipv4" "$(mg_ours ipv4)"
        mg_diff_report "$1.ipv6" "$(mg_ours ipv6)"
    fi
}
# mg_want_C FILE : the kernel finds each rule by itself: iptables -C of every rule
# (mg_check_C), or `nft get element` of every allowed network in its set
mg_want_C() {
    local net set missing=0
    if ! mg_is_nft; then
        mg_check_C ipv4 "$1.ipv4" && mg_check_C ipv6 "$1.ipv6"
        return
    fi
    while read -r net; do
        case $net in '' | --*) continue ;; *:*) set=allow6 ;; *) set=allow4 ;; esac
        nft get element inet memguard $set "{ $net }" >/dev/null 2>&1 ||
            { echo "     nft get element $set { $net } failed"; missing=1; }
    done <"$1.nets"
    return $missing
}

# Foreign rules of both kinds: the legacy ones of mg_add_foreign (both families) and, for
# nftables, a table of somebody else's with an accept for port 22. Ours must leave them all.
mg_add_foreign_all() {
    mg_add_foreign ipv4 && mg_add_foreign ipv6 || return 1
    mg_is_nft || return 0
    nft -f - <<'NFT'
table inet foreign {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 22 accept
    }
}
NFT
}
mg_foreign_all_present() {
    mg_foreign_present ipv4 && mg_foreign_present ipv6 || return 1
    mg_is_nft || return 0
    nft list chain inet foreign input 2>/dev/null | grep -q 'tcp dport 22 accept'
}
# mg_kernel_all : the whole of netfilter that a backend can touch, to compare byte for byte:
# both legacy save outputs, and for nftables the whole ruleset (stripped as mg_nft_strip does)
mg_kernel_all() {
    mg_save_all ipv4
    mg_save_all ipv6
    if mg_is_nft; then nft list ruleset | mg_nft_strip; fi
}

# mg_client_veth [ADDR/LEN...] : a fresh client namespace (CLIENT; `cli CMD...` runs there) joined
# to ours by the veth pair SRV_IF/CLI_IF: SRV4/24 and SRV6/64 here, CLI4/24, CLI6/64 and every
# ADDR/LEN there; waits until both ends are up
mg_client_veth() {
    "${MG_ORPHAN_GUARD[@]}" unshare -n -- sleep 600 &
    CLIENT=$!
    MG_PIDS+=("$CLIENT")
    local own_ns extra
    own_ns=$(readlink /proc/self/ns/net)
    client_ns_ready() {
        local ns
        ns=$(readlink "/proc/$CLIENT/ns/net" 2>/dev/null) || return 1
        [ "$ns" != "$own_ns" ] && [ "$ns" != "$MG_PARENT_NETNS" ] && [ "$(cat "/proc/$CLIENT/comm")" = sleep ]
    }
    mg_wait_until 5 client_ns_ready || mg_fatal "the client namespace (unshare -n sleep) did not come up"
    cli() { nsenter -t "$CLIENT" -n -- "$@"; }
    [ -z "$(cli ip -o addr show)" ] || mg_fatal "the client namespace is not a fresh one"
    ip link set lo up &&
        ip link add "$SRV_IF" type veth peer name "$CLI_IF" netns "$CLIENT" &&
        ip addr add "$SRV4/24" dev "$SRV_IF" &&
        ip addr add "$SRV6/64" dev "$SRV_IF" nodad &&
        ip link set "$SRV_IF" up &&
        cli ip link set lo up &&
        cli ip addr add "$CLI4/24" dev "$CLI_IF" &&
        cli ip addr add "$CLI6/64" dev "$CLI_IF" nodad || mg_fatal "cannot set up the veth pair"
    for extra in "$@"; do
        # shellcheck disable=SC2046 # nodad: IPv6 only
        cli ip addr add "$extra" dev "$CLI_IF" $([[ $extra == *:* ]] && echo nodad) ||
            mg_fatal "cannot add $extra to $CLI_IF"
    done
    cli ip link set "$CLI_IF" up || mg_fatal "cannot set $CLI_IF up"
    link_up() { ip -br link show "$SRV_IF" | grep -qw UP && cli ip -br link show "$CLI_IF" | grep -qw UP; }
    mg_wait_until 5 link_up || mg_fatal "the veth pair did not come up: $(ip -br link; cli ip -br link)"
}
