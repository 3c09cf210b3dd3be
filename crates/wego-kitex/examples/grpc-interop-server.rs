//! grpc-interop-server: the gRPC interop `TestService`
//! (idl/grpc/testing/test.proto) for other implementations' interop clients,
//! plus `grpc.health.v1`.
//!
//! ```text
//! cargo run -p wego-kitex --example grpc-interop-server -- --port 10000 [--backend tokio|polling]
//! ```
//!
//! With `--tls-cert CHAIN.pem --tls-key KEY.pem` it serves over TLS with
//! ALPN `h2`, for interop clients run with `--use_tls`.

#![allow(clippy::print_stdout)] // an example prints its address

use std::error::Error;

use wego_kitex::grpc::GrpcServer;
use wego_kitex::grpc::health::HealthReporter;
use wego_netpoll::tls::{Identity, TlsAcceptor};
use wego_netpoll::{Address, Listener, rt};

use wego_idl_gen::grpc_testing as pb;
#[path = "interop/service.rs"]
mod service;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(10000);
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let tls = match (flag("--tls-cert"), flag("--tls-key")) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(
            TlsAcceptor::builder()
                .with_identity(Identity::from_pem_files(cert, key)?)
                .with_alpn_protocols(["h2"])
                .build()?,
        ),
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let backend: rt::Backend =
        flag("--backend").map_or(Ok(rt::Backend::default()), |b| b.parse())?;
    let addr: Address = format!("0.0.0.0:{port}").parse()?;
    let runtime = rt::Runtime::builder().backend(backend).build()?;
    runtime.block_on(async move {
        let listener = Listener::bind(&addr).await?;
        let scheme = if tls.is_some() { "tls" } else { "plaintext" };
        println!(
            "grpc interop server on {} ({scheme})",
            listener.local_addr()
        );
        let router =
            pb::test_service_router(service::TestServer).merge(HealthReporter::new().router());
        let server = GrpcServer::default();
        match tls {
            Some(acceptor) => {
                server
                    .serve_incoming(acceptor.incoming(listener), router)
                    .await
            }
            None => server.serve(listener, router).await,
        }
        Ok::<_, Box<dyn Error>>(())
    })
}
