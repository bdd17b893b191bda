#!/bin/bash
# run.sh: runs groupchat on this machine, as `make run` does after building:
# one broker and two gateways on localhost, in the foreground. Everything
# listens on 127.0.0.1 only, and the broker link uses CURVE keys, made in
# run/keys on the first start (groupchat-admin keys init; kept after).
#
# Waits until every gateway's /healthz answers 200, prints how to connect,
# then stays until Ctrl-C or SIGTERM, which stops all three cleanly. If one
# of them dies, the others are stopped and run.sh exits 1. Each program's
# output is shown here, prefixed with its name, and appended to
# run/<name>.log (under the current folder).
#
# Settings (environment):
#   GROUPCHAT_DB             the database (./groupchat.db)
#   GROUPCHAT_GATEWAY_PORTS  the gateways' ports, one gateway each ("8080 8081")
#   GROUPCHAT_REQUESTS_PORT  the broker's request port on 127.0.0.1 (5555)
#   GROUPCHAT_EVENTS_PORT    the broker's event port on 127.0.0.1 (5556)
#   GROUPCHAT_LOG_LEVEL      passed on to the programs (info)
#   GROUPCHAT_KEYS_DIR       the key folders (run/keys)
#   GROUPCHAT_BIN            where the programs are (bin/ of this checkout)
#   GROUPCHAT_RUN_TIMEOUT    seconds to wait for readiness (30)

#  `make run` starts us with sh; what follows needs bash (wait -n, /dev/tcp)
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${GROUPCHAT_BIN:-$root/bin}
db=${GROUPCHAT_DB:-./groupchat.db}
ports=${GROUPCHAT_GATEWAY_PORTS:-8080 8081}
requests_port=${GROUPCHAT_REQUESTS_PORT:-5555}
events_port=${GROUPCHAT_EVENTS_PORT:-5556}
timeout=${GROUPCHAT_RUN_TIMEOUT:-30}
keys=${GROUPCHAT_KEYS_DIR:-run/keys}
healthz=$root/deploy/healthz.sh
logs=run

names=()        # "broker", "gateway-8080", ...: index-aligned with pids
pids=()
prefixers=()    # the s_prefix processes
stopping=""     # set by the signal trap

s_say () {
    printf 'run: %s\n' "$*" >&2
}

s_die () {
    s_say "$*"
    exit 1
}

#  True when something already accepts connections on 127.0.0.1:port
s_port_taken () {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

#  Copies a program's output to the terminal, prefixed with its name, and
#  to its log file. Ignores Ctrl-C and SIGTERM: it must outlive the program
#  to show its last words (and a program writing to a closed pipe dies).
s_prefix () {
    trap '' INT TERM HUP
    local name=$1 line
    while IFS= read -r line || [ -n "$line" ]; do
        printf '%-12s | %s\n' "$name" "$line"
        printf '%s\n' "$line" >&3
    done 3>>"$logs/$name.log"
}

#  Starts a program in the background and records it under `name`. The
#  prefixer is our own child (not the program's), so that we can wait for
#  it to print the program's last lines.
s_start () {
    local name=$1 out
    shift
    printf '=== %s: %s\n' "$(date '+%F %T')" "$*" >>"$logs/$name.log"
    exec {out}> >(s_prefix "$name")
    prefixers+=("$!")
    #  In a session of its own, so that a terminal's Ctrl-C reaches only
    #  us and we stop the programs in order (setsid execs: $! is the program)
    setsid "$@" </dev/null >&"$out" 2>&1 {out}>&- &
    names+=("$name")
    pids+=("$!")
    exec {out}>&-
}

#  Sets dead to the index of the first program no longer running, or to
#  nothing. A variable, not $(...): bash drops a trapped Ctrl-C that comes
#  while it waits for a foreground child which then exits normally (it
#  takes the child to have handled it), so the loops below run no
#  foreground command but builtins, and wait for children with `wait`,
#  which a trapped signal interrupts.
s_first_dead () {
    local i
    dead=""
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            dead=$i
            return
        fi
    done
}

#  Stops the programs with SIGTERM, the gateways first so that the broker
#  still answers what they send while closing; allows each 10 s before
#  SIGKILL. Returns 1 when one did not exit 0. `skip` is the index of one
#  already waited for and reported.
s_stop_all () {
    local skip=${1:-} failed=0 phase i
    for phase in gateways broker; do
        s_stop_some "$phase" "$skip" || failed=1
    done
    #  The programs are gone, so each prefixer reads its end of file now
    #  and prints what is left before the shell prompt comes back
    wait "${prefixers[@]}" 2>/dev/null
    return "$failed"
}

#  Stops the broker (index 0) or the gateways (the rest), in parallel
s_stop_some () {
    local phase=$1 skip=$2 chosen=() i code failed=0 deadline
    for i in "${!pids[@]}"; do
        [ "$i" = "$skip" ] && continue
        case "$phase:$i" in
            broker:0|gateways:[1-9]*)
                chosen+=("$i")
                kill -TERM "${pids[$i]}" 2>/dev/null ;;
        esac
    done
    deadline=$((SECONDS + 11))     # SECONDS ticks whole seconds: at least 10 s
    for i in "${chosen[@]}"; do
        while kill -0 "${pids[$i]}" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
            sleep 0.1
        done
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            s_say "${names[$i]} did not stop within 10 s; killing it"
            kill -KILL "${pids[$i]}" 2>/dev/null
        fi
        wait "${pids[$i]}"
        code=$?
        if [ "$code" != 0 ]; then
            s_say "${names[$i]} exited with code $code"
            failed=1
        fi
    done
    return "$failed"
}

#  Polls every gateway's /healthz until each answers 200; fails when the
#  deadline passes or a program dies meanwhile
s_wait_ready () {
    local port dead deadline=$((SECONDS + timeout + 1))    # at least $timeout s
    for port in $ports; do
        while :; do
            bash "$healthz" "$port" >/dev/null 2>&1 &
            wait $! && break
            [ -n "$stopping" ] && return 1
            s_first_dead
            if [ -n "$dead" ]; then
                s_say "${names[$dead]} exited during startup"
                return 1
            fi
            if [ "$SECONDS" -ge "$deadline" ]; then
                s_say "gateway on port $port: $(bash "$healthz" "$port" 2>&1)"
                s_say "not ready within $timeout s; see $logs/*.log"
                return 1
            fi
            sleep 0.1 &
            wait $!
        done
    done
}

s_banner () {
    local client=$bin/groupchat port
    client=${client#"$PWD"/}
    echo
    echo "groupchat is running: a broker (database $db) and gateways on ports ${ports// /, }."
    echo "Connect with:"
    for port in $ports; do
        echo "    $client ws://localhost:$port"
    done
    echo "or open in a browser:"
    for port in $ports; do
        echo "    http://localhost:$port/"
    done
    echo "Users Alex, Sue and Sandy, password \"password\". Logs: here and in $logs/*.log."
    echo "Administer with: ${client%/*}/groupchat-admin --keys $keys/admin users"
    echo "Ctrl-C stops everything."
    echo
}

#  --------------------------------------------------------------------------

case "${1:-}" in
    -h|--help) sed -n '2,21s/^# \{0,1\}//p' "$0"; exit 0 ;;
    "") ;;
    *) s_die "usage: scripts/run.sh (settings in the environment, see --help)" ;;
esac

for program in groupchat-broker groupchat-gateway groupchat-admin; do
    [ -x "$bin/$program" ] || s_die "$bin/$program is missing: run make first"
done
for port in $requests_port $events_port $ports; do
    case "$port" in
        ''|*[!0-9]*) s_die "bad port '$port'" ;;
    esac
    s_port_taken "$port" && s_die "port $port is already in use (another make run?)"
done
mkdir -p "$logs" || s_die "cannot create $logs/"
#  What is missing of the keys; a key already there is never replaced
made=$("$bin/groupchat-admin" keys init "$keys" 2>&1) || s_die "cannot make the keys: $made"
[ -n "$made" ] && printf '%s\n' "$made" | sed 's/^/run: /' >&2

trap 'stopping=1' INT TERM HUP

s_start broker "$bin/groupchat-broker" --db "$db" --keys "$keys/broker" \
    --requests "tcp://127.0.0.1:$requests_port" --events "tcp://127.0.0.1:$events_port"
for port in $ports; do
    s_start "gateway-$port" "$bin/groupchat-gateway" --port "$port" --listen 127.0.0.1 \
        --keys "$keys/gateway" \
        --requests "tcp://127.0.0.1:$requests_port" --events "tcp://127.0.0.1:$events_port"
done

if ! s_wait_ready; then
    s_stop_all
    stopped=$?
    #  Interrupted while starting is a normal stop; anything else failed
    [ -n "$stopping" ] && exit "$stopped"
    exit 1
fi
s_banner

#  Sleep until a program exits or a signal comes (a trapped signal ends
#  the wait at once). A ticker, waited for alone, bounds each turn: bash
#  5.2's `wait -n` given a list can miss a member that died while it was
#  being forked (killed by the very Ctrl-C we wait for) and then sleep on
#  the others for good. So a program's death is seen within half a second.
while [ -z "$stopping" ]; do
    s_first_dead
    if [ -n "$dead" ]; then
        wait "${pids[$dead]}" 2>/dev/null
        code=$?
        [ "$code" = 127 ] && code="unknown (already reaped)"
        s_say "${names[$dead]} exited with code $code; stopping the others"
        s_stop_all "$dead"
        exit 1
    fi
    sleep 0.5 &
    ticker=$!
    wait "$ticker" 2>/dev/null
    kill "$ticker" 2>/dev/null
done

s_say "stopping"
s_stop_all
