#!/bin/bash
# Boot test: boot a throwaway Debian 12 root twice under systemd-nspawn, each
# time in a network namespace of its own (so only the container's netfilter
# tables are touched), and check the service end to end.
#
# Boot 1 is a fresh install on a box whose memcached already has clients: the
# container runs in a network namespace this script made, joined by a veth pair
# to a client namespace it made too, with a private (10.0.0.10, fd00:1::10)
# and a public client (203.0.113.7, 2001:db8::7: documentation ranges, on that
# veth only). Both hold a connection open, then `apt-get install` runs inside
# the booted container. The private client's connection must keep working and
# new ones get in; the public client's connection is cut and new ones fail.
# Boot 2 (after `systemctl reboot`, --private-network: fresh, empty tables)
# checks that the rules are back before memcached starts, then switches to the
# nftables backend by reload and turns Debian's nftables.service on (its
# `flush ruleset` at start and restart must leave our table). Boot 3, with both
# enabled, checks our table comes up after nftables.service's flush, then
# breaks the config (a trailing comma) and reboots: boot 4, in fresh namespaces
# with the clients again (empty tables), must run the last good policy kept in
# /var/lib/memguardd: the private clients get in, the public ones do not,
# status says so. Then it purges.
#
# With MEMGUARD_BOOT_RELEASE=trixie, the same on Debian 13 with the package built there, up to
# boot 2's checks (installed under the clients, enabled, active, the rules, reloads, a reboot, the
# rules back before memcached), then the purge: the nftables backend and the last good policy
# across a reboot are checked on Debian 12 only, to keep the suite's time.
#
# Usage: run.sh [memguardd_*.deb]    (no argument: the .deb of this tree, from
#                                     tests/lib/deb.sh: built once per source hash)
# Env:   MEMGUARD_BOOT_RELEASE bookworm (default) or trixie
#        MEMGUARD_BOOT_CACHE  cached debootstrap root (default /var/cache/memguardd-boot,
#                             /var/cache/memguardd-boot-trixie for trixie)
#        MEMGUARD_DEB_CACHE   built .debs (default /var/cache/memguardd-deb)
#        DEBIAN_MIRROR        (default http://deb.debian.org/debian)
#        KEEP=1               keep the throwaway directory for debugging
# Exit:  0 all passed, 1 some failed, 77 skipped (not root / tools missing).
set -u

SRC=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/nspawn.sh
. "$SRC/tests/lib/nspawn.sh"
# shellcheck source=../lib/check.sh
. "$SRC/tests/lib/check.sh"
RELEASE=${MEMGUARD_BOOT_RELEASE:-bookworm}
case $RELEASE in
bookworm) CACHE=${MEMGUARD_BOOT_CACHE:-/var/cache/memguardd-boot} ;;
trixie) CACHE=${MEMGUARD_BOOT_CACHE:-/var/cache/memguardd-boot-trixie} ;;
*) echo "FAIL: MEMGUARD_BOOT_RELEASE is bookworm or trixie, not '$RELEASE'"; exit 1 ;;
esac
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# procps: the package depends on it (ExecReload uses /bin/kill).
PKGS=systemd,systemd-sysv,dbus,iptables,memcached,procps,nftables
STAMP="$PKGS +apt-lists"     # change to force a rebuild of the cached root
WORK='' NSPAWN_PID='' CT='' NS_CT='' NS_CLI='' CLIENT_PIDS=()

log() { echo "--- $*"; }
not() { ! "$@"; }
before() { [ "${1:-0}" -gt 0 ] && [ "$1" -lt "${2:-0}" ]; }
ct() { nsenter -t "$CT" -a -- "$@"; }
save4() { ct iptables-legacy-save -t filter; }
save6() { ct ip6tables-legacy-save -t filter; }
# until SECONDS CMD...: retry CMD every 0.2 s
until_ok() { local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done; }
has4() { save4 | grep -qe "$1"; }
has6() { save6 | grep -qe "$1"; }

cleanup() {
    nspawn_stop
    local pid
    for pid in "${CLIENT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    [ -n "$NS_CLI" ] && ip netns del "$NS_CLI" 2>/dev/null
    [ -n "$NS_CT" ] && ip netns del "$NS_CT" 2>/dev/null
    if [ -n "$WORK" ]; then
        if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf --one-file-system "$WORK"; fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in debootstrap systemd-nspawn nsenter dpkg-deb ip ss python3; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: must run as root"; exit 77; }

WORK=$(mktemp -d /var/tmp/memguardd-boot.XXXXXX)
ROOT=$WORK/root

# purge_and_finish BOOT: purge the package, check that exactly our rules went, and end the test.
purge_and_finish() {
    log "purge removes exactly our rules"
    ct iptables-legacy -A INPUT -p tcp --dport 22 -j ACCEPT
    ct ip6tables-legacy -A INPUT -p tcp --dport 22 -j ACCEPT
    ct dpkg --purge memguardd >"$WORK/purge.log" 2>&1
    check "purge succeeds" [ $? = 0 ] || cat "$WORK/purge.log"
    check "our nftables table gone" not eval 'ct nft list table inet memguard 2>/dev/null | grep -q memguard'
    if [ "$RELEASE" = bookworm ]; then
        check "nftables.service's table kept" ct nft list table inet filter
    fi
    check "IPv4 rules gone" not has4 'MEMGUARD'
    check "IPv6 rules gone" not has6 'MEMGUARD'
    check "foreign IPv4 rule kept" has4 '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT'
    check "foreign IPv6 rule kept" has6 '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT'
    check "conffile purged" ct test ! -e /etc/memguard.json
    check "state directory purged" ct test ! -e /var/lib/memguardd

    if [ "$CHECK_FAILED" != 0 ]; then
        log "journal of memguardd (boot $1)"; ct journalctl -b -u memguardd --no-pager | tail -40
    fi
    nspawn_stop
    check_summary
    exit
}

# --- the package ------------------------------------------------------------
DEB=${1:-}
if [ -z "$DEB" ]; then
    DEB=$(MEMGUARD_DEB_RELEASE=$RELEASE "$SRC/tests/lib/deb.sh" "$SRC") ||
        { echo "FAIL: build the .deb"; echo "0 passed, 1 failed"; exit 1; }
fi
[ -f "$DEB" ] || { echo "FAIL: no package at '$DEB'"; echo "0 passed, 1 failed"; exit 1; }
log "Debian $RELEASE, package: $DEB"

# --- the cached root, built once ----------------------------------------------
mkdir -p "$CACHE"
(
    flock 9
    if [ "$(cat "$CACHE/root/.memguardd-boot" 2>/dev/null)" != "$STAMP" ]; then
        log "debootstrap $RELEASE into $CACHE/root"
        rm -rf --one-file-system "$CACHE/root" "$CACHE/root.tmp"
        debootstrap --variant=minbase --include="$PKGS" "$RELEASE" "$CACHE/root.tmp" "$MIRROR" \
            >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log"; exit 1; }
        systemd-nspawn -q -D "$CACHE/root.tmp" --register=no --keep-unit apt-get -q update \
            >>"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log"; exit 1; }
        echo "$STAMP" >"$CACHE/root.tmp/.memguardd-boot"
        mv "$CACHE/root.tmp" "$CACHE/root"
    fi
) 9>"$CACHE/lock" || { echo "FAIL: debootstrap"; echo "0 passed, 1 failed"; exit 1; }

log "throwaway root $ROOT"
cp -a "$CACHE/root" "$ROOT"
cp "$DEB" "$ROOT/var/tmp/memguardd.deb"
# Only the download uses the host's network (the package's dependencies,
# libspdlog, ...; no maintainer script runs): the install itself runs in the
# booted container, in its own network namespace, as an admin's would.
download_deps() {
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends)
    local nspawn=(systemd-nspawn -q -D "$ROOT" --register=no --keep-unit)
    "${nspawn[@]}" "${apt[@]}" --download-only install /var/tmp/memguardd.deb ||
        { "${nspawn[@]}" apt-get -q update && "${nspawn[@]}" "${apt[@]}" --download-only install /var/tmp/memguardd.deb; }
}
download_deps >"$WORK/install.log" 2>&1
check "package dependencies download" [ $? = 0 ] ||
    { cat "$WORK/install.log"; check_summary; exit 1; }
# Debian's memcached listens on 127.0.0.1 only (Debian 13's on ::1 too); this one has clients
# elsewhere.
sed -i 's/^-l 127\.0\.0\.1$/-l 0.0.0.0\n-l ::/; /^-l ::1$/d' "$ROOT/etc/memcached.conf"
conf_listens() { grep -qx -- "-l $1" "$ROOT/etc/memcached.conf"; }
check "memcached.conf listens on every address" eval 'conf_listens 0.0.0.0 && conf_listens ::'


# --- boot 1: a fresh install under memcached's clients ------------------------
# The container's network namespace and the client's, joined by a veth pair.
# Every address below is configured on this veth only, inside these two
# namespaces; the host's own network namespace is not touched.
SRV4=10.0.0.1 SRV6=fd00:1::1 PUB_SRV4=203.0.113.1 PUB_SRV6=2001:db8::1
LAN4=10.0.0.10 LAN6=fd00:1::10 PUB4=203.0.113.7 PUB6=2001:db8::7
netns() {
    NS_CT=memguardd-boot-ct-$$ NS_CLI=memguardd-boot-cli-$$
    ip netns add "$NS_CT" && ip netns add "$NS_CLI" &&
    ip -n "$NS_CT" link set lo up && ip -n "$NS_CLI" link set lo up &&
    ip -n "$NS_CT" link add mg-srv type veth peer name mg-cli netns "$NS_CLI" &&
    ip -n "$NS_CT" addr add $SRV4/24 dev mg-srv &&
    ip -n "$NS_CT" addr add $PUB_SRV4/24 dev mg-srv &&
    ip -n "$NS_CT" addr add $SRV6/64 dev mg-srv nodad &&
    ip -n "$NS_CT" addr add $PUB_SRV6/64 dev mg-srv nodad &&
    ip -n "$NS_CLI" addr add $LAN4/24 dev mg-cli &&
    ip -n "$NS_CLI" addr add $PUB4/24 dev mg-cli &&
    ip -n "$NS_CLI" addr add $LAN6/64 dev mg-cli nodad &&
    ip -n "$NS_CLI" addr add $PUB6/64 dev mg-cli nodad &&
    ip -n "$NS_CT" link set mg-srv up && ip -n "$NS_CLI" link set mg-cli up
}
check "container and client network namespaces with a veth pair" netns ||
    { check_summary; exit 1; }
# The client, in the client namespace: hclient.py (the hostile tests' client),
# every connect and answer bounded by a 2 s timeout.
client() { nsenter --net="/run/netns/$NS_CLI" -- python3 "$SRC/tests/hostile/hclient.py" "$@"; }
CL=$WORK/clients
mkdir "$CL"
# hold NAME SRC DST: a connection held open; "version" now (-> $CL/NAME.ready)
# and again once $CL/go exists (-> $CL/NAME.out). nsenter execs python: $! is the client.
hold() {
    nsenter --net="/run/netns/$NS_CLI" -- python3 "$SRC/tests/hostile/hclient.py" hold "$2" "$3" 11211 \
        --ready "$CL/$1.ready" --go "$CL/go" --out "$CL/$1.out" --timeout 2 --max 300 >>"$CL/log" 2>&1 &
    CLIENT_PIDS+=($!)
}
says() { grep -q -- "$2" "$CL/$1" 2>/dev/null; }
probe() { client probe "$1" "$2" 11211 --timeout 2 | grep -q "^$3 "; }
listens() { nsenter --net="/run/netns/$NS_CT" -- ss -Hltn "src $1 and sport = :11211" | grep -q .; }

log "boot 1 (network namespace $NS_CT)"
# nspawn grants CAP_NET_ADMIN only with --private-network; this namespace is
# just as much the container's own.
check "boot 1 reaches running" nspawn_boot --network-namespace-path="/run/netns/$NS_CT" --capability=CAP_NET_ADMIN ||
    { tail -30 "$WORK/console.log"; check_summary; exit 1; }
check "container runs in our namespace" \
    [ "$(readlink "/proc/$CT/ns/net")" = "$(nsenter --net="/run/netns/$NS_CT" -- readlink /proc/self/ns/net)" ]
check "memguardd not installed yet" ct test ! -e /usr/sbin/memguardd
check "memcached active before the install" [ "$(ct systemctl is-active memcached)" = active ]
check "memcached listens on 0.0.0.0" until_ok 20 listens 0.0.0.0
check "memcached listens on ::" until_ok 20 listens '[::]'

log "clients connect before the install"
hold lan4 $LAN4 $SRV4; hold lan6 $LAN6 $SRV6; hold pub4 $PUB4 $PUB_SRV4; hold pub6 $PUB6 $PUB_SRV6
for c in lan4 lan6 pub4 pub6; do
    check "$c: connected, memcached answers" until_ok 10 says $c.ready 'first ok: VERSION'
done
check "public IPv4 client connects before the install" probe $PUB4 $PUB_SRV4 open
check "public IPv6 client connects before the install" probe $PUB6 $PUB_SRV6 open

log "apt-get install inside the running container (shipped /etc/memguard.json)"
ct env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
    install /var/tmp/memguardd.deb >>"$WORK/install.log" 2>&1
check "package installs" [ $? = 0 ] || tail -30 "$WORK/install.log"
check "unit enabled" [ "$(ct systemctl is-enabled memguardd.service 2>&1)" = enabled ]
check "memguardd active" [ "$(ct systemctl is-active memguardd)" = active ]

touch "$CL/go"
for c in lan4 lan6 pub4 pub6; do until_ok 10 test -e "$CL/$c.out"; done
for c in lan4 lan6 pub4 pub6; do echo "    $c: $(cat "$CL/$c.out" 2>/dev/null)"; done
check "private IPv4 client: open connection still answered" says lan4.out 'answered: VERSION'
check "private IPv6 client: open connection still answered" says lan6.out 'answered: VERSION'
check "public IPv4 client: open connection cut (no answer in 2 s)" says pub4.out 'no answer within 2.0 s'
check "public IPv6 client: open connection cut (no answer in 2 s)" says pub6.out 'no answer within 2.0 s'
# A new connection from the private clients: connect, "version" twice ($CL/go exists).
hold lan4-new $LAN4 $SRV4; hold lan6-new $LAN6 $SRV6
check "private IPv4 client: new connection answered" until_ok 10 says lan4-new.out 'answered: VERSION'
check "private IPv6 client: new connection answered" until_ok 10 says lan6-new.out 'answered: VERSION'
check "public IPv4 client: new connection fails" probe $PUB4 $PUB_SRV4 timeout
check "public IPv6 client: new connection fails" probe $PUB6 $PUB_SRV6 timeout

save4 >"$WORK/v4.1"; save6 >"$WORK/v6.1"
allowed() { grep -o -- '^-A MEMGUARD -s [^ ]*' "$1" | awk '{print $4}' | paste -sd' '; }
check "IPv4 MEMGUARD chain" grep -q '^:MEMGUARD' "$WORK/v4.1"
check "IPv4 jump in INPUT" grep -q -- '-A INPUT .*--dport 11211 .*-j MEMGUARD' "$WORK/v4.1"
check "IPv4 allows the private ranges" [ "$(allowed "$WORK/v4.1")" = "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16" ]
check "IPv6 MEMGUARD chain" grep -q '^:MEMGUARD' "$WORK/v6.1"
check "IPv6 jump in INPUT" grep -q -- '-A INPUT .*--dport 11211 .*-j MEMGUARD' "$WORK/v6.1"
check "IPv6 allows fc00::/7" [ "$(allowed "$WORK/v6.1")" = "fc00::/7" ]
check "memguardd diff: in sync" ct memguardd diff
journal() { ct journalctl -b -u memguardd --no-pager -o cat; }
journal >"$WORK/journal.1"
grep -E 'applied|starting' "$WORK/journal.1"
check "journal: IPv4 apply" grep -q 'ipv4: applied [0-9]* change' "$WORK/journal.1"
check "journal: IPv6 apply" grep -q 'ipv6: applied [0-9]* change' "$WORK/journal.1"
check "journal: the list is the shipped default" until_ok 5 eval 'ct journalctl -u memguardd --no-pager | grep -q "shipped default"'

log "reload with one more IPv4 and one IPv6 network"
ct sh -c 'sed "s|\"fc00::/7\"|\"fc00::/7\", \"198.51.100.0/24\", \"2001:db8:1::/48\"|" /etc/memguard.json >/etc/memguard.json.new && cat /etc/memguard.json.new >/etc/memguard.json && rm /etc/memguard.json.new'
check "new config passes check" ct memguardd check /etc/memguard.json
check "systemctl reload" ct systemctl reload memguardd
check "IPv4 rule for 198.51.100.0/24 appears" until_ok 10 has4 '-A MEMGUARD -s 198.51.100.0/24 '
check "IPv6 rule for 2001:db8:1::/48 appears" until_ok 10 has6 '-A MEMGUARD -s 2001:db8:1::/48 '
check "journal: reload logged" until_ok 5 eval 'journal | grep -q "^reloaded /etc/memguard.json"'

log "reload with an invalid file must fail and change nothing"
ct cp /etc/memguard.json /root/memguard.json.good
ct sh -c 'echo "{\"ports\": [0]}" >/etc/memguard.json'
check "systemctl reload refuses invalid config" not ct systemctl reload memguardd
sleep 1
check "still active after refused reload" [ "$(ct systemctl is-active memguardd)" = active ]
check "rules kept after refused reload" has4 '-A MEMGUARD -s 198.51.100.0/24 '

log "reload with 40 more IPv4 networks: the list goes into the memguard4 ipset"
# Under the hardened unit: the set is made over netlink, the kernel loads ip_set itself.
ct sh -c 'nets=$(for i in $(seq 1 40); do printf "\"100.64.%d.0/24\", " "$i"; done)
    sed "s|\"10.0.0.0/8\"|${nets}\"10.0.0.0/8\"|" /root/memguard.json.good >/etc/memguard.json'
check "systemctl reload (44 IPv4 networks)" ct systemctl reload memguardd
check "IPv4 set rule replaces the -s rules" until_ok 10 has4 '-A MEMGUARD -m set --match-set memguard4 src '
check "no IPv4 -s rule of ours left" not has4 '-A MEMGUARD -s '
check "status: memguard4 holds the 44 networks" eval 'ct memguardd status --verbose | grep -q "set memguard4: 44 member"'
check "memguardd diff: in sync with the set" ct memguardd diff
ct sh -c 'cat /root/memguard.json.good >/etc/memguard.json'
check "systemctl reload (back to 4 IPv4 networks)" ct systemctl reload memguardd
check "the -s rules come back" until_ok 10 has4 '-A MEMGUARD -s 198.51.100.0/24 '
check "status: memguard4 is gone" until_ok 10 not eval 'ct memguardd status --verbose | grep -q "set memguard4"'

log "stop keeps the rules"
ct systemctl stop memguardd
check "rules stay after stop" has4 '-j MEMGUARD'
ct systemctl start memguardd
check "start again" [ "$(ct systemctl is-active memguardd)" = active ]

# reboot_container: systemctl reboot inside; nspawn exits 133 when it has
reboot_container() {
    log "reboot"
    ct systemctl reboot 2>/dev/null    # may report "Connection reset": systemd went away
    until_ok 60 not kill -0 "$NSPAWN_PID" || nspawn_stop
    wait "$NSPAWN_PID"; local rc=$?; NSPAWN_PID='' CT=''
    check "nspawn exits 133 on reboot" [ $rc = 133 ]
}
reboot_container
for pid in "${CLIENT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
CLIENT_PIDS=()
ip netns del "$NS_CLI"; ip netns del "$NS_CT"; NS_CLI='' NS_CT=''

# --- boot 2: --private-network, a fresh namespace: empty tables, as after a real reboot
log "boot 2"
check "boot 2 reaches running" nspawn_boot || { tail -30 "$WORK/console.log"; check_summary; exit 1; }
check "memguardd active after reboot" [ "$(ct systemctl is-active memguardd)" = active ]
check "IPv4 rules back after reboot" has4 '-A MEMGUARD -s 198.51.100.0/24 '
check "IPv6 rules back after reboot" has6 '-A MEMGUARD -s 2001:db8:1::/48 '
check "memcached active" [ "$(ct systemctl is-active memcached)" = active ]
check "no ordering cycle at boot" not eval 'ct journalctl -b --no-pager | grep -i "ordering cycle"'
mono() { ct systemctl show -P "$2" "$1"; }
guard_ready=$(mono memguardd.service ActiveEnterTimestampMonotonic)
memcached_exec=$(mono memcached.service ExecMainStartTimestampMonotonic)
netpre=$(mono network-pre.target ActiveEnterTimestampMonotonic)
log "monotonic us: memguardd ready $guard_ready, network-pre.target $netpre, memcached exec $memcached_exec"
check "memguardd ready before memcached starts" before "$guard_ready" "$memcached_exec"
check "memguardd ready before network-pre.target" before "$guard_ready" "$((netpre + 1))"
[ "$RELEASE" = bookworm ] || purge_and_finish 2

ct systemd-analyze security memguardd.service >"$WORK/security" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for memguardd.service: \([0-9.]*\).*/\1/p' "$WORK/security")
log "systemd-analyze security: exposure ${exposure:-?}; exposed items:"
grep '✗' "$WORK/security"
check "exposure <= 2.0" awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'
check "systemd-analyze verify" ct systemd-analyze verify --man=no memguardd.service

log "drift: flush our chain, the verify timer (verify_interval_s 5) repairs it"
ct iptables-legacy -F MEMGUARD
check "IPv4 chain repaired" until_ok 15 has4 '-A MEMGUARD -s 198.51.100.0/24 '
check "no restarts (crash or watchdog)" [ "$(ct systemctl show -P NRestarts memguardd)" = 0 ]

log "upgrade (reinstall) keeps the port closed throughout"
ct iptables-legacy -A INPUT -p tcp --dport 22 -j ACCEPT
ct ip6tables-legacy -A INPUT -p tcp --dport 22 -j ACCEPT
old_pid=$(ct systemctl show -P MainPID memguardd)
# Sample the table (~7 ms per save) for the whole reinstall.
ct sh -c 'until [ -e /run/stop-watch ]; do iptables-legacy-save -t filter | grep -q -- "-j MEMGUARD" || echo gap; done' >"$WORK/gaps" 2>&1 &
watcher=$!
ct dpkg -i /var/tmp/memguardd.deb >"$WORK/upgrade.log" 2>&1
check "reinstall succeeds" [ $? = 0 ] || cat "$WORK/upgrade.log"
ct touch /run/stop-watch; wait "$watcher"
check "no moment without our rules during the upgrade" [ ! -s "$WORK/gaps" ]
check "service restarted by the upgrade" [ "$(ct systemctl show -P MainPID memguardd)" != "$old_pid" ]
check "active after upgrade" [ "$(ct systemctl is-active memguardd)" = active ]
first_input() { "$1" | grep -m1 -- '^-A INPUT'; }
check "IPv4 jump still first in INPUT" eval 'first_input save4 | grep -q -- "-j MEMGUARD"'
check "IPv6 jump still first in INPUT" eval 'first_input save6 | grep -q -- "-j MEMGUARD"'

log "switch to the nftables backend by reload"
nftl() { ct nft list table inet memguard 2>/dev/null; }
ct sh -c 'sed "0,/{/s//{\"backend\": \"nftables\",/" /root/memguard.json.good >/etc/memguard.json'
check "systemctl reload (backend nftables)" ct systemctl reload memguardd
check "our nftables table holds the allowlist" until_ok 10 eval 'nftl | grep -q "198.51.100.0/24"'
check "no legacy rule of ours left" until_ok 10 not has4 'memguard'
check "foreign IPv4 rule kept through the switch" has4 '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT'
check "status names the nftables backend" eval 'ct memguardd status | grep -q "^backend nftables"'
check "memguardd diff: in sync on nftables" ct memguardd diff

log "Debian's nftables.service: its flush ruleset leaves our table"
check "systemctl enable --now nftables" ct systemctl enable --now nftables
check "nftables.service's own table is in" ct nft list table inet filter
check "our table survived its start (flush ruleset)" eval 'nftl | grep -q "198.51.100.0/24"'
check "systemctl restart nftables" ct systemctl restart nftables
check "our table survived its restart" eval 'nftl | grep -q "198.51.100.0/24"'
check "still in sync" ct memguardd diff
reboot_container

# --- boot 3: both services enabled, nftables backend --------------------------
log "boot 3"
check "boot 3 reaches running" nspawn_boot || { tail -30 "$WORK/console.log"; check_summary; exit 1; }
check "memguardd active (boot 3)" [ "$(ct systemctl is-active memguardd)" = active ]
check "nftables.service active (boot 3)" [ "$(ct systemctl is-active nftables)" = active ]
check "our table is in after nftables.service's flush" until_ok 10 eval 'nftl | grep -q "198.51.100.0/24"'
check "memguardd diff: in sync (boot 3)" ct memguardd diff
nft_done=$(mono nftables.service ActiveEnterTimestampMonotonic)
guard_start=$(mono memguardd.service ExecMainStartTimestampMonotonic)
log "monotonic us: nftables.service active $nft_done, memguardd started $guard_start"
check "memguardd starts after nftables.service has run" before "$nft_done" "$guard_start"
check "memguardd ready before memcached starts (boot 3)" \
    before "$(mono memguardd.service ActiveEnterTimestampMonotonic)" "$(mono memcached.service ExecMainStartTimestampMonotonic)"

log "a reboot with a broken config: the last good policy lets the private clients in"
check "the last good policy is kept in /var/lib/memguardd" ct test -s /var/lib/memguardd/last-good.json
ct sh -c 'echo "{\"allow\": [\"10.0.0.0/8\",]}" >/etc/memguard.json'
check "the broken config fails check" not ct memguardd check /etc/memguard.json
reboot_container

# --- boot 4: fresh namespaces with the clients again, the config broken --------
check "container and client network namespaces again" netns ||
    { check_summary; exit 1; }
log "boot 4 (network namespace $NS_CT)"
check "boot 4 reaches running" nspawn_boot --network-namespace-path="/run/netns/$NS_CT" --capability=CAP_NET_ADMIN ||
    { tail -30 "$WORK/console.log"; check_summary; exit 1; }
check "memguardd active with the broken config" [ "$(ct systemctl is-active memguardd)" = active ]
check "memcached listens on 0.0.0.0 (boot 4)" until_ok 20 listens 0.0.0.0
check "private IPv4 client: new connection answered (the last good policy)" probe $LAN4 $SRV4 open
check "private IPv6 client: new connection answered (the last good policy)" probe $LAN6 $SRV6 open
check "public IPv4 client: new connection fails (boot 4)" probe $PUB4 $PUB_SRV4 timeout
check "public IPv6 client: new connection fails (boot 4)" probe $PUB6 $PUB_SRV6 timeout
ct memguardd status >"$WORK/status.4" 2>&1
check "status exits 1 with the broken config" [ $? = 1 ]
check "status: running the last good config, /etc/memguard.json invalid" \
    grep -q "running the last good config from .*; /etc/memguard.json is invalid: " "$WORK/status.4"
check "journal: the last good policy runs" \
    until_ok 5 eval 'journal | grep -q "^/etc/memguard.json is invalid: .*; running the last good config from "'

purge_and_finish 4
