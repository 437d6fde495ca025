#!/bin/bash
# daemon_package_hooks: the Debian package's memguardd never reads the MEMGUARD_TEST_* hooks
# (libfw/checkpoint.hpp), which the test build (MEMGUARD_TEST_HOOKS=ON) honours. Each hook is
# set for both binaries, in a network namespace of the test's own, iptables-legacy unless said:
#   (a) MEMGUARD_TEST_KILL_AT=before_lock, `apply --once`: the test build dies there by SIGKILL
#       (exit 137); the package's completes (exit 0) and `memguardd diff` finds the rules in;
#   (b) MEMGUARD_TEST_STOP_AT=before_lock, `apply --once`: the test build stops there (state T;
#       SIGCONT finishes it); the package's completes without stopping, the rules in;
#   (c) nftables, MEMGUARD_TEST_NFT_UNOWNED=1, `memguardd run`: with the test build's daemon the
#       nft CLI may add an element to table inet memguard (unowned); with the package's the
#       kernel refuses it (owned), and the daemon's rules are intact.
# The package's binary comes from the .deb tests/lib/deb.sh builds (once per hash of the
# packaged sources, shared with the boot and ansible tests), or MEMGUARD_PACKAGE_MEMGUARDD
# names one.
# Usage: package_hooks.sh MEMGUARDD
. "$(dirname "$0")/lib.sh"
mg_init "$1"

for tool in nft dpkg-deb; do
    command -v $tool >/dev/null || mg_skip "$tool not installed"
done
PKG=${MEMGUARD_PACKAGE_MEMGUARDD:-}
if [ -z "$PKG" ]; then
    command -v dpkg-buildpackage >/dev/null || mg_skip "dpkg-buildpackage not installed"
    deb=$(bash "$MG_HERE/../lib/deb.sh" "$MG_HERE/../.." 2>"$TMP/deb.err") ||
        mg_fatal "cannot build the .deb: $(tail -20 "$TMP/deb.err")"
    note "$(cat "$TMP/deb.err")"
    dpkg-deb -x "$deb" "$TMP/pkg" || mg_fatal "cannot unpack $deb"
    PKG=$TMP/pkg/usr/sbin/memguardd
fi
[ -x "$PKG" ] || mg_fatal "no package binary at $PKG"
note "test build: $MEMGUARDD"
note "package:    $PKG"

CONF=$TMP/memguard.json
use_backend() { # use_backend NAME : the config for that backend, no rules of ours in the kernel
    export MG_BACKEND=$1
    mg_config "$CONF" 1 192.168.1.0/24 2001:db8::/32 || mg_fatal "cannot write $CONF"
    "$MEMGUARDD" remove --force >/dev/null 2>&1
}
rules_in() { "$MEMGUARDD" diff --config "$CONF" >"$TMP/diff.out" 2>&1 || { cat "$TMP/diff.out"; return 1; }; }
# apply BINARY VAR=VALUE : `apply --once` with the hook in the background; APPLY_PID
apply() {
    env "$2" "$1" apply --once --config "$CONF" >"$TMP/apply.out" 2>&1 &
    APPLY_PID=$!
    MG_PIDS+=("$APPLY_PID")
}
stopped() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = T ]; }
ended() { mg_gone "$1" || stopped "$1"; }

# ---- (a) MEMGUARD_TEST_KILL_AT ----------------------------------------------------------------
use_backend iptables-legacy
apply "$MEMGUARDD" MEMGUARD_TEST_KILL_AT=before_lock
mg_wait_exit "$APPLY_PID" 10 || mg_fatal "(a) the test build's apply --once did not end within 10 s"
check "(a) test build: killed at before_lock (exit $MG_EXIT_STATUS, 137 = SIGKILL)" \
    [ "$MG_EXIT_STATUS" = 137 ]
apply "$PKG" MEMGUARD_TEST_KILL_AT=before_lock
mg_wait_exit "$APPLY_PID" 10 || mg_fatal "(a) the package's apply --once did not end within 10 s"
check "(a) package: apply --once completes (exit $MG_EXIT_STATUS)" [ "$MG_EXIT_STATUS" = 0 ]
check "(a) package: the rules are in (memguardd diff exits 0)" rules_in

# ---- (b) MEMGUARD_TEST_STOP_AT ----------------------------------------------------------------
use_backend iptables-legacy
apply "$MEMGUARDD" MEMGUARD_TEST_STOP_AT=before_lock
mg_wait_until 10 ended "$APPLY_PID" || mg_fatal "(b) the test build's apply --once neither stopped nor ended"
check "(b) test build: stopped at before_lock (state T)" stopped "$APPLY_PID"
kill -CONT "$APPLY_PID"
mg_wait_exit "$APPLY_PID" 10 || mg_fatal "(b) the test build's apply --once did not end after SIGCONT"
check "(b) test build: SIGCONT finishes it (exit $MG_EXIT_STATUS)" [ "$MG_EXIT_STATUS" = 0 ]
"$MEMGUARDD" remove --force >/dev/null 2>&1
apply "$PKG" MEMGUARD_TEST_STOP_AT=before_lock
mg_wait_until 10 ended "$APPLY_PID" || mg_fatal "(b) the package's apply --once neither stopped nor ended"
if stopped "$APPLY_PID"; then
    fail "(b) package: stopped at before_lock"
    kill -CONT "$APPLY_PID"
fi
mg_wait_exit "$APPLY_PID" 10 || mg_fatal "(b) the package's apply --once did not end"
check "(b) package: apply --once completes (exit $MG_EXIT_STATUS)" \
    [ "$MG_EXIT_STATUS" = 0 ]
check "(b) package: the rules are in (memguardd diff exits 0)" rules_in

# ---- (c) MEMGUARD_TEST_NFT_UNOWNED ------------------------------------------------------------
# tamper BINARY NAME : runs the daemon with the hook; whether the nft CLI could add an element
# (TAMPER_RC) and whether the rules were as configured (RULES_RC), then stops it
tamper() {
    local MEMGUARDD=$1 # mg_start_daemon runs $MEMGUARDD
    mg_start_listener "$2"
    mg_start_daemon "$2" "$CONF" MEMGUARD_TEST_NFT_UNOWNED=1
    mg_wait_notify READY=1 1 10 || mg_fatal "(c) $2: no READY=1 within 10 s"
    nft add element inet memguard allow4 '{ 203.0.113.7 }' 2>"$TMP/$2.nft.err"
    TAMPER_RC=$?
    note "$2: nft add element: exit $TAMPER_RC $(head -1 "$TMP/$2.nft.err")"
    rules_in # while the daemon runs: once it stops, its table is an orphan
    RULES_RC=$?
    kill -TERM "$MG_DAEMON"
    mg_wait_exit "$MG_DAEMON" 10 || mg_fatal "(c) $2: the daemon did not exit on SIGTERM"
}
use_backend nftables
tamper "$MEMGUARDD" test-build
check "(c) test build: its table is unowned (the nft CLI added an element)" [ "$TAMPER_RC" = 0 ]
"$MEMGUARDD" remove --force >/dev/null 2>&1
tamper "$PKG" package
check "(c) package: its table is owned (the kernel refused the nft CLI's element)" \
    [ "$TAMPER_RC" != 0 ]
check "(c) package: the rules are in (memguardd diff exits 0)" [ "$RULES_RC" = 0 ]

mg_finish
