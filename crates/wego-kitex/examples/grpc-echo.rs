//! grpc-echo: the echo service of `idl/echo.proto` over gRPC, with the code
//! wego-build generates (the trait, the router registration and the typed
//! client; `wego_idl_gen::echo_proto` is that output for `idl/echo.proto`).
//!
//! ```text
//! cargo run -p wego-kitex --example grpc-echo -- server --port 8888
//! cargo run -p wego-kitex --example grpc-echo -- client --addr 127.0.0.1:8888 --msg hello
//! ```
//!
//! `--backend polling` runs it on wego's own event loops (build with
//! `--features polling`); the default is tokio.
//!
//! The client makes one call of each kind: unary, server streaming, client
//! streaming and bidirectional streaming. `tests/it/examples.rs` serves this
//! file's [`serve`] over loopback and checks every reply.
//!
//! The server shuts down gracefully on SIGTERM or ctrl-c: GOAWAY on every
//! connection, calls in flight finish, the rest is forced after `--grace
//! SECS` (default 10).

#![allow(clippy::print_stdout)] // an example prints its results

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use wego_kitex::grpc::{BoxStream, Channel, GrpcServer, Request, RequestStream, Response, Status};
use wego_netpoll::{Address, Listener, rt};

pub(crate) use wego_idl_gen::echo_proto as echo;

/// The echo handler: one reply per request, three on the server stream,
/// the messages joined on the client stream, one per message on bidi.
pub(crate) struct Echo;

impl echo::EchoServerHandler for Echo {
    async fn echo(
        &self,
        request: Request<echo::Request>,
    ) -> Result<Response<echo::Response>, Status> {
        let r = request.into_inner();
        Ok(Response::new(echo::Response {
            action: r.action,
            msg: r.msg,
        }))
    }

    async fn echo_server_stream(
        &self,
        request: Request<echo::Request>,
    ) -> Result<Response<BoxStream<echo::Response>>, Status> {
        let r = request.into_inner();
        let s = futures_util::stream::iter((0..3).map(move |i| {
            Ok(echo::Response {
                action: format!("{}#{i}", r.action),
                msg: r.msg.clone(),
            })
        }));
        Ok(Response::new(Box::pin(s)))
    }

    async fn echo_client_stream(
        &self,
        request: Request<RequestStream<echo::Request>>,
    ) -> Result<Response<echo::Response>, Status> {
        let mut s = request.into_inner();
        let mut msgs = Vec::new();
        while let Some(m) = s.message().await? {
            msgs.push(m.msg);
        }
        Ok(Response::new(echo::Response {
            action: "joined".into(),
            msg: msgs.join(" "),
        }))
    }

    async fn echo_bidi_stream(
        &self,
        request: Request<RequestStream<echo::Request>>,
    ) -> Result<Response<BoxStream<echo::Response>>, Status> {
        let s = request.into_inner().map(|m| {
            m.map(|m| echo::Response {
                action: m.action,
                msg: m.msg,
            })
        });
        Ok(Response::new(Box::pin(s)))
    }
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// `--backend tokio|polling` (default tokio; polling needs the feature).
fn backend_arg() -> Result<rt::Backend, Box<dyn Error>> {
    let name = arg("--backend", rt::Backend::default().name());
    Ok(name.parse()?)
}

/// `--addr A`, or `--port P` on 127.0.0.1.
fn addr_arg() -> Result<Address, Box<dyn Error>> {
    let port = arg("--port", "");
    if port.is_empty() {
        Ok(arg("--addr", "127.0.0.1:8888").parse()?)
    } else {
        Ok(format!("127.0.0.1:{}", port.parse::<u16>()?).parse()?)
    }
}

/// Serves the echo service on `listener` with `server` (whose
/// [`GrpcServer::shutdown`] stops it).
pub(crate) async fn serve(server: GrpcServer, listener: Listener) {
    server.serve(listener, echo::echo_server_router(Echo)).await;
}

/// Makes one call of each kind and prints the replies.
pub(crate) async fn client(addr: Address, msg: String) -> Result<(), Box<dyn Error>> {
    let client = echo::EchoServerClient::new(Channel::connect(&addr).await?);
    let req = || echo::Request {
        action: "echo".into(),
        msg: msg.clone(),
    };
    let r = client.echo(Request::new(req())).await?;
    println!("unary: {}", r.get_ref().msg);
    let mut s = client
        .echo_server_stream(Request::new(req()))
        .await?
        .into_inner();
    while let Some(m) = s.message().await? {
        println!("server stream: {} {}", m.action, m.msg);
    }
    let r = client
        .echo_client_stream(Request::new(futures_util::stream::iter(vec![req(), req()])))
        .await?;
    println!("client stream: {}", r.get_ref().msg);
    let mut s = client
        .echo_bidi_stream(Request::new(futures_util::stream::iter(vec![req(), req()])))
        .await?
        .into_inner();
    while let Some(m) = s.message().await? {
        println!("bidi: {}", m.msg);
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "both".into());
    let addr = addr_arg()?;
    let msg = arg("--msg", "hello");
    let runtime = rt::Runtime::builder().backend(backend_arg()?).build()?;
    runtime.block_on(async move {
        match mode.as_str() {
            "server" => {
                let listener = Listener::bind(&addr).await?;
                println!("grpc echo server on {}", listener.local_addr());
                let grace = Duration::from_secs_f64(arg("--grace", "10").parse()?);
                let server = GrpcServer::default();
                let stopper = rt::spawn({
                    let server = server.clone();
                    async move {
                        wego_netpoll::signal::terminated().await;
                        eprintln!("grpc-echo: shutting down, grace {grace:?}");
                        let report = server.shutdown(grace).await;
                        eprintln!("grpc-echo: stopped ({report:?})");
                    }
                });
                serve(server, listener).await;
                // The accept loop has stopped; wait for the drain.
                let _ = stopper.await;
                Ok(())
            }
            "client" => client(addr, msg).await,
            _ => {
                // Both in one process, on an OS-chosen port.
                let listener = Listener::bind(&Address::loopback()).await?;
                let addr = listener.local_addr().clone();
                rt::spawn(serve(GrpcServer::default(), listener));
                client(addr, msg).await
            }
        }
    })
}
