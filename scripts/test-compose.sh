#!/bin/bash
# test-compose.sh: what `make test-compose` runs: docker-compose.yml, and
# docker-compose.ha.yml over it, up for real on this machine's Docker
# engine, and tests/compose/ against them.
#
# Installs what is missing (Docker's engine, docker-compose, debootstrap),
# starts dockerd when no engine answers (and stops, at the end, only what
# it started), makes the Debian base images when they are missing and no
# registry answers (deploy/base-images.sh: they stay for the next run),
# then runs the tests, which build the images and bring each stack up
# under a project of its own on free ports. Whatever they leave is taken
# down.
set -eu
cd "$(dirname "$0")/.."

#  The projects' names are this checkout's (a checksum of its path), so
#  that runs from two checkouts on one engine leave each other's alone
project=groupchat-test-$(pwd -P | cksum | cut -d ' ' -f 1)
export GROUPCHAT_TEST_PROJECT=$project
log=${TMPDIR:-/tmp}/groupchat-dockerd.log
started=""

s_engine_answers () {
    docker info >/dev/null 2>&1
}

s_start_engine () {
    echo "test-compose: no Docker engine answers; starting dockerd (log: $log)"
    dockerd >"$log" 2>&1 &
    started=$!
    for _ in $(seq 120); do
        s_engine_answers && return 0
        kill -0 "$started" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 20 "$log" >&2
    echo "test-compose: dockerd did not answer within 60 s" >&2
    exit 1
}

s_cleanup () {
    if s_engine_answers; then
        COMPOSE_PROJECT_NAME=$project docker-compose down -v --remove-orphans \
            >/dev/null 2>&1 || true
        COMPOSE_PROJECT_NAME=$project-ha \
            COMPOSE_FILE=docker-compose.yml:docker-compose.ha.yml:tests/compose/replica.yml \
            docker-compose down -v --remove-orphans >/dev/null 2>&1 || true
    fi
    if [ -n "$started" ]; then
        kill "$started" 2>/dev/null || true
        wait "$started" 2>/dev/null || true
    fi
}

sh scripts/deps.sh compose
make -s
trap s_cleanup EXIT
s_engine_answers || s_start_engine
sh deploy/base-images.sh
/usr/bin/python3 tests/run.py --bin bin --suite compose --jobs 1 --timeout 900
