#!/usr/bin/env bash
# What wego-hertz's reverse proxy adds to a request: wrk against the
# upstream directly, then against the `reverse-proxy` example in front of
# the same upstream, back to back in every round.
#
# The upstream is http-hello (one worker, pinned to $SERVER_CPU), the proxy
# is the reverse-proxy example (one worker, pinned to $PROXY_CPU), wrk runs
# with one thread pinned to $WRK_CPU. On a two-core machine the defaults
# put upstream and proxy on CPU 0 and wrk on CPU 1, so the proxied run
# shares the upstream's core with the proxy: its throughput is the pair's,
# and its latency includes that sharing. With more cores give the proxy a
# core of its own (PROXY_CPU=2).
#
# Reported per endpoint (plaintext GET, echo: 1 KiB POST) and connection
# count: requests/s, p50 and p99 latency from wrk --latency, the
# latency the proxy adds (proxied minus direct, medians over the rounds),
# and CPU time per request (utime+stime from /proc/PID/stat) of the
# upstream and of the proxy. Low connection counts measure latency; high
# ones measure throughput and CPU.
#
# Usage: benches/proxy-load.sh                  (ROUNDS=3 DURATION=10 CONNS="1 10 100")
#        ROUNDS=1 DURATION=1 CONNS=10 benches/proxy-load.sh   (a quick check of the script)
# Run real measurements only on a quiet machine, one benchmark at a time:
#        flock /tmp/bench.lock benches/proxy-load.sh
# Output: a markdown table on stdout; raw rows in $OUT (default
# target/proxy-load.tsv).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-"1 10 100"}
ENDPOINTS=${ENDPOINTS:-"plaintext echo"}
SERVER_CPU=${SERVER_CPU:-0}
PROXY_CPU=${PROXY_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
OUT=${OUT:-$ROOT/target/proxy-load.tsv}
UP_PORT=${UP_PORT:-18180}
PROXY_PORT=${PROXY_PORT:-18181}

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ -e /tmp/quiet.go ] || echo "note: /tmp/quiet.go is absent; figures from a busy machine are not worth recording" >&2
ulimit -n 65536 2>/dev/null || ulimit -n 4096

echo "building http-hello and reverse-proxy (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p wego-hertz --example http-hello --example reverse-proxy)
HELLO=$ROOT/target/release/examples/http-hello
PROXY=$ROOT/target/release/examples/reverse-proxy

TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
cat > "$TMP/echo.lua" <<'LUA'
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA

wait_up() { # port name
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$1/plaintext"; then return; fi
        sleep 0.1
    done
    echo "$2 did not start" >&2; exit 1
}

taskset -c "$SERVER_CPU" "$HELLO" --threads 1 --port "$UP_PORT" >/dev/null 2>&1 &
UP_PID=$!
wait_up "$UP_PORT" http-hello
taskset -c "$PROXY_CPU" "$PROXY" --threads 1 --listen "127.0.0.1:$PROXY_PORT" \
    --upstream "http://127.0.0.1:$UP_PORT" >/dev/null 2>&1 &
PROXY_PID=$!
wait_up "$PROXY_PORT" reverse-proxy
# The proxy answers what the upstream answers.
[ "$(curl -s "http://127.0.0.1:$PROXY_PORT/plaintext")" = "$(curl -s "http://127.0.0.1:$UP_PORT/plaintext")" ] \
    || { echo "the proxy does not answer as the upstream" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# A percentile line of wrk --latency ("50%", "99%") in milliseconds.
pct_ms() { # file label
    awk -v label="$2" '$1 == label {
        v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v);
        if (unit == "us") v = v / 1000; else if (unit == "s") v = v * 1000; else if (unit == "m") v = v * 60000;
        print v }' "$1"
}

TICK=$(getconf CLK_TCK)
mkdir -p "$(dirname "$OUT")"
echo -e "round\tpath\tendpoint\tconns\trps\tp50_ms\tp99_ms\tupstream_cpu_us_per_req\tproxy_cpu_us_per_req\terrors" > "$OUT"

measure() { # round path(direct|proxied) endpoint conns
    local round=$1 path=$2 endpoint=$3 conns=$4 port=$UP_PORT args=() url
    [ "$path" = proxied ] && port=$PROXY_PORT
    [ "$endpoint" = echo ] && args=(-s "$TMP/echo.lua")
    url="http://127.0.0.1:$port/$endpoint"
    local up0 px0 up1 px1
    up0=$(cpu_ticks "$UP_PID"); px0=$(cpu_ticks "$PROXY_PID")
    taskset -c "$WRK_CPU" wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s --latency \
        "${args[@]}" "$url" > "$TMP/load.txt"
    up1=$(cpu_ticks "$UP_PID"); px1=$(cpu_ticks "$PROXY_PID")
    local rps total errors p50 p99 up_cpu px_cpu
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$TMP/load.txt")
    total=$(awk '/requests in/ {print $1}' "$TMP/load.txt")
    errors=$(awk '/Socket errors|Non-2xx/ {s = s $0 " "} END {print s ? s : "-"}' "$TMP/load.txt" | tr '\t' ' ')
    p50=$(pct_ms "$TMP/load.txt" 50%)
    p99=$(pct_ms "$TMP/load.txt" 99%)
    up_cpu=$(awk -v d=$((up1 - up0)) -v t="$TICK" -v n="$total" 'BEGIN { printf "%.2f", (n > 0) ? (d / t * 1e6 / n) : 0 }')
    px_cpu=$(awk -v d=$((px1 - px0)) -v t="$TICK" -v n="$total" 'BEGIN { printf "%.2f", (n > 0) ? (d / t * 1e6 / n) : 0 }')
    [ "$path" = direct ] && px_cpu=0
    echo -e "$round\t$path\t$endpoint\t$conns\t$rps\t$p50\t$p99\t$up_cpu\t$px_cpu\t$errors" >> "$OUT"
    echo "round $round $path $endpoint c=$conns: $rps req/s, p50 $p50 ms, p99 $p99 ms, cpu/req upstream $up_cpu us, proxy $px_cpu us" >&2
}

for round in $(seq 1 "$ROUNDS"); do
    for endpoint in $ENDPOINTS; do
        for conns in $CONNS; do
            # Alternate the order per round so slow drifts hit both alike.
            if [ $((round % 2)) = 1 ]; then order="direct proxied"; else order="proxied direct"; fi
            for path in $order; do
                measure "$round" "$path" "$endpoint" "$conns"
            done
        done
    done
done

# Medians over the rounds, and what the proxy adds.
echo
echo "| endpoint | conns | direct req/s | proxied req/s | direct p50 / p99 ms | proxied p50 / p99 ms | added p50 / p99 ms | upstream cpu/req us | proxy cpu/req us |"
echo "|---|---|---|---|---|---|---|---|---|"
awk -F'\t' 'NR > 1 { k = $3 "\t" $4 "\t" $2; n[k]++
        rps[k, n[k]] = $5; p50[k, n[k]] = $6; p99[k, n[k]] = $7; up[k, n[k]] = $8; px[k, n[k]] = $9
        if (!(($3 "\t" $4) in seen)) { seen[$3 "\t" $4] = 1; order[++cells] = $3 "\t" $4 } }
    function med(arr, k, m,   i, j, t, v) {
        for (i = 1; i <= m; i++) v[i] = arr[k, i] + 0
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
    END { for (c = 1; c <= cells; c++) {
            split(order[c], f, "\t"); d = order[c] "\tdirect"; p = order[c] "\tproxied"
            printf "| %s | %s | %.0f | %.0f | %.3f / %.3f | %.3f / %.3f | %.3f / %.3f | %.2f | %.2f |\n",
                f[1], f[2], med(rps, d, n[d]), med(rps, p, n[p]),
                med(p50, d, n[d]), med(p99, d, n[d]), med(p50, p, n[p]), med(p99, p, n[p]),
                med(p50, p, n[p]) - med(p50, d, n[d]), med(p99, p, n[p]) - med(p99, d, n[d]),
                med(up, p, n[p]), med(px, p, n[p]) } }' "$OUT"
