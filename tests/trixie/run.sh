#!/bin/bash
# Debian 13 (trixie), from the same source tree: configure, build everything with warnings as
# errors (g++ 14, Catch2 3) and run the unit tests, in the cached Debian 13 root of
# tests/lib/trixie_root.sh (a root that cannot be made fails the test: it never passes without
# having built). Env: MEMGUARD_TRIXIE_CACHE, MEMGUARD_DEBIAN_MIRROR (see trixie_root.sh).
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/trixie_root.sh
. "$SRC/tests/lib/trixie_root.sh"
trixie_root || { echo "FAIL: no Debian 13 root" >&2; exit 1; }
ROOT=$TRIXIE_ROOT
rm -rf --one-file-system "$ROOT/build"
mkdir -p "$ROOT/build/src"
# The tracked and new files of this checkout (not its build directories).
git -C "$SRC" ls-files -z -co --exclude-standard | tar -C "$SRC" --null -T - -cf - |
    tar -C "$ROOT/build/src" -xf - || exit 1
in_trixie "
        set -e
        export CCACHE_DIR=/var/cache/ccache CCACHE_BASEDIR=/build
        . /etc/os-release; echo \"\$PRETTY_NAME, \$(g++ --version | head -1), Catch2 \$(dpkg-query -W -f=\"\\\${Version}\" catch2)\"
        cmake -S /build/src -B /build/out -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DMEMGUARD_TEST_HOOKS=ON -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/build/configure.log
        cmake --build /build/out -j\$(nproc) >/build/build.log 2>&1 || { tail -40 /build/build.log; exit 1; }
        cd /build/out
        ctest -L unit -j2 --output-on-failure >/build/ctest.log 2>&1 || { tail -60 /build/ctest.log; exit 1; }
        tail -4 /build/ctest.log
    "
rc=$?
rm -rf --one-file-system "$ROOT/build"
[ $rc = 0 ] && echo "PASS: Debian 13 build and unit tests" || echo "FAIL: Debian 13 build or unit tests (rc $rc)"
exit $rc
