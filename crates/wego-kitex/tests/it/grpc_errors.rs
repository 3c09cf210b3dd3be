//! Statuses: handler errors, trailers-only responses, unknown methods,
//! percent-encoded messages, message-size limits and non-gRPC peers.

use std::time::Duration;

use wego_kitex::grpc::{Channel, Code, GrpcServer, Request, Response};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};

use crate::grpc_common::*;

wego_test_support::each_backend!(
    handler_errors_arrive_as_status_with_encoded_message,
    |_backend| async move {
        let ch = start(echo_router()).await;
        let special = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
        for code in 1..=16 {
            let r = EchoRequest {
                action: "fail".into(),
                msg: format!("{code}:{special}"),
            };
            let err = ch
                .unary::<_, EchoResponse>(UNARY, Request::new(r))
                .await
                .unwrap_err();
            assert_eq!(err.code().as_i32(), code);
            assert_eq!(err.message(), special);
        }
    }
);

wego_test_support::each_backend!(unknown_methods_are_unimplemented, |_backend| async move {
    let ch = start(echo_router()).await;
    let err = ch
        .unary::<_, EchoResponse>("/echo.EchoServer/Nope", Request::new(req("x")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    let err = ch
        .unary::<_, EchoResponse>("/no.Service/Echo", Request::new(req("x")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
});

wego_test_support::each_backend!(
    oversize_messages_are_resource_exhausted_both_ways,
    |_backend| async move {
        let server = GrpcServer::builder()
            .with_max_recv_message_size(1024)
            .build()
            .unwrap();
        let (ch, _server) = start_with(server, echo_router()).await;
        // Client → server: the server rejects.
        let big = "x".repeat(2048);
        let err = ch
            .unary::<_, EchoResponse>(UNARY, Request::new(req(&big)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
        // The connection still works.
        let ok: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("small"))).await.unwrap();
        assert_eq!(ok.get_ref().msg, "small");

        // GrpcServer → client: the client's receive limit.
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        wego_netpoll::rt::spawn(async move {
            GrpcServer::default().serve(listener, echo_router()).await
        });
        let small = Channel::builder()
            .with_max_recv_message_size(100)
            .connect(&addr)
            .await
            .unwrap();
        let err = small
            .unary::<_, EchoResponse>(UNARY, Request::new(req(&"y".repeat(500))))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
        // And the client's own send limit.
        let tiny = Channel::builder()
            .with_max_send_message_size(10)
            .connect(&addr)
            .await
            .unwrap();
        let err = tiny
            .unary::<_, EchoResponse>(UNARY, Request::new(req(&"z".repeat(50))))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        // A streaming request over the limit is cancelled with the same code.
        let err = tiny
            .client_streaming::<_, _, EchoResponse>(
                CLIENT_STREAM,
                Request::new(requests(&["ok", "z".repeat(50).as_str()])),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    }
);

/// Serves one raw HTTP/2 response with `status` and an HTML body, as a proxy
/// in front of a dead backend would.
async fn html_error_server(status: u16) -> wego_netpoll::Address {
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    wego_netpoll::rt::spawn(async move {
        let conn = listener.accept().await.unwrap();
        let mut h2 = h2::server::handshake(conn).await.unwrap();
        while let Some(Ok((_req, mut respond))) = h2.accept().await {
            let resp = http::Response::builder()
                .status(status)
                .header("content-type", "text/html")
                .body(())
                .unwrap();
            let mut s = respond.send_response(resp, false).unwrap();
            s.send_data(bytes::Bytes::from_static(b"<html>bad gateway</html>"), true)
                .unwrap();
        }
    });
    addr
}

wego_test_support::each_backend!(
    http_errors_from_non_grpc_peers_map_per_spec,
    |_backend| async move {
        for (http, code) in [
            (502, Code::Unavailable),
            (404, Code::Unimplemented),
            (401, Code::Unauthenticated),
            (500, Code::Unknown),
        ] {
            let addr = html_error_server(http).await;
            let ch = Channel::connect(&addr).await.unwrap();
            let err = ch
                .unary::<_, EchoResponse>(UNARY, Request::new(req("x")))
                .await
                .unwrap_err();
            assert_eq!(err.code(), code, "http {http}");
        }
    }
);

wego_test_support::each_backend!(
    non_grpc_requests_get_415_and_garbage_closes,
    |_backend| async move {
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        wego_netpoll::rt::spawn(async move {
            GrpcServer::default().serve(listener, echo_router()).await
        });
        // A plain HTTP/2 request without the gRPC content type.
        let conn = wego_netpoll::Dialer::new().dial(&addr).await.unwrap();
        let (mut send, h2conn) = h2::client::handshake(conn).await.unwrap();
        wego_netpoll::rt::spawn(async move {
            let _ = h2conn.await;
        });
        let req = http::Request::post(format!("http://{addr}{UNARY}"))
            .body(())
            .unwrap();
        let (resp, _) = send.send_request(req, true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), 415);
        // Bytes that are not HTTP/2 end the connection without a panic.
        let mut conn = wego_netpoll::Dialer::new().dial(&addr).await.unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        // The server answers with a GOAWAY (or a reset) and closes; the
        // unwrap of the timeout fails if it keeps the connection open.
        let _closed = wego_netpoll::rt::timeout(Duration::from_secs(5), conn.read_to_end(&mut buf))
            .await
            .unwrap();
    }
);

wego_test_support::each_backend!(oversize_metadata_is_refused, |_backend| async move {
    let server = GrpcServer::builder()
        .with_max_header_list_size(4096)
        .build()
        .unwrap();
    let (ch, _server) = start_with(server, echo_router()).await;
    let mut r = Request::new(req("x"));
    r.metadata_mut().insert("x-big", &"v".repeat(8192)).unwrap();
    let err = ch.unary::<_, EchoResponse>(UNARY, r).await.unwrap_err();
    assert_ne!(err.code(), Code::Ok);
    // Within the limit, calls work.
    let ok: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("small"))).await.unwrap();
    assert_eq!(ok.get_ref().msg, "small");
});
