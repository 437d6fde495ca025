#!/bin/bash
# Debian 13 (trixie), from the same source tree, in the cached Debian 13 root of
# tests/lib/trixie_root.sh. Three steps, one ctest test each, sharing
# one build directory inside the root (/build/KEY, KEY from the host's build directory):
#   run.sh build KEY      copy the tree in, configure, build everything with warnings as errors
#                         (g++ 14, Catch2 3) and run the unit tests
#   run.sh ctest KEY LABEL  run the tests of LABEL (netns, backends: real netfilter in network
#                         namespaces the tests make) in that build, inside the root, with /proc,
#                         /sys, /dev and a /run of its own (tests/trixie/ctest_each.sh)
#   run.sh clean KEY      remove the build directory
# Each step holds the root's lock (tests/lib/trixie_root.sh) while it runs. A root that cannot be
# made fails the step: it never passes without having built or run.
# Env: MEMGUARD_TRIXIE_CACHE, MEMGUARD_DEBIAN_MIRROR (see tests/lib/trixie_root.sh).
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
STEP=${1:-} KEY=${2:-}
[[ $STEP =~ ^(build|ctest|clean)$ ]] && [[ $KEY =~ ^[0-9a-f]+$ ]] ||
    { echo "usage: run.sh build|ctest|clean KEY [LABEL]" >&2; exit 2; }
BUILD=/build/$KEY
# shellcheck source=../lib/trixie_root.sh
. "$SRC/tests/lib/trixie_root.sh"

build() {
    rm -rf --one-file-system "${TRIXIE_ROOT:?}$BUILD"
    mkdir -p "$TRIXIE_ROOT$BUILD/src" || return 1
    # The tracked and new files of this checkout (not its build directories).
    git -C "$SRC" ls-files -z -co --exclude-standard | tar -C "$SRC" --null -T - -cf - |
        tar -C "$TRIXIE_ROOT$BUILD/src" -xf - || return 1
    # The root's ccache; BASEDIR and NOHASHDIR (-g would hash the build directory): its hits do
    # not depend on the KEY.
    in_trixie "
        set -e
        export CCACHE_DIR=/var/cache/ccache CCACHE_BASEDIR=$BUILD CCACHE_NOHASHDIR=1
        . /etc/os-release; echo \"\$PRETTY_NAME, \$(g++ --version | head -1), Catch2 \$(dpkg-query -W -f='\${Version}' catch2)\"
        cmake -S $BUILD/src -B $BUILD/out -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DMEMGUARD_TEST_HOOKS=ON -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >$BUILD/configure.log
        cmake --build $BUILD/out -j\$(nproc) >$BUILD/build.log 2>&1 || { tail -40 $BUILD/build.log; exit 1; }
        cd $BUILD/out
        ctest -L unit -j2 --output-on-failure >$BUILD/ctest.log 2>&1 || { tail -60 $BUILD/ctest.log; exit 1; }
        tail -4 $BUILD/ctest.log"
}

trixie_root || { echo "FAIL: no Debian 13 root" >&2; exit 1; }
case $STEP in
build)
    build
    rc=$?
    [ $rc = 0 ] && echo "PASS: Debian 13 build and unit tests" || echo "FAIL: Debian 13 build or unit tests (rc $rc)"
    ;;
ctest)
    LABEL=${3:?usage: run.sh ctest KEY LABEL}
    [ -f "$TRIXIE_ROOT$BUILD/out/CTestTestfile.cmake" ] || { echo "FAIL: no Debian 13 build in $TRIXIE_ROOT$BUILD"; exit 1; }
    in_trixie ". /etc/os-release; echo \"\$PRETTY_NAME, iptables \$(iptables-legacy --version), \$(nft --version)\"
             exec $BUILD/src/tests/trixie/ctest_each.sh $BUILD/out '$LABEL'"
    rc=$?
    [ $rc = 0 ] && echo "PASS: Debian 13 $LABEL tests" || echo "FAIL: Debian 13 $LABEL tests (rc $rc)"
    ;;
clean)
    rm -rf --one-file-system "${TRIXIE_ROOT:?}$BUILD"
    rc=$?
    ;;
esac
exit $rc
