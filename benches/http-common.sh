# Sourced by http-load.sh and http-instructions.sh: builds wego-hertz's
# http-hello (both backends, TLS) and the peer servers, and makes a
# temporary directory with the wrk scripts for POST /echo (1 KiB body) and
# for a new connection per request, the 1 KiB body file for h2load, and a
# certificate authority with a `localhost` leaf for the HTTPS runs
# (openssl, ECDSA P-256; TLS_KEY_TYPE=rsa gives the leaf an RSA-2048 key,
# which makes the server's half of a handshake, an RSA signature, far
# heavier than the client's, a verification: one client core then
# saturates one server core on the handshake path).
#
# Expects ROOT. Sets WEGO_BIN, WEGO_RAW_BIN, PEER_BIN, TMP (removed on exit,
# together with any background job still running), TLS_CERT and TLS_KEY.

echo "building wego-hertz http-hello and the peers (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p wego-hertz --features polling,tls --example http-hello --example http-raw)
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
head -c 1024 /dev/zero | tr '\0' x > "$TMP/body.bin"
# The HTTPS runs' certificates: a CA and a leaf for localhost and 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=wego bench ca" -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null
case ${TLS_KEY_TYPE:-ec} in
    ec) leaf_key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
    rsa) leaf_key=(-newkey rsa:2048) ;;
    *) echo "TLS_KEY_TYPE is ec or rsa, not $TLS_KEY_TYPE" >&2; exit 1 ;;
esac
openssl req "${leaf_key[@]}" -nodes \
    -subj "/CN=localhost" -keyout "$TMP/leaf.key" -out "$TMP/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$TMP/leaf.ext"
openssl x509 -req -in "$TMP/leaf.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
    -days 2 -extfile "$TMP/leaf.ext" -out "$TMP/leaf.pem" 2>/dev/null
TLS_CERT=$TMP/leaf.pem
TLS_KEY=$TMP/leaf.key
