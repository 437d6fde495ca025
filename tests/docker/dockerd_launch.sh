#!/bin/bash
# Runs in a mount namespace of its own, inside the test's host namespace H:
#     nsenter -t H -n -- unshare -m --propagation private -- dockerd_launch.sh run DOCKERD-ARGS...
#     nsenter -t H -n -- unshare -m --propagation private -- dockerd_launch.sh rmcgroups NAME
# Gives dockerd what `ip netns exec` would hide (environment.md, "Docker's packet path"): a sysfs
# of H's own devices, and on /sys/fs/cgroup a tmpfs with the same cgroup hierarchies as the
# machine's (cgroups are global: the same hierarchies, not copies). `run` then becomes dockerd;
# `rmcgroups NAME` removes the cgroup dirs NAME (dockerd's --cgroup-parent) in every hierarchy.
# Nothing mounted here is seen outside this mount namespace; it goes with its last process.
set -u
mode=$1
shift
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ]; then
    echo "dockerd_launch.sh: refusing to run in the machine's mount namespace" >&2
    exit 1
fi

# The cgroup mounts as the machine has them (read before /sys is replaced); the usual v1 set
# when there are none to read.
mapfile -t cg < <(awk '$3 == "cgroup" || $3 == "cgroup2" { print $2, $3, $4 }' /proc/self/mounts)
if [ ${#cg[@]} = 0 ]; then
    for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
        cg+=("/sys/fs/cgroup/$c cgroup rw,$c")
    done
    cg+=("/sys/fs/cgroup/systemd cgroup rw,none,name=systemd" "/sys/fs/cgroup/unified cgroup2 rw")
fi

mount -t sysfs -o rw,nosuid,nodev,noexec sysfs /sys || exit 1
if [ "${cg[0]%% *}" != /sys/fs/cgroup ]; then
    mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup || exit 1
fi
for line in "${cg[@]}"; do
    read -r dir type opts <<<"$line"
    case $dir in /sys/fs/cgroup | /sys/fs/cgroup/*) ;; *) continue ;; esac
    # shellcheck disable=SC2015 # A && B || fail
    mkdir -p "$dir" && mount -t "$type" -o "$opts" cgroup "$dir" ||
        { echo "dockerd_launch.sh: cannot mount $type ($opts) on $dir" >&2; exit 1; }
done

case $mode in
run)
    exec dockerd "$@"
    ;;
rmcgroups)
    name=$1
    case $name in '' | */* | . | ..) echo "bad cgroup name '$name'" >&2; exit 2 ;; esac
    rc=0
    for line in "${cg[@]}"; do
        read -r dir _ <<<"$line"
        [ -d "$dir/$name" ] || continue
        # Deepest first; a dir that still holds a process stays (and is reported).
        find "$dir/$name" -depth -type d -exec rmdir {} + 2>/dev/null
        [ -d "$dir/$name" ] && { echo "cgroup $dir/$name still there" >&2; rc=1; }
    done
    exit $rc
    ;;
procs)
    # procs NAME: the pids in the cgroups NAME (every hierarchy), one per line
    name=$1
    for line in "${cg[@]}"; do
        read -r dir _ <<<"$line"
        [ -d "$dir/$name" ] && find "$dir/$name" -name cgroup.procs -exec cat {} + 2>/dev/null
    done | sort -un
    ;;
*)
    echo "usage: $0 run DOCKERD-ARGS... | rmcgroups NAME | procs NAME" >&2
    exit 2
    ;;
esac
