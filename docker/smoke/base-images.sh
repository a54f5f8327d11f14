#!/bin/sh
# Local base images for `make compose-smoke` (no image registry is reachable on the machine
# it was written for): a minimal Debian bookworm from debootstrap, imported as
# tidings-smoke/debian:bookworm, then Python, PostgreSQL, Redis and Prometheus images built
# on it from Debian's packages. Each image is built only when it is missing (cached).
set -eu
cd "$(dirname "$0")"
DOCKER=${DOCKER:-docker}
MIRROR=${SMOKE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

if ! $DOCKER image inspect tidings-smoke/debian:bookworm >/dev/null 2>&1; then
    echo "smoke: debootstrapping Debian bookworm from $MIRROR (takes minutes, once)"
    root=$(mktemp -d /var/tmp/tidings-smoke-rootfs.XXXXXX)
    nice -n 19 debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 \
        || { tail -20 "$root.log"; exit 1; }
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$MIRROR" "$MIRROR" \
        >"$root/etc/apt/sources.list"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | $DOCKER import --change 'CMD ["bash"]' - tidings-smoke/debian:bookworm
    rm -rf "$root" "$root.log"
fi

for name in python postgres redis prometheus; do
    if ! $DOCKER image inspect "tidings-smoke/$name:latest" >/dev/null 2>&1; then
        echo "smoke: building tidings-smoke/$name"
        DOCKER_BUILDKIT=1 nice -n 19 $DOCKER build --network host -q -t "tidings-smoke/$name" \
            -f "images/$name.Dockerfile" images
    fi
done
