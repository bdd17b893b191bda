#!/bin/bash
# bench.sh: `make bench`: measures groupchat on this machine. Starts a broker
# (on a temporary SQLite database) and two gateways on loopback, runs
# groupchat-bench's default set of scenarios against them, each short,
# then the scenarios that depend on the store (fanout, ack-rate, ack)
# again with the broker on a temporary PostgreSQL 15 server
# (bench/postgres-server.py); writes every result to
# bench/results/latest.json, stops everything, and prints the figures next
# to the targets of docs/performance.md, PostgreSQL's beside SQLite's.
# Takes under 5 minutes.
#
# The gateways run with --rate-limit 0: the bench's senders say far
# faster than the per-connection limit a real client is held to; with no
# cap per address: every bench connection comes from loopback; and
# trusting loopback as a proxy (--trusted-proxy 127.0.0.1), so that the
# login floods' connections pass for clients of the made-up addresses
# they name in X-Forwarded-For (the others name none and stay loopback).
# Around each login scenario the broker's login figures are read with
# groupchat-admin stats: hashes computed, logins refused for a full hash
# queue (busy), past their deadline (late) or locked (throttled), and the
# deepest hash queue seen, sampled every 0.2 s.
#
# Settings (environment):
#   GROUPCHAT_BIN          where the programs are (bin/ of this checkout)
#   GROUPCHAT_BENCH_SET    scenarios to run, of: idle fanout ack-rate ack
#                          login login-wrong login-spread login-names join
#                          max (all, in that order: idle first, while the
#                          gateway's memory is fresh, fixed rates before
#                          floods); on PostgreSQL, those of them among
#                          fanout ack-rate ack
#   GROUPCHAT_BENCH_DBS    the databases, of: sqlite postgresql (both)
#   GROUPCHAT_BENCH_OUT    the results file (bench/results/latest.json)
#   GROUPCHAT_BENCH_IDLE   connections of the idle scenario (10000)
#   GROUPCHAT_BENCH_TLS    1: the gateways serve wss:// with a throwaway
#                          self-signed certificate (openssl), which the
#                          bench trusts through --ca (0)
#   GROUPCHAT_BENCH_CURVE  0: the broker link without keys; 1, as make run
#                          runs it: CURVE with throwaway keys (1)
#
# Then bench/failover.py: a broker failover's time, over 20 rounds, on
# each of those databases.
#
# Exit status: 0 when every scenario passed its checks (no missing,
# duplicate or out-of-order delivery, no error) and every database asked
# for could be started, 1 otherwise. Missing a performance target is
# reported, not a failure: the machine decides.

if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${GROUPCHAT_BIN:-$root/bin}
set_=${GROUPCHAT_BENCH_SET:-idle fanout ack-rate ack login login-wrong login-spread login-names join max}
dbs=${GROUPCHAT_BENCH_DBS:-sqlite postgresql}
out=${GROUPCHAT_BENCH_OUT:-$root/bench/results/latest.json}
idle_connections=${GROUPCHAT_BENCH_IDLE:-10000}
tls=${GROUPCHAT_BENCH_TLS:-0}
curve=${GROUPCHAT_BENCH_CURVE:-1}
scheme=ws
healthz=$root/deploy/healthz.sh

work=""
pids=()
failed=0
lines=()        # one JSON line per scenario of the pass under way
sqlite_lines=()
postgres_lines=()
postgres_pid="" # bench/postgres-server.py, a coprocess
postgres_settings=""

s_say () {
    printf 'bench: %s\n' "$*" >&2
}

#  A port nothing listens on, from the range below the kernel's
#  ephemeral ports (the bench's own connections take those)
s_free_port () {
    local port
    while :; do
        port=$((20000 + RANDOM % 10000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

#  Stops the process $1: SIGTERM, then SIGKILL after 10 s
s_end () {
    local deadline=$((SECONDS + 10))
    kill -TERM "$1" 2>/dev/null
    while kill -0 "$1" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

#  Stops the pass's servers, gateways first, then the broker
s_stop () {
    local pid
    for pid in "${pids[@]:1}" "${pids[0]:-}"; do
        [ -n "$pid" ] && s_end "$pid"
    done
    pids=()
}

#  Stops everything, the PostgreSQL server last, and removes the files
s_cleanup () {
    s_stop
    [ -n "$postgres_pid" ] && s_end "$postgres_pid"
    postgres_pid=""
    [ -n "$work" ] && rm -rf "$work"
}

#  GET /healthz answers 200; over TLS through openssl s_client, since
#  healthz.sh speaks clear HTTP only
s_healthy () {
    if [ "$tls" = 1 ]; then
        printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' |
            timeout 5 openssl s_client -quiet -connect "127.0.0.1:$1" 2>/dev/null |
            head -n 1 | grep -q '^HTTP/1\.[01] 200'
    else
        bash "$healthz" "$1" >/dev/null 2>&1
    fi
}

s_wait_ready () {
    local port deadline=$((SECONDS + 30))
    for port in "$@"; do
        until s_healthy "$port"; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                s_say "gateway on port $port not ready within 30 s; logs in $work"
                return 1
            fi
            sleep 0.1
        done
    done
}

#  Runs one scenario; its table goes to the terminal, its JSON line
#  (the last line) is kept
s_run () {
    local name=$1 output
    shift
    echo
    output=$("$bin/groupchat-bench" "$@")
    [ $? = 0 ] || failed=1
    printf '%s\n' "$output" | sed '$d'
    local json
    json=$(printf '%s\n' "$output" | tail -n 1)
    case "$json" in
        '{'*) lines+=("{\"name\":\"$name\",\"result\":$json}") ;;
        *)    failed=1; s_say "$name: no result" ;;
    esac
}

#  The broker's figures, Prometheus text
s_stats () {
    "$bin/groupchat-admin" --requests "tcp://127.0.0.1:$requests" "${admin_keys[@]}" \
        --timeout 2 stats 2>/dev/null
}

#  How much the counter $1 grew from $work/before to $work/after
s_grew () {
    awk -v key="$1" 'FNR == 1 { file++ } $1 == key { value [file] = $2 }
        END { printf "%d", value [2] - value [1] }' "$work/before" "$work/after"
}

#  Runs a login scenario as s_run does, adding to its line what the
#  broker counted meanwhile
s_run_logins () {
    local count=${#lines[@]} sampler
    s_stats >"$work/before"
    while :; do
        s_stats | awk '$1 == "groupchat_broker_hash_queue" { print $2 }'
        sleep 0.2
    done >"$work/queue" &
    sampler=$!
    s_run "$@"
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null
    s_stats >"$work/after"
    [ "${#lines[@]}" -gt "$count" ] || return
    local broker="" key last=$((${#lines[@]} - 1))
    for key in password_hashes logins_failed logins_busy logins_late logins_throttled; do
        broker+="\"$key\":$(s_grew "groupchat_broker_${key}_total"),"
    done
    broker="{$broker\"hash_queue_max\":$(sort -n "$work/queue" | tail -n 1 | grep . || echo 0)}"
    printf 'broker meanwhile: %s\n' "$broker"
    lines[$last]="${lines[$last]%\}},\"broker\":$broker}"
}

s_machine () {
    local os kernel cpus model
    os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")
    kernel=$(uname -r)
    cpus=$(nproc)
    model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    printf '{"os":"%s","kernel":"%s","cpus":%s,"cpu":"%s","network":"loopback"}' \
        "$os" "$kernel" "$cpus" "${model//\"/}"
}

s_commit () {
    local commit
    commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$root" diff --quiet HEAD 2>/dev/null || commit="$commit-dirty"
    echo "$commit"
}

#  Prints the figures of a results file next to the targets
s_targets () {
    /usr/bin/python3 - "$1" <<'PYTHON'
import json, sys
doc = json.load (open (sys.argv [1]))
got = {item ["name"]: item ["result"] for item in doc ["scenarios"]}

def figure (name, key, section = "results"):
    return got.get (name, {}).get (section, {}).get (key)

def line (what, value, unit, target, ok):
    shown = "-" if value is None else f"{value:,.3f}" if unit == "ms" else f"{value:,.0f}"
    verdict = "" if value is None or ok is None else ("met" if ok else "MISSED")
    print (f"  {what:<44} {shown:>12} {unit:<6} {target:<12} {verdict}")

def process (name):
    for item in figure ("idle", "processes") or []:
        if item ["name"] == name:
            return item ["bytes_per_connection"]

machine = doc ["machine"]
print (f"groupchat {doc ['commit']}: {machine ['cpus']} cores, {machine ['os']}, loopback, "
       f"{doc.get ('transport', 'ws')}://")
p99 = figure ("fanout", "latency_p99_ms")
line ("fanout 1x200, 1000 msg/s: p99 delivery", p99, "ms", "< 2", p99 is not None and p99 < 2)
if "fanout" in got:
    faults = sum (figure ("fanout", key, "checks") or 0
                  for key in ("missing", "duplicates", "out_of_order"))
    line ("fanout: missing, duplicate, out of order", faults, "", "= 0", faults == 0)
best = figure ("max", "max_delivered_per_s")
line ("max: sustained deliveries (p99 <= 50 ms)", best, "/s", ">= 300,000",
      best is not None and best >= 300000)
says = figure ("ack", "acked_per_s")
line ("ack: durable says into one room", says, "/s", ">= 50,000", says is not None and says >= 50000)
p99 = figure ("ack-rate", "ack_p99_ms")
line ("ack at 10,000 says/s: p99 ack", p99, "ms", "< 10", p99 is not None and p99 < 10)
joins = figure ("join", "joins_per_s")
line ("join: joins with history", joins, "/s", ">= 5,000", joins is not None and joins >= 5000)
per = process ("gateway-a")
line ("idle: gateway RSS per connection", per, "bytes", "<= 8,192", per is not None and per <= 8192)
line ("login: one password login alone (hash)", figure ("login", "password_login_alone_ms"), "ms", "", None)
line ("login: password logins", figure ("login", "password_logins_per_s"), "/s", "", None)
line ("login: token logins", figure ("login", "token_logins_per_s"), "/s", "", None)
line ("login: probe p99, quiet", figure ("login", "probe_quiet_p99_ms"), "ms", "", None)
line ("login: probe p99, password logins", figure ("login", "probe_password_p99_ms"), "ms", "", None)
broker = {item ["name"]: item.get ("broker", {}) for item in doc ["scenarios"]}

def both (name, key):
    quiet, flood = (figure (name, f"{key}_{phase}_p99_ms") for phase in ("quiet", "password"))
    return "-" if quiet is None or flood is None else f"{quiet:.1f} / {flood:.1f}"

for name in ("login", "login-wrong", "login-spread", "login-names"):
    if name not in got:
        continue
    answers = ", ".join (f"{figure (name, 'password_' + code) or 0:,.0f} {code}"
                         for code in ("ok", "bad_credentials", "rate_limited", "unavailable"))
    sent = figure (name, "password_sent_per_s") or 0
    print (f"  {name}: {sent:,.0f} logins/s sent: {answers}; broker hashed "
           f"{broker [name].get ('password_hashes', '-')}, hash queue at most "
           f"{broker [name].get ('hash_queue_max', '-')}")
    print (f"    others' p99 quiet / flood, ms: says {both (name, 'probe')}, token logins "
           f"{both (name, 'probe_token_login')}, joins {both (name, 'probe_join')}")

def shown (value, unit):
    return "-" if value is None else f"{value:,.1f}" if unit == "ms" else f"{value:,.0f}"

#  The store's figures, PostgreSQL's beside SQLite's
postgres = doc.get ("postgresql")
if postgres:
    on = {item ["name"]: item ["result"] for item in postgres ["scenarios"]}
    settings = postgres ["settings"]
    print (f"  the store: SQLite (WAL, synchronous=FULL) and PostgreSQL "
           f"{settings.get ('server_version', '?').split () [0]} (synchronous_commit "
           f"{settings.get ('synchronous_commit')}, fsync {settings.get ('fsync')}, "
           f"{settings.get ('wal_sync_method')})")
    print (f"  {'':<44} {'SQLite':>12} {'PostgreSQL':>12}")
    for what, name, key, unit in (
            ("ack: durable says into one room", "ack", "acked_per_s", "/s"),
            ("ack: say-to-ack p50", "ack", "ack_p50_ms", "ms"),
            ("ack: say-to-ack p99", "ack", "ack_p99_ms", "ms"),
            ("ack at 10,000 says/s: p99 ack", "ack-rate", "ack_p99_ms", "ms"),
            ("fanout 1x200, 1000 msg/s: p99 delivery", "fanout", "latency_p99_ms", "ms"),
            ("fanout: say-to-ack p99", "fanout", "ack_p99_ms", "ms")):
        sqlite = figure (name, key)
        other = on.get (name, {}).get ("results", {}).get (key)
        print (f"  {what:<44} {shown (sqlite, unit):>12} {shown (other, unit):>12} {unit}")
print (f"  checks: {'all passed' if doc ['passed'] else 'FAILED'}; results in {sys.argv [1]}")
PYTHON
}

#  Loopback ports for a pass's broker and gateways
s_ports () {
    requests=$(s_free_port)
    events=$(s_free_port)
    port_a=$(s_free_port)
    port_b=$(s_free_port)
    while [ "$port_b" = "$port_a" ] || [ "$port_b" = "$requests" ] || [ "$port_b" = "$events" ]; do
        port_b=$(s_free_port)
    done
    endpoints=(--requests "tcp://127.0.0.1:$requests" --events "tcp://127.0.0.1:$events")
}

#  Starts a broker on the database $1 (its log named after $2) and two
#  gateways, on ports of their own: 0 once both gateways serve
s_start () {
    s_ports
    "$bin/groupchat-broker" --db "$1" "${endpoints[@]}" "${broker_keys[@]}" \
        --log-level warn >"$work/broker-$2.log" 2>&1 &
    pids+=("$!")
    for port in "$port_a" "$port_b"; do
        "$bin/groupchat-gateway" --port "$port" "${endpoints[@]}" "${tls_flags[@]}" "${gateway_keys[@]}" \
            --rate-limit 0 --max-connections-per-address 1000000 --max-connections-per-user 1000000 \
            --trusted-proxy 127.0.0.1 \
            --log-level warn >"$work/gateway-$port.log" 2>&1 &
        pids+=("$!")
    done
    s_wait_ready "$port_a" "$port_b" || return 1
    both=(--url "$scheme://127.0.0.1:$port_a/" --url "$scheme://127.0.0.1:$port_b/" "${ca_flags[@]}")
    watch="broker=${pids[0]},gateway-a=${pids[1]},gateway-b=${pids[2]}"
}

s_scenario () {
    case "$1" in
        fanout)   s_run fanout "${both[@]}" --scenario fanout --rooms 1 --members 200 \
                      --senders 10 --rate 1000 --bytes 100 --duration 10 ;;
        ack)      s_run ack "${both[@]}" --scenario ack --senders 2 --inflight 128 --duration 8 ;;
        ack-rate) s_run ack-rate "${both[@]}" --scenario ack --senders 2 --rate 10000 --duration 8 ;;
        login*)   s_run_logins "$1" "${both[@]}" --scenario "$1" --members 20 \
                      --rate 100 --flood-rate 300 --duration 4 ;;
        join)     s_run join "${both[@]}" --scenario join --connections 5000 --duration 5 ;;
        idle)     s_run idle --url "$scheme://127.0.0.1:$port_a/" "${ca_flags[@]}" --scenario idle \
                      --connections "$idle_connections" --duration 5 --pids "$watch" ;;
        max)      s_run max "${both[@]}" --scenario max --rooms 1 --members 200 --senders 10 \
                      --rate 250 --duration 3 ;;
        *)        s_say "no scenario $1"; failed=1 ;;
    esac
}

#  One pass: a broker on the database $1 (named $2), and the scenarios
#  $3... against it, their results in lines
s_pass () {
    local db=$1 name=$2 scenario
    shift 2
    lines=()
    if s_start "$db" "$name"; then
        for scenario in "$@"; do
            s_scenario "$scenario"
        done
    else
        failed=1
    fi
    s_stop
}

#  The PostgreSQL pass: the set's scenarios that depend on the store, on a
#  server of the bench's own. The server is a coprocess that stops and
#  removes itself on SIGTERM or when its stdin closes, which it does when
#  this script ends, however it ends
s_postgres_pass () {
    local scenario storage=() uri="" from
    for scenario in $set_; do
        case "$scenario" in fanout|ack-rate|ack) storage+=("$scenario") ;; esac
    done
    [ "${#storage[@]}" -gt 0 ] || return 0
    echo
    s_say "PostgreSQL: ${storage[*]} with the broker on a PostgreSQL 15 server of its own"
    coproc postgres_server {
        exec /usr/bin/python3 "$root/bench/postgres-server.py" 2>"$work/postgres.log"
    }
    postgres_pid=$postgres_server_PID
    from=${postgres_server[0]}
    if ! read -r -t 120 uri <&"$from" || ! read -r -t 30 postgres_settings <&"$from"; then
        s_say "PostgreSQL: no server: $(tail -n 5 "$work/postgres.log")"
        postgres_settings=""
        failed=1
        return
    fi
    s_pass "$uri" postgresql "${storage[@]}"
    postgres_lines=("${lines[@]}")
}

#  The JSON lines given, comma-separated, one a line
s_json_lines () {
    local separator="" line
    for line in "$@"; do
        printf '%s\n%s' "$separator" "$line"
        separator=","
    done
    printf '\n'
}

#  --------------------------------------------------------------------------

case "${1:-}" in
    -h|--help) sed -n '2,45s/^# \{0,1\}//p' "$0"; exit 0 ;;
    "") ;;
    *) s_say "usage: scripts/bench.sh (settings in the environment, see --help)"; exit 2 ;;
esac
for program in groupchat-broker groupchat-gateway groupchat-admin groupchat-bench; do
    [ -x "$bin/$program" ] || { s_say "$bin/$program is missing: run make first"; exit 1; }
done

trap 's_cleanup; exit 1' INT TERM HUP
work=$(mktemp -d /tmp/groupchat-bench.XXXXXX)
#  With TLS, one self-signed certificate for 127.0.0.1 serves both
#  gateways, and the bench trusts exactly it
tls_flags=()
ca_flags=()
if [ "$tls" = 1 ]; then
    if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
            -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
            -keyout "$work/tls.key" -out "$work/tls.pem" >"$work/openssl.log" 2>&1; then
        s_say "cannot make a certificate: $(cat "$work/openssl.log")"
        s_cleanup
        exit 1
    fi
    tls_flags=(--tls-cert "$work/tls.pem" --tls-key "$work/tls.key")
    ca_flags=(--ca "$work/tls.pem")
    scheme=wss
fi

#  With CURVE, throwaway keys as make run makes them
broker_keys=()
gateway_keys=()
admin_keys=()
if [ "$curve" = 1 ]; then
    if ! "$bin/groupchat-admin" keys init "$work/keys" >"$work/keys.log" 2>&1; then
        s_say "cannot make the keys: $(cat "$work/keys.log")"
        s_cleanup
        exit 1
    fi
    broker_keys=(--keys "$work/keys/broker")
    gateway_keys=(--keys "$work/keys/gateway")
    admin_keys=(--keys "$work/keys/admin")
fi

started=$SECONDS
for db in $dbs; do
    case "$db" in
        sqlite)     s_pass "$work/bench.db" sqlite $set_
                    sqlite_lines=("${lines[@]}") ;;
        postgresql) s_postgres_pass ;;
        *)          s_say "no database $db"; failed=1 ;;
    esac
done
s_cleanup
trap - INT TERM HUP

mkdir -p "$(dirname "$out")"
{
    printf '{"commit":"%s","date":"%s","machine":%s,"transport":"%s","seconds":%d,"passed":%s,"scenarios":[' \
        "$(s_commit)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(s_machine)" "$scheme" \
        "$((SECONDS - started))" "$([ "$failed" = 0 ] && echo true || echo false)"
    s_json_lines "${sqlite_lines[@]}"
    printf ']'
    if [ -n "$postgres_settings" ]; then
        printf ',"postgresql":{"settings":%s,"scenarios":[' "$postgres_settings"
        s_json_lines "${postgres_lines[@]}"
        printf ']}'
    fi
    printf '}\n'
} >"$out"

echo
s_targets "$out" || echo "results in $out"

#  Failover runs brokers of its own (two on one database, a file, or a
#  PostgreSQL server of its own): after the rest, whose broker and
#  gateways are stopped by now
for db in $dbs; do
    echo
    s_say "failover on $db: two brokers on one database, the serving one SIGKILLed 20 times"
    case "$db" in
        sqlite)     /usr/bin/python3 "$root/bench/failover.py" --bin "$bin" --rounds 20 ;;
        postgresql) /usr/bin/python3 "$root/bench/failover.py" --bin "$bin" --rounds 20 --postgres ;;
    esac || failed=1
done
exit "$failed"
