//! The HTTP server without the router: a `tower::service_fn` that does what
//! the hyper peer in `benches/peers/http` does (match method and path, a
//! fixed content type), to compare the two servers on equal work.
//!
//! - `GET /plaintext` → `Hello, World!`
//! - `POST /echo`     → the request body
//!
//! Run: `cargo run --release -p wego-hertz --example http-raw -- --port 8080 --threads 1`
//! (`--backend polling` runs it on wego's own event loops; build with
//! `--features polling`).

use std::convert::Infallible;
use std::num::NonZeroUsize;

use http::{Request, Response, StatusCode};
use wego_hertz::{Body, Server};
use wego_netpoll::{Address, rt};

/// Answers as the hyper peer does.
pub(crate) async fn handle(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let resp = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/plaintext") => {
            let mut r = Response::new(Body::from("Hello, World!"));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
        ("POST", "/echo") => Response::new(req.into_body()),
        _ => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    };
    Ok(resp)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:8080");
    let mut threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let mut flavor = rt::Flavor::PerCore;
    let mut backend = rt::Backend::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(port)) => addr = format!("127.0.0.1:{port}"),
            ("--threads", Some(n)) => threads = n.parse()?,
            ("--flavor", Some(f)) => flavor = f.parse()?,
            ("--backend", Some(b)) => backend = b.parse()?,
            _ => {
                return Err(format!(
                    "usage: http-raw [--port N] [--threads N] [--flavor per-core|work-stealing] \
                     [--backend tokio|polling]; got {arg}"
                )
                .into());
            }
        }
    }
    let addr: Address = addr.parse()?;
    let runtime = rt::Runtime::builder()
        .backend(backend)
        .flavor(flavor)
        .worker_threads(NonZeroUsize::new(threads).ok_or("--threads must be at least 1")?)
        .build()?;
    runtime.block_on(async move {
        let server = Server::builder().build()?;
        server.serve_addr(&addr, tower::service_fn(handle)).await?;
        Ok(())
    })
}
