# shellcheck shell=bash
# Shared helpers for the netns kernel tests. Sourced by each test script AFTER it has
# re-executed itself under `unshare -n`; nothing in here ever touches the machine's own
# netfilter tables (mg_init refuses to run outside a private network namespace).
#
# Conventions (tests/lib/check.sh): one "PASS ..." / "FAIL ..." line per check, and at the very
# end a line "N passed, N failed"; the script exits non-zero on any failure or abort, or when no
# check ran.

set -o errtrace

MG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/check.sh
. "$MG_LIB_DIR/../lib/check.sh"

MG_DONE=0
MG_T0=$(date +%s.%N)
MG_ERR_LINE=
MG_ERR_CMD=
MG_CLEANUP=()

trap 'MG_ERR_LINE=$LINENO; MG_ERR_CMD=$BASH_COMMAND' ERR
trap mg_on_exit EXIT

mg_on_exit() {
    local rc=$?
    local f
    for f in "${MG_CLEANUP[@]}"; do eval "$f" || true; done
    if [ "$MG_DONE" != 1 ]; then
        fail "test aborted (exit $rc) at line ${MG_ERR_LINE:-(unknown)}: ${MG_ERR_CMD:-(unknown command)}"
        check_summary || true
        [ -n "${MG_WORK:-}" ] && rm -rf "$MG_WORK"
        exit 1
    fi
    [ -n "${MG_WORK:-}" ] && rm -rf "$MG_WORK"
    exit "$rc"
}

# Register a command string to run at exit (e.g. killing a background job we started).
mg_at_exit() { MG_CLEANUP+=("$1"); }

finish() {
    local t1
    t1=$(date +%s.%N)
    awk -v a="$MG_T0" -v b="$t1" 'BEGIN { printf "elapsed: %.1f s\n", b - a }'
    MG_DONE=1
    if check_summary; then exit 0; fi
    exit 1
}

# assert_eq NAME EXPECTED ACTUAL  (multi-line strings; shows a unified diff on mismatch)
assert_eq() {
    if [ "$2" == "$3" ]; then
        pass "$1"
    else
        fail "$1" "$(diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tail -n +3)"
    fi
}

# assert_ok NAME CMD...   (command must exit 0)
assert_ok() {
    local name=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if [ "$rc" -eq 0 ]; then
        pass "$name"
    else
        fail "$name" "command: $*" "exit $rc" "$out"
    fi
}

# assert_fails NAME CMD...   (command must exit non-zero)
assert_fails() {
    local name=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ]; then
        pass "$name"
    else
        fail "$name" "command unexpectedly succeeded: $*" "$out"
    fi
}

# assert_match NAME ERE TEXT
assert_match() {
    if grep -Eq -- "$2" <<<"$3"; then
        pass "$1"
    else
        fail "$1" "no line matches /$2/ in:" "$3"
    fi
}

# assert_no_match NAME ERE TEXT
assert_no_match() {
    if grep -Eq -- "$2" <<<"$3"; then
        fail "$1" "unexpected line matching /$2/:" "$(grep -E -- "$2" <<<"$3")"
    else
        pass "$1"
    fi
}

# ---------------------------------------------------------------------------------------
# Namespace safety and setup

# mg_init BINARY : check we are in a private, fresh netns; set MG, MG_WORK.
mg_init() {
    # The re-exec line at the top of each script sets IN_NETNS="outer:<netns of the caller>"
    # and runs the script again under `unshare -n`. Refuse unless we are demonstrably in a
    # namespace other than the caller's, and it looks freshly made: no address on any
    # interface (a new netns has only lo, down, with no address) and empty legacy tables.
    local here
    here=$(readlink /proc/self/ns/net) || here=
    if ! [[ "${IN_NETNS:-}" =~ ^outer:net:\[[0-9]+\]$ ]] || ! [[ "$here" =~ ^net:\[[0-9]+\]$ ]]; then
        echo "FATAL: not started through the unshare -n re-exec (IN_NETNS='${IN_NETNS:-}', here='$here')" >&2
        MG_DONE=1
        exit 1
    fi
    if [ "${IN_NETNS#outer:}" == "$here" ]; then
        echo "FATAL: refusing to run: still in the caller's network namespace $here" >&2
        MG_DONE=1
        exit 1
    fi
    local pid1
    pid1=$(readlink /proc/1/ns/net 2>/dev/null) || pid1=
    if [ -n "$pid1" ] && [ "$pid1" == "$here" ]; then
        echo "FATAL: refusing to run: this is PID 1's network namespace" >&2
        MG_DONE=1
        exit 1
    fi
    local addrs
    addrs=$(ip -o addr show)
    if [ -n "$addrs" ]; then
        echo "FATAL: refusing to run: this network namespace has addresses, it is not a fresh one:" >&2
        echo "$addrs" >&2
        MG_DONE=1
        exit 1
    fi
    local fam
    for fam in 4 6; do
        local table
        table=$(save "$fam")
        if grep -Eq '^-A |^:[A-Za-z0-9_-]+ - ' <<<"$table"; then
            echo "FATAL: the legacy filter table (ipv$fam) of this namespace is not empty" >&2
            save "$fam" >&2
            MG_DONE=1
            exit 1
        fi
    done
    MG=${1:?usage: $0 PATH/TO/memguardd}
    if [ ! -x "$MG" ]; then
        echo "FATAL: $MG is not an executable" >&2
        MG_DONE=1
        exit 1
    fi
    MG_WORK=$(mktemp -d /tmp/memguard-netns.XXXXXX)
    chmod 700 "$MG_WORK"
    # A daemon's last good policy goes there, never to a /var/lib/memguardd other tests share.
    export STATE_DIRECTORY=$MG_WORK/state
    echo "# $(basename "$0") in netns $(readlink /proc/self/ns/net), memguardd=$MG"
}

# ---------------------------------------------------------------------------------------
# iptables-legacy access (the only way these tests look at the kernel)

ipt() { # ipt FAM ARGS...
    local fam=$1
    shift
    if [ "$fam" == 4 ]; then iptables-legacy "$@"; else ip6tables-legacy "$@"; fi
}

# save FAM [-c] : the filter table as iptables-legacy-save prints it, minus "#" lines
# (they carry timestamps).
save() {
    local fam=$1
    shift
    if [ "$fam" == 4 ]; then
        iptables-legacy-save -t filter "$@"
    else
        ip6tables-legacy-save -t filter "$@"
    fi | grep -v '^#'
}

# Lines of a save output that belong to memguardd: its chain header, every rule in its
# chain, every rule jumping to it, anything with its comment.
MG_OURS_RE='^:MEMGUARD |-A MEMGUARD |-j MEMGUARD( |$)|--comment "?memguard'
ours() { grep -E -- "$MG_OURS_RE" || true; }
foreign() { grep -Ev -- "$MG_OURS_RE" || true; }

# foreign_state FAM : everything in the table that is not memguardd's, with counters
foreign_state() { save "$1" -c | foreign; }

# input_rules FAM : the INPUT rules in order, as `-S` prints them (without the -P line)
input_rules() { ipt "$1" -S INPUT | grep -v '^-P '; }

# ---------------------------------------------------------------------------------------
# memguardd

# mg_run ARGS... : runs memguardd; sets MG_RC, MG_OUT (stdout), MG_ERR (stderr)
# shellcheck disable=SC2034 # the callers read them
mg_run() {
    MG_RC=0
    "$MG" "$@" >"$MG_WORK/out" 2>"$MG_WORK/err" || MG_RC=$?
    MG_OUT=$(cat "$MG_WORK/out")
    MG_ERR=$(cat "$MG_WORK/err")
}

# mg_run_daemon CONFIG : `memguardd run --config CONFIG` in the background (MG_DAEMON; stderr in
# $MG_WORK/daemon.err), returning once it said READY=1 on a notify socket of the test's own
# (tests/daemon/notify_listener.py), at most 10 s; non-zero when it did not. Both are stopped at exit.
mg_run_daemon() {
    local sock=$MG_WORK/notify.sock out=$MG_WORK/notify.out _ listener
    : >"$out"
    python3 "$MG_LIB_DIR/../daemon/notify_listener.py" "$sock" "$out" 2>"$MG_WORK/listener.err" &
    listener=$!
    mg_at_exit "kill $listener 2>/dev/null; wait $listener 2>/dev/null"
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    NOTIFY_SOCKET=$sock "$MG" run --config "$1" 2>"$MG_WORK/daemon.err" &
    MG_DAEMON=$!
    mg_at_exit "kill $MG_DAEMON 2>/dev/null; wait $MG_DAEMON 2>/dev/null"
    for _ in $(seq 100); do
        grep -q "$(printf '\t')READY=1\$" "$out" && return 0
        kill -0 "$MG_DAEMON" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# mg_doctor LABEL CONFIG : runs `memguardd doctor --config CONFIG` (mg_run). No daemon runs in
# these tests, so it exits 2 (an exposure); the closing "E exposure(s), W warning(s), N note(s)"
# must match its lines (a finding has a fix line; a note that only gives context has none).
# Sets DOCTOR_COUNTS to "E W N".
# shellcheck disable=SC2034 # the callers read it
mg_doctor() {
    local label=$1 e w fixes
    mg_run doctor --config "$2"
    e=$(grep -c '^EXPOSURE: ' <<<"$MG_OUT" || true)
    w=$(grep -c '^WARNING: ' <<<"$MG_OUT" || true)
    fixes=$(grep -c '^  fix: ' <<<"$MG_OUT" || true)
    DOCTOR_COUNTS="$e $w $((fixes - e - w))"
    assert_eq "$label: no daemon runs here: doctor exits 2" 2 "$MG_RC"
    assert_match "$label: the closing counts match the lines ($e exposure(s), $w warning(s), $fixes fix(es))" \
        "^$e exposure\\(s\\), $w warning\\(s\\), $((fixes - e - w)) note\\(s\\)\$" "$MG_OUT"
}

# changed FAM : the ERE of the line `apply --once` prints for a family it changed, such as
# "ipv4: created chain MEMGUARD with 5 rules, added 2 rules to INPUT, ..." (not "ipv4: unchanged" or
# "ipv4: FAILED")
changed() { echo "^ipv$1: (created|added|replaced|deleted|moved|reloaded|destroyed) "; }

# write_config FILE ACTION NETWORK... : a config like the shipped one, mode 600
write_config() {
    local file=$1 action=$2
    shift 2
    local allow="" n
    for n in "$@"; do allow+="${allow:+, }\"$n\""; done
    cat >"$file" <<EOF
{
  "ports": [11211],
  "protocols": ["tcp", "udp"],
  "allow": [$allow],
  "allow_loopback": true,
  "accept_established": true,
  "action": "$action",
  "verify_interval_s": 5
}
EOF
    chmod 600 "$file"
}

# expected FAM ACTION NETWORK... : the save lines memguardd must own for such a config
# (port 11211, tcp+udp, loopback and established accepted), in save order.
expected() {
    local fam=$1 action=$2 n
    shift 2
    echo ":MEMGUARD - [0:0]"
    echo "-A INPUT -p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD"
    echo "-A INPUT -p udp -m udp --dport 11211 -m comment --comment memguard -j MEMGUARD"
    echo "-A MEMGUARD -i lo -m comment --comment memguard -j ACCEPT"
    echo "-A MEMGUARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment memguard -j ACCEPT"
    for n in "$@"; do
        case "$n" in
        *:*) [ "$fam" == 6 ] && echo "-A MEMGUARD -s $n -m comment --comment memguard -j ACCEPT" ;;
        *) [ "$fam" == 4 ] && echo "-A MEMGUARD -s $n -m comment --comment memguard -j ACCEPT" ;;
        esac
    done
    if [ "$action" == drop ]; then
        echo "-A MEMGUARD -p tcp -m comment --comment memguard -j DROP"
        echo "-A MEMGUARD -m comment --comment memguard -j DROP"
    else
        echo "-A MEMGUARD -p tcp -m comment --comment memguard -j REJECT --reject-with tcp-reset"
        if [ "$fam" == 4 ]; then
            echo "-A MEMGUARD -m comment --comment memguard -j REJECT --reject-with icmp-port-unreachable"
        else
            echo "-A MEMGUARD -m comment --comment memguard -j REJECT --reject-with icmp6-port-unreachable"
        fi
    fi
}

# check_rule FAM "-A CHAIN spec..." : iptables-legacy -C finds exactly that rule
check_rule() {
    local fam=$1 line=$2
    local -a words
    read -ra words <<<"$line"
    [ "${words[0]}" == "-A" ] || return 2
    ipt "$fam" -C "${words[1]}" "${words[@]:2}"
}

# assert_ours_exact PREFIX FAM ACTION NETWORK... :
#   memguardd's lines in the save output are exactly the expected ones (order included),
#   iptables-legacy -C finds each rule, and the jumps are rules 1 and 2 of INPUT.
assert_ours_exact() {
    local prefix=$1 fam=$2
    shift 2
    local want got line
    want=$(expected "$fam" "$@")
    got=$(save "$fam" | ours)
    assert_eq "$prefix: ipv$fam save shows exactly memguardd's expected lines" "$want" "$got"
    local bad=()
    while IFS= read -r line; do
        case "$line" in -A*) check_rule "$fam" "$line" >/dev/null 2>&1 || bad+=("$line") ;; esac
    done <<<"$want"
    if [ ${#bad[@]} -eq 0 ]; then
        pass "$prefix: ipv$fam -C finds every expected rule"
    else
        fail "$prefix: ipv$fam -C does not find:" "${bad[@]}"
    fi
    local top
    top=$(input_rules "$fam" | head -n 2)
    assert_eq "$prefix: ipv$fam jumps are INPUT rules 1 and 2" \
        "$(printf '%s\n' "$want" | grep -E '^-A INPUT ')" "$top"
}
