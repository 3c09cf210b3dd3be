//! Serving Kitex Protobuf: [`ProtobufHandler`] answers calls with the unary
//! methods of a gRPC [`Router`], so one generated service implementation
//! serves both gRPC and Kitex Protobuf. It plugs into Kitex's server as a
//! [`PayloadHandler`] (TTHeader frames) and also serves a connection by
//! itself ([`ProtobufHandler::serve_connection`], TTHeader or Framed).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

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
use crate::server::PayloadHandler;
use crate::ttheader::{self, PROTOCOL_KITEX_PROTOBUF};

/// Thrift application-exception type ids used in [`ErrorProto::type_id`].
const UNKNOWN_METHOD: i32 = 1;
const INTERNAL_ERROR: i32 = 6;

/// Answers Kitex Protobuf calls from a gRPC router's unary methods.
#[derive(Debug, Clone)]
pub struct ProtobufHandler {
    inner: Arc<Inner>,
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
        }
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
    /// # Errors
    ///
    /// I/O errors; a malformed frame closes the connection quietly.
    pub async fn serve_connection<IO>(&self, mut io: IO, watcher: Watcher) -> std::io::Result<()>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let mut buf = BytesMut::with_capacity(8 * 1024);
        let mut framing = None;
        let peer = String::new();
        loop {
            let f = match framing {
                Some(f) => f,
                None => match framing::detect(&buf) {
                    Some(f) => *framing.insert(f),
                    None if buf.len() >= 6 => return Ok(()),
                    None => ProtobufFraming::Framed,
                },
            };
            if framing.is_some() {
                match framing::decode(f, &mut buf, self.inner.max_message) {
                    Ok(Some((header, payload))) => {
                        let ctx = Arc::new(context(header.as_ref(), &peer));
                        if let Some(reply) = self.answer(payload, ctx).await {
                            let mut out = BytesMut::new();
                            if framing::encode(f, header.as_ref(), &reply, &mut out).is_err() {
                                return Ok(());
                            }
                            io.write_all(&out).await?;
                            io.flush().await?;
                        }
                        continue;
                    }
                    Ok(None) => {}
                    Err(()) => return Ok(()),
                }
            }
            let n = tokio::select! {
                r = io.read_buf(&mut buf) => r?,
                () = watcher.draining() => return Ok(()),
            };
            if n == 0 {
                return Ok(());
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
