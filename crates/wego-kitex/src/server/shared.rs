//! What a connection's task and the frames it serves share: the server's
//! state, the peer's label, a frame's answer.

use std::sync::Arc;

use bytes::BytesMut;
use pilota::FastStr;

use super::{Config, ConnHandler, PayloadHandler, ServerStats, ThriftRouter};
use crate::thrift::{ApplicationException, ExceptionKind, PayloadProtocol};
use crate::transport::DetectFraming;

pub(super) struct Shared {
    pub(super) router: ThriftRouter,
    pub(super) config: Config,
    pub(super) http2: Option<Arc<dyn ConnHandler>>,
    pub(super) payload: Option<Arc<dyn PayloadHandler>>,
    /// Framings beyond the built-in ones, asked first, in order.
    pub(super) framings: Vec<Arc<dyn DetectFraming>>,
    /// Payload protocols beyond Binary and Compact, asked after them.
    pub(super) payloads: Vec<Arc<dyn PayloadProtocol>>,
    pub(super) stats: ServerStats,
    /// `max_connections` permits, one per accepted connection, shared by
    /// every accept loop of the server and its clones.
    pub(super) slots: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("router", &self.router)
            .field("config", &self.config)
            .field("framings", &self.framings)
            .field("payloads", &self.payloads)
            .finish()
    }
}

/// The peer's address as `RpcInfo` and the logs show it, when the IO knows it.
pub(super) type Peer = Option<FastStr>;

/// How a log line names a peer.
pub(super) fn label(peer: &Peer) -> &str {
    peer.as_deref().unwrap_or("unknown")
}

/// The exception a TJSONProtocol call gets.
pub(super) fn unsupported_protocol() -> ApplicationException {
    ApplicationException::new(
        ExceptionKind::InvalidProtocol,
        "TJSONProtocol is not supported; use TBinaryProtocol or TCompactProtocol",
    )
}

/// What a frame gets back.
pub(super) enum Answer {
    /// These bytes, framed like the request.
    Reply(BytesMut),
    /// Nothing: a oneway call.
    Nothing,
    /// The payload is in no protocol the server knows and has no envelope
    /// to answer: the connection closes.
    Close { len: usize, protocol_id: Option<u8> },
}

impl From<Option<BytesMut>> for Answer {
    fn from(reply: Option<BytesMut>) -> Self {
        reply.map_or(Answer::Nothing, Answer::Reply)
    }
}
