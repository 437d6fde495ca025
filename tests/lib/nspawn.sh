# shellcheck shell=bash
# Boots the Debian root $ROOT under systemd-nspawn for the package tests (sourced, not run).
# The caller defines log MESSAGE and ct CMD... (a command inside the container) and sets WORK.
#
#   nspawn_boot [NSPAWN-NETWORK-OPTION...] : default --private-network (a fresh namespace);
#       sets NSPAWN_PID and CT (the container's PID 1, as the host sees it); succeeds when
#       systemd reports running or degraded (then the failed units are listed)
#   nspawn_stop : powers the container off (SIGTERM to nspawn, SIGKILL after 10 s), waits for it

nspawn_boot() {
    # nspawn refuses to start without this tmpfs (see environment.md).
    mkdir -p /run/systemd/nspawn
    mountpoint -q /run/systemd/nspawn || mount -t tmpfs tmpfs /run/systemd/nspawn
    local net=("$@")
    [ $# -gt 0 ] || net=(--private-network)
    CT=
    systemd-nspawn -D "$ROOT" --boot --register=no --keep-unit "${net[@]}" \
        --console=read-only >>"$WORK/console.log" 2>&1 &
    NSPAWN_PID=$!
    local end=$((SECONDS + 30))
    until [ -n "$CT" ] && [ "$(cat "/proc/$CT/comm" 2>/dev/null)" = systemd ]; do
        if [ $SECONDS -ge $end ] || ! kill -0 "$NSPAWN_PID" 2>/dev/null; then return 1; fi
        sleep 0.1
        CT=$(cat /proc/"$NSPAWN_PID"/task/*/children 2>/dev/null | awk '{print $1; exit}')
    done
    local state
    end=$((SECONDS + 120))
    # Early on, systemctl cannot connect yet ("Failed to connect to bus").
    while state=$(timeout 120 nsenter -t "$CT" -a -- systemctl is-system-running --wait 2>&1)
          [[ $state == *"Failed to connect"* ]] && [ $SECONDS -lt $end ]; do sleep 0.2; done
    log "container PID $CT, system $state"
    [ "$state" = degraded ] && ct systemctl --failed --no-legend --plain
    [ "$state" = running ] || [ "$state" = degraded ]
}

nspawn_stop() {
    [ -n "$NSPAWN_PID" ] || return 0
    if kill -0 "$NSPAWN_PID" 2>/dev/null; then
        kill -TERM "$NSPAWN_PID"           # nspawn asks the container to power off
        for _ in $(seq 50); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$NSPAWN_PID" 2>/dev/null
    fi
    wait "$NSPAWN_PID" 2>/dev/null
    NSPAWN_PID='' CT=''
}
