#!/bin/bash
# healthz.sh: tells whether a groupchat process on this host is healthy,
# for container health checks and scripts/run.sh. Needs only bash (its
# /dev/tcp), because the runtime image has no curl; --tls also needs
# openssl (the lb image has it).
#
#   healthz.sh [PORT]      a gateway: exits 0 when GET /healthz answers 200
#                          (PORT defaults to $GROUPCHAT_PORT, then 8080)
#   healthz.sh --tls PORT  the same over TLS (openssl s_client), e.g.
#                          haproxy's wss:// port: the certificate is not
#                          checked, only that TLS is served and /healthz
#                          answers 200 through it
#   healthz.sh --broker [KEYS]
#                          a broker: exits 0 when it answers a request (its
#                          figures, asked with groupchat-admin stats) on
#                          the port of its request endpoint
#                          ($GROUPCHAT_REQUESTS, tcp://127.0.0.1:5555); an open
#                          port alone is not enough. KEYS: an admin's key
#                          folder, for a broker with keys (CURVE)
#   healthz.sh --standby [KEYS]
#                          a broker that may be a standby: as --broker, but
#                          nothing listening on that port is healthy too
#                          while a groupchat-broker process given that
#                          endpoint ($GROUPCHAT_REQUESTS in its environment)
#                          runs: a standby waits so, binding nothing, until
#                          the one serving dies (docker-compose.ha.yml)
#
# groupchat-admin is $GROUPCHAT_ADMIN, else the one on PATH, else the
# one in bin/ beside this script's folder (a checkout).
#
# Prints one line saying what it saw (Docker keeps it with the health
# state); exits 1 when unhealthy, 2 on bad usage. Every read is bounded,
# so a process that accepts but never answers counts as unhealthy.
set -u

host=127.0.0.1
limit=5         # seconds allowed for the answer
#  A server that resets the connection (a TLS port asked in clear text)
#  must not kill the script on its write: it is unhealthy, and says so
trap '' PIPE

# Opens fd 3 to host:port, or fails quietly (bash prints connect errors)
s_connect () {
    { exec 3<>"/dev/tcp/$host/$1"; } 2>/dev/null
}

s_request () {
    printf 'GET /healthz HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$host" "$1"
}

#  $1: the port; $2: "tls" to ask through openssl s_client (-quiet keeps
#  reading after the request is sent, until the server closes)
s_gateway () {
    port=$1
    case "$port" in
        ''|*[!0-9]*) echo "usage: healthz.sh [PORT] | --tls PORT | --broker" >&2; exit 2 ;;
    esac
    if ! s_connect "$port"; then
        echo "gateway: nothing listens on port $port"
        exit 1
    fi
    status=""
    if [ "${2:-}" = tls ]; then
        exec 3>&-
        status=$(s_request "$port" | timeout "$limit" openssl s_client -quiet \
                 -connect "$host:$port" 2>/dev/null | head -n 1)
    else
        s_request "$port" >&3 2>/dev/null
        IFS= read -r -t "$limit" status <&3 2>/dev/null
    fi
    status=${status%$'\r'}
    case "$status" in
        "HTTP/1."[01]" 200"*) echo "gateway: $status"; exit 0 ;;
        "")                   echo "gateway: no HTTP answer on port $port (within $limit s)" ;;
        *)                    echo "gateway: $status" ;;
    esac
    exit 1
}

#  A groupchat-broker process (under valgrind, or tini, too: any of its
#  arguments) whose environment gives it the requests endpoint $1. This
#  script and its children have that environment but not that argument
s_waiting () {
    local pid
    for pid in /proc/[0-9]*; do
        tr '\0' '\n' 2>/dev/null <"$pid/environ" | grep -qxF "GROUPCHAT_REQUESTS=$1" \
            && tr '\0' '\n' 2>/dev/null <"$pid/cmdline" | grep -q '\(^\|/\)groupchat-broker$' \
            && return 0
    done
    return 1
}

s_broker () {
    endpoint=${GROUPCHAT_REQUESTS:-tcp://127.0.0.1:5555}
    case "$endpoint" in
        tcp://*:[0-9]*) port=${endpoint##*:} ;;
        *)  #  ipc:// and the like cannot be probed this way; nothing to check
            echo "broker: $endpoint is not a TCP endpoint, not checked"
            exit 0 ;;
    esac
    if ! s_connect "$port"; then
        if [ "${2:-}" = standby ] && s_waiting "$endpoint"; then
            echo "broker: a standby (it runs and binds nothing: another broker serves)"
            exit 0
        fi
        echo "broker: nothing listens on port $port"
        exit 1
    fi
    exec 3>&-
    local admin=${GROUPCHAT_ADMIN:-$(command -v groupchat-admin)}
    admin=${admin:-$(dirname "$0")/../bin/groupchat-admin}
    local said
    #  The broker's own GROUPCHAT_KEYS names its folder, not an admin's
    local keys=()
    [ -n "$1" ] && keys=(--keys "$1")
    if said=$(env -u GROUPCHAT_KEYS "$admin" --requests "tcp://$host:$port" "${keys[@]}" \
                  --timeout "$limit" stats 2>&1 >/dev/null); then
        echo "broker: answers requests on port $port"
        exit 0
    fi
    echo "broker: port $port is open but no request was answered: ${said:-no answer}"
    exit 1
}

case "${1:-}" in
    --broker) s_broker "${2:-}" ;;
    --standby) s_broker "${2:-}" standby ;;
    --tls)    s_gateway "${2:-}" tls ;;
    -h|--help) sed -n '2,29s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *)        s_gateway "${1:-${GROUPCHAT_PORT:-8080}}" ;;
esac
