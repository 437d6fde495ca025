#!/bin/bash
# Ansible test: the role in contrib/ansible applied to a throwaway Debian 12 root
# booted under systemd-nspawn (--private-network: only the container's tables
# are touched). ansible-playbook runs inside the booted container with
# connection local, as root, so every module talks to the real systemd there.
#
#  1. host: ansible-playbook --syntax-check of the example playbook.
#  2. first run: installs the .deb, templates /etc/memguard.json (validated by
#     memguardd check), drops a fragment, reloads: the rules follow the config.
#  3. the same run again: changed=0, no reload.
#  4. a bad allow entry: the play fails at the template's validate, the live
#     file, the rules and the daemon stay as they were.
#  5. a new allowlist and the fragment no longer listed: the fragment goes
#     (another tool's fragment in the same directory stays), one reload.
#  6. that again: changed=0.
#  7. as an unprivileged user with become (sudo): the validate still works
#     although the temporary file then sits in that user's home.
#  8. guards, a labelled entry (its label in the rule's comment)
#     and a guards fragment reach the rules.
# Before all that, on the host: the templates rendered with guards and labels.
#
# Usage: run.sh [memguardd_*.deb]    (no argument: the .deb of this tree, from
#                                     tests/lib/deb.sh: built once per source hash)
# Env:   MEMGUARD_ANSIBLE_CACHE  root with ansible-core (default /var/cache/memguardd-ansible)
#        MEMGUARD_DEB_CACHE      built .debs (default /var/cache/memguardd-deb)
#        MEMGUARD_BOOT_CACHE     tests/boot's cached root, copied as a start when there
#                                (default /var/cache/memguardd-boot)
#        DEBIAN_MIRROR           (default http://deb.debian.org/debian)
#        KEEP=1                  keep the throwaway directory for debugging
# Exit:  0 all passed, 1 some failed, 77 skipped (not root / tools missing).
set -u

SRC=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/nspawn.sh
. "$SRC/tests/lib/nspawn.sh"
CACHE=${MEMGUARD_ANSIBLE_CACHE:-/var/cache/memguardd-ansible}
BOOT_CACHE=${MEMGUARD_BOOT_CACHE:-/var/cache/memguardd-boot}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The same base as tests/boot (so its cached root can be the start), plus what
# ansible needs on the managed host (python3-apt for the apt module) and sudo
# for the become run.
PKGS=systemd,systemd-sysv,dbus,iptables,memcached,procps,nftables
EXTRA="ansible-core python3-apt sudo"
STAMP="$PKGS $EXTRA"     # change to force a rebuild of the cached root
WORK='' NSPAWN_PID='' CT=''

log() { echo "--- [${SECONDS}s] $*"; }
# shellcheck source=../lib/check.sh
. "$SRC/tests/lib/check.sh"
not() { ! "$@"; }
finish() { check_summary; exit $?; }
ct() { nsenter -t "$CT" -a -- "$@"; }
until_ok() { local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done; }

cleanup() {
    nspawn_stop
    if [ -n "$WORK" ]; then
        if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf --one-file-system "$WORK"; fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in debootstrap systemd-nspawn nsenter dpkg-deb ansible-playbook python3 sha256sum; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: must run as root"; exit 77; }
[ $# -gt 0 ] || command -v dpkg-buildpackage >/dev/null || { echo "SKIP: dpkg-buildpackage not installed"; exit 77; }

WORK=$(mktemp -d /var/tmp/memguardd-ansible.XXXXXX)
ROOT=$WORK/root
mkdir -p "$CACHE"

log "syntax check of the example playbook (host: $(ansible-playbook --version | head -1))"
ANSIBLE_CONFIG="$SRC/contrib/ansible/ansible.cfg" \
    ansible-playbook --syntax-check -i "$SRC/contrib/ansible/inventory.ini" \
    "$SRC/contrib/ansible/site.yml" >"$WORK/syntax.log" 2>&1
check "ansible-playbook --syntax-check contrib/ansible/site.yml" [ $? = 0 ] || cat "$WORK/syntax.log"

log "templates rendered on the host: guards, labels, a guards fragment"
mkdir "$WORK/render"
ANSIBLE_NOCOLOR=1 ansible-playbook -i localhost, -e out="$WORK/render" "$SRC/tests/ansible/render.yml" \
    >"$WORK/render.log" 2>&1
check "render.yml runs" [ $? = 0 ] || cat "$WORK/render.log"
canon() { python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$1"; }
check "config: guards and labels as given, no flat keys" [ "$(canon "$WORK/render/memguard.json")" = \
    '{"accept_established": true, "action": "drop", "allow_loopback": true, "backend": "auto", "guards": [{"allow": ["10.1.0.0/16", {"comment": "batch host", "net": "10.2.0.5"}], "name": "app-cache", "ports": [11211], "protocols": ["tcp", "udp"]}], "log_blocked": true, "metrics_file": "/var/lib/prometheus/node-exporter/memguardd.prom", "verify_interval_s": 5}' ]
check "fragment: guards as given" [ "$(canon "$WORK/render/pages.json")" = \
    '{"guards": [{"allow": ["10.3.0.0/24"], "name": "pages", "ports": [11212], "protocols": ["tcp"]}]}' ]

# --- the package: given, or built once per state of the sources ---------------
DEB=${1:-}
if [ -z "$DEB" ]; then
    DEB=$("$SRC/tests/lib/deb.sh" "$SRC") || { fail "build the .deb"; finish; }
fi
[ -f "$DEB" ] || { fail "no package at '$DEB'"; finish; }
log "package: $DEB"

# --- the cached root with ansible-core, built once ---------------------------------
(
    flock 9
    if [ "$(cat "$CACHE/root/.memguardd-ansible" 2>/dev/null)" != "$STAMP" ]; then
        rm -rf --one-file-system "$CACHE/root" "$CACHE/root.tmp"
        if [ "$(cat "$BOOT_CACHE/root/.memguardd-boot" 2>/dev/null)" = "$PKGS +apt-lists" ]; then
            log "copying tests/boot's root from $BOOT_CACHE/root"
            cp -a "$BOOT_CACHE/root" "$CACHE/root.tmp"
        else
            log "debootstrap bookworm into $CACHE/root"
            debootstrap --variant=minbase --include="$PKGS" bookworm "$CACHE/root.tmp" "$MIRROR" \
                >"$CACHE/build.log" 2>&1 || { tail -20 "$CACHE/build.log"; exit 1; }
        fi
        log "installing $EXTRA into it"
        nspawn=(systemd-nspawn -q -D "$CACHE/root.tmp" --register=no --keep-unit)
        { "${nspawn[@]}" apt-get -q update &&
          "${nspawn[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends install $EXTRA
        } >>"$CACHE/build.log" 2>&1 || { tail -20 "$CACHE/build.log"; exit 1; }
        echo "$STAMP" >"$CACHE/root.tmp/.memguardd-ansible"
        mv "$CACHE/root.tmp" "$CACHE/root"
    fi
) 9>"$CACHE/lock" || { fail "the cached root"; finish; }

log "throwaway root $ROOT"
cp -a "$CACHE/root" "$ROOT"
cp "$DEB" "$ROOT/var/tmp/memguardd.deb"
# Only the download uses the host's network (the package's dependencies); the
# install is the role's, in the booted container's own network namespace.
download_deps() {
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends)
    local nspawn=(systemd-nspawn -q -D "$ROOT" --register=no --keep-unit)
    "${nspawn[@]}" "${apt[@]}" --download-only install /var/tmp/memguardd.deb ||
        { "${nspawn[@]}" apt-get -q update && "${nspawn[@]}" "${apt[@]}" --download-only install /var/tmp/memguardd.deb; }
}
download_deps >"$WORK/download.log" 2>&1
check "package dependencies download" [ $? = 0 ] || { cat "$WORK/download.log"; finish; }
# Keep them for the next run (apt-get clean is not run in the cached root).
cp -n "$ROOT"/var/cache/apt/archives/*.deb "$CACHE/root/var/cache/apt/archives/" 2>/dev/null

A=$ROOT/srv/ansible       # the playbook directory inside the container: /srv/ansible
mkdir -p "$A/roles"
cp -a "$SRC/contrib/ansible/roles/memguardd" "$A/roles/"
cp "$SRC/tests/ansible/play.yml" "$A/"
printf 'target ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n' >"$A/hosts"
# Another tool's fragment, which the role must leave alone.
mkdir -p "$ROOT/etc/memguard.d"
echo '{"allow": ["192.0.2.0/24"]}' >"$ROOT/etc/memguard.d/10-admin.json"

check "container boots" nspawn_boot || { tail -30 "$WORK/console.log"; finish; }
check "memguardd not installed yet" ct test ! -e /usr/sbin/memguardd

# play NAME VARS-JSON [USER]: apply the role with these variables (as USER with
# become when given); output in $WORK/NAME.log, the exit status returned.
play() {
    local name=$1 vars=$2 user=${3:-root} home=/root
    [ "$user" = root ] || home=/home/$user
    printf '%s\n' "$vars" >"$A/$name.json"
    local extra=()
    [ "$user" = root ] || extra=(--become)
    ct runuser -u "$user" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" LANG=C.UTF-8 \
        ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_ROLES_PATH=/srv/ansible/roles \
        ansible-playbook -i /srv/ansible/hosts "${extra[@]}" -e "@/srv/ansible/$name.json" \
        /srv/ansible/play.yml >"$WORK/$name.log" 2>&1
}
# recap NAME FIELD: the number in the PLAY RECAP (ok, changed, failed, ...)
recap() { sed -n "s/^target *:.* $2=\([0-9]*\).*/\1/p" "$WORK/$1.log"; }
show() { sed -n '/^TASK\|^RUNNING HANDLER\|^changed\|^ok\|^fatal\|^failed\|^skipping\|^PLAY RECAP\|^target/p' "$WORK/$1.log" |
    grep -v '^ok: \[target\] => (item\|^skipping: \[target\] => (item' | sed 's/^/    /'; }
save4() { ct iptables-legacy-save -t filter; }
save6() { ct ip6tables-legacy-save -t filter; }
rules() { save4 | grep "^-A"; save6 | grep "^-A"; }
allowed() { "$1" | grep -o -- '^-A MEMGUARD -s [^ ]*' | awk '{print $4}' | paste -sd' '; }
reloads() { ct journalctl -u memguardd --no-pager -o cat | grep -c '^reloaded '; }
json_of() { ct python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$1"; }

# --- 2. first run ------------------------------------------------------------
V1='{"memguardd_package": "/var/tmp/memguardd.deb",
     "memguardd_allow": ["10.20.0.0/16", "fd00:20::/48"],
     "memguardd_action": "reject",
     "memguardd_fragments": {"batch": {"allow": ["198.51.100.0/24"]}}}'
log "run 1: install, template, fragment, reload"
play run1 "$V1"
check "run 1 succeeds" [ $? = 0 ]; show run1
check "run 1 changed something" [ "$(recap run1 changed)" -gt 0 ]
check "memguardd installed" ct test -x /usr/sbin/memguardd
check "memguardd active" [ "$(ct systemctl is-active memguardd)" = active ]
check "memguardd enabled" [ "$(ct systemctl is-enabled memguardd)" = enabled ]
check "config: root-owned, 0644" [ "$(ct stat -c '%U:%G %a' /etc/memguard.json)" = "root:root 644" ]
check "config: the role's content" [ "$(json_of /etc/memguard.json)" = \
    '{"accept_established": true, "action": "reject", "allow": ["10.20.0.0/16", "fd00:20::/48"], "allow_loopback": true, "backend": "auto", "ports": [11211], "protocols": ["tcp", "udp"], "verify_interval_s": 5}' ]
check "fragment dropped" [ "$(json_of /etc/memguard.d/50-ansible-batch.json)" = '{"allow": ["198.51.100.0/24"]}' ]
check "conf.d directory: root-owned, 0755" [ "$(ct stat -c '%U:%G %a' /etc/memguard.d)" = "root:root 755" ]
check "handler ran: reloaded" grep -q 'RUNNING HANDLER \[memguardd : Reload memguardd\]' "$WORK/run1.log"
check "journal: daemon reloaded" until_ok 10 eval '[ "$(reloads)" -ge 1 ]'
check "IPv4 rules follow the templated allowlist and both fragments" until_ok 10 eval '[ "$(allowed save4)" = "10.20.0.0/16 192.0.2.0/24 198.51.100.0/24" ]'
check "IPv6 rules follow the templated allowlist" until_ok 10 eval '[ "$(allowed save6)" = fd00:20::/48 ]'
check "action reject in the rules" eval 'save4 | grep -q -- "-A MEMGUARD .*-j REJECT"'
check "memguardd diff: in sync" ct memguardd diff
reloads1=$(reloads)

# --- 3. idempotent ---------------------------------------------------------------
log "run 2: the same again"
play run2 "$V1"
check "run 2 succeeds" [ $? = 0 ]; show run2
check "run 2: changed=0" [ "$(recap run2 changed)" = 0 ]
check "run 2: no reload" eval '[ "$(reloads)" = "$reloads1" ]'

# --- 4. a config memguardd refuses ---------------------------------------------
log "run 3: a bad allow entry fails at validate"
before=$(ct sha256sum /etc/memguard.json) rules_before=$(rules)
V_BAD='{"memguardd_package": "/var/tmp/memguardd.deb",
        "memguardd_allow": ["10.20.0.0/16", "10.300.0.0/16"],
        "memguardd_fragments": {"batch": {"allow": ["198.51.100.0/24"]}}}'
play run3 "$V_BAD"
check "run 3 fails" [ $? != 0 ]; show run3
check "run 3 fails at the template's validate" \
    eval 'grep -A3 "^TASK \[memguardd : Template the config\]" "$WORK/run3.log" | grep -q "\"msg\": \"failed to validate\""'
check "memguardd check says why" grep -q '10.300.0.0/16' "$WORK/run3.log"
check "live config untouched" [ "$(ct sha256sum /etc/memguard.json)" = "$before" ]
check "rules untouched" [ "$(rules)" = "$rules_before" ]
check "no reload" eval '[ "$(reloads)" = "$reloads1" ]'
check "still active" [ "$(ct systemctl is-active memguardd)" = active ]

# --- 5. change: new allowlist, the fragment dropped from the list ------------------
V2='{"memguardd_package": "/var/tmp/memguardd.deb",
     "memguardd_allow": ["10.30.0.0/16", "fd00:30::/48"],
     "memguardd_fragments": {}}'
# Validated with a bare "memguardd check %s": as root Ansible's temporary file
# (/root/.ansible/tmp/ansible-tmp-*/source: no .json, root's 0700 directories,
# given root:root 0644 before validate) is accepted as it is.
V2_BARE=${V2%\}}', "memguardd_validate": "memguardd check %s"}'
log "run 4: a new allowlist, no fragments (validate: bare memguardd check %s)"
play run4 "$V2_BARE"
check "run 4 succeeds" [ $? = 0 ]; show run4
check "run 4 changed something" [ "$(recap run4 changed)" -gt 0 ]
check "our fragment removed" ct test ! -e /etc/memguard.d/50-ansible-batch.json
check "another tool's fragment kept" [ "$(ct cat /etc/memguard.d/10-admin.json)" = '{"allow": ["192.0.2.0/24"]}' ]
check "journal: one more reload" until_ok 10 eval '[ "$(reloads)" = $((reloads1 + 1)) ]'
check "IPv4 rules follow the new allowlist and the other tool's fragment" until_ok 10 eval '[ "$(allowed save4)" = "10.30.0.0/16 192.0.2.0/24" ]'
check "IPv6 rules follow the new allowlist" until_ok 10 eval '[ "$(allowed save6)" = fd00:30::/48 ]'
check "action drop again (the default)" eval 'save4 | grep -q -- "-A MEMGUARD .*-j DROP"'
reloads2=$(reloads)

log "run 5: the same again"
play run5 "$V2"
check "run 5 succeeds" [ $? = 0 ]; show run5
check "run 5: changed=0" [ "$(recap run5 changed)" = 0 ]
check "run 5: no reload" eval '[ "$(reloads)" = "$reloads2" ]'

# --- 7. an unprivileged user with become ---------------------------------------
# Ansible makes its temporary directory as the login user (~deploy/.ansible/tmp),
# which memguardd check refuses to trust; the role's validate copies the file
# into a directory of root's first.
log "run 6: as user deploy with become (sudo)"
ct useradd -m -s /bin/bash deploy
ct sh -c 'echo "deploy ALL=(ALL) NOPASSWD: ALL" >/etc/sudoers.d/deploy && chmod 0440 /etc/sudoers.d/deploy'
V3='{"memguardd_package": "/var/tmp/memguardd.deb",
     "memguardd_allow": ["10.40.0.0/16", "fd00:30::/48"],
     "memguardd_fragments": {"web": {"allow": ["203.0.113.0/24"]}}}'
play run6 "$V3" deploy
check "run 6 (become) succeeds" [ $? = 0 ]; show run6
check "IPv4 rules follow (become)" until_ok 10 eval '[ "$(allowed save4)" = "10.40.0.0/16 192.0.2.0/24 203.0.113.0/24" ]'
check "fragment dropped (become)" ct test -e /etc/memguard.d/50-ansible-web.json
play run6a "$V3" deploy
check "run 6 again (become): changed=0" [ "$(recap run6a changed)" = 0 ]
play run6b "$V_BAD" deploy
check "bad config refused at validate (become)" \
    eval 'grep -A3 "^TASK \[memguardd : Template the config\]" "$WORK/run6b.log" | grep -q "\"msg\": \"failed to validate\""'
check "memguardd check says why (become)" grep -q '10.300.0.0/16' "$WORK/run6b.log"
check "IPv4 rules kept (become)" [ "$(allowed save4)" = "10.40.0.0/16 192.0.2.0/24 203.0.113.0/24" ]
# Why the role does not validate with a bare "memguardd check %s": under become
# the file it would check sits in a directory the login user owns.
V_BARE='{"memguardd_package": "/var/tmp/memguardd.deb",
         "memguardd_allow": ["10.50.0.0/16"], "memguardd_validate": "memguardd check %s"}'
play run6c "$V_BARE" deploy
check "bare memguardd check %s under become: refused" [ $? != 0 ]; show run6c
check "... because the temporary directory is deploy's" grep -q "/home/deploy/.ansible/tmp/.*which is owned by uid" "$WORK/run6c.log"
check "IPv4 rules kept" [ "$(allowed save4)" = "10.40.0.0/16 192.0.2.0/24 203.0.113.0/24" ]

# --- 8. guards, labels and a guards fragment -------------------------------------
V_G='{"memguardd_package": "/var/tmp/memguardd.deb",
      "memguardd_guards": [{"name": "app-cache", "ports": [11211], "protocols": ["tcp", "udp"],
                            "allow": ["10.61.0.0/16", {"net": "10.62.0.5", "comment": "batch host"}]}],
      "memguardd_fragments": {"pages": {"guards": [{"name": "pages", "ports": [11212],
                                                     "protocols": ["tcp"], "allow": ["10.63.0.0/24"]}]}}}'
# A flat {"allow": [...]} fragment cannot stand beside several guards (it would not say
# which): the other tool's fragment goes first.
ct rm /etc/memguard.d/10-admin.json
log "run 7: guards, a label, a guards fragment"
play run7 "$V_G"
check "run 7 succeeds" [ $? = 0 ]; show run7
check "guard app-cache's networks in the rules" \
    until_ok 10 eval 'save4 | grep -q -- "-s 10.61.0.0/16" && save4 | grep -q -- "-s 10.62.0.5/32"'
check "the label in the rule's comment" eval 'save4 | grep -q -- "-s 10.62.0.5/32 .*memguard: batch host"'
check "the fragment's guard (port 11212) in the rules" \
    eval 'save4 | grep -q -- "--dport 11212" && save4 | grep -q -- "-s 10.63.0.0/24"'
check "memguardd diff: in sync (guards)" ct memguardd diff
play run7a "$V_G"
check "run 7 again: changed=0" [ "$(recap run7a changed)" = 0 ]

if [ "$CHECK_FAILED" != 0 ]; then
    log "journal of memguardd"; ct journalctl -u memguardd --no-pager | tail -30
fi
nspawn_stop
finish
