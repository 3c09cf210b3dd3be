//! The gRPC server behind Kitex's port sniffer: [`Http2Handler`] implements
//! [`ConnHandler`], so one port serves Thrift, Kitex Protobuf and gRPC.

use std::sync::Arc;

use tower_service::Service;
use wego_netpoll::net::BoxIo;
use wego_netpoll::{BoxFuture, Watcher};

use super::router::{RawRequest, RawResponse};
use super::serve::GrpcServer;
use crate::grpc::status::Status;
use crate::server::ConnHandler;
use crate::transport::Prefixed;

/// Serves the HTTP/2 connections Kitex's server detects with a
/// [`GrpcServer`] and service. Register it with
/// `wego_kitex::server::Server::builder().with_http2_handler(...)`.
#[derive(Debug, Clone)]
pub struct Http2Handler<S> {
    server: GrpcServer,
    service: S,
}

impl<S> Http2Handler<S>
where
    S: Service<RawRequest, Response = RawResponse, Error = Status> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    /// Wraps a gRPC server configuration and its service.
    pub fn new(server: GrpcServer, service: S) -> Http2Handler<S> {
        Http2Handler { server, service }
    }

    /// The same, as the trait object the Kitex server takes.
    pub fn into_arc(self) -> Arc<dyn ConnHandler> {
        Arc::new(self)
    }
}

impl<S> ConnHandler for Http2Handler<S>
where
    S: Service<RawRequest, Response = RawResponse, Error = Status> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    fn serve(&self, io: Prefixed<BoxIo>, watcher: Watcher) -> BoxFuture<'static, ()> {
        let server = self.server.clone();
        let service = self.service.clone();
        // The Thrift server's shutdown governs the connection: it accepted it.
        Box::pin(async move {
            if let Err(e) = server.serve_connection_with(io, service, watcher).await {
                tracing::debug!(error = %e, "grpc connection ended");
            }
        })
    }
}
