#!/bin/bash
# Runs the tests of one ctest label in the build directory BUILD, two at a time, each in a mount
# namespace of its own with a tmpfs on /run (run inside the Debian 13 root by run.sh).
# Why each its own /run: Debian 13's iptables-legacy (1.8.11) takes /run/xtables.lock for every
# command, even a listing, and without -w fails at once while anybody holds it; the tests call it
# without -w and each works in a network namespace of its own, so another test's daemon holding
# the lock (as memguardd does from read to commit) must not make it fail. Debian 12's 1.8.9 does
# not lock so, which is why the same tests run side by side on the host.
# Prints one line per test, the output of each failed one, and a summary; exits 1 if any failed.
# Usage: ctest_each.sh BUILD LABEL-REGEX
set -u
BUILD=${1:?usage: ctest_each.sh BUILD LABEL-REGEX} LABEL=${2:?usage: ctest_each.sh BUILD LABEL-REGEX}
cd "$BUILD" || exit 1
OUT=$(mktemp -d) || exit 1
trap 'rm -rf "$OUT"' EXIT

# ctest -N numbers the tests of the label: "  Test #12: name".
numbers=$(ctest -N -L "$LABEL" | sed -n 's/^ *Test *#\([0-9]*\): .*/\1/p')
[ -n "$numbers" ] || { echo "FAIL: no test has the label $LABEL"; exit 1; }
export OUT
# shellcheck disable=SC2016 # expanded by the inner shell
printf '%s\n' $numbers | xargs -P2 -I{} unshare -m --propagation private -- sh -c '
    mount -t tmpfs -o mode=0755 tmpfs /run || exit 1
    ctest -I {},{} --output-on-failure >"$OUT/{}.log" 2>&1
    echo $? >"$OUT/{}.rc"'

passed=0 failed=0
for n in $numbers; do
    line=$(grep -m1 -E "Test +#$n:" "$OUT/$n.log")
    if [ "$(cat "$OUT/$n.rc" 2>/dev/null)" = 0 ] && [[ $line == *Passed* ]]; then
        passed=$((passed + 1))
        echo "$line"
    else
        failed=$((failed + 1))
        cat "$OUT/$n.log"
    fi
done
echo "$LABEL: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
