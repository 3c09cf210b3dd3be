//! Shared helpers of the Thrift tests: a closure service and a server on loopback.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use wego_kitex::BoxError;
use wego_kitex::server::{Server, ThriftReply, ThriftRequest};
use wego_netpoll::Address;

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
