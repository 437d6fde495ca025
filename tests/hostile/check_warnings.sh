#!/bin/bash
# hostile_check_warnings: `memguardd check` accepts but warns about allowlists that defeat the
# guard or do not do what they seem to:
#   0.0.0.0/0         every IPv4 source
#   ::/0              every IPv6 source
#   ::ffff:192.0.2.1  an IPv4-mapped IPv6 address (IPv4 packets never carry it)
#   127.0.0.1 only    loopback only (loopback is allowed anyway; nobody else is)
# For each: exit 0, and stderr contains "warning" and the entry as written. Touches no
# netfilter (no namespace needed).
# shellcheck disable=SC2034 # H_NS, MG_* and other variables are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
h_init "$@" --no-netns
[ "$(id -u)" = 0 ] || mg_skip "must run as root (the config file must be owned by root)"

i=0
for entry in 0.0.0.0/0 ::/0 ::ffff:192.0.2.1 127.0.0.1; do
    i=$((i + 1))
    conf=$TMP/check$i.json
    h_config "$conf" 5 "$entry"
    rc=0
    "$MEMGUARDD" check "$conf" >"$TMP/check$i.out" 2>"$TMP/check$i.err" || rc=$?
    check "allow [\"$entry\"]: check exits 0 (got $rc)" [ "$rc" = 0 ]
    check "allow [\"$entry\"]: stderr says \"warning\"" grep -qi 'warning' "$TMP/check$i.err"
    check "allow [\"$entry\"]: stderr names \"$entry\"" grep -qF -- "$entry" "$TMP/check$i.err"
    sed 's/^/     stdout: /' "$TMP/check$i.out"
    sed 's/^/     stderr: /' "$TMP/check$i.err"
done

mg_finish
