#!/bin/bash
# backend_squatter_<backend>: no unprivileged process can keep the guard from guarding, or
# speak for it. The squatter is a real unprivileged process (uid 65534, via setpriv) that binds
# the abstract name @memguardd/control, which any local user may take, retries its bind every
# 10 ms, and answers every request with a "healthy" daemon's JSON (pid 1, in sync).
#
#   (a) the daemon starts beside it: READY=1, its rules in, the outside client blocked, the
#       allowed one answered; the log names the squatter's pid and uid; status asks the real
#       daemon (its pid) and names the squatter.
#   (b) a restart while the squatter keeps retrying its bind: the new daemon is READY again.
#   (c) the daemon stopped, our rules taken out: status exits 3 ("not running") and names
#       the squatter; verify does not say "in sync" and exits non-zero.
#   (d) the squatter cannot bind or create anything where the daemon's socket and lock are,
#       and a connect flood from it (5 s) never reaches the daemon, while the daemon keeps
#       repairing on time.
#   (e) a daemon that cannot make its control socket (a directory where the socket goes) still
#       guards, says why, and keeps its instance lock: a second `run` is refused.
# Usage: squatter.sh MEMGUARDD iptables-legacy|nftables   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$@"
h_need setpriv

b_topology
b_config "$CONF" 1 "$H_OK4/32" "$H_OK6/128"
NOBODY=65534

# "${AS_NOBODY[@]}" CMD... : CMD in the server namespace as uid/gid 65534, no groups, no
# capabilities. A command, not a function: started with &, $! is then the process itself (each
# tool execs the next), a child of this script that the cleanup stops, not a subshell whose child
# would outlive the test.
AS_NOBODY=(nsenter -t "$SRV" -n -- setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups
    --inh-caps=-all --bounding-set=-all)

# The squatter: binds @memguardd/control (retrying every 10 ms while someone else holds it),
# prints "bound PID" once bound, and answers every request as a healthy daemon.
start_squatter() {
    "${AS_NOBODY[@]}" "$MG_PYTHON" - >"$TMP/squatter.log" 2>&1 <<'PY' &
import json, os, socket, sys, time
healthy = json.dumps({"pid": 1, "version": "9.9", "backend": "iptables-legacy",
                      "config": "/etc/memguard.json", "fail_closed": False, "families": [],
                      "drift": [], "repaired": False, "errors": []}) + "\n"
while True:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind("\0memguardd/control")
        break
    except OSError:
        s.close()
        time.sleep(0.01)
s.listen(64)
print("bound", os.getpid(), flush=True)
while True:
    c, _ = s.accept()
    try:
        c.settimeout(1)
        c.recv(256)
        c.sendall(healthy.encode())
    except OSError:
        pass
    c.close()
PY
    MG_PIDS+=($!)
}
squatter_pid() { awk '$1 == "bound" { print $2; found = 1 } END { exit !found }' "$TMP/squatter.log"; }

start_squatter
mg_wait_until 5 squatter_pid >/dev/null || mg_fatal "the squatter did not bind @memguardd/control: $(cat "$TMP/squatter.log")"
SQ=$(squatter_pid)
note "squatter: pid $SQ, uid $NOBODY, holds @memguardd/control"

# --- (a) ----------------------------------------------------------------------------------------
mg_start_listener a
h_start_daemon a "$CONF"
mg_wait_notify READY=1 1 10 || fail "(a) no READY=1 within 10 s beside the squatter: $(tail -n 2 "$MG_ERR" | tr '\n' ' ')"
check "(a) the daemon is still running" eval "! mg_gone $MG_DAEMON"
check "(a) our rules are in the kernel" test -n "$(b_ours)"
check "(a) the outside client is blocked" h_blocked $H_OUT4 $H_SRV4
check "(a) the allowed client is answered" h_reaches $H_OK4 $H_SRV4
check "(a) the log names the squatter's pid and uid" \
    grep -q "pid $SQ, uid $NOBODY" "$MG_ERR"
h_mg status --json --config "$CONF"
check "(a) status --json: .daemon.pid is the daemon's ($MG_DAEMON), not the squatter's" \
    test "$(jq -r .daemon.pid <<<"$H_OUT")" = "$MG_DAEMON"
check "(a) status --json names the squatter" grep -q "pid $SQ, uid $NOBODY" <<<"$(jq -r .squatter <<<"$H_OUT")"
h_mg status --config "$CONF"
check "(a) status text warns of the squatter" grep -q "WARNING: .*pid $SQ, uid $NOBODY" <<<"$H_OUT"
h_mg doctor --config "$CONF"
check "(a) doctor names the squatter as a finding" grep -q "WARNING: .*pid $SQ, uid $NOBODY" <<<"$H_OUT"

# --- (b) ----------------------------------------------------------------------------------------
h_stop_daemon
mg_start_listener b
h_start_daemon b "$CONF"
mg_wait_notify READY=1 1 10 || fail "(b) restart: no READY=1 within 10 s: $(tail -n 2 "$MG_ERR" | tr '\n' ' ')"
check "(b) restart: the daemon is still running" eval "! mg_gone $MG_DAEMON"
check "(b) restart: the outside client is blocked" h_blocked $H_OUT4 $H_SRV4

# --- (d) ----------------------------------------------------------------------------------------
# While the daemon runs: the squatter tries to bind and create where the daemon's socket and
# lock are, then floods the daemon's socket with connects for 5 s.
SOCK=$(ls "$MEMGUARD_RUNTIME_DIRECTORY"/net-*.sock 2>/dev/null | head -n 1)
check "(d) the daemon's socket is in the runtime directory (${SOCK:-none})" test -S "$SOCK"
chmod 711 "$TMP" # the squatter may reach the runtime directory: its mode and the socket's must hold
"${AS_NOBODY[@]}" "$MG_PYTHON" - "$SOCK" "$MEMGUARD_RUNTIME_DIRECTORY" >"$TMP/flood.out" 2>&1 <<'PY' &
import os, socket, sys, time
path, rundir = sys.argv[1], sys.argv[2]
try:
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind(rundir + "/net-1.sock")
    print("bind: ok")
except OSError as e:
    print("bind:", e.strerror)
try:
    os.open(rundir + "/net-1.lock", os.O_CREAT | os.O_RDWR, 0o600)
    print("create: ok")
except OSError as e:
    print("create:", e.strerror)
ok = refused = 0
end = time.time() + 5
while time.time() < end:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        ok += 1
    except OSError:
        refused += 1
    s.close()
print("connected", ok, "refused", refused)
PY
FLOOD=$!
mg_wait_until 2 grep -q '^create:' "$TMP/flood.out"
t0=$(mg_now_us)
if [ "$B_BACKEND" = nftables ]; then
    # The owned table refuses other processes' changes: time a verify pass through the daemon.
    h_mg verify --config "$CONF"
    ms=$(mg_ms_since "$t0")
    check "(d) during the flood: verify through the daemon, in sync, within 2 s ($ms ms, exit $H_RC)" \
        eval '[ "$H_RC" = 0 ] && [ "$ms" -lt 2000 ]'
else
    mg_ipt ipv4 -D INPUT -p tcp -m tcp --dport "$MG_PORT" -m comment --comment "$MG_TAG" -j MEMGUARD ||
        fail "(d) cannot take our tcp jump out"
    check "(d) during the flood: the daemon put the jump back within 3 s (verify_interval_s 1)" \
        mg_wait_until 3 h_jump_present ipv4 tcp "$MG_PORT"
    note "(d) repaired after $(mg_ms_since "$t0") ms"
fi
wait "$FLOOD"
chmod 700 "$TMP"
sed 's/^/     flood: /' "$TMP/flood.out"
check "(d) the squatter could not bind a socket in the runtime directory" grep -qx 'bind: Permission denied' "$TMP/flood.out"
check "(d) the squatter could not create a file in the runtime directory" grep -qx 'create: Permission denied' "$TMP/flood.out"
check "(d) not one of the squatter's connects reached the daemon" grep -qE '^connected 0 refused [1-9]' "$TMP/flood.out"
check "(d) the daemon is still running" eval "! mg_gone $MG_DAEMON"

# --- (c) ----------------------------------------------------------------------------------------
h_stop_daemon
h_mg remove
check "(c) remove took our rules out (exit $H_RC)" test -z "$(b_ours)"
h_mg status --config "$CONF"
check "(c) no daemon: status exits 3 (got $H_RC)" test "$H_RC" = 3
check "(c) no daemon: status says it is not running" grep -q "not running" <<<"$H_OUT"
check "(c) no daemon: status names the squatter" grep -q "pid $SQ, uid $NOBODY" <<<"$H_OUT"
h_mg status --json --config "$CONF"
check "(c) no daemon: status --json .daemon is null" test "$(jq -r .daemon <<<"$H_OUT")" = null
h_mg verify --config "$CONF"
check "(c) no daemon, no rules: verify exits non-zero (got $H_RC)" test "$H_RC" != 0
check "(c) no daemon, no rules: verify does not say in sync" eval "! grep -q 'in sync' <<<\"\$H_OUT\""
check "(c) no daemon, no rules: verify says it is not running" grep -q "not running" <<<"$H_OUT"

# --- (e) ----------------------------------------------------------------------------------------
INODE=$(stat -L -c %i "/proc/$SRV/ns/net")
mkdir -p "$MEMGUARD_RUNTIME_DIRECTORY/net-$INODE.sock/x" # unlink and bind both fail on a directory
mg_start_listener e
h_start_daemon e "$CONF"
FIRST=$MG_DAEMON
mg_wait_notify READY=1 1 10 || fail "(e) no READY=1 without a control socket: $(tail -n 2 "$MG_ERR" | tr '\n' ' ')"
check "(e) the daemon still guards: the outside client is blocked" h_blocked $H_OUT4 $H_SRV4
check "(e) the log says there is no control channel, and why" \
    grep -q "no control channel: cannot remove the stale $MEMGUARD_RUNTIME_DIRECTORY/net-$INODE.sock" "$MG_ERR"
h_start_daemon e2 "$CONF"
if mg_wait_exit "$MG_DAEMON" 5; then
    check "(e) a second run is refused all the same (exit $MG_EXIT_STATUS)" [ "$MG_EXIT_STATUS" != 0 ]
    check "(e) it names the first daemon's pid $FIRST" grep -q "already running .*(pid $FIRST)" "$MG_ERR"
else
    fail "(e) a second run is still running 5 s later: the lock went with the socket"
fi
MG_DAEMON=$FIRST
h_stop_daemon
rm -rf "$MEMGUARD_RUNTIME_DIRECTORY/net-$INODE.sock"

mg_finish
