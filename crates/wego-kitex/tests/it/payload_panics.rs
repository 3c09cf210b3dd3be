//! Code plugged in from outside the crate that panics ends only the call
//! it was serving: a `PayloadHandler` whose call panics, and a
//! `PayloadProtocol` whose body transcoder panics reading a call or
//! writing its reply. The call is answered with the protocol's internal
//! error, and the next call is served on the same connection.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use wego_kitex::BoxFuture;
use wego_kitex::client::{Client, ClientRequest, Mode};
use wego_kitex::metainfo::CallContext;
use wego_kitex::server::{PayloadHandler, Server};
use wego_kitex::thrift::{
    CodecError, ExceptionKind, MessageCodec, MessageHeader, PayloadProtocol, Protocol,
};
use wego_kitex::transport::Match;
use wego_kitex::ttheader::{self, Header, HeaderFormat};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Conn, Dialer, rt};

use crate::thrift_common::{echo, start, string_args};

/// Longer than any answer takes: only a hang reaches it.
const HANG: Duration = Duration::from_secs(30);

/// The TTHeader protocol id of the test's payloads (no built-in one).
const TEST_PROTOCOL_ID: u8 = 9;

/// A payload handler outside the crate: answers a payload with itself,
/// and panics on `boom` (in its future) and on `sync boom` (before it
/// makes one). Its internal error names the request and the message.
struct Mirror;

impl PayloadHandler for Mirror {
    fn accepts(&self, protocol_id: u8, _: &[u8]) -> bool {
        protocol_id == TEST_PROTOCOL_ID
    }

    fn call(&self, payload: Bytes, _: Arc<CallContext>) -> BoxFuture<'static, Option<Bytes>> {
        if &payload[..] == b"sync boom" {
            panic!("payload handler bug before its future");
        }
        Box::pin(async move {
            if &payload[..] == b"boom" {
                panic!("payload handler bug");
            }
            Some(payload)
        })
    }

    fn internal_error(&self, request: &[u8], message: &str) -> Option<Bytes> {
        let request = String::from_utf8_lossy(request);
        Some(format!("error for {request}: {message}").into())
    }
}

/// A TTHeader frame of the test's protocol carrying `payload`.
fn frame(seq_id: i32, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let h = Header::new(HeaderFormat::TtHeader, TEST_PROTOCOL_ID, seq_id);
    let start = ttheader::encode(&h, &mut out).unwrap();
    out.put_slice(payload);
    ttheader::finish(&mut out, start).unwrap();
    out.to_vec()
}

/// Sends `payload` on `conn` and reads the reply frame's payload.
async fn exchange(conn: &mut Conn, seq_id: i32, payload: &[u8]) -> Bytes {
    conn.write_all(&frame(seq_id, payload)).await.unwrap();
    let read = async {
        let mut whole = vec![0u8; 4];
        conn.read_exact(&mut whole).await?;
        let len = u32::from_be_bytes([whole[0], whole[1], whole[2], whole[3]]) as usize;
        whole.resize(4 + len, 0);
        conn.read_exact(&mut whole[4..]).await?;
        Ok::<_, std::io::Error>(whole)
    };
    let whole = rt::timeout(HANG, read)
        .await
        .unwrap_or_else(|_| panic!("no answer to {payload:?} within {HANG:?}"))
        .unwrap_or_else(|e| panic!("no answer to {payload:?}: {e}"));
    let (h, body) = ttheader::decode_frame(whole.into()).unwrap();
    assert_eq!(
        (h.seq_id, h.protocol_id),
        (seq_id, TEST_PROTOCOL_ID),
        "framed like the request"
    );
    body
}

wego_test_support::each_backend!(
    a_panicking_payload_handler_answers_its_internal_error_and_the_connection_lives,
    |_backend| async move {
        let server = Server::builder()
            .with_payload_handler(Arc::new(Mirror))
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        assert_eq!(&exchange(&mut conn, 1, b"before").await[..], b"before");
        for (seq_id, bad) in [(2, &b"boom"[..]), (3, b"sync boom")] {
            let answer = exchange(&mut conn, seq_id, bad).await;
            let want = format!(
                "error for {}: handler panicked",
                String::from_utf8_lossy(bad)
            );
            assert_eq!(&answer[..], want.as_bytes());
            // The same connection serves the next call.
            let after = exchange(&mut conn, seq_id + 10, b"after").await;
            assert_eq!(&after[..], b"after");
        }
    }
);

/// A payload protocol outside the crate: Binary on the wire, carried in
/// TTHeader under the test's protocol id. The server's (`panics`) body
/// transcoders panic on a body holding `boom in` (reading a call) or
/// `boom out` (writing a reply); the client's do not.
#[derive(Debug)]
struct Touchy {
    panics: bool,
}

fn holds(body: &[u8], what: &[u8]) -> bool {
    body.windows(what.len()).any(|w| w == what)
}

impl MessageCodec for Touchy {
    fn message_len(&self, buf: &[u8], max: usize) -> Result<Option<usize>, CodecError> {
        Protocol::Binary.message_len(buf, max)
    }

    fn decode_begin(&self, buf: &mut Bytes) -> Result<(MessageHeader, bool), CodecError> {
        Protocol::Binary.decode_begin(buf)
    }

    fn encode_begin(&self, header: &MessageHeader, strict: bool, dst: &mut BytesMut) {
        Protocol::Binary.encode_begin(header, strict, dst);
    }
}

impl PayloadProtocol for Touchy {
    fn detect(&self, _: &[u8]) -> Match {
        Match::No
    }

    fn header_protocol_id(&self) -> Option<u8> {
        Some(TEST_PROTOCOL_ID)
    }

    fn decode_body(&self, src: &mut Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        if self.panics && holds(src, b"boom in") {
            panic!("payload protocol bug reading a body");
        }
        dst.extend_from_slice(src);
        src.clear();
        Ok(())
    }

    fn encode_body(&self, body: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        if self.panics && holds(body, b"boom out") {
            panic!("payload protocol bug writing a body");
        }
        dst.extend_from_slice(body);
        Ok(())
    }
}

wego_test_support::each_backend!(
    a_panicking_payload_protocol_is_an_internal_error_and_the_connection_lives,
    |_backend| async move {
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .with_payload_protocol(Touchy { panics: true })
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        for mode in [
            Mode::Pooled {
                max_idle: 4,
                idle_timeout: Duration::from_secs(60),
            },
            Mode::Multiplexed,
        ] {
            let client = Client::builder(addr.clone())
                .with_payload_protocol(Touchy { panics: false })
                .with_mode(mode)
                .build()
                .unwrap();
            let call = |s: &str| {
                let (c, a) = (client.clone(), string_args(Protocol::Binary, s));
                async move { c.call(ClientRequest::new("echo", a)).await }
            };
            let ok = call("ok").await.unwrap();
            assert_eq!(ok.body, string_args(Protocol::Binary, "ok"));
            for bad in ["boom in", "boom out"] {
                let e = call(bad).await.unwrap_err();
                let x = e.application_exception();
                assert_eq!(
                    x.map(|x| (x.kind, x.message.as_str())),
                    Some((ExceptionKind::InternalError, "payload protocol panicked")),
                    "{mode:?} {bad}: {e}"
                );
                // The connection served on.
                let after = call("after").await.unwrap();
                assert_eq!(after.body, string_args(Protocol::Binary, "after"));
            }
            assert_eq!(client.dial_count(), 1, "{mode:?}");
        }
    }
);
