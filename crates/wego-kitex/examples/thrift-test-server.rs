//! Apache Thrift's cross-language test service (`idl/ThriftTest.thrift`)
//! served by wego-kitex: one port answers TTHeader, THeader, Framed and
//! Buffered, binary and compact, so any Thrift implementation's ThriftTest
//! client can run against it.
//!
//! ```text
//! cargo run -p wego-kitex --example thrift-test-server -- --port 9090
//! python3 crates/wego-kitex/tests/peers/thrift_test_client.py --port 9090 --transport framed --protocol compact
//! ```
//!
//! The types and service code (`wego_idl_gen::thrift_test`) are wego-build's
//! output for `idl/ThriftTest.thrift`, generated at build time.

#[path = "support/thrift_test.rs"]
mod thrift_test;

use wego_kitex::BoxError;
use wego_netpoll::{Address, Listener, rt};

fn main() -> Result<(), BoxError> {
    let mut port = 9090u16;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            other => return Err(format!("unknown argument {other}; usage: --port N").into()),
        }
    }
    rt::block_on(async move {
        let server = thrift_test::builder().build()?;
        let listener = Listener::bind(&Address::Tcp(([127, 0, 0, 1], port).into())).await?;
        eprintln!("thrift-test-server listening on {}", listener.local_addr());
        server.serve(listener).await;
        Ok::<_, BoxError>(())
    })?
}
