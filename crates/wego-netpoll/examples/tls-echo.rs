//! TLS echo: an echo server behind wego-netpoll's `TlsAcceptor`.
//!
//! Shows TLS as an IO wrapper: the listener accepts plain `Conn`s, the
//! acceptor turns each into a `TlsStream`, and the echo loop reads and
//! writes it as it would any connection. The negotiated ALPN protocol
//! and server name come from `ConnInfo::tls_info`, as a server would put
//! them into each request.
//!
//! ```sh
//! # a certificate for localhost (or bring your own PEM files)
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
//!     -keyout key.pem -out cert.pem -days 30 -subj /CN=localhost \
//!     -addext subjectAltName=DNS:localhost
//! cargo run -p wego-netpoll --features tls --example tls-echo -- \
//!     --port 8443 --cert cert.pem --key key.pem
//! openssl s_client -connect 127.0.0.1:8443 -servername localhost \
//!     -CAfile cert.pem -alpn echo -quiet
//! ```
#![allow(clippy::print_stdout)] // an example talks to its user

use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::tls::{Identity, TlsAcceptor};
use wego_netpoll::{Address, ConnInfo, Listener, rt};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() -> Result<(), wego_netpoll::BoxError> {
    let port: u16 = arg("--port").map_or(Ok(8443), |p| p.parse())?;
    let (Some(cert), Some(key)) = (arg("--cert"), arg("--key")) else {
        return Err("usage: tls-echo --cert cert.pem --key key.pem [--port 8443]".into());
    };
    // Reading PEM files blocks: do it before the runtime serves anything.
    let acceptor = TlsAcceptor::builder()
        .with_identity(Identity::from_pem_files(cert, key)?)
        .with_alpn_protocols(["echo"])
        .build()?;
    rt::block_on(async move {
        let listener = Listener::bind(&Address::Tcp(([127, 0, 0, 1], port).into())).await?;
        println!("tls echo on {}", listener.local_addr());
        loop {
            let conn = listener.accept().await?;
            let acceptor = acceptor.clone();
            rt::spawn(async move {
                let mut tls = match acceptor.accept(conn).await {
                    Ok(tls) => tls,
                    Err(e) => return println!("handshake refused: {e}"),
                };
                if let Some(info) = tls.tls_info() {
                    println!(
                        "{}: {} alpn={:?} sni={:?}",
                        tls.peer_addr().map(|a| a.to_string()).unwrap_or_default(),
                        info.version(),
                        info.alpn_protocol().map(String::from_utf8_lossy),
                        info.server_name(),
                    );
                }
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n @ 1..) = tls.read(&mut buf).await {
                    if tls.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
                let _ = tls.shutdown().await;
            });
        }
    })?
}
