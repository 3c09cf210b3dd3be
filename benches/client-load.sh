#!/usr/bin/env bash
# Client load comparison: wego-hertz's HTTP client against hyper-util's
# legacy client, both driving the same wego server.
#
# One http-hello server (wego's hello server, one per-core worker) runs
# pinned to CPU $SERVER_CPU for the whole run; the load generator
# (benches/peers/http-client, `http-client-load`) runs pinned to CPU
# $CLIENT_CPU with $THREADS worker threads and $CONCURRENCY request loops
# doing `GET /plaintext` and reading each body to its end. Both clients
# run on the same wego runtime (tokio's work-stealing scheduler) and are
# built with the root workspace's release profile. In each of ROUNDS
# rounds every (protocol, client) cell runs once for DURATION seconds, in
# an order rotated per round, so slow drifts of the machine hit both
# clients alike.
#
# Reported: medians over the rounds of requests/s and of the client's own
# CPU time per request (getrusage user+system over the timed window ÷
# requests), and the medians of the per-round ratios wego ÷ hyper.
# HTTP/1.1 (pooled keep-alive connections, one request in flight per
# connection) and HTTP/2 by prior knowledge (h2c: both clients multiplex
# onto their connections).
#
# Usage: benches/client-load.sh              (ROUNDS=5 DURATION=10)
#        ROUNDS=1 DURATION=1 benches/client-load.sh   (a smoke test)
#        PROTOS=h1 CONCURRENCY=10 benches/client-load.sh
# Run it only on a quiet machine (the lead's /tmp/quiet.go), under
# `flock /tmp/bench.lock`.
# Output: a markdown table on stdout; raw rows in $OUT (default
# target/client-load.tsv).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-100}
THREADS=${THREADS:-1}
PROTOS=${PROTOS:-"h1 h2"}
CLIENTS=${CLIENTS:-"wego hyper"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-18180}
OUT=${OUT:-$ROOT/target/client-load.tsv}
ulimit -n 65536 2>/dev/null || ulimit -n 4096

echo "building http-hello and the client load generator (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p wego-hertz --example http-hello)
(cd "$ROOT/benches/peers/http-client" && cargo build --release -q)
SERVER_BIN=$ROOT/target/release/examples/http-hello
LOAD_BIN=$ROOT/benches/peers/http-client/target/release/http-client-load

taskset -c "$SERVER_CPU" "$SERVER_BIN" --port "$PORT" --threads 1 >/dev/null 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$PORT/plaintext" >/dev/null 2>&1; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "http-hello exited" >&2; exit 1; }
    sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/plaintext" >/dev/null || { echo "http-hello did not start" >&2; exit 1; }

mkdir -p "$(dirname "$OUT")"
printf 'round\tproto\tclient\trps\tcpu_us_per_req\terrors\n' > "$OUT"
read -r -a clients <<< "$CLIENTS"
for round in $(seq 1 "$ROUNDS"); do
    # Rotate the client order each round.
    shift_by=$(( (round - 1) % ${#clients[@]} ))
    order=("${clients[@]:$shift_by}" "${clients[@]:0:$shift_by}")
    for proto in $PROTOS; do
        flag=()
        [ "$proto" = h2 ] && flag=(--http2)
        for client in "${order[@]}"; do
            line=$(taskset -c "$CLIENT_CPU" "$LOAD_BIN" --client "$client" "${flag[@]}" \
                --concurrency "$CONCURRENCY" --duration "$DURATION" --threads "$THREADS" \
                --url "http://127.0.0.1:$PORT/plaintext")
            echo "round $round: $line" >&2
            rps=$(sed -n 's/.* rps=\([^ ]*\).*/\1/p' <<< "$line")
            cpu=$(sed -n 's/.* cpu_us_per_req=\([^ ]*\).*/\1/p' <<< "$line")
            errors=$(sed -n 's/.* errors=\([^ ]*\).*/\1/p' <<< "$line")
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$proto" "$client" "$rps" "$cpu" "$errors" >> "$OUT"
        done
    done
done

python3 - "$OUT" "$CONCURRENCY" <<'PY'
import csv, statistics, sys
from collections import defaultdict
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
conc = sys.argv[2]
cells = defaultdict(list)
for r in rows:
    cells[(r["proto"], r["client"])].append(r)
print(f"| proto | client | req/s (median) | client CPU µs/req (median) | errors |")
print("|---|---|---:|---:|---:|")
for (proto, client), v in sorted(cells.items()):
    rps = statistics.median(float(x["rps"]) for x in v)
    cpu = statistics.median(float(x["cpu_us_per_req"]) for x in v)
    errs = sum(int(x["errors"]) for x in v)
    print(f"| {proto} | {client} | {rps:.0f} | {cpu:.2f} | {errs} |")
print()
print(f"| proto | concurrency | wego ÷ hyper req/s | wego ÷ hyper CPU/req | rounds |")
print("|---|---:|---:|---:|---:|")
by_round = defaultdict(dict)
for r in rows:
    by_round[(r["proto"], r["round"])][r["client"]] = r
for proto in sorted({r["proto"] for r in rows}):
    rr, cr = [], []
    for (p, _), clients in by_round.items():
        if p == proto and "wego" in clients and "hyper" in clients:
            w, h = clients["wego"], clients["hyper"]
            if float(h["rps"]) > 0:
                rr.append(float(w["rps"]) / float(h["rps"]))
            if float(h["cpu_us_per_req"]) > 0:
                cr.append(float(w["cpu_us_per_req"]) / float(h["cpu_us_per_req"]))
    fmt = lambda xs: f"{statistics.median(xs):.2f}" if xs else "-"
    print(f"| {proto} | {conc} | {fmt(rr)} | {fmt(cr)} | {len(rr)} |")
PY
