# Sourced by http-load.sh and http-instructions.sh: builds wego-hertz's
# http-hello and the peer servers, and makes a temporary directory with the
# wrk script for POST /echo (1 KiB body).
#
# Expects ROOT. Sets WEGO_BIN, WEGO_RAW_BIN, PEER_BIN and TMP (removed on exit, together
# with any background job still running).

echo "building wego-hertz http-hello and the peers (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p wego-hertz --features polling --example http-hello --example http-raw)
(cd "$ROOT/benches/peers/http" && cargo build --release -q)
WEGO_BIN=$ROOT/target/release/examples/http-hello
WEGO_RAW_BIN=$ROOT/target/release/examples/http-raw
PEER_BIN=$ROOT/benches/peers/http/target/release/http-peer

TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
cat > "$TMP/echo.lua" <<'LUA'
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
# GET /plaintext on a new connection per request (the accept path).
cat > "$TMP/close.lua" <<'LUA'
wrk.path = "/plaintext"
wrk.headers["Connection"] = "close"
LUA
