//! tonic as a peer for the echo service: tonic's client against wego's
//! server and wego's client against tonic's server, every call kind, plus
//! status and metadata in both directions.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::disallowed_methods)] // tonic runs on tokio directly

use std::net::SocketAddr;

use futures_util::StreamExt;
use wego_grpc_peers::{TonicEcho, WegoEcho, tonic_echo, wego_echo};
use wego_kitex::grpc::{Channel, Code, Request, Server};
use wego_netpoll::{Address, Listener};

async fn wego_server() -> SocketAddr {
    let listener = Listener::bind(&Address::loopback()).await.unwrap();
    let addr = listener.local_addr().as_tcp().unwrap();
    tokio::spawn(async move {
        Server::default()
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

fn treq(msg: &str) -> tonic_echo::Request {
    tonic_echo::Request {
        action: "echo".into(),
        msg: msg.into(),
    }
}

fn wreq(msg: &str) -> wego_echo::Request {
    wego_echo::Request {
        action: "echo".into(),
        msg: msg.into(),
    }
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

    let s = c
        .echo_server_stream(tonic_echo::Request {
            action: "4".into(),
            msg: "m".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let got: Vec<String> = s.map(|m| m.unwrap().action).collect().await;
    assert_eq!(got, ["0", "1", "2", "3"]);

    let reqs = futures_util::stream::iter(vec![treq("a"), treq("b"), treq("c")]);
    assert_eq!(
        c.echo_client_stream(reqs).await.unwrap().into_inner().msg,
        "abc"
    );

    let reqs = futures_util::stream::iter(vec![treq("x"), treq("y")]);
    let got: Vec<String> = c
        .echo_bidi_stream(reqs)
        .await
        .unwrap()
        .into_inner()
        .map(|m| m.unwrap().msg)
        .collect()
        .await;
    assert_eq!(got, ["x", "y"]);

    // A large message crosses several HTTP/2 frames and window updates.
    let big = "z".repeat(3 * 1024 * 1024);
    assert_eq!(
        c.echo(treq(&big)).await.unwrap().into_inner().msg.len(),
        big.len()
    );

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
    let c = wego_echo::EchoServerClient::new(ch.clone());
    assert_eq!(
        c.echo(Request::new(wreq("hello")))
            .await
            .unwrap()
            .get_ref()
            .msg,
        "hello"
    );

    let mut s = c
        .echo_server_stream(Request::new(wego_echo::Request {
            action: "4".into(),
            msg: "m".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(m) = s.message().await.unwrap() {
        got.push(m.action);
    }
    assert_eq!(got, ["0", "1", "2", "3"]);

    let r = c
        .echo_client_stream(Request::new(futures_util::stream::iter(vec![
            wreq("a"),
            wreq("b"),
        ])))
        .await
        .unwrap();
    assert_eq!(r.get_ref().msg, "ab");

    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let out =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let mut s = c
        .echo_bidi_stream(Request::new(out))
        .await
        .unwrap()
        .into_inner();
    for i in 0..10 {
        tx.send(wreq(&i.to_string())).await.unwrap();
        assert_eq!(s.message().await.unwrap().unwrap().msg, i.to_string());
    }
    drop(tx);
    assert!(s.message().await.unwrap().is_none());

    let big = "z".repeat(3 * 1024 * 1024);
    assert_eq!(
        c.echo(Request::new(wreq(&big)))
            .await
            .unwrap()
            .get_ref()
            .msg
            .len(),
        big.len()
    );

    let err = ch
        .unary::<_, wego_echo::Response>("/echo.EchoServer/Nope", Request::new(wreq("x")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
}
