//! Shared pieces of the gRPC tests: the echo messages (as in idl/echo.proto)
//! and a server started on loopback or serving an in-memory pipe.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::DuplexStream;
use wego_kitex::grpc::{
    BoxStream, Channel, GrpcRouter, GrpcServer, RawRequest, RawResponse, Request, RequestStream,
    Response, Status,
};
use wego_netpoll::rt::JoinHandle;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct EchoRequest {
    #[prost(string, tag = "1")]
    pub action: String,
    #[prost(string, tag = "2")]
    pub msg: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct EchoResponse {
    #[prost(string, tag = "1")]
    pub action: String,
    #[prost(string, tag = "2")]
    pub msg: String,
}

pub(crate) const UNARY: &str = "/echo.EchoServer/Echo";
pub(crate) const SERVER_STREAM: &str = "/echo.EchoServer/EchoServerStream";
pub(crate) const CLIENT_STREAM: &str = "/echo.EchoServer/EchoClientStream";
pub(crate) const BIDI: &str = "/echo.EchoServer/EchoBidiStream";

pub(crate) fn req(msg: &str) -> EchoRequest {
    EchoRequest {
        action: "echo".into(),
        msg: msg.into(),
    }
}

/// Answers by `action`: "echo" echoes, "fail" returns the status named in
/// `msg` as "code:message", "sleep" sleeps `msg` milliseconds.
async fn answer(r: EchoRequest) -> Result<EchoResponse, Status> {
    match r.action.as_str() {
        "fail" => {
            let (code, message) = r.msg.split_once(':').unwrap_or(("2", "failed"));
            Err(Status::new(
                wego_kitex::grpc::Code::from_i32(code.parse().unwrap_or(2)),
                message,
            ))
        }
        "sleep" => {
            let ms: u64 = r.msg.parse().unwrap_or(0);
            wego_netpoll::rt::sleep(Duration::from_millis(ms)).await;
            Ok(EchoResponse {
                action: r.action,
                msg: r.msg,
            })
        }
        _ => Ok(EchoResponse {
            action: r.action,
            msg: r.msg,
        }),
    }
}

pub(crate) fn echo_router() -> GrpcRouter {
    GrpcRouter::new()
        .unary(UNARY, |r: Request<EchoRequest>| async move {
            let md = r.metadata().clone();
            let mut resp = Response::new(answer(r.into_inner()).await?);
            // Echo metadata back: x-echo-* as headers, x-trail-* as trailers.
            for (k, v) in md.iter() {
                let v = v.to_vec();
                if k.starts_with("x-echo") {
                    resp.metadata_mut().insert_raw(k, &v).unwrap();
                } else if k.starts_with("x-trail") {
                    resp.trailers_mut().insert_raw(k, &v).unwrap();
                }
            }
            Ok(resp)
        })
        .server_streaming(SERVER_STREAM, |r: Request<EchoRequest>| async move {
            let n: usize = r.get_ref().action.parse().unwrap_or(3);
            let msg = r.into_inner().msg;
            let s = futures_util::stream::iter((0..n).map(move |i| {
                Ok(EchoResponse {
                    action: i.to_string(),
                    msg: msg.clone(),
                })
            }));
            Ok(Response::new(Box::pin(s) as BoxStream<EchoResponse>))
        })
        .client_streaming(
            CLIENT_STREAM,
            |r: Request<RequestStream<EchoRequest>>| async move {
                let mut s = r.into_inner();
                let mut all = String::new();
                while let Some(m) = s.message().await? {
                    all.push_str(&m.msg);
                }
                Ok(Response::new(EchoResponse {
                    action: "joined".into(),
                    msg: all,
                }))
            },
        )
        .streaming(BIDI, |r: Request<RequestStream<EchoRequest>>| async move {
            let s = r.into_inner().then(|m| async move { answer(m?).await });
            let mut resp = Response::new(Box::pin(s) as BoxStream<EchoResponse>);
            // It answers only after a request, and the tests' clients open
            // the call before they send: the headers must not wait.
            resp.set_early_headers(true);
            Ok(resp)
        })
}

/// Starts `server` with `router` on loopback and connects a channel.
pub(crate) async fn start_with(server: GrpcServer, router: GrpcRouter) -> (Channel, GrpcServer) {
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let s = server.clone();
    wego_netpoll::rt::spawn(async move { s.serve(listener, router).await });
    let ch = Channel::connect(&addr).await.unwrap();
    (ch, server)
}

pub(crate) async fn start(router: GrpcRouter) -> Channel {
    start_with(GrpcServer::default(), router).await.0
}

/// Serves one in-memory pipe with `server` and `svc` on its own task, for
/// the paused-clock tests; returns the client's end and the task, whose
/// output is the connection's result.
pub(crate) async fn serve_pipe<S>(
    server: &GrpcServer,
    svc: S,
) -> (DuplexStream, JoinHandle<Result<(), Status>>)
where
    S: tower_service::Service<RawRequest, Response = RawResponse, Error = Status>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let (client, io) = tokio::io::duplex(64 * 1024);
    let s = server.clone();
    let task = wego_netpoll::rt::spawn(async move { s.serve_connection(io, svc).await });
    crate::clock::settle().await;
    (client, task)
}

/// A channel over an in-memory pipe to `server` serving `svc` (see
/// [`serve_pipe`]), for the paused-clock tests.
pub(crate) async fn pipe_channel<S>(
    server: &GrpcServer,
    svc: S,
) -> (Channel, JoinHandle<Result<(), Status>>)
where
    S: tower_service::Service<RawRequest, Response = RawResponse, Error = Status>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let (io, task) = serve_pipe(server, svc).await;
    let ch = Channel::builder().handshake(io).await.unwrap();
    (ch, task)
}

/// A stream of echo requests from strings.
pub(crate) fn requests(
    msgs: &[&str],
) -> impl futures_core::Stream<Item = EchoRequest> + Send + 'static {
    let v: Vec<EchoRequest> = msgs.iter().map(|m| req(m)).collect();
    futures_util::stream::iter(v)
}
