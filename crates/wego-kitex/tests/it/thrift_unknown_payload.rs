//! Frames whose payload is no protocol the server knows get an answer or a
//! close at once, never the read timeout: raw sockets send Framed,
//! TTHeader and unframed TJSONProtocol calls and random bytes.
//!
//! The server's read timeout is an hour; each read is bounded by [`HANG`],
//! which only a hang reaches.

use std::io::ErrorKind;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use wego_kitex::server::{Server, ServerStats};
use wego_kitex::ttheader::{self, Header, HeaderFormat};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Address, Conn, Dialer, rt};

use crate::thrift_common::{echo, start};

/// Longer than any answer takes, shorter than the server's read timeout.
const HANG: Duration = Duration::from_secs(30);

/// TJSONProtocol's `testString("hi")` call, sequence id 7, as Apache
/// Thrift's writers send it.
const JSON_CALL: &[u8] = br#"[1,"testString",1,7,{"1":{"str":"hi"}}]"#;

async fn server() -> (Address, ServerStats, Server) {
    let server = Server::builder()
        .service("Echo", &["echo"], echo())
        .with_read_timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let stats = server.stats();
    let (addr, sd) = start(server).await;
    (addr, stats, sd)
}

async fn send(addr: &Address, bytes: &[u8]) -> Conn {
    let mut conn = Dialer::new().dial(addr).await.unwrap();
    conn.write_all(bytes).await.unwrap();
    conn
}

/// Reads until the server closes; panics if it answers anything first.
async fn expect_close(conn: &mut Conn, what: &str) {
    let mut got = Vec::new();
    match rt::timeout(HANG, conn.read_to_end(&mut got)).await {
        Err(_) => panic!("{what}: no answer and no close within {HANG:?}"),
        Ok(Ok(_)) => assert!(got.is_empty(), "{what}: answered {got:?}"),
        // A close with our bytes unread resets instead.
        Ok(Err(e)) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{what}: {e}"),
    }
}

async fn read_n(conn: &mut Conn, n: usize, what: &str) -> Vec<u8> {
    let mut b = vec![0; n];
    rt::timeout(HANG, conn.read_exact(&mut b))
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {HANG:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    b
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

fn tt_header(protocol_id: u8, seq_id: i32, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let h = Header::new(HeaderFormat::TtHeader, protocol_id, seq_id);
    let start = ttheader::encode(&h, &mut out).unwrap();
    out.put_slice(payload);
    ttheader::finish(&mut out, start).unwrap();
    out.to_vec()
}

/// `n` bytes from xorshift64 seeded with `seed`: random-looking, and the
/// same on every run.
fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Checks a TJSON `INVALID_PROTOCOL` exception answering `JSON_CALL`.
fn assert_json_exception(payload: &[u8]) {
    let text = std::str::from_utf8(payload).unwrap();
    assert!(
        text.starts_with(r#"[1,"testString",3,7,{"1":{"str":""#),
        "{text}"
    );
    assert!(text.ends_with(r#""},"2":{"i32":9}}]"#), "{text}");
}

wego_test_support::each_backend!(
    framed_tjson_call_gets_invalid_protocol_and_the_connection_stays_usable,
    |_backend| async move {
        let (addr, stats, _sd) = server().await;
        let mut conn = send(&addr, &framed(JSON_CALL)).await;
        let len = read_n(&mut conn, 4, "framed tjson").await;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        assert_json_exception(&read_n(&mut conn, len, "framed tjson").await);
        // The frame boundary is known: the next call is answered too.
        conn.write_all(&framed(JSON_CALL)).await.unwrap();
        let len = read_n(&mut conn, 4, "second framed tjson").await;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        assert_json_exception(&read_n(&mut conn, len, "second framed tjson").await);
        assert_eq!(stats.unsupported_protocol_calls(), 2);
        assert_eq!(stats.unknown_payloads(), 0);
    }
);

wego_test_support::each_backend!(
    ttheader_tjson_call_gets_invalid_protocol_in_ttheader,
    |_backend| async move {
        let (addr, stats, _sd) = server().await;
        // 1 is TJSON in THeader's protocol ids; 0 claims binary but the
        // payload is TJSON all the same.
        for protocol_id in [1, 0] {
            let mut conn = send(&addr, &tt_header(protocol_id, 7, JSON_CALL)).await;
            let head = read_n(&mut conn, 4, "ttheader tjson").await;
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let mut frame = BytesMut::from(&head[..]);
            frame.extend_from_slice(&read_n(&mut conn, len, "ttheader tjson").await);
            let (h, payload) = ttheader::decode(&mut frame, 1 << 20).unwrap().unwrap();
            assert_eq!((h.protocol_id, h.seq_id), (protocol_id, 7));
            assert_json_exception(&payload);
        }
        assert_eq!(stats.unsupported_protocol_calls(), 2);
    }
);

wego_test_support::each_backend!(
    unframed_tjson_call_is_answered_then_closed,
    |_backend| async move {
        let (addr, stats, _sd) = server().await;
        let mut conn = send(&addr, JSON_CALL).await;
        let mut got = Vec::new();
        rt::timeout(HANG, conn.read_to_end(&mut got))
            .await
            .expect("no answer within the bound")
            .unwrap();
        assert_json_exception(&got);
        assert_eq!(stats.unsupported_protocol_calls(), 1);
    }
);

wego_test_support::each_backend!(
    random_payloads_close_the_connection_and_are_counted,
    |_backend| async move {
        let (addr, stats, _sd) = server().await;
        let mut closes = 0;
        for seed in 1..=8u64 {
            let payload = random_bytes(seed, 64);
            let cases = [
                ("framed", framed(&payload)),
                ("ttheader binary", tt_header(0, 1, &payload)),
                ("ttheader unknown protocol", tt_header(0x33, 1, &payload)),
                ("ttheader tjson", tt_header(1, 1, &payload)),
            ];
            for (what, bytes) in cases {
                let mut conn = send(&addr, &bytes).await;
                expect_close(&mut conn, &format!("{what}, seed {seed}")).await;
                closes += 1;
                assert_eq!(stats.unknown_payloads(), closes, "{what}, seed {seed}");
            }
        }
        assert_eq!(stats.unsupported_protocol_calls(), 0);
    }
);

wego_test_support::each_backend!(
    framed_text_and_name_like_payloads_close_the_connection,
    |_backend| async move {
        let (addr, stats, _sd) = server().await;
        // Once read as a non-strict Buffered message whose "name" was the
        // whole frame, which waited for bytes that never come.
        for payload in [
            &b"hello world, not thrift"[..],
            b"{\"json\":\"object\"}",
            b"[oops]",
        ] {
            let mut conn = send(&addr, &framed(payload)).await;
            expect_close(&mut conn, &String::from_utf8_lossy(payload)).await;
        }
        assert_eq!(stats.unknown_payloads(), 3);
    }
);

wego_test_support::each_backend!(
    unframed_garbage_closes_the_connection,
    |_backend| async move {
        let (addr, stats, _sd) = server().await;
        let mut sent = 0;
        for seed in 100..108u64 {
            let mut bytes = random_bytes(seed, 64);
            // 0x80 0x01 and 0x82 open a Buffered binary or compact
            // message, which may validly wait for more.
            if matches!(bytes[0], 0x80 | 0x82) {
                bytes[0] = 0x7f;
            }
            let mut conn = send(&addr, &bytes).await;
            expect_close(&mut conn, &format!("garbage, seed {seed}")).await;
            sent += 1;
        }
        let mut conn = send(&addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        expect_close(&mut conn, "http/1").await;
        assert_eq!(stats.unknown_payloads(), sent + 1);
    }
);

wego_test_support::each_backend!(
    python_tjson_client_fails_at_once_with_invalid_protocol,
    |_backend| async move {
        let Some(python) = wego_test_support::peer::python_with(
            "python_tjson_client_fails_at_once_with_invalid_protocol",
            &["thrift"],
        ) else {
            return;
        };
        let (addr, stats, _sd) = server().await;
        let port = addr.as_tcp().unwrap().port().to_string();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/peers/thrift_json_client.py");
        for transport in ["framed", "buffered"] {
            let (python, port, script) = (python.clone(), port.clone(), script.clone());
            let out = rt::spawn_blocking(move || {
                wego_test_support::peer::output(
                    std::process::Command::new(python).arg(script).args([
                        "--port",
                        &port,
                        "--transport",
                        transport,
                    ]),
                )
            })
            .await
            .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.starts_with("INVALID_PROTOCOL TJSONProtocol"),
                "{transport}: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(stats.unsupported_protocol_calls(), 2);
    }
);
