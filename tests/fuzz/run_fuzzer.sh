#!/bin/bash
# run_fuzzer.sh FUZZER SEED_DIR SECONDS: fuzzes from a scratch copy of the seeds (the checked-in
# corpus stays small), prints libFuzzer's final stats, fails on any crash, leak or sanitizer report.
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work/"
status=0
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$work/crash-" \
    "$work" >"$work/log" 2>&1 || status=$?
grep -E "^(stat::|Done|SUMMARY|==[0-9]+==ERROR)" "$work/log" || true
if [ "$status" -ne 0 ] || ls "$work"/crash-* >/dev/null 2>&1; then
    tail -40 "$work/log"
    echo "fuzzer found a failing input:"; ls "$work"/crash-*
    exit 1
fi
