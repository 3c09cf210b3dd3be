//! Fetching a URL with wego-hertz's HTTP client.
//!
//! The client pools connections per origin and streams bodies both ways:
//! the response body arrives frame by frame as the program reads it, so a
//! large download never sits whole in memory. The program prints the
//! status line and headers to stderr and the body to stdout:
//!
//! ```text
//! cargo run -p wego-hertz --example http-client -- http://127.0.0.1:8080/
//! cargo run -p wego-hertz --example http-client -- --http2 http://127.0.0.1:8080/
//! cargo run -p wego-hertz --features tls --example http-client -- \
//!     --cacert ca.pem https://localhost:8443/
//! ```
//!
//! - `--http2`: HTTP/2 only. For `http://` the client speaks it without
//!   asking (prior knowledge, for servers known to speak h2c); for
//!   `https://` it asks by ALPN and fails if the server does not agree.
//!   Without the flag, `https://` still offers h2 by ALPN and takes
//!   HTTP/1.1 if the server prefers it.
//! - `--cacert FILE` (feature `tls`): trusts the PEM certificates in FILE
//!   besides the system's roots, for a server with a private CA.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use http::{Request, Response, Version};
use http_body_util::BodyExt;
use wego_hertz::{Body, Client};
use wego_netpoll::rt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the command line asks for.
#[derive(Debug, Default)]
pub(crate) struct Options {
    /// The URL to fetch.
    pub(crate) url: String,
    /// HTTP/2 only: prior knowledge for `http://`, ALPN for `https://`.
    pub(crate) http2: bool,
    /// A PEM file of extra trusted certificates.
    pub(crate) cacert: Option<PathBuf>,
}

/// Reads `[--http2] [--cacert FILE] URL`.
pub(crate) fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--http2" => options.http2 = true,
            "--cacert" => {
                let file = args.next().ok_or("--cacert needs a file")?;
                options.cacert = Some(file.into());
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ if options.url.is_empty() => options.url = arg,
            _ => return Err("only one URL".to_owned()),
        }
    }
    if options.url.is_empty() {
        return Err("no URL".to_owned());
    }
    Ok(options)
}

/// The client `options` ask for. Reads the `--cacert` file and the
/// system's roots (blocking file reads: call it before serving anything).
pub(crate) fn build_client(options: &Options) -> Result<Client, BoxError> {
    let mut builder = Client::builder()
        .with_timeout(Duration::from_secs(30))
        .with_read_idle_timeout(Duration::from_secs(10));
    if options.http2 {
        builder = builder.with_http2_prior_knowledge();
    }
    if let Some(file) = &options.cacert {
        builder = with_cacert(builder, file)?;
    }
    Ok(builder.build()?)
}

#[cfg(feature = "tls")]
fn with_cacert(
    builder: wego_hertz::client::ClientBuilder,
    file: &std::path::Path,
) -> Result<wego_hertz::client::ClientBuilder, BoxError> {
    use wego_netpoll::tls::RootCerts;
    let pem = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    // The system's roots and the file's; a system without roots still
    // trusts the file.
    let roots = match RootCerts::native() {
        Ok(mut roots) => {
            roots.add_pem(&pem)?;
            roots
        }
        Err(_) => RootCerts::from_pem(&pem)?,
    };
    Ok(builder.with_tls_roots(roots))
}

#[cfg(not(feature = "tls"))]
fn with_cacert(
    _: wego_hertz::client::ClientBuilder,
    _: &std::path::Path,
) -> Result<wego_hertz::client::ClientBuilder, BoxError> {
    Err("--cacert needs the tls feature (cargo run --features tls ...)".into())
}

/// Sends `GET url` and writes the response body to `out` as it streams in;
/// returns the response head. With `http2`, the request asks for HTTP/2
/// (for `https://`, the server must agree by ALPN).
pub(crate) async fn fetch(
    client: &Client,
    url: &str,
    http2: bool,
    out: &mut impl Write,
) -> Result<Response<()>, BoxError> {
    let mut req = Request::get(url).body(Body::empty())?;
    if http2 {
        *req.version_mut() = Version::HTTP_2;
    }
    let resp = client.request(req).await?;
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

fn main() -> Result<(), BoxError> {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("http-client: {e}\nusage: http-client [--http2] [--cacert FILE] URL");
            std::process::exit(2);
        }
    };
    let client = build_client(&options)?;
    rt::block_on(async move {
        let head = fetch(
            &client,
            &options.url,
            options.http2,
            &mut std::io::stdout().lock(),
        )
        .await?;
        eprintln!("{:?} {}", head.version(), head.status());
        for (name, value) in head.headers() {
            eprintln!("{name}: {}", String::from_utf8_lossy(value.as_bytes()));
        }
        Ok(())
    })?
}
