#!/usr/bin/env bash
# Thrift load comparison: wego-kitex against volo-thrift, echo with 1 KiB
# messages, server CPU per request.
#
# Every framing (TTHeader, TTHeader around Framed, Framed) at 100 and 1000
# connections, each server driven by the lean generator ("raw": one
# pre-encoded request replayed per connection, so almost all CPU is the
# server's); with FULL=1 also each framework's own pooled client. Both
# servers are the same binary (benches/peers/thrift, release profile:
# debug=1, codegen-units=4), one runtime thread each on the same kind of
# scheduler (FLAVOR=per-core, the default: wego's per-core runtime and
# tokio's current-thread runtime for volo; FLAVOR=work-stealing: tokio's
# multi-thread scheduler for both; FLAVOR=native: each framework's default,
# wego per-core and volo multi-thread), pinned to core 0; the load
# generator is pinned to core 1 (taskset). Server CPU is utime+stime of the
# whole server process over the run, divided by completed requests.
#
#   benches/thrift-load.sh [seconds-per-run]   (default 10)
#   FRAMINGS="framed" CONNS="100" benches/thrift-load.sh 2   # a subset
#   SERVERS="wego wego-polling volo" benches/thrift-load.sh   # both wego backends
#   ROUNDS=3 benches/thrift-load.sh 30   # servers alternate; ratios of medians
#   BASE_BIN=/tmp/old/thrift-bench SERVERS="wego wego-base volo" benches/thrift-load.sh
#       # wego-base: the wego server of another build (an older commit's
#       # thrift-bench), for a before/after comparison in one run
#
# Results go to stdout and benches/results/thrift-<date>.txt, ending with
# the wego/volo CPU-per-request ratio of each framing and concurrency: the
# ratio of the two medians, and (`paired=`) the median of the per-round
# ratios.
set -euo pipefail
cd "$(dirname "$0")/peers/thrift"
SECS="${1:-10}"
FRAMINGS="${FRAMINGS:-ttheader ttheader-framed framed}"
FLAVOR="${FLAVOR:-per-core}"
FLAVOR_ARG=(--flavor "$FLAVOR")
[ "$FLAVOR" = native ] && FLAVOR_ARG=()
CONNS="${CONNS:-100 1000}"
# wego-polling is the wego server on netpoll's polling backend.
SERVERS="${SERVERS:-wego volo}"
CLIENTS="raw"
# Rounds per cell: the servers alternate within a round, and the ratio is
# taken between each server's median over the rounds, so one noisy cell
# (this VM moves a cell by up to 50 %) does not decide it.
ROUNDS="${ROUNDS:-1}"
[ "${FULL:-0}" = 1 ] && CLIENTS="raw wego volo"
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
    local bin=$BIN impl=$1
    if [ "$impl" = wego-base ]; then
        bin=${BASE_BIN:?wego-base needs BASE_BIN, another build of thrift-bench}
        impl=wego
    fi
    $PIN_SERVER "$bin" server --impl "$impl" --port 0 --threads 1 "${FLAVOR_ARG[@]}" >"$log" 2>&1 &
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

cpu_ticks() { # pid -> "utime stime" in clock ticks
    awk '{print $14, $15}' "/proc/$1/stat"
}

median() { # numbers... -> their median
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2];
        else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A CPU
run() { # server-impl client-impl concurrency framing
    start_server "$1"
    local before after line reqs cpu_us
    before=$(cpu_ticks "$SERVER_PID")
    line=$($PIN_CLIENT "$BIN" load --impl "$2" --addr "$ADDR" --concurrency "$3" \
        --duration "$SECS" --size 1024 --threads 1 --framing "$4")
    after=$(cpu_ticks "$SERVER_PID")
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    reqs=$(echo "$line" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
    # Total, user and system CPU per request: the system part (the same
    # read and write per call for every server) bounds what a faster
    # user-space path can save.
    read -r cpu_us user_us sys_us < <(echo "$before $after" | awk -v t="$TICKS" -v r="$reqs" '{
        if (r > 0) printf "%.2f %.2f %.2f\n", ($3 + $4 - $1 - $2) * 1e6 / t / r,
            ($3 - $1) * 1e6 / t / r, ($4 - $2) * 1e6 / t / r; else print "n/a n/a n/a" }')
    CPU["$1 $2 $3 $4"]+="$cpu_us "
    # The client names its framing (impl=raw/framed), so charts keep them apart.
    line=$(echo "$line" | sed "s/^impl=\([a-z]*\)/impl=\1\/$4/")
    echo "server=$1 client=$line server_cpu_us_per_req=$cpu_us server_user_us_per_req=$user_us server_sys_us_per_req=$sys_us" | tee -a "$OUT"
}

for _ in $(seq "$ROUNDS"); do
    for f in $FRAMINGS; do
        for c in $CONNS; do
            for cl in $CLIENTS; do
                for s in $SERVERS; do
                    run "$s" "$cl" "$c" "$f"
                done
            done
        done
    done
done
for f in $FRAMINGS; do
    for c in $CONNS; do
        for cl in $CLIENTS; do
            for s in $SERVERS; do
                [ "$s" = volo ] && continue
                # shellcheck disable=SC2086 # a list of numbers
                w=$(median ${CPU["$s $cl $c $f"]:-})
                # shellcheck disable=SC2086
                v=$(median ${CPU["volo $cl $c $f"]:-})
                # Paired too: within a round the servers run back to back,
                # so the median of the per-round ratios cancels the slow
                # phases of the host that a ratio of medians keeps.
                # shellcheck disable=SC2086
                p=$(median $(paste -d' ' <(printf '%s\n' ${CPU["$s $cl $c $f"]:-}) \
                    <(printf '%s\n' ${CPU["volo $cl $c $f"]:-}) | awk '$1 > 0 && $2 > 0 { print $1 / $2 }'))
                awk -v s="$s" -v w="$w" -v v="$v" -v p="$p" -v fl="$FLAVOR" -v f="$f" -v c="$c" -v cl="$cl" 'BEGIN {
                    r = (w + 0 > 0 && v + 0 > 0) ? sprintf("%.2f", w / v) : "n/a"
                    pr = (p + 0 > 0) ? sprintf("%.2f", p) : "n/a"
                    printf "# ratio flavor=%s framing=%s concurrency=%s client=%s median_cpu_us %s=%s volo=%s %s_cpu/volo_cpu=%s paired=%s\n", fl, f, c, cl, s, w, v, s, r, pr
                }' | tee -a "$OUT"
            done
        done
    done
done
# Charts beside the numbers in docs/benchmarks.md: docs/charts/thrift-*.svg
# (from the root, so the root workspace's target dir and config apply).
if [ "${CHARTS:-1}" = 1 ]; then
    (OUT_ABS="$PWD/$OUT" && cd ../../.. && cargo run -q -p wego-benches --bin bench-chart -- thrift "$OUT_ABS" docs/charts)
fi
echo "results: $OUT"
