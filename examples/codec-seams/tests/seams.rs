//! The seams from outside wego-kitex: a Thrift service served and called
//! over `ShortFramed`, and a gRPC method served and called with `JsonCodec`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use wego_codec_seams::{JsonCodec, ShortFramed};
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
