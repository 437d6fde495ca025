#!/bin/bash
# backend_guards_<backend>: two guards on two memcached instances with different clients, the
# same for both backends, judged by real clients over a veth pair:
#   (a) guard "app" (port P, tcp+udp) allows OK; guard "pages" (port P+1, tcp) allows OUT,
#       labelled "batch host": each client reaches its own guard's port only, both families;
#       the label is in the kernel's rules (a legacy rule comment, an nftables element comment),
#       in status --json and in clients --json.
#   (b) tamper with one guard's rules: repaired, the other guard's clients never notice.
#   (c) a conf.d fragment adds OK to "pages": after a reload OK reaches both ports.
#   (d) OUT taken off "pages" while it holds a connection there: the connection is cut, the
#       revoke line names the label (MEMGUARD_LABEL), and OK's connection to "app" stays.
#   (e) a bad fragment: the reload is refused, naming the file; the rules stay byte-identical.
#   (f) (after b) blocked traffic to "pages" is logged with the guard (MEMGUARD_GUARD) and the
#       label the source has in "app" (MEMGUARD_LABEL).
# Usage: guards.sh MEMGUARDD iptables-legacy|nftables   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$@"

b_topology
P2=$((MG_PORT + 1))
h_memcached "$SRV" "$P2"
FRAGS=$TMP/memguard.d

# write_config OUT_IN_PAGES(yes|no) : the main file
write_config() {
    local pages_allow='[]'
    [ "$1" = yes ] && pages_allow="[{\"net\": \"$H_OUT4\", \"comment\": \"batch host\"},
                                   {\"net\": \"$H_OUT6\", \"comment\": \"batch host\"}]"
    cat >"$CONF.tmp" <<JSON
{
  "backend": "$B_BACKEND",
  "verify_interval_s": 1,
  "metrics_file": null,
  "log_blocked": true,
  "log_rate_per_s": 100,
  "guards": [
    {"name": "app", "ports": [$MG_PORT], "allow": ["$H_OK4", {"net": "$H_OK6", "comment": "ok six"}]},
    {"name": "pages", "ports": [$P2], "protocols": ["tcp"], "allow": $pages_allow}
  ]
}
JSON
    chmod 600 "$CONF.tmp" && mv "$CONF.tmp" "$CONF"
}

reaches() { check "$1: tcp from $2 reaches $3 port $4" h_reaches "$2" "$3" "$4"; }
blocked() { check "$1: tcp from $2 to $3 port $4 is dropped" h_blocked "$2" "$3" "$4"; }
reload() { # reload N WHAT
    kill -HUP "$MG_DAEMON"
    mg_wait_notify READY=1 "$1" 10 || fail "$2: no READY=1 after the reload"
}

# --- (a) ----------------------------------------------------------------------------------------
write_config yes
mg_start_listener notify
h_start_daemon daemon "$CONF"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s"
for fam in 4 6; do
    ok=H_OK$fam out=H_OUT$fam srv=H_SRV$fam
    reaches "(a)" "${!ok}" "${!srv}" "$MG_PORT"
    blocked "(a)" "${!ok}" "${!srv}" "$P2"
    reaches "(a)" "${!out}" "${!srv}" "$P2"
    blocked "(a)" "${!out}" "${!srv}" "$MG_PORT"
done
check "(a) udp to app's port from OK is answered" test "$(b_udp $H_OK4 $H_SRV4)" = answered
check "(a) udp to app's port from OUT gets no answer" test "$(b_udp $H_OUT4 $H_SRV4)" = silent
if [ "$B_BACKEND" = nftables ]; then
    labels=$(b_nft -j list table inet memguard | jq -r '[.nftables[].set? // empty | .elem? // empty |
        .[] | objects | .elem.comment? // empty] | join(",")')
else
    labels=$(mg_save ipv4; mg_save ipv6)
fi
check "(a) the label is in the kernel's rules" grep -q "batch host" <<<"$labels"
h_mg status --json --config "$CONF"
check "(a) status exits 0: $H_RC" test "$H_RC" = 0
check "(a) status --json shows the guards and the label" test "$(jq -r '.guards[1] |
    "\(.name) \(.ports[0]) \([.allow[].label] | unique | join(","))"' <<<"$H_OUT")" = "pages $P2 batch host"
"${MG_ORPHAN_GUARD[@]}" nsenter -t "$CLI" -n -- "$MG_PYTHON" "$H_CLIENT_PY" hold $H_OUT4 $H_SRV4 "$P2" \
    --ready "$TMP/out.ready" --go "$TMP/out.go" --out "$TMP/out.out" --timeout 2 --max 60 \
    2>"$TMP/out.stderr" &
MG_PIDS+=($!)
"${MG_ORPHAN_GUARD[@]}" nsenter -t "$CLI" -n -- "$MG_PYTHON" "$H_CLIENT_PY" hold $H_OK4 $H_SRV4 "$MG_PORT" \
    --ready "$TMP/ok.ready" --go "$TMP/ok.go" --out "$TMP/ok.out" --timeout 2 --max 60 \
    2>"$TMP/ok.stderr" &
MG_PIDS+=($!)
mg_wait_until 5 grep -q '^first ok' "$TMP/out.ready" || fail "(a) OUT holds a connection to pages"
mg_wait_until 5 grep -q '^first ok' "$TMP/ok.ready" || fail "(a) OK holds a connection to app"
h_mg clients --json --config "$CONF"
got=$(jq -r --arg n "$H_OUT4" '.groups[] | select(.network == $n) | "\(.guard) \(.verdict) \(.label)"' <<<"$H_OUT")
check "(a) clients --json: OUT is allowed by pages, labelled (got: $got; rc $H_RC $H_ERR)" \
    test "$got" = "pages allowed batch host"

# --- (b) ----------------------------------------------------------------------------------------
off=$(mg_log_size "$MG_ERR")
tampered=yes
if [ "$B_BACKEND" = nftables ]; then
    # The daemon owns its table (Linux >= 6.9): the kernel refuses another process's change.
    set_of_pages=$(b_nft -j list table inet memguard | jq -r '.nftables[].set? // empty |
        select(.elem? // [] | tostring | contains("'$H_OUT4'")) | .name' | head -1)
    b_nft delete element inet memguard "$set_of_pages" "{ $H_OUT4 }" 2>/dev/null || tampered=no
else
    rule=$(mg_save ipv4 | grep -- "-s $H_OUT4/32 .*--dport $P2 " | head -1)
    [ -n "$rule" ] && eval "mg_ipt ipv4 ${rule/-A /-D }" ||
        fail "(b) cannot delete the ipv4 rule for OUT on pages: $rule"
fi
if [ $tampered = yes ]; then
    mg_wait_until 10 h_reaches $H_OUT4 $H_SRV4 "$P2" || fail "(b) OUT does not reach pages again"
    check "(b) the drift was found and repaired" grep -q "event=repair" <(mg_log_since "$MG_ERR" "$off")
else
    pass "(b) the kernel refused the tamper with our owned table"
fi
reaches "(b) after the tamper" $H_OUT4 $H_SRV4 "$P2"
reaches "(b) after the tamper" $H_OK4 $H_SRV4 "$MG_PORT"

# --- (f) ----------------------------------------------------------------------------------------
# (a) sent the first such packet: the audit reports a flow's first packet at once.
h_blocked $H_OK6 $H_SRV6 "$P2" || true
blocked_line() { grep -qE "event=blocked.*(GUARD=pages.*LABEL=ok six|LABEL=ok six.*GUARD=pages)" "$MG_ERR"; }
mg_wait_until 12 blocked_line
check "(f) the blocked line names the guard and the source's label (from app)" blocked_line

# --- (c) ----------------------------------------------------------------------------------------
mkdir -m 755 "$FRAGS"
printf '{"guards": [{"name": "pages", "allow": ["%s", "%s"]}]}\n' "$H_OK4" "$H_OK6" >"$FRAGS/50-ok.json"
chmod 644 "$FRAGS/50-ok.json"
reload 2 "(c)"
reaches "(c) the fragment's entry" $H_OK4 $H_SRV4 "$P2"
reaches "(c) the fragment's entry" $H_OK6 $H_SRV6 "$P2"
reaches "(c) still" $H_OUT4 $H_SRV4 "$P2"

# --- (d) ----------------------------------------------------------------------------------------
off=$(mg_log_size "$MG_ERR")
write_config no
reload 3 "(d)"
blocked "(d) OUT taken off pages" $H_OUT4 $H_SRV4 "$P2"
reaches "(d) OK through the fragment" $H_OK4 $H_SRV4 "$P2"
touch "$TMP/out.go" "$TMP/ok.go"
mg_wait_until 5 test -s "$TMP/out.out"
mg_wait_until 5 test -s "$TMP/ok.out"
check "(d) OUT's held connection to pages is cut: $(cat "$TMP/out.out" 2>/dev/null)" \
    grep -qE '^(no answer|reset|closed)' "$TMP/out.out"
check "(d) OK's held connection to app stays: $(cat "$TMP/ok.out" 2>/dev/null)" \
    grep -q '^answered' "$TMP/ok.out"
check "(d) the revoke line names the label" grep -q "event=revoke.*LABEL=batch host" \
    <(mg_log_since "$MG_ERR" "$off")

# --- (e) ----------------------------------------------------------------------------------------
before=$(b_ours | sed -E 's/counter packets [0-9]+ bytes [0-9]+//')
printf '{"allow": ["10.1.0.0/16"], "action": "reject"}\n' >"$FRAGS/60-bad.json"
chmod 644 "$FRAGS/60-bad.json"
off=$(mg_log_size "$MG_ERR")
reload 4 "(e)"
check "(e) the refused reload names the fragment" grep -q "60-bad.json: \"action\"" \
    <(mg_log_since "$MG_ERR" "$off")
h_mg check --config "$CONF"
check "(e) check refuses the set, naming the fragment (exit $H_RC)" \
    eval '[ "$H_RC" = 1 ] && grep -q "60-bad.json" <<<"$H_ERR"'
h_same "(e) a refused reload leaves the rules byte-identical" "$before" \
    "$(b_ours | sed -E 's/counter packets [0-9]+ bytes [0-9]+//')"
rm "$FRAGS/60-bad.json"

mg_finish
