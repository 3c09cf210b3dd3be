//! interop-server: every interop service on one port. Apache Thrift's
//! `ThriftTest` (and `SecondService`, `idl/ThriftTest.thrift`) on every
//! framing and protocol the server detects from the first bytes (TTHeader,
//! THeader, Framed, Buffered; binary and compact), and the gRPC interop
//! `TestService` (`idl/grpc/testing/test.proto`, plus `grpc.health.v1`)
//! over HTTP/2 on the same listener.
//!
//! ```text
//! cargo run -p wego-kitex --example interop-server -- --port 9090 [--host 0.0.0.0]
//! python3 crates/wego-kitex/tests/peers/thrift_test_client.py --port 9090 --transport framed --protocol compact
//! cargo run -p wego-kitex --example grpc-interop-client -- --port 9090
//! ```
//!
//! The Kitex server sniffs each connection: the HTTP/2 preface goes to the
//! gRPC server (`grpc::Http2Handler`), anything else is a Thrift framing.
//! Services the gRPC router does not know, such as the interop
//! `UnimplementedService`, are answered with UNIMPLEMENTED.
//! `tests/it/interop_one_port.rs` serves this file's [`serve`] over
//! loopback and drives it with Python's `thrift` and `grpcio`.

use std::net::{IpAddr, SocketAddr};

use wego_idl_gen::grpc_testing as pb;
use wego_kitex::BoxError;
use wego_kitex::grpc::health::HealthReporter;
use wego_kitex::grpc::{GrpcServer, Http2Handler};
use wego_netpoll::{Address, Listener, Shutdown, rt};

#[path = "support/thrift_test.rs"]
mod thrift_test;

#[path = "interop/service.rs"]
mod service;

/// Serves ThriftTest and the gRPC TestService on `listener` until
/// `shutdown` drains it.
///
/// # Errors
///
/// Fails if the server's configuration is rejected.
pub(crate) async fn serve(listener: Listener, shutdown: Shutdown) -> Result<(), BoxError> {
    let grpc = pb::test_service_router(service::TestServer).merge(HealthReporter::new().router());
    let server = thrift_test::builder()
        .with_http2_handler(Http2Handler::new(GrpcServer::default(), grpc).into_arc())
        .build()?;
    // The caller's `shutdown` starts the server's own graceful shutdown.
    let signal = async move { shutdown.watcher().draining().await };
    server.serve_with_shutdown(listener, signal).await;
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let mut port = 9090u16;
    let mut host = IpAddr::from([127, 0, 0, 1]);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            "--host" => host = args.next().ok_or("--host needs a value")?.parse()?,
            other => {
                return Err(
                    format!("unknown argument {other}; usage: [--host IP] [--port N]").into(),
                );
            }
        }
    }
    let addr = Address::Tcp(SocketAddr::new(host, port));
    rt::block_on(async move {
        let listener = Listener::bind(&addr).await?;
        eprintln!(
            "interop-server: Thrift and gRPC on {}",
            listener.local_addr()
        );
        serve(listener, Shutdown::new()).await
    })?
}
