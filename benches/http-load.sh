#!/usr/bin/env bash
# Load comparison of wego-hertz against hyper 1.x, axum and actix-web with wrk.
#
# Each server runs with one worker thread pinned to CPU $SERVER_CPU; wrk runs
# with one thread pinned to CPU $WRK_CPU. In every round all servers run
# at once and every (endpoint, connections) cell measures them back to back
# (interleaved, in an order rotated per round), so slow drifts of the
# machine hit all servers alike; after each measurement the script waits
# until that server is idle (work left for connections wrk dropped would
# otherwise run during the next server's measurement, on the same core);
# a measurement disturbed by hypervisor steal above STEAL_MAX% (default 3)
# is taken again, up to RETRIES times.
# Reported: medians over the rounds of requests/s and p99 latency, the ratio
# to the fastest peer, and the server's CPU time per request (utime+stime
# from /proc/PID/stat, with the user and system parts in their own columns).
#
# Servers: wego (http-hello on the default per-core runtime), wego-ws
# (http-hello on tokio's work-stealing runtime, `--flavor work-stealing`),
# wego-polling (http-hello on the polling backend, `--backend polling`,
# with its default reads), wego-polling-eager and wego-polling-lazy (the
# polling backend with eager reads on and off), wego-raw (http-raw: the
# server without the router, answering as the hyper peer does, with no
# content type), wego-base (another build of http-hello, given as
# BASE_BIN, e.g. of an older commit: a before/after comparison in one run;
# wego-base-polling: the same on the polling backend; wego-base-bare and
# wego-base-polling-bare: the same without the `server` field),
# hyper-base (hyper from another build of the peers, given as
# BASE_PEER_BIN: with BASE_BIN, two release profiles in one run), wego-bare and
# wego-polling-bare (http-hello with `--server-header off`: no `server`
# field, so its responses are byte for byte the hyper peer's),
# hyper, axum, actix. wego-ws, wego-raw, the wego-base pair and the polling
# variants are not in the default list. wego-polling-2t and
# wego-polling-2t-per-loop run two loops, with one listening socket or one
# SO_REUSEPORT socket per loop (`--per-loop-listener`); give them two CPUs
# (SERVER_CPU=0,1 WRK_CPU=0,1). Endpoints: plaintext, echo (1 KiB POST),
# close (plaintext with `Connection: close`: one connection per request,
# which measures the accept path).
#
# HTTP/2 (PROTO=h2): h2load instead of wrk, one thread, prior knowledge
# (h2c), each CONNS entry CONNECTIONSxSTREAMS (default "4x100 16x10": few
# connections with many concurrent streams each); endpoints plaintext and
# echo (h2load posts the 1 KiB body with -d); the p99 comes from h2load's
# per-request log. The hyper server is then `http-peer hyper-h2` (hyper's
# http2 builder alone); http-hello serves h2c on its usual port.
#
# HTTPS (TLS=1): every server serves TLS with a certificate made for the run
# (http-hello and `http-peer hyper` with --tls-cert/--tls-key, both rustls
# with ring, both offering ALPN h2 and http/1.1), and wrk connects over TLS
# with no ALPN, so HTTP/1.1. Endpoints plaintext and close: close is one
# TLS handshake per request, the handshake rate (wrk resumes each
# connection slot's session: at 100 connections the handshakes are
# resumed, at 1,000 mostly full, as the servers keep 256 sessions). With
# PROTO=h2 too, h2load negotiates h2 by ALPN. Only wego's servers and
# hyper take TLS.
# TLS_KEY_TYPE=rsa: an RSA-2048 leaf instead of ECDSA P-256, so that the
# server, not wrk, is the bottleneck of the handshake rate.
#
# Usage: benches/http-load.sh            (ROUNDS=5 DURATION=10 by default)
#        ROUNDS=3 DURATION=5 CONNS="100" benches/http-load.sh
#        SERVERS="wego wego-ws actix" CONNS=1000 benches/http-load.sh
#        SERVERS="wego wego-polling hyper" benches/http-load.sh
#        SERVERS="floor epoll-floor wego" ENDPOINTS=plaintext benches/http-load.sh
#          (floor: no HTTP, on tokio; epoll-floor: no HTTP and no runtime;
#           api-floor: no runtime, only the HTTP work hertz's API obliges;
#           api-floor-netpoll[-tokio]: that work on netpoll's polling or
#           tokio backend)
#        PROTO=h2 benches/http-load.sh   (SERVERS="wego hyper" by default)
#        TLS=1 benches/http-load.sh      (SERVERS="wego hyper" by default)
#        BASE_BIN=/tmp/old/http-hello SERVERS="wego wego-base hyper" benches/http-load.sh
#        CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
#          BASE_BIN=/tmp/default/http-hello BASE_PEER_BIN=/tmp/default/http-peer \
#          SERVERS="hyper hyper-base wego-polling-bare wego-base-polling-bare" benches/http-load.sh
#          (every server built with another release profile, against the
#           default profile's builds copied to /tmp/default beforehand)
# Output: a markdown table on stdout; raw rows in $OUT (default
# target/http-load.tsv), kept as benches/results/http[-h2][-tls]-<date>.tsv.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROTO=${PROTO:-h1}
TLS=${TLS:-0}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
KIND=http
[ "$PROTO" = h2 ] && KIND=$KIND-h2
[ "$TLS" = 1 ] && KIND=$KIND-tls
if [ "$PROTO" = h2 ]; then
    CONNS=${CONNS:-"4x100 16x10"}
    ENDPOINTS=${ENDPOINTS:-"plaintext echo"}
else
    CONNS=${CONNS:-"100 1000"}
    if [ "$TLS" = 1 ]; then ENDPOINTS=${ENDPOINTS:-"plaintext close"}; fi
    ENDPOINTS=${ENDPOINTS:-"plaintext echo"}
fi
if [ "$KIND" = http ]; then SERVERS=${SERVERS:-"wego hyper axum actix"}; fi
SERVERS=${SERVERS:-"wego hyper"}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
OUT=${OUT:-$ROOT/target/$KIND-load.tsv}
PORT_BASE=${PORT_BASE:-18080}
SCHEME=http
[ "$TLS" = 1 ] && SCHEME=https

case $PROTO in
    h1) command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; } ;;
    h2) command -v h2load >/dev/null || { echo "h2load is not installed (apt-get install nghttp2-client)" >&2; exit 1; } ;;
    *) echo "PROTO must be h1 or h2, got $PROTO" >&2; exit 2 ;;
esac
ulimit -n 65536 2>/dev/null || ulimit -n 4096

# shellcheck source=benches/http-common.sh
. "$ROOT/benches/http-common.sh"

start_server() { # name port; sets SERVER_PID (no subshell: the EXIT trap must not fire)
    local name=$1 port=$2 cmd=() tls=() probe=()
    case $name in
        wego) cmd=("$WEGO_BIN" --threads 1 --flavor per-core) ;;
        wego-ws) cmd=("$WEGO_BIN" --threads 1 --flavor work-stealing) ;;
        wego-polling) cmd=("$WEGO_BIN" --threads 1 --backend polling) ;;
        wego-bare) cmd=("$WEGO_BIN" --threads 1 --flavor per-core --server-header off) ;;
        wego-polling-bare) cmd=("$WEGO_BIN" --threads 1 --backend polling --server-header off) ;;
        wego-polling-eager) cmd=("$WEGO_BIN" --threads 1 --backend polling --eager-reads on) ;;
        wego-polling-lazy) cmd=("$WEGO_BIN" --threads 1 --backend polling --eager-reads off) ;;
        wego-polling-2t) cmd=("$WEGO_BIN" --threads 2 --backend polling) ;;
        wego-polling-2t-per-loop) cmd=("$WEGO_BIN" --threads 2 --backend polling --per-loop-listener) ;;
        wego-raw) cmd=("$WEGO_RAW_BIN" --threads 1) ;;
        wego-base) cmd=("${BASE_BIN:?wego-base needs BASE_BIN, another build of http-hello}" --threads 1 --flavor per-core) ;;
        wego-base-polling) cmd=("${BASE_BIN:?wego-base-polling needs BASE_BIN, another build of http-hello}" --threads 1 --backend polling) ;;
        wego-base-bare) cmd=("${BASE_BIN:?wego-base-bare needs BASE_BIN, another build of http-hello}" --threads 1 --flavor per-core --server-header off) ;;
        wego-base-polling-bare) cmd=("${BASE_BIN:?wego-base-polling-bare needs BASE_BIN, another build of http-hello}" --threads 1 --backend polling --server-header off) ;;
        hyper-base) cmd=("${BASE_PEER_BIN:?hyper-base needs BASE_PEER_BIN, another build of http-peer}" hyper --threads 1) ;;
        # HTTP/2 in plaintext: hyper's http2 builder (prior knowledge).
        hyper) if [ "$PROTO" = h2 ] && [ "$TLS" != 1 ]; then
                   cmd=("$PEER_BIN" hyper-h2 --threads 1)
               else
                   cmd=("$PEER_BIN" hyper --threads 1)
               fi ;;
        *) cmd=("$PEER_BIN" "$name" --threads 1) ;;
    esac
    [ "$TLS" = 1 ] && tls=(--tls-cert "$TLS_CERT" --tls-key "$TLS_KEY")
    taskset -c "$SERVER_CPU" "${cmd[@]}" --port "$port" "${tls[@]}" >/dev/null 2>&1 &
    SERVER_PID=$!
    [ "$PROTO" = h2 ] && probe=(--http2-prior-knowledge)
    for _ in $(seq 1 100); do
        if curl -sk "${probe[@]}" -o /dev/null "$SCHEME://127.0.0.1:$port/plaintext"; then
            return
        fi
        sleep 0.1
    done
    echo "server $name did not start" >&2; exit 1
}

# One load run against $SCHEME://127.0.0.1:$port/$path for $2 seconds,
# writing the load generator's report to $TMP/load.txt (and, for h2load,
# the per-request log to $TMP/h2.log).
load() { # port seconds endpoint conns
    local port=$1 secs=$2 endpoint=$3 conns=$4 path=$3 args=()
    if [ "$PROTO" = h2 ]; then
        [ "$endpoint" = echo ] && args=(-d "$TMP/body.bin")
        taskset -c "$WRK_CPU" h2load -t1 -c"${conns%x*}" -m"${conns#*x}" -D "$secs" \
            "${args[@]}" --log-file="$TMP/h2.log" "$SCHEME://127.0.0.1:$port/$path" > "$TMP/load.txt"
    else
        [ "$endpoint" = echo ] && args=(-s "$TMP/echo.lua")
        [ "$endpoint" = close ] && args=(-s "$TMP/close.lua") && path=plaintext
        taskset -c "$WRK_CPU" wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s --latency \
            "${args[@]}" "$SCHEME://127.0.0.1:$port/$path" > "$TMP/load.txt"
    fi
}

cpu_ticks() { # pid -> "utime stime" of the whole process
    awk '{print $14, $15}' "/proc/$1/stat"
}

# Waits (up to 20 s) until the server has used no CPU for three samples
# 100 ms apart. When wrk stops, a server may still hold queued work for
# connections wrk has dropped (at saturation, up to a second of TLS
# handshakes); on the shared server core that work would fall into the
# next server's measurement.
settle() { # pid
    local last now quiet=0
    last=$(cpu_ticks "$1")
    for _ in $(seq 1 200); do
        sleep 0.1
        now=$(cpu_ticks "$1")
        if [ "$now" = "$last" ]; then
            quiet=$((quiet + 1))
            [ "$quiet" -ge 3 ] && return
        else
            quiet=0
        fi
        last=$now
    done
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
echo -e "round\tserver\tendpoint\tconns\trps\tp99_ms\tcpu_us_per_req\terrors\tload1\tsteal_pct\tusr_us_per_req\tsys_us_per_req" >> "$OUT"
# One measurement: wrk against $server on $port; appends a row. Sets STEAL.
measure() { # round server pid port endpoint conns
    local round=$1 server=$2 pid=$3 port=$4 endpoint=$5 conns=$6
    local load1 before stat_before after rps total errors p99 cpu
    load1=$(cut -d' ' -f1 /proc/loadavg)
    before=$(cpu_ticks "$pid")
    stat_before=$(grep '^cpu ' /proc/stat)
    load "$port" "$DURATION" "$endpoint" "$conns"
    after=$(cpu_ticks "$pid")
    STEAL=$(steal_pct "$stat_before" "$(grep '^cpu ' /proc/stat)")
    if [ "$PROTO" = h2 ]; then
        # "finished in 10.00s, 81234.50 req/s, 3.10MB/s"
        rps=$(awk '/^finished in/ {print $4}' "$TMP/load.txt")
        # "requests: N total, N started, N done, N succeeded, F failed, E errored, T timeout"
        total=$(awk '/^requests:/ {print $8}' "$TMP/load.txt")
        errors=$(awk '/^requests:/ { s = ""
            if ($10 > 0) s = s "failed " $10 " "; if ($12 > 0) s = s "errored " $12 " "; if ($14 > 0) s = s "timeout " $14
            print s ? s : "-" }' "$TMP/load.txt")
        # the log's third column is each request's time in microseconds
        p99=$(cut -f3 "$TMP/h2.log" | sort -n | awk '{ v[NR] = $1 } END {
            if (NR == 0) { print 0; exit } i = int(NR * 0.99 + 0.5); if (i < 1) i = 1; if (i > NR) i = NR
            printf "%.2f", v[i] / 1000 }')
    else
        rps=$(awk '/^Requests\/sec:/ {print $2}' "$TMP/load.txt")
        total=$(awk '/requests in/ {print $1}' "$TMP/load.txt")
        errors=$(awk '/Socket errors|Non-2xx/ {s = s $0 " "} END {print s ? s : "-"}' "$TMP/load.txt" | tr '\t' ' ')
        p99=$(p99_ms "$TMP/load.txt")
    fi
    # user, system and their sum, in microseconds per request
    read -r usr sys cpu <<< "$(echo "$before $after" | awk -v t="$TICK" -v n="$total" '{
        if (n == 0) { print "0 0 0"; exit }
        u = ($3 - $1) / t * 1e6 / n; s = ($4 - $2) / t * 1e6 / n
        printf "%.2f %.2f %.2f", u, s, u + s }')"
    ROW="$round\t$server\t$endpoint\t$conns\t$rps\t$p99\t$cpu\t$errors\t$load1\t$STEAL\t$usr\t$sys"
    echo "round $round $server $endpoint c=$conns: $rps req/s, p99 $p99 ms, $cpu us cpu/req ($usr user + $sys system; load $load1, steal $STEAL%)" >&2
    settle "$pid"
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
        warm=100; [ "$PROTO" = h2 ] && warm=4x10
        load "$port" 1 plaintext "$warm"
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
def conns_key(c):
    return tuple(int(x) for x in c.split("x"))
def show(c):
    return "x".join(str(x) for x in c)
rows = [r for r in all_rows if float(r["steal_pct"]) <= steal_max]
if len(rows) < len(all_rows):
    print(f"({len(all_rows) - len(rows)} of {len(all_rows)} measurements left out: hypervisor steal above {steal_max:g}%)")
    print()
cells = {}
for r in rows:
    # conns is a count, or CONNECTIONSxSTREAMS for h2load
    cells.setdefault((r["endpoint"], conns_key(r["conns"])), {}).setdefault(r["server"], []).append(r)
print("| endpoint | conns | server | req/s (median) | p99 ms (median) | CPU µs/req (user + system) | req/s vs fastest peer | p99 vs best peer |")
print("|---|---|---|---|---|---|---|---|")
for (endpoint, conns), servers in sorted(cells.items()):
    med = {s: (statistics.median(float(x["rps"]) for x in v),
               statistics.median(float(x["p99_ms"]) for x in v),
               statistics.median(float(x["cpu_us_per_req"]) for x in v)) for s, v in servers.items()}
    split = {s: (statistics.median(float(x["usr_us_per_req"]) for x in v),
                 statistics.median(float(x["sys_us_per_req"]) for x in v))
             for s, v in servers.items()}
    peers = {s: m for s, m in med.items() if not s.startswith("wego")}
    best_rps = max((m[0] for m in peers.values()), default=0)
    best_p99 = min((m[1] for m in peers.values()), default=0)
    for s, (rps, p99, cpu) in sorted(med.items(), key=lambda kv: -kv[1][0]):
        r1 = f"{rps / best_rps:.2f}" if best_rps else "-"
        r2 = f"{p99 / best_p99:.2f}" if best_p99 else "-"
        usr, sys = split[s]
        print(f"| {endpoint} | {show(conns)} | {s} | {rps:,.0f} | {p99:.2f} | {cpu:.2f} ({usr:.2f} + {sys:.2f}) | {r1} | {r2} |")

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
            print(f"| {endpoint} | {show(conns)} | {ours} ÷ {peer} | {ratio('rps')} | {ratio('p99_ms')} | {ratio('cpu_us_per_req')} | {len(rounds)} |")

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
            print(f"| {endpoint} | {show(conns)} | {ours} ÷ {base} | {ratio('rps')} | {ratio('p99_ms')} | {ratio('cpu_us_per_req')} | {len(rounds)} |")
PY

# Keep the raw rows beside the RPC scripts' results, so the charts can be
# redrawn from the repository.
if [ "${KEEP:-1}" = 1 ]; then
    mkdir -p "$ROOT/benches/results"
    KEPT="$ROOT/benches/results/$KIND-$(date -u +%Y%m%dT%H%M%S).tsv"
    cp "$OUT" "$KEPT"
    OUT=$KEPT
fi

# Charts beside the numbers in docs/benchmarks.md: docs/charts/http-*.svg
# (CHARTS=0 skips them, e.g. for a smoke run). The HTTP/2 and HTTPS runs
# draw none: their tables are in bench-http.md.
[ "$KIND" = http ] || exit 0
[ "${CHARTS:-1}" = 1 ] || exit 0
# The charts leave out the same disturbed measurements as the summary (the
# filtered copy keeps the results file's name, which the charts cite).
CHARTED=$TMP/$(basename "$OUT")
awk -F'\t' -v max="$STEAL_MAX" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "steal_pct") col = i; print; next }
    !col || $col <= max' "$OUT" > "$CHARTED"
cargo run -q --manifest-path "$ROOT/Cargo.toml" -p wego-benches --bin bench-chart -- http "$CHARTED" "$ROOT/docs/charts"
