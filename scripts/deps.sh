#!/bin/sh
# Installs, with apt-get, the Debian 12 packages groupchat needs to build
# and test. Installs only what is missing, so it is cheap to run each time.
# The Dockerfile's build stage runs this same script.
#   scripts/deps.sh          build and test dependencies
#   scripts/deps.sh build    only what building and running need (make run)
#   scripts/deps.sh runtime  only the runtime libraries (the slim image)
#   scripts/deps.sh compose  Docker's engine, docker-compose and debootstrap
#                            (make test-compose)
#   scripts/deps.sh fuzz     clang and its runtimes, libFuzzer's among them,
#                            besides what building needs (make fuzz)
#   scripts/deps.sh list [SET]   prints the set's packages, installs nothing
set -eu

build="build-essential pkg-config libzmq3-dev libczmq-dev libwebsockets-dev
       libmsgpack-dev libsqlite3-dev libsodium-dev libjansson-dev
       libreadline-dev libpq-dev"
test="python3 python3-websockets python3-zmq python3-msgpack tmux valgrind docker-compose
      sqlite3 procps haproxy openssl binutils chromium chromium-driver python3-selenium
      postgresql-15"
compose="docker.io docker-compose debootstrap"
fuzz="clang libclang-rt-14-dev"
runtime="libzmq5 libczmq4 libwebsockets17 libmsgpackc2 libsqlite3-0
         libsodium23 libjansson4 libreadline8 libpq5 ca-certificates"

s_wanted () {
    case "$1" in
        runtime) echo $runtime ;;
        build)   echo $build ;;
        compose) echo $compose ;;
        fuzz)    echo $build $fuzz ;;
        all)     echo $build $test ;;
        *)       echo "deps: unknown set '$1' (all, build, compose, fuzz or runtime)" >&2; exit 2 ;;
    esac
}

if [ "${1:-}" = list ]; then
    s_wanted "${2:-all}"
    exit 0
fi
wanted=$(s_wanted "${1:-all}")

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
