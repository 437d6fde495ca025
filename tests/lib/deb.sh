#!/bin/bash
# The memguardd .deb of a source tree, built once: prints the path of a
# memguardd_*.deb built from exactly the files that go into the package, cached
# under $MEMGUARD_DEB_CACHE/<hash of those files>/. The tests that install the
# package (tests/boot, tests/ansible) share it, so a suite builds it once.
#
# Hashed, and all that the throwaway build copy holds: every file of the tree
# (name, mode, content) but .git, build*, obj-*, and what the package does not
# contain: tests/ (not even configured: nocheck sets BUILD_TESTING=OFF),
# contrib/, bench/, scripts/, README.md, docs/; plus this script (how it is built).
# Were one of those needed, the build would fail rather than go stale.
#
# Usage: deb.sh SOURCE-TREE    (the path on stdout, progress on stderr)
# Env:   MEMGUARD_DEB_CACHE    (default /var/cache/memguardd-deb)
#        MEMGUARD_DEB_RELEASE  bookworm (default: built on this machine, Debian 12) or trixie
#                              (built inside the Debian 13 root of tests/lib/trixie_root.sh)
# Exit:  0 the path printed, 1 the build failed (the end of its log on stderr).
set -u

SRC=$(cd "${1:?usage: deb.sh SOURCE-TREE}" && pwd) || exit 1
CACHE=${MEMGUARD_DEB_CACHE:-/var/cache/memguardd-deb}
KEEP_BUILDS=6
RELEASE=${MEMGUARD_DEB_RELEASE:-bookworm}
SELF=$(realpath "$0")
case $RELEASE in
bookworm) ;;
trixie)
    # shellcheck source=trixie_root.sh
    . "$(dirname "$SELF")/trixie_root.sh" ;;
*) echo "deb.sh: MEMGUARD_DEB_RELEASE must be bookworm or trixie, not $RELEASE" >&2; exit 1 ;;
esac
TMP='' BLD=''
trap 'rm -rf --one-file-system ${TMP:+"$TMP"} ${BLD:+"$BLD"}' EXIT

log() { echo "--- [deb ${SECONDS}s] $*" >&2; }
# NUL-separated, sorted, relative to $SRC.
files() {
    (cd "$SRC" && find . \( -path ./.git -o -path './build*' -o -path './obj-*' -o -path ./tests \
        -o -path ./contrib -o -path ./bench -o -path ./scripts -o -path ./README.md -o -path ./docs \) -prune \
        -o ! -type d -print0 | LC_ALL=C sort -z)
}
source_hash() {
    local list=$1
    { (cd "$SRC" && xargs -0r stat -c '%a %N' <"$list" && xargs -0r sha256sum <"$list")
      echo "$RELEASE"; sha256sum <"$SELF"
      [ "$RELEASE" = bookworm ] || echo "$TRIXIE_ROOT"; } | sha256sum | cut -c1-16
}
found() { ls "$CACHE/$1"/memguardd_*.deb 2>/dev/null | head -1; }
# ccache, where there is one: debhelper names the compiler itself (so /usr/lib/ccache in PATH
# is not used), CMake takes a launcher from the environment; debhelper also points HOME into the
# build tree, so the cache is named.
CCACHE_LAUNCH=(CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache)
# dpkg-buildpackage in the source copy $BLD/src, on this machine (Debian 12).
build_bookworm() {
    local launch=()
    command -v ccache >/dev/null &&
        launch=("${CCACHE_LAUNCH[@]}" CCACHE_DIR="$(ccache --get-config cache_dir)")
    (cd "$BLD/src" && env "${launch[@]}" CCACHE_BASEDIR="$BLD/src" CCACHE_NOHASHDIR=1 \
        DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b)
}
# The same inside the Debian 13 root: the copy moves to /deb there, the .deb comes back to $BLD.
build_trixie() {
    trixie_root || return 1
    rm -rf --one-file-system "$TRIXIE_ROOT/deb" && mkdir "$TRIXIE_ROOT/deb" &&
        mv "$BLD/src" "$TRIXIE_ROOT/deb/src" || return 1
    in_trixie "cd /deb/src && ${CCACHE_LAUNCH[*]} CCACHE_DIR=/var/cache/ccache \
        CCACHE_BASEDIR=/deb/src CCACHE_NOHASHDIR=1 DEB_BUILD_OPTIONS=nocheck \
        dpkg-buildpackage -us -uc -b"
    local rc=$?
    mv "$TRIXIE_ROOT"/deb/memguardd_*.deb "$BLD/" 2>/dev/null
    rm -rf --one-file-system "$TRIXIE_ROOT/deb"
    trixie_unlock
    return $rc
}
build() {
    local hash=$1 list=$2
    # One fixed place, ours under the lock: dpkg-buildflags puts it in every compiler command
    # (-ffile-prefix-map), so ccache hits only when it is the same from build to build.
    BLD=$CACHE/build
    rm -rf --one-file-system "$BLD" && mkdir -p "$BLD/src" || return 1
    tar -C "$SRC" --null -T "$list" -cf - | tar -C "$BLD/src" -xf - || return 1
    "build_$RELEASE" >"$CACHE/build.log" 2>&1 || { tail -40 "$CACHE/build.log" >&2; return 1; }
    rm -rf "${CACHE:?}/${hash:?}" && mkdir "$BLD/out" && mv "$BLD"/memguardd_*.deb "$BLD/out/" &&
        mv "$BLD/out" "$CACHE/$hash" && rm -rf --one-file-system "$BLD" && BLD=''
}

mkdir -p "$CACHE" || exit 1
TMP=$(mktemp -d) || exit 1
files >"$TMP/list"
hash=$(source_hash "$TMP/list")
deb=$(found "$hash") start=''
if [ -z "$deb" ]; then
    # Whoever holds the lock builds; the others wait, then find the result.
    exec 9>"$CACHE/lock"
    flock 9
    deb=$(found "$hash")
    if [ -z "$deb" ]; then
        log "building the $RELEASE .deb from $SRC (sources $hash)"
        start=$SECONDS
        build "$hash" "$TMP/list" || { log "build failed (log: $CACHE/build.log)"; exit 1; }
        deb=$(found "$hash")
        log "built in $((SECONDS - start))s"
        # The newest few only (a reused one is touched below: the least recently used go).
        ls -dt "$CACHE"/*/ | tail -n +$((KEEP_BUILDS + 1)) | xargs -r rm -rf
    fi
    exec 9>&-
fi
[ -n "$deb" ] || exit 1
[ -n "$start" ] || log "reusing the .deb already built from these sources ($hash)"
touch "$CACHE/$hash"
echo "$deb"
