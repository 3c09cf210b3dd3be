//! The echo service of `idl/echo.thrift`: a server and a client.
//!
//! ```text
//! cargo run -p wego-kitex --example thrift-echo -- server --port 8888
//! cargo run -p wego-kitex --example thrift-echo -- client --addr 127.0.0.1:8888 --msg hello
//! cargo run -p wego-kitex --features polling --example thrift-echo -- server --port 8888 --backend polling
//! ```
//!
//! The client speaks TTHeader over a pooled connection (Kitex's default);
//! pass `--framing framed|buffered|theader` and `--protocol compact` to try
//! the others: the server detects each from the first bytes. The generated
//! code (`wego_idl_gen::echo`) is wego-build's output for `idl/echo.thrift`.
//!
//! The server shuts down gracefully on SIGTERM or ctrl-c (stops accepting,
//! lets calls in flight finish, forces the rest after `--grace SECS`,
//! default 10). `--read-timeout SECS` and `--max-connections N` set the
//! server's read timeout and connection limit (defaults 60 s and 10,000);
//! the reliability runs in `benches/reliability.sh` use them.
//! `tests/it/examples.rs` serves this file's [`serve`] over loopback.

pub(crate) use wego_idl_gen::echo as generated;

use generated::echo_service::{EchoServerClient, EchoServerHandler, EchoServerServer};
use generated::echo_types::echo::{Request, Response};
use std::time::Duration;
use wego_kitex::BoxError;
use wego_kitex::client::Client;
use wego_kitex::server::Server;
use wego_kitex::thrift::Protocol;

use wego_kitex::transport::Framing;
use wego_netpoll::{Address, Listener, Shutdown, rt};

/// The echo handler: answers with the request's action and message.
pub(crate) struct Echo;

impl EchoServerHandler for Echo {
    async fn echo(&self, req: Request) -> Result<Response, BoxError> {
        Ok(Response {
            action: req.action,
            msg: req.msg,
        })
    }

    async fn notify(&self, req: Request) -> Result<(), BoxError> {
        tracing::info!(action = %req.action, "notified");
        Ok(())
    }
}

struct Args {
    role: String,
    addr: Address,
    msg: String,
    framing: Framing,
    protocol: Protocol,
    limits: Limits,
    grace: Duration,
    backend: rt::Backend,
}

/// The server settings the command line can change.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    /// The server's read timeout (`None`: its default).
    pub(crate) read_timeout: Option<Duration>,
    /// The server's connection limit (`None`: its default).
    pub(crate) max_connections: Option<usize>,
}

fn parse() -> Result<Args, BoxError> {
    let mut it = std::env::args().skip(1);
    let role = it.next().ok_or(
        "usage: thrift-echo server|client [--addr A | --port P] [--msg M] [--framing F] \
         [--protocol P] [--read-timeout SECS] [--max-connections N] [--grace SECS] \
         [--backend tokio|polling]",
    )?;
    let mut args = Args {
        role,
        addr: "127.0.0.1:8888".parse()?,
        msg: "hello".into(),
        framing: Framing::TtHeader,
        protocol: Protocol::Binary,
        limits: Limits::default(),
        grace: Duration::from_secs(10),
        backend: rt::Backend::default(),
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => args.addr = value.parse()?,
            "--port" => args.addr = format!("127.0.0.1:{}", value.parse::<u16>()?).parse()?,
            "--msg" => args.msg = value,
            "--framing" => {
                args.framing = match value.as_str() {
                    "ttheader" => Framing::TtHeader,
                    "theader" => Framing::THeader,
                    "framed" => Framing::Framed,
                    "buffered" => Framing::Buffered,
                    other => return Err(format!("unknown framing {other}").into()),
                }
            }
            "--protocol" => {
                args.protocol = match value.as_str() {
                    "binary" => Protocol::Binary,
                    "compact" => Protocol::Compact,
                    other => return Err(format!("unknown protocol {other}").into()),
                }
            }
            "--read-timeout" => {
                args.limits.read_timeout = Some(Duration::from_secs_f64(value.parse()?));
            }
            "--max-connections" => args.limits.max_connections = Some(value.parse()?),
            "--grace" => args.grace = Duration::from_secs_f64(value.parse()?),
            "--backend" => args.backend = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(args)
}

/// Serves the echo service on `listener` until `shutdown` drains it.
// Called by `tests/it/examples.rs`; `main` uses `serve_with`.
#[allow(dead_code)]
pub(crate) async fn serve(listener: Listener, shutdown: Shutdown) -> Result<(), BoxError> {
    serve_with(listener, shutdown, Limits::default()).await
}

/// [`serve`] with the server's limits set from `limits`. Returns when the
/// shutdown begins (connections then drain on their own tasks).
pub(crate) async fn serve_with(
    listener: Listener,
    shutdown: Shutdown,
    limits: Limits,
) -> Result<(), BoxError> {
    type S = EchoServerServer<Echo>;
    let mut builder = Server::builder().add_service(S::new(Echo));
    if let Some(d) = limits.read_timeout {
        builder = builder.with_read_timeout(d);
    }
    if let Some(n) = limits.max_connections {
        builder = builder.with_max_connections(n);
    }
    // The caller's `shutdown` starts the server's own graceful shutdown.
    let signal = async move { shutdown.watcher().draining().await };
    builder.build()?.serve_with_shutdown(listener, signal).await;
    Ok(())
}

/// Calls `echo` once on the server at `addr` with the given framing and
/// protocol.
pub(crate) async fn call(
    addr: Address,
    framing: Framing,
    protocol: Protocol,
    msg: String,
) -> Result<Response, BoxError> {
    let inner = Client::builder(addr)
        .with_framing(framing)
        .with_protocol(protocol)
        .with_callee("EchoServer")
        .build()?;
    let client = EchoServerClient::new(inner);
    Ok(client
        .echo(Request {
            action: "echo".into(),
            msg: msg.into(),
        })
        .await?)
}

fn main() -> Result<(), BoxError> {
    let args = parse()?;
    let runtime = rt::Runtime::builder().backend(args.backend).build()?;
    runtime.block_on(async move {
        match args.role.as_str() {
            "server" => {
                let listener = Listener::bind(&args.addr).await?;
                eprintln!("thrift-echo server on {}", listener.local_addr());
                let shutdown = Shutdown::new();
                let grace = args.grace;
                let stopper = rt::spawn({
                    let shutdown = shutdown.clone();
                    async move {
                        wego_netpoll::signal::terminated().await;
                        eprintln!("thrift-echo: shutting down, grace {grace:?}");
                        let report = shutdown.shutdown(grace).await;
                        eprintln!("thrift-echo: stopped ({report:?})");
                    }
                });
                serve_with(listener, shutdown, args.limits).await?;
                // The accept loop has stopped; wait for the drain.
                let _ = stopper.await;
            }
            "client" => {
                let resp = call(args.addr, args.framing, args.protocol, args.msg).await?;
                eprintln!("reply: action={} msg={}", resp.action, resp.msg);
            }
            other => return Err(format!("unknown role {other}; use server or client").into()),
        }
        Ok::<_, BoxError>(())
    })
}
