//! volo-thrift, the other Rust Thrift implementation, against wego-kitex:
//! volo's client calls our server and our client calls volo's server, over
//! TTHeader (volo's TTHeader-over-Framed) and Framed, with the echo IDL.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::disallowed_methods)] // volo runs on tokio directly

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use volo_thrift::codec::default::DefaultMakeCodec;
use wego_kitex::client::{Client, Mode};
use wego_kitex::transport::Framing;
use wego_netpoll::{Address, Listener, rt};
use wego_thrift_peers::{VoloEcho, free_port, volo_echo, wego_echo, wego_server};

use volo_echo::volo_gen::echo as v;
use wego_echo::echo_types::echo as w;

fn runtime() -> rt::Runtime {
    rt::Runtime::builder()
        .worker_threads(NonZeroUsize::new(2).unwrap())
        .build()
        .unwrap()
}

#[test]
fn volo_client_calls_our_server() {
    runtime().block_on(async {
        let listener = Listener::bind(&Address::loopback()).await.unwrap();
        let addr = listener.local_addr().as_tcp().unwrap();
        rt::spawn(async move { wego_server().build().unwrap().serve(listener).await });
        let req = || v::Request {
            action: "a".into(),
            msg: "hello volo".into(),
        };
        let ttheader = v::EchoServerClientBuilder::new("echo")
            .address(addr)
            .build();
        for _ in 0..3 {
            let r = ttheader.echo(req()).await.unwrap();
            assert_eq!((r.action.as_str(), r.msg.as_str()), ("a", "hello volo"));
        }
        ttheader.notify(req()).await.unwrap();
        let framed = v::EchoServerClientBuilder::new("echo")
            .address(addr)
            .make_codec(DefaultMakeCodec::framed())
            .build();
        for _ in 0..3 {
            assert_eq!(framed.echo(req()).await.unwrap().msg.as_str(), "hello volo");
        }
    });
}

#[test]
fn our_client_calls_a_volo_server() {
    runtime().block_on(async {
        let port = free_port().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        rt::spawn(async move {
            let _ = v::EchoServerServer::new(VoloEcho)
                .run(volo::net::Address::from(addr))
                .await;
        });
        for framing in [Framing::TtHeader, Framing::Framed] {
            for mode in [
                Mode::Pooled {
                    max_idle: 8,
                    idle_timeout: Duration::from_secs(30),
                },
                Mode::Short,
            ] {
                let inner = Client::builder(Address::Tcp(addr))
                    .with_framing(framing)
                    .with_mode(mode)
                    .with_callee("echo")
                    .build()
                    .unwrap();
                let client = wego_echo::echo_service::EchoServerClient::new(inner);
                // The server may still be binding: retry the first call until
                // it connects, bounded by a deadline that only a hang reaches.
                let mut first = None;
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                while std::time::Instant::now() < deadline {
                    match client
                        .echo(w::Request {
                            action: "b".into(),
                            msg: "hi".into(),
                        })
                        .await
                    {
                        Ok(r) => {
                            first = Some(r);
                            break;
                        }
                        Err(e) if e.is_connect() => rt::sleep(Duration::from_millis(20)).await,
                        Err(e) => panic!("{framing:?}: {e}"),
                    }
                }
                let r = first.expect("volo server did not start");
                assert_eq!((r.action.as_str(), r.msg.as_str()), ("b", "hi"));
                client
                    .notify(w::Request {
                        action: "n".into(),
                        msg: "x".into(),
                    })
                    .await
                    .unwrap();
            }
        }
        // Kitex-style multiplexing over TTHeader: concurrent calls on one connection.
        let inner = Client::builder(Address::Tcp(addr))
            .with_mode(Mode::Multiplexed)
            .build()
            .unwrap();
        let client = wego_echo::echo_service::EchoServerClient::new(inner);
        let mut calls = Vec::new();
        for i in 0..20 {
            let c = client.clone();
            calls.push(rt::spawn(async move {
                let r = c
                    .echo(w::Request {
                        action: "m".into(),
                        msg: format!("{i}").into(),
                    })
                    .await
                    .unwrap();
                assert_eq!(r.msg.as_str(), format!("{i}"));
            }));
        }
        for c in calls {
            c.await.unwrap();
        }
    });
}
