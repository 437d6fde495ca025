#!/bin/bash
# backend_scale_<backend>: an allowlist of 100,000 IPv4 /32s and 100,000 IPv6 /64s, every
# tenth with a comment. `memguardd apply --once` puts it in place within the time a one-off
# apply gets (nftables: a batch whose ACKs outgrow a default receive buffer, so none may be lost
# and no reply waited for without end), the kernel holds every network, and a second apply
# leaves them all in place. Then a daemon keeps it: `memguardd status` of the unchanged config
# answers from the daemon (nothing validated again, no set read from the kernel) within a
# second (it used to take several: bench/scale.md has the figures).
# Usage: scale.sh MEMGUARDD iptables-legacy|nftables   (root)
# shellcheck disable=SC2034 # H_NS and H_MG_TIMEOUT are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$@"
N=100000

h_netns SRV
H_NS=$SRV
CONF=$TMP/memguard.json
python3 - "$CONF" "$B_BACKEND" "$N" <<'PY'
import json, sys
path, backend, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
# every other address: no two entries merge into one interval
nets = [f"10.{2 * i >> 16 & 255}.{2 * i >> 8 & 255}.{2 * i & 255}" for i in range(n)]
nets += [f"2001:db8:{2 * i >> 16:x}:{2 * i & 0xffff:x}::/64" for i in range(n)]
allow = [{"net": a, "comment": f"host {i}"} if i % 10 == 0 else a for i, a in enumerate(nets)]
json.dump({"backend": backend, "metrics_file": None, "allow": allow}, open(path, "w"))
PY
chmod 600 "$CONF"

# members FAMILY : how many networks our set of FAMILY (4|6) holds in the kernel
members() {
    if [ "$B_BACKEND" = nftables ]; then
        b_nft -j list set inet memguard "allow$1" | jq '[.nftables[].set.elem // empty | .[]] | length'
    else
        ipset list -t "memguard$1" | awk -F': ' '/^Number of entries/ { print $2 }'
    fi
}

H_MG_TIMEOUT=60
h_mg apply --once --config "$CONF"
check "apply --once of $N + $N networks exits 0 within ${H_MG_TIMEOUT} s (rc $H_RC): $H_ERR" test "$H_RC" = 0
check "the IPv4 set holds $N networks (found $(members 4))" test "$(members 4)" = "$N"
check "the IPv6 set holds $N networks (found $(members 6))" test "$(members 6)" = "$N"

h_mg apply --once --config "$CONF"
check "a second apply --once exits 0 (rc $H_RC): $H_ERR" test "$H_RC" = 0
check "after it the IPv4 set still holds $N networks" test "$(members 4)" = "$N"

mg_start_listener notify
h_start_daemon daemon "$CONF"
mg_wait_notify READY=1 1 60 || mg_fatal "the daemon said no READY=1 within 60 s: $(cat "$MG_ERR")"
started=${EPOCHREALTIME/./}
h_mg status --config "$CONF"
took=$(((${EPOCHREALTIME/./} - started) / 1000))
check "status with the daemon running exits 0 (rc $H_RC): $H_ERR" test "$H_RC" = 0
check "status says in sync, as of the daemon's last pass: $H_OUT" \
    eval 'grep -q ": in sync$" <<<"$H_OUT" && grep -q ", last pass 20" <<<"$H_OUT"'
check "status says the guard allows $((2 * N)) networks" \
    grep -q "guard default (tcp/udp 11211): $((2 * N)) network(s) allowed, $((N / 5)) labelled" <<<"$H_OUT"
check "status took ${took} ms (at most 1000)" test "$took" -le 1000
mg_finish
