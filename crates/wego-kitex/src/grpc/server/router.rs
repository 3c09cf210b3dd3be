//! The server's service model: a [`GrpcRouter`] from method paths to handlers,
//! itself a `tower::Service` over raw calls, so governance layers wrap it
//! unchanged.
//!
//! Every handler kind (unary, client streaming, server streaming, bidi) is
//! adapted to one shape, [`RawRequest`] → [`RawResponse`]: a stream of
//! payloads in, a stream of payloads out.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::stream::RequestStream;
use crate::BoxFuture;
use crate::grpc::codec::message::{
    Codec, MessageDecoder, MessageEncoder, ProstCodec, ProstDecoder,
};
use crate::grpc::request::{BoxStream, Request, Response};
use crate::grpc::status::Status;

/// What the server hands to the service: the raw inbound messages.
pub type RawRequest = Request<RequestStream<Bytes>>;

/// What the service returns: the raw outbound messages.
pub type RawResponse = Response<BoxStream<Bytes>>;

type Handler =
    Arc<dyn Fn(RawRequest) -> BoxFuture<'static, Result<RawResponse, Status>> + Send + Sync>;

/// Routes calls by path (`/package.Service/Method`) to handlers. Unknown
/// paths get `UNIMPLEMENTED`.
#[derive(Clone, Default)]
pub struct GrpcRouter {
    routes: Arc<HashMap<String, Handler>>,
}

impl fmt::Debug for GrpcRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut paths: Vec<&String> = self.routes.keys().collect();
        paths.sort();
        f.debug_struct("GrpcRouter").field("paths", &paths).finish()
    }
}

fn encode_prost<M: prost::Message>(m: &M) -> Bytes {
    Bytes::from(m.encode_to_vec())
}

/// Takes exactly one message from a request stream (unary input), keeping
/// the request's metadata, deadline and path, and whether it was compressed.
async fn unary_input<M: prost::Message + Default + 'static>(
    req: RawRequest,
) -> Result<Request<M>, Status> {
    unary_input_with(req, ProstDecoder::<M>::new()).await
}

/// [`unary_input`] with any decoder.
async fn unary_input_with<D: MessageDecoder>(
    req: RawRequest,
    mut decoder: D,
) -> Result<Request<D::Item>, Status> {
    let (mut s, mut req) = req.replace(());
    let Some(first) = s.message().await? else {
        return Err(Status::internal("missing request message"));
    };
    let compressed = s.is_last_compressed();
    if s.message().await?.is_some() {
        return Err(Status::internal(
            "more than one request message for a unary input",
        ));
    }
    let msg = decoder.decode(first)?;
    req.set_compressed(compressed);
    Ok(req.map(|()| msg))
}

/// Encodes a response stream's messages, cut from shared blocks rather
/// than one allocation each.
fn boxed_out<M: prost::Message + 'static>(s: BoxStream<M>) -> BoxStream<Bytes> {
    let mut buf = BytesMut::new();
    Box::pin(s.map(move |r| {
        r.map(|m| {
            buf.reserve(m.encoded_len().max(4 * 1024));
            // Cannot fail: the buffer has room for the whole message.
            let _ = m.encode(&mut buf);
            buf.split().freeze()
        })
    }))
}

impl GrpcRouter {
    /// An empty router.
    pub fn new() -> GrpcRouter {
        GrpcRouter::default()
    }

    fn add(mut self, path: &str, h: Handler) -> GrpcRouter {
        Arc::make_mut(&mut self.routes).insert(path.to_owned(), h);
        self
    }

    /// Adds a raw handler, payloads in and out (no decoding).
    pub fn raw<F, Fut>(self, path: &str, f: F) -> GrpcRouter
    where
        F: Fn(RawRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<RawResponse, Status>> + Send + 'static,
    {
        self.add(path, Arc::new(move |r| Box::pin(f(r))))
    }

    /// Adds a unary method whose messages are protobuf ([`ProstCodec`]).
    pub fn unary<Req, Resp, F, Fut>(self, path: &str, f: F) -> GrpcRouter
    where
        Req: prost::Message + Default + Send + 'static,
        Resp: prost::Message + Send + 'static,
        F: Fn(Request<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
    {
        self.unary_with_codec(path, ProstCodec::<Resp, Req>::new(), f)
    }

    /// Adds a unary method whose messages `codec` encodes (responses,
    /// [`Codec::Encode`]) and decodes (requests, [`Codec::Decode`]). The
    /// response carries the call's content-type, e.g.
    /// `application/grpc+json`.
    pub fn unary_with_codec<C, F, Fut>(self, path: &str, codec: C, f: F) -> GrpcRouter
    where
        C: Codec,
        F: Fn(Request<C::Decode>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<C::Encode>, Status>> + Send + 'static,
    {
        let f = Arc::new(f);
        let codec = Arc::new(codec);
        self.raw(path, move |req: RawRequest| {
            let (f, codec) = (f.clone(), codec.clone());
            async move {
                let req = unary_input_with(req, codec.decoder()).await?;
                let mut buf = BytesMut::new();
                let mut encoded = Ok(());
                let resp = f(req)
                    .await?
                    .map(|m| encoded = codec.encoder().encode(m, &mut buf));
                encoded?;
                let out: BoxStream<Bytes> = Box::pin(futures_util::stream::once(
                    std::future::ready(Ok(buf.freeze())),
                ));
                Ok(resp.map(|()| out))
            }
        })
    }

    /// Adds a server-streaming method.
    pub fn server_streaming<Req, Resp, F, Fut>(self, path: &str, f: F) -> GrpcRouter
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: Fn(Request<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<BoxStream<Resp>>, Status>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.raw(path, move |req: RawRequest| {
            let f = f.clone();
            async move {
                let req = unary_input::<Req>(req).await?;
                let resp = f(req).await?;
                Ok(resp.map(boxed_out))
            }
        })
    }

    /// Adds a client-streaming method.
    pub fn client_streaming<Req, Resp, F, Fut>(self, path: &str, f: F) -> GrpcRouter
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: Fn(Request<RequestStream<Req>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.raw(path, move |req: RawRequest| {
            let f = f.clone();
            async move {
                let resp = f(req.map(RequestStream::decode_into::<Req>)).await?;
                Ok(resp.map(|m| -> BoxStream<Bytes> {
                    Box::pin(futures_util::stream::once(std::future::ready(Ok(
                        encode_prost(&m),
                    ))))
                }))
            }
        })
    }

    /// Adds a bidirectional-streaming method.
    pub fn streaming<Req, Resp, F, Fut>(self, path: &str, f: F) -> GrpcRouter
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: Fn(Request<RequestStream<Req>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<BoxStream<Resp>>, Status>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.raw(path, move |req: RawRequest| {
            let f = f.clone();
            async move {
                let resp = f(req.map(RequestStream::decode_into::<Req>)).await?;
                Ok(resp.map(boxed_out))
            }
        })
    }

    /// Merges another router's routes into this one (theirs win on clashes).
    pub fn merge(mut self, other: GrpcRouter) -> GrpcRouter {
        let routes = Arc::make_mut(&mut self.routes);
        for (k, v) in other.routes.iter() {
            routes.insert(k.clone(), v.clone());
        }
        self
    }

    /// Every routed path.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }

    /// Whether a path is routed.
    pub fn has_route(&self, path: &str) -> bool {
        self.routes.contains_key(path)
    }
}

impl tower_service::Service<RawRequest> for GrpcRouter {
    type Response = RawResponse;
    type Error = Status;
    type Future = BoxFuture<'static, Result<RawResponse, Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RawRequest) -> Self::Future {
        match self.routes.get(req.path()) {
            Some(h) => h(req),
            None => {
                let path = req.path().to_owned();
                Box::pin(
                    async move { Err(Status::unimplemented(format!("unknown method {path}"))) },
                )
            }
        }
    }
}
