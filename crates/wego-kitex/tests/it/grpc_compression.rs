//! gzip per call and per server, negotiated with grpc-encoding and
//! grpc-accept-encoding.

use wego_kitex::grpc::{Channel, Code, Encoding, GrpcRouter, GrpcServer, Request, Response};

use crate::grpc_common::*;

/// A unary method that reports whether the request arrived compressed and
/// compresses its answer when asked to (msg "compress").
fn router() -> GrpcRouter {
    GrpcRouter::new().unary(UNARY, |r: Request<EchoRequest>| async move {
        let was = r.is_compressed();
        let compress = r.get_ref().msg == "compress";
        let mut resp = Response::new(EchoResponse {
            action: was.to_string(),
            msg: "y".repeat(1000),
        });
        if compress {
            resp.set_compression(Some(Encoding::Gzip));
        }
        Ok(resp)
    })
}

wego_test_support::each_backend!(per_call_request_compression, |_backend| async move {
    let ch = start(router()).await;
    let mut r = Request::new(req("plain"));
    let resp: Response<EchoResponse> = ch.unary(UNARY, r).await.unwrap();
    assert_eq!(resp.get_ref().action, "false");
    r = Request::new(req("zip"));
    r.set_compression(Some(Encoding::Gzip));
    let resp: Response<EchoResponse> = ch.unary(UNARY, r).await.unwrap();
    assert_eq!(resp.get_ref().action, "true");
});

wego_test_support::each_backend!(
    per_response_and_per_server_compression,
    |_backend| async move {
        // Per response: asked by the handler.
        let ch = start(router()).await;
        let resp = ch
            .server_streaming::<_, EchoResponse>(UNARY, Request::new(req("compress")))
            .await
            .unwrap();
        let mut s = resp.into_inner();
        assert_eq!(s.message().await.unwrap().unwrap().msg.len(), 1000);
        assert!(s.is_last_compressed());
        let resp = ch
            .server_streaming::<_, EchoResponse>(UNARY, Request::new(req("plain")))
            .await
            .unwrap();
        let mut s = resp.into_inner();
        s.message().await.unwrap().unwrap();
        assert!(!s.is_last_compressed());
        // Per server: every response.
        let server = GrpcServer::builder()
            .with_send_compressed(Encoding::Gzip)
            .build()
            .unwrap();
        let (ch, _s) = start_with(server, router()).await;
        let resp = ch
            .server_streaming::<_, EchoResponse>(UNARY, Request::new(req("plain")))
            .await
            .unwrap();
        let mut s = resp.into_inner();
        s.message().await.unwrap().unwrap();
        assert!(s.is_last_compressed());
    }
);

wego_test_support::each_backend!(
    compression_off_on_the_server_is_unimplemented,
    |_backend| async move {
        let server = GrpcServer::builder()
            .with_accept_compressed(false)
            .build()
            .unwrap();
        let (_, server) = start_with(server, router()).await;
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        wego_netpoll::rt::spawn(async move { server.serve(listener, router()).await });
        let ch = Channel::builder()
            .with_compression(Encoding::Gzip)
            .connect(&addr)
            .await
            .unwrap();
        let err = ch
            .unary::<_, EchoResponse>(UNARY, Request::new(req("x")))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
    }
);
