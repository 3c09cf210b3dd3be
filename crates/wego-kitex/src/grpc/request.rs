//! `Request` and `Response`: a message with metadata, as handlers and
//! clients see it.

use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_core::Stream;

use wego_netpoll::Address;
use wego_netpoll::net::TlsInfo;
use wego_netpoll::rt;

use super::codec::Encoding;
use super::metadata::Metadata;
use super::status::Status;

/// A boxed, sendable stream of messages or a status: a streaming
/// response's messages on the server, a streaming request's on the client.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The peer's address as the server's connection knew it, kept in a
/// request's extensions (read it with [`Request::peer_addr`]).
#[derive(Debug, Clone)]
struct PeerAddr(Address);

/// A gRPC request: a message (or a stream of them) plus metadata, the
/// method path and the deadline.
#[derive(Debug)]
pub struct Request<T> {
    message: T,
    metadata: Metadata,
    deadline: Option<Instant>,
    path: String,
    compression: Option<Encoding>,
    compressed: bool,
    extensions: http::Extensions,
    /// The `content-type` a client sends (a message codec's); `None` is
    /// `application/grpc`.
    content_type: Option<&'static str>,
}

impl<T> Request<T> {
    /// Wraps a message with empty metadata and no deadline.
    pub fn new(message: T) -> Request<T> {
        Request {
            message,
            metadata: Metadata::new(),
            deadline: None,
            path: String::new(),
            compression: None,
            compressed: false,
            extensions: http::Extensions::new(),
            content_type: None,
        }
    }

    /// Values attached to the request: on a server, the connection's facts
    /// (see [`peer_addr`](Self::peer_addr) and [`tls_info`](Self::tls_info));
    /// middleware may add its own.
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// The extensions, mutably.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// On a server, the client's address, when the connection's IO knows
    /// it (`ConnInfo::peer_addr`).
    pub fn peer_addr(&self) -> Option<&Address> {
        self.extensions.get::<PeerAddr>().map(|p| &p.0)
    }

    /// On a server, what the TLS handshake settled (ALPN, server name, the
    /// verified client certificate of mutual TLS), when the connection is
    /// TLS (`ConnInfo::tls_info`).
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.extensions.get::<TlsInfo>()
    }

    /// Records the connection's facts in the extensions.
    pub(crate) fn set_conn_facts(&mut self, peer: Option<&Address>, tls: Option<&TlsInfo>) {
        if let Some(peer) = peer {
            self.extensions.insert(PeerAddr(peer.clone()));
        }
        if let Some(tls) = tls {
            self.extensions.insert(tls.clone());
        }
    }

    /// The request metadata (custom headers).
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Mutable access to the metadata.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// Mutable access to the message.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// Unwraps the message.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// The deadline: on the server, from the caller's `grpc-timeout`; on the
    /// client, what [`Request::set_timeout`] set.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left before the deadline (zero once it passed).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(rt::now()))
    }

    /// Sets a timeout for the call, sent as `grpc-timeout` and enforced by
    /// the client too.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.deadline = rt::now().checked_add(timeout);
    }

    /// Sets the deadline directly.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// The method path, `/package.Service/Method` (server side).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn set_path(&mut self, path: String) {
        self.path = path;
    }

    /// Compresses this call's request messages (client side).
    pub fn set_compression(&mut self, encoding: Option<Encoding>) {
        self.compression = encoding;
    }

    /// The compression the client asked for.
    pub fn compression(&self) -> Option<Encoding> {
        self.compression
    }

    /// On the server, for unary and server-streaming methods: whether the
    /// request message arrived compressed.
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    pub(crate) fn set_compressed(&mut self, compressed: bool) {
        self.compressed = compressed;
    }

    /// Swaps the message for `other`, returning the old one and the request.
    pub(crate) fn replace<U>(self, other: U) -> (T, Request<U>) {
        let req = Request {
            message: other,
            metadata: self.metadata,
            deadline: self.deadline,
            path: self.path,
            compression: self.compression,
            compressed: self.compressed,
            extensions: self.extensions,
            content_type: self.content_type,
        };
        (self.message, req)
    }

    /// Replaces the message, keeping everything else.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Request<U> {
        Request {
            message: f(self.message),
            metadata: self.metadata,
            deadline: self.deadline,
            path: self.path,
            compression: self.compression,
            compressed: self.compressed,
            extensions: self.extensions,
            content_type: self.content_type,
        }
    }
}

/// A gRPC response: a message (or a stream) plus initial and trailing
/// metadata.
#[derive(Debug)]
pub struct Response<T> {
    message: T,
    metadata: Metadata,
    trailers: Metadata,
    compression: Option<Encoding>,
    early_headers: bool,
}

impl<T> Response<T> {
    /// Wraps a message with empty metadata.
    pub fn new(message: T) -> Response<T> {
        Response {
            message,
            metadata: Metadata::new(),
            trailers: Metadata::new(),
            compression: None,
            early_headers: false,
        }
    }

    /// On the server: sends the response headers (with the initial
    /// metadata) as soon as the handler returns this response, instead of
    /// with the first message.
    ///
    /// By default the headers wait for the first message, so that a call
    /// whose status comes first is answered Trailers-Only, which clients
    /// such as tonic's and wego's report as the call failing rather than as
    /// a stream whose first item is the error (see `docs/rpc.md`). Ask for
    /// early headers when the client should see the call start before the
    /// first message: for example a bidi handler that answers only after
    /// the client's first message, serving a client whose `streaming` call
    /// returns only once the headers arrive (wego's and tonic's do) and
    /// that sends its first message only after that.
    ///
    /// ```
    /// use wego_kitex::grpc::{BoxStream, Response};
    /// # fn demo(stream: BoxStream<()>) {
    /// let mut resp = Response::new(stream);
    /// resp.set_early_headers(true);
    /// # }
    /// ```
    pub fn set_early_headers(&mut self, yes: bool) {
        self.early_headers = yes;
    }

    /// Whether [`Response::set_early_headers`] asked for early headers.
    pub fn has_early_headers(&self) -> bool {
        self.early_headers
    }

    /// The initial metadata (response headers).
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Mutable access to the initial metadata.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// The trailing metadata (sent with `grpc-status`). On a client, for a
    /// streaming response, read [`ResponseStream::trailers`](super::ResponseStream::trailers)
    /// once the stream ended instead.
    pub fn trailers(&self) -> &Metadata {
        &self.trailers
    }

    /// Mutable access to the trailing metadata.
    pub fn trailers_mut(&mut self) -> &mut Metadata {
        &mut self.trailers
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// Mutable access to the message.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// Unwraps the message.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// Asks the server to compress this response's messages with `encoding`
    /// (when the client accepts it); `None` keeps the server's default.
    pub fn set_compression(&mut self, encoding: Option<Encoding>) {
        self.compression = encoding;
    }

    /// The compression asked for by [`Response::set_compression`].
    pub fn compression(&self) -> Option<Encoding> {
        self.compression
    }

    pub(crate) fn set_trailers(&mut self, trailers: Metadata) {
        self.trailers = trailers;
    }

    /// Replaces the message, keeping everything else.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            message: f(self.message),
            metadata: self.metadata,
            trailers: self.trailers,
            compression: self.compression,
            early_headers: self.early_headers,
        }
    }
}

impl<T> Request<T> {
    pub(crate) fn content_type(&self) -> &'static str {
        self.content_type.unwrap_or("application/grpc")
    }

    pub(crate) fn set_content_type(&mut self, ct: &'static str) {
        self.content_type = Some(ct);
    }

    pub(crate) fn from_parts(
        message: T,
        metadata: Metadata,
        deadline: Option<Instant>,
    ) -> Request<T> {
        let mut r = Request::new(message);
        r.metadata = metadata;
        r.deadline = deadline;
        r
    }
}

impl<T> Response<T> {
    pub(crate) fn from_parts(message: T, metadata: Metadata) -> Response<T> {
        let mut r = Response::new(message);
        r.metadata = metadata;
        r
    }
}

impl<T: Clone> Clone for Request<T> {
    fn clone(&self) -> Request<T> {
        let mut r = Request::from_parts(
            self.get_ref().clone(),
            self.metadata().clone(),
            self.deadline(),
        );
        r.set_compression(self.compression());
        r.set_path(self.path().to_owned());
        r.content_type = self.content_type;
        r
    }
}
