//! Middleware in wego-hertz: Hertz's onion model with `from_fn`, the
//! built-in layers, and where each layer applies (router, group, route).
//!
//! - every request: recovery (a panic becomes a 500 and the server keeps
//!   serving), an access log through `tracing`, a request id
//!   (`x-request-id`, echoed), gzip/brotli/zstd compression, CORS for one
//!   origin, a 2 s timeout, and a `from_fn` middleware that times the
//!   request and adds `x-elapsed-us`;
//! - the `/admin` group only: basic auth (`admin` / `secret`);
//! - the `/slow` route only: a tighter 100 ms timeout answering 503.
//!
//! Run: `cargo run -p wego-hertz --example middleware -- --port 8080`, then
//! `curl -i localhost:8080/panic`, `curl -u admin:secret localhost:8080/admin/`,
//! `curl -i --compressed localhost:8080/big`, `curl -i localhost:8080/slow`.

use std::time::{Duration, Instant};

use http::StatusCode;
use wego_hertz::extract::Request;
use wego_hertz::handler::Handler;
use wego_hertz::middleware::{
    AccessLogLayer, AuthUser, BasicAuthLayer, CompressionLayer, CorsLayer, Next, RecoveryLayer,
    RequestId, RequestIdLayer, TimeoutLayer, from_fn,
};
use wego_hertz::response::Response;
use wego_hertz::{Router, Server};
use wego_netpoll::{Address, rt};

/// Work before and after the rest of the chain, as in Hertz's `c.Next()`.
async fn timing(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let mut res = next.run(req).await;
    let us = start.elapsed().as_micros().to_string();
    if let Ok(v) = us.parse() {
        res.headers_mut().insert("x-elapsed-us", v);
    }
    res
}

pub(crate) fn app() -> Router {
    let slow = || async {
        rt::sleep(Duration::from_secs(1)).await;
        "you will not see this"
    };
    Router::new()
        .get("/", |RequestId(id): RequestId| async move {
            format!("hello, your request id is {}\n", id.to_str().unwrap_or("?"))
        })
        .get("/panic", || async {
            let v: Vec<u8> = Vec::new();
            // Indexing past the end panics; RecoveryLayer answers 500.
            format!("{}", v[1])
        })
        .get("/big", || async {
            "wego-hertz compresses this. ".repeat(500)
        })
        .get(
            "/slow",
            slow.layer(
                TimeoutLayer::new(Duration::from_millis(100))
                    .with_status(StatusCode::SERVICE_UNAVAILABLE),
            ),
        )
        .group("/admin", |g| {
            g.get("/", |AuthUser(user): AuthUser| async move {
                format!("welcome, {user}\n")
            })
            .layer(BasicAuthLayer::new("wego admin").with_user("admin", "secret"))
        })
        .layer(TimeoutLayer::new(Duration::from_secs(2)))
        .layer(from_fn(timing))
        .layer(CorsLayer::new().with_origins(["http://localhost:3000"]))
        .layer(CompressionLayer::new())
        .layer(RequestIdLayer::new())
        .layer(AccessLogLayer::new())
        .layer(RecoveryLayer::new())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:8080");
    let mut backend = rt::Backend::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(port)) => addr = format!("127.0.0.1:{port}"),
            ("--addr", Some(a)) => addr = a,
            ("--backend", Some(b)) => backend = b.parse()?,
            _ => {
                return Err(format!(
                    "usage: middleware [--port N] [--addr HOST:PORT] [--backend tokio|polling]; \
                     got {arg}"
                )
                .into());
            }
        }
    }
    let addr: Address = addr.parse()?;
    let runtime = rt::Runtime::builder().backend(backend).build()?;
    runtime.block_on(async move {
        let server = Server::builder()
            .on_run(|addr| eprintln!("middleware example listening on http://{addr}"))
            .build()?;
        server.serve_addr(&addr, app()).await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
