//! A minimal wego-hertz HTTP server, the one the load benchmarks run.
//!
//! Shows a `Router` (the application) handed to a `Server` (the HTTP/1.1
//! transport) on a runtime with a chosen number of worker threads:
//!
//! - `GET /`          → `hello from wego-hertz` (text)
//! - `GET /plaintext` → `Hello, World!`
//! - `POST /echo`     → the request body, streamed back as it arrives
//! - `GET /user/:id`  → `{"id":"<id>","name":"user <id>"}` (JSON)
//!
//! Run: `cargo run --release -p wego-hertz --example http-hello -- --port 8080`
//! (`--addr 0.0.0.0:8080` also works; `--threads N` sets worker threads;
//! `--flavor per-core|work-stealing` picks the runtime's scheduler, default
//! per-core: one single-threaded scheduler and poller per worker, each
//! connection placed on one worker for its life).

use std::num::NonZeroUsize;

use wego_hertz::extract::{Json, Path};
use wego_hertz::{Body, Router, Server};
use wego_netpoll::rt::Flavor;
use wego_netpoll::{Address, rt};

pub(crate) fn app() -> Router {
    Router::new()
        .get("/", || async { "hello from wego-hertz" })
        .get("/plaintext", || async { "Hello, World!" })
        .post("/echo", |body: Body| async move { body })
        .get("/user/:id", |Path(id): Path<String>| async move {
            Json(serde_json::json!({ "id": id, "name": format!("user {id}") }))
        })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:8080");
    let mut threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let mut flavor = Flavor::PerCore;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(port)) => addr = format!("127.0.0.1:{port}"),
            ("--addr", Some(a)) => addr = a,
            ("--threads", Some(n)) => threads = n.parse()?,
            ("--flavor", Some(f)) => flavor = f.parse()?,
            _ => {
                return Err(format!(
                    "usage: http-hello [--port N] [--addr HOST:PORT] [--threads N] \
                     [--flavor per-core|work-stealing]; got {arg}"
                )
                .into());
            }
        }
    }
    let addr: Address = addr.parse()?;
    let runtime = rt::Runtime::builder()
        .flavor(flavor)
        .worker_threads(NonZeroUsize::new(threads).ok_or("--threads must be at least 1")?)
        .build()?;
    runtime.block_on(async move {
        let server = Server::builder()
            .on_run(|addr| eprintln!("http-hello listening on http://{addr}"))
            .build()?;
        server.serve_addr(&addr, app()).await?;
        Ok(())
    })
}
