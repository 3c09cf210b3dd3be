//! One trace across an HTTP → gRPC hop: a hertz handler behind
//! `GovernanceLayer` sees the caller's `traceparent` and passes a child of
//! it to the gRPC server it calls, which sees the same trace id.

use std::time::Duration;

use tower_layer::Layer;
use wego_hertz::Router;
use wego_hertz::governance::{GovernanceLayer, RequestTrace};
use wego_kitex::grpc::{Channel, GovernedClient, GrpcCall, GrpcServer, Request, ServerTraceLayer};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Dialer, rt};

use super::grpc_common::{EchoResponse, UNARY, req};
use super::grpc_governance::trace_router;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

wego_test_support::each_backend!(
    a_traceparent_crosses_an_http_to_grpc_hop,
    |_backend| async move {
        // The gRPC server answers with the trace id it saw.
        let listener = wego_test_support::loopback().await;
        let grpc_addr = listener.local_addr().clone();
        let grpc = GrpcServer::default();
        let g = grpc.clone();
        rt::spawn(async move {
            g.serve(listener, ServerTraceLayer.layer(trace_router()))
                .await
        });
        let channel = Channel::connect(&grpc_addr).await.unwrap();

        // The HTTP handler reports what it saw and what the gRPC hop saw.
        let app = Router::new().group("/api", |g| {
            g.layer(GovernanceLayer::new("front"))
                .get("/hop", move |trace: RequestTrace| {
                    let channel = channel.clone();
                    async move {
                        let mut client = GovernedClient::new(channel);
                        let call = GrpcCall::encode(UNARY, Request::new(req("hop")))
                            .with_trace_parent(&trace.context);
                        let resp = client.call(call).await.unwrap();
                        let msg: EchoResponse = prost::Message::decode(resp.into_inner()).unwrap();
                        format!(
                            "http={} remote={} grpc={}",
                            trace.trace_id(),
                            trace.remote,
                            msg.msg
                        )
                    }
                })
        });
        let listener = wego_test_support::loopback().await;
        let http_addr = listener.local_addr().clone();
        let http = wego_hertz::Server::builder().build().unwrap();
        let h = http.clone();
        rt::spawn(async move { h.serve(listener, app).await });

        let mut conn = Dialer::new().dial(&http_addr).await.unwrap();
        let head = format!(
            "GET /api/hop HTTP/1.1\r\nhost: t\r\ntraceparent: 00-{TRACE_ID}-00f067aa0ba902b7-01\r\nconnection: close\r\n\r\n"
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        rt::timeout(Duration::from_secs(10), conn.read_to_end(&mut out))
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(
            text.ends_with(&format!("http={TRACE_ID} remote=true grpc={TRACE_ID}")),
            "{text}"
        );
    }
);
