//! The echo service of `idl/echo.thrift`: a server and a client.
//!
//! ```text
//! cargo run -p wego-kitex --example thrift-echo -- server --port 8888
//! cargo run -p wego-kitex --example thrift-echo -- client --addr 127.0.0.1:8888 --msg hello
//! ```
//!
//! The client speaks TTHeader over a pooled connection (Kitex's default);
//! pass `--framing framed|buffered|theader` and `--protocol compact` to try
//! the others: the server detects each from the first bytes. The generated
//! code in `gen/echo.rs` is wego-build's output for `idl/echo.thrift`.
//! `tests/it/examples.rs` serves this file's [`serve`] over loopback.

#[allow(
    clippy::all,
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    dead_code,
    unsafe_code
)]
pub(crate) mod generated {
    include!("gen/echo.rs");
}

use generated::echo_service::{EchoServerClient, EchoServerHandler, EchoServerServer};
use generated::echo_types::echo::{Request, Response};
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
}

fn parse() -> Result<Args, BoxError> {
    let mut it = std::env::args().skip(1);
    let role = it.next().ok_or(
        "usage: thrift-echo server|client [--addr A | --port P] [--msg M] [--framing F] [--protocol P]",
    )?;
    let mut args = Args {
        role,
        addr: "127.0.0.1:8888".parse()?,
        msg: "hello".into(),
        framing: Framing::TtHeader,
        protocol: Protocol::Binary,
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
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(args)
}

/// Serves the echo service on `listener` until `shutdown` drains it.
pub(crate) async fn serve(listener: Listener, shutdown: Shutdown) -> Result<(), BoxError> {
    type S = EchoServerServer<Echo>;
    let server = Server::builder()
        .service(S::NAME, S::METHODS, S::new(Echo))
        .build()?;
    server.serve(listener, shutdown).await;
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
    rt::block_on(async move {
        match args.role.as_str() {
            "server" => {
                let listener = Listener::bind(&args.addr).await?;
                eprintln!("thrift-echo server on {}", listener.local_addr());
                serve(listener, Shutdown::new()).await?;
            }
            "client" => {
                let resp = call(args.addr, args.framing, args.protocol, args.msg).await?;
                eprintln!("reply: action={} msg={}", resp.action, resp.msg);
            }
            other => return Err(format!("unknown role {other}; use server or client").into()),
        }
        Ok::<_, BoxError>(())
    })?
}
