#!/usr/bin/env bash
# Load comparison of wego-hertz against hyper 1.x, axum and actix-web with wrk.
#
# Each server runs with one worker thread pinned to CPU $SERVER_CPU; wrk runs
# with one thread pinned to CPU $WRK_CPU. In every round all servers run
# at once and every (endpoint, connections) cell measures them back to back
# (interleaved, in an order rotated per round), so slow drifts of the
# machine hit all servers alike; a measurement disturbed by hypervisor
# steal above STEAL_MAX% (default 3) is taken again, up to RETRIES times.
# Reported: medians over the rounds of requests/s and p99 latency, the ratio
# to the fastest peer, and the server's CPU time per request (utime+stime
# from /proc/PID/stat).
#
# Servers: wego (http-hello on the default per-core runtime), wego-ws
# (http-hello on tokio's work-stealing runtime, `--flavor work-stealing`),
# wego-polling (http-hello on the polling backend, `--backend polling`,
# with its default reads), wego-polling-eager and wego-polling-lazy (the
# polling backend with eager reads on and off), wego-raw (http-raw: the
# server without the router, answering as the hyper peer does, with no
# content type), hyper, axum, actix. wego-ws, wego-raw and the polling
# variants are not in the default list. wego-polling-2t and
# wego-polling-2t-per-loop run two loops, with one listening socket or one
# SO_REUSEPORT socket per loop (`--per-loop-listener`); give them two CPUs
# (SERVER_CPU=0,1 WRK_CPU=0,1). Endpoints: plaintext, echo (1 KiB POST),
# close (plaintext with `Connection: close`: one connection per request,
# which measures the accept path).
#
# Usage: benches/http-load.sh            (ROUNDS=5 DURATION=10 by default)
#        ROUNDS=3 DURATION=5 CONNS="100" benches/http-load.sh
#        SERVERS="wego wego-ws actix" CONNS=1000 benches/http-load.sh
#        SERVERS="wego wego-polling hyper" benches/http-load.sh
# Output: a markdown table on stdout; raw rows in $OUT (default
# target/http-load.tsv).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNS=${CONNS:-"100 1000"}
ENDPOINTS=${ENDPOINTS:-"plaintext echo"}
SERVERS=${SERVERS:-"wego hyper axum actix"}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
OUT=${OUT:-$ROOT/target/http-load.tsv}
PORT_BASE=${PORT_BASE:-18080}

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n 4096

# shellcheck source=benches/http-common.sh
. "$ROOT/benches/http-common.sh"

start_server() { # name port; sets SERVER_PID (no subshell: the EXIT trap must not fire)
    local name=$1 port=$2
    if [ "$name" = wego ]; then
        taskset -c "$SERVER_CPU" "$WEGO_BIN" --port "$port" --threads 1 --flavor per-core >/dev/null 2>&1 &
    elif [ "$name" = wego-ws ]; then
        taskset -c "$SERVER_CPU" "$WEGO_BIN" --port "$port" --threads 1 --flavor work-stealing >/dev/null 2>&1 &
    elif [ "$name" = wego-polling ]; then
        taskset -c "$SERVER_CPU" "$WEGO_BIN" --port "$port" --threads 1 --backend polling >/dev/null 2>&1 &
    elif [ "$name" = wego-polling-eager ]; then
        taskset -c "$SERVER_CPU" "$WEGO_BIN" --port "$port" --threads 1 --backend polling --eager-reads on >/dev/null 2>&1 &
    elif [ "$name" = wego-polling-lazy ]; then
        taskset -c "$SERVER_CPU" "$WEGO_BIN" --port "$port" --threads 1 --backend polling --eager-reads off >/dev/null 2>&1 &
    elif [ "$name" = wego-polling-2t ]; then
        taskset -c "$SERVER_CPU" "$WEGO_BIN" --port "$port" --threads 2 --backend polling >/dev/null 2>&1 &
    elif [ "$name" = wego-polling-2t-per-loop ]; then
        taskset -c "$SERVER_CPU" "$WEGO_BIN" --port "$port" --threads 2 --backend polling --per-loop-listener >/dev/null 2>&1 &
    elif [ "$name" = wego-raw ]; then
        taskset -c "$SERVER_CPU" "$WEGO_RAW_BIN" --port "$port" --threads 1 >/dev/null 2>&1 &
    else
        taskset -c "$SERVER_CPU" "$PEER_BIN" "$name" --port "$port" --threads 1 >/dev/null 2>&1 &
    fi
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$port/plaintext"; then
            return
        fi
        sleep 0.1
    done
    echo "server $name did not start" >&2; exit 1
}

cpu_ticks() { # pid -> utime+stime of the whole process
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# p99 from wrk --latency, in milliseconds.
p99_ms() {
    awk '$1 == "99%" {
        v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v);
        if (unit == "us") v = v / 1000; else if (unit == "s") v = v * 1000; else if (unit == "m") v = v * 60000;
        print v }' "$1"
}

# Share of the machine's CPU time the hypervisor took (steal) between two
# /proc/stat "cpu" lines: on a shared VM this is what makes runs noisy.
steal_pct() {
    echo "$1 $2" | awk '{ n = (NF - 2) / 2; t = 0
        for (i = 2; i <= n + 1; i++) t += $(i + n + 1) - $i
        printf "%.0f", (t > 0 ? 100 * ($(9 + n + 1) - $9) / t : 0) }'
}

TICK=$(getconf CLK_TCK)
: > "$OUT"
echo -e "round\tserver\tendpoint\tconns\trps\tp99_ms\tcpu_us_per_req\terrors\tload1\tsteal_pct" >> "$OUT"
# One measurement: wrk against $server on $port; appends a row. Sets STEAL.
measure() { # round server pid port endpoint conns
    local round=$1 server=$2 pid=$3 port=$4 endpoint=$5 conns=$6
    local script=() path=$endpoint
    [ "$endpoint" = echo ] && script=(-s "$TMP/echo.lua")
    [ "$endpoint" = close ] && script=(-s "$TMP/close.lua") && path=plaintext
    local load1 before stat_before after rps total errors p99 cpu
    load1=$(cut -d' ' -f1 /proc/loadavg)
    before=$(cpu_ticks "$pid")
    stat_before=$(grep '^cpu ' /proc/stat)
    taskset -c "$WRK_CPU" wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s --latency \
        "${script[@]}" "http://127.0.0.1:$port/$path" > "$TMP/wrk.txt"
    after=$(cpu_ticks "$pid")
    STEAL=$(steal_pct "$stat_before" "$(grep '^cpu ' /proc/stat)")
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$TMP/wrk.txt")
    total=$(awk '/requests in/ {print $1}' "$TMP/wrk.txt")
    errors=$(awk '/Socket errors|Non-2xx/ {s = s $0 " "} END {print s ? s : "-"}' "$TMP/wrk.txt" | tr '\t' ' ')
    p99=$(p99_ms "$TMP/wrk.txt")
    cpu=$(awk -v d=$((after - before)) -v t="$TICK" -v n="$total" 'BEGIN { printf "%.2f", (n > 0) ? (d / t * 1e6 / n) : 0 }')
    ROW="$round\t$server\t$endpoint\t$conns\t$rps\t$p99\t$cpu\t$errors\t$load1\t$STEAL"
    echo "round $round $server $endpoint c=$conns: $rps req/s, p99 $p99 ms, $cpu us cpu/req (load $load1, steal $STEAL%)" >&2
}

# Every server runs for the whole round (idle ones cost nothing), and each
# cell measures all servers back to back, in an order rotated every round:
# the host's slow phases, which last seconds to minutes, then fall on all
# servers alike. A measurement during which the hypervisor stole more than
# STEAL_MAX percent of the machine is repeated after a pause (up to RETRIES
# times; the last try is recorded with its steal, and the summary leaves
# out rows above STEAL_MAX).
STEAL_MAX=${STEAL_MAX:-3}
RETRIES=${RETRIES:-5}
STEAL_PAUSE=${STEAL_PAUSE:-10}
read -r -a SERVER_LIST <<< "$SERVERS"
for round in $(seq 1 "$ROUNDS"); do
    declare -A PIDS=() PORTS=()
    i=0
    for server in "${SERVER_LIST[@]}"; do
        port=$((PORT_BASE + i)); i=$((i + 1))
        start_server "$server" "$port"
        PIDS[$server]=$SERVER_PID; PORTS[$server]=$port
        # Warm up connections and caches.
        taskset -c "$WRK_CPU" wrk -t1 -c100 -d1s "http://127.0.0.1:$port/plaintext" > /dev/null
    done
    n=${#SERVER_LIST[@]}
    for endpoint in $ENDPOINTS; do
        for conns in $CONNS; do
            for k in $(seq 0 $((n - 1))); do
                server=${SERVER_LIST[$(( (k + round - 1) % n ))]}
                for try in $(seq 1 "$RETRIES"); do
                    measure "$round" "$server" "${PIDS[$server]}" "${PORTS[$server]}" "$endpoint" "$conns"
                    [ "$STEAL" -le "$STEAL_MAX" ] && break
                    echo "  steal $STEAL% > $STEAL_MAX%: measuring again (try $try of $RETRIES)" >&2
                    sleep "$STEAL_PAUSE"
                done
                echo -e "$ROW" >> "$OUT"
            done
        done
    done
    for server in "${SERVER_LIST[@]}"; do
        kill "${PIDS[$server]}"; wait "${PIDS[$server]}" 2>/dev/null || true
    done
    unset PIDS PORTS
done

STEAL_MAX=$STEAL_MAX python3 - "$OUT" <<'PY'
import csv, os, statistics, sys
steal_max = float(os.environ["STEAL_MAX"])
all_rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
rows = [r for r in all_rows if float(r["steal_pct"]) <= steal_max]
if len(rows) < len(all_rows):
    print(f"({len(all_rows) - len(rows)} of {len(all_rows)} measurements left out: hypervisor steal above {steal_max:g}%)")
    print()
cells = {}
for r in rows:
    cells.setdefault((r["endpoint"], int(r["conns"])), {}).setdefault(r["server"], []).append(r)
print("| endpoint | conns | server | req/s (median) | p99 ms (median) | CPU µs/req | req/s vs fastest peer | p99 vs best peer |")
print("|---|---|---|---|---|---|---|---|")
for (endpoint, conns), servers in sorted(cells.items()):
    med = {s: (statistics.median(float(x["rps"]) for x in v),
               statistics.median(float(x["p99_ms"]) for x in v),
               statistics.median(float(x["cpu_us_per_req"]) for x in v)) for s, v in servers.items()}
    peers = {s: m for s, m in med.items() if not s.startswith("wego")}
    best_rps = max((m[0] for m in peers.values()), default=0)
    best_p99 = min((m[1] for m in peers.values()), default=0)
    for s, (rps, p99, cpu) in sorted(med.items(), key=lambda kv: -kv[1][0]):
        r1 = f"{rps / best_rps:.2f}" if best_rps else "-"
        r2 = f"{p99 / best_p99:.2f}" if best_p99 else "-"
        print(f"| {endpoint} | {conns} | {s} | {rps:,.0f} | {p99:.2f} | {cpu:.1f} | {r1} | {r2} |")

# Paired ratios: within a round a cell measures all servers back to back, so
# wego ÷ peer per round cancels the host's slower drifts; the median over
# rounds is the steadier comparison.
print()
print("| endpoint | conns | wego ÷ peer | req/s (median of per-round ratios) | p99 | CPU per request | rounds |")
print("|---|---|---|---|---|---|---|")
for (endpoint, conns), servers in sorted(cells.items()):
    by_round = {s: {x["round"]: x for x in v} for s, v in servers.items()}
    for ours in sorted(s for s in servers if s.startswith("wego")):
        for peer in sorted(s for s in servers if not s.startswith("wego")):
            rounds = sorted(set(by_round[ours]) & set(by_round[peer]))
            if not rounds:
                continue
            def ratio(key):
                vals = [float(by_round[ours][r][key]) / float(by_round[peer][r][key])
                        for r in rounds if float(by_round[peer][r][key]) > 0]
                return f"{statistics.median(vals):.2f}" if vals else "-"
            print(f"| {endpoint} | {conns} | {ours} ÷ {peer} | {ratio('rps')} | {ratio('p99_ms')} | {ratio('cpu_us_per_req')} | {len(rounds)} |")

# wego's other runtimes against the default one (tokio per-core), paired
# per round as above: the backend comparison.
base = "wego"
others = sorted({s for c in cells.values() for s in c if s.startswith("wego") and s != base})
if others and any(base in c for c in cells.values()):
    print()
    print("| endpoint | conns | runtime ÷ wego (tokio) | req/s | p99 | CPU per request | rounds |")
    print("|---|---|---|---|---|---|---|")
    for (endpoint, conns), servers in sorted(cells.items()):
        if base not in servers:
            continue
        by_round = {s: {x["round"]: x for x in v} for s, v in servers.items()}
        for ours in others:
            if ours not in servers:
                continue
            rounds = sorted(set(by_round[ours]) & set(by_round[base]))
            def ratio(key):
                vals = [float(by_round[ours][r][key]) / float(by_round[base][r][key])
                        for r in rounds if float(by_round[base][r][key]) > 0]
                return f"{statistics.median(vals):.2f}" if vals else "-"
            print(f"| {endpoint} | {conns} | {ours} ÷ {base} | {ratio('rps')} | {ratio('p99_ms')} | {ratio('cpu_us_per_req')} | {len(rounds)} |")
PY

# Keep the raw rows beside the RPC scripts' results, so the charts can be
# redrawn from the repository.
if [ "${KEEP:-1}" = 1 ]; then
    mkdir -p "$ROOT/benches/results"
    KEPT="$ROOT/benches/results/http-$(date -u +%Y%m%dT%H%M%S).tsv"
    cp "$OUT" "$KEPT"
    OUT=$KEPT
fi

# Charts beside the numbers in docs/benchmarks.md: docs/charts/http-*.svg
# (CHARTS=0 skips them, e.g. for a smoke run).
[ "${CHARTS:-1}" = 1 ] || exit 0
# The charts leave out the same disturbed measurements as the summary (the
# filtered copy keeps the results file's name, which the charts cite).
CHARTED=$TMP/$(basename "$OUT")
awk -F'\t' -v max="$STEAL_MAX" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "steal_pct") col = i; print; next }
    !col || $col <= max' "$OUT" > "$CHARTED"
cargo run -q --manifest-path "$ROOT/Cargo.toml" -p wego-benches --bin bench-chart -- http "$CHARTED" "$ROOT/docs/charts"
