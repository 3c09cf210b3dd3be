//! custom-transport: kitex's servers and clients over a transport of your
//! own, with no generated code.
//!
//! ```text
//! cargo run -p wego-kitex --example custom-transport
//! ```
//!
//! Servers take any IO (`serve_connection`), clients take any connector
//! (`with_connector`). Here:
//!
//! - a gRPC [`Channel`] reaches a gRPC server through an in-memory
//!   connector: each connect makes a pipe and hands its other end to
//!   `Server::serve_connection`, so no socket is opened at all (what a test
//!   transport or an in-process call does);
//! - a Thrift [`Client`] reaches a Thrift server on loopback through a
//!   connector that wraps netpoll's `Dialer` and counts the connections it
//!   opens (where TLS, a proxy or a connection log would go), while the
//!   pool above it works as over the plain dialer.
//!
//! `tests/it/examples.rs` runs [`run`] and checks its report.

#![allow(clippy::print_stdout)] // an example prints its results

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use wego_kitex::client::{Client, ClientRequest};
use wego_kitex::grpc::{self, Channel, Request, Response};
use wego_kitex::server::{Server, ThriftReply, ThriftRequest};
use wego_netpoll::net::{Address, Connect, WithInfo};
use wego_netpoll::{BoxError, Conn, Dialer, Listener, rt};

/// The gRPC message of the in-memory call.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Hello {
    /// Who is greeted.
    #[prost(string, tag = "1")]
    pub(crate) name: String,
}

/// Opens every "connection" as an in-memory pipe served by `server`.
#[derive(Clone)]
struct InMemory {
    server: grpc::GrpcServer,
    router: grpc::GrpcRouter,
}

impl Connect for InMemory {
    // The server end carries a made-up peer address, so that the server's
    // logs and `RpcInfo` have one; the client end needs none.
    type Io = tokio::io::DuplexStream;

    async fn connect(&self, _addr: &Address) -> wego_netpoll::Result<Self::Io> {
        let (client, server_end) = tokio::io::duplex(64 * 1024);
        let server_end = WithInfo::new(server_end).with_peer_addr(Address::loopback());
        let (server, router) = (self.server.clone(), self.router.clone());
        rt::spawn(async move {
            if let Err(e) = server.serve_connection(server_end, router).await {
                tracing::debug!(error = %e, "in-memory connection ended");
            }
        });
        Ok(client)
    }
}

/// Wraps netpoll's dialer and counts the connections it opens.
#[derive(Clone)]
struct Counted {
    dialer: Dialer,
    opened: Arc<AtomicUsize>,
}

impl Connect for Counted {
    type Io = Conn;

    async fn connect(&self, addr: &Address) -> wego_netpoll::Result<Conn> {
        let conn = self.dialer.dial(addr).await?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(conn)
    }
}

/// What [`run`] saw.
#[derive(Debug)]
pub(crate) struct Report {
    /// The gRPC reply over the in-memory transport.
    pub(crate) greeting: String,
    /// The Thrift replies' bodies, one per call.
    pub(crate) thrift_replies: Vec<Bytes>,
    /// Connections the counting connector opened for those calls.
    pub(crate) thrift_connections: usize,
}

/// Makes one gRPC call in memory and three Thrift calls over loopback.
pub(crate) async fn run() -> Result<Report, BoxError> {
    // gRPC in memory: the raw router, the server, a channel over pipes.
    let router =
        grpc::GrpcRouter::new().unary("/demo.Greeter/Hello", |req: Request<Hello>| async move {
            let name = req.into_inner().name;
            Ok(Response::new(Hello {
                name: format!("hello, {name}"),
            }))
        });
    let server = grpc::GrpcServer::default();
    let channel = Channel::builder()
        .with_connector(InMemory {
            server: server.clone(),
            router,
        })
        .connect(&Address::loopback())
        .await?;
    let reply: Response<Hello> = channel
        .unary(
            "/demo.Greeter/Hello",
            Request::new(Hello {
                name: "pipe".into(),
            }),
        )
        .await?;
    drop(channel);
    server.shutdown(Duration::from_secs(1)).await;

    // Thrift over loopback: a raw service that answers with its arguments.
    let echo = tower::service_fn(|req: ThriftRequest| async move {
        Ok::<_, BoxError>(ThriftReply::Result(req.args))
    });
    let thrift = Server::builder().service("Echo", &["echo"], echo).build()?;
    let listener = Listener::bind(&Address::loopback()).await?;
    let addr = listener.local_addr().clone();
    let serving = rt::spawn({
        let thrift = thrift.clone();
        async move { thrift.serve(listener).await }
    });
    let opened = Arc::new(AtomicUsize::new(0));
    let client = Client::builder(addr)
        .with_connector(Counted {
            dialer: Dialer::new().with_nodelay(true),
            opened: opened.clone(),
        })
        .build()?;
    let mut thrift_replies = Vec::new();
    for body in [&b"\x00"[..], b"\x00", b"\x00"] {
        // `{}` STOP: an empty argument struct.
        let reply = client
            .call(ClientRequest::new("echo", Bytes::copy_from_slice(body)))
            .await?;
        thrift_replies.push(reply.body);
    }
    drop(client);
    thrift.shutdown(Duration::from_secs(1)).await;
    serving.await?;
    Ok(Report {
        greeting: reply.into_inner().name,
        thrift_replies,
        thrift_connections: opened.load(Ordering::Relaxed),
    })
}

#[allow(dead_code)] // `tests/it/examples.rs` includes this file for `run`
fn main() -> Result<(), BoxError> {
    let report = rt::block_on(run())??;
    println!("grpc in memory: {}", report.greeting);
    println!(
        "thrift over a counting connector: {} calls on {} connection(s)",
        report.thrift_replies.len(),
        report.thrift_connections
    );
    Ok(())
}
