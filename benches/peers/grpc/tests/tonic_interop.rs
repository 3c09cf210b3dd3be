//! tonic as a peer for the echo service: tonic's client against wego's
//! server and wego's client against tonic's server, every call kind, plus
//! status and metadata in both directions; and tonic's client against
//! wego's interop TestService for early failures (Trailers-Only).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::disallowed_methods)] // tonic runs on tokio directly

/// tonic's generated interop client (grpc.testing).
mod tonic_testing {
    tonic::include_proto!("grpc.testing");
}

/// wego's generated interop code and its TestService, as the interop
/// example serves it.
use wego_idl_gen::grpc_testing as pb;
#[allow(dead_code)]
#[path = "../../../../crates/wego-kitex/examples/interop/service.rs"]
mod service;

mod common;

use std::net::SocketAddr;

use wego_grpc_peers::{TonicEcho, WegoEcho, tonic_echo, wego_echo};
use wego_kitex::grpc::{Channel, Code, GrpcServer, Request};
use wego_netpoll::{Address, Listener};

use common::{tonic_calls_every_kind, treq, wego_calls_every_kind, wreq};

async fn wego_server() -> SocketAddr {
    let listener = Listener::bind(&Address::loopback()).await.unwrap();
    let addr = listener.local_addr().as_tcp().unwrap();
    tokio::spawn(async move {
        GrpcServer::default()
            .serve(listener, wego_echo::echo_server_router(WegoEcho))
            .await
    });
    addr
}

async fn tonic_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(tonic_echo::echo_server_server::EchoServerServer::new(
                TonicEcho,
            ))
            .serve_with_incoming(incoming),
    );
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tonic_client_against_wego_server() {
    let addr = wego_server().await;
    let mut c = tonic_echo::echo_server_client::EchoServerClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut r = tonic::Request::new(treq("hello"));
    r.metadata_mut().insert("x-user", "u1".parse().unwrap());
    assert_eq!(c.echo(r).await.unwrap().into_inner().msg, "hello");

    tonic_calls_every_kind(&mut c).await;

    // An unknown method is UNIMPLEMENTED for tonic too.
    drop(c);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let err = grpc
        .unary::<_, tonic_echo::Response, _>(
            tonic::Request::new(treq("x")),
            "/echo.EchoServer/Nope".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wego_client_against_tonic_server() {
    let addr = tonic_server().await;
    let ch = Channel::connect(&Address::Tcp(addr)).await.unwrap();
    wego_calls_every_kind(&ch).await;

    let err = ch
        .unary::<_, wego_echo::Response>("/echo.EchoServer/Nope", Request::new(wreq("x")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
}

async fn wego_interop_server() -> SocketAddr {
    let listener = Listener::bind(&Address::loopback()).await.unwrap();
    let addr = listener.local_addr().as_tcp().unwrap();
    tokio::spawn(async move {
        GrpcServer::default()
            .serve(listener, pb::test_service_router(service::TestServer))
            .await
    });
    addr
}

fn echo_status(message: &str) -> Option<tonic_testing::EchoStatus> {
    Some(tonic_testing::EchoStatus {
        code: 2,
        message: message.into(),
    })
}

/// A status before any message is a Trailers-Only answer, which tonic's
/// client reports as the call failing (not as a stream whose first item is
/// the error); a status after a message ends the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tonic_client_sees_an_early_failure_fail_the_call() {
    use tonic_testing::test_service_client::TestServiceClient;
    use tonic_testing::{ResponseParameters, StreamingOutputCallRequest};

    let addr = wego_interop_server().await;
    let mut c = TestServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let failing = StreamingOutputCallRequest {
        response_status: echo_status("test status message"),
        ..Default::default()
    };
    let err = c
        .full_duplex_call(futures_util::stream::iter(vec![failing.clone()]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unknown);
    assert_eq!(err.message(), "test status message");

    let err = c.streaming_output_call(failing.clone()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unknown);

    let err = c
        .unary_call(tonic_testing::SimpleRequest {
            response_status: echo_status("unary"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.message()), (tonic::Code::Unknown, "unary"));

    // One message first: the call succeeds, its stream then fails.
    let one = StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size: 3,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut s = c
        .full_duplex_call(futures_util::stream::iter(vec![one, failing]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        s.message()
            .await
            .unwrap()
            .unwrap()
            .payload
            .unwrap()
            .body
            .len(),
        3
    );
    let err = s.message().await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unknown);
    assert_eq!(err.message(), "test status message");
}
