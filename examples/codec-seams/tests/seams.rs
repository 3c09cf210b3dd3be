//! The seams from outside wego-kitex: a Thrift service served and called
//! over `ShortFramed`; ThriftTest (generated code) served and called in
//! `TJson` over Framed, Buffered and TTHeader, by wego's client and by
//! Apache Thrift's Python TJSONProtocol client, and malformed TJSON
//! answered without harm; a gRPC method served and called with `JsonCodec`.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns: a failed unwrap is a failed test

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use pilota::{AHashMap, AHashSet, FastStr};
use serde::{Deserialize, Serialize};
use wego_codec_seams::{JsonCodec, ShortFramed, TJson};
use wego_kitex::BoxError;
use wego_kitex::client::{Client, ClientRequest};
use wego_kitex::grpc::{
    self, Channel, Codec, GrpcRouter, MessageDecoder, MessageEncoder, Request, Response,
};
use wego_kitex::server::{Server, ThriftReply, ThriftRequest};
use wego_kitex::thrift::Protocol;
use wego_kitex::transport::Framing;
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::rt;

#[allow(
    clippy::all,
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    dead_code,
    unused_imports,
    unsafe_code
)]
#[path = "../../../crates/wego-kitex/examples/support/thrift_test.rs"]
mod thrift_test;

use thrift_test::{
    Numberz, ThriftTestClient, ThriftTestTestExceptionError, UserId, Xtruct, Xtruct2,
};

/// Echoes the argument struct back as the result.
#[derive(Clone)]
struct Echo;

impl tower_service::Service<ThriftRequest> for Echo {
    type Response = ThriftReply;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ThriftReply, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ThriftRequest) -> Self::Future {
        Box::pin(async move { Ok(ThriftReply::Result(req.args)) })
    }
}

/// `{1: string s}` STOP in the binary protocol.
fn args(s: &str) -> Bytes {
    let mut v = vec![11, 0, 1];
    v.extend_from_slice(&(s.len() as u32).to_be_bytes());
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v.into()
}

wego_test_support::each_backend!(
    serves_and_calls_thrift_over_a_framing_from_outside,
    |_backend| async move {
        let server = Server::builder()
            .service("Echo", &["echo"], Echo)
            .with_framing(ShortFramed)
            .build()
            .unwrap();
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let s = server.clone();
        rt::spawn(async move { s.serve(listener).await });

        let client = Client::builder(addr.clone())
            .with_frame_codec(ShortFramed)
            .build()
            .unwrap();
        for i in 0..3 {
            let a = args(&format!("short {i}"));
            let r = client
                .call(ClientRequest::new("echo", a.clone()))
                .await
                .unwrap();
            assert_eq!(r.body, a);
        }
        // The same port still detects the built-in framings.
        let framed = Client::builder(addr.clone())
            .with_framing(Framing::Framed)
            .build()
            .unwrap();
        let a = args("framed");
        assert_eq!(
            framed
                .call(ClientRequest::new("echo", a.clone()))
                .await
                .unwrap()
                .body,
            a
        );

        // On the wire: a 2-byte length, then the strict binary reply.
        let mut conn = wego_netpoll::Dialer::new().dial(&addr).await.unwrap();
        let mut call = BytesMut::new();
        wego_kitex::thrift::encode_header(
            Protocol::Binary,
            &wego_kitex::thrift::MessageHeader {
                name: "echo".into(),
                kind: wego_kitex::thrift::MessageType::Call,
                seq_id: 9,
            },
            true,
            &mut call,
        );
        call.extend_from_slice(&args("raw"));
        let mut frame = (call.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(&call);
        conn.write_all(&frame).await.unwrap();
        let mut len = [0u8; 2];
        conn.read_exact(&mut len).await.unwrap();
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        conn.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply[..4], b"\x80\x01\x00\x02", "a strict binary reply");
        assert!(reply.ends_with(&args("raw")));
        server.shutdown(std::time::Duration::from_secs(1)).await;
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Greeting {
    name: String,
    times: u32,
}

/// Sends and receives raw bytes, to see what the JSON codec put on the wire.
struct RawJson;

struct Raw;

impl MessageEncoder for Raw {
    type Item = Bytes;
    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), grpc::Status> {
        dst.extend_from_slice(&item);
        Ok(())
    }
}

impl MessageDecoder for Raw {
    type Item = Bytes;
    fn decode(&mut self, src: Bytes) -> Result<Bytes, grpc::Status> {
        Ok(src)
    }
}

impl Codec for RawJson {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn content_type(&self) -> &'static str {
        "application/grpc+json"
    }
    fn encoder(&self) -> Raw {
        Raw
    }
    fn decoder(&self) -> Raw {
        Raw
    }
}

const GREET: &str = "/demo.Greeter/Greet";

wego_test_support::each_backend!(
    serves_and_calls_grpc_with_a_json_codec_from_outside,
    |_backend| async move {
        let router = GrpcRouter::new().unary_with_codec(
            GREET,
            JsonCodec::<Greeting, Greeting>::new(),
            |req: Request<Greeting>| async move {
                let g = req.into_inner();
                Ok(Response::new(Greeting {
                    name: format!("hello {}", g.name),
                    times: g.times + 1,
                }))
            },
        );
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let server = grpc::GrpcServer::default();
        let s = server.clone();
        rt::spawn(async move { s.serve(listener, router).await });
        let ch = Channel::connect(&addr).await.unwrap();

        let codec = JsonCodec::<Greeting, Greeting>::new();
        let r = ch
            .unary_with_codec(
                GREET,
                &codec,
                Request::new(Greeting {
                    name: "json".into(),
                    times: 1,
                }),
            )
            .await
            .unwrap();
        assert_eq!(
            r.into_inner(),
            Greeting {
                name: "hello json".into(),
                times: 2
            }
        );

        // The messages really are JSON text.
        let raw = ch
            .unary_with_codec(
                GREET,
                &RawJson,
                Request::new(Bytes::from_static(br#"{"name":"raw","times":5}"#)),
            )
            .await
            .unwrap();
        assert_eq!(&raw.into_inner()[..], br#"{"name":"hello raw","times":6}"#);

        // Bytes that are not JSON are the server's INTERNAL status.
        let bad = ch
            .unary_with_codec(
                GREET,
                &RawJson,
                Request::new(Bytes::from_static(b"\x0a\x01x")),
            )
            .await
            .unwrap_err();
        assert_eq!(bad.code(), grpc::Code::Internal);
        assert!(bad.message().contains("json"), "{}", bad.message());
    }
);

/// ThriftTest with TJson added, serving on loopback.
async fn tjson_server() -> (wego_netpoll::Address, Server) {
    let server = thrift_test::builder()
        .with_payload_protocol(TJson::new())
        .build()
        .unwrap();
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let s = server.clone();
    rt::spawn(async move { s.serve(listener).await });
    (addr, server)
}

/// The ThriftTest calls whose answers cover every TJSON type.
async fn call_thrift_test(c: &ThriftTestClient) {
    c.test_void().await.unwrap();
    let s = "Test ü 日本 \"q\" \\ \n\t\u{1}";
    assert_eq!(c.test_string(s.into()).await.unwrap(), s);
    assert!(c.test_bool(true).await.unwrap());
    assert_eq!(c.test_byte(-127).await.unwrap(), -127);
    assert_eq!(c.test_i32(i32::MIN).await.unwrap(), i32::MIN);
    assert_eq!(c.test_i64(i64::MAX).await.unwrap(), i64::MAX);
    assert_eq!(c.test_double(-5.2098523).await.unwrap(), -5.2098523);
    assert!(c.test_double(f64::NAN).await.unwrap().is_nan());
    // Every byte value: a binary field travels as base64 and arrives raw.
    let blob: Vec<u8> = (0..=255).collect();
    assert_eq!(
        &c.test_binary(blob.clone().into()).await.unwrap()[..],
        &blob[..]
    );
    let x = Xtruct {
        string_thing: Some("Zero".into()),
        byte_thing: Some(1),
        i32_thing: Some(-3),
        i64_thing: Some(-5),
    };
    assert_eq!(c.test_struct(x.clone()).await.unwrap(), x);
    let x2 = Xtruct2 {
        byte_thing: Some(1),
        struct_thing: Some(x.clone()),
        i32_thing: Some(5),
    };
    assert_eq!(c.test_nest(x2.clone()).await.unwrap(), x2);
    let m: AHashMap<i32, i32> = (0..5).map(|i| (i, i - 10)).collect();
    assert_eq!(c.test_map(m.clone()).await.unwrap(), m);
    let sm: AHashMap<FastStr, FastStr> = [("a\"".into(), "2".into()), ("".into(), "".into())]
        .into_iter()
        .collect();
    assert_eq!(c.test_string_map(sm.clone()).await.unwrap(), sm);
    let set: AHashSet<i32> = [1, 2, -4].into_iter().collect();
    assert_eq!(c.test_set(set.clone()).await.unwrap(), set);
    assert_eq!(
        c.test_list(vec![1, 2, 3, -4]).await.unwrap(),
        vec![1, 2, 3, -4]
    );
    assert_eq!(c.test_list(vec![]).await.unwrap(), Vec::<i32>::new());
    assert_eq!(c.test_enum(Numberz::FIVE).await.unwrap(), Numberz::FIVE);
    assert_eq!(c.test_typedef(UserId(-1)).await.unwrap(), UserId(-1));
    let mm = c.test_map_map(1).await.unwrap();
    assert_eq!(mm[&4][&3], 3);
    assert_eq!(mm[&-4][&-2], -2);
    match c.test_exception("Xception".into()).await {
        Err(ThriftTestTestExceptionError::Err1(e)) => {
            assert_eq!(e.error_code, Some(1001));
            assert_eq!(e.message.as_deref(), Some("Xception"));
        }
        other => panic!("testException: {other:?}"),
    }
    match c.test_exception("TException".into()).await {
        Err(ThriftTestTestExceptionError::Other(e)) => {
            let e = e.downcast_ref::<wego_kitex::Error>().unwrap();
            assert!(e.is_application(), "{e}");
        }
        other => panic!("testException TException: {other:?}"),
    }
    c.test_exception("safe".into()).await.unwrap();
}

wego_test_support::each_backend!(
    serves_and_calls_thrift_test_in_tjson_over_every_framing,
    |_backend| async move {
        let (addr, server) = tjson_server().await;
        for framing in [Framing::Framed, Framing::Buffered, Framing::TtHeader] {
            let client = Client::builder(addr.clone())
                .with_framing(framing)
                .with_payload_protocol(TJson::new())
                .build()
                .unwrap();
            // Generated code encodes in the body form TJSON transcodes.
            assert_eq!(client.protocol(), Protocol::BinaryBase64);
            call_thrift_test(&ThriftTestClient::new(client)).await;
        }
        // Binary and compact callers keep being served on the same port.
        for proto in [Protocol::Binary, Protocol::Compact] {
            let client = Client::builder(addr.clone())
                .with_framing(Framing::Framed)
                .with_protocol(proto)
                .build()
                .unwrap();
            call_thrift_test(&ThriftTestClient::new(client)).await;
        }
        server.shutdown(std::time::Duration::from_secs(1)).await;
    }
);

/// Writes `frame` and reads one Framed reply frame.
async fn framed_exchange(conn: &mut wego_netpoll::Conn, payload: &[u8]) -> Vec<u8> {
    let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    conn.write_all(&frame).await.unwrap();
    let mut len = [0u8; 4];
    conn.read_exact(&mut len).await.unwrap();
    let mut reply = vec![0u8; u32::from_be_bytes(len) as usize];
    conn.read_exact(&mut reply).await.unwrap();
    reply
}

wego_test_support::each_backend!(
    tjson_on_the_wire_and_malformed_tjson_is_answered,
    |_backend| async move {
        let (addr, server) = tjson_server().await;
        let mut conn = wego_netpoll::Dialer::new().dial(&addr).await.unwrap();
        // What Python's TJSONProtocol sends for testString("hi").
        let reply = framed_exchange(&mut conn, br#"[1,"testString",1,7,{"1":{"str":"hi"}}]"#).await;
        assert_eq!(&reply[..], br#"[1,"testString",2,7,{"0":{"str":"hi"}}]"#);
        // testBinary: base64 in, base64 out.
        let reply =
            framed_exchange(&mut conn, br#"[1,"testBinary",1,8,{"1":{"str":"AP8="}}]"#).await;
        assert_eq!(&reply[..], br#"[1,"testBinary",2,8,{"0":{"str":"AP8="}}]"#);
        // Malformed bodies with a readable envelope: PROTOCOL_ERROR (type 7)
        // in TJSON, and the connection keeps serving.
        for (seq, bad) in [
            (9, &br#"[1,"testI32",1,9,{"1":{"i32":99999999999}}]"#[..]),
            (10, br#"[1,"testI32",1,10,{"1":{"lst":["i8",5,1]}}]"#),
            (11, br#"[1,"testI32",1,11,{"1":{"i32":1}}"#),
            (12, br#"[1,"testI32",1,12,{"1":{"i32":1}}]trailing"#),
            (13, br#"[1,"testBinary",1,13,{"1":{"str":"not base64!"}}]"#),
        ] {
            let reply = framed_exchange(&mut conn, bad).await;
            let text = String::from_utf8(reply).unwrap();
            let head = format!(
                "[1,\"{}\",3,{seq},",
                if seq == 13 { "testBinary" } else { "testI32" }
            );
            assert!(text.starts_with(&head), "{text}");
            assert!(text.ends_with(r#""2":{"i32":7}}]"#), "{text}");
        }
        let reply = framed_exchange(&mut conn, br#"[1,"testI32",1,14,{"1":{"i32":-5}}]"#).await;
        assert_eq!(&reply[..], br#"[1,"testI32",2,14,{"0":{"i32":-5}}]"#);
        // An unreadable envelope has nothing to answer: the connection
        // closes, and the server serves the next one.
        let mut frame = 9u32.to_be_bytes().to_vec();
        frame.extend_from_slice(br#"[1,"x",9,"#);
        conn.write_all(&frame).await.unwrap();
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        // Unframed: the same calls back to back, then a malformed body.
        let mut conn = wego_netpoll::Dialer::new().dial(&addr).await.unwrap();
        conn.write_all(br#"[1,"testI32",1,1,{"1":{"i32":1}}][1,"testI32",1,2,{"1":{"i32":2}}]"#)
            .await
            .unwrap();
        let want = br#"[1,"testI32",2,1,{"0":{"i32":1}}][1,"testI32",2,2,{"0":{"i32":2}}]"#;
        let mut got = vec![0u8; want.len()];
        conn.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..], &want[..]);
        conn.write_all(br#"[1,"testI32",1,3,{"1":{"tf":5}}]"#)
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"}]") {
            conn.read_exact(&mut byte).await.unwrap();
            got.push(byte[0]);
        }
        let text = String::from_utf8(got).unwrap();
        assert!(text.starts_with(r#"[1,"testI32",3,3,"#), "{text}");
        // A generated client still gets its answers.
        let client = Client::builder(addr.clone())
            .with_framing(Framing::Framed)
            .with_payload_protocol(TJson::new())
            .build()
            .unwrap();
        assert_eq!(ThriftTestClient::new(client).test_i32(5).await.unwrap(), 5);
        server.shutdown(std::time::Duration::from_secs(1)).await;
    }
);

wego_test_support::each_backend!(
    pythons_tjson_client_calls_thrift_test_on_our_server,
    |_backend| async move {
        let Some(python) = wego_test_support::peer::python_with(
            "pythons_tjson_client_calls_thrift_test_on_our_server",
            &["thrift"],
        ) else {
            return;
        };
        let (addr, server) = tjson_server().await;
        let port = addr.as_tcp().unwrap().port().to_string();
        let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/peers/thrift_tjson_client.py");
        for transport in ["framed", "buffered"] {
            let (python, port, script) = (python.clone(), port.clone(), script.clone());
            let out = rt::spawn_blocking(move || {
                wego_test_support::peer::output(
                    std::process::Command::new(python)
                        .arg(script)
                        .arg("--port")
                        .arg(port)
                        .arg("--transport")
                        .arg(transport),
                )
            })
            .await
            .unwrap();
            assert!(
                out.status.success(),
                "python tjson client ({transport}) failed: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                format!("ok tjson/{transport}")
            );
        }
        server.shutdown(std::time::Duration::from_secs(1)).await;
    }
);
