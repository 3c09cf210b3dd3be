//! The request pump: sends a call's request stream while the caller reads
//! the responses, and records why it gave up so the caller sees the
//! reason instead of a bare reset.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use wego_netpoll::rt::JoinHandle;

use crate::grpc::codec::{self, Encoding, message_status};
use crate::grpc::conn::send::send_all;
use crate::grpc::request::BoxStream;
use crate::grpc::status::Status;

/// Why the request pump cancelled a call, for the caller to see instead of
/// the bare reset.
pub(crate) type PumpError = Arc<std::sync::Mutex<Option<Status>>>;

/// Aborts the request pump when the call is dropped, and keeps the status
/// the pump failed with.
#[derive(Debug)]
pub(crate) struct PumpGuard(pub(crate) JoinHandle<()>, pub(crate) Option<PumpError>);

impl PumpGuard {
    /// The status the pump cancelled the call with, if it did.
    pub(crate) fn error(&self) -> Option<Status> {
        let slot = self.1.as_ref()?;
        // A poisoned lock only means a panicking writer; the value is intact.
        let guard = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.clone()
    }
}

impl Drop for PumpGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends the request messages, then the end of stream. On any failure the
/// stream is reset so the server stops waiting.
pub(crate) async fn pump(
    mut stream: h2::SendStream<Bytes>,
    mut messages: BoxStream<Bytes>,
    encoding: Option<Encoding>,
    max_send: usize,
    slot: PumpError,
) {
    let fail = |status: Status| {
        *slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(status);
    };
    let mut buf = BytesMut::new();
    while let Some(item) = messages.next().await {
        let payload = match item {
            Ok(p) => p,
            Err(status) => {
                tracing::debug!(%status, "request stream failed, cancelling call");
                fail(status);
                stream.send_reset(h2::Reason::CANCEL);
                return;
            }
        };
        if let Err(e) = codec::encode(&payload, encoding, max_send, &mut buf) {
            let status = message_status(e);
            tracing::debug!(%status, "request message rejected, cancelling call");
            fail(status);
            stream.send_reset(h2::Reason::CANCEL);
            return;
        }
        if send_all(&mut stream, buf.split().freeze(), false)
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = stream.send_data(Bytes::new(), true);
}
