//! A `tracing` span per governed stream, on the server and on the client,
//! lasting the whole stream and recording its final status.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tower_layer::Layer;
use wego_governance::trace::TraceLayer;
use wego_kitex::grpc::{
    BoxStream, Channel, Code, GovernedClient, GovernedStreams, GrpcRouter, GrpcStreamCall, Request,
    RequestStream, Response, ServerTraceLayer, Status,
};

use super::grpc_common::{EchoRequest, EchoResponse, req};
use super::grpc_governance_streams::{feed, serve};
use super::span_capture as capture;

/// The closed `wego.call` spans of `service`, as (status, latency in ms).
fn call_spans(service: &str) -> Vec<(String, f64)> {
    capture::get()
        .closed
        .lock()
        .unwrap()
        .iter()
        .filter(|f| {
            f.get("span").map(String::as_str) == Some("wego.call")
                && f.get("service").map(String::as_str) == Some(service)
        })
        .map(|f| {
            let status = f.get("status").cloned().unwrap_or_default();
            let ms = f
                .get("latency_ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1.0);
            (status, ms)
        })
        .collect()
}

/// A bidi route at `/<service>/Bidi` that echoes, and fails with the
/// status `code:message` sent as a message's `msg` when `action` is "fail".
fn span_router(service: &str) -> GrpcRouter {
    GrpcRouter::new().streaming(
        &format!("/{service}/Bidi"),
        |r: Request<RequestStream<EchoRequest>>| async move {
            let s = futures_util::StreamExt::map(r.into_inner(), |m| {
                let m = m?;
                if m.action == "fail" {
                    return Err(Status::new(Code::Unavailable, m.msg));
                }
                Ok(EchoResponse {
                    action: m.action,
                    msg: m.msg,
                })
            });
            let mut resp = Response::new(Box::pin(s) as BoxStream<EchoResponse>);
            // The test opens the call before it sends.
            resp.set_early_headers(true);
            Ok(resp)
        },
    )
}

wego_test_support::each_backend!(
    a_span_covers_each_stream_with_its_final_status,
    |_backend| async move {
        capture::get();
        // One service name per run (backends, flavours): the capture is
        // process-wide.
        static RUN: AtomicUsize = AtomicUsize::new(0);
        let run = RUN.fetch_add(1, Ordering::SeqCst);
        let server_svc = format!("spans.Server{run}");
        let client_svc = format!("spans.Client{run}");
        let svc = GovernedStreams::layer(TraceLayer::new(), span_router(&server_svc));
        let (addr, _server) = serve(svc).await;
        let ch = Channel::connect(&addr).await.unwrap();
        let mut client = GovernedClient::new(TraceLayer::new().layer(ch));
        let path = format!("/{server_svc}/Bidi");

        // Per stream, how long it surely stayed open: from its first answer
        // until its end was sent.
        let mut open_at_least = Vec::new();
        for fail in [false, true] {
            let started = Instant::now();
            let (tx, reqs) = feed();
            let reqs: BoxStream<bytes::Bytes> = Box::pin(futures_util::StreamExt::map(reqs, |m| {
                Ok(bytes::Bytes::from(prost::Message::encode_to_vec(&m)))
            }));
            let call = GrpcStreamCall::stream(&path, Request::new(reqs)).with_callee(&client_svc);
            let mut s = client
                .call_stream(call)
                .await
                .unwrap()
                .into_inner()
                .decode_into::<EchoResponse>();
            tx.send(req("hello")).await.unwrap();
            s.message().await.unwrap().unwrap();
            let answered = Instant::now();
            // Keep the stream busy for longer than opening and answering
            // took: a span ending at the response head is shorter than that.
            let head = answered - started;
            while answered.elapsed() <= head {
                tx.send(req("more")).await.unwrap();
                assert_eq!(s.message().await.unwrap().unwrap().msg, "more");
            }
            open_at_least.push(answered.elapsed().as_secs_f64() * 1000.0);
            if fail {
                tx.send(EchoRequest {
                    action: "fail".into(),
                    msg: "gone".into(),
                })
                .await
                .unwrap();
                assert_eq!(s.message().await.unwrap_err().code(), Code::Unavailable);
            } else {
                drop(tx);
                assert!(s.message().await.unwrap().is_none());
            }
        }
        // The server records before it sends trailers; the client when its
        // stream reports the end. Both have closed their spans by now.
        for svc in [&server_svc, &client_svc] {
            let spans = call_spans(svc);
            assert_eq!(spans.len(), 2, "{svc}: one span per stream: {spans:?}");
            assert_eq!(spans[0].0, "ok", "{svc}: {spans:?}");
            assert_eq!(spans[1].0, "unavailable", "{svc}: {spans:?}");
            for ((_, ms), least) in spans.iter().zip(&open_at_least) {
                assert!(
                    ms >= least,
                    "{svc}: the span lasts the stream ({least} ms at least): {spans:?}"
                );
            }
        }
    }
);

/// One bidi stream on `path`: a message answered, then the end (`fail`:
/// the handler's error status) or an unimplemented path's status.
async fn one_stream(ch: &Channel, path: &str, fail: bool) -> Code {
    let (tx, reqs) = feed();
    let reqs: BoxStream<bytes::Bytes> = Box::pin(futures_util::StreamExt::map(reqs, |m| {
        Ok(bytes::Bytes::from(prost::Message::encode_to_vec(&m)))
    }));
    let mut client = GovernedClient::new(ch.clone());
    let mut s = match client
        .call_stream(GrpcStreamCall::stream(path, Request::new(reqs)))
        .await
    {
        Ok(r) => r.into_inner().decode_into::<EchoResponse>(),
        Err(status) => return status.code(),
    };
    tx.send(req("hello")).await.unwrap();
    match s.message().await {
        Ok(Some(_)) => {}
        Ok(None) => return Code::Ok,
        Err(status) => return status.code(),
    }
    if fail {
        let m = EchoRequest {
            action: "fail".into(),
            msg: "gone".into(),
        };
        tx.send(m).await.unwrap();
    } else {
        drop(tx);
    }
    match s.message().await {
        Ok(None) => Code::Ok,
        Ok(Some(m)) => panic!("unexpected message {m:?}"),
        Err(status) => status.code(),
    }
}

wego_test_support::each_backend!(
    the_server_span_records_the_final_grpc_status,
    |_backend| async move {
        capture::get();
        static RUN: AtomicUsize = AtomicUsize::new(0);
        // Around the router (the span follows the response stream) and
        // inside GovernedStreams (the layers' future ends with the stream).
        for governed in [false, true] {
            let run = RUN.fetch_add(1, Ordering::SeqCst);
            let name = format!("spans.Status{run}");
            let router = span_router(&name);
            let (addr, _server) = if governed {
                serve(GovernedStreams::layer(ServerTraceLayer, router)).await
            } else {
                serve(ServerTraceLayer.layer(router)).await
            };
            let ch = Channel::connect(&addr).await.unwrap();
            let bidi = format!("/{name}/Bidi");
            assert_eq!(one_stream(&ch, &bidi, false).await, Code::Ok);
            assert_eq!(one_stream(&ch, &bidi, true).await, Code::Unavailable);
            let missing = format!("/{name}/Missing");
            assert_eq!(one_stream(&ch, &missing, false).await, Code::Unimplemented);
            // Each span closed before its status reached the client.
            let mut got: Vec<(String, String, String)> = capture::closed("wego.serve", |f| {
                f.get("rpc.service").map(String::as_str) == Some(name.as_str())
            })
            .into_iter()
            .map(|f| {
                let get = |k: &str| f.get(k).cloned().unwrap_or_default();
                (
                    get("rpc.method"),
                    get("status"),
                    get("rpc.grpc.status_code"),
                )
            })
            .collect();
            got.sort();
            let want = [
                ("Bidi", "ok", "0"),
                ("Bidi", "unavailable", "14"),
                ("Missing", "unimplemented", "12"),
            ]
            .map(|(m, s, c)| (m.to_owned(), s.to_owned(), c.to_owned()));
            assert_eq!(got, want, "governed: {governed}");
        }
    }
);
