#!/bin/bash
# daemon_unit_verify: systemd-analyze verify accepts systemd/memguardd.service,
# and the unit asks for the lifecycle the design describes.
#
# systemd-analyze verify checks that ExecStart='s binary exists, so it runs on
# a copy of the unit with /usr/sbin/memguardd rewritten to the built binary.
# The Documentation= man pages are checked against man/ of the source tree
# (they must be there, and groff must read them without a warning). Exit 77
# (skipped) without the unit file or without systemd-analyze. Touches no netfilter, so no namespace.
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

# Documentation=man:NAME(SEC): each page is man/NAME.SEC of the tree (what the package installs)
# and groff reads it without a warning. No man(1) needed: the pages are checked where it is not
# installed too.
docs=$(sed -n 's/^Documentation=//p' "$UNIT" | tr ' ' '\n' | sed -n 's/^man:\(.*\)(\([1-8]\))$/\1.\2/p')
check "Documentation= names man pages (${docs//$'\n'/ })" [ -n "$docs" ]
if ! command -v groff >/dev/null; then
    fail "groff is not installed (scripts/install-deps --test): the man pages cannot be checked"
fi
for page in $docs; do
    if [ ! -f "$SRC/man/$page" ]; then
        fail "Documentation= names $page, which is not in $SRC/man"
        continue
    fi
    command -v groff >/dev/null || continue
    out=$(groff -man -z -ww "$SRC/man/$page" 2>&1)
    rc=$?
    if [ $rc = 0 ] && [ -z "$out" ]; then
        pass "man/$page is in the tree and groff -man -ww reads it without a warning"
    else
        fail "groff -man -z -ww man/$page (exit $rc):"
        sed 's/^/     /' <<<"$out"
    fi
done

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
