#!/usr/bin/env bash
# Reliability figures for HTTP/1.1 (wego-hertz's http-hello), Thrift
# (wego-kitex's thrift-echo) and gRPC (grpc-echo): 10,000 idle connections,
# slow clients beside a normal load, graceful shutdown under load, and a
# soak. The load tool is benches/src/bin/rel-load.rs. Servers are pinned to
# core 0 and the tool to core 1 (taskset); every run prints the load
# average and the hypervisor's steal over it, and `vmstat 1` runs beside
# the whole script. See docs/reliability.md for the figures.
#
#   benches/reliability.sh [conns|slow|shutdown|soak ...]   (default: all four)
#
# Environment: PROTOS (default "http thrift thrift-framed grpc"; thrift is
# TTHeader, thrift-framed the Framed transport, both against thrift-echo),
# SOAK_PROTOS ("http thrift grpc"), SOAK_SECS (600),
# SOAK_RATE (2000), SHUTDOWN_RATE (5000), SLOW_DEADLINE (5: the header read
# timeout / read timeout the servers get for the slow-client figure).
# Results go to benches/results/reliability-<date>.txt (and -vmstat.log).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
FIGURES=("$@")
[ ${#FIGURES[@]} -gt 0 ] || FIGURES=(conns slow shutdown soak)
PROTOS=${PROTOS:-"http thrift thrift-framed grpc"}
SOAK_PROTOS=${SOAK_PROTOS:-"http thrift grpc"}
SOAK_SECS=${SOAK_SECS:-600}
SOAK_RATE=${SOAK_RATE:-2000}
SHUTDOWN_RATE=${SHUTDOWN_RATE:-5000}
SLOW_DEADLINE=${SLOW_DEADLINE:-5}

echo "building the example servers and rel-load (release)..." >&2
cargo build --release -q -p wego-hertz -p wego-kitex \
    --example http-hello --example thrift-echo --example grpc-echo
cargo build --release -q -p wego-benches --bin rel-load
EX=$ROOT/target/release/examples
LOAD=$ROOT/target/release/rel-load

# 10,000 connections need as many descriptors on each side; the soft limit
# goes to the hard one (which must be above 10,300).
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 10300 ]; then
    echo "open-file limit $(ulimit -n) is below 10,300; raise the hard limit" >&2
    exit 1
fi

mkdir -p benches/results
STAMP=$(date -u +%Y%m%dT%H%M%S)
OUT=benches/results/reliability-$STAMP.txt
vmstat -t 1 >"benches/results/reliability-$STAMP-vmstat.log" 2>&1 &
VMSTAT=$!
SERVERS=()
cleanup() {
    for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null || true; done
    kill "$VMSTAT" 2>/dev/null || true
}
trap cleanup EXIT

{
    echo "# reliability run $STAMP, $(nproc) cores, $(uname -r)"
    echo "# nofile=$(ulimit -n) somaxconn=$(sysctl -n net.core.somaxconn)" \
        "tcp_max_syn_backlog=$(sysctl -n net.ipv4.tcp_max_syn_backlog)" \
        "ip_local_port_range=$(sysctl -n net.ipv4.ip_local_port_range | tr '\t' -)" \
        "tcp_tw_reuse=$(sysctl -n net.ipv4.tcp_tw_reuse) listener_backlog=1024"
} | tee "$OUT"

start_server() { # proto port [flags...] -> sets SERVER_PID
    local proto=$1 port=$2
    shift 2
    case $proto in
        http) taskset -c 0 "$EX/http-hello" --threads 1 --port "$port" "$@" 2>>"$OUT.servers.log" & ;;
        thrift*) taskset -c 0 "$EX/thrift-echo" server --port "$port" "$@" 2>>"$OUT.servers.log" & ;;
        grpc) taskset -c 0 "$EX/grpc-echo" server --port "$port" "$@" >>"$OUT.servers.log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    SERVERS+=("$SERVER_PID")
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "$proto server on $port did not start" >&2
    exit 1
}

stop_server() { # pid
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

run() { # figure proto -- rel-load arguments
    local figure=$1 proto=$2
    shift 2
    echo "## $figure $proto: rel-load $*" | tee -a "$OUT"
    taskset -c 1 "$LOAD" "$@" | sed -u "s/^/$figure $proto /" | tee -a "$OUT"
}

for figure in "${FIGURES[@]}"; do
    protos=$PROTOS
    [ "$figure" = soak ] && protos=$SOAK_PROTOS
    for proto in $protos; do
        case $figure in
        conns)
            # The Thrift server's default connection limit is 10,000: raised
            # so that the probes beside the 10,000 idle connections get in.
            extra=()
            [ "${proto%-framed}" = thrift ] && extra=(--max-connections 20000)
            start_server "$proto" 19080 "${extra[@]}"
            run conns "$proto" conns --proto "$proto" \
                --addr 127.0.0.1:19080 --pid "$SERVER_PID" --conns 10000 --probes 200
            stop_server "$SERVER_PID"
            ;;
        slow)
            case $proto in
                http) extra=(--header-read-timeout "$SLOW_DEADLINE"); deadline=$SLOW_DEADLINE ;;
                thrift*) extra=(--read-timeout "$SLOW_DEADLINE"); deadline=$SLOW_DEADLINE ;;
                grpc) extra=(); deadline=0 ;; # no setting bounds the handshake
            esac
            start_server "$proto" 19081 "${extra[@]}"
            run slow "$proto" slow --proto "$proto" --addr 127.0.0.1:19081 \
                --slow 1000 --normal 50 --baseline-secs 15 --loaded-secs 40 --byte-ms 1000 \
                --deadline-secs "$deadline"
            stop_server "$SERVER_PID"
            ;;
        shutdown)
            start_server "$proto" 19082 --grace 5
            first=$SERVER_PID
            start_server "$proto" 19083 --grace 5
            second=$SERVER_PID
            run shutdown "$proto" shutdown --proto "$proto" \
                --addrs 127.0.0.1:19082,127.0.0.1:19083 --stop-pid "$first" \
                --rate "$SHUTDOWN_RATE" --secs 20 --stop-at 6
            wait "$first" 2>/dev/null || true
            stop_server "$second"
            ;;
        soak)
            start_server "$proto" 19084
            run soak "$proto" soak --proto "$proto" --addr 127.0.0.1:19084 \
                --pid "$SERVER_PID" --rate "$SOAK_RATE" --secs "$SOAK_SECS" --conns 50
            stop_server "$SERVER_PID"
            ;;
        *) echo "unknown figure $figure" >&2; exit 1 ;;
        esac
    done
done
echo "results: $OUT"
