#!/bin/bash
# backend_last_good_<backend>: a config that does not validate at a start never cuts the allowed
# clients while the daemon keeps a last good policy (the config's files as last applied, in its
# state directory); real clients over a veth pair judge it:
#   (e) a reload with a broken config keeps the rules and the last good policy; a reload with a
#       good one replaces it (only when its files changed) and status is 0 again.
#   (f) check says whether the file on disk is what the daemon runs.
#   (a) restarted with a broken config (a trailing comma): the allowed client's new connections
#       are answered over tcp and udp, the outside client is still dropped; status exits 1 and
#       names the last good time and the invalid file; the log says so; config_valid 0.
#   (b) the same after our rules and sets are gone (a reboot), read back from the state directory.
#   (c) no last good policy and a broken config: fails closed (loopback only), as before.
#   (d) a last good file that is a symbolic link, world-writable, not root's, or does not match
#       its hash is not used (the log says why): fails closed as in (c).
# Usage: last_good.sh MEMGUARDD iptables-legacy|nftables   (root)
# shellcheck disable=SC2034 # H_NS and MG_* are read by lib.sh functions
. "$(dirname "$0")/lib.sh"
b_init "$@"

b_topology
METRICS=$TMP/metrics/memguardd.prom
mkdir -m 0755 "$TMP/metrics"
LAST_GOOD=$STATE_DIRECTORY/last-good.json
READY=0

# good_config NETWORK... : a valid config allowing NETWORK..., with a metrics file
good_config() {
    b_config "$CONF" 1 "$@"
    sed -i "s#\"metrics_file\": null#\"metrics_file\": \"$METRICS\"#" "$CONF"
}
# broken_config : the good config with a trailing comma: not JSON any more
broken_config() {
    good_config "$H_OK4/32" "$H_OK6/128"
    sed -i 's/"verify_interval_s": 1$/"verify_interval_s": 1,/' "$CONF"
}
# start NAME : a daemon on $CONF, until READY=1
start() {
    h_start_daemon "$1" "$CONF"
    READY=$((READY + 1))
    mg_wait_notify READY=1 "$READY" 10 || mg_fatal "$1: no READY=1 within 10 s"
}
# reload LABEL : SIGHUP, until READY=1 again
reload() {
    kill -HUP "$MG_DAEMON"
    READY=$((READY + 1))
    mg_wait_notify READY=1 "$READY" 10 || fail "$1: no READY=1 after the reload"
}
answers() { [[ $(b_mc "$CLI" "$1" "$2" "$3" 'version\r\n') == VERSION* ]]; }
silent() { [ "$(b_mc "$CLI" "$1" "$2" "$3" 'version\r\n')" = silent ]; }
# let_in LABEL : the allowed client's new connections are answered, the outsider's are not
let_in() {
    check "$1: the allowed client's new tcp connection is answered" answers tcp $H_OK4 $H_SRV4
    check "$1: the allowed client's udp request is answered" answers udp $H_OK4 $H_SRV4
    check "$1: the allowed client's new tcp connection over ipv6 is answered" answers tcp $H_OK6 $H_SRV6
    check "$1: the outside client's tcp connection is dropped" silent tcp $H_OUT4 $H_SRV4
    check "$1: the outside client's udp request gets no answer" silent udp $H_OUT4 $H_SRV4
}
# closed LABEL : failing closed: the allowed client is out too, loopback is in
closed() {
    check "$1: the allowed client's tcp connection is dropped" silent tcp $H_OK4 $H_SRV4
    check "$1: the allowed client's udp request gets no answer" silent udp $H_OK4 $H_SRV4
    check "$1: loopback reaches memcached" h_loopback_reaches "$MG_PORT"
    check "$1: the log says it fails closed with no usable last good policy" \
        grep -q 'no valid configuration and no usable last good policy: failing closed' "$MG_ERR"
    h_mg status --json --config "$CONF"
    check "$1: status --json says fail_closed" test "$(jq -r .daemon.fail_closed <<<"$H_OUT")" = true
}
inode() { stat -c %i "$LAST_GOOD"; }
quiet() { "$@" >/dev/null; }
metric() { grep -qx "$1" "$METRICS"; }

# --- a first start with a good config: it becomes the last good policy -------------------------
good_config "$H_OK4/32" "$H_OK6/128"
mg_start_listener notify
start good
let_in "good config"
check "the applied config is kept in the state directory" test -f "$LAST_GOOD"
check "... root's, mode 0600" test "$(stat -c %u:%a "$LAST_GOOD")" = 0:600
check "... with the config's text" \
    quiet jq -e --arg t "$(cat "$CONF")" '.main.text == ($t + "\n") or .main.text == $t' "$LAST_GOOD"
h_mg check --config "$CONF"
check "(f) check: the file is what memguardd runs" grep -qx "$CONF: is what memguardd runs" <<<"$H_OUT"

# --- (e) reloads ---------------------------------------------------------------------------------
first_inode=$(inode)
cp -p "$LAST_GOOD" "$TMP/last-good.first"
before=$(b_ours)
broken_config
reload "(e) broken reload"
h_same "(e) a rejected reload leaves the rules byte-identical" "$before" "$(b_ours)"
check "(e) a rejected reload does not replace last-good.json" cmp -s "$LAST_GOOD" "$TMP/last-good.first"
h_mg status --config "$CONF"
check "(e) status exits 1 while the config on disk is invalid ($H_RC)" test "$H_RC" = 1
check "(e) metrics: config_valid 0 after a rejected reload" metric "memguardd_config_valid 0"
h_mg check --config "$CONF"
check "(f) check of the broken file exits 1 ($H_RC)" test "$H_RC" = 1
check "(f) check: the broken file differs from what runs, and a reload would be rejected" \
    grep -q "^$CONF: differs from what memguardd runs (loaded .*); it is invalid, so a reload would be rejected" <<<"$H_OUT"
good_config "$H_OK4/32" "$H_OK6/128" 192.0.2.0/24
reload "(e) good reload"
check "(e) a reload with a good config replaces last-good.json" \
    quiet jq -e '.main.text | contains("192.0.2.0/24")' "$LAST_GOOD"
h_mg status --config "$CONF"
check "(e) status exits 0 again after a good reload ($H_RC)" test "$H_RC" = 0
check "(e) metrics: config_valid 1" metric "memguardd_config_valid 1"
second_inode=$(inode)
check "(e) ... written anew" test "$second_inode" != "$first_inode"
reload "(e) same config again"
check "(e) a reload of unchanged files does not write last-good.json again" test "$(inode)" = "$second_inode"
sed -i 's/"action": "drop"/"action":  "drop"/' "$CONF"
h_mg check --config "$CONF"
check "(f) check: an edited file that is not reloaded differs from what runs" \
    grep -q "^$CONF: differs from what memguardd runs (loaded .*); systemctl reload memguardd applies it" <<<"$H_OUT"
h_mg status --config "$CONF"
check "(f) status says the file on disk differs from what runs" \
    grep -q "^config $CONF: differs from what memguardd runs" <<<"$H_OUT"
h_stop_daemon

# --- (a) a restart with a broken config runs the last good policy --------------------------------
saved=$(jq -r .saved "$LAST_GOOD")
broken_config
start broken
let_in "(a) last good"
h_mg status --config "$CONF"
check "(a) status exits 1 ($H_RC)" test "$H_RC" = 1
check "(a) status names the last good time and the invalid file" \
    grep -q "running the last good config from $saved; $CONF is invalid: " <<<"$H_OUT"
h_mg status --json --config "$CONF"
check "(a) status --json: policy_source last_good, not failing closed" \
    quiet jq -e '.daemon.policy_source == "last_good" and .daemon.fail_closed == false and .daemon.config_invalid' <<<"$H_OUT"
check "(a) the log says which file is invalid and which last good policy runs" \
    grep -q "$CONF is invalid: .*; running the last good config from $saved" "$MG_ERR"
check "(a) metrics: config_valid 0" metric "memguardd_config_valid 0"
check "(a) metrics: the last good policy's time" \
    grep -qE "^memguardd_last_good_policy_timestamp_seconds $(date -d "$saved" +%s)(\\.0+)?$" "$METRICS"
h_mg doctor --config "$CONF"
check "(a) doctor: a finding names the last good policy" \
    grep -q "memguardd is running the last good config from $saved" <<<"$H_OUT"
check "(a) doctor: the kernel holds the last good policy's rules" \
    grep -q "^ok: the kernel holds exactly the rules of the last good policy" <<<"$H_OUT"
# A temporary entry on top of the last good policy is what the daemon enforces, not an exposure.
h_mg allow 198.51.100.0/24 --for 1h
check "(a) a temporary entry is granted on the last good policy ($H_RC): $H_ERR" test "$H_RC" = 0
h_mg doctor --config "$CONF"
check "(a) doctor with a temporary entry in force: no exposure ($H_RC)" \
    eval 'test "$H_RC" = 1 && grep -q "^ok: the kernel holds exactly the rules of the last good" <<<"$H_OUT"'
h_mg revoke 198.51.100.0/24
check "(a) ... and revoked ($H_RC): $H_ERR" test "$H_RC" = 0
h_stop_daemon

# --- (b) after a reboot: nothing of ours in the kernel ---------------------------------------------
if [ "$B_BACKEND" = nftables ]; then
    b_nft delete table inet memguard
else
    for fam in ipv4 ipv6; do
        for table in filter mangle; do
            mg_ipt "$fam" -t "$table" -F && mg_ipt "$fam" -t "$table" -X
        done
    done
    ipset destroy
fi
[ -z "$(b_ours)" ] || mg_fatal "(b) our rules are still there: $(b_ours)"
start reboot
let_in "(b) last good after a reboot"
check "(b) the log says the last good policy runs" grep -q "running the last good config from $saved" "$MG_ERR"
h_stop_daemon

# --- (c) no last good policy: fail closed ---------------------------------------------------------
mv "$LAST_GOOD" "$TMP/last-good.kept"
start none
closed "(c) no last good policy"
h_stop_daemon

# --- (d) a last good file that is not trusted ---------------------------------------------------
# refused NAME WHY : started with the last good file as made, the daemon fails closed saying WHY
refused() {
    start "$1"
    closed "(d) $1"
    check "(d) $1: the log says why it is not used" \
        grep -q "the last good policy is not used: .*$2" "$MG_ERR"
    h_stop_daemon
    rm -f "$LAST_GOOD"
}
ln -s "$TMP/last-good.kept" "$LAST_GOOD"
refused symlink "is a symbolic link"
cp "$TMP/last-good.kept" "$LAST_GOOD" && chmod 666 "$LAST_GOOD"
refused world_writable "is writable by group or others"
cp "$TMP/last-good.kept" "$LAST_GOOD" && chown nobody "$LAST_GOOD"
refused not_root "is owned by uid"
sed 's/192\.0\.2\.0\/24/192.0.3.0\/24/' "$TMP/last-good.kept" >"$LAST_GOOD" && chmod 600 "$LAST_GOOD"
refused tampered "do not match its hash"

# --- a good config again: the daemon leaves the last good mode -------------------------------------
good_config "$H_OK4/32" "$H_OK6/128"
start fixed
let_in "fixed config"
h_mg status --config "$CONF"
check "status exits 0 with the config fixed ($H_RC)" test "$H_RC" = 0
h_stop_daemon
mg_finish
