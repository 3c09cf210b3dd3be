//! protobuf-echo: the echo service of `idl/echo.proto` over Kitex Protobuf
//! (TTHeader or Framed), and gRPC on the same port: the server is Kitex's
//! one-port server with the gRPC and Kitex Protobuf handlers, both built
//! from one generated service implementation. `tests/it/examples.rs` serves
//! this file's [`serve`] over loopback and calls it with each framing and
//! with gRPC.
//!
//! ```text
//! cargo run -p wego-kitex --example protobuf-echo -- server --port 8888
//! cargo run -p wego-kitex --example protobuf-echo -- client --addr 127.0.0.1:8888 [--framed] --msg hi
//! ```
//!
//! `--backend polling` runs it on wego's own event loops (build with
//! `--features polling`); the default is tokio.

#![allow(clippy::print_stdout)] // an example prints its results

use std::error::Error;

use wego_kitex::grpc::{GrpcServer, Http2Handler, Request, Response, Status};
use wego_kitex::protobuf::{ProtobufClient, ProtobufFraming, ProtobufHandler};
use wego_netpoll::{Address, Listener, Shutdown, rt};

pub(crate) use wego_idl_gen::echo_proto as echo;

/// The echo handler; streaming methods answer UNIMPLEMENTED (Kitex
/// Protobuf has no streams).
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
        _request: Request<echo::Request>,
    ) -> Result<Response<wego_kitex::grpc::BoxStream<echo::Response>>, Status> {
        Err(Status::unimplemented("streaming is gRPC only"))
    }

    async fn echo_client_stream(
        &self,
        _request: Request<wego_kitex::grpc::RequestStream<echo::Request>>,
    ) -> Result<Response<echo::Response>, Status> {
        Err(Status::unimplemented("streaming is gRPC only"))
    }

    async fn echo_bidi_stream(
        &self,
        _request: Request<wego_kitex::grpc::RequestStream<echo::Request>>,
    ) -> Result<Response<wego_kitex::grpc::BoxStream<echo::Response>>, Status> {
        Err(Status::unimplemented("streaming is gRPC only"))
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

/// Serves Kitex Protobuf (TTHeader and Framed) and gRPC on `listener` until
/// `shutdown` drains it.
pub(crate) async fn serve(listener: Listener, shutdown: Shutdown) -> Result<(), Box<dyn Error>> {
    let router = echo::echo_server_router(Echo);
    let server = wego_kitex::server::Server::builder()
        .with_http2_handler(Http2Handler::new(GrpcServer::default(), router.clone()).into_arc())
        .with_payload_handler(ProtobufHandler::new(router).into_arc())
        .build()
        .map_err(|e| e.to_string())?;
    // The caller's `shutdown` starts the server's own graceful shutdown.
    let signal = async move { shutdown.watcher().draining().await };
    server.serve_with_shutdown(listener, signal).await;
    Ok(())
}

/// Calls `Echo` once over Kitex Protobuf with `framing`.
pub(crate) async fn call(
    addr: Address,
    framing: ProtobufFraming,
    msg: String,
) -> Result<echo::Response, Box<dyn Error>> {
    let c = ProtobufClient::builder(addr)
        .with_framing(framing)
        .with_callee("echo.EchoServer")
        .connect()
        .await?;
    let r: echo::Response = c
        .call(
            "Echo",
            &echo::Request {
                action: "echo".into(),
                msg,
            },
        )
        .await?;
    Ok(r)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "both".into());
    let addr = addr_arg()?;
    let framing = if std::env::args().any(|a| a == "--framed") {
        ProtobufFraming::Framed
    } else {
        ProtobufFraming::TtHeader
    };
    let msg = arg("--msg", "hello");
    let runtime = rt::Runtime::builder().backend(backend_arg()?).build()?;
    runtime.block_on(async move {
        match mode.as_str() {
            "server" => {
                let listener = Listener::bind(&addr).await?;
                println!(
                    "kitex protobuf + grpc echo server on {}",
                    listener.local_addr()
                );
                serve(listener, Shutdown::new()).await
            }
            "client" => {
                let r = call(addr, framing, msg).await?;
                println!("kitex protobuf ({framing:?}): {}", r.msg);
                Ok(())
            }
            _ => {
                let listener = Listener::bind(&Address::loopback()).await?;
                let addr = listener.local_addr().clone();
                rt::spawn(async move {
                    serve(listener, Shutdown::new())
                        .await
                        .map_err(|e| e.to_string())
                });
                for framing in [ProtobufFraming::TtHeader, ProtobufFraming::Framed] {
                    let r = call(addr.clone(), framing, msg.clone()).await?;
                    println!("kitex protobuf ({framing:?}): {}", r.msg);
                }
                let ch = wego_kitex::grpc::Channel::connect(&addr).await?;
                let r = echo::EchoServerClient::new(ch)
                    .echo(Request::new(echo::Request {
                        action: "echo".into(),
                        msg,
                    }))
                    .await?;
                println!("grpc on the same port: {}", r.get_ref().msg);
                Ok(())
            }
        }
    })
}
