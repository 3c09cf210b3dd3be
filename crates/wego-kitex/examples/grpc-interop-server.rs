//! grpc-interop-server: the gRPC interop `TestService`
//! (idl/grpc/testing/test.proto) for other implementations' interop clients,
//! plus `grpc.health.v1`.
//!
//! ```text
//! cargo run -p wego-kitex --example grpc-interop-server -- --port 10000 [--backend tokio|polling]
//! ```

#![allow(clippy::print_stdout)] // an example prints its address

use std::error::Error;

use wego_kitex::grpc::Server;
use wego_kitex::grpc::health::HealthReporter;
use wego_netpoll::{Address, Listener, rt};

#[allow(missing_docs, unreachable_pub, dead_code, clippy::all)]
mod pb {
    include!("generated/grpc.testing.rs");
}
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
    let backend: rt::Backend = args
        .iter()
        .position(|a| a == "--backend")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(rt::Backend::default()), |b| b.parse())?;
    let addr: Address = format!("0.0.0.0:{port}").parse()?;
    let runtime = rt::Runtime::builder().backend(backend).build()?;
    runtime.block_on(async move {
        let listener = Listener::bind(&addr).await?;
        println!("grpc interop server on {}", listener.local_addr());
        let router =
            pb::test_service_router(service::TestServer).merge(HealthReporter::new().router());
        Server::default().serve(listener, router).await;
        Ok::<_, Box<dyn Error>>(())
    })
}
