#!/bin/bash
# Debian 13 (trixie), from the same source tree: configure, build everything with warnings as
# errors (g++ 14, Catch2 3) and run the unit tests, in a minbase debootstrap root cached outside
# the repo and made again whenever the package list below changes. A download that fails is tried
# again; a root that cannot be made fails the test (it never passes without having built).
# Env: MEMGUARD_TRIXIE_CACHE (default /var/cache/memguardd-trixie), MEMGUARD_DEBIAN_MIRROR.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${MEMGUARD_TRIXIE_CACHE:-/var/cache/memguardd-trixie}
MIRROR=${MEMGUARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=g++,make,cmake,pkg-config,libip4tc-dev,libip6tc-dev,libiptc-dev,libxtables-dev,libmnl-dev
PACKAGES=$PACKAGES,libnftnl-dev,libspdlog-dev,nlohmann-json3-dev,libsystemd-dev,iptables,iproute2
PACKAGES=$PACKAGES,util-linux,catch2,ccache,git
STAMP=$(printf 'trixie minbase %s\n' "$PACKAGES" | sha256sum | cut -c1-16)
ROOT=$CACHE/root-$STAMP
[ "$(id -u)" = 0 ] || { echo "needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debootstrap is not installed" >&2; exit 1; }
mkdir -p "$CACHE" || exit 1

make_root() {
    [ -f "$ROOT/.complete" ] && return 0
    local attempt
    for attempt in 1 2 3; do
        echo "making the Debian 13 root $ROOT (debootstrap, about 2 min, once): attempt $attempt"
        rm -rf --one-file-system "$ROOT.tmp"
        if debootstrap --variant=minbase --include="$PACKAGES" trixie "$ROOT.tmp" "$MIRROR" \
            >"$CACHE/debootstrap.log" 2>&1; then
            touch "$ROOT.tmp/.complete" && mv "$ROOT.tmp" "$ROOT" && return 0
        fi
        tail -5 "$CACHE/debootstrap.log" >&2
        sleep 5
    done
    return 1
}

# One build at a time in the root: ccache there, keyed to the fixed path /build/src, is reused.
exec 9>"$CACHE/lock"
flock 9
make_root || { echo "FAIL: no Debian 13 root" >&2; exit 1; }
rm -rf --one-file-system "$ROOT/build"
mkdir -p "$ROOT/build/src"
# The tracked and new files of this checkout (not its build directories).
git -C "$SRC" ls-files -z -co --exclude-standard | tar -C "$SRC" --null -T - -cf - |
    tar -C "$ROOT/build/src" -xf - || exit 1
unshare -m --propagation private sh -c '
    mount -t proc proc "$1/proc" && exec chroot "$1" /bin/sh -c "
        set -e
        export CCACHE_DIR=/var/cache/ccache CCACHE_BASEDIR=/build
        . /etc/os-release; echo \"\$PRETTY_NAME, \$(g++ --version | head -1), Catch2 \$(dpkg-query -W -f=\"\\\${Version}\" catch2)\"
        cmake -S /build/src -B /build/out -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DMEMGUARD_TEST_HOOKS=ON -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/build/configure.log
        cmake --build /build/out -j\$(nproc) >/build/build.log 2>&1 || { tail -40 /build/build.log; exit 1; }
        cd /build/out && ctest -L unit -j2 --output-on-failure | tail -4
    "' sh "$ROOT"
rc=$?
rm -rf --one-file-system "$ROOT/build"
[ $rc = 0 ] && echo "PASS: Debian 13 build and unit tests" || echo "FAIL: Debian 13 build or unit tests (rc $rc)"
exit $rc
