#!/bin/bash
# VM test: Debian 13's own kernel (linux-image-amd64) and initramfs under qemu/KVM, with the legacy
# x_tables modules made unloadable (module_blacklist= on the kernel command line), and the
# memguardd package built on Debian 13 installed inside. Checked from the host over the VM's
# agent (vm.sh) and with a real memcached client on the host side of qemu user networking
# (inside a network namespace this script makes: the host's own tables and interfaces are not
# touched; the guest sees that client as 10.0.2.2):
#   - the kernel has no ip_tables and cannot load it; modules-load.d brought in nf_tables and
#     the nft_* modules of the package's modules-load file;
#   - "backend": "auto" picks nftables, and status and the journal say why;
#   - allowing 10.0.2.2 lets the client in (memcached "version" over tcp and udp); allowing
#     only 192.0.2.0/24 keeps it out;
#   - after a reboot the rules are back before memcached starts;
#   - "backend": "iptables-legacy" never gets ready: systemctl says the start failed, status
#     says why, and the client is still kept out.
#
# Usage: run.sh [memguardd_*.deb built on Debian 13]   (no argument: tests/lib/deb.sh's trixie
#                                                       build of this tree)
# Env:   MEMGUARD_VM_CACHE   the cached VM image (default /var/cache/memguardd-vm; image.sh)
#        MEMGUARD_VM_BOOT_TIMEOUT  seconds a boot may take (default 300)
#        MEMGUARD_VM_ACCEL   kvm, or tcg: qemu's emulation of the CPU (slow; said so in the
#                              output). Default: kvm, but tcg where /dev/kvm is kvm_pvm, which runs
#                              only guest kernels built for it (Debian's stops on an instruction it
#                              cannot emulate); the kernel under test is Debian's own either way
#        KEEP=1              keep the throwaway directory (console.log, agent.log) for debugging
# Exit:  0 all passed, 1 some failed, 77 skipped (not root). No /dev/kvm or no qemu is a failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
# shellcheck source=vm.sh
. "$HERE/vm.sh"
# shellcheck source=../lib/check.sh
. "$SRC/tests/lib/check.sh"
WORK='' NETNS=''
BOOT_TIMEOUT=${MEMGUARD_VM_BOOT_TIMEOUT:-300}
HOST=10.0.2.2            # the client as the guest sees it (qemu user networking's gateway)
NOT_HOST=192.0.2.0/24    # a documentation range: the client is not in it

log() { echo "--- [${SECONDS}s] $*"; }
contains() { [[ $1 == *"$2"* ]]; }
finish() { check_summary; exit; }
abort() { fail "$1"; [ -f "${WORK:-/nonexistent}/console.log" ] && tail -30 "$WORK/console.log"; finish; }
# guest SCRIPT [EXPECTED-TEXT]: SCRIPT succeeds in the VM (and prints EXPECTED-TEXT); its output
# is shown when not.
guest() {
    vm "$1"; local rc=$?
    if [ $rc = 0 ] && { [ -z "${2:-}" ] || [[ $VM_OUT == *"$2"* ]]; }; then return 0; fi
    echo "    [vm, exit $rc] ${VM_OUT//$'\n'/$'\n'    }"
    return 1
}
guest_fails() { vm "$1"; local rc=$?; [ $rc != 0 ] && [ $rc != 255 ] && [[ $VM_OUT == *"${2:-}"* ]] ||
    { echo "    [vm, exit $rc] ${VM_OUT//$'\n'/$'\n'    }"; return 1; }; }
# mc_version PROTO: what memcached at the guest's 11211 answers the client to "version" (a 3 s
# timeout), e.g. "first ok: VERSION 1.6.38" or "first failed: timed out".
mc_version() {
    local udp=() out=$WORK/mc.$1.$RANDOM
    [ "$1" = udp ] && udp=(--udp)
    touch "$WORK/go"
    ip netns exec "$NETNS" python3 "$SRC/tests/hostile/hclient.py" hold 127.0.0.1 127.0.0.1 11211 \
        "${udp[@]}" --ready "$out" --go "$WORK/go" --out "$out.2" --timeout 3 --max 1 >/dev/null 2>&1
    cat "$out" 2>/dev/null
}
answers() { local got; got=$(mc_version "$1"); echo "    $1: $got"; [[ $got == "first ok: VERSION"* ]]; }
silent() { local got; got=$(mc_version "$1"); echo "    $1: $got"; [[ $got == "first failed:"* ]]; }
# config ALLOW-JSON [BACKEND]: a memguard.json for the guest, allowing those networks.
config() {
    printf '{"ports": [11211], "protocols": ["tcp", "udp"], "allow": %s, "backend": "%s"}\n' \
        "$1" "${2:-auto}"
}
# In the guest: reload, then until `memguardd verify` finds the kernel in sync (the reload is
# applied after systemctl returns), at most 20 s.
RELOAD='systemctl reload memguardd || exit 1
    for _ in $(seq 100); do memguardd verify >/dev/null 2>&1 && exit 0; sleep 0.2; done
    memguardd verify'
write_config() { echo "cat >/etc/memguard.json <<'JSON'"$'\n'"$(config "$@")"$'\n'"JSON"; }

cleanup() {
    vm_stop
    [ -n "$NETNS" ] && ip netns del "$NETNS" 2>/dev/null
    if [ -n "$WORK" ]; then
        if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf --one-file-system "$WORK"; fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "SKIP: must run as root"; exit 77; }
for tool in qemu-system-x86_64 qemu-img mkfs.ext4 debootstrap python3 ip; do
    command -v "$tool" >/dev/null || abort "$tool is not installed (scripts/install-deps --test)"
done
if [ -z "${MEMGUARD_VM_ACCEL:-}" ]; then
    MEMGUARD_VM_ACCEL=kvm
    [ -d /sys/module/kvm_pvm ] && MEMGUARD_VM_ACCEL=tcg &&
        echo "NOTE: this /dev/kvm is kvm_pvm, which cannot run Debian's kernel: qemu emulates the CPU (tcg)"
fi
export MEMGUARD_VM_ACCEL
if [ "$MEMGUARD_VM_ACCEL" = tcg ]; then
    echo "NOTE: MEMGUARD_VM_ACCEL=tcg: qemu emulates the CPU, no KVM; the kernel is Debian 13's own"
else
    [ -c /dev/kvm ] && [ -w /dev/kvm ] || abort "no usable /dev/kvm"
fi

# --- the package, the image, the VM ---------------------------------------------------------------
DEB=${1:-}
if [ -z "$DEB" ]; then
    DEB=$(MEMGUARD_DEB_RELEASE=trixie "$SRC/tests/lib/deb.sh" "$SRC") || abort "build the .deb on Debian 13"
fi
[ -f "$DEB" ] || abort "no package at '$DEB'"
log "package: $DEB"
IMAGE=$("$HERE/image.sh") || abort "build the VM image"
log "image: $IMAGE"

WORK=$(mktemp -d /var/tmp/memguardd-vm.XXXXXX)
NETNS=memguardd-vm-$$
ip netns add "$NETNS" && ip -n "$NETNS" link set lo up || abort "client network namespace"
vm_start "$IMAGE" "$DEB" "$NETNS" || abort "start qemu"
# kvm_pvm (pagetable-based virtualization, for machines without VT-x/AMD-V) runs only guest kernels
# built for it (CONFIG_PVM_GUEST): Debian's kernel stops on an instruction KVM cannot emulate.
PVM_NOTE=''
[ -d /sys/module/kvm_pvm ] && PVM_NOTE=" (this /dev/kvm is kvm_pvm: it runs PVM-enabled guest kernels only)"
check "the VM boots Debian 13's kernel (qemu, $MEMGUARD_VM_ACCEL)" vm_wait_boot "$BOOT_TIMEOUT" ||
    abort "no boot$PVM_NOTE"
guest 'systemctl is-system-running --wait; uname -r; cat /etc/debian_version'
echo "    ${VM_OUT//$'\n'/$'\n'    }"
check "the system is running (no failed unit)" contains "$VM_OUT" running ||
    { guest 'systemctl --failed --no-legend --plain'; }

# --- the kernel without legacy x_tables -----------------------------------------------------------
check "ip_tables is not loaded, and cannot be" \
    guest_fails 'lsmod | grep -E "^(ip|ip6)table|^ip6?_tables" && exit 1; modprobe ip_tables' ''
check "no legacy tables (/proc/net/ip_tables_names absent)" guest '! test -e /proc/net/ip_tables_names'
check "memcached answers the client before the guard (tcp)" answers tcp
check "memcached answers the client before the guard (udp)" answers udp

# --- the install ----------------------------------------------------------------------------------
check "the package installs (apt-get install; the VM has no route out)" guest 'mount -o ro /dev/vdb /mnt &&
    DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends install /mnt/memguardd.deb' ||
    abort "install"
check "memguardd is active" guest 'systemctl is-active memguardd'
check "the client is kept out" guest "$(write_config "[\"$NOT_HOST\"]")"$'\n'"$RELOAD"
check "  over tcp" silent tcp
check "  over udp" silent udp
WHY='"backend": "auto" and the kernel has no legacy x_tables'
check "status: backend nftables, and why" guest 'memguardd status' "backend nftables ($WHY)"
check "the journal says why" guest 'journalctl -b -u memguardd -o cat' "$WHY"
check "our table is in nftables" guest 'nft list table inet memguard >/dev/null'
check "allowing $HOST" guest "$(write_config "[\"$NOT_HOST\", \"$HOST/32\"]")"$'\n'"$RELOAD"
check "  lets the client in over tcp" answers tcp
check "  and over udp" answers udp

# --- a reboot -------------------------------------------------------------------------------------
check "back to allowing only $NOT_HOST" guest "$(write_config "[\"$NOT_HOST\"]")"$'\n'"$RELOAD"
vm_send 'systemctl --no-block reboot'
check "the VM reboots" vm_wait_boot "$BOOT_TIMEOUT" || abort "no second boot"
check "boot 2: running" guest 'systemctl is-system-running --wait' running
check "boot 2: memguardd active, in sync" guest 'systemctl is-active memguardd && memguardd verify'
# READY=1 (the port closed) is what ends memguardd's start; memcached's process starts later.
check "boot 2: the rules were in before memcached started" guest '
    ready=$(systemctl show -P ActiveEnterTimestampMonotonic memguardd)
    mc=$(systemctl show -P ExecMainStartTimestampMonotonic memcached)
    echo "memguardd ready at $ready us, memcached started at $mc us"; [ "$ready" -gt 0 ] && [ "$ready" -lt "$mc" ]'
echo "    $VM_OUT"
# The package's modules-load file names what each backend needs; on this kernel only the
# nftables side can load, and systemd-modules-load did at this boot (memguardd itself cannot: no
# CAP_SYS_MODULE). /sys/module also holds what is built in.
MODULES_CHECK='f=/usr/lib/modules-load.d/memguardd.conf; test -f $f || exit 1
    for m in $(grep -E "^nf_tables|^nft_" $f); do test -d /sys/module/$m || { echo "$m not loaded"; exit 1; }; done
    lsmod | grep -E "^nf_tables|^nft_" | cut -d" " -f1 | tr "\n" " "'
check "boot 2: modules-load.d brought in nf_tables and the nft_* modules of memguardd.conf" guest "$MODULES_CHECK"
echo "    loaded: $VM_OUT"
check "boot 2: the client is kept out (tcp)" silent tcp
check "boot 2: the client is kept out (udp)" silent udp
check "boot 2: status says nftables and why" guest 'memguardd status' "$WHY"

# --- "backend": "iptables-legacy" on this kernel --------------------------------------------------
vm "$(write_config "[\"$NOT_HOST\", \"$HOST/32\"]" iptables-legacy)"'
    systemctl restart memguardd 2>&1; echo "restart: $?"; systemctl is-active memguardd'
echo "    ${VM_OUT//$'\n'/$'\n'    }"
check "iptables-legacy: systemctl says the start failed" contains "$VM_OUT" "restart: 1"
check "iptables-legacy: status says why" guest 'memguardd status; true' 'has no legacy'
echo "    ${VM_OUT//$'\n'/$'\n'    }"
check "iptables-legacy: the client is still kept out (tcp)" silent tcp
finish
