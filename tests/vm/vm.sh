# shellcheck shell=bash
# The test VM under qemu/KVM, driven over a virtio-serial port (sourced by run.sh, not run).
# The guest's agent (agent.sh) runs each script the host sends and answers with its output and
# exit status. The caller defines log MESSAGE and sets WORK.
#
#   vm_start IMAGE-DIR DEB NETNS : boots a copy-on-write overlay of IMAGE-DIR/disk.img, a second
#       disk holding DEB (the guest mounts /dev/vdb), qemu user networking inside network
#       namespace NETNS with the guest's 11211 (tcp, udp) forwarded from NETNS's 127.0.0.1:11211;
#       the serial console goes to $WORK/console.log
#   vm_wait_boot SECONDS : until the agent of a boot other than the last one seen says hello
#   vm_send SCRIPT : sends SCRIPT, waits for nothing (systemctl reboot)
#   vm SCRIPT : runs SCRIPT (bash) in the guest; its output in VM_OUT, its exit status returned
#       (255 when the agent did not answer within VM_TIMEOUT seconds, default 90)
#   vm_stop : powers the VM off (qemu killed after 20 s, or at once when it never booted)

# The x_tables modules that the legacy backend needs (net/ipv4/netfilter/ip_tables.c and its
# tables): the kernel refuses them (module_blacklist) and kmod does not even try
# (modprobe.blacklist, so systemd-modules-load skips them instead of failing).
VM_NO_XTABLES=ip_tables,ip6_tables,iptable_filter,ip6table_filter,iptable_mangle,ip6table_mangle
VM_PID='' VM_BOOT_ID='' VM_SEQ=0 VM_OUT=''

vm_start() {
    local image=$1 deb=$2 netns=$3
    qemu-img create -q -f qcow2 -b "$image/disk.img" -F raw "$WORK/disk.qcow2" || return 1
    mkdir "$WORK/payload" && cp "$deb" "$WORK/payload/memguardd.deb" &&
        truncate -s 64M "$WORK/payload.img" &&
        mkfs.ext4 -q -F -d "$WORK/payload" "$WORK/payload.img" || return 1
    mkfifo "$WORK/agent.in" "$WORK/agent.out" || return 1
    local append="root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1"
    append+=" module_blacklist=$VM_NO_XTABLES modprobe.blacklist=$VM_NO_XTABLES"
    local accel=(-enable-kvm -cpu host)
    # qemu's own emulation, slow: only where asked for, for a /dev/kvm that cannot run this kernel.
    [ "${MEMGUARD_VM_ACCEL:-kvm}" = tcg ] && accel=(-accel tcg -cpu max)
    ip netns exec "$netns" qemu-system-x86_64 "${accel[@]}" -smp 2 -m 1024 \
        -nodefaults -no-user-config -display none -monitor none \
        -kernel "$image/vmlinuz" -initrd "$image/initrd.img" -append "$append" \
        -drive "file=$WORK/disk.qcow2,if=virtio,format=qcow2" \
        -drive "file=$WORK/payload.img,if=virtio,format=raw" \
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:11211-:11211,hostfwd=udp:127.0.0.1:11211-:11211" \
        -device virtio-net-pci,netdev=n0 \
        -device virtio-serial-pci -chardev "pipe,id=agent,path=$WORK/agent" \
        -device virtserialport,chardev=agent,name=org.memguardd.agent \
        -serial "file:$WORK/console.log" >"$WORK/qemu.log" 2>&1 &
    VM_PID=$!
    # Read-write opens of the fifos never block, whoever comes first (qemu opens them so too).
    exec {VM_TO}<>"$WORK/agent.in" {VM_FROM}<>"$WORK/agent.out"
}

# vm_line SECONDS: one line from the agent into LINE (also logged); fails on timeout or qemu gone.
vm_line() {
    local end=$((SECONDS + $1)) part='' chunk
    while [ $SECONDS -lt $end ]; do
        # On a timeout, read keeps what it got of a line so far: the rest follows.
        if IFS= read -r -t 1 chunk <&"$VM_FROM"; then
            LINE=$part$chunk
            echo "$LINE" >>"$WORK/agent.log"
            return 0
        fi
        part+=$chunk
        kill -0 "$VM_PID" 2>/dev/null || { log "qemu exited: $(tail -5 "$WORK/qemu.log")"; return 1; }
        # qemu stops the VM, but stays, on an instruction KVM could not run.
        if grep -q 'KVM internal error' "$WORK/qemu.log"; then
            log "qemu: $(grep -e 'KVM internal error' -e '^Code=' "$WORK/qemu.log")"
            return 1
        fi
    done
    return 1
}

vm_wait_boot() {
    local end=$((SECONDS + $1))
    while [ $SECONDS -lt $end ] && vm_line $((end - SECONDS)); do
        if [[ $LINE == "@@HELLO "* ]] && [ "${LINE#@@HELLO }" != "$VM_BOOT_ID" ]; then
            VM_BOOT_ID=${LINE#@@HELLO }
            log "VM booted (boot id $VM_BOOT_ID) after ${SECONDS}s"
            return 0
        fi
    done
    return 1
}

# vm_send SCRIPT: sends SCRIPT and waits for nothing (a reboot: its answer may never come).
vm_send() {
    VM_SEQ=$((VM_SEQ + 1))
    echo "+ $1" >>"$WORK/agent.log"
    echo "$VM_SEQ $(printf '%s' "$1" | base64 -w0)" >&"$VM_TO"
}

vm() {
    VM_OUT=''
    vm_send "$1"
    local id=$VM_SEQ end=$((SECONDS + ${VM_TIMEOUT:-90}))
    while [ $SECONDS -lt $end ] && vm_line $((end - SECONDS)); do
        if [[ $LINE == "@@END $id "* ]]; then
            VM_OUT=${VM_OUT%$'\n'}
            return "${LINE#@@END "$id" }"
        fi
        VM_OUT+=$LINE$'\n'
    done
    log "no answer from the VM to: $1"
    return 255
}

vm_stop() {
    [ -n "$VM_PID" ] || return 0
    # A guest whose agent never said hello cannot power itself off.
    if [ -n "$VM_BOOT_ID" ] && kill -0 "$VM_PID" 2>/dev/null; then
        vm_send 'systemctl --no-block poweroff'
        for _ in $(seq 100); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.2; done
    fi
    kill -KILL "$VM_PID" 2>/dev/null
    wait "$VM_PID" 2>/dev/null
    VM_PID=''
}
