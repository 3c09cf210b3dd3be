//! Shared helpers of the Thrift tests: a closure service, a server on
//! loopback or behind in-memory pipes, a raw argument struct and Python's
//! ThriftTest server.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use wego_kitex::BoxError;
use wego_kitex::client::{Client, ClientBuilder};
use wego_kitex::server::{Server, ThriftReply, ThriftRequest};
use wego_kitex::thrift::Protocol;
use wego_netpoll::Address;

use wego_test_support::Pipes;

/// A tower service from an async closure.
#[derive(Clone)]
pub(crate) struct FnService<F>(pub(crate) Arc<F>);

impl<F, Fut> tower_service::Service<ThriftRequest> for FnService<F>
where
    F: Fn(ThriftRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ThriftReply, BoxError>> + Send + 'static,
{
    type Response = ThriftReply;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ThriftReply, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ThriftRequest) -> Self::Future {
        Box::pin((self.0)(req))
    }
}

pub(crate) fn service<F, Fut>(f: F) -> FnService<F>
where
    F: Fn(ThriftRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ThriftReply, BoxError>> + Send + 'static,
{
    FnService(Arc::new(f))
}

/// An echo service: the result is the argument bytes.
pub(crate) fn echo() -> impl tower_service::Service<
    ThriftRequest,
    Response = ThriftReply,
    Error = BoxError,
    Future = Pin<Box<dyn Future<Output = Result<ThriftReply, BoxError>> + Send>>,
> + Clone
+ Send
+ Sync
+ 'static {
    service(|req: ThriftRequest| async move { Ok(ThriftReply::Result(req.args)) })
}

/// Starts `server` on loopback; returns its address and a clone of the
/// server, whose `shutdown` stops it.
pub(crate) async fn start(server: Server) -> (Address, Server) {
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let s = server.clone();
    wego_netpoll::rt::spawn(async move { s.serve(listener).await });
    (addr, server)
}

/// A client builder whose connections are in-memory pipes, each served by
/// `server` on its own task (for the paused-clock tests).
pub(crate) fn pipe_client(server: &Server) -> ClientBuilder {
    let server = server.clone();
    Client::builder(Address::loopback()).with_connector(Pipes::new(move |_n, io| {
        let s = server.clone();
        async move { s.serve_connection(io).await }
    }))
}

/// A struct body `{1: string s}` STOP in either protocol.
pub(crate) fn string_args(proto: Protocol, s: &str) -> Bytes {
    let mut v = Vec::new();
    match proto {
        Protocol::Binary => {
            v.extend_from_slice(&[11, 0, 1]);
            v.extend_from_slice(&(s.len() as u32).to_be_bytes());
        }
        _ => {
            v.push(0x18);
            v.push(s.len() as u8);
        }
    }
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v.into()
}

/// Python's ThriftTest server (`tests/peers/thrift_test_server.py`), killed
/// when dropped.
pub(crate) struct PythonServer(std::process::Child);

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Python's ThriftTest server with `python` and returns it with the
/// loopback address it printed.
pub(crate) async fn start_python_thrift_test_server(
    python: std::path::PathBuf,
) -> (PythonServer, Address) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/thrift_test_server.py");
    let (child, port) = wego_netpoll::rt::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(script)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().strip_prefix("port ").unwrap().parse().unwrap();
        (PythonServer(child), port)
    })
    .await
    .unwrap();
    (child, Address::Tcp(([127, 0, 0, 1], port).into()))
}
