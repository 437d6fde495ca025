#!/bin/bash
# daemon_metrics: the Prometheus textfile (metrics_file) as the running daemon writes it.
#
#   (a) within 5 s of READY=1 the file is there, mode 0644, with no temporary file beside it,
#       and `promtool check metrics` (Debian package prometheus) prints nothing and exits 0;
#       up, in_sync, failing_closed, backend_info and allowed_networks say what the config says;
#   (b) verify passes that find nothing new (verify_interval_s 1) leave the file as it is for
#       3 s: it is written again when a figure or a counter moves, and once a minute anyway
#       (that minute is the unit tests'); it holds the last verify's duration;
#   (c) real blocked traffic over a veth pair from a client namespace of the test's own
#       (10.0.0.5, fd99::5 -> 10.0.0.1, fd99::1, port 11211; the allowlist holds neither):
#       N UDP datagrams and K TCP connection attempts per family. memguardd_blocked_packets_total
#       and _bytes_total per family and protocol then equal the kernel's own counters of our
#       drop rules (iptables-legacy-save -c / nft -j list table inet memguard), and are at least
#       what was sent;
#   (d) iptables-legacy only (nftables' owned table refuses another process's delete): a rule of
#       ours deleted -> drift_total and repairs_total count it;
#   (e) a reload with an invalid config -> reload_failures_total 1, still in sync; a reload with
#       metrics_file elsewhere -> the old file is removed and the new one written;
#   (f) SIGTERM -> the file says memguardd_up 0 and still passes promtool;
#   (g) a metrics_file in a directory that does not exist: one warning, once, over several
#       passes; the daemon guards as usual; once the directory is made the file appears;
#   (h) a reload with two guards: allowed_networks per family and guard;
#   (i) a metrics directory only root must change, each refused (the config's rule): one owned
#       by nobody, one writable by group and others (0777), one named through a symbolic link
#       (to a root-owned directory): one error naming the directory and the reason, once over
#       several passes; nothing written in it, nor through the link; READY=1 and the rules in;
# and the alert rules docs/operations.md shows pass `promtool check rules`.
# Usage: metrics.sh MEMGUARDD [iptables-legacy|nftables]
. "$(dirname "$0")/lib.sh"
mg_backend "$@"
mg_init "$1"
note "backend: $MG_BACKEND"

for tool in ip nsenter jq promtool; do
    command -v $tool >/dev/null || mg_skip "$tool not installed (promtool: apt-get install prometheus)"
done

SRV_IF=mg-srv CLI_IF=mg-cli
SRV4=10.0.0.1 SRV6=fd99::1 CLI4=10.0.0.5 CLI6=fd99::5
UDP_N=40 TCP_K=3

# ---- the client namespace, joined to ours by a veth pair ---------------------------------
mg_client_veth

# send.py SRC DST PORT UDP_N TCP_K : UDP_N datagrams, then TCP_K connection attempts of 0.3 s
# each (one SYN each: the first retransmission would come after 1 s); prints what it sent.
cat >"$TMP/send.py" <<'PY'
import socket, sys
src, dst, port, n, k = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
u = socket.socket(fam, socket.SOCK_DGRAM)
u.bind((src, 0))
for i in range(n):
    u.sendto(b"stats\r\n", (dst, port))
answered = 0
for i in range(k):
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.bind((src, 0))
    t.settimeout(0.3)
    try:
        t.connect((dst, port))
        answered += 1
    except OSError:
        pass
    t.close()
print(f"udp {n} tcp {k} answered {answered}")
PY

# ---- reading the file ---------------------------------------------------------------------
PROM_DIR=$TMP/node-exporter
PROM=$PROM_DIR/memguardd.prom
mkdir -p "$PROM_DIR"
# value NAME_WITH_LABELS [FILE] : the sample's value, "" when absent
value() { awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' "${2:-$PROM}"; }
has() { [ "$(value "$1" "${3:-$PROM}")" = "$2" ]; }
promtool_ok() { # promtool_ok FILE : no output at all, exit 0
    local out rc
    out=$(promtool check metrics <"$1" 2>&1)
    rc=$?
    [ $rc = 0 ] && [ -z "$out" ] && return 0
    note "promtool exit $rc: $out"
    return 1
}
mtime() { stat -c %Y.%y "$1" 2>/dev/null; }
# written_after MARKER : the file was replaced after MARKER was touched
written_after() { [ "$PROM" -nt "$1" ]; }

write_config() { # write_config METRICS_FILE_JSON [VERIFY_INTERVAL]
    mg_write_raw "$TMP/memguard.json" "{
  \"ports\": [$MG_PORT],
  \"protocols\": [\"tcp\", \"udp\"],
  \"allow\": [\"192.168.1.0/24\", \"192.168.2.0/24\", \"2001:db8::/32\"],
  \"action\": \"drop\",
  \"verify_interval_s\": ${2:-1},
  \"metrics_file\": $1
}" && mg_backend_config "$TMP/memguard.json"
}

# ---- (a) the first file --------------------------------------------------------------------
write_config "\"$PROM\""
mg_start_listener notify
mg_start_daemon daemon "$TMP/memguard.json"
mg_wait_notify READY=1 1 10 || mg_fatal "no READY=1 within 10 s of starting the daemon"
mg_wait_until 5 test -s "$PROM" || mg_fatal "(a) no $PROM within 5 s of READY=1"
pass "(a) the daemon wrote $PROM"
check "(a) promtool check metrics: no output, exit 0" promtool_ok "$PROM"
check "(a) mode 0644 (readable by node_exporter's user)" [ "$(stat -c %a "$PROM")" = 644 ]
check "(a) nothing but memguardd.prom in the directory (no temporary left)" \
    [ "$(ls -A "$PROM_DIR")" = memguardd.prom ]
check "(a) memguardd_up 1" has memguardd_up 1
check "(a) memguardd_in_sync 1" has memguardd_in_sync 1
check "(a) memguardd_failing_closed 0" has memguardd_failing_closed 0
check "(a) memguardd_backend_info{backend=\"$MG_BACKEND\"} 1" has "memguardd_backend_info{backend=\"$MG_BACKEND\"}" 1
check "(a) 2 ipv4 networks allowed to guard default" has 'memguardd_allowed_networks{family="ipv4",guard="default"}' 2
check "(a) 1 ipv6 network allowed to guard default" has 'memguardd_allowed_networks{family="ipv6",guard="default"}' 1
check "(a) a last apply success timestamp within a minute of now" \
    eval "awk -v t=\"\$(value memguardd_last_apply_success_timestamp_seconds)\" -v now=$(date +%s) 'BEGIN { exit !(t > now - 60 && t <= now + 1) }'"
note "$(grep -v '^#' "$PROM" | tr '\n' ';' | cut -c 1-600)"

# ---- (b) a pass with nothing new leaves the file alone ----------------------------------------
verified() { [ -n "$(value memguardd_verify_duration_seconds)" ]; }
mg_wait_until 3 verified || fail "(b) no verify pass in the file within 3 s"
touch "$TMP/mark-b"
if mg_wait_until 3 written_after "$TMP/mark-b"; then
    fail "(b) the file was written again within 3 s though nothing moved: $(grep -v '^#' "$PROM" | tr '\n' ';' | cut -c 1-300)"
else
    pass "(b) three verify passes with nothing new (verify_interval_s 1) left the file as it was"
fi
check "(b) a verify duration, in seconds, under 1 s: $(value memguardd_verify_duration_seconds)" \
    awk -v d="$(value memguardd_verify_duration_seconds)" 'BEGIN { exit !(d != "" && d >= 0 && d < 1) }'

# ---- (c) blocked traffic against the kernel's counters --------------------------------------
# kernel_blocked : "FAMILY PROTOCOL PACKETS BYTES" per family and protocol, from our drop and
# reject rules' counters. A closing rule without a protocol is the catch-all, which sees only
# udp once the tcp-only one before it took tcp (the layout both backends follow).
kernel_blocked() {
    {
        if mg_is_nft; then
            nft -j list table inet memguard | jq -r '
                .nftables[] | select(.rule) | .rule as $r
                | ([$r.expr[] | select(has("counter")) | .counter][0]) as $c
                | select($c != null and ([$r.expr[] | select(has("drop") or has("reject"))] | length > 0))
                | ([$r.expr[] | select(has("match")) | select(.match.left | type == "object" and .meta?.key == "nfproto") | .match.right][0]
                   // (if ($r.chain | test("4$")) then "ipv4" elif ($r.chain | test("6$")) then "ipv6" else "unknown" end)) as $fam
                | ([$r.expr[] | select(has("match")) | .match | select(.left | type == "object")
                    | if .left.meta?.key == "l4proto" then .right else .left.payload?.protocol end
                    | select(. == "tcp" or . == "udp")][0] // "udp") as $proto
                | "\($fam) \($proto) \($c.packets) \($c.bytes)"'
        else
            for fam in ipv4 ipv6; do
                tool=iptables-legacy-save
                [ $fam = ipv6 ] && tool=ip6tables-legacy-save
                "$tool" -c | awk -v fam=$fam '
                    /--comment "?memguard/ && / -j (DROP|REJECT)/ {
                        split(substr($1, 2, length($1) - 2), c, ":")
                        proto = "udp"
                        if (match($0, / -p (tcp|udp) /)) proto = substr($0, RSTART + 4, 3)
                        print fam, proto, c[1], c[2]
                    }'
            done
        fi
    } | awk '{ p[$1 " " $2] += $3; b[$1 " " $2] += $4 }
             END { for (k in p) print k, p[k], b[k] }' | sort
}
# metric_blocked : the same lines from the file, for the four series the config guards
metric_blocked() {
    local fam proto labels
    for fam in ipv4 ipv6; do
        for proto in tcp udp; do
            labels="{family=\"$fam\",protocol=\"$proto\"}"
            echo "$fam $proto $(value "memguardd_blocked_packets_total$labels") $(value "memguardd_blocked_bytes_total$labels")"
        done
    done
}
# kernel_four : kernel_blocked with every one of the four series (absent: 0 0)
kernel_four() {
    local k fam proto
    k=$(kernel_blocked)
    for fam in ipv4 ipv6; do
        for proto in tcp udp; do
            grep "^$fam $proto " <<<"$k" || echo "$fam $proto 0 0"
        done
    done
}
for pair in "$CLI4 $SRV4" "$CLI6 $SRV6"; do
    read -r src dst <<<"$pair"
    out=$(cli "$MG_PYTHON" "$TMP/send.py" "$src" "$dst" "$MG_PORT" $UDP_N $TCP_K 2>&1)
    check "(c) sent from $src to $dst: $out" [ "$out" = "udp $UDP_N tcp $TCP_K answered 0" ]
done
# The traffic has ended: within 3 s (a pass or three) the file holds counters read after it.
counted() { [ "$(metric_blocked)" = "$(kernel_four)" ]; }
mg_wait_until 3 counted || fail "(c) the file's counters did not become the kernel's within 3 s of the traffic"
got=$(metric_blocked)
want=$(kernel_four)
note "kernel: $(tr '\n' ';' <<<"$want")"
note "metric: $(tr '\n' ';' <<<"$got")"
check "(c) promtool check metrics after blocked traffic" promtool_ok "$PROM"
if [ "$got" = "$want" ]; then
    pass "(c) memguardd_blocked_{packets,bytes}_total equal the kernel's counters of our closing rules"
else
    fail "(c) memguardd_blocked_{packets,bytes}_total differ from the kernel's counters"
    mg_diff_report <(echo "$want") "$got"
fi
at_least() { # at_least FAMILY PROTOCOL N
    awk -v f="$1" -v p="$2" -v n="$3" '$1 == f && $2 == p && $3 != "" && $3 >= n { ok = 1 } END { exit !ok }' <<<"$got"
}
for fam in ipv4 ipv6; do
    check "(c) $fam udp: the metric counts at least the $UDP_N datagrams sent" at_least $fam udp $UDP_N
    check "(c) $fam tcp: the metric counts at least the $TCP_K SYNs sent" at_least $fam tcp $TCP_K
done

# ---- (d) drift and repair ------------------------------------------------------------------
if mg_is_nft; then
    note "(d) skipped for nftables: its owned table refuses another process's delete (tests/backends/nft_tamper.sh)"
else
    repairs0=$(value memguardd_repairs_total)
    mg_ipt ipv4 -D INPUT -p tcp -m tcp --dport $MG_PORT -m comment --comment $MG_TAG -j MEMGUARD ||
        fail "(d) cannot delete our tcp jump from INPUT"
    repaired() { [ "$(value memguardd_repairs_total)" -gt "${repairs0:-0}" ]; }
    if mg_wait_until 5 repaired; then
        pass "(d) memguardd_repairs_total went from $repairs0 to $(value memguardd_repairs_total)"
    else
        fail "(d) memguardd_repairs_total did not move within 5 s of the tamper"
    fi
    note "(d) $(grep '^memguardd_drift_total' "$PROM" | tr '\n' ';')"
    check "(d) a memguardd_drift_total{kind=...} counts the deleted jump" \
        eval "grep -qE '^memguardd_drift_total\{kind=\"[a-z_]+\"\} [1-9]' '$PROM'"
    check "(d) in sync again" has memguardd_in_sync 1
    check "(d) promtool check metrics after a repair" promtool_ok "$PROM"
fi

# ---- (e) reloads ---------------------------------------------------------------------------
printf '{"ports": [' >"$TMP/memguard.json.bad" && chmod 600 "$TMP/memguard.json.bad"
cp "$TMP/memguard.json" "$TMP/memguard.json.good"
mv -f "$TMP/memguard.json.bad" "$TMP/memguard.json"
touch "$TMP/mark-e"
kill -HUP "$MG_DAEMON"
rejected() { [ "$(value memguardd_reload_failures_total)" = 1 ]; }
check "(e) an invalid config's reload: memguardd_reload_failures_total 1 within 3 s" mg_wait_until 3 rejected
check "(e) still in sync (the rules in the kernel are unchanged)" has memguardd_in_sync 1
PROM2=$PROM_DIR/other.prom
write_config "\"$PROM2\""
kill -HUP "$MG_DAEMON"
moved() { [ -s "$PROM2" ] && [ ! -e "$PROM" ]; }
check "(e) metrics_file changed by a reload: $PROM removed, $PROM2 written" mg_wait_until 5 moved
check "(e) promtool check metrics on the new file" promtool_ok "$PROM2"
check "(e) the counters went on: reload failures still 1 in the new file" has memguardd_reload_failures_total 1 "$PROM2"
write_config null
kill -HUP "$MG_DAEMON"
check "(e) metrics_file null: the file is removed" mg_wait_until 5 eval "[ ! -e '$PROM2' ]"
write_config "\"$PROM\""
kill -HUP "$MG_DAEMON"
check "(e) metrics_file back: the file is written again" mg_wait_until 5 test -s "$PROM"

# ---- (f) a clean stop ----------------------------------------------------------------------
kill -TERM "$MG_DAEMON"
if mg_wait_exit "$MG_DAEMON" 10; then
    check "(f) the daemon exited with status 0 (got $MG_EXIT_STATUS)" [ "$MG_EXIT_STATUS" = 0 ]
else
    fail "(f) the daemon did not exit within 10 s of SIGTERM"
fi
check "(f) the file says memguardd_up 0" has memguardd_up 0
check "(f) promtool check metrics on the stop's file" promtool_ok "$PROM"
check "(f) no warning about metrics in the whole run" eval "! grep -q 'warning: metrics:' '$MG_ERR'"

# ---- (g) a directory that does not exist ----------------------------------------------------
MISSING=$TMP/missing/node-exporter
write_config "\"$MISSING/memguardd.prom\""
mg_start_listener notify2
mg_start_daemon missing "$TMP/memguard.json"
mg_wait_notify READY=1 1 10 || mg_fatal "(g) no READY=1 with metrics_file in a missing directory"
pass "(g) READY=1 with metrics_file in a directory that does not exist"
sleep 3.5 # three more verify passes, each trying to write
n=$(grep -c 'warning: metrics:' "$MG_ERR")
check "(g) one warning about it over several passes (got $n)" [ "$n" = 1 ]
note "$(grep -m1 'metrics:' "$MG_ERR")"
check "(g) it names the directory" grep -q "$MISSING" "$MG_ERR"
mkdir -p "$MISSING"
check "(g) once the directory exists the file appears" mg_wait_until 3 test -s "$MISSING/memguardd.prom"
check "(g) promtool check metrics" promtool_ok "$MISSING/memguardd.prom"

# ---- (h) several guards -----------------------------------------------------------------------
PROM=$MISSING/memguardd.prom
mg_write_raw "$TMP/memguard.json" "{
  \"guards\": [
    {\"name\": \"app-cache\", \"ports\": [$MG_PORT], \"protocols\": [\"tcp\", \"udp\"],
     \"allow\": [\"10.1.0.0/16\", {\"net\": \"10.2.0.5\", \"comment\": \"batch host\"}, \"2001:db8::/32\"]},
    {\"name\": \"pages\", \"ports\": [11212, 11213], \"protocols\": [\"tcp\"], \"allow\": [\"10.3.0.0/24\"]}
  ],
  \"verify_interval_s\": 1,
  \"metrics_file\": \"$PROM\"
}" && mg_backend_config "$TMP/memguard.json"
kill -HUP "$MG_DAEMON"
guards_in() { has 'memguardd_allowed_networks{family="ipv4",guard="pages"}' 1; }
if mg_wait_until 5 guards_in; then
    pass "(h) reloaded with two guards: allowed_networks per guard within 5 s"
else
    fail "(h) no allowed_networks for guard pages within 5 s of the reload"
fi
check "(h) app-cache: 2 ipv4 networks" has 'memguardd_allowed_networks{family="ipv4",guard="app-cache"}' 2
check "(h) app-cache: 1 ipv6 network" has 'memguardd_allowed_networks{family="ipv6",guard="app-cache"}' 1
check "(h) pages: 0 ipv6 networks" has 'memguardd_allowed_networks{family="ipv6",guard="pages"}' 0
check "(h) no guard \"default\" left" eval "! grep -q 'guard=\"default\"' '$PROM'"
check "(h) in sync with two guards" has memguardd_in_sync 1
check "(h) promtool check metrics with two guards" promtool_ok "$PROM"

# ---- (i) a directory others could change: refused, nothing written, the guard goes on --------
kill -TERM "$MG_DAEMON"
mg_wait_exit "$MG_DAEMON" 10 || mg_fatal "(i) the daemon of (h) did not exit within 10 s of SIGTERM"
NOBODYS=$TMP/nobodys OPEN=$TMP/open REAL=$TMP/real LINK=$TMP/link
mkdir -m 0755 "$NOBODYS" "$REAL" && chown 65534:65534 "$NOBODYS" && mkdir -m 0777 "$OPEN" &&
    chmod 0777 "$OPEN" && ln -s "$REAL" "$LINK" || mg_fatal "(i) cannot make the directories"
# refused WHAT DIR REASON N : after the Nth READY=1 and three more passes: one error naming DIR
# and REASON, nothing in DIR or in $REAL, the daemon still up, its rules in (memguardd diff).
refused() {
    local what=$1 dir=$2 reason=$3 n
    mg_wait_notify READY=1 "$4" 10 || mg_fatal "(i) $what: no READY=1 (number $4) within 10 s"
    pass "(i) $what: READY=1"
    sleep 3.5 # three more verify passes, each trying to write
    n=$(grep -c "error: metrics: refusing to write $dir/memguardd.prom: $dir $reason" "$MG_ERR")
    check "(i) $what: one error naming $dir and why, over several passes (got $n)" [ "$n" = 1 ]
    note "$(grep -m1 "metrics: .*$dir" "$MG_ERR")"
    check "(i) $what: nothing written in $dir" [ -z "$(ls -A "$dir")" ]
    check "(i) $what: nothing written in $REAL (the link's target)" [ -z "$(ls -A "$REAL")" ]
    check "(i) $what: the daemon is still running" kill -0 "$MG_DAEMON"
    local diff rc=0
    diff=$("$MEMGUARDD" diff --config "$TMP/memguard.json" 2>&1) || rc=$?
    check "(i) $what: the rules are in (memguardd diff: exit $rc, 0 = in sync)" [ $rc = 0 ]
    [ $rc = 0 ] || note "$diff"
}
write_config "\"$NOBODYS/memguardd.prom\""
mg_start_listener notify3
mg_start_daemon refused "$TMP/memguard.json"
refused "a directory owned by nobody" "$NOBODYS" "is owned by uid 65534, not root" 1
write_config "\"$OPEN/memguardd.prom\""
kill -HUP "$MG_DAEMON"
refused "a directory of mode 0777" "$OPEN" "is writable by group or others (mode 0777)" 2
write_config "\"$LINK/memguardd.prom\""
kill -HUP "$MG_DAEMON"
refused "a directory named through a link" "$LINK" "is a symbolic link" 3
check "(i) no warning about metrics, only the errors" eval "! grep -q 'warning: metrics:' '$MG_ERR'"

# ---- docs/operations.md's alert rules ----------------------------------------------------------
OPERATIONS=$MG_HERE/../../docs/operations.md
sed -n '/^# memguardd alert rules$/,/^```$/p' "$OPERATIONS" | sed '$d' >"$TMP/rules.yml"
if [ -s "$TMP/rules.yml" ]; then
    out=$(promtool check rules "$TMP/rules.yml" 2>&1)
    check "the alert rules in docs/operations.md pass promtool check rules: $(grep -o "SUCCESS.*" <<<"$out")" \
        eval "grep -q 'SUCCESS: 3 rules found' <<<\"\$out\""
else
    fail "no \"# memguardd alert rules\" block in docs/operations.md"
fi

mg_finish
