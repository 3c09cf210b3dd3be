#!/usr/bin/env bash
# Thrift load comparison: wego-kitex against volo-thrift, echo with 1 KiB
# messages at concurrency 100 and 1000, every server/client pair, plus the
# lean generator ("raw": pre-encoded TTHeader requests, one connection per
# caller) against both servers, with server CPU per request. Servers are
# pinned to core 0 and load generators to core 1 (taskset), one thread each.
# wego-polling is the wego server on the polling backend.
#
#   benches/thrift-load.sh [seconds-per-run]   (default 10)
#   SERVERS="wego wego-polling" CLIENTS=raw benches/thrift-load.sh 5
#
# Results go to stdout and benches/results/thrift-<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/peers/thrift"
SECS="${1:-10}"
CARGO_TARGET_DIR=../target cargo build --release --quiet
BIN="../target/release/thrift-bench"
OUT_DIR="../../results"
mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/thrift-$(date -u +%Y%m%dT%H%M%S).txt"
PIN_SERVER="taskset -c 0"
PIN_CLIENT="taskset -c 1"
command -v taskset >/dev/null || { PIN_SERVER=""; PIN_CLIENT=""; }
TICKS=$(getconf CLK_TCK)

start_server() { # impl -> sets SERVER_PID and ADDR
    local log
    log=$(mktemp)
    $PIN_SERVER "$BIN" server --impl "$1" --port 0 --threads 1 >"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        ADDR=$(sed -n 's/^listening //p' "$log")
        [ -n "$ADDR" ] && break
        sleep 0.05
    done
    rm -f "$log"
    [ -n "$ADDR" ] || { echo "server $1 did not start" >&2; exit 1; }
    sleep 0.3 # volo binds after printing
}

cpu_ticks() { # pid -> utime+stime in clock ticks
    awk '{print $14 + $15}' "/proc/$1/stat"
}

run() { # server-impl client-impl concurrency
    start_server "$1"
    local before after line reqs cpu_us
    before=$(cpu_ticks "$SERVER_PID")
    line=$($PIN_CLIENT "$BIN" load --impl "$2" --addr "$ADDR" --concurrency "$3" \
        --duration "$SECS" --size 1024 --threads 1)
    after=$(cpu_ticks "$SERVER_PID")
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    reqs=$(echo "$line" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
    cpu_us=$(awk -v a="$after" -v b="$before" -v t="$TICKS" -v r="$reqs" \
        'BEGIN { if (r > 0) printf "%.2f", (a - b) * 1e6 / t / r; else print "n/a" }')
    echo "server=$1 client=$line server_cpu_us_per_req=$cpu_us" | tee -a "$OUT"
}

SERVERS=${SERVERS:-"wego wego-polling volo"}
CLIENTS=${CLIENTS:-"wego volo raw"}
for c in 100 1000; do
    for s in $SERVERS; do
        for cl in $CLIENTS; do
            run "$s" "$cl" "$c"
        done
    done
done
# Charts beside the numbers in docs/benchmarks.md: docs/charts/thrift-*.svg
# (from the root, so the root workspace's target dir and config apply;
# CHARTS=0 skips them, e.g. for a run of only some servers or clients).
[ "${CHARTS:-1}" = 1 ] && (OUT_ABS="$PWD/$OUT" && cd ../../.. && cargo run -q -p wego-benches --bin bench-chart -- thrift "$OUT_ABS" docs/charts)
echo "results: $OUT"
