//! Apache Thrift's cross-language test service (`idl/ThriftTest.thrift`)
//! served by wego-kitex: one port answers TTHeader, THeader, Framed and
//! Buffered, binary and compact, so any Thrift implementation's ThriftTest
//! client can run against it.
//!
//! ```text
//! cargo run -p wego-kitex --example thrift-test-server -- --port 9090 [--backend tokio|polling]
//! python3 crates/wego-kitex/tests/peers/thrift_test_client.py --port 9090 --transport framed --protocol compact
//! ```
//!
//! The types and service code in `gen/thrift_test.rs` are wego-build's
//! output for `idl/ThriftTest.thrift` (identical to wego-build's golden file,
//! which its tests regenerate and compare).

#[path = "support/thrift_test.rs"]
mod thrift_test;

use wego_kitex::BoxError;
use wego_netpoll::{Address, Listener, Shutdown, rt};

fn main() -> Result<(), BoxError> {
    let mut port = 9090u16;
    let mut backend = rt::Backend::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            "--backend" => backend = args.next().ok_or("--backend needs a value")?.parse()?,
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: [--port N] [--backend tokio|polling]"
                )
                .into());
            }
        }
    }
    let runtime = rt::Runtime::builder().backend(backend).build()?;
    runtime.block_on(async move {
        let server = thrift_test::builder().build()?;
        let listener = Listener::bind(&Address::Tcp(([127, 0, 0, 1], port).into())).await?;
        eprintln!("thrift-test-server listening on {}", listener.local_addr());
        server.serve(listener, Shutdown::new()).await;
        Ok::<_, BoxError>(())
    })
}
