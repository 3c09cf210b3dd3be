//! A minimal wego-hertz HTTP server, the one the load benchmarks run.
//!
//! Shows a `Router` (the application) handed to a `Server` (the HTTP
//! transport) on a runtime with a chosen number of worker threads. The
//! port serves HTTP/1.1 and HTTP/2 alike, with no flag: HTTP/2 by prior
//! knowledge (`curl --http2-prior-knowledge`, `h2load`) or by
//! `Upgrade: h2c` (`curl --http2`).
//!
//! - `GET /`          → `hello from wego-hertz` (text)
//! - `GET /plaintext` → `Hello, World!`
//! - `POST /echo`     → the request body, streamed back as it arrives
//! - `GET /user/:id`  → `{"id":"<id>","name":"user <id>"}` (JSON)
//! - `GET /ws`        → a WebSocket echo: text and binary messages come
//!   back as sent (built with `--features ws`, or `full`)
//! - `GET /static/*`  → the files under `--static DIR`, when given
//!   (validators, ranges, `index.html` for directories)
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
//! With `--tls-cert FILE --tls-key FILE` (PEM: the certificate chain, leaf
//! first, and its private key; needs the `tls` feature) the port serves
//! HTTPS instead, offering ALPN `h2` and `http/1.1`: `curl --http2 --cacert
//! ca.pem https://localhost:8080/`. Each accepted connection does its TLS
//! handshake on its own task; a failed handshake (a plaintext client, an
//! untrusted certificate) is logged and the server goes on.
//!
//! SIGTERM or ctrl-c shuts the server down gracefully: it stops accepting,
//! lets requests in flight finish and closes idle connections, and forces
//! whatever remains after `--grace SECS` (default 10). `--header-read-timeout
//! SECS` sets how long a request head may take to arrive (default 10; the
//! reliability runs in `benches/reliability.sh` shorten it).
//! `--server-header NAME|off` sets the `Server` field of every response
//! (default `wego`) or leaves it out.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderValue, Method};

use wego_hertz::extract::{Json, Path};
use wego_hertz::response::ServeDir;
use wego_hertz::{Body, Router, Server};
use wego_netpoll::rt::{Backend, Flavor};
use wego_netpoll::{Address, Listener, rt};
#[cfg(feature = "tls")]
use wego_netpoll::{ShutdownReport, tls::TlsAcceptor};

pub(crate) fn app() -> Router {
    with_ws(
        Router::new()
            .get("/", || async { "hello from wego-hertz" })
            .get("/plaintext", || async { "Hello, World!" })
            .post("/echo", |body: Body| async move { body })
            .get("/user/:id", |Path(id): Path<String>| async move {
                Json(serde_json::json!({ "id": id, "name": format!("user {id}") }))
            }),
    )
}

/// `app` with the WebSocket echo at `/ws`.
#[cfg(feature = "ws")]
fn with_ws(app: Router) -> Router {
    app.get("/ws", ws_echo)
}

/// Without the `ws` feature there is no `/ws`.
#[cfg(not(feature = "ws"))]
fn with_ws(app: Router) -> Router {
    app
}

/// `app` with the files under `dir` at `/static/` (`--static DIR`).
pub(crate) fn with_static(app: Router, dir: PathBuf) -> Router {
    app.route_service(Method::GET, "/static/*path", ServeDir::new(dir))
}

/// The application `main` serves: `app`, and `static_dir` when given.
fn app_with(static_dir: Option<PathBuf>) -> Router {
    match static_dir {
        Some(dir) => with_static(app(), dir),
        None => app(),
    }
}

/// `GET /ws`: answers the WebSocket handshake, then sends every text and
/// binary message back until the client closes. Pings are answered by the
/// socket itself.
#[cfg(feature = "ws")]
async fn ws_echo(ws: wego_hertz::ws::WebSocketUpgrade) -> wego_hertz::response::Response {
    ws.on_upgrade(|mut socket| async move {
        while let Some(Ok(msg)) = socket.recv().await {
            if msg.is_data() && socket.send(msg).await.is_err() {
                break;
            }
        }
    })
}

/// What `--tls-cert/--tls-key` make: an acceptor, or nothing to make one
/// with when the example is built without TLS.
#[cfg(feature = "tls")]
type Tls = TlsAcceptor;
#[cfg(not(feature = "tls"))]
type Tls = std::convert::Infallible;

/// An acceptor for the PEM chain in `cert` and key in `key`, offering
/// HTTP/2 and HTTP/1.1 by ALPN (HTTP/2 first: a client that speaks both
/// gets it).
#[cfg(feature = "tls")]
pub(crate) fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<TlsAcceptor, wego_netpoll::Error> {
    TlsAcceptor::builder()
        .with_identity(wego_netpoll::tls::Identity::from_pem_files(cert, key)?)
        .with_alpn_protocols(["h2", "http/1.1"])
        .build()
}

/// Serves `app` over TLS on `listener` until `stop` resolves, then shuts
/// the server down gracefully within `grace`.
///
/// The accept loop only accepts: each connection is placed on a worker
/// with `rt::spawn_connection` and does its handshake there, so a slow or
/// silent client holds up nobody else (the acceptor's handshake timeout
/// ends it). The TLS stream then goes to `serve_connection` like any IO,
/// which serves HTTP/2 when ALPN chose `h2` and HTTP/1.1 otherwise.
#[cfg(feature = "tls")]
pub(crate) async fn serve_tls(
    server: &Server,
    listener: Listener,
    acceptor: TlsAcceptor,
    app: Router,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> ShutdownReport {
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = stop.as_mut() => break,
            accepted = listener.accept() => accepted,
        };
        let conn = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors, say: pause rather than spin.
                eprintln!("http-hello: accept failed: {e}");
                rt::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let (server, acceptor, app) = (server.clone(), acceptor.clone(), app.clone());
        rt::spawn_connection(conn, move |conn| async move {
            match acceptor.accept(conn).await {
                Ok(tls) => server.serve_connection(tls, app).await,
                Err(e) => eprintln!("http-hello: tls handshake failed: {e}"),
            }
        });
    }
    drop(listener);
    server.shutdown(grace).await
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
    let (mut tls_cert, mut tls_key) = (None, None);
    let mut static_dir = None;
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
                builder = builder.with_header_read_timeout(Duration::from_secs_f64(s.parse()?));
            }
            ("--server-header", Some(v)) => {
                let value = match v.as_str() {
                    "off" => None,
                    name => Some(HeaderValue::from_str(name)?),
                };
                builder = builder.with_server_header(value);
            }
            ("--tls-cert", Some(f)) => tls_cert = Some(PathBuf::from(f)),
            ("--tls-key", Some(f)) => tls_key = Some(PathBuf::from(f)),
            ("--static", Some(d)) => static_dir = Some(PathBuf::from(d)),
            _ => {
                return Err(format!(
                    "usage: http-hello [--port N] [--addr HOST:PORT] [--threads N] \
                     [--flavor per-core|work-stealing] [--backend tokio|polling] [--eager-reads on|off] \
                     [--per-loop-listener] [--grace SECS] \
                     [--header-read-timeout SECS] [--tls-cert FILE --tls-key FILE] \
                     [--static DIR]; \
                     got {arg}"
                )
                .into());
            }
        }
    }
    let tls: Option<Tls> = match (tls_cert, tls_key) {
        (None, None) => None,
        #[cfg(feature = "tls")]
        (Some(cert), Some(key)) => Some(tls_acceptor(&cert, &key)?),
        #[cfg(not(feature = "tls"))]
        (Some(_), Some(_)) => {
            return Err("http-hello was built without the `tls` feature: \
                        rebuild with `--features tls` for --tls-cert/--tls-key"
                .into());
        }
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let addr: Address = addr.parse()?;
    let mut runtime = rt::Runtime::builder()
        .backend(backend)
        .flavor(flavor)
        .worker_threads(NonZeroUsize::new(threads).ok_or("--threads must be at least 1")?);
    if let Some(on) = eager_reads {
        runtime = runtime.eager_reads(on);
    }
    let runtime = runtime.build()?;
    // Accepting runs on a worker, beside the connections it starts, as on
    // hyper's one worker: on a one-worker runtime an accepted connection
    // then starts without waking another thread. This thread only waits.
    let serving = runtime.spawn(async move {
        #[cfg(feature = "tls")]
        if let Some(acceptor) = tls {
            let server = builder.build()?;
            let listener = server.bind(&addr).await?;
            eprintln!("http-hello listening on https://{}", listener.local_addr());
            let stopped = async move {
                wego_netpoll::signal::terminated().await;
                eprintln!("http-hello: shutting down, grace {grace:?}");
            };
            let app = app_with(static_dir);
            let report = serve_tls(&server, listener, acceptor, app, stopped, grace).await;
            eprintln!("http-hello: stopped ({report:?})");
            return Ok(());
        }
        #[cfg(not(feature = "tls"))]
        let _: Option<Tls> = tls;
        let server = builder
            .on_run(|addr| eprintln!("http-hello listening on http://{addr}"))
            .build()?;
        let stopper = server.clone();
        rt::spawn(async move {
            wego_netpoll::signal::terminated().await;
            eprintln!("http-hello: shutting down, grace {grace:?}");
            let report = stopper.shutdown(grace).await;
            eprintln!("http-hello: stopped ({report:?})");
        });
        // Returns once the shutdown has drained (or forced) every connection.
        let listener = Listener::builder().per_loop(per_loop).bind(&addr).await?;
        server.serve(listener, app_with(static_dir)).await?;
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    });
    runtime
        .block_on(serving)?
        .map_err(|e| e as Box<dyn std::error::Error>)
}
