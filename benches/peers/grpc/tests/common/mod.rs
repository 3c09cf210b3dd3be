//! What both tonic test binaries share: request builders and a run of
//! every call kind from each side's client.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(dead_code)] // each test binary uses part of it

use futures_util::StreamExt;
use wego_grpc_peers::{tonic_echo, wego_echo};
use wego_kitex::grpc::{Channel, Request};

/// tonic's generated echo client over a tonic channel.
pub type TonicClient = tonic_echo::echo_server_client::EchoServerClient<tonic::transport::Channel>;

pub fn treq(msg: &str) -> tonic_echo::Request {
    tonic_echo::Request {
        action: "echo".into(),
        msg: msg.into(),
    }
}

pub fn wreq(msg: &str) -> wego_echo::Request {
    wego_echo::Request {
        action: "echo".into(),
        msg: msg.into(),
    }
}

/// Every call kind from tonic's client, and a message larger than the
/// HTTP/2 windows, so that TLS records carry many frames.
pub async fn tonic_calls_every_kind(c: &mut TonicClient) {
    assert_eq!(
        c.echo(treq("sealed")).await.unwrap().into_inner().msg,
        "sealed"
    );

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

    let big = "z".repeat(3 * 1024 * 1024);
    assert_eq!(
        c.echo(treq(&big)).await.unwrap().into_inner().msg.len(),
        big.len()
    );
}

/// Every call kind from wego's client, bidi one message at a time.
pub async fn wego_calls_every_kind(ch: &Channel) {
    let c = wego_echo::EchoServerClient::new(ch.clone());
    let r = c.echo(Request::new(wreq("sealed"))).await.unwrap();
    assert_eq!(r.get_ref().msg, "sealed");

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
    let r = c.echo(Request::new(wreq(&big))).await.unwrap();
    assert_eq!(r.get_ref().msg.len(), big.len());
}
