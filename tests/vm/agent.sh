#!/bin/bash
# Runs inside the test VM (installed as /usr/local/sbin/memguardd-vm-agent by image.sh): the
# host's side of tests/vm/run.sh sends "ID BASE64-SCRIPT" lines over a virtio-serial port; each
# script runs under bash, its output goes back, then "@@END ID STATUS". "@@HELLO BOOT-ID" opens
# every boot, so the host knows when a reboot is through.
set -u
exec 3<>/dev/virtio-ports/org.memguardd.agent
echo "@@HELLO $(cat /proc/sys/kernel/random/boot_id)" >&3
while read -r id script <&3; do
    [ -n "$id" ] || continue
    printf '%s' "$script" | base64 -d >/run/memguardd-vm.sh
    bash /run/memguardd-vm.sh </dev/null >/run/memguardd-vm.out 2>&1
    status=$?
    sed -e '$a\' /run/memguardd-vm.out >&3     # a last line without its newline gets one
    echo "@@END $id $status" >&3
done
