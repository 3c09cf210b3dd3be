//! The serving examples, exercised: `thrift-echo`, `grpc-echo`,
//! `protobuf-echo` and `custom-transport` are included here as modules (`#[path]`), their `serve`
//! functions run over loopback on every backend, and the examples' own
//! generated clients call them. A change that breaks an example's service
//! fails here, not only when someone runs it by hand.

use std::time::Duration;

use futures_util::StreamExt;
use wego_kitex::grpc::{Channel, Code, GrpcServer, Request};
use wego_kitex::thrift::Protocol;
use wego_kitex::transport::Framing;
use wego_netpoll::{Shutdown, rt};

// Each example's `main` and argument parsing are unused here.
#[allow(dead_code, clippy::all)]
#[path = "../../examples/thrift-echo.rs"]
mod thrift_echo;

#[allow(dead_code, clippy::all)]
#[path = "../../examples/grpc-echo.rs"]
mod grpc_echo;

#[allow(dead_code, clippy::all)]
#[path = "../../examples/protobuf-echo.rs"]
mod protobuf_echo;

#[allow(dead_code, clippy::all)]
#[path = "../../examples/custom-transport.rs"]
mod custom_transport;

wego_test_support::each_backend!(
    custom_transport_calls_in_memory_and_through_a_counting_connector,
    |_backend| async move {
        let report = custom_transport::run().await.unwrap();
        assert_eq!(report.greeting, "hello, pipe");
        assert_eq!(
            report.thrift_replies,
            vec![bytes::Bytes::from_static(b"\x00"); 3]
        );
        // The pool reuses the one connection its connector opened.
        assert_eq!(report.thrift_connections, 1);
    }
);

wego_test_support::each_backend!(
    thrift_echo_answers_every_framing_and_protocol,
    |_backend| async move {
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let shutdown = Shutdown::new();
        let server = rt::spawn(thrift_echo::serve(listener, shutdown.clone()));
        for framing in [
            Framing::TtHeader,
            Framing::THeader,
            Framing::Framed,
            Framing::Buffered,
        ] {
            for protocol in [Protocol::Binary, Protocol::Compact] {
                let msg = format!("hello over {framing:?}/{protocol:?}");
                let resp = thrift_echo::call(addr.clone(), framing, protocol, msg.clone())
                    .await
                    .unwrap_or_else(|e| panic!("{framing:?}/{protocol:?}: {e}"));
                assert_eq!(resp.action, "echo");
                assert_eq!(resp.msg, msg.as_str());
            }
        }

        // The oneway method through the example's generated client.
        use thrift_echo::generated::echo_service::EchoServerClient;
        use thrift_echo::generated::echo_types::echo::Request as EchoRequest;
        let client = EchoServerClient::new(
            wego_kitex::client::Client::builder(addr.clone())
                .build()
                .unwrap(),
        );
        client
            .notify(EchoRequest {
                action: "notify".into(),
                msg: "ping".into(),
            })
            .await
            .unwrap();
        let resp = client
            .echo(EchoRequest {
                action: "after".into(),
                msg: "notify".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            (resp.action.as_str(), resp.msg.as_str()),
            ("after", "notify")
        );

        drop(client);
        assert_eq!(shutdown.shutdown(Duration::from_secs(5)).await.forced, 0);
        server.await.unwrap().unwrap();
    }
);

wego_test_support::each_backend!(
    grpc_echo_serves_unary_and_every_stream_kind,
    |_backend| async move {
        use grpc_echo::echo;
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let server = GrpcServer::default();
        let task = rt::spawn(grpc_echo::serve(server.clone(), listener));

        let client = echo::EchoServerClient::new(Channel::connect(&addr).await.unwrap());
        let req = |msg: &str| echo::Request {
            action: "echo".into(),
            msg: msg.into(),
        };

        let r = client.echo(Request::new(req("one"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "one");

        let mut s = client
            .echo_server_stream(Request::new(req("many")))
            .await
            .unwrap()
            .into_inner();
        let mut got = Vec::new();
        while let Some(m) = s.message().await.unwrap() {
            got.push((m.action, m.msg));
        }
        let want: Vec<(String, String)> = (0..3)
            .map(|i| (format!("echo#{i}"), "many".to_owned()))
            .collect();
        assert_eq!(got, want);

        let r = client
            .echo_client_stream(Request::new(futures_util::stream::iter(vec![
                req("a"),
                req("b"),
                req("c"),
            ])))
            .await
            .unwrap();
        assert_eq!(
            (r.get_ref().action.as_str(), r.get_ref().msg.as_str()),
            ("joined", "a b c")
        );

        let s = client
            .echo_bidi_stream(Request::new(futures_util::stream::iter(vec![
                req("x"),
                req("y"),
            ])))
            .await
            .unwrap()
            .into_inner();
        let got: Vec<String> = s.map(|m| m.unwrap().msg).collect().await;
        assert_eq!(got, ["x", "y"]);

        // The example's own client path (it prints each reply) completes too.
        grpc_echo::client(addr, "from the example client".into())
            .await
            .unwrap();

        drop(client);
        server.shutdown(Duration::from_secs(5)).await;
        task.await.unwrap();
    }
);

wego_test_support::each_backend!(
    protobuf_echo_serves_both_framings_and_grpc_on_one_port,
    |_backend| async move {
        use protobuf_echo::echo;
        use wego_kitex::protobuf::ProtobufFraming as PbFraming;
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let shutdown = Shutdown::new();
        let sd = shutdown.clone();
        // The example's error type is not `Send`; the task reports it as text.
        let server = rt::spawn(async move {
            protobuf_echo::serve(listener, sd)
                .await
                .map_err(|e| e.to_string())
        });

        for framing in [PbFraming::TtHeader, PbFraming::Framed] {
            let msg = format!("hello over {framing:?}");
            let r = protobuf_echo::call(addr.clone(), framing, msg.clone())
                .await
                .unwrap_or_else(|e| panic!("{framing:?}: {e}"));
            assert_eq!((r.action.as_str(), r.msg.as_str()), ("echo", msg.as_str()));
        }

        // gRPC on the same port, from the same handler: unary works, streams are
        // refused with UNIMPLEMENTED, as the example documents.
        let client = echo::EchoServerClient::new(Channel::connect(&addr).await.unwrap());
        let r = client
            .echo(Request::new(echo::Request {
                action: "grpc".into(),
                msg: "same port".into(),
            }))
            .await
            .unwrap();
        assert_eq!(r.get_ref().msg, "same port");
        // A trailers-only refusal may surface at the call or at the first read.
        let err = match client
            .echo_server_stream(Request::new(echo::Request {
                action: "s".into(),
                msg: "m".into(),
            }))
            .await
        {
            Ok(resp) => match resp.into_inner().message().await {
                Err(status) => status,
                Ok(m) => panic!("streaming must be refused, got {m:?}"),
            },
            Err(status) => status,
        };
        assert_eq!(err.code(), Code::Unimplemented);

        drop(client);
        assert_eq!(shutdown.shutdown(Duration::from_secs(5)).await.forced, 0);
        server.await.unwrap().unwrap();
    }
);
