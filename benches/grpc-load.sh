#!/usr/bin/env bash
# gRPC load comparison: wego against tonic (client and server), unary echo
# with 1 KiB messages at concurrency 100 and 1000 and bidirectional
# streaming ping-pong, plus Kitex Protobuf over TTHeader. Servers are pinned
# to core 0 and load generators to core 1 (taskset), one thread each.
# wego-tokio and wego-polling are the wego server on wego's own runtime
# (per-core) on netpoll's tokio and polling backends; wego and tonic run on
# tokio's multi-thread runtime, one worker each.
#
# TLS=1 runs every gRPC call over TLS (ALPN h2): a CA and a localhost leaf
# are made for the run with openssl, the servers get --tls-cert/--tls-key
# (wego through netpoll's TlsAcceptor, tonic through its tls-ring feature,
# both rustls with ring) and the clients --tls-ca. Defaults then: unary
# only, SERVERS="wego tonic", no charts.
#
#   benches/grpc-load.sh [seconds-per-run]   (default 10)
#   SERVERS="wego-tokio wego-polling" CLIENTS=wego BIDI=0 benches/grpc-load.sh 5
#   TLS=1 benches/grpc-load.sh 10
#   BASE_BIN=/tmp/old/grpc-bench SERVERS="wego wego-base" CLIENTS=wego benches/grpc-load.sh
#
# wego-base is the wego server of another grpc-bench build (BASE_BIN, e.g.
# of an older commit), driven by this build's clients: a before/after
# comparison in one run. ROUNDS=N repeats every run N times, servers
# alternating, so that slow drifts of the machine hit all of them alike.
#
# Results go to stdout and benches/results/grpc[-tls]-<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/peers/grpc"
SECS="${1:-10}"
TLS=${TLS:-0}
KIND=grpc
SERVER_TLS=()
CLIENT_TLS=()
cargo build --release --quiet
BIN="../target/release/grpc-bench"
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
if [ "$TLS" = 1 ]; then
    KIND=grpc-tls
    SERVERS=${SERVERS:-"wego tonic"}
    BIDI=${BIDI:-0}
    CHARTS=${CHARTS:-0}
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=wego bench ca" -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=localhost" -keyout "$TMP/leaf.key" -out "$TMP/leaf.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$TMP/leaf.ext"
    openssl x509 -req -in "$TMP/leaf.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
        -CAcreateserial -days 2 -extfile "$TMP/leaf.ext" -out "$TMP/leaf.pem" 2>/dev/null
    SERVER_TLS=(--tls-cert "$TMP/leaf.pem" --tls-key "$TMP/leaf.key")
    CLIENT_TLS=(--tls-ca "$TMP/ca.pem")
fi
OUT_DIR="../../results"
mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/$KIND-$(date -u +%Y%m%dT%H%M%S).txt"
PIN_SERVER="taskset -c 0"
PIN_CLIENT="taskset -c 1"
command -v taskset >/dev/null || { PIN_SERVER=""; PIN_CLIENT=""; }

start_server() { # impl -> sets SERVER_PID and ADDR
    local log bin=$BIN imp=$1
    if [ "$imp" = wego-base ]; then
        bin=${BASE_BIN:?wego-base needs BASE_BIN, another build of grpc-bench}
        imp=wego
    fi
    log=$(mktemp)
    $PIN_SERVER "$bin" server --impl "$imp" --port 0 "${SERVER_TLS[@]}" >"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        ADDR=$(sed -n 's/^listening //p' "$log")
        [ -n "$ADDR" ] && break
        sleep 0.05
    done
    rm -f "$log"
    [ -n "$ADDR" ] || { echo "server $1 did not start" >&2; exit 1; }
}

TICKS=$(getconf CLK_TCK)
cpu_ticks() { # pid -> utime+stime in clock ticks
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# Besides QPS and latency, each line has the server's CPU time per request
# (per message for bidi): utime+stime over the run divided by the count,
# which stays comparable when the machine is busy.
run() { # server-impl client-impl mode concurrency [conns]
    start_server "$1"
    local line before after reqs cpu_us
    before=$(cpu_ticks "$SERVER_PID")
    line=$($PIN_CLIENT "$BIN" load --impl "$2" --addr "$ADDR" --mode "$3" \
        --concurrency "$4" --conns "${5:-1}" --duration "$SECS" --size 1024 "${CLIENT_TLS[@]}")
    after=$(cpu_ticks "$SERVER_PID")
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    reqs=$(echo "$line" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
    cpu_us=$(awk -v a="$after" -v b="$before" -v t="$TICKS" -v r="$reqs" \
        'BEGIN { if (r > 0) printf "%.2f", (a - b) * 1e6 / t / r; else print "n/a" }')
    echo "server=$1 $line server_cpu_us_per_req=$cpu_us" | tee -a "$OUT"
}

SERVERS=${SERVERS:-"wego wego-polling tonic"}
CLIENTS=${CLIENTS:-"wego tonic"}
for _ in $(seq "${ROUNDS:-1}"); do
    for c in 100 1000; do
        for s in $SERVERS; do
            for cl in $CLIENTS; do
                run "$s" "$cl" unary "$c"
            done
        done
    done
    if [ "${BIDI:-1}" = 1 ]; then
        for s in $SERVERS; do
            for cl in $CLIENTS; do
                run "$s" "$cl" bidi 100
            done
        done
        [ "$TLS" = 1 ] || run kitex-pb kitex-pb unary 100
    fi
done
# Charts beside the numbers in docs/benchmarks.md: docs/charts/grpc-*.svg
# (from the root, so the root workspace's target dir and config apply;
# CHARTS=0 skips them, e.g. for a run of only some servers or clients).
[ "${CHARTS:-1}" = 1 ] && (OUT_ABS="$PWD/$OUT" && cd ../../.. && cargo run -q -p wego-benches --bin bench-chart -- grpc "$OUT_ABS" docs/charts)
echo "results: $OUT"
