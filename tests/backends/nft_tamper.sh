#!/bin/bash
# backend_nft_tamper: tampering with our nftables table through the nft tool, with the verify
# interval at 30 s so only the kernel's change events can explain a quick repair.
#   (a) owned table (the default on kernels from 6.9): `nft delete table inet memguard`,
#       `nft add element ... allow4 { <outside> }`, `nft flush chain`, `nft add rule ... accept`
#       are refused by the kernel; `nft flush ruleset` leaves our table; the outside client
#       stays out throughout.
#   (b) unowned table (MEMGUARD_TEST_NFT_UNOWNED=1, as on kernels before 6.9): each tamper
#       goes through and is repaired within 2 s (events), and the outside client is out again:
#       flush chain guard4, an accept inserted at the top of guard4, the outside address added to
#       allow4, the table deleted, `nft flush ruleset`.
# Usage: nft_tamper.sh MEMGUARDD   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$1" nftables

b_topology
b_config "$CONF" 30 "$H_OK4/32" "$H_OK6/128"
mg_start_listener notify

TAMPERS=(
    "flush chain inet memguard guard4"
    "insert rule inet memguard guard4 accept"
    "add element inet memguard allow4 { $H_OUT4 }"
    "delete table inet memguard"
    "flush ruleset"
)

# --- (a) owned ----------------------------------------------------------------------------------
h_start_daemon owned "$CONF"
mg_wait_notify READY=1 1 10 || mg_fatal "(a) no READY=1 within 10 s"
before=$(b_ours)
# nft 1.0.6 does not print the owner and persist flags; what they do is the oracle here.
for t in "${TAMPERS[@]}"; do
    # shellcheck disable=SC2086 # the tamper is words for nft
    out=$(b_nft $t 2>&1)
    if [ "$t" != "flush ruleset" ]; then
        check "(a) nft $t: refused by the kernel ($out)" grep -q "Operation not permitted" <<<"$out"
    fi
    check "(a) nft $t: the outside client stays out" h_blocked $H_OUT4 $H_SRV4
    h_same "(a) nft $t: our table is as it was" "$before" "$(b_ours)"
done
h_stop_daemon
h_mg remove

# --- (b) unowned: events ------------------------------------------------------------------------
h_start_daemon unowned "$CONF" MEMGUARD_TEST_NFT_UNOWNED=1
mg_wait_notify READY=1 2 10 || mg_fatal "(b) no READY=1 within 10 s"
before=$(b_ours)
in_place() { [ "$(b_ours)" = "$before" ]; }
for t in "${TAMPERS[@]}"; do
    t0=$(mg_now_us)
    # shellcheck disable=SC2086
    if ! b_nft $t; then
        fail "(b) nft $t: the tamper itself failed"
        continue
    fi
    if mg_wait_until 2 in_place; then
        pass "(b) nft $t: repaired in $(mg_ms_since "$t0") ms (interval 30 s)"
    else
        fail "(b) nft $t: not repaired within 2 s"
        diff <(echo "$before") <(b_ours) | head -20
    fi
    check "(b) nft $t: the outside client is out" h_blocked $H_OUT4 $H_SRV4
    check "(b) nft $t: the allowed client gets in" h_reaches $H_OK4 $H_SRV4
done
h_stop_daemon
mg_finish
