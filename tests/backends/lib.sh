# shellcheck shell=bash disable=SC2034  # variables read by the sourcing scripts
# Shared harness for the tests that run against both backends (sourced, not run). Builds on
# tests/hostile/lib.sh (namespaces, the veth pair, memcached, probes, the daemon).
#
#   b_init MEMGUARDD BACKEND : h_init, then B_BACKEND=iptables-legacy|nftables
#   b_topology : the server and client namespaces, memcached, CONF
#   b_config FILE INTERVAL NETWORK... : h_config plus "backend": B_BACKEND
#   b_ours : prints our rules as the backend's own tool shows them (iptables-legacy-save lines
#       of ours, or `nft list table inet memguard` without counters and owner); empty when none
#   b_allowed FAMILY NETWORK : the kernel's rules of ours accept NETWORK (an -s rule or a set
#       member; an element of allow4/allow6)
#   b_udp SRC DST [PORT] : one memcached UDP "version" request from the client namespace; prints
#       answered|silent
#   b_nft ARGS... : the nft tool in the server namespace
#   b_nft_elems SET : the elements of our set SET (allow4|allow6), one a line, as nft -j names
#       them (ADDR for a host, ADDR/LEN, or FIRST-LAST for a range)
#   b_nft_guards NETWORK... : our table guards the port by what its rules do (not their text, so
#       that a chain added later does not break it): allow4 and allow6 hold exactly NETWORK...
#   b_nft_jumps_ok PORT : the input chain sends tcp and udp PORT of both families to guard4/guard6
#   b_nft_drops_ok : guard4 and guard6 each accept their allow set and end with a drop
#   b_guards_ok NETWORK... : our rules guard port 11211 for exactly NETWORK...: on iptables-legacy
#       exactly mg_expect's rules, our jumps on top of INPUT (both families); on nftables by what
#       they do (b_nft_guards, b_nft_jumps_ok, b_nft_drops_ok)
#   b_mc NS PROTO SRC DST COMMAND : one memcached request (tcp|udp) from namespace NS bound to
#       SRC; prints the first line of the answer, or "silent"
#   b_reach LABEL SRC DST : check that tcp from SRC reaches DST and udp is answered
#   b_blocked LABEL SRC DST : check that tcp from SRC to DST is dropped and udp gets no answer
#   b_hold SRC WHAT : a client bound to SRC holds one tcp connection to memcached ($TMP/held.*)
# b_init also exports MG_BACKEND=B_BACKEND, so daemon/lib.sh's helpers that follow the backend
# (mg_is_nft, mg_config, mg_want...) follow this one; and `nft` is the tool in $H_NS, like the
# iptables ones (tests/hostile/lib.sh), so that mg_nft_table reads the server namespace's table.

B_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../hostile/lib.sh
. "$B_DIR/../hostile/lib.sh"

b_init() {
    # mg_init re-executes the script with MEMGUARDD only: the backend goes through the env.
    [ "${2:-}" != --private-run ] && export B_BACKEND=${2:-}
    B_BACKEND=${B_BACKEND:-}
    case $B_BACKEND in
    iptables-legacy | nftables) ;;
    *) echo "usage: $0 MEMGUARDD iptables-legacy|nftables" >&2; exit 2 ;;
    esac
    h_need nft jq memcached nc python3
    export MG_BACKEND=$B_BACKEND
    h_init "$1"
    echo "backend: $B_BACKEND"
}
nft() { h_tool nft "$@"; }

# b_topology : namespaces SRV (memcached, the daemon: H_NS) and CLI joined by the veth pair;
# CONF names the config file
b_topology() {
    h_netns SRV
    h_netns CLI
    h_link "$SRV" "$CLI"
    H_NS=$SRV
    h_memcached "$SRV" "$MG_PORT"
    CONF=$TMP/memguard.json
}

b_config() {
    local file=$1
    h_config "$@"
    sed -i "s/^{/{\n  \"backend\": \"$B_BACKEND\",/" "$file"
}

b_nft() { h_tool nft "$@"; }

b_ours() {
    if [ "$B_BACKEND" = nftables ]; then
        # Counters move with every blocked packet, and the table's owner (flags owner, "#
        # progname memguardd") goes with the daemon that held it: neither is compared. nft 1.1
        # prints the persist flag as well ("flags owner,persist", then "flags persist").
        b_nft list table inet memguard 2>/dev/null |
            sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/; s/ # progname .*//
                    s/^(\tflags )owner(,|$)/\1/; /^\tflags *$/d' || true
    else
        mg_save ipv4 | grep -E "$MG_TAG|MEMGUARD" || true
        mg_save ipv6 | grep -E "$MG_TAG|MEMGUARD" || true
        ipset save 2>/dev/null | grep -E '^(create|add) memguard[46] ' || true
    fi
}

b_allowed() {
    local fam=$1 net=$2
    if [ "$B_BACKEND" = nftables ]; then
        b_nft -j list set inet memguard "allow${fam#ipv}" 2>/dev/null |
            jq -e --arg n "$net" '[.nftables[].set.elem? // empty | .[] |
                if type == "object" then "\(.prefix.addr)/\(.prefix.len)" else . end] |
                any(. == $n or . + "/32" == $n or . + "/128" == $n)' >/dev/null
    else
        mg_save "$fam" | grep -q -- "-s $net .*--comment $MG_TAG -j ACCEPT" ||
            ipset save 2>/dev/null | grep -q "^add memguard${fam#ipv} $net\$"
    fi
}

b_udp() {
    local src=$1 dst=$2 port=${3:-$MG_PORT}
    timeout 3 nsenter -t "$H_CLI" -n -- "$MG_PYTHON" - "$src" "$dst" "$port" <<'PY'
import socket, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
s.settimeout(1.0)
s.sendto(b"\x00\x01\x00\x00\x00\x01\x00\x00version\r\n", (dst, port))
try:
    s.recvfrom(2048)
    print("answered")
except socket.timeout:
    print("silent")
PY
}

b_nft_elems() {
    b_nft -j list set inet memguard "$1" 2>/dev/null | jq -r '.nftables[].set.elem? // empty | .[] |
        if type == "object" and has("elem") then .elem.val else . end |
        if type == "object" then
            (if has("prefix") then "\(.prefix.addr)/\(.prefix.len)" else "\(.range[0])-\(.range[1])" end)
        else . end'
}

b_nft_guards() {
    local fam net
    local -a members
    for fam in 4 6; do
        members=()
        for net in "$@"; do
            [[ $net == *:* ]] && [ $fam = 4 ] && continue
            [[ $net != *:* ]] && [ $fam = 6 ] && continue
            net=${net%/32}
            members+=("${net%/128}")
        done
        [ "$(b_nft_elems allow$fam | sort)" = "$(printf '%s\n' "${members[@]}" | sed '/^$/d' | sort)" ] || return 1
    done
}

b_nft_jumps_ok() {
    local port=$1 fam proto chain
    chain=$(b_nft list chain inet memguard input 2>/dev/null) || return 1
    for fam in 4 6; do
        for proto in tcp udp; do
            grep -q "meta nfproto ipv$fam $proto dport $port jump guard$fam " <<<"$chain" || return 1
        done
    done
}

b_nft_drops_ok() {
    local fam rules
    for fam in 4 6; do
        rules=$(b_nft -j list chain inet memguard "guard$fam" 2>/dev/null |
            jq -c '.nftables[] | select(.rule) | .rule.expr') || return 1
        grep -qF "\"right\":\"@allow$fam\"}},{\"accept\":null}]" <<<"$rules" || return 1
        tail -n 1 <<<"$rules" | grep -qE '^\[(\{"counter":[^]]*\},)?\{"drop":null\}\]$' || return 1
    done
}

b_guards_ok() {
    if [ "$B_BACKEND" = nftables ]; then
        b_nft_guards "$@" && b_nft_jumps_ok "$MG_PORT" && b_nft_drops_ok
        return
    fi
    mg_expect ipv4 "$@" >"$TMP/b_want.ipv4" && mg_expect ipv6 "$@" >"$TMP/b_want.ipv6" &&
        mg_rules_ok ipv4 "$TMP/b_want.ipv4" && mg_rules_ok ipv6 "$TMP/b_want.ipv6"
}

# b_mc NS PROTO SRC DST COMMAND : one memcached request from namespace NS bound to SRC; prints the
# first line of the answer, or "silent" (udp: a forged request's answer goes elsewhere)
b_mc() {
    timeout 5 nsenter -t "$1" -n -- "$MG_PYTHON" - "$2" "$3" "$4" "$MG_PORT" "$5" <<'PY'
import socket, sys
proto, src, dst, port, command = sys.argv[1:6]
family = socket.AF_INET6 if ":" in dst else socket.AF_INET
kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
s = socket.socket(family, kind)
s.bind((src, 0))
s.settimeout(1.0)
request = command.encode().decode("unicode_escape").encode()
try:
    if proto == "udp":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        to = socket.getaddrinfo(dst, int(port), family, kind)[0][4]  # ff02::1%h-cli: its scope
        s.sendto(b"\x00\x01\x00\x00\x00\x01\x00\x00" + request, to)
        answer = s.recvfrom(2048)[0][8:]
    else:
        s.connect((dst, int(port)))
        s.sendall(request)
        answer = s.recv(2048)
    print(answer.decode(errors="replace").splitlines()[0] if answer else "silent")
except (socket.timeout, ConnectionError, OSError):
    print("silent")
PY
}

b_reach() {
    check "$1: tcp from $2 reaches $3" h_reaches "$2" "$3"
    check "$1: udp from $2 is answered by $3" test "$(b_udp "$2" "$3")" = answered
}
b_blocked() {
    check "$1: tcp from $2 to $3 is dropped" h_blocked "$2" "$3"
    check "$1: udp from $2 to $3 gets no answer" test "$(b_udp "$2" "$3")" = silent
}

# tests/hostile/hclient.py hold, from CLI to H_SRV4; the test fails (WHAT) when it cannot.
b_hold() {
    "${MG_ORPHAN_GUARD[@]}" nsenter -t "$CLI" -n -- "$MG_PYTHON" "$H_CLIENT_PY" hold "$1" "$H_SRV4" \
        "$MG_PORT" --ready "$TMP/held.ready" --go "$TMP/held.go" --out "$TMP/held.out" \
        --timeout 2 --max 30 2>"$TMP/held.stderr" &
    MG_PIDS+=($!)
    mg_wait_until 5 test -s "$TMP/held.ready" && grep -q '^first ok' "$TMP/held.ready" ||
        fail "$2: $(cat "$TMP/held.ready" 2>/dev/null)"
}
