#!/bin/bash
# daemon_unit_verify: systemd-analyze verify accepts systemd/memguardd.service,
# and the unit asks for the lifecycle the design describes.
#
# systemd-analyze verify checks that ExecStart='s binary exists, so it runs on
# a copy of the unit with /usr/sbin/memguardd rewritten to the built binary.
# The Documentation= man pages are checked against man/ of the source tree
# when man(1) is installed. Exit 77 (skipped) without the unit file or
# without systemd-analyze. Touches no netfilter, so no namespace.
. "$(dirname "$0")/lib.sh"
mg_init "$1" --no-netns

SRC=$(cd "$MG_HERE/../.." && pwd)
UNIT=$SRC/systemd/memguardd.service
[ -f "$UNIT" ] || mg_skip "$UNIT does not exist (yet)"
command -v systemd-analyze >/dev/null || mg_skip "systemd-analyze is not installed"

COPY=$TMP/memguardd.service
sed "s#/usr/sbin/memguardd#$MEMGUARDD#g" "$UNIT" >"$COPY"
check "the copy's ExecStart= runs the built binary ($MEMGUARDD)" grep -q "^ExecStart=$MEMGUARDD " "$COPY"

out=$(systemd-analyze verify --man=no "$COPY" 2>&1)
rc=$?
if [ $rc = 0 ] && [ -z "$out" ]; then
    pass "systemd-analyze verify: no errors, no warnings"
else
    fail "systemd-analyze verify (exit $rc) complained:"
    sed 's/^/     /' <<<"$out"
fi

# Documentation=man:... against the man pages in the tree (installed as man8/, man5/).
if command -v man >/dev/null && ls "$SRC"/man/*.[1-8] >/dev/null 2>&1; then
    for page in "$SRC"/man/*.[1-8]; do
        sec=${page##*.}
        mkdir -p "$TMP/man/man$sec"
        cp "$page" "$TMP/man/man$sec/"
    done
    out=$(MANPATH=$TMP/man systemd-analyze verify --man=yes "$COPY" 2>&1)
    rc=$?
    if [ $rc = 0 ] && [ -z "$out" ]; then
        pass "systemd-analyze verify --man=yes: every Documentation= page is in man/"
    else
        fail "systemd-analyze verify --man=yes (exit $rc), against the pages in $SRC/man:"
        sed 's/^/     /' <<<"$out"
    fi
else
    note "man pages not checked (no man(1) or no pages in $SRC/man)"
fi

# What the unit must say for the daemon's lifecycle.
val() { # val KEY: every value of KEY, space-separated
    sed -n "s/^$1=//p" "$UNIT" | tr '\n' ' '
}
check "Type=notify" [ "$(val Type)" = "notify " ]
check "Before= has network-pre.target and memcached.service ($(val Before))" \
    eval "grep -qw 'network-pre.target' <<<'$(val Before)' && grep -qw 'memcached.service' <<<'$(val Before)'"
check "Wants=network-pre.target ($(val Wants))" grep -qw 'network-pre.target' <<<"$(val Wants)"
check "ExecReload= ends in SIGHUP to the main process ($(val ExecReload))" \
    grep -qE -- '-HUP \$MAINPID' <<<"$(val ExecReload)"
check "RuntimeDirectory=memguardd, mode 0700, preserved (the instance locks and control sockets, root only)" \
    eval '[ "$(val RuntimeDirectory)" = "memguardd " ] && [ "$(val RuntimeDirectoryMode)" = "0700 " ] &&
        [ "$(val RuntimeDirectoryPreserve)" = "yes " ]'
check "RestrictAddressFamilies= keeps AF_UNIX (the control socket)" \
    grep -qw AF_UNIX <<<"$(val RestrictAddressFamilies)"
check "WatchdogSec= set (the daemon pings when WATCHDOG_USEC is given)" [ -n "$(val WatchdogSec)" ]

mg_finish
