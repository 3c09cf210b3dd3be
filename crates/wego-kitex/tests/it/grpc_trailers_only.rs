//! Lazy response headers and Trailers-Only answers, seen on the wire by a
//! raw h2 client: a call whose status comes before any message is one
//! HEADERS frame with END_STREAM carrying `grpc-status`; a call that fails
//! after a message sends headers, the message, then trailers.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::HeaderMap;
use prost::Message;
use wego_kitex::grpc::codec::{self, Decoder};
use wego_kitex::grpc::{
    BoxStream, Channel, Code, GrpcRouter, GrpcServer, Request, RequestStream, Response, Status,
};
use wego_netpoll::{Address, Dialer, rt};

use crate::grpc_common::*;

/// Longer than any answer takes; only a hang reaches it.
const HANG: Duration = Duration::from_secs(30);

const STREAM: &str = "/t.T/Stream";
/// A bidi echo with the default, lazy headers; a request with action
/// "fail" ends the call with the status in its `msg`.
const LAZY_BIDI: &str = "/t.T/Bidi";

/// A server-streaming method: `msg` messages, then FAILED_PRECONDITION.
/// `action` "early" asks for early headers, "meta" sets initial metadata.
fn router() -> GrpcRouter {
    echo_router()
        .streaming(
            LAZY_BIDI,
            |r: Request<RequestStream<EchoRequest>>| async move {
                let s = r.into_inner().map(|m| {
                    let m = m?;
                    if m.action == "fail" {
                        return Err(Status::new(Code::FailedPrecondition, "no more"));
                    }
                    Ok(EchoResponse {
                        action: m.action,
                        msg: m.msg,
                    })
                });
                Ok(Response::new(Box::pin(s) as BoxStream<EchoResponse>))
            },
        )
        .server_streaming(STREAM, |r: Request<EchoRequest>| async move {
            let r = r.into_inner();
            let n: usize = r.msg.parse().unwrap_or(0);
            let s = futures_util::stream::iter(0..=n).map(move |i| {
                if i < n {
                    Ok(EchoResponse {
                        action: i.to_string(),
                        msg: String::new(),
                    })
                } else {
                    Err(Status::new(Code::FailedPrecondition, "no more"))
                }
            });
            let mut resp = Response::new(Box::pin(s) as BoxStream<EchoResponse>);
            match r.action.as_str() {
                "early" => resp.set_early_headers(true),
                "meta" => resp.metadata_mut().insert("x-initial", "yes").unwrap(),
                _ => {}
            }
            Ok(resp)
        })
}

/// What came back for one call.
#[derive(Debug)]
struct Wire {
    /// The response HEADERS frame ended the stream.
    trailers_only: bool,
    head: HeaderMap,
    messages: usize,
    trailers: Option<HeaderMap>,
}

impl Wire {
    /// The `grpc-status` wherever it was sent.
    fn status(&self) -> &str {
        let map = if self.trailers_only {
            &self.head
        } else {
            self.trailers.as_ref().expect("trailers")
        };
        map.get("grpc-status").unwrap().to_str().unwrap()
    }
}

async fn connect(addr: &Address) -> h2::client::SendRequest<Bytes> {
    let conn = Dialer::new().dial(addr).await.unwrap();
    let (send, h2conn) = h2::client::handshake(conn).await.unwrap();
    rt::spawn(async move {
        let _ = h2conn.await;
    });
    send
}

async fn call(send: &mut h2::client::SendRequest<Bytes>, path: &str, reqs: &[EchoRequest]) -> Wire {
    let req = http::Request::post(format!("http://wego{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (resp, mut body) = send.send_request(req, false).unwrap();
    let mut frame = BytesMut::new();
    for r in reqs {
        codec::encode(&r.encode_to_vec(), None, 1 << 20, &mut frame).unwrap();
    }
    body.send_data(frame.freeze(), true).unwrap();
    let resp = rt::timeout(HANG, resp)
        .await
        .expect("no response head")
        .unwrap();
    let (parts, mut body) = resp.into_parts();
    if body.is_end_stream() {
        return Wire {
            trailers_only: true,
            head: parts.headers,
            messages: 0,
            trailers: None,
        };
    }
    let mut data = BytesMut::new();
    while let Some(chunk) = rt::timeout(HANG, body.data()).await.expect("no data") {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let trailers = rt::timeout(HANG, body.trailers())
        .await
        .expect("no trailers")
        .unwrap();
    let decoder = Decoder::new(1 << 20, None);
    let mut messages = 0;
    while decoder.decode(&mut data).unwrap().is_some() {
        messages += 1;
    }
    assert!(data.is_empty(), "a partial message was left");
    Wire {
        trailers_only: false,
        head: parts.headers,
        messages,
        trailers,
    }
}

fn fail() -> EchoRequest {
    EchoRequest {
        action: "fail".into(),
        msg: "9:no more".into(),
    }
}

fn stream_req(action: &str, n: usize) -> EchoRequest {
    EchoRequest {
        action: action.into(),
        msg: n.to_string(),
    }
}

/// Asserts a Trailers-Only answer with FAILED_PRECONDITION.
fn assert_trailers_only(w: &Wire, what: &str) {
    assert!(
        w.trailers_only,
        "{what}: headers came before the status: {w:?}"
    );
    assert_eq!(
        w.head.get("content-type").unwrap(),
        "application/grpc",
        "{what}"
    );
    assert_eq!(w.status(), "9", "{what}");
    assert_eq!(w.head.get("grpc-message").unwrap(), "no more", "{what}");
}

/// Asserts headers, `n` messages, then FAILED_PRECONDITION in trailers.
fn assert_headers_then_trailers(w: &Wire, n: usize, what: &str) {
    assert!(!w.trailers_only, "{what}: {w:?}");
    assert!(w.head.get("grpc-status").is_none(), "{what}: {w:?}");
    assert_eq!(
        w.head.get("content-type").unwrap(),
        "application/grpc",
        "{what}"
    );
    assert_eq!(w.messages, n, "{what}");
    assert_eq!(w.status(), "9", "{what}");
}

async fn serve(router: GrpcRouter) -> Address {
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    rt::spawn(async move { GrpcServer::default().serve(listener, router).await });
    addr
}

wego_test_support::each_backend!(
    a_status_before_any_message_is_trailers_only,
    |_backend| async move {
        let addr = serve(router()).await;
        let mut send = connect(&addr).await;
        let w = call(&mut send, UNARY, &[fail()]).await;
        assert_trailers_only(&w, "unary");
        let w = call(&mut send, STREAM, &[stream_req("", 0)]).await;
        assert_trailers_only(&w, "server streaming");
        let w = call(&mut send, LAZY_BIDI, &[fail()]).await;
        assert_trailers_only(&w, "bidi");
        // An empty response stream ends Trailers-Only with OK.
        let w = call(&mut send, LAZY_BIDI, &[]).await;
        assert!(w.trailers_only, "{w:?}");
        assert_eq!(w.status(), "0");
    }
);

wego_test_support::each_backend!(
    a_status_after_a_message_follows_headers_and_the_message,
    |_backend| async move {
        let addr = serve(router()).await;
        let mut send = connect(&addr).await;
        let w = call(&mut send, STREAM, &[stream_req("", 1)]).await;
        assert_headers_then_trailers(&w, 1, "server streaming");
        let w = call(&mut send, LAZY_BIDI, &[req("ok"), fail()]).await;
        assert_headers_then_trailers(&w, 1, "bidi");
        // The shared echo's bidi asks for early headers.
        let w = call(&mut send, BIDI, &[fail()]).await;
        assert_headers_then_trailers(&w, 0, "early-headers bidi");
        let w = call(&mut send, UNARY, &[req("ok")]).await;
        assert!(
            !w.trailers_only && w.messages == 1 && w.status() == "0",
            "{w:?}"
        );
    }
);

wego_test_support::each_backend!(
    early_headers_and_initial_metadata_are_sent_before_the_status,
    |_backend| async move {
        let addr = serve(router()).await;
        let mut send = connect(&addr).await;
        let w = call(&mut send, STREAM, &[stream_req("early", 0)]).await;
        assert_headers_then_trailers(&w, 0, "early headers");
        // As grpc-go: initial metadata stays initial, so headers go first.
        let w = call(&mut send, STREAM, &[stream_req("meta", 0)]).await;
        assert_headers_then_trailers(&w, 0, "initial metadata");
        assert_eq!(w.head.get("x-initial").unwrap(), "yes");
    }
);

wego_test_support::each_backend!(
    early_headers_let_a_client_see_the_call_start_before_any_message,
    |_backend| async move {
        // A bidi handler that answers only after a request: with early
        // headers, wego's client returns from the call before it sends.
        let router = GrpcRouter::new().streaming(
            BIDI,
            |r: Request<RequestStream<EchoRequest>>| async move {
                let s = r.into_inner().map(|m| {
                    m.map(|m| EchoResponse {
                        action: m.action,
                        msg: m.msg,
                    })
                });
                let mut resp = Response::new(Box::pin(s) as BoxStream<EchoResponse>);
                resp.set_early_headers(true);
                Ok(resp)
            },
        );
        let addr = serve(router).await;
        let ch = Channel::connect(&addr).await.unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel::<EchoRequest>(1);
        let out =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
            );
        let mut s = rt::timeout(
            HANG,
            ch.streaming::<_, _, EchoResponse>(BIDI, Request::new(out)),
        )
        .await
        .expect("the call waited for a message")
        .unwrap()
        .into_inner();
        tx.send(req("after")).await.unwrap();
        assert_eq!(s.message().await.unwrap().unwrap().msg, "after");
        drop(tx);
        assert!(s.message().await.unwrap().is_none());
    }
);

wego_test_support::each_backend!(
    wego_client_sees_a_trailers_only_answer_fail_the_call,
    |_backend| async move {
        let addr = serve(router()).await;
        let ch = Channel::connect(&addr).await.unwrap();
        let err = ch
            .server_streaming::<_, EchoResponse>(STREAM, Request::new(stream_req("", 0)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        let err = ch
            .streaming::<_, _, EchoResponse>(
                LAZY_BIDI,
                Request::new(futures_util::stream::iter([fail()])),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (Code::FailedPrecondition, "no more")
        );
    }
);
