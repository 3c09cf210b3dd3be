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
//! connection placed on one worker for its life; `--backend tokio|polling`
//! picks the network backend, default tokio: polling is wego's own event
//! loops and needs `--features polling`; on it `--eager-reads on|off` sets
//! whether the loop reads each request before the connection's task runs,
//! and `--per-loop-listener` binds one `SO_REUSEPORT` socket per loop).
//!
//! SIGTERM or ctrl-c shuts the server down gracefully: it stops accepting,
//! lets requests in flight finish and closes idle connections, and forces
//! whatever remains after `--grace SECS` (default 10). `--header-read-timeout
//! SECS` sets how long a request head may take to arrive (default 10; the
//! reliability runs in `benches/reliability.sh` shorten it).

use std::num::NonZeroUsize;
use std::time::Duration;

use wego_hertz::extract::{Json, Path};
use wego_hertz::{Body, Router, Server};
use wego_netpoll::rt::{Backend, Flavor};
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
    let mut backend = Backend::default();
    let mut eager_reads = None;
    let mut per_loop = false;
    let mut grace = Duration::from_secs(10);
    let mut builder = Server::builder();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--per-loop-listener" {
            per_loop = true;
            continue;
        }
        match (arg.as_str(), args.next()) {
            ("--port", Some(port)) => addr = format!("127.0.0.1:{port}"),
            ("--addr", Some(a)) => addr = a,
            ("--threads", Some(n)) => threads = n.parse()?,
            ("--flavor", Some(f)) => flavor = f.parse()?,
            ("--backend", Some(b)) => backend = b.parse()?,
            ("--eager-reads", Some(v)) => eager_reads = Some(v == "on"),
            ("--grace", Some(s)) => grace = Duration::from_secs_f64(s.parse()?),
            ("--header-read-timeout", Some(s)) => {
                builder = builder.header_read_timeout(Duration::from_secs_f64(s.parse()?));
            }
            _ => {
                return Err(format!(
                    "usage: http-hello [--port N] [--addr HOST:PORT] [--threads N] \
                     [--flavor per-core|work-stealing] [--backend tokio|polling] [--eager-reads on|off] \
                     [--per-loop-listener] [--grace SECS] \
                     [--header-read-timeout SECS]; got {arg}"
                )
                .into());
            }
        }
    }
    let addr: Address = addr.parse()?;
    let mut runtime = rt::Runtime::builder()
        .backend(backend)
        .flavor(flavor)
        .worker_threads(NonZeroUsize::new(threads).ok_or("--threads must be at least 1")?);
    if let Some(on) = eager_reads {
        runtime = runtime.eager_reads(on);
    }
    let runtime = runtime.build()?;
    runtime.block_on(async move {
        let server = builder
            .on_run(|addr| eprintln!("http-hello listening on http://{addr}"))
            .build()?;
        let stopper = server.clone();
        rt::spawn(async move {
            terminated().await;
            eprintln!("http-hello: shutting down, grace {grace:?}");
            let report = stopper.shutdown(grace).await;
            eprintln!("http-hello: stopped ({report:?})");
        });
        // Returns once the shutdown has drained (or forced) every connection.
        let listener = wego_netpoll::Listener::builder()
            .per_loop(per_loop)
            .bind(&addr)
            .await?;
        server.serve(listener, app()).await?;
        Ok(())
    })
}

/// Resolves on SIGTERM or ctrl-c, on either backend: the polling backend
/// has no tokio reactor, so the signals are awaited on a one-thread tokio
/// runtime of their own. If no handler can be installed, it never resolves.
async fn terminated() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => return eprintln!("http-hello: no signal handler ({e})"),
            };
            runtime.block_on(signals());
            let _ = tx.send(());
        });
    if spawned.is_err() || rx.await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// SIGTERM or ctrl-c, on a tokio runtime.
async fn signals() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            eprintln!("http-hello: no SIGTERM handler ({e}); ctrl-c only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
