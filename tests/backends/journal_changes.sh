#!/bin/bash
# backend_journal_changes_<backend>: the journal names what changed.
#   (a) a reload adding 7 networks, two of them labelled: one line names the first 5 with their
#       labels in parentheses, then "and 2 more" (MEMGUARD_EVENT=reload, ALLOWED=7).
#   (b) a reload removing one labelled network: "revoked NET (label)".
#   (c) an element added by hand to our set while the daemon was stopped is logged as drift
#       when it starts (the event verify's drift has), and taken out.
#   (d) with several guards, each guard that changed has its own line, led by its name.
# The allowlist is long enough (past 16 entries) for the legacy backend to keep it in an ipset.
# Usage: journal_changes.sh MEMGUARDD iptables-legacy|nftables   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$@"

b_topology
mkdir -m 700 "$TMP/state"
mapfile -t FILLER < <(h_filler 16)
ADDED=('"203.0.113.0/24"' '{"net": "198.51.100.0/24", "comment": "vendor"}' '"10.9.1.2"'
    '"10.9.2.0/24"' '{"net": "10.9.3.0/24", "comment": "app"}' '"10.9.4.0/24"' '"10.9.5.0/24"')
# write_config EXTRA... : the allowed clients, the filler networks, and the JSON entries EXTRA
write_config() {
    local nets n
    nets="\"$H_OK4/32\", \"$H_OK6/128\""
    for n in "${FILLER[@]}"; do nets+=", \"$n\""; done
    for n in "$@"; do nets+=", $n"; done
    mg_write_raw "$CONF" "{
  \"backend\": \"$B_BACKEND\",
  \"ports\": [$MG_PORT],
  \"allow\": [$nets],
  \"metrics_file\": null,
  \"verify_interval_s\": 3600
}"
}
# logged PATTERN : a line of the daemon's log (stderr: the event and fields in brackets) matches
logged() { grep -qE -- "$1" "$MG_ERR"; }

write_config
mg_start_listener notify
h_start_daemon daemon "$CONF" STATE_DIRECTORY="$TMP/state"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s"
check "(a) a first start logs no drift" eval '! logged "event=drift"'

# --- (a) -----------------------------------------------------------------------------------------
write_config "${ADDED[@]}"
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 2 10 || mg_fatal "no READY=1 after the first reload"
check "(a) the reload names the first five added, with their labels, and how many more" \
    logged '^memguardd: info: allowed 203\.0\.113\.0/24, 198\.51\.100\.0/24 \(vendor\), 10\.9\.1\.2, 10\.9\.2\.0/24, 10\.9\.3\.0/24 \(app\) and 2 more \[event=reload GUARD=default ALLOWED=7 REVOKED=0\]$'
check "(a) oracle: the kernel allows the first of them" b_allowed ipv4 203.0.113.0/24

# --- (b) -----------------------------------------------------------------------------------------
write_config "${ADDED[@]:0:4}" "${ADDED[@]:5}"
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 3 10 || mg_fatal "no READY=1 after the second reload"
check "(b) the reload names the network it revoked, with its label" \
    logged '^memguardd: info: revoked 10\.9\.3\.0/24 \(app\) \[event=reload GUARD=default ALLOWED=0 REVOKED=1\]$'
check "(b) oracle: the kernel no longer allows it" eval '! b_allowed ipv4 10.9.3.0/24'

# --- (c) -----------------------------------------------------------------------------------------
h_stop_daemon
if [ "$B_BACKEND" = nftables ]; then
    b_nft add element inet memguard allow4 '{ 10.77.0.0/16 }' || fail "(c) nft add element failed"
else
    ipset add memguard4 10.77.0.0/16 || fail "(c) ipset add failed"
fi
check "(c) oracle: the hand-added element is in the kernel" b_allowed ipv4 10.77.0.0/16
h_start_daemon restarted "$CONF" STATE_DIRECTORY="$TMP/state"
mg_wait_notify READY=1 4 10 || mg_fatal "no READY=1 after the restart"
check "(c) the start logs the hand-added element as drift" \
    logged '^memguardd: warning: drift: .*10\.77\.0\.0/16.*\[event=drift family=ipv4 DRIFT_KIND=set_members '
check "(c) only that: no other drift at the start" test "$(grep -c 'event=drift' "$MG_ERR")" = 1
check "(c) and took it out" eval '! b_allowed ipv4 10.77.0.0/16'

# --- (d) -----------------------------------------------------------------------------------------
# guards_config PAGES_NET : guard app as the flat config's default was (port 11211), and guard pages
# on the next port allowing PAGES_NET (labelled "batch")
guards_config() {
    mg_write_raw "$CONF" "{
  \"backend\": \"$B_BACKEND\",
  \"metrics_file\": null,
  \"verify_interval_s\": 3600,
  \"guards\": [
    {\"name\": \"app\", \"ports\": [$MG_PORT], \"allow\": [\"$H_OK4/32\", \"$H_OK6/128\"]},
    {\"name\": \"pages\", \"ports\": [$((MG_PORT + 1))], \"allow\": [{\"net\": \"$1\", \"comment\": \"batch\"}]}
  ]
}"
}
guards_config 10.0.0.5/32
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 5 10 || mg_fatal "no READY=1 after the reload to two guards"
guards_config 10.0.0.6/32
kill -HUP "$MG_DAEMON"
mg_wait_notify READY=1 6 10 || mg_fatal "no READY=1 after the reload of guard pages"
check "(d) the guard that changed is named on its line" \
    logged '^memguardd: info: guard pages: allowed 10\.0\.0\.6 \(batch\); revoked 10\.0\.0\.5 \(batch\) \[event=reload GUARD=pages ALLOWED=1 REVOKED=1\]$'
check "(d) the guard that did not change has no line" \
    test "$(grep -c 'event=reload GUARD=app ' "$MG_ERR")" = 1

mg_finish
