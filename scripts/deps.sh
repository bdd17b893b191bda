#!/bin/sh
# Installs, with apt-get, the Debian 12 packages groupchat needs to build
# and test. Installs only what is missing, so it is cheap to run each time.
# The Dockerfile's build stage runs this same script.
#   scripts/deps.sh          build and test dependencies
#   scripts/deps.sh runtime  only the runtime libraries (the slim image)
set -eu

build="build-essential pkg-config libzmq3-dev libczmq-dev libwebsockets-dev
       libmsgpack-dev libsqlite3-dev libsodium-dev libjansson-dev
       libreadline-dev"
test="python3 python3-websockets tmux valgrind docker-compose sqlite3 procps haproxy"
runtime="libzmq5 libczmq4 libwebsockets17 libmsgpackc2 libsqlite3-0
         libsodium23 libjansson4 libreadline8 ca-certificates"

case "${1:-all}" in
    runtime) wanted="$runtime" ;;
    build)   wanted="$build" ;;
    *)       wanted="$build $test" ;;
esac

missing=""
for package in $wanted; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $package"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "deps: missing:$missing; run 'make deps' as root (or with sudo)" >&2
    exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
