#!/usr/bin/env bash
# Runs every cargo-fuzz target (or the ones named) for a fixed time on a copy
# of its seed corpus, JOBS targets at a time, and records per target: wall
# seconds, CPU seconds, executions, final corpus size, coverage and whether
# libFuzzer found a crash. Not part of CI (a few seconds per target run
# there, in .ci/fuzz-smoke); the figures go in docs/reliability.md.
#
#   benches/fuzz-long.sh [-t seconds] [-j jobs] [target ...]
#
# Defaults: 600 s per target, one target at a time, every target.
# Results: benches/results/fuzz-<date>.tsv; crash artifacts stay in
# fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=600
JOBS=1
while getopts "t:j:" opt; do
    case $opt in
    t) SECS=$OPTARG ;;
    j) JOBS=$OPTARG ;;
    *) echo "usage: $0 [-t seconds] [-j jobs] [target ...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install --quiet --locked cargo-fuzz
cargo +nightly fuzz build -O >/dev/null
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
mkdir -p benches/results
OUT="benches/results/fuzz-$(date -u +%Y%m%dT%H%M%S).tsv"
LOGS=$(mktemp -d)
printf 'target\tcommit\twall_s\tcpu_s\texecs\tcorpus\tcov\tcrash\n' >"$OUT"
COMMIT=$(git rev-parse --short HEAD)

one() { # target
    local t=$1 work log start end
    work=$(mktemp -d)
    log="$LOGS/$t.log"
    cp -r "fuzz/corpus/$t/." "$work/" 2>/dev/null || true
    start=$(date +%s)
    # The subshell's `times` gives its children's CPU time: the fuzzer's.
    (
        cargo +nightly fuzz run -O "$t" "$work" -- -max_total_time="$SECS" \
            -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || echo "rc=$?" >>"$log"
        # Not `times | …`: a pipeline runs `times` in a subshell of its own.
        times >"$log.times"
    )
    end=$(date +%s)
    local execs corpus cov crash cpu
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    corpus=$(find "$work" -type f | wc -l)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
    if grep -q -E '^==[0-9]+== ERROR|SUMMARY: libFuzzer|deadly signal|panicked at' "$log"; then
        crash=yes
    else
        crash=no
    fi
    # "1m2.5s 0m3.1s": the children's user and system time.
    cpu=$(awk '{
        split($1, u, /[ms]/); split($2, s, /[ms]/);
        printf "%.0f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' <(tail -n 1 "$log.times"))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$COMMIT" "$((end - start))" "$cpu" \
        "${execs:-?}" "$corpus" "${cov:-?}" "$crash" >>"$OUT"
    echo "fuzz: $t done (crash: $crash)"
    [ "$crash" = no ] || tail -n 30 "$log"
    rm -rf "$work"
}

running=0
for t in "${targets[@]}"; do
    one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
column -t "$OUT"
echo "results: $OUT"
