//! Fetching a URL with wego-hertz's HTTP/1.1 client.
//!
//! The client pools connections per origin and streams bodies both ways:
//! the response body arrives frame by frame as the program reads it, so a
//! large download never sits whole in memory. The program prints the
//! status line and headers to stderr and the body to stdout:
//!
//! ```text
//! cargo run -p wego-hertz --example http-client -- http://127.0.0.1:8080/
//! ```

use std::io::Write;
use std::time::Duration;

use http::Response;
use http_body_util::BodyExt;
use wego_hertz::{Body, Client};
use wego_netpoll::rt;

/// Sends `GET url` and writes the response body to `out` as it streams in;
/// returns the response head.
pub(crate) async fn fetch(
    client: &Client,
    url: &str,
    out: &mut impl Write,
) -> Result<Response<()>, Box<dyn std::error::Error + Send + Sync>> {
    let resp = client.get(url).await?;
    let (head, mut body): (_, Body) = resp.into_parts();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            // A short write to a terminal or pipe; the program has no other
            // task that this could hold up.
            out.write_all(&data)?;
        }
    }
    out.flush()?;
    Ok(Response::from_parts(head, ()))
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: http-client URL");
        std::process::exit(2);
    };
    rt::block_on(async move {
        let client = Client::builder()
            .with_timeout(Duration::from_secs(30))
            .with_read_idle_timeout(Duration::from_secs(10))
            .build()?;
        let head = fetch(&client, &url, &mut std::io::stdout().lock()).await?;
        eprintln!("{:?} {}", head.version(), head.status());
        for (name, value) in head.headers() {
            eprintln!("{name}: {}", String::from_utf8_lossy(value.as_bytes()));
        }
        Ok(())
    })?
}
