# shellcheck shell=bash
# The Debian 13 (trixie) root in which the tests build, package and test this tree (sourced, not
# run): a minbase debootstrap root cached outside the repo, made again whenever the package list
# below changes (older roots are removed then). A download that fails is tried again; a root that
# cannot be made is a failure, never a silent pass.
#
#   trixie_root           makes the root when missing and takes its lock (fd 8, held until the
#                         caller exits or calls trixie_unlock: one user at a time, so its ccache,
#                         build directories and mounts are never shared); sets TRIXIE_ROOT
#   trixie_unlock         lets the next user in
#   in_trixie SCRIPT [ARG...]
#                         runs `sh -c SCRIPT sh ARG...` inside the root, in a mount namespace of its
#                         own with /proc, /sys, /dev and a fresh /run and /tmp (the network
#                         namespace is the caller's: tests inside make their own)
#
# Env: MEMGUARD_TRIXIE_CACHE (default /var/cache/memguardd-trixie), MEMGUARD_DEBIAN_MIRROR.

TRIXIE_CACHE=${MEMGUARD_TRIXIE_CACHE:-/var/cache/memguardd-trixie}
# Build (what scripts/install-deps installs) by debootstrap, then test (install-deps --test, less
# what only the host's own suite parts use: docker, ansible, prometheus, clang, valgrind,
# debootstrap, nspawn) and packaging by apt inside: debootstrap alone cannot configure all of
# those in its first stage (lintian's perl modules fail there).
TRIXIE_PACKAGES=g++,make,cmake,pkg-config,libip4tc-dev,libip6tc-dev,libiptc-dev,libxtables-dev
TRIXIE_PACKAGES=$TRIXIE_PACKAGES,libmnl-dev,libnftnl-dev,libspdlog-dev,nlohmann-json3-dev
TRIXIE_PACKAGES=$TRIXIE_PACKAGES,libsystemd-dev,iptables,iproute2,util-linux,catch2,ccache,git
TRIXIE_MORE="build-essential kmod procps psmisc ipset conntrack memcached netcat-openbsd
    libmemcached-tools python3 python3-jsonschema jq strace nftables debhelper dpkg-dev fakeroot
    lintian"
TRIXIE_ROOT=$TRIXIE_CACHE/root-$(printf 'trixie minbase %s %s\n' "$TRIXIE_PACKAGES" "$TRIXIE_MORE" |
    sha256sum | cut -c1-16)

# debootstrap, then apt inside (no service may start there: policy-rc.d).
trixie_bootstrap() {
    local mirror=${MEMGUARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
    debootstrap --variant=minbase --include="$TRIXIE_PACKAGES" trixie "$TRIXIE_ROOT.tmp" "$mirror" ||
        return 1
    cp /etc/resolv.conf "$TRIXIE_ROOT.tmp/etc/resolv.conf" &&
        printf '#!/bin/sh\nexit 101\n' >"$TRIXIE_ROOT.tmp/usr/sbin/policy-rc.d" &&
        chmod 755 "$TRIXIE_ROOT.tmp/usr/sbin/policy-rc.d" || return 1
    TRIXIE_ROOT=$TRIXIE_ROOT.tmp in_trixie 'export DEBIAN_FRONTEND=noninteractive
        apt-get update -q && apt-get install -y -q --no-install-recommends $1 && apt-get clean' \
        "$(echo $TRIXIE_MORE)"
}

trixie_make() {
    local attempt
    for attempt in 1 2 3; do
        echo "making the Debian 13 root $TRIXIE_ROOT (debootstrap, a few minutes, once): attempt $attempt" >&2
        rm -rf --one-file-system "$TRIXIE_ROOT.tmp"
        if trixie_bootstrap >"$TRIXIE_CACHE/debootstrap.log" 2>&1; then
            touch "$TRIXIE_ROOT.tmp/.complete" && mv "$TRIXIE_ROOT.tmp" "$TRIXIE_ROOT" || return 1
            find "$TRIXIE_CACHE" -maxdepth 1 -name 'root-*' ! -path "$TRIXIE_ROOT" \
                -exec rm -rf --one-file-system {} +
            return 0
        fi
        tail -5 "$TRIXIE_CACHE/debootstrap.log" >&2
        sleep 5
    done
    return 1
}

trixie_root() {
    [ "$(id -u)" = 0 ] || { echo "the Debian 13 root needs root (debootstrap, chroot)" >&2; return 1; }
    command -v debootstrap >/dev/null || { echo "debootstrap is not installed" >&2; return 1; }
    mkdir -p "$TRIXIE_CACHE" && exec 8>"$TRIXIE_CACHE/lock" && flock 8 || return 1
    [ -f "$TRIXIE_ROOT/.complete" ] || trixie_make || { echo "no Debian 13 root" >&2; return 1; }
}

trixie_unlock() { exec 8>&-; }

in_trixie() {
    local script=$1
    shift
    unshare -m --propagation private sh -c '
        root=$1; shift
        # Its / a mount point, so that tests inside can make mount namespaces of their own.
        mount --bind "$root" "$root" && mount -t proc proc "$root/proc" &&
            mount -t sysfs sysfs "$root/sys" &&
            mount --rbind /dev "$root/dev" && mount -t tmpfs tmpfs "$root/run" &&
            mount -t tmpfs tmpfs "$root/tmp" && exec chroot "$root" /bin/sh -c "$@"' \
        sh "$TRIXIE_ROOT" "$script" sh "$@" 8>&- # the lock stays ours: no leftover inside keeps it
}
