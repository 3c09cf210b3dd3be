#!/usr/bin/env bash
# Memory per idle connection, on each network backend: wego-hertz's
# http-hello with one worker thread, N keep-alive connections (default
# 10,000) that each made one request and then stay idle, as a server's
# connections between requests do. Reported: the server's resident set
# (VmRSS in /proc/PID/status) before the connections and once every one
# has its answer, and the growth divided by N. The clients are one Python
# process, so their memory is not the server's.
#
# Usage: benches/idle-rss.sh                  (N=10000 BACKENDS="tokio polling")
#        N=2000 BACKENDS=polling benches/idle-rss.sh
# Output: a markdown table on stdout; rows in benches/results/idle-<date>.tsv.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-10000}
BACKENDS=${BACKENDS:-"tokio polling"}
PORT=${PORT:-18300}
ulimit -n $((N + 1024)) 2>/dev/null || { echo "cannot raise the descriptor limit to $((N + 1024))" >&2; exit 1; }

echo "building wego-hertz http-hello (release, both backends)..." >&2
(cd "$ROOT" && cargo build --release -q -p wego-hertz --features polling,tls --example http-hello)
BIN=$ROOT/target/release/examples/http-hello
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

# Opens N connections, sends one request on each, reads every answer, says
# "ready", and keeps the connections open until its stdin closes.
cat > "$TMP/idle.py" <<'PY'
import socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
req = b"GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n"
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    conns.append(s)
for s in conns:
    got = b""
    while b"Hello, World!" not in got:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("connection closed before its answer")
        got += chunk
print("ready", flush=True)
sys.stdin.read()
PY

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

OUT=$ROOT/benches/results/idle-$(date -u +%Y%m%dT%H%M%S).tsv
mkdir -p "$ROOT/benches/results"
echo -e "backend\tconns\trss_before_kib\trss_after_kib\tbytes_per_conn" > "$OUT"
echo "| backend | idle connections | RSS before (KiB) | RSS after (KiB) | bytes per idle connection |"
echo "|---|---|---|---|---|"
for backend in $BACKENDS; do
    # Long header-read timeout: idle connections must not be closed while
    # they are counted (the idle timeout, 60 s, is far beyond the run).
    "$BIN" --port "$PORT" --threads 1 --backend "$backend" --header-read-timeout 600 >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/plaintext" && break
        sleep 0.1
    done
    before=$(rss_kib "$pid")
    mkfifo "$TMP/hold"
    python3 "$TMP/idle.py" "$N" "$PORT" < "$TMP/hold" > "$TMP/ready" &
    client=$!
    exec 3> "$TMP/hold"
    for _ in $(seq 1 600); do
        grep -q ready "$TMP/ready" 2>/dev/null && break
        kill -0 "$client" 2>/dev/null || { echo "the client failed" >&2; exit 1; }
        sleep 0.1
    done
    after=$(rss_kib "$pid")
    per=$(( (after - before) * 1024 / N ))
    echo -e "$backend\t$N\t$before\t$after\t$per" >> "$OUT"
    echo "| $backend | $N | $before | $after | $per |"
    exec 3>&-
    wait "$client" 2>/dev/null || true
    rm -f "$TMP/hold" "$TMP/ready"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    PORT=$((PORT + 1))
done
echo "rows: $OUT" >&2
