#!/bin/bash
# backend_switch: switching backend by reload never leaves a window, and leaves nothing behind.
#   (a) the daemon runs on iptables-legacy; a reload to "nftables" while the outside client
#       probes the port every 100 ms and the allowed client every 100 ms: not one outside probe
#       gets in, the allowed client is never refused for more than one probe; afterwards our
#       nftables table is there and nothing of ours is left in the legacy tables.
#   (b) and back: a reload to "iptables-legacy" takes our nftables table out.
#   (c) doctor on the nftables backend reports a rule of ours left in the legacy tables.
#   (d) remove takes ours out of both.
# Usage: switch.sh MEMGUARDD   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$1" iptables-legacy

b_topology

legacy_ours() { B_BACKEND=iptables-legacy b_ours; }
nft_ours() { B_BACKEND=nftables b_ours; }

# probe_loop NAME SRC DST : connects every 100 ms until $TMP/stop exists; one outcome a line
probe_loop() {
    local name=$1 src=$2 dst=$3
    (while [ ! -e "$TMP/stop" ]; do h_probe "$src" "$dst" "$MG_PORT" 0.2; sleep 0.1; done) >"$TMP/$name.probes" &
    MG_PIDS+=($!)
}

# switch_to LABEL BACKEND READY_COUNT : reload to BACKEND while both clients probe
switch_to() {
    local label=$1 backend=$2 count=$3
    rm -f "$TMP/stop"
    probe_loop out $H_OUT4 $H_SRV4
    probe_loop ok $H_OK4 $H_SRV4
    sleep 0.5
    B_BACKEND=$backend b_config "$CONF" 1 "$H_OK4/32" "$H_OK6/128"
    kill -HUP "$MG_DAEMON"
    mg_wait_notify READY=1 "$count" 10 || fail "$label: no READY=1 after the reload"
    sleep 1
    touch "$TMP/stop"
    sleep 0.5
    check "$label: the outside client never got in ($(sort "$TMP/out.probes" | uniq -c | tr '\n' ' '))" \
        bash -c "! grep -q open '$TMP/out.probes'"
    check "$label: the allowed client got in throughout ($(sort "$TMP/ok.probes" | uniq -c | tr '\n' ' '))" \
        bash -c "[ \$(grep -vc open '$TMP/ok.probes') -le 1 ]"
}

b_config "$CONF" 1 "$H_OK4/32" "$H_OK6/128"
mg_start_listener notify
h_start_daemon daemon "$CONF"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s"
check "(a) before: our legacy rules are in" test -n "$(legacy_ours)"

switch_to "(a) legacy → nftables" nftables 2
check "(a) our nftables table is in" test -n "$(nft_ours)"
check "(a) nothing of ours is left in the legacy tables" test -z "$(legacy_ours)"
h_mg status --json --config "$CONF"
check "(a) the daemon says nftables" test "$(jq -r .daemon.backend <<<"$H_OUT")" = nftables

switch_to "(b) nftables → legacy" iptables-legacy 3
check "(b) our legacy rules are in" test -n "$(legacy_ours)"
check "(b) our nftables table is gone" test -z "$(nft_ours)"
h_stop_daemon

# --- (c) ----------------------------------------------------------------------------------------
B_BACKEND=nftables b_config "$CONF" 1 "$H_OK4/32" "$H_OK6/128"
h_mg apply --once --config "$CONF"
check "(c) apply --once on nftables exits 0: $H_ERR" test "$H_RC" = 0
check "(c) apply --once took the legacy rules out: $H_OUT" test -z "$(legacy_ours)"
mg_ipt ipv4 -I INPUT -p tcp --dport 11311 -m comment --comment "$MG_TAG" -j DROP
h_mg doctor --config "$CONF"
check "(c) doctor reports our rule left in iptables-legacy" \
    grep -q "rules of memguardd's are left in iptables-legacy" <<<"$H_OUT"

# --- (d) ----------------------------------------------------------------------------------------
h_mg remove
check "(d) remove exits 0: $H_OUT $H_ERR" test "$H_RC" = 0
check "(d) nothing of ours in nftables" test -z "$(nft_ours)"
check "(d) nothing of ours in the legacy tables" test -z "$(legacy_ours)"
mg_finish
