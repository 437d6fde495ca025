# shellcheck shell=bash
# The one way the shell test suites count and report their checks (sourced by each suite's own
# lib.sh, or by a suite's script that has none). Nothing else: each suite keeps its own helpers.
#
#   pass MSG [DETAIL...]  one "PASS MSG" line, each DETAIL indented below it
#   fail MSG [DETAIL...]  one "FAIL MSG" line, each DETAIL indented below it
#   check MSG CMD...      pass MSG when CMD succeeds, else fail MSG and return 1 (so that
#                         `check MSG CMD || show-why` shows more only on a failure)
#   note MSG...           context without a verdict
#   check_summary [WHAT]  prints "N passed, N failed" (WHAT in parentheses after it); returns
#                         non-zero when a check failed, and when no check ran at all: a test that
#                         asserted nothing did not pass.

CHECK_PASSED=0
CHECK_FAILED=0

check_details() {
    local line
    for line in "$@"; do
        printf '%s\n' "$line" | sed 's/^/    | /'
    done
}
pass() {
    CHECK_PASSED=$((CHECK_PASSED + 1))
    echo "PASS $1"
    shift
    check_details "$@"
}
fail() {
    CHECK_FAILED=$((CHECK_FAILED + 1))
    echo "FAIL $1"
    shift
    check_details "$@"
}
check() {
    local msg=$1
    shift
    if "$@"; then
        pass "$msg"
    else
        fail "$msg"
        return 1
    fi
}
note() { echo "     $*"; }
check_summary() {
    echo "$CHECK_PASSED passed, $CHECK_FAILED failed${1:+ ($1)}"
    if [ "$CHECK_PASSED" -eq 0 ] && [ "$CHECK_FAILED" -eq 0 ]; then
        echo "FAIL no check ran: a test that asserts nothing does not pass"
        return 1
    fi
    [ "$CHECK_FAILED" -eq 0 ]
}
