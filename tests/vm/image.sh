#!/bin/bash
# The test VM's disk, kernel and initramfs, built once and cached: prints the directory holding
# disk.img (an ext4 file system, the whole disk: root=/dev/vda), vmlinuz and initrd.img.
#
# A debootstrap root of Debian 13 (trixie) with Debian's own kernel (linux-image-amd64), systemd,
# memcached, nftables and iptables, and memguardd's run-time libraries (so the package installs
# inside the VM without a network), turned into a disk image by mkfs.ext4 -d (no loop mount).
# memcached listens on every address, tcp and udp; eth0 gets qemu user networking's 10.0.2.15;
# the agent (agent.sh) is started at every boot.
#
# Usage: image.sh              (the directory on stdout, progress on stderr)
# Env:   MEMGUARD_VM_CACHE     (default /var/cache/memguardd-vm), cached per hash of this script,
#                              agent.sh and the package list
#        DEBIAN_MIRROR         (default http://deb.debian.org/debian)
# Exit:  0 the directory printed, 1 the build failed (the end of its log on stderr).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MEMGUARD_VM_CACHE:-/var/cache/memguardd-vm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# memguardd's Depends on trixie: procps and its shared libraries (dpkg-deb -f X.deb Depends).
PKGS=linux-image-amd64,systemd,systemd-sysv,udev,kmod,iproute2,procps,memcached,nftables,iptables
PKGS=$PKGS,libip4tc2,libip6tc2,libmnl0,libnftnl11,libspdlog1.15,libfmt10,libsystemd0
KEEP_IMAGES=2
log() { echo "--- [vm image ${SECONDS}s] $*" >&2; }

key=$({ echo "$PKGS"; cat "$HERE/image.sh" "$HERE/agent.sh"; } | sha256sum | cut -c1-16)
DIR=$CACHE/$key
ready() { [ -f "$DIR/disk.img" ] && [ -f "$DIR/vmlinuz" ] && [ -f "$DIR/initrd.img" ]; }

# The root's configuration for the VM.
configure() {
    local root=$1
    echo memguardd-vm >"$root/etc/hostname"
    echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$root/etc/fstab"
    # Debian's memcached listens on 127.0.0.1, tcp only; this one has clients outside, udp too.
    sed -i 's/^-l 127\.0\.0\.1$/-l 0.0.0.0/' "$root/etc/memcached.conf"
    echo '-U 11211' >>"$root/etc/memcached.conf"
    grep -qx -- '-l 0.0.0.0' "$root/etc/memcached.conf" || return 1
    install -m 755 "$HERE/agent.sh" "$root/usr/local/sbin/memguardd-vm-agent"
    cat >"$root/etc/systemd/system/memguardd-vm-agent.service" <<'UNIT'
[Unit]
Description=memguardd VM test agent (virtio-serial)
BindsTo=dev-virtio\x2dports-org.memguardd.agent.device
After=dev-virtio\x2dports-org.memguardd.agent.device
[Service]
ExecStart=/usr/local/sbin/memguardd-vm-agent
[Install]
WantedBy=multi-user.target
UNIT
    # qemu user networking: the VM is 10.0.2.15, the host (and its forwarded clients) 10.0.2.2.
    cat >"$root/etc/systemd/system/memguardd-vm-net.service" <<'UNIT'
[Unit]
Description=eth0 on qemu user networking
After=network-pre.target
Before=network.target
BindsTo=sys-subsystem-net-devices-eth0.device
After=sys-subsystem-net-devices-eth0.device
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/ip link set eth0 up
ExecStart=/usr/sbin/ip addr add 10.0.2.15/24 dev eth0
ExecStart=/usr/sbin/ip route add default via 10.0.2.2
[Install]
WantedBy=multi-user.target
UNIT
    local unit
    for unit in memguardd-vm-agent memguardd-vm-net; do
        ln -sf "/etc/systemd/system/$unit.service" \
            "$root/etc/systemd/system/multi-user.target.wants/$unit.service" || return 1
    done
}

build() {
    local tmp=$1 try
    for try in 1 2; do      # a mirror can fail once ("Failed getting release file")
        rm -rf --one-file-system "$tmp/root"
        log "debootstrap trixie (try $try)"
        debootstrap --variant=minbase --include="$PKGS" trixie "$tmp/root" "$MIRROR" \
            >"$CACHE/debootstrap.log" 2>&1 && break
        [ $try = 2 ] && { tail -20 "$CACHE/debootstrap.log" >&2; return 1; }
    done
    configure "$tmp/root" || { log "configuring the root failed"; return 1; }
    cp "$tmp/root"/boot/vmlinuz-* "$tmp/vmlinuz" && cp "$tmp/root"/boot/initrd.img-* "$tmp/initrd.img" ||
        { log "no kernel or initramfs in the root's /boot"; return 1; }
    log "mkfs.ext4 -d"
    truncate -s 3G "$tmp/disk.img" &&
        mkfs.ext4 -q -F -L memguardd-vm -d "$tmp/root" "$tmp/disk.img" >&2 || return 1
    rm -rf --one-file-system "$tmp/root"
}

mkdir -p "$CACHE" || exit 1
if ! ready; then
    exec 9>"$CACHE/lock"
    flock 9
    if ! ready; then
        rm -rf --one-file-system "$CACHE"/build.*       # left by a killed build
        tmp=$(mktemp -d "$CACHE/build.XXXXXX") || exit 1
        build "$tmp" || { rm -rf --one-file-system "$tmp"; log "image build failed"; exit 1; }
        rm -rf "$DIR" && mv "$tmp" "$DIR" || exit 1
        log "built $DIR"
        ls -dt "$CACHE"/*/ | tail -n +$((KEEP_IMAGES + 1)) | xargs -r rm -rf --one-file-system
    fi
    exec 9>&-
fi
touch "$DIR"
echo "$DIR"
