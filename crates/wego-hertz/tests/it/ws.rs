//! WebSocket over the server: the handshake and its rejections, frames
//! written and read as raw bytes (echo, fragments, pings, the closing
//! handshake, and each malformed frame closed with its code), and
//! Python's `websockets` as a client.

use std::process::Command;

use bytes::{Buf, BytesMut};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wego_hertz::Router;
use wego_hertz::Server;
use wego_hertz::ws::{
    ConnectError, Connector, HandshakeError, Message, WebSocket, WebSocketUpgrade,
};
use wego_netpoll::{Address, Conn, rt};

use crate::support::{closed, connect, read_response, roundtrip, start};

/// The limit of the `/small` route's messages and frames.
const SMALL: usize = 1024;

/// Echoes data messages until the peer closes.
pub(crate) async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if msg.is_data() && socket.send(msg).await.is_err() {
            break;
        }
    }
}

fn app() -> Router {
    Router::new()
        .get("/echo", |ws: WebSocketUpgrade| async move {
            ws.with_protocols(["superchat", "chat"]).on_upgrade(echo)
        })
        .get("/small", |ws: WebSocketUpgrade| async move {
            ws.with_max_message_size(SMALL)
                .with_max_frame_size(SMALL)
                .on_upgrade(echo)
        })
        .get("/origin", |ws: WebSocketUpgrade| async move {
            ws.with_allowed_origins(["https://good.example"])
                .on_upgrade(echo)
        })
        // The server's side of the Python test: the subprotocols offered.
        .get("/offered", |ws: WebSocketUpgrade| async move {
            let offered = ws.offered_protocols().collect::<Vec<_>>().join("+");
            ws.on_upgrade(move |mut socket| async move {
                let _ = socket.send(Message::text(offered)).await;
                let _ = socket.close(1000, "bye").await;
                while socket.recv().await.is_some() {}
            })
        })
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

pub(crate) fn handshake(path: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// A client frame: `fin`, `opcode`, the payload masked with a fixed key
/// unless `masked` is false.
pub(crate) fn frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x12, 0x34, 0x56, 0x78];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A server frame as read: fin, rsv1 (compressed), opcode, payload.
#[derive(Debug, PartialEq)]
pub(crate) struct Frame {
    pub(crate) fin: bool,
    pub(crate) rsv1: bool,
    pub(crate) opcode: u8,
    pub(crate) payload: Vec<u8>,
}

/// Reads one server frame (never masked, RFC 6455 §5.1); `None` on EOF.
pub(crate) async fn read_frame(conn: &mut Conn, buf: &mut BytesMut) -> Option<Frame> {
    loop {
        if buf.len() >= 2 {
            let masked = buf[1] & 0x80 != 0;
            assert!(!masked, "a server frame is never masked");
            let (len, at) = match buf[1] & 0x7f {
                126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
                127 if buf.len() >= 10 => (
                    u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                n @ 0..=125 => (n as usize, 2),
                _ => (usize::MAX, 0),
            };
            if len != usize::MAX && buf.len() >= at + len {
                let fin = buf[0] & 0x80 != 0;
                let rsv1 = buf[0] & 0x40 != 0;
                let opcode = buf[0] & 0x0f;
                buf.advance(at);
                let payload = buf.split_to(len).to_vec();
                return Some(Frame {
                    fin,
                    rsv1,
                    opcode,
                    payload,
                });
            }
        }
        buf.reserve(4096);
        match rt::timeout(std::time::Duration::from_secs(10), conn.read_buf(buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return None,
        }
    }
}

/// Opens `/path` with the handshake; returns the connection and what was
/// read past the 101.
async fn open(addr: &Address, path: &str) -> (Conn, BytesMut) {
    let mut conn = connect(addr).await;
    conn.write_all(&handshake(path, "")).await.unwrap();
    let mut buf = BytesMut::new();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(r.status, StatusCode::SWITCHING_PROTOCOLS);
    (conn, buf)
}

/// The close code of a close frame.
pub(crate) fn close_code(f: &Frame) -> u16 {
    assert_eq!(f.opcode, 0x8, "a close frame: {f:?}");
    u16::from_be_bytes([f.payload[0], f.payload[1]])
}

wego_test_support::each_backend!(ws_handshake_answers_101, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let mut conn = connect(&addr).await;
    conn.write_all(&handshake(
        "/echo",
        "Sec-WebSocket-Protocol: chat, superchat\r\n",
    ))
    .await
    .unwrap();
    let mut buf = BytesMut::new();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(r.status, StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(r.header("upgrade"), Some("websocket"));
    assert_eq!(r.header("connection"), Some("upgrade"));
    assert_eq!(r.header("sec-websocket-accept"), Some(ACCEPT));
    // The server's preference wins among those offered.
    assert_eq!(r.header("sec-websocket-protocol"), Some("superchat"));
    assert!(r.header("content-length").is_none());
    assert!(r.header("transfer-encoding").is_none());
});

wego_test_support::each_backend!(
    ws_echoes_text_binary_fragments_and_pings,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        let (mut conn, mut buf) = open(&addr, "/echo").await;
        // Text, then binary of a 16-bit length.
        conn.write_all(&frame(true, 0x1, "héllo".as_bytes(), true))
            .await
            .unwrap();
        let f = read_frame(&mut conn, &mut buf).await.unwrap();
        assert_eq!(
            (f.fin, f.opcode, &f.payload[..]),
            (true, 0x1, "héllo".as_bytes())
        );
        let big = vec![7u8; 40_000];
        conn.write_all(&frame(true, 0x2, &big, true)).await.unwrap();
        let f = read_frame(&mut conn, &mut buf).await.unwrap();
        assert_eq!((f.opcode, f.payload.len()), (0x2, big.len()));
        // A fragmented text message with a ping between its fragments: the
        // pong comes first, then the whole message.
        let mut raw = frame(false, 0x1, b"frag", true);
        raw.extend(frame(true, 0x9, b"p!", true));
        raw.extend(frame(false, 0x0, b"men", true));
        raw.extend(frame(true, 0x0, b"ted", true));
        conn.write_all(&raw).await.unwrap();
        let pong = read_frame(&mut conn, &mut buf).await.unwrap();
        assert_eq!((pong.opcode, &pong.payload[..]), (0xA, &b"p!"[..]));
        let f = read_frame(&mut conn, &mut buf).await.unwrap();
        assert_eq!(
            (f.fin, f.opcode, &f.payload[..]),
            (true, 0x1, &b"fragmented"[..])
        );
        // The closing handshake: our code comes back, then the server closes.
        conn.write_all(&frame(true, 0x8, &[0x03, 0xe8, b'o', b'k'], true))
            .await
            .unwrap();
        let f = read_frame(&mut conn, &mut buf).await.unwrap();
        assert_eq!(close_code(&f), 1000);
        assert!(closed(&mut conn).await);
    }
);

wego_test_support::each_backend!(
    ws_bytes_sent_with_the_handshake_are_not_lost,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        let mut conn = connect(&addr).await;
        // The first frame in the same write as the request: the server has
        // read it with the head and hands it over with the connection.
        let mut raw = handshake("/echo", "");
        raw.extend(frame(true, 0x1, b"early", true));
        conn.write_all(&raw).await.unwrap();
        let mut buf = BytesMut::new();
        let r = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(r.status, StatusCode::SWITCHING_PROTOCOLS);
        let f = read_frame(&mut conn, &mut buf).await.unwrap();
        assert_eq!(&f.payload[..], b"early");
    }
);

/// Sends `raw` after opening `path`; expects a close frame with `code`,
/// then the server closing the connection.
async fn expect_close(addr: &Address, path: &str, raw: &[u8], code: u16) {
    let (mut conn, mut buf) = open(addr, path).await;
    conn.write_all(raw).await.unwrap();
    let f = read_frame(&mut conn, &mut buf).await.unwrap();
    assert_eq!(
        close_code(&f),
        code,
        "after {:02x?}",
        &raw[..raw.len().min(16)]
    );
    assert!(closed(&mut conn).await);
}

wego_test_support::each_backend!(
    ws_malformed_frames_close_with_their_codes,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        // RFC 6455 §5.1: a client frame must be masked.
        expect_close(&addr, "/echo", &frame(true, 0x1, b"plain", false), 1002).await;
        // §5.5: control frames carry at most 125 bytes and are not fragmented.
        expect_close(&addr, "/echo", &frame(true, 0x9, &[0; 126], true), 1002).await;
        expect_close(&addr, "/echo", &frame(false, 0x9, b"p", true), 1002).await;
        // §5.2: reserved opcodes, data (0x3) and control (0xB).
        expect_close(&addr, "/echo", &frame(true, 0x3, b"x", true), 1002).await;
        expect_close(&addr, "/echo", &frame(true, 0xB, b"x", true), 1002).await;
        // §5.2: a reserved bit with no extension negotiated.
        let mut rsv = frame(true, 0x1, b"x", true);
        rsv[0] |= 0x40;
        expect_close(&addr, "/echo", &rsv, 1002).await;
        // §5.4: a continuation with no message started.
        expect_close(&addr, "/echo", &frame(true, 0x0, b"x", true), 1002).await;
        // §8.1: text must be UTF-8, also across fragments.
        expect_close(&addr, "/echo", &frame(true, 0x1, b"\xff\xfe", true), 1007).await;
        let mut split = frame(false, 0x1, b"\xe2\x82", true);
        split.extend(frame(true, 0x0, b"\x28", true));
        expect_close(&addr, "/echo", &split, 1007).await;
        // §7.4.1: 1009 for a message over the limit: one frame, and fragments
        // each under the frame limit that add up to more.
        expect_close(
            &addr,
            "/small",
            &frame(true, 0x2, &[0; SMALL + 1], true),
            1009,
        )
        .await;
        let mut parts = frame(false, 0x2, &[0; SMALL / 2 + 1], true);
        parts.extend(frame(true, 0x0, &[0; SMALL / 2 + 1], true));
        expect_close(&addr, "/small", &parts, 1009).await;
        // A frame header announcing more than the limit fails at once, with
        // no payload sent.
        let mut header = vec![0x82, 0xff];
        header.extend_from_slice(&(1u64 << 40).to_be_bytes());
        header.extend_from_slice(&[0, 0, 0, 0]);
        expect_close(&addr, "/small", &header, 1009).await;
    }
);

wego_test_support::each_backend!(ws_bad_handshakes_get_clear_answers, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let base = "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let key = format!("Sec-WebSocket-Key: {KEY}\r\n");
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (
            format!("GET /echo HTTP/1.1\r\n{base}{key}\r\n"),
            StatusCode::UPGRADE_REQUIRED,
            "sec-websocket-version must be 13",
        ),
        (
            format!("GET /echo HTTP/1.1\r\n{base}Sec-WebSocket-Version: 8\r\n{key}\r\n"),
            StatusCode::UPGRADE_REQUIRED,
            "sec-websocket-version must be 13",
        ),
        (
            format!(
                "GET /echo HTTP/1.1\r\n{base}Sec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: c2hvcnQ=\r\n\r\n"
            ),
            StatusCode::BAD_REQUEST,
            "sec-websocket-key must be 16 bytes in base64, sent once",
        ),
        (
            format!("GET /echo HTTP/1.1\r\n{base}Sec-WebSocket-Version: 13\r\n\r\n"),
            StatusCode::BAD_REQUEST,
            "sec-websocket-key must be 16 bytes in base64, sent once",
        ),
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
            StatusCode::UPGRADE_REQUIRED,
            "the upgrade header must list websocket",
        ),
        (
            format!(
                "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\
                 Sec-WebSocket-Version: 13\r\n{key}\r\n"
            ),
            StatusCode::BAD_REQUEST,
            "the connection header must list upgrade",
        ),
        (
            format!("GET /echo HTTP/1.0\r\n{base}Sec-WebSocket-Version: 13\r\n{key}\r\n"),
            StatusCode::UPGRADE_REQUIRED,
            "a websocket handshake needs HTTP/1.1",
        ),
        (
            format!(
                "GET /echo HTTP/1.1\r\n{base}Sec-WebSocket-Version: 13\r\n{key}\
                 Content-Length: 2\r\n\r\nhi"
            ),
            StatusCode::BAD_REQUEST,
            "this request cannot switch protocols",
        ),
        (
            String::from_utf8(handshake("/origin", "Origin: https://evil.example\r\n")).unwrap(),
            StatusCode::FORBIDDEN,
            "origin not allowed",
        ),
    ];
    for (raw, status, body) in cases {
        let r = roundtrip(&addr, raw.as_bytes()).await;
        assert_eq!(r.status, status, "{raw}");
        assert_eq!(String::from_utf8_lossy(&r.body), body, "{raw}");
        if body.starts_with("sec-websocket-version") {
            assert_eq!(r.header("sec-websocket-version"), Some("13"));
        }
        if status == StatusCode::UPGRADE_REQUIRED && !body.starts_with("sec-") {
            assert_eq!(r.header("upgrade"), Some("websocket"));
        }
    }
    // A POST is refused with Allow, and the connection serves on as HTTP.
    let mut conn = connect(&addr).await;
    let raw = String::from_utf8(handshake("/echo", "")).unwrap();
    conn.write_all(raw.replacen("GET", "POST", 1).as_bytes())
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    // An allowed origin and one without `Origin` both switch.
    let (_c, _) = open(&addr, "/origin").await;
    let mut conn = connect(&addr).await;
    conn.write_all(&handshake("/origin", "Origin: https://GOOD.example\r\n"))
        .await
        .unwrap();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(r.status, StatusCode::SWITCHING_PROTOCOLS);
});

/// Runs `script` with Python's `websockets`; `None` when it is missing
/// (the test skips).
pub(crate) async fn python(test: &str, script: &str, args: &[String]) -> Option<String> {
    let python = wego_test_support::peer::python_with(test, &["websockets.sync.client"])?;
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(script).args(args);
    let out = rt::spawn_blocking(move || wego_test_support::peer::output(&mut cmd))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(stdout)
}

wego_test_support::each_backend!(
    python_websockets_client_talks_to_the_server,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        let script = r#"
import sys
from websockets.sync.client import connect
from websockets.exceptions import ConnectionClosedError
base = sys.argv[1]
with connect(base + "/echo", subprotocols=["chat"]) as ws:
    ws.send("hello")
    a = ws.recv()
    ws.send(b"\x00\x01" * 50000)
    b = ws.recv()
    ws.ping(b"x").wait(10)
    ws.send(["frag", "mented"])
    c = ws.recv()
    print(ws.subprotocol, a, len(b), c)
with connect(base + "/offered", subprotocols=["a", "b"]) as ws:
    print(ws.recv())
    try:
        ws.recv()
    except Exception as e:
        print(type(e).__name__, ws.close_code, ws.close_reason)
with connect(base + "/small", max_size=None) as ws:
    ws.send(b"x" * 2000)
    try:
        ws.recv()
    except ConnectionClosedError as e:
        print("closed", e.rcvd.code)
"#;
        let Some(out) = python(
            "python_websockets_client_talks_to_the_server",
            script,
            &[format!("ws://{addr}")],
        )
        .await
        else {
            return;
        };
        assert_eq!(
            out,
            "chat hello 100000 fragmented\na+b\nConnectionClosedOK 1000 bye\nclosed 1009\n"
        );
    }
);

wego_test_support::each_backend!(ws_client_talks_to_the_server, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let client = wego_hertz::Client::builder().build().unwrap();
    let mut socket = Connector::new(format!("ws://{addr}/echo"))
        .with_protocols(["chat", "other"])
        .connect(&client)
        .await
        .unwrap();
    assert_eq!(socket.protocol(), Some("chat"));
    talk(&mut socket).await;
    // A route that does not switch: the handshake error says why.
    let e = wego_hertz::ws::connect(&client, &format!("ws://{addr}/nowhere"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ConnectError::Handshake(HandshakeError::NotSwitching(StatusCode::NOT_FOUND))
        ),
        "{e:?}"
    );
    let e = wego_hertz::ws::connect(&client, "http://x/")
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectError::InvalidUri(_)), "{e:?}");
});

// A TLS server that offers `h2` as well as `http/1.1` by ALPN (wego's,
// nginx, Go): the handshake still goes out over HTTP/1.1, on a fresh
// client and on one whose requests to the origin already go over HTTP/2.
#[cfg(feature = "tls")]
wego_test_support::each_backend!(
    wss_client_talks_to_a_tls_server_that_offers_h2,
    |_backend| async move {
        use crate::client_tls::addr_port;
        use crate::tls::{Ca, acceptor, start_tls_with};

        let ca = Ca::new("wss test ca");
        let (addr, _failed) = start_tls_with(Server::builder(), acceptor(&ca), app()).await;
        let port = addr_port(&addr);
        let client = wego_hertz::Client::builder()
            .with_tls_roots(ca.roots())
            .build()
            .unwrap();
        let mut socket = Connector::new(format!("wss://localhost:{port}/echo"))
            .with_protocols(["chat"])
            .connect(&client)
            .await
            .expect("wss to a server that offers h2");
        assert_eq!(socket.protocol(), Some("chat"));
        talk(&mut socket).await;
        // Plain requests to the origin go over HTTP/2 ...
        let resp = client
            .get(format!("https://localhost:{port}/nowhere"))
            .await
            .unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        // ... and a handshake after them still goes over HTTP/1.1.
        let mut socket = wego_hertz::ws::connect(&client, &format!("wss://localhost:{port}/echo"))
            .await
            .expect("wss once the origin is on HTTP/2");
        talk(&mut socket).await;
    }
);

/// Echo, a large binary message, a ping, then the closing handshake, from
/// the client's side.
pub(crate) async fn talk(socket: &mut WebSocket) {
    socket.send(Message::text("hello")).await.unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::text("hello")
    );
    let big = vec![5u8; 100_000];
    socket.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(socket.recv().await.unwrap().unwrap(), Message::binary(big));
    socket
        .send(Message::Ping(bytes::Bytes::from_static(b"hi")))
        .await
        .unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::Pong(bytes::Bytes::from_static(b"hi"))
    );
    socket.close(1000, "done").await.unwrap();
    match socket.recv().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, 1000),
        other => panic!("expected the close reply, got {other:?}"),
    }
    let end = socket.recv().await;
    assert!(end.is_none(), "{end:?}");
}

/// A Python `websockets` echo server on a loopback port; killed on drop.
pub(crate) struct PythonServer {
    child: std::process::Child,
    pub(crate) port: u16,
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn python_server(test: &str) -> Option<PythonServer> {
    let python = wego_test_support::peer::python_with(test, &["websockets.sync.server"])?;
    let script = r#"
from websockets.sync.server import serve
def handler(ws):
    for msg in ws:
        ws.send(msg)
with serve(handler, "127.0.0.1", 0, subprotocols=["chat"]) as server:
    print(server.socket.getsockname()[1], flush=True)
    server.serve_forever()
"#;
    let mut child = Command::new(python)
        .arg("-c")
        .arg(script)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = rt::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let port = line.trim().parse().unwrap();
    Some(PythonServer { child, port })
}

wego_test_support::each_backend!(
    ws_client_talks_to_python_websockets,
    |_backend| async move {
        let Some(server) = python_server("ws_client_talks_to_python_websockets").await else {
            return;
        };
        let client = wego_hertz::Client::builder().build().unwrap();
        let mut socket = Connector::new(format!("ws://127.0.0.1:{}/", server.port))
            .with_protocols(["chat"])
            .connect(&client)
            .await
            .unwrap();
        assert_eq!(socket.protocol(), Some("chat"));
        talk(&mut socket).await;
    }
);
