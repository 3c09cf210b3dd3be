#!/usr/bin/env bash
# User-space instructions per request of wego-hertz and its peers, counted
# by valgrind's callgrind while wrk drives each server: a figure that,
# unlike QPS or CPU time, does not move with a shared host's noise.
#
# Each server (one worker thread) runs under callgrind on CPU $SERVER_CPU;
# wrk (one thread) on CPU $WRK_CPU warms it for $WARMUP s (3 by default), callgrind's counters
# are zeroed, wrk runs $DURATION s more, and the counters are dumped:
# instructions ÷ requests served in that window (wrk's timeout is 60 s: a
# slowed server must not have its connections timed out and re-opened). Kernel time is not
# counted, and valgrind slows a server about 50×, so per-request costs that
# depend on batching (epoll wake-ups shared by many requests) weigh a
# little more than at full speed.
#
# Usage: benches/http-instructions.sh            (plaintext at 100 connections)
#        SERVERS="wego axum" CONNS=1000 ENDPOINT=echo benches/http-instructions.sh
#        SERVERS="wego wego-raw hyper floor" benches/http-instructions.sh
#        TLS=1 SERVERS="wego wego-polling hyper" benches/http-instructions.sh
# (TLS=1: HTTPS, rustls with ring on each server; the count is of
# keep-alive requests over TLS, the handshakes taken out, see below)
# (wego-raw: http-raw, wego without router or content type; floor: the
# runtime and system calls without HTTP, `GET /plaintext` only;
# epoll-floor: the same answers from a bare epoll loop with no runtime;
# api-floor: that loop doing only the per-request work hertz's API obliges;
# netpoll-floor[-tokio]: the floor's answers on wego-netpoll's runtime;
# api-floor-netpoll[-tokio]: api-floor's answers on wego-netpoll's runtime;
# wego-polling, wego-polling-eager: http-hello on netpoll's polling backend;
# wego-bare, wego-polling-bare: without the `server` field, as http-load.sh
# runs them)
# Keep the call-graph files for callgrind_annotate: KEEP_DIR=/tmp/cg
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERVERS=${SERVERS:-"wego hyper axum actix"}
CONNS=${CONNS:-100}
ENDPOINT=${ENDPOINT:-plaintext}
DURATION=${DURATION:-10}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
PORT=${PORT:-18180}
TLS=${TLS:-0}

for tool in wrk valgrind callgrind_control callgrind_annotate; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install wrk valgrind)" >&2; exit 1; }
done

# shellcheck source=benches/http-common.sh
. "$ROOT/benches/http-common.sh"
script=()
[ "$ENDPOINT" = echo ] && script=(-s "$TMP/echo.lua")
SCHEME=http
tls=()
if [ "$TLS" = 1 ]; then
    SCHEME=https
    tls=(--tls-cert "$TLS_CERT" --tls-key "$TLS_KEY")
fi
WARMUP=${WARMUP:-3}

# Zeroes the server's counters, drives it for $1 seconds and dumps them:
# sets COUNTED to "<requests> <instructions> <dump file>".
count_window() {
    callgrind_control -z "$pid" >/dev/null 2>&1
    taskset -c "$WRK_CPU" wrk -t1 -c"$CONNS" --timeout 60s -d"$1s" "${script[@]}" "$SCHEME://127.0.0.1:$PORT/$ENDPOINT" > "$TMP/wrk.txt"
    callgrind_control -d "$pid" >/dev/null 2>&1
    sleep 1
    local requests dump ir
    requests=$(awk '/requests in/ {print $1}' "$TMP/wrk.txt")
    # The newest of this server's dumps, named exactly, as one server's
    # name can begin another's (wego, wego-polling).
    dump=$(ls -t "$out".* 2>/dev/null | head -1)
    ir=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    COUNTED="$requests $ir $dump"
}

echo "| server | endpoint | conns | requests counted | instructions per request |"
echo "|---|---|---|---|---|"
for server in $SERVERS; do
    out=$TMP/cg.$server
    case $server in
        wego) cmd=("$WEGO_BIN" --port "$PORT" --threads 1) ;;
        wego-raw) cmd=("$WEGO_RAW_BIN" --port "$PORT" --threads 1) ;;
        wego-polling) cmd=("$WEGO_BIN" --port "$PORT" --threads 1 --backend polling) ;;
        wego-polling-eager) cmd=("$WEGO_BIN" --port "$PORT" --threads 1 --backend polling --eager-reads on) ;;
        # The load runs' servers: no `server` field, so that each response
        # is byte for byte the peers'.
        wego-bare) cmd=("$WEGO_BIN" --port "$PORT" --threads 1 --server-header off) ;;
        wego-polling-bare) cmd=("$WEGO_BIN" --port "$PORT" --threads 1 --backend polling --server-header off) ;;
        *) cmd=("$PEER_BIN" "$server" --port "$PORT" --threads 1) ;;
    esac
    taskset -c "$SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$out" "${cmd[@]}" "${tls[@]}" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 150); do
        curl -sk -o /dev/null "$SCHEME://127.0.0.1:$PORT/plaintext" && break
        sleep 0.2
    done
    taskset -c "$WRK_CPU" wrk -t1 -c"$CONNS" --timeout 60s -d"${WARMUP}s" "${script[@]}" "$SCHEME://127.0.0.1:$PORT/$ENDPOINT" >/dev/null
    if [ "$TLS" = 1 ]; then
        # Each wrk run opens its connections anew, and a TLS handshake
        # costs as much as hundreds of requests: two windows, a short and a
        # long one, each with the same $CONNS handshakes, and the request
        # cost is the difference between them.
        count_window $((DURATION / 3 > 1 ? DURATION / 3 : 2))
        read -r requests0 ir0 dump <<<"$COUNTED"
        count_window "$DURATION"
        read -r requests1 ir1 dump <<<"$COUNTED"
        requests=$((requests1 - requests0))
        ir=$((ir1 - ir0))
    else
        count_window "$DURATION"
        read -r requests ir dump <<<"$COUNTED"
    fi
    echo "| $server | $ENDPOINT | $CONNS | $requests | $((ir / requests)) |"
    if [ -n "${KEEP_DIR:-}" ]; then
        mkdir -p "$KEEP_DIR"; cp "$dump" "$KEEP_DIR/callgrind.$server.out"
    fi
    kill "$pid"; wait "$pid" 2>/dev/null || true
    PORT=$((PORT + 1))
done
