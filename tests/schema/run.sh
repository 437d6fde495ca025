#!/bin/bash
# Schema/daemon agreement: every example in cases/ (and config/memguard.json)
# is judged by config/memguard.schema.json and by `memguardd check`.
#   good-*  both accept      bad-*  both reject
#   gap-*   schema accepts, daemon rejects: what a JSON Schema cannot express
#           (host bits, normalised duplicates, a key given twice, 11211.0)
# A rejection counts only with the right reason: reasons.tsv holds, per bad-*/gap-* case, text
# the daemon's error must hold (where in the file, and what is wrong there).
# Usage: run.sh /path/to/memguardd        Exit 77 = skipped.
set -u
MEMGUARDD=${1:?usage: run.sh /path/to/memguardd}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
SCHEMA=$SRC/config/memguard.schema.json
PYTHON=${PYTHON:-/usr/bin/python3}   # Debian's, with python3-jsonschema

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: must run as root (memguardd check refuses files not owned by root)"; exit 77
fi
if ! "$PYTHON" -c 'import jsonschema' 2>/dev/null; then
    echo "SKIP: $PYTHON has no jsonschema module (apt-get install python3-jsonschema)"; exit 77
fi

# shellcheck source=../lib/check.sh
. "$HERE/../lib/check.sh"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# The daemon refuses group/other-writable or non-root files.
install -m 0644 -o root -g root "$SRC/config/memguard.json" "$TMP/good-shipped-config.json"
for f in "$HERE"/cases/*.json; do
    install -m 0600 -o root -g root "$f" "$TMP/"
done

# One python run prints "<file> valid|invalid <first error>" per file.
"$PYTHON" - "$SCHEMA" "$TMP"/*.json >"$TMP/schema.out" <<'EOF' || exit 1
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
for path in sys.argv[2:]:
    try:
        doc = json.load(open(path))
    except ValueError as e:
        print(path, "invalid", "json:", e); continue
    err = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    print(path, "valid" if err is None else "invalid", "" if err is None else err.message)
EOF

if "$PYTHON" "$HERE/gen_schema.py" | cmp -s - "$SCHEMA"; then
    pass "schema is what gen_schema.py writes"
else
    fail "$SCHEMA differs from gen_schema.py's output (edit the generator, then regenerate)"
fi
while read -r path verdict why; do
    name=$(basename "$path" .json)
    "$MEMGUARDD" check "$path" >"$TMP/check.out" 2>&1
    rc=$?
    case $rc in 0) daemon=valid ;; 1) daemon=invalid ;; *) daemon="error(rc=$rc)" ;; esac
    case $name in
        good-*) want_schema=valid   want_daemon=valid ;;
        bad-*)  want_schema=invalid want_daemon=invalid ;;
        gap-*)  want_schema=valid   want_daemon=invalid ;;
        *) fail "$name: unknown case prefix"; continue ;;
    esac
    reason_ok=true reason=
    if [ "$want_daemon" = invalid ]; then
        reason=$(awk -F '\t' -v n="$name" '$1 == n { print $2; exit }' "$HERE/reasons.tsv")
        if [ -z "$reason" ] || ! grep -qF -- "$path: $reason" "$TMP/check.out"; then reason_ok=false; fi
    fi
    if [ "$verdict" = "$want_schema" ] && [ "$daemon" = "$want_daemon" ] && $reason_ok; then
        pass "$name: schema $verdict, daemon $daemon${reason:+ ($reason)}"
    elif ! $reason_ok; then
        fail "$name: the daemon rejects it, but its error does not say \"${reason:-(no reason in reasons.tsv)}\":" \
            "$(cat "$TMP/check.out")"
    else
        fail "$name: schema $verdict (want $want_schema) $why; daemon $daemon (want $want_daemon):" \
            "$(cat "$TMP/check.out")"
    fi
done <"$TMP/schema.out"

check_summary
