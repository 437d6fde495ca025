#!/bin/bash
# Builds, once, the root file system of the memcached "image" the docker tests import (no image can
# be pulled here): a minbase Debian 12 with memcached, as a tarball OUTSIDE the repo. Rebuilt only
# when missing (or when its stamp changes). The download is tried three times (a mirror's passing
# hiccup is no reason to fail a test run); after that this exits 1 and the docker tests fail.
# Prints the tarball's path on stdout.
# Env: MEMGUARD_DOCKER_CACHE (default /var/cache/memguardd-docker), MEMGUARD_DEBIAN_MIRROR.
set -uo pipefail
CACHE=${MEMGUARD_DOCKER_CACHE:-/var/cache/memguardd-docker}
MIRROR=${MEMGUARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
TAR=$CACHE/memcached-rootfs.tar
STAMP="bookworm minbase memcached v2 trimmed"
mkdir -p "$CACHE" || exit 1
(
    flock 9
    if [ -s "$TAR" ] && [ "$(cat "$TAR.stamp" 2>/dev/null)" = "$STAMP" ]; then exit 0; fi
    command -v debootstrap >/dev/null || { echo "debootstrap not installed" >&2; exit 1; }
    echo "building $TAR (debootstrap, about 2.5 min, once)" >&2
    for attempt in 1 2 3; do
        rm -rf --one-file-system "$CACHE/root.tmp" "$TAR.tmp"
        debootstrap --variant=minbase --include=memcached bookworm "$CACHE/root.tmp" "$MIRROR" \
            >"$CACHE/debootstrap.log" 2>&1 && break
        echo "debootstrap attempt $attempt of 3 failed:" >&2
        tail -20 "$CACHE/debootstrap.log" >&2
        [ "$attempt" = 3 ] && exit 1
        sleep $((attempt * 10)) # a pause before asking the mirror again, not a synchronisation
    done
    # memcached needs none of these (docs, locales, perl, apt's and dpkg's files); without them
    # the tarball is about half the size, and `docker import` in every test run half as long.
    tar -C "$CACHE/root.tmp" -cf "$TAR.tmp" --exclude=./usr/share/doc --exclude=./usr/share/man \
        --exclude=./usr/share/locale --exclude=./usr/share/info --exclude=./usr/share/perl \
        --exclude=./usr/lib/x86_64-linux-gnu/perl --exclude=./usr/lib/x86_64-linux-gnu/perl-base \
        --exclude='./usr/lib/x86_64-linux-gnu/libperl.so*' --exclude=./usr/lib/x86_64-linux-gnu/gconv \
        --exclude='./usr/bin/perl*' --exclude=./var/lib/dpkg/info --exclude='./var/cache/*' \
        --exclude=./var/lib/apt . || exit 1
    rm -rf --one-file-system "$CACHE/root.tmp"
    echo "$STAMP" >"$TAR.stamp"
    mv "$TAR.tmp" "$TAR"
) 9>"$CACHE/lock" || exit 1
echo "$TAR"
