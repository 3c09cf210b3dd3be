//! [`Channel`]: one h2c connection, multiplexing calls as HTTP/2 streams.
//! Its constructors are in `builder.rs`.
//!
//! Unary and server-streaming calls hand their one framed message to h2 up
//! front; streaming requests are sent by a small pump task (`pump.rs`)
//! so that a bidi call can read and write at once. Dropping a call drops
//! its h2 handles (and aborts the pump), which resets the stream
//! (`RST_STREAM(CANCEL)`), and the server sees the cancellation. Deadlines travel as `grpc-timeout` and are
//! also enforced here, so a server that ignores them cannot hold a caller.

use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::StreamExt;
use h2::client::SendRequest;
use http::{HeaderValue, StatusCode};
use wego_netpoll::Address;
use wego_netpoll::rt;

use super::connection::{Config, Live, open};
use super::pump::{PumpError, PumpGuard, pump};
use super::stream::ResponseStream;
use crate::grpc::codec::message::{Codec, MessageDecoder, MessageEncoder, ProstCodec};
use crate::grpc::codec::timeout::format_timeout;
use crate::grpc::codec::{self, Decoder, Encoding, message_status};
use crate::grpc::metadata::Metadata;
use crate::grpc::request::{BoxStream, Request, Response};
use crate::grpc::status::Status;

/// The request side of a call.
pub(crate) enum Body {
    /// One message, already framed.
    Single(Bytes),
    /// A stream of payloads, framed by the pump task.
    Stream(BoxStream<Bytes>),
}

struct Inner {
    live: std::sync::Mutex<Arc<Live>>,
    /// Where to redial when the connection is gone (`None` for a channel
    /// made by [`ChannelBuilder::handshake`]).
    addr: Option<Address>,
    redial: tokio::sync::Mutex<()>,
    config: Config,
}

/// A client connection for gRPC calls. Cheap to clone; clones share the
/// connection, and the connection closes when the last clone drops.
///
/// When the connection is gone (the server closed it, sent GOAWAY, or
/// keepalive found it dead), the next call dials a new one before sending
/// anything, so no call is lost to a stale connection; a call already in
/// flight on the old connection fails with `UNAVAILABLE`.
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("config", &self.inner.config)
            .finish()
    }
}

fn encode_prost<M: prost::Message>(m: &M) -> Bytes {
    Bytes::from(m.encode_to_vec())
}

impl Channel {
    pub(crate) fn from_live(config: Config, live: Live, addr: Option<Address>) -> Channel {
        Channel {
            inner: Arc::new(Inner {
                live: std::sync::Mutex::new(Arc::new(live)),
                addr,
                redial: tokio::sync::Mutex::new(()),
                config,
            }),
        }
    }

    /// The channel's configuration.
    #[cfg_attr(not(feature = "governance"), allow(dead_code))] // used by the governance glue
    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    fn live(&self) -> Arc<Live> {
        // A poisoned lock only means a panicking writer; the value is intact.
        self.inner
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A sender ready for a new stream, redialling once if the connection
    /// is gone.
    async fn ready_sender(&self) -> Result<SendRequest<Bytes>, Status> {
        let live = self.live();
        let err = match live.send.clone().ready().await {
            Ok(s) => return Ok(s),
            Err(e) => e,
        };
        let Some(addr) = &self.inner.addr else {
            return Err(Status::unavailable(format!("connection: {err}")));
        };
        {
            let _one = self.inner.redial.lock().await;
            // Another call may have redialled while we waited.
            if self.live().generation == live.generation {
                tracing::debug!(error = %err, "grpc connection gone, redialling");
                let fresh = open(&self.inner.config, addr, live.generation + 1).await?;
                *self
                    .inner
                    .live
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh);
            }
        }
        self.live()
            .send
            .clone()
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("connection: {e}")))
    }

    /// Starts a call with a raw message stream; returns the response head
    /// and the raw response messages. The typed methods build on it.
    ///
    /// # Errors
    ///
    /// The call's status when it failed before the response head
    /// (trailers-only responses, HTTP errors, deadline, connection loss).
    pub async fn call_raw(
        &self,
        path: &str,
        request: Request<BoxStream<Bytes>>,
    ) -> Result<Response<ResponseStream<Bytes>>, Status> {
        self.call_body(path, request.map(Body::Stream)).await
    }

    pub(crate) async fn call_body(
        &self,
        path: &str,
        request: Request<Body>,
    ) -> Result<Response<ResponseStream<Bytes>>, Status> {
        let cfg = &self.inner.config;
        let deadline = request
            .deadline()
            .or_else(|| cfg.timeout.and_then(|t| rt::now().checked_add(t)));
        let encoding = request.compression().or(cfg.compression);
        let head = async {
            let send = self.ready_sender().await?;
            let mut req = http::Request::builder()
                .method(http::Method::POST)
                .uri(format!("http://{}{}", cfg.authority, path))
                .body(())
                .map_err(|e| Status::internal(format!("invalid method path: {e}")))?;
            let h = req.headers_mut();
            request.metadata().merge_into(h);
            crate::grpc::metainfo::forward(h);
            h.insert(
                "content-type",
                HeaderValue::from_static(request.content_type()),
            );
            h.insert("te", HeaderValue::from_static("trailers"));
            h.insert("user-agent", HeaderValue::from_static("grpc-rust-wego/0.1"));
            h.insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
            if let Some(e) = encoding {
                h.insert("grpc-encoding", HeaderValue::from_static(e.as_str()));
            }
            if let Some(d) = deadline
                && let Ok(v) =
                    HeaderValue::from_str(&format_timeout(d.saturating_duration_since(rt::now())))
            {
                h.insert("grpc-timeout", v);
            }
            let mut send = send;
            let (resp, stream) = send
                .send_request(req, false)
                .map_err(|e| Status::unavailable(format!("cannot start call: {e}")))?;
            let pump = match request.into_inner() {
                // One framed message: h2 queues it and sends it as the
                // window allows; no task needed. Dropping the call drops
                // the response handles, and h2 resets the stream.
                //
                // The server may already have answered and closed the
                // stream (a trailers-only error such as UNIMPLEMENTED, sent
                // on seeing the headers): then the send fails with h2's
                // "inactive stream", and the server's answer, read below,
                // is the call's outcome. A send that failed for any other
                // reason fails the response too.
                Body::Single(frame) => {
                    let mut stream = stream;
                    if let Err(e) = stream.send_data(frame, true) {
                        tracing::debug!(error = %e, "request message not sent; reading the answer");
                    }
                    None
                }
                Body::Stream(messages) => {
                    let slot = PumpError::default();
                    Some(PumpGuard(
                        rt::spawn(pump(stream, messages, encoding, cfg.max_send, slot.clone())),
                        Some(slot),
                    ))
                }
            };
            let resp = match resp.await {
                Ok(r) => r,
                Err(e) => {
                    let pumped = pump.as_ref().and_then(PumpGuard::error);
                    return Err(pumped.unwrap_or_else(|| Status::from_h2(&e)));
                }
            };
            Ok::<_, Status>((resp, pump))
        };
        let (resp, pump) = match deadline {
            Some(d) => rt::timeout_at(d, head)
                .await
                .map_err(|_| Status::deadline_exceeded("deadline exceeded"))??,
            None => head.await?,
        };
        let (parts, body) = resp.into_parts();
        // A grpc-status in the head is a trailers-only response.
        if let Some(status) = Status::from_header_map(&parts.headers) {
            if !status.is_ok() {
                return Err(status);
            }
            let mut r = Response::from_parts(
                ResponseStream::new(None, Decoder::new(cfg.max_recv, None), None, None),
                status.metadata().clone(),
            );
            r.set_trailers(status.metadata().clone());
            return Ok(r);
        }
        if parts.status != StatusCode::OK {
            return Err(Status::from_http(parts.status));
        }
        let ct = parts
            .headers
            .get("content-type")
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !ct.starts_with(b"application/grpc") {
            return Err(Status::unknown(format!(
                "non-grpc content-type {}",
                String::from_utf8_lossy(ct)
            )));
        }
        let recv_enc = match parts
            .headers
            .get("grpc-encoding")
            .map(HeaderValue::as_bytes)
        {
            None | Some(b"identity") => None,
            Some(t) => match Encoding::from_token(t) {
                Some(e) => Some(e),
                None => {
                    return Err(Status::internal(format!(
                        "server used unsupported grpc-encoding {}",
                        String::from_utf8_lossy(t)
                    )));
                }
            },
        };
        let mut metadata = Metadata::from_headers(parts.headers);
        metadata.remove_reserved();
        let stream = ResponseStream::new(
            Some(body),
            Decoder::new(cfg.max_recv, recv_enc),
            deadline,
            pump,
        );
        Ok(Response::from_parts(stream, metadata))
    }

    /// Frames a single request message (unary and server-streaming calls),
    /// checking the send limit before anything is sent.
    fn single<M: prost::Message>(&self, request: Request<M>) -> Result<Request<Body>, Status> {
        let payload = encode_prost(request.get_ref());
        self.framed(request.map(|_| payload))
    }

    /// Frames one encoded request message, checking the send limit.
    fn framed(&self, request: Request<Bytes>) -> Result<Request<Body>, Status> {
        let cfg = &self.inner.config;
        let encoding = request.compression().or(cfg.compression);
        let mut frame = BytesMut::new();
        codec::encode(request.get_ref(), encoding, cfg.max_send, &mut frame)
            .map_err(message_status)?;
        Ok(request.map(|_| Body::Single(frame.freeze())))
    }

    /// A unary call with protobuf messages ([`ProstCodec`]).
    ///
    /// # Errors
    ///
    /// The call's non-OK status.
    pub async fn unary<Req, Resp>(
        &self,
        path: &str,
        request: Request<Req>,
    ) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message + Send + 'static,
        Resp: prost::Message + Default + Send + 'static,
    {
        self.unary_with_codec(path, &ProstCodec::<Req, Resp>::new(), request)
            .await
    }

    /// A unary call whose request `codec` encodes ([`Codec::Encode`]) and
    /// whose response it decodes ([`Codec::Decode`]), sent with the codec's
    /// content-type.
    ///
    /// # Errors
    ///
    /// The call's non-OK status; `INTERNAL` when a message cannot be
    /// encoded or decoded.
    pub async fn unary_with_codec<C: Codec>(
        &self,
        path: &str,
        codec: &C,
        request: Request<C::Encode>,
    ) -> Result<Response<C::Decode>, Status> {
        let mut buf = BytesMut::new();
        let mut encoded = Ok(());
        let mut request = request.map(|m| encoded = codec.encoder().encode(m, &mut buf));
        encoded?;
        request.set_content_type(codec.content_type());
        let request = self.framed(request.map(|()| buf.freeze()))?;
        let resp = self.unary_body(path, request).await?;
        let trailers = resp.trailers().clone();
        let (message, metadata) = resp.into_inner_with_meta().into_pair();
        let mut r = Response::from_parts(codec.decoder().decode(message)?, metadata);
        r.set_trailers(trailers);
        Ok(r)
    }

    /// A unary call with an already encoded request message, answering the
    /// encoded response message (the `tower::Service` path of
    /// `grpc/governance`).
    pub(crate) async fn unary_encoded(
        &self,
        path: &str,
        request: Request<Bytes>,
    ) -> Result<Response<Bytes>, Status> {
        let cfg = &self.inner.config;
        let encoding = request.compression().or(cfg.compression);
        let mut frame = BytesMut::new();
        codec::encode(request.get_ref(), encoding, cfg.max_send, &mut frame)
            .map_err(message_status)?;
        self.unary_body(path, request.map(|_| Body::Single(frame.freeze())))
            .await
    }

    /// Sends one framed message and reads exactly one response message.
    async fn unary_body(
        &self,
        path: &str,
        request: Request<Body>,
    ) -> Result<Response<Bytes>, Status> {
        let resp = self.call_body(path, request).await?;
        let mut trailing_meta = resp.trailers().clone();
        let (mut stream, metadata) = (resp.into_inner_with_meta()).into_pair();
        let Some(first) = stream.message().await? else {
            return Err(Status::internal("missing response message"));
        };
        if stream.message().await?.is_some() {
            return Err(Status::internal(
                "more than one response message for a unary call",
            ));
        }
        if let Some(t) = stream.trailers() {
            trailing_meta = t.clone();
        }
        let mut r = Response::from_parts(first, metadata);
        r.set_trailers(trailing_meta);
        Ok(r)
    }

    /// A server-streaming call: one request, a stream of responses.
    ///
    /// # Errors
    ///
    /// The call's status if it failed before the first response.
    pub async fn server_streaming<Req, Resp>(
        &self,
        path: &str,
        request: Request<Req>,
    ) -> Result<Response<ResponseStream<Resp>>, Status>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        let request = self.single(request)?;
        Ok(self
            .call_body(path, request)
            .await?
            .map(ResponseStream::decode_into))
    }

    /// A client-streaming call: a stream of requests, one response.
    ///
    /// # Errors
    ///
    /// The call's non-OK status.
    pub async fn client_streaming<S, Req, Resp>(
        &self,
        path: &str,
        request: Request<S>,
    ) -> Result<Response<Resp>, Status>
    where
        S: Stream<Item = Req> + Send + 'static,
        Req: prost::Message + 'static,
        Resp: prost::Message + Default,
    {
        let resp = self.streaming::<S, Req, Resp>(path, request).await?;
        let (mut stream, metadata) = resp.into_inner_with_meta().into_pair();
        let Some(msg) = stream.message().await? else {
            return Err(Status::internal("missing response message"));
        };
        if stream.message().await?.is_some() {
            return Err(Status::internal("more than one response message"));
        }
        let trailers = stream.trailers().cloned().unwrap_or_default();
        let mut r = Response::from_parts(msg, metadata);
        r.set_trailers(trailers);
        Ok(r)
    }

    /// A bidirectional-streaming call.
    ///
    /// This returns once the response headers arrive. Servers that send
    /// them lazily (grpc-go, wego's, unless the handler asks for early
    /// headers) send them with their first message, so when the server
    /// answers only after a request, queue the first request in `request`
    /// before awaiting this, rather than after it returns.
    ///
    /// # Errors
    ///
    /// The call's status if it failed before the response head (a
    /// Trailers-Only response).
    pub async fn streaming<S, Req, Resp>(
        &self,
        path: &str,
        request: Request<S>,
    ) -> Result<Response<ResponseStream<Resp>>, Status>
    where
        S: Stream<Item = Req> + Send + 'static,
        Req: prost::Message + 'static,
        Resp: prost::Message + Default,
    {
        let request =
            request.map(|s| -> BoxStream<Bytes> { Box::pin(s.map(|m| Ok(encode_prost(&m)))) });
        Ok(self
            .call_raw(path, request)
            .await?
            .map(ResponseStream::decode_into))
    }
}

/// Splits a response into message and metadata.
pub(crate) struct Pair<T>(T, Metadata);

impl<T> Pair<T> {
    fn into_pair(self) -> (T, Metadata) {
        (self.0, self.1)
    }
}

impl<T> Response<T> {
    pub(crate) fn into_inner_with_meta(self) -> Pair<T> {
        let md = self.metadata().clone();
        Pair(self.into_inner(), md)
    }
}
