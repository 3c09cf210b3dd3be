//! Serving Kitex Protobuf: [`ProtobufHandler`] answers calls with the unary
//! methods of a gRPC [`Router`], so one generated service implementation
//! serves both gRPC and Kitex Protobuf. It plugs into Kitex's server as a
//! [`PayloadHandler`] (TTHeader frames) and also serves a connection by
//! itself ([`ProtobufHandler::serve_connection`], TTHeader or Framed).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use pilota::FastStr;
use tower_service::Service;
use wego_netpoll::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use wego_netpoll::{Watcher, rt};

use super::codec::{self, ErrorProto, ProtobufMessageType};
use super::framing::{self, ProtobufFraming};
use crate::grpc::{Code, GrpcRouter, Metadata, RawRequest, RequestStream, Status};
use crate::metainfo::{self, CallContext, MetaInfo, RpcInfo, keys};
use crate::server::{Config, PayloadHandler, write_within};
use crate::ttheader::{self, PROTOCOL_KITEX_PROTOBUF};

/// Thrift application-exception type ids used in [`ErrorProto::type_id`].
const UNKNOWN_METHOD: i32 = 1;
const INTERNAL_ERROR: i32 = 6;

/// Answers Kitex Protobuf calls from a gRPC router's unary methods.
#[derive(Debug, Clone)]
pub struct ProtobufHandler {
    inner: Arc<Inner>,
    conn: ConnTimeouts,
}

/// What bounds a connection [`ProtobufHandler::serve_connection`] serves:
/// the Thrift server's connection timeouts ([`Config`]).
#[derive(Debug, Clone, Copy)]
struct ConnTimeouts {
    read: Duration,
    frame_read: Duration,
    write: Duration,
}

impl From<&Config> for ConnTimeouts {
    fn from(c: &Config) -> Self {
        Self {
            read: c.read_timeout,
            frame_read: c.frame_read_timeout,
            write: c.write_timeout,
        }
    }
}

#[derive(Debug)]
struct Inner {
    router: GrpcRouter,
    /// Method name → gRPC paths that end with it.
    methods: HashMap<String, Vec<String>>,
    max_message: usize,
}

impl ProtobufHandler {
    /// Serves the router's methods by their bare names (`Echo` for
    /// `/echo.EchoServer/Echo`); when two services share a name, the
    /// callee in TTHeader (`to_service`) picks one.
    pub fn new(router: GrpcRouter) -> ProtobufHandler {
        let mut methods: HashMap<String, Vec<String>> = HashMap::new();
        for path in router.paths() {
            if let Some((_, m)) = path.rsplit_once('/') {
                methods
                    .entry(m.to_owned())
                    .or_default()
                    .push(path.to_owned());
            }
        }
        for v in methods.values_mut() {
            v.sort();
        }
        ProtobufHandler {
            inner: Arc::new(Inner {
                router,
                methods,
                max_message: crate::grpc::codec::DEFAULT_MAX_MESSAGE_SIZE,
            }),
            conn: ConnTimeouts::from(&Config::default()),
        }
    }

    /// Bounds the connections [`serve_connection`](Self::serve_connection)
    /// serves with `config`'s `read_timeout`, `frame_read_timeout` and
    /// `write_timeout`, as the Thrift server bounds its own (the defaults
    /// are [`Config::default`]'s: 60 s, 10 s, 10 s). Its other fields are
    /// not used here. On the one-port server the server's own settings
    /// apply instead.
    pub fn with_server_config(mut self, config: &Config) -> Self {
        self.conn = ConnTimeouts::from(config);
        self
    }

    /// The same, as the trait object the Kitex server takes.
    pub fn into_arc(self) -> Arc<dyn PayloadHandler> {
        Arc::new(self)
    }

    fn path_for(&self, method: &str, callee: &str) -> Option<String> {
        let paths = self.inner.methods.get(method)?;
        paths
            .iter()
            .find(|p| {
                !callee.is_empty()
                    && p.trim_start_matches('/')
                        .split('/')
                        .next()
                        .is_some_and(|svc| svc == callee || svc.ends_with(&format!(".{callee}")))
            })
            .or_else(|| paths.first())
            .cloned()
    }

    /// Answers one encoded message; `None` for oneway calls and payloads
    /// that are not Kitex Protobuf calls.
    pub async fn answer(&self, payload: Bytes, ctx: Arc<CallContext>) -> Option<Bytes> {
        let msg = match codec::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "undecodable kitex protobuf payload");
                return None;
            }
        };
        if !matches!(
            msg.kind,
            ProtobufMessageType::Call | ProtobufMessageType::Oneway
        ) {
            return None;
        }
        let result = self.dispatch(&msg.method, msg.body, ctx).await;
        if msg.kind == ProtobufMessageType::Oneway {
            return None;
        }
        let mut out = BytesMut::new();
        let written = match result {
            Ok(body) => codec::encode(
                ProtobufMessageType::Reply,
                &msg.method,
                msg.seq_id,
                &body,
                &mut out,
            ),
            Err(status) => {
                let err = ErrorProto {
                    type_id: if status.code() == Code::Unimplemented {
                        UNKNOWN_METHOD
                    } else {
                        INTERNAL_ERROR
                    },
                    message: status.message().to_owned(),
                };
                codec::encode(
                    ProtobufMessageType::Exception,
                    &msg.method,
                    msg.seq_id,
                    &prost::Message::encode_to_vec(&err),
                    &mut out,
                )
            }
        };
        written.ok().map(|()| out.freeze())
    }

    async fn dispatch(
        &self,
        method: &str,
        body: Bytes,
        ctx: Arc<CallContext>,
    ) -> Result<Bytes, Status> {
        let Some(path) = self.path_for(method, &ctx.rpc_info.callee) else {
            return Err(Status::unimplemented(format!("unknown method {method}")));
        };
        let deadline = ctx.rpc_info.deadline;
        let stream = RequestStream::from_message(&body, self.inner.max_message)?;
        let mut req = RawRequest::from_parts(stream, Metadata::new(), deadline);
        req.set_path(path);
        let mut router = self.inner.router.clone();
        let call = async move {
            let resp = router.call(req).await?;
            let mut out = resp.into_inner();
            match out.next().await {
                Some(r) => r,
                None => Err(Status::internal("no response message")),
            }
        };
        // A handler's panic is this call's internal error, not the end of
        // the connection (the one-port server's or `serve_connection`'s).
        let call = async {
            crate::contain::contain(call).await.unwrap_or_else(|| {
                tracing::error!("kitex protobuf handler panicked; answering INTERNAL_ERROR");
                Err(Status::internal("handler panicked"))
            })
        };
        let call = metainfo::scope(ctx, call);
        match deadline {
            Some(d) => rt::timeout_at(d, call)
                .await
                .unwrap_or_else(|_| Err(Status::deadline_exceeded("deadline exceeded"))),
            None => call.await,
        }
    }

    /// Serves one connection carrying Kitex Protobuf over TTHeader or Framed
    /// (detected from the first frame) until the peer closes, an
    /// undecodable frame arrives, or the watcher drains. Calls on one
    /// connection are answered in order.
    ///
    /// The connection is bounded as the Thrift server's are
    /// ([`with_server_config`](Self::with_server_config)): it is closed
    /// when it stays silent past the read timeout, when a frame has not
    /// arrived whole within the frame read timeout of its first byte (for
    /// the first frame, of the connection's first byte), or when the peer
    /// does not take a reply within the write timeout.
    ///
    /// # Errors
    ///
    /// I/O errors; a malformed frame or a timeout closes the connection
    /// quietly.
    pub async fn serve_connection<IO>(&self, mut io: IO, watcher: Watcher) -> std::io::Result<()>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let limits = self.conn;
        let mut buf = BytesMut::with_capacity(8 * 1024);
        let mut framing = None;
        let peer = String::new();
        let mut idle_deadline = rt::deadline_in(limits.read);
        // When the frame being read must be whole: from its first byte.
        let mut frame_deadline: Option<Instant> = None;
        // One timer for the connection. It lags behind the idle deadline,
        // which every read moves, and is reset only when it fires early or
        // a frame's deadline comes first: no timer work per call.
        let timer = rt::sleep_until(idle_deadline);
        tokio::pin!(timer);
        loop {
            let f = match framing {
                Some(f) => f,
                None => match framing::detect(&buf) {
                    Some(f) => *framing.insert(f),
                    None if buf.len() >= framing::DETECT_LEN => return Ok(()),
                    None => ProtobufFraming::Framed,
                },
            };
            if framing.is_some() {
                match framing::decode(f, &mut buf, self.inner.max_message) {
                    Ok(Some((header, payload))) => {
                        frame_deadline = None;
                        let ctx = Arc::new(context(header.as_ref(), &peer));
                        if let Some(reply) = self.answer(payload, ctx).await {
                            let mut out = BytesMut::new();
                            if framing::encode(f, header.as_ref(), &reply, &mut out).is_err() {
                                return Ok(());
                            }
                            let write = async {
                                io.write_all(&out).await?;
                                io.flush().await
                            };
                            if write_within(limits.write, write).await.is_err() {
                                return Ok(());
                            }
                        }
                        continue;
                    }
                    Ok(None) => {}
                    Err(()) => return Ok(()),
                }
            }
            // Bytes already buffered start a frame (or the detection) now.
            if buf.is_empty() {
                frame_deadline = None;
            } else if frame_deadline.is_none() {
                frame_deadline = Some(rt::deadline_in(limits.frame_read));
            }
            let wake = frame_deadline.map_or(idle_deadline, |d| d.min(idle_deadline));
            if wake < timer.deadline() {
                timer.as_mut().reset(wake);
            }
            tokio::select! {
                r = io.read_buf(&mut buf) => {
                    if r? == 0 {
                        return Ok(());
                    }
                    idle_deadline = rt::deadline_in(limits.read);
                }
                () = &mut timer => {
                    if rt::now() >= wake {
                        tracing::debug!("kitex protobuf connection timed out, closing");
                        return Ok(());
                    }
                    timer.as_mut().reset(wake);
                }
                () = watcher.draining() => return Ok(()),
            }
        }
    }
}

/// The call context a TTHeader gives (Framed carries none).
fn context(h: Option<&ttheader::Header>, peer: &str) -> CallContext {
    let Some(h) = h else {
        return CallContext::default();
    };
    CallContext {
        rpc_info: RpcInfo {
            caller: h.int(keys::FROM_SERVICE).map(FastStr::new),
            callee: FastStr::new(h.int(keys::TO_SERVICE).unwrap_or_default()),
            method: FastStr::new(h.int(keys::TO_METHOD).unwrap_or_default()),
            seq_id: h.seq_id,
            deadline: h
                .int(keys::RPC_TIMEOUT)
                .and_then(|ms| ms.parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .and_then(|ms| rt::now().checked_add(Duration::from_millis(ms))),
            peer: (!peer.is_empty()).then(|| FastStr::new(peer)),
        },
        metainfo: MetaInfo::from_wire(&h.str_info),
    }
}

impl PayloadHandler for ProtobufHandler {
    fn accepts(&self, protocol_id: u8, payload: &[u8]) -> bool {
        protocol_id == PROTOCOL_KITEX_PROTOBUF || codec::is_protobuf(payload)
    }

    fn call(
        &self,
        payload: Bytes,
        ctx: Arc<CallContext>,
    ) -> Pin<Box<dyn Future<Output = Option<Bytes>> + Send>> {
        let this = self.clone();
        Box::pin(async move { this.answer(payload, ctx).await })
    }
}
