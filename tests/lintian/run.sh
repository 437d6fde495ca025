#!/bin/bash
# lintian on the memguardd .deb of this tree: no error and no warning (info tags are printed, for
# the record), with the lintian of the release the package was built on.
#   run.sh bookworm   the Debian 12 .deb (tests/lib/deb.sh), the machine's own lintian
#   run.sh trixie     the Debian 13 .deb (MEMGUARD_DEB_RELEASE=trixie tests/lib/deb.sh), the
#                     lintian of the Debian 13 root (tests/lib/trixie_root.sh)
# Exit: 0 clean, 1 a finding or no package, 77 skipped (not root, lintian missing).
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
RELEASE=${1:?usage: run.sh bookworm|trixie}
[ "$(id -u)" = 0 ] || { echo "SKIP: must run as root (the package build)"; exit 77; }

DEB=$(MEMGUARD_DEB_RELEASE=$RELEASE "$SRC/tests/lib/deb.sh" "$SRC") && [ -f "$DEB" ] ||
    { echo "FAIL: no $RELEASE .deb"; exit 1; }
echo "--- $RELEASE: $DEB"
# --fail-on error,warning: the exit status says whether any such tag was found. --allow-root:
# lintian only reads the package.
LINTIAN=(lintian --allow-root --display-info --fail-on error,warning --tag-display-limit 0)
case $RELEASE in
bookworm)
    command -v lintian >/dev/null || { echo "SKIP: lintian is not installed"; exit 77; }
    "${LINTIAN[@]}" "$DEB"
    rc=$?
    ;;
trixie)
    # shellcheck source=../lib/trixie_root.sh
    . "$SRC/tests/lib/trixie_root.sh"
    trixie_root || { echo "FAIL: no Debian 13 root"; exit 1; }
    rm -rf --one-file-system "$TRIXIE_ROOT/lintian" && mkdir "$TRIXIE_ROOT/lintian" &&
        cp "$DEB" "$TRIXIE_ROOT/lintian/" || exit 1
    in_trixie 'exec "$@" /lintian/*.deb' "${LINTIAN[@]}"
    rc=$?
    rm -rf --one-file-system "$TRIXIE_ROOT/lintian"
    ;;
*)
    echo "FAIL: the release is bookworm or trixie, not '$RELEASE'"
    exit 1
    ;;
esac
[ $rc = 0 ] && echo "PASS: lintian finds no error and no warning in the $RELEASE package" ||
    echo "FAIL: lintian on the $RELEASE package (exit $rc)"
exit $rc
