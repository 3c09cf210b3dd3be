//! Every interop service on one port: the `interop-server` example's
//! `serve` over loopback answers Apache Thrift's ThriftTest on every
//! framing and protocol and the gRPC interop `TestService` on the same
//! listener. Our generated Thrift client and our gRPC interop client
//! always run; Python's `thrift` (buffered, framed and THeader; binary and
//! compact) and `grpcio` (every interop case) run when installed, and are
//! skipped with a printed reason otherwise (required in CI).

use wego_kitex::client::Client;
use wego_kitex::grpc::Channel;
use wego_kitex::thrift::Protocol;
use wego_kitex::transport::Framing;
use wego_netpoll::{Shutdown, rt};

use wego_idl_gen::thrift_test::thrifttest_service::ThriftTestClient;

use crate::grpc_interop::cases;

// The example's `main` and argument parsing are unused here.
#[allow(dead_code, clippy::all)]
#[path = "../../examples/interop-server.rs"]
mod interop_server;

wego_test_support::each_backend!(
    one_port_serves_thrift_test_on_every_framing_and_grpc_interop,
    |_backend| async move {
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let port = addr.as_tcp().unwrap().port();
        let shutdown = Shutdown::new();
        let sd = shutdown.clone();
        // The example's error type is not `Sync`; the task reports it as text.
        let server = rt::spawn(async move {
            interop_server::serve(listener, sd)
                .await
                .map_err(|e| e.to_string())
        });

        // Thrift: every framing the server detects, both protocols.
        for framing in [
            Framing::TtHeader,
            Framing::THeader,
            Framing::Framed,
            Framing::Buffered,
        ] {
            for protocol in [Protocol::Binary, Protocol::Compact] {
                let inner = Client::builder(addr.clone())
                    .with_framing(framing)
                    .with_protocol(protocol)
                    .build()
                    .unwrap();
                let client = ThriftTestClient::new(inner);
                crate::thrift_interop::call_every_method(&client).await;
            }
        }

        // gRPC on the same port: every interop case from our client.
        let ch = Channel::connect(&addr).await.unwrap();
        let mut failures = Vec::new();
        for case in cases::CASES {
            if let Err(e) = cases::run_with(case, &ch, true).await {
                failures.push(format!("{case}: {e}"));
            }
        }
        assert!(failures.is_empty(), "failed on the one port: {failures:#?}");
        drop(ch);

        // Other implementations' clients, when installed.
        let test = "one_port_serves_thrift_test_on_every_framing_and_grpc_interop";
        if let Some(python) = wego_test_support::peer::python_with(test, &["thrift"]) {
            crate::thrift_interop::python_client_passes(python, port).await;
        }
        if let Some(python) = wego_test_support::peer::python_with(test, &["grpc", "grpc_tools"]) {
            crate::grpc_interop::grpcio_client_passes(python, port).await;
        }

        shutdown.shutdown(std::time::Duration::from_secs(5)).await;
        server.await.unwrap().unwrap();
    }
);
