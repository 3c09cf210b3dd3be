#!/usr/bin/env bash
# netpoll's two backends, tokio and polling, in one run: the same wego
# servers on each, back to back, and the polling backend's two options.
#
#  1. HTTP (http-load.sh, wrk): GET /plaintext and POST /echo (1 KiB) at
#     100 and 1,000 connections; servers wego (tokio backend, per-core: the
#     tokio backend's faster flavour, docs/netpoll.md), wego-polling-lazy
#     and wego-polling-eager (polling backend with eager reads off / on).
#  2. Per-loop listeners (http-load.sh): the polling backend with two loops
#     on both CPUs, one listening socket (wego-polling-2t) against one
#     SO_REUSEPORT socket per loop (wego-polling-2t-per-loop); plaintext and
#     close (a new connection per request: the accept path) at 100 and
#     1,000 connections. The load generator shares the CPUs.
#  3. Thrift (thrift-load.sh): echo 1 KiB with the lean replay client at 100
#     and 1,000 connections, TTHeader and Framed; servers wego (tokio) and
#     wego-polling (the polling backend's default reads). REPEAT runs.
#  4. gRPC (grpc-load.sh): unary 1 KiB at 100 and 1,000 concurrent calls from
#     wego's client on one connection; servers wego-tokio and wego-polling
#     (both on wego's per-core runtime). REPEAT runs.
#  5. Memory per idle connection (idle-rss.sh): 10,000 idle keep-alive
#     connections on each backend.
#
# Every server has one worker thread pinned to CPU 0 and its load generator
# is pinned to CPU 1 (except 2). The end is a summary of polling ÷ tokio,
# eager ÷ lazy and per-loop ÷ one acceptor: medians of per-round ratios for
# HTTP, ratios of the medians over REPEAT runs for Thrift and gRPC.
#
# Usage: benches/backends-load.sh         (ROUNDS=3 DURATION=10 REPEAT=3)
#        STEPS="http grpc" ROUNDS=1 DURATION=2 REPEAT=1 benches/backends-load.sh
# Output: each script's own results in benches/results/, and the summary on
# stdout and in benches/results/backends-<date>.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/benches
export ROUNDS=${ROUNDS:-3}
export DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
STEPS=${STEPS:-"http per-loop thrift grpc idle"}
THRIFT_FRAMINGS=${THRIFT_FRAMINGS:-"ttheader framed"}
IDLE_N=${IDLE_N:-10000}
STAMP=$(date -u +%Y%m%dT%H%M%S)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SUMMARY=$B/results/backends-$STAMP.md
mkdir -p "$B/results"

has() { [[ " $STEPS " == *" $1 "* ]]; }

if has http; then
    echo "== HTTP: tokio vs polling (lazy, eager)" >&2
    SERVERS="wego wego-polling-lazy wego-polling-eager" ENDPOINTS="plaintext echo" \
        CONNS="100 1000" CHARTS=0 OUT="$WORK/http.tsv" KEEP=0 "$B/http-load.sh" > "$WORK/http.md"
    cp "$WORK/http.tsv" "$B/results/backends-http-$STAMP.tsv"
fi
if has per-loop; then
    echo "== HTTP: per-loop listeners vs one acceptor (2 loops)" >&2
    SERVERS="wego-polling-2t wego-polling-2t-per-loop" ENDPOINTS="plaintext close" \
        CONNS="100 1000" SERVER_CPU=0,1 WRK_CPU=0,1 CHARTS=0 OUT="$WORK/per-loop.tsv" KEEP=0 \
        "$B/http-load.sh" > "$WORK/per-loop.md"
    cp "$WORK/per-loop.tsv" "$B/results/backends-per-loop-$STAMP.tsv"
fi
if has thrift; then
    echo "== Thrift: tokio vs polling, $REPEAT runs" >&2
    : > "$WORK/thrift.txt"
    for _ in $(seq 1 "$REPEAT"); do
        SERVERS="wego wego-polling" FRAMINGS="$THRIFT_FRAMINGS" \
            CONNS="100 1000" CHARTS=0 "$B/thrift-load.sh" "$DURATION" \
            | grep '^server=' >> "$WORK/thrift.txt"
    done
    cp "$WORK/thrift.txt" "$B/results/backends-thrift-$STAMP.txt"
fi
if has grpc; then
    echo "== gRPC: tokio vs polling, $REPEAT runs" >&2
    : > "$WORK/grpc.txt"
    for _ in $(seq 1 "$REPEAT"); do
        SERVERS="wego-tokio wego-polling" CLIENTS=wego BIDI=0 CHARTS=0 \
            "$B/grpc-load.sh" "$DURATION" | grep '^server=' >> "$WORK/grpc.txt"
    done
    cp "$WORK/grpc.txt" "$B/results/backends-grpc-$STAMP.txt"
fi
if has idle; then
    echo "== idle connections: $IDLE_N per backend" >&2
    N=$IDLE_N bash "$B/idle-rss.sh" > "$WORK/idle.md"
fi

python3 - "$WORK" <<'PY' | tee "$SUMMARY"
import csv, os, re, statistics, sys
work = sys.argv[1]

def med(xs):
    return statistics.median(xs) if xs else float("nan")

def paired(path, pairs, title):
    """Median over rounds of ours ÷ base, per (endpoint, conns)."""
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    cells = {}
    for r in rows:
        cells.setdefault((r["endpoint"], int(r["conns"])), {}).setdefault(r["server"], {})[r["round"]] = r
    print(f"### {title}\n")
    print("| endpoint | conns | ratio | req/s | p99 | CPU per request | rounds |")
    print("|---|---|---|---|---|---|---|")
    for (endpoint, conns), servers in sorted(cells.items()):
        for ours, base in pairs:
            if ours not in servers or base not in servers:
                continue
            rounds = sorted(set(servers[ours]) & set(servers[base]))
            def ratio(key):
                v = [float(servers[ours][k][key]) / float(servers[base][k][key])
                     for k in rounds if float(servers[base][k][key]) > 0]
                return f"{med(v):.2f}" if v else "-"
            print(f"| {endpoint} | {conns} | {ours} ÷ {base} | {ratio('rps')} | {ratio('p99_ms')} | {ratio('cpu_us_per_req')} | {len(rounds)} |")
    print()
    print("Medians per server:\n")
    print("| endpoint | conns | server | req/s | p99 ms | CPU µs/req |")
    print("|---|---|---|---|---|---|")
    for (endpoint, conns), servers in sorted(cells.items()):
        for s, by_round in sorted(servers.items()):
            rs = by_round.values()
            print(f"| {endpoint} | {conns} | {s} | {med([float(x['rps']) for x in rs]):,.0f} | "
                  f"{med([float(x['p99_ms']) for x in rs]):.2f} | {med([float(x['cpu_us_per_req']) for x in rs]):.2f} |")
    print()

def kv(line):
    return dict(re.findall(r"(\w+)=(\S+)", line))

def runs(path, key_fields, title, pairs):
    """Medians over runs per server and cell, then ratios of the medians."""
    cells = {}
    for line in open(path):
        d = kv(line)
        if not d.get("requests") or d.get("server_cpu_us_per_req") in (None, "n/a"):
            continue
        key = tuple(d.get(f, "-") for f in key_fields)
        cells.setdefault(key, {}).setdefault(d["server"], []).append(
            (float(d["qps"]), float(d["p99_us"]) / 1000, float(d["server_cpu_us_per_req"])))
    print(f"### {title}\n")
    print("| " + " | ".join(key_fields) + " | server | runs | QPS | p99 ms | CPU µs/req |")
    print("|" + "---|" * (len(key_fields) + 5))
    for key, servers in sorted(cells.items()):
        for s, v in sorted(servers.items()):
            print("| " + " | ".join(key) + f" | {s} | {len(v)} | {med([x[0] for x in v]):,.0f} | "
                  f"{med([x[1] for x in v]):.2f} | {med([x[2] for x in v]):.2f} |")
    print()
    print("| " + " | ".join(key_fields) + " | ratio | QPS | p99 | CPU per request |")
    print("|" + "---|" * (len(key_fields) + 4))
    for key, servers in sorted(cells.items()):
        for ours, base in pairs:
            if ours not in servers or base not in servers:
                continue
            m = lambda s, i: med([x[i] for x in servers[s]])
            print("| " + " | ".join(key) + f" | {ours} ÷ {base} | {m(ours, 0) / m(base, 0):.2f} | "
                  f"{m(ours, 1) / m(base, 1):.2f} | {m(ours, 2) / m(base, 2):.2f} |")
    print()

print("## netpoll backends\n")
if os.path.exists(f"{work}/http.tsv"):
    paired(f"{work}/http.tsv",
           [("wego-polling-lazy", "wego"), ("wego-polling-eager", "wego"),
            ("wego-polling-eager", "wego-polling-lazy")],
           "HTTP/1.1 (wrk), polling ÷ tokio and eager ÷ lazy")
if os.path.exists(f"{work}/per-loop.tsv"):
    paired(f"{work}/per-loop.tsv", [("wego-polling-2t-per-loop", "wego-polling-2t")],
           "HTTP/1.1, two loops: per-loop listeners ÷ one acceptor")
if os.path.exists(f"{work}/thrift.txt"):
    runs(f"{work}/thrift.txt", ["client", "concurrency"], "Thrift echo 1 KiB, lean replay client",
         [("wego-polling", "wego")])
if os.path.exists(f"{work}/grpc.txt"):
    runs(f"{work}/grpc.txt", ["mode", "concurrency"], "gRPC unary 1 KiB, wego client",
         [("wego-polling", "wego-tokio")])
if os.path.exists(f"{work}/idle.md"):
    print("### Idle connections\n")
    print(open(f"{work}/idle.md").read())
PY
echo "summary: $SUMMARY" >&2
