//! [`TlsIncoming`]: a listener's connections, handshaken concurrently, as
//! a stream for any server's `serve_incoming`.
//!
//! One task accepts; each accepted connection runs its handshake on a task
//! of its own, so a silent or slow client holds up nobody but itself (and
//! only until the handshake timeout). Finished streams reach the consumer
//! through a bounded channel. At most `max_pending_handshakes` handshakes
//! run at once: beyond that the accept task waits and the kernel's backlog
//! holds new connections, so a flood of silent clients costs a bounded
//! number of tasks.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::sync::{Semaphore, mpsc};

use super::{MaybeTls, TlsAcceptor, TlsStream};
use crate::rt::{self, JoinHandle};
use crate::{BoxFuture, Conn, Listener, Result};

/// How many handshaken streams wait for the consumer before handshake
/// tasks hold on to theirs.
const READY_QUEUE: usize = 64;

/// How long the accept task rests after a failed accept (out of file
/// descriptors, say) before it tries again, so the failure does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(5);

/// What runs on each accepted connection's task.
type Handshake<T> = fn(TlsAcceptor, Conn) -> BoxFuture<'static, Result<T>>;

/// The TLS connections of a [`Listener`], handshaken concurrently: from
/// [`TlsAcceptor::incoming`] (`T` is [`TlsStream<Conn>`]) or
/// [`TlsAcceptor::incoming_or_plain`] (`T` is [`MaybeTls<Conn>`]).
///
/// It is a `Stream<Item = io::Result<T>>`, the shape every server's
/// `serve_incoming` takes. It yields only finished handshakes:
/// a failed one (a plaintext client, a refused certificate, a timeout) is
/// logged at debug level and skipped, and a failed accept is logged and
/// retried, so the stream never ends on its own and never yields an
/// error.
///
/// The accept task starts on the first poll, on the runtime polling it.
/// Dropping the stream stops accepting, closes the listener and drops
/// connections still handshaking.
pub struct TlsIncoming<T = TlsStream<Conn>> {
    idle: Option<(Listener, TlsAcceptor)>,
    handshake: Handshake<T>,
    ready: Option<mpsc::Receiver<T>>,
    accepting: Option<JoinHandle<()>>,
}

impl TlsIncoming {
    pub(super) fn new(listener: Listener, acceptor: TlsAcceptor) -> Self {
        Self::with_handshake(listener, acceptor, |acceptor, conn| {
            Box::pin(async move { acceptor.accept(conn).await })
        })
    }
}

impl TlsIncoming<MaybeTls<Conn>> {
    pub(super) fn or_plain(listener: Listener, acceptor: TlsAcceptor) -> Self {
        Self::with_handshake(listener, acceptor, |acceptor, conn| {
            Box::pin(async move { MaybeTls::detect(&acceptor, conn).await })
        })
    }
}

impl<T: Send + 'static> TlsIncoming<T> {
    fn with_handshake(listener: Listener, acceptor: TlsAcceptor, handshake: Handshake<T>) -> Self {
        Self {
            idle: Some((listener, acceptor)),
            handshake,
            ready: None,
            accepting: None,
        }
    }
}

async fn accept_loop<T: Send + 'static>(
    listener: Listener,
    acceptor: TlsAcceptor,
    handshake: Handshake<T>,
    tx: mpsc::Sender<T>,
) {
    let pending = Arc::new(Semaphore::new(acceptor.max_pending_handshakes()));
    loop {
        let Ok(permit) = pending.clone().acquire_owned().await else {
            return; // never closed
        };
        let conn = tokio::select! {
            () = tx.closed() => return,
            conn = listener.accept() => conn,
        };
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                tracing::debug!(error = %e, "tls accept failed");
                rt::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        rt::spawn(async move {
            let peer = conn.peer_addr().clone();
            let tls = tokio::select! {
                () = tx.closed() => return,
                tls = handshake(acceptor, conn) => tls,
            };
            match tls {
                Ok(tls) => {
                    // An error means the consumer is gone; the stream drops.
                    let _ = tx.send(tls).await;
                }
                Err(e) => tracing::debug!(error = %e, %peer, "tls handshake failed"),
            }
            // Held until the stream is queued, so that tasks waiting on a
            // full queue (a slow consumer) count as pending too.
            drop(permit);
        });
    }
}

impl<T: Send + 'static> Stream for TlsIncoming<T> {
    type Item = io::Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some((listener, acceptor)) = this.idle.take() {
            let (tx, ready) = mpsc::channel(READY_QUEUE);
            this.accepting = Some(rt::spawn(accept_loop(
                listener,
                acceptor,
                this.handshake,
                tx,
            )));
            this.ready = Some(ready);
        }
        match &mut this.ready {
            Some(ready) => ready.poll_recv(cx).map(|next| next.map(Ok)),
            None => Poll::Ready(None),
        }
    }
}

impl<T> Drop for TlsIncoming<T> {
    fn drop(&mut self) {
        if let Some(accepting) = &self.accepting {
            accepting.abort();
        }
    }
}

impl<T> fmt::Debug for TlsIncoming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIncoming")
            .field("started", &self.idle.is_none())
            .finish_non_exhaustive()
    }
}
