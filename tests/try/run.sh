#!/bin/bash
# The README's first command, as a new user runs it: ./scripts/try from a fresh clone of this
# checkout exits 0, shows the rules it programmed in its private namespace and the daemon's
# status, and leaves nothing behind: no temporary directory, no state or runtime files of
# memguardd's on the host, the host's own tables as they were (read, never written).
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "needs root (unshare --net)" >&2; exit 1; }
# shellcheck source=../lib/check.sh
. "$SRC/tests/lib/check.sh"
host_state() {
    ls -A "$clone/tmp"
    ls -A /var/lib/memguardd /run/memguardd 2>/dev/null
    iptables-legacy-save -t filter 2>/dev/null | grep -v '^#' | sed 's/\[[0-9:]*\]//'
    ip6tables-legacy-save -t filter 2>/dev/null | grep -v '^#' | sed 's/\[[0-9:]*\]//'
}
clone=$(mktemp -d /var/tmp/memguard-try.XXXXXX)
trap 'rm -rf "$clone"' EXIT
git clone -q "$SRC" "$clone/src" || exit 1
# Its temporary directory goes where this test can see it, not among other tests' in /tmp.
mkdir "$clone/tmp" && export TMPDIR=$clone/tmp
# Uncommitted changes of this checkout too, so that the test tries what is being tested.
git -C "$SRC" diff HEAD | git -C "$clone/src" apply --allow-empty || exit 1
before=$(host_state)
(cd "$clone/src" && ./scripts/try) >"$clone/out" 2>&1
rc=$?
after=$(host_state)
check "./scripts/try exits 0 (got $rc)" test "$rc" = 0
check "it shows the MEMGUARD chain it programmed" grep -q '^:MEMGUARD' "$clone/out"
check "it shows the daemon's status" grep -q '^memguardd: running' "$clone/out"
check "it shows the metrics" grep -q '^memguardd_up 1' "$clone/out"
check "it leaves nothing behind on the host" test "$before" = "$after"
if [ "$CHECK_FAILED" != 0 ]; then
    tail -30 "$clone/out"
    diff <(echo "$before") <(echo "$after")
fi
check_summary
