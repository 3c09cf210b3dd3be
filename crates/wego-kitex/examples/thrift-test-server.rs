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
//! With `--tls-cert CHAIN.pem --tls-key KEY.pem` it serves the same over
//! TLS (`thrift_test_client.py --tls-ca CA.pem`).
//!
//! The types and service code (`wego_idl_gen::thrift_test`) are wego-build's
//! output for `idl/ThriftTest.thrift`, generated at build time.

#[path = "support/thrift_test.rs"]
mod thrift_test;

use wego_kitex::BoxError;
use wego_netpoll::tls::{Identity, TlsAcceptor};
use wego_netpoll::{Address, Listener, rt};

const USAGE: &str =
    "usage: [--port N] [--backend tokio|polling] [--tls-cert CHAIN.pem --tls-key KEY.pem]";

fn main() -> Result<(), BoxError> {
    let mut port = 9090u16;
    let (mut cert, mut key) = (None, None);
    let mut backend = rt::Backend::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            "--tls-cert" => cert = Some(args.next().ok_or("--tls-cert needs a file")?),
            "--tls-key" => key = Some(args.next().ok_or("--tls-key needs a file")?),
            "--backend" => backend = args.next().ok_or("--backend needs a value")?.parse()?,
            other => return Err(format!("unknown argument {other}; {USAGE}").into()),
        }
    }
    let tls = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(
            TlsAcceptor::builder()
                .with_identity(Identity::from_pem_files(cert, key)?)
                .build()?,
        ),
        _ => return Err(format!("--tls-cert and --tls-key go together; {USAGE}").into()),
    };
    let runtime = rt::Runtime::builder().backend(backend).build()?;
    runtime.block_on(async move {
        let server = thrift_test::builder().build()?;
        let listener = Listener::bind(&Address::Tcp(([127, 0, 0, 1], port).into())).await?;
        let scheme = if tls.is_some() { "tls" } else { "plaintext" };
        eprintln!(
            "thrift-test-server listening on {} ({scheme})",
            listener.local_addr()
        );
        match tls {
            Some(acceptor) => server.serve_incoming(acceptor.incoming(listener)).await,
            None => server.serve(listener).await,
        }
        Ok::<_, BoxError>(())
    })
}
