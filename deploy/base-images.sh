#!/bin/sh
# base-images.sh: makes sure the Docker engine has the Debian images the
# project's Dockerfiles start from, debian:bookworm and debian:bookworm-slim.
#
# An image already there is kept. A missing one is pulled; where no image
# registry can be reached (an air-gapped host, a build farm), both are
# made from Debian's own packages instead: `debootstrap --variant=minbase`
# of bookworm, from the mirror apt uses here, imported once and tagged
# twice. So the whole stack is built from Debian packages either way.
#
#   deploy/base-images.sh          (as root: debootstrap needs it)
#   GROUPCHAT_MIRROR=URL           the Debian mirror for debootstrap
#                                  (default: the one apt uses, else
#                                  http://deb.debian.org/debian)
set -eu

images="debian:bookworm debian:bookworm-slim"

s_have () {
    docker image inspect "$1" >/dev/null 2>&1
}

#  A pull either works at once or not at all here: bound it, so that a
#  host without a route to the registry does not wait out TCP timeouts
s_pull () {
    timeout 60 docker pull -q "$1" >/dev/null 2>&1
}

#  The mirror apt already trusts, from either sources format
s_mirror () {
    if [ -n "${GROUPCHAT_MIRROR:-}" ]; then
        echo "$GROUPCHAT_MIRROR"
        return
    fi
    found=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
            | sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/\{0,1\}$/\1/p' | head -n 1)
    [ -z "$found" ] && found=$(cat /etc/apt/sources.list 2>/dev/null \
            | sed -n 's/^deb  *\(http[^ ]*\/debian\)\/\{0,1\}  *bookworm .*/\1/p' | head -n 1)
    echo "${found:-http://deb.debian.org/debian}"
}

s_debootstrap () {
    command -v debootstrap >/dev/null || {
        echo "base-images: debootstrap is missing (apt-get install debootstrap)" >&2
        exit 1
    }
    root=$(mktemp -d /tmp/groupchat-bookworm.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    mirror=$(s_mirror)
    echo "base-images: no registry; making debian:bookworm with debootstrap from $mirror"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
        tail -n 20 "$root.log" >&2
        rm -f "$root.log"
        exit 1
    }
    rm -f "$root.log"
    #  No package lists in the image: each Dockerfile updates its own
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
    tar -C "$root" -c . | docker import - debian:bookworm >/dev/null
}

missing=""
for image in $images; do
    s_have "$image" || missing="$missing $image"
done
[ -z "$missing" ] && exit 0

unpulled=""
for image in $missing; do
    if s_pull "$image"; then
        echo "base-images: pulled $image"
    else
        unpulled="$unpulled $image"
    fi
done
missing=$unpulled
[ -z "$missing" ] && exit 0

s_have debian:bookworm || s_debootstrap
for image in $missing; do
    [ "$image" = debian:bookworm ] || docker tag debian:bookworm "$image"
    echo "base-images: $image made from Debian's packages"
done
