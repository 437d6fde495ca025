#!/bin/bash
# backend_nft_foreign_tables: somebody else's `inet memguard` AND somebody else's (empty)
# `inet memguard_closed` (neither carries memguardd's mark) are left byte for byte, the daemon
# fails closed in a table of its own (`inet memguard_closed_alt`), and once the foreign tables
# are gone its own `inet memguard` is back, owned (another process cannot delete it).
#   (i)   after READY=1 and two `memguardd verify` passes: `nft -j list table` of both foreign
#         tables is what it was before the start; the outside client gets no answer (ipv4,
#         ipv6); the fail-closed rules are in inet memguard_closed_alt (loopback only: the
#         allowed client is out too while our name is taken) and the journal names that table.
#   (ii)  the foreign tables are deleted; after one `memguardd verify` the allowed client gets
#         in, the outside client does not, `nft delete table inet memguard` is refused
#         (Operation not permitted: the table is owned), and inet memguard_closed_alt is gone.
# Usage: nft_foreign_tables.sh MEMGUARDD   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$1" nftables

b_topology
b_config "$CONF" 30 "$H_OK4/32" "$H_OK6/128"
mg_start_listener notify

b_nft add table inet memguard && b_nft add chain inet memguard c &&
    b_nft add rule inet memguard c tcp dport 22 accept && b_nft add table inet memguard_closed ||
    mg_fatal "cannot make the foreign tables"
listing() { b_nft -j list table inet "$1" 2>&1; }
main_before=$(listing memguard)
closed_before=$(listing memguard_closed)

# --- (i) both names taken ---------------------------------------------------------------------
h_start_daemon foreign "$CONF"
mg_wait_notify READY=1 1 10 || mg_fatal "(i) no READY=1 within 10 s"
for pass_ in 1 2; do
    h_mg verify
    # exit 2: the pass found an error (our name is taken), as it should
    check "(i) verify pass $pass_ ran (exit $H_RC)" [ "$H_RC" != 124 ]
done
h_same "(i) the foreign inet memguard is byte for byte as it was" "$main_before" "$(listing memguard)"
h_same "(i) the foreign inet memguard_closed is byte for byte as it was" "$closed_before" \
    "$(listing memguard_closed)"
check "(i) the outside client gets no answer (ipv4)" h_blocked $H_OUT4 $H_SRV4
check "(i) the outside client gets no answer (ipv6)" h_blocked $H_OUT6 $H_SRV6
check "(i) failing closed, the allowed client is out too (loopback only)" h_blocked $H_OK4 $H_SRV4
alt=$(b_nft list table inet memguard_closed_alt 2>&1)
check "(i) the fail-closed rules are in inet memguard_closed_alt, marked ours" \
    grep -q 'comment "memguardd"' <<<"$alt"
check "(i) the journal says where it failed closed" \
    grep -q 'failing closed in table inet memguard_closed_alt' "$MG_ERR"
check "(i) no ownership downgrade was logged" \
    eval '! grep -q "refused an owned nftables table" "$MG_ERR"'

# --- (ii) the names are free again ------------------------------------------------------------
b_nft delete table inet memguard && b_nft delete table inet memguard_closed ||
    mg_fatal "cannot delete the foreign tables"
h_mg verify
check "(ii) verify answered (exit $H_RC: $H_ERR)" [ "$H_RC" -le 1 ]
check "(ii) the allowed client gets in (ipv4)" h_reaches $H_OK4 $H_SRV4
check "(ii) the allowed client gets in (ipv6)" h_reaches $H_OK6 $H_SRV6
check "(ii) the outside client gets no answer (ipv4)" h_blocked $H_OUT4 $H_SRV4
out=$(b_nft delete table inet memguard 2>&1)
check "(ii) another process cannot delete our table: it is owned ($out)" \
    grep -q "Operation not permitted" <<<"$out"
check "(ii) inet memguard_closed_alt is gone" eval '! b_nft list table inet memguard_closed_alt >/dev/null 2>&1'
h_stop_daemon
mg_finish
