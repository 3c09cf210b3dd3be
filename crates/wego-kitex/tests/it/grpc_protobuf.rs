//! Kitex Protobuf over TTHeader and Framed, and one port serving gRPC and
//! Kitex Protobuf through Kitex's first-bytes detection.

use std::time::Duration;

use wego_kitex::grpc::{Channel, Code, GrpcServer, Http2Handler, Request, Response};
use wego_kitex::protobuf::{ProtobufClient, ProtobufFraming, ProtobufHandler};
use wego_netpoll::{Address, Shutdown, rt};

use wego_test_support::Pipes;

use crate::clock::{assert_at, settle, step_until};
use crate::grpc_common::*;

/// Serves Kitex Protobuf on its own (no Thrift server), per connection.
async fn standalone() -> Address {
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let handler = ProtobufHandler::new(echo_router());
    let shutdown = Shutdown::new();
    rt::spawn(async move {
        loop {
            let Ok(conn) = listener.accept().await else {
                return;
            };
            let h = handler.clone();
            let w = shutdown.watcher();
            rt::spawn(async move { h.serve_connection(conn, w).await });
        }
    });
    addr
}

async fn calls_work(client: &ProtobufClient) {
    let r: EchoResponse = client.call("Echo", &req("hello")).await.unwrap();
    assert_eq!(r.msg, "hello");
    for i in 0..20 {
        let r: EchoResponse = client.call("Echo", &req(&i.to_string())).await.unwrap();
        assert_eq!(r.msg, i.to_string());
    }
    let err = client
        .call::<_, EchoResponse>("Nope", &req("x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    let fail = EchoRequest {
        action: "fail".into(),
        msg: "5:no such key".into(),
    };
    let err = client
        .call::<_, EchoResponse>("Echo", &fail)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    assert_eq!(err.message(), "no such key");
}

wego_test_support::each_backend!(
    kitex_protobuf_over_ttheader_and_framed,
    |_backend| async move {
        let addr = standalone().await;
        for framing in [ProtobufFraming::TtHeader, ProtobufFraming::Framed] {
            let client = ProtobufClient::builder(addr.clone())
                .with_framing(framing)
                .connect()
                .await
                .unwrap();
            calls_work(&client).await;
        }
    }
);

wego_test_support::each_backend_paused!(
    kitex_protobuf_deadline_travels_in_ttheader,
    |backend| async move {
        // Kitex Protobuf over in-memory pipes, each served on its own task.
        let handler = ProtobufHandler::new(echo_router());
        let shutdown = Shutdown::new();
        let pipes = Pipes::new(move |_n, io| {
            let (h, w) = (handler.clone(), shutdown.watcher());
            async move {
                // A connection's end, closed or failed, is not under test.
                let _ = h.serve_connection(io, w).await;
            }
        });
        let timeout = Duration::from_millis(100);
        let client = ProtobufClient::builder(Address::loopback())
            .with_connector(pipes)
            .with_timeout(timeout)
            .connect()
            .await
            .unwrap();
        // The handler sleeps for a minute: the call ends at the deadline.
        let slow = EchoRequest {
            action: "sleep".into(),
            msg: "60000".into(),
        };
        let (r, took) = step_until(
            Duration::from_secs(10),
            client.call::<_, EchoResponse>("Echo", &slow),
        )
        .await;
        assert_eq!(r.unwrap_err().code(), Code::DeadlineExceeded);
        assert_at(backend, took, timeout, 1);
    }
);

wego_test_support::each_backend_paused!(
    kitex_protobuf_client_recovers_after_a_timeout,
    |_backend| async move {
        let handler = ProtobufHandler::new(echo_router());
        let shutdown = Shutdown::new();
        let opened = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let o2 = opened.clone();
        let pipes = Pipes::new(move |n, io| {
            o2.store(n, std::sync::atomic::Ordering::SeqCst);
            let (h, w) = (handler.clone(), shutdown.watcher());
            async move {
                let _ = h.serve_connection(io, w).await;
            }
        });
        let client = ProtobufClient::builder(Address::loopback())
            .with_connector(pipes)
            .with_timeout(Duration::from_millis(100))
            .connect()
            .await
            .unwrap();
        // The server answers at its deadline, the client's: the reply comes
        // after the client gave up, on the connection the call used.
        let slow = EchoRequest {
            action: "sleep".into(),
            msg: "60000".into(),
        };
        let (r, _) = step_until(
            Duration::from_secs(10),
            client.call::<_, EchoResponse>("Echo", &slow),
        )
        .await;
        assert_eq!(r.unwrap_err().code(), Code::DeadlineExceeded);
        settle().await;
        for msg in ["after", "and after"] {
            let (r, _) = step_until(
                Duration::from_secs(10),
                client.call::<_, EchoResponse>("Echo", &req(msg)),
            )
            .await;
            assert_eq!(r.unwrap().msg, msg);
        }
        // The timed-out call's connection was closed, and one new one serves.
        assert_eq!(opened.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
);

wego_test_support::each_backend_paused!(
    a_panicking_kitex_protobuf_handler_is_an_internal_error,
    |_backend| async move {
        let router = echo_router().unary(
            "/echo.EchoServer/Boom",
            |r: Request<EchoRequest>| async move {
                if r.get_ref().msg == "boom" {
                    panic!("handler bug");
                }
                Ok(Response::new(EchoResponse::default()))
            },
        );
        let handler = ProtobufHandler::new(router);
        let shutdown = Shutdown::new();
        let opened = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let o2 = opened.clone();
        let pipes = Pipes::new(move |n, io| {
            o2.store(n, std::sync::atomic::Ordering::SeqCst);
            let (h, w) = (handler.clone(), shutdown.watcher());
            async move {
                let _ = h.serve_connection(io, w).await;
            }
        });
        let client = ProtobufClient::builder(Address::loopback())
            .with_connector(pipes)
            .connect()
            .await
            .unwrap();
        let (r, _) = step_until(
            Duration::from_secs(10),
            client.call::<_, EchoResponse>("Boom", &req("boom")),
        )
        .await;
        let e = r.unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (Code::Internal, "handler panicked")
        );
        // The connection serves on.
        let (r, _) = step_until(
            Duration::from_secs(10),
            client.call::<_, EchoResponse>("Echo", &req("after")),
        )
        .await;
        assert_eq!(r.unwrap().msg, "after");
        assert_eq!(opened.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
);

wego_test_support::each_backend_paused!(
    standalone_kitex_protobuf_reads_a_split_first_frame,
    |_backend| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use wego_kitex::protobuf::{ProtobufMessageType, codec};
        let mut payload = bytes::BytesMut::new();
        let body = prost::Message::encode_to_vec(&req("hi"));
        codec::encode(ProtobufMessageType::Call, "Echo", 1, &body, &mut payload).unwrap();
        let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&payload);
        // The framing is known from 8 bytes: fewer are not a verdict.
        for first in 1..8 {
            let handler = ProtobufHandler::new(echo_router());
            let shutdown = Shutdown::new();
            let (mut client, io) = tokio::io::duplex(64 * 1024);
            let w = shutdown.watcher();
            let task = rt::spawn(async move {
                let _ = handler.serve_connection(io, w).await;
            });
            client.write_all(&frame[..first]).await.unwrap();
            settle().await;
            assert!(
                !task.is_finished(),
                "closed after a {first}-byte first read"
            );
            client.write_all(&frame[first..]).await.unwrap();
            settle().await;
            let mut len = [0u8; 4];
            client.read_exact(&mut len).await.unwrap();
            let mut reply = vec![0u8; u32::from_be_bytes(len) as usize];
            client.read_exact(&mut reply).await.unwrap();
            let msg = codec::decode(reply.into()).unwrap();
            assert_eq!((msg.kind, msg.seq_id), (ProtobufMessageType::Reply, 1));
        }
    }
);

wego_test_support::each_backend!(
    one_port_serves_grpc_and_kitex_protobuf,
    |_backend| async move {
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let server = wego_kitex::server::Server::builder()
            .with_http2_handler(Http2Handler::new(GrpcServer::default(), echo_router()).into_arc())
            .with_payload_handler(ProtobufHandler::new(echo_router()).into_arc())
            .build()
            .unwrap();
        rt::spawn(async move { server.serve(listener).await });

        let ch = Channel::connect(&addr).await.unwrap();
        let r: Response<EchoResponse> = ch
            .unary(UNARY, Request::new(req("via grpc")))
            .await
            .unwrap();
        assert_eq!(r.get_ref().msg, "via grpc");
        let resp = ch
            .client_streaming::<_, _, EchoResponse>(
                CLIENT_STREAM,
                Request::new(requests(&["a", "b"])),
            )
            .await
            .unwrap();
        assert_eq!(resp.get_ref().msg, "ab");

        let client = ProtobufClient::builder(addr.clone())
            .with_callee("echo.EchoServer")
            .connect()
            .await
            .unwrap();
        calls_work(&client).await;
    }
);

wego_test_support::each_backend!(
    one_port_serves_thrift_and_framed_kitex_protobuf,
    |_backend| async move {
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let server = wego_kitex::server::Server::builder()
            .service("Echo", &["echo"], crate::thrift_common::echo())
            .with_payload_handler(ProtobufHandler::new(echo_router()).into_arc())
            .build()
            .unwrap();
        rt::spawn(async move { server.serve(listener).await });

        // Framed Kitex Protobuf: `[len:4] 90 01 ...` on a fresh connection.
        let client = ProtobufClient::builder(addr.clone())
            .with_framing(ProtobufFraming::Framed)
            .connect()
            .await
            .unwrap();
        calls_work(&client).await;
        // TTHeader Kitex Protobuf on the same port.
        let client = ProtobufClient::builder(addr.clone())
            .connect()
            .await
            .unwrap();
        calls_work(&client).await;
        // And Thrift, framed and TTHeader, still served there.
        for framing in [
            wego_kitex::transport::Framing::Framed,
            wego_kitex::transport::Framing::TtHeader,
        ] {
            let thrift = wego_kitex::client::Client::builder(addr.clone())
                .with_framing(framing)
                .build()
                .unwrap();
            let args = bytes::Bytes::from_static(&[0]); // an empty struct
            let r = thrift
                .call(wego_kitex::client::ClientRequest::new("echo", args.clone()))
                .await
                .unwrap();
            assert_eq!(r.body, args);
        }
    }
);

wego_test_support::each_backend!(
    #[cfg(feature = "governance")]
    kitex_protobuf_carries_the_served_calls_trace,
    |_backend| async move {
        use std::sync::Arc;
        use wego_governance::trace::TraceContext;
        use wego_kitex::metainfo::{self, CallContext, MetaInfo};
        let router = wego_kitex::grpc::GrpcRouter::new().unary(
            UNARY,
            |_r: Request<EchoRequest>| async move {
                let seen = metainfo::current_trace()
                    .map(|c| c.trace_id.iter().map(|b| format!("{b:02x}")).collect())
                    .unwrap_or_default();
                Ok(Response::new(EchoResponse {
                    action: "trace".into(),
                    msg: seen,
                }))
            },
        );
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let server = wego_kitex::server::Server::builder()
            .with_payload_handler(ProtobufHandler::new(router).into_arc())
            .build()
            .unwrap();
        rt::spawn(async move { server.serve(listener).await });
        let client = ProtobufClient::builder(addr).connect().await.unwrap();
        let root = TraceContext::new_root();
        let mut meta = MetaInfo::new();
        root.inject(&mut meta, None);
        let ctx = Arc::new(CallContext {
            metainfo: meta,
            ..Default::default()
        });
        let r: EchoResponse = metainfo::scope(ctx, client.call("Echo", &req("x")))
            .await
            .unwrap();
        let want: String = root.trace_id.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(r.msg, want);
    }
);
