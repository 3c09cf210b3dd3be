//! permessage-deflate (RFC 7692) on wego's WebSocket server and client:
//! the negotiation, compressed frames on the wire, refusals of bad
//! compressed data, and Python's `websockets` as the peer both ways.

use bytes::BytesMut;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use wego_hertz::ws::{Connector, Message, PerMessageDeflate, WebSocketUpgrade};
use wego_hertz::{Router, Server};

use crate::support::{closed, connect, read_response, start};
use crate::ws::{close_code, echo, frame, handshake, python, python_server, read_frame, talk};

/// The limit of `/z-small`'s messages.
const SMALL: usize = 1024;

fn app() -> Router {
    Router::new()
        .get("/z", |ws: WebSocketUpgrade| async move {
            ws.with_deflate(PerMessageDeflate::default())
                .on_upgrade(echo)
        })
        .get("/z-reset", |ws: WebSocketUpgrade| async move {
            ws.with_deflate(
                PerMessageDeflate::default()
                    .with_level(9)
                    .with_no_context_takeover(true),
            )
            .on_upgrade(echo)
        })
        .get("/z-small", |ws: WebSocketUpgrade| async move {
            ws.with_deflate(PerMessageDeflate::default())
                .with_max_message_size(SMALL)
                .on_upgrade(echo)
        })
        // Says whether the socket is compressed, then echoes.
        .get("/z-says", |ws: WebSocketUpgrade| async move {
            ws.with_deflate(PerMessageDeflate::default())
                .on_upgrade(|mut socket| async move {
                    let said = if socket.is_compressed() {
                        "compressed"
                    } else {
                        "plain"
                    };
                    if socket.send(Message::text(said)).await.is_ok() {
                        echo(socket).await;
                    }
                })
        })
        .get("/plain", |ws: WebSocketUpgrade| async move {
            ws.on_upgrade(echo)
        })
}

/// RFC 7692 §7.2.3.1: "Hello" compressed, as a client's masked frame.
fn compressed_hello() -> Vec<u8> {
    let mut f = frame(true, 0x1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], true);
    f[0] |= 0x40;
    f
}

/// Opens `path` offering `extensions`; returns the connection, the bytes
/// read past the head and the server's `Sec-WebSocket-Extensions`.
async fn open_offering(
    addr: &wego_netpoll::Address,
    path: &str,
    extensions: &str,
) -> (wego_netpoll::Conn, BytesMut, Option<String>) {
    let mut conn = connect(addr).await;
    let extra = format!("Sec-WebSocket-Extensions: {extensions}\r\n");
    conn.write_all(&handshake(path, &extra)).await.unwrap();
    let mut buf = BytesMut::new();
    let r = read_response(&mut conn, &mut buf, false).await.unwrap();
    assert_eq!(r.status, StatusCode::SWITCHING_PROTOCOLS);
    let answer = r
        .headers
        .get("sec-websocket-extensions")
        .map(|v| v.to_str().unwrap().to_owned());
    (conn, buf, answer)
}

/// Inflates a compressed message's payload (raw DEFLATE plus the tail).
fn inflate(payload: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut data = payload.to_vec();
    data.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::new();
    let mut reader = flate2::read::DeflateDecoder::new(&data[..]);
    // The sync-flush tail ends the data without a final block; what was
    // read before that is the message.
    let _ = reader.read_to_end(&mut out);
    out
}

wego_test_support::each_backend!(ws_deflate_is_negotiated_and_used, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    // The server answers the offer it can honour and compresses its
    // echo of a compressed message.
    let (mut conn, mut buf, answer) = open_offering(
        &addr,
        "/z",
        "permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits",
    )
    .await;
    assert_eq!(answer.as_deref(), Some("permessage-deflate"));
    conn.write_all(&compressed_hello()).await.unwrap();
    let f = read_frame(&mut conn, &mut buf).await.unwrap();
    assert!(f.rsv1 && f.fin && f.opcode == 0x1, "{f:?}");
    assert_eq!(inflate(&f.payload), b"Hello");
    // An uncompressed message on the same connection is fine too.
    conn.write_all(&frame(true, 0x2, &[7; 300], true))
        .await
        .unwrap();
    let f = read_frame(&mut conn, &mut buf).await.unwrap();
    assert!(f.rsv1 && f.opcode == 0x2);
    assert!(
        f.payload.len() < 30,
        "300 equal bytes compress: {}",
        f.payload.len()
    );
    assert_eq!(inflate(&f.payload), vec![7; 300]);

    // Without the route's consent nothing is agreed and a compressed
    // frame is a protocol error.
    let (mut conn, mut buf, answer) = open_offering(&addr, "/plain", "permessage-deflate").await;
    assert_eq!(answer, None);
    conn.write_all(&compressed_hello()).await.unwrap();
    let f = read_frame(&mut conn, &mut buf).await.unwrap();
    assert_eq!(close_code(&f), 1002);
    assert!(closed(&mut conn).await);

    // An offer with an unknown parameter is declined.
    let (_conn, _buf, answer) = open_offering(&addr, "/z", "permessage-deflate; foo=1").await;
    assert_eq!(answer, None);
    // no_context_takeover on the route is announced.
    let (_conn, _buf, answer) = open_offering(&addr, "/z-reset", "permessage-deflate").await;
    assert_eq!(
        answer.as_deref(),
        Some("permessage-deflate; server_no_context_takeover")
    );
});

wego_test_support::each_backend!(
    ws_deflate_refuses_bad_compressed_data,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        let expect = |path: &'static str, raw: Vec<u8>, code: u16| {
            let addr = addr.clone();
            async move {
                let (mut conn, mut buf, answer) =
                    open_offering(&addr, path, "permessage-deflate").await;
                assert!(answer.is_some());
                conn.write_all(&raw).await.unwrap();
                let f = read_frame(&mut conn, &mut buf).await.unwrap();
                assert_eq!(
                    close_code(&f),
                    code,
                    "{path} after {:02x?}",
                    &raw[..raw.len().min(12)]
                );
                assert!(closed(&mut conn).await);
            }
        };
        // Not DEFLATE: a reserved block type.
        let mut bad = frame(true, 0x1, &[0xff, 0xff, 0xff], true);
        bad[0] |= 0x40;
        expect("/z", bad, 1002).await;
        // rsv1 on a control frame, and on a continuation.
        let mut ping = frame(true, 0x9, b"", true);
        ping[0] |= 0x40;
        expect("/z", ping, 1002).await;
        let mut raw = frame(false, 0x1, b"a", true);
        let mut cont = frame(true, 0x0, b"b", true);
        cont[0] |= 0x40;
        raw.extend_from_slice(&cont);
        expect("/z", raw, 1002).await;
        // A small frame that inflates past the route's message limit.
        let mut bomb_data = Vec::new();
        {
            use std::io::Write;
            let mut enc =
                flate2::write::DeflateEncoder::new(&mut bomb_data, flate2::Compression::best());
            enc.write_all(&[b'x'; 64 * 1024]).unwrap();
            enc.flush().unwrap();
        }
        assert!(bomb_data.len() < SMALL);
        let mut bomb = frame(true, 0x2, &bomb_data, true);
        bomb[0] |= 0x40;
        expect("/z-small", bomb, 1009).await;
        // Text that inflates to invalid UTF-8: 1007, as uncompressed.
        let mut invalid = Vec::new();
        {
            use std::io::Write;
            let mut enc =
                flate2::write::DeflateEncoder::new(&mut invalid, flate2::Compression::fast());
            enc.write_all(&[0xff, 0xfe]).unwrap();
            enc.flush().unwrap();
        }
        let mut text = frame(true, 0x1, &invalid, true);
        text[0] |= 0x40;
        expect("/z", text, 1007).await;
    }
);

wego_test_support::each_backend!(ws_deflate_client_and_server, |_backend| async move {
    let (_server, addr, _task) = start(Server::builder(), app()).await;
    let client = wego_hertz::Client::builder().build().unwrap();
    for path in ["/z", "/z-reset"] {
        for config in [
            PerMessageDeflate::default(),
            PerMessageDeflate::default().with_no_context_takeover(true),
        ] {
            let mut socket = Connector::new(format!("ws://{addr}{path}"))
                .with_deflate(config)
                .connect(&client)
                .await
                .unwrap();
            assert!(socket.is_compressed());
            talk(&mut socket).await;
        }
    }
    // The server's side knows too; a route without deflate declines.
    let mut socket = Connector::new(format!("ws://{addr}/z-says"))
        .with_deflate(PerMessageDeflate::default())
        .connect(&client)
        .await
        .unwrap();
    assert_eq!(
        socket.recv().await.unwrap().unwrap(),
        Message::text("compressed")
    );
    let mut socket = Connector::new(format!("ws://{addr}/plain"))
        .with_deflate(PerMessageDeflate::default())
        .connect(&client)
        .await
        .unwrap();
    assert!(!socket.is_compressed());
    talk(&mut socket).await;
    // A message over the client's limit once inflated fails with 1009.
    let mut socket = Connector::new(format!("ws://{addr}/z"))
        .with_deflate(PerMessageDeflate::default())
        .with_max_message_size(SMALL)
        .connect(&client)
        .await
        .unwrap();
    socket
        .send(Message::binary(vec![1u8; 4 * SMALL]))
        .await
        .unwrap();
    let e = socket.recv().await.unwrap().unwrap_err();
    assert!(e.is_too_big(), "{e:?}");
    assert_eq!(e.close_code(), Some(1009));
});

wego_test_support::each_backend!(
    ws_deflate_with_python_websockets_client,
    |_backend| async move {
        let (_server, addr, _task) = start(Server::builder(), app()).await;
        // Python's client offers permessage-deflate by default.
        let script = r#"
import sys
from websockets.sync.client import connect
from websockets.exceptions import ConnectionClosedError
base = sys.argv[1]
for path in ["/z", "/z-reset"]:
    with connect(base + path) as ws:
        names = [e.name for e in ws.protocol.extensions]
        ws.send("hello " * 100)
        a = ws.recv()
        ws.send(b"\x00\x01" * 50000)
        b = ws.recv()
        ws.send(["frag", "mented"])
        c = ws.recv()
        ws.send("hello " * 100)
        d = ws.recv()
        print(path, names, len(a), len(b), c, a == d)
with connect(base + "/z-small", max_size=None) as ws:
    ws.send(b"x" * 4000)
    try:
        ws.recv()
    except ConnectionClosedError as e:
        print("closed", e.rcvd.code)
"#;
        let Some(out) = python(
            "ws_deflate_with_python_websockets_client",
            script,
            &[format!("ws://{addr}")],
        )
        .await
        else {
            return;
        };
        assert_eq!(
            out,
            "/z ['permessage-deflate'] 600 100000 fragmented True\n\
             /z-reset ['permessage-deflate'] 600 100000 fragmented True\n\
             closed 1009\n"
        );
    }
);

wego_test_support::each_backend!(
    ws_deflate_client_with_python_websockets_server,
    |_backend| async move {
        // Python's server agrees to permessage-deflate by default.
        let Some(server) = python_server("ws_deflate_client_with_python_websockets_server").await
        else {
            return;
        };
        let client = wego_hertz::Client::builder().build().unwrap();
        let mut socket = Connector::new(format!("ws://127.0.0.1:{}/", server.port))
            .with_protocols(["chat"])
            .with_deflate(PerMessageDeflate::default())
            .connect(&client)
            .await
            .unwrap();
        assert!(socket.is_compressed());
        let text = "compressible ".repeat(1000);
        socket.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(socket.recv().await.unwrap().unwrap(), Message::text(text));
        talk(&mut socket).await;
    }
);
