#!/bin/bash
# daemon_watchdog: with WATCHDOG_USEC set (systemd's WatchdogSec=), the
# daemon sends WATCHDOG=1 often enough: here WATCHDOG_USEC=2000000 (it pings every 1 s), so
# >= 3 pings within 5 s and never more than 2 s apart (systemd's own limit). A shorter
# WATCHDOG_USEC made the test measure the scheduler of a loaded 2-core machine instead. WATCHDOG_PID naming
# another process (the variable was meant for someone else) means no pings;
# naming the daemon itself means pings; no WATCHDOG_USEC means no pings.
. "$(dirname "$0")/lib.sh"
mg_init "$@"

USEC=2000000
WINDOW=5
mg_write_config "$TMP/memguard.json" 5 192.168.1.0/24 fd12:3456::/48

# start NAME WATCHDOG_PID-MODE : unset | self | other | off (no WATCHDOG_USEC)
start() {
    local name=$1 mode=$2
    mg_start_listener "$name"
    MG_ERR=$TMP/$name.err
    MG_LOGS+=("$MG_ERR")
    local -a envs=(NOTIFY_SOCKET="$MG_NOTIFY" "WATCHDOG_USEC=$USEC")
    case $mode in
    off) envs=(NOTIFY_SOCKET="$MG_NOTIFY") ;;
    other) envs+=(WATCHDOG_PID=$$) ;; # this script, not the daemon
    esac
    if [ "$mode" = self ]; then
        # exec keeps the pid: WATCHDOG_PID is the daemon's own pid, as systemd sets it
        "${MG_ORPHAN_GUARD[@]}" env "${envs[@]}" /bin/bash -c 'export WATCHDOG_PID=$$; exec "$@"' - \
            "$MEMGUARDD" run --config "$TMP/memguard.json" 2>"$MG_ERR" &
    else
        "${MG_ORPHAN_GUARD[@]}" env "${envs[@]}" "$MEMGUARDD" run --config "$TMP/memguard.json" 2>"$MG_ERR" &
    fi
    MG_DAEMON=$!
    MG_PIDS+=("$MG_DAEMON")
    mg_wait_notify READY=1 1 10 || mg_fatal "$name: no READY=1 within 10 s of starting the daemon"
    READY_TS=$(mg_notify_field READY=1 1 1)
}

stop() {
    kill -TERM "$MG_DAEMON"
    mg_wait_exit "$MG_DAEMON" 10 || fail "$1: the daemon did not exit within 10 s of SIGTERM"
}

# WATCHDOG=1 timestamps (listener clock) from READY=1 on
pings() { awk -F '\t' -v r="$READY_TS" '$4 == "WATCHDOG=1" && $1 >= r { print $1 }' "$MG_NOTIFY_OUT"; }
ping_after_window() { pings | awk -v r="$READY_TS" -v w=$WINDOW '$1 > r + w { f = 1 } END { exit !f }'; }

expect_pings() {
    local name=$1
    if ! mg_wait_until 8 ping_after_window; then
        fail "$name: no WATCHDOG=1 later than $WINDOW s after READY=1 (waited 8 s); got $(pings | wc -l) in all"
        return
    fi
    local stats count maxgap
    stats=$(pings | awk -v r="$READY_TS" -v w=$WINDOW '
        $1 <= r + w { n++; if (n > 1 && $1 - prev > gap) gap = $1 - prev; prev = $1 }
        END { printf "%d %.3f", n, gap }')
    read -r count maxgap <<<"$stats"
    check "$name: $count WATCHDOG=1 within $WINDOW s of READY=1 (>= 3)" [ "$count" -ge 3 ]
    check "$name: at most ${maxgap}s between pings (< WATCHDOG_USEC = 2 s)" \
        awk -v g="$maxgap" 'BEGIN { exit !(g < 2) }'
    check "$name: every WATCHDOG=1 sent by the daemon's main process ($MG_DAEMON)" \
        eval "[ -z \"\$(awk -F '\t' -v p=$MG_DAEMON '\$4 == \"WATCHDOG=1\" && \$3 != p' '$MG_NOTIFY_OUT')\" ]"
}

expect_no_pings() {
    local name=$1 why=$2
    # Observing an absence takes a window: 2.5 s is 2.5 ping periods at this WATCHDOG_USEC.
    sleep 2.5
    check "$name: no WATCHDOG=1 in 2.5 s after READY=1 ($why; got $(mg_notify_count WATCHDOG=1))" \
        [ "$(mg_notify_count WATCHDOG=1)" = 0 ]
}

start watchdog_pid_unset unset
expect_pings "WATCHDOG_USEC=$USEC, WATCHDOG_PID unset"
stop watchdog_pid_unset

start watchdog_pid_self self
expect_pings "WATCHDOG_USEC=$USEC, WATCHDOG_PID=daemon's pid"
stop watchdog_pid_self

start watchdog_pid_other other
expect_no_pings "WATCHDOG_USEC=$USEC, WATCHDOG_PID=another process" "the watchdog is someone else's"
check "WATCHDOG_PID=another process: the daemon keeps running" kill -0 "$MG_DAEMON"
stop watchdog_pid_other

start watchdog_off off
expect_no_pings "no WATCHDOG_USEC" "no watchdog configured"
stop watchdog_off

mg_finish
