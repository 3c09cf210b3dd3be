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

use super::{TlsAcceptor, TlsStream};
use crate::rt::{self, JoinHandle};
use crate::{Conn, Listener};

/// How many handshaken streams wait for the consumer before handshake
/// tasks hold on to theirs.
const READY_QUEUE: usize = 64;

/// How long the accept task rests after a failed accept (out of file
/// descriptors, say) before it tries again, so the failure does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(5);

/// The TLS connections of a [`Listener`], handshaken concurrently: from
/// [`TlsAcceptor::incoming`].
///
/// It is a `Stream<Item = io::Result<TlsStream<Conn>>>`, the shape every
/// server's `serve_incoming` takes. It yields only finished handshakes:
/// a failed one (a plaintext client, a refused certificate, a timeout) is
/// logged at debug level and skipped, and a failed accept is logged and
/// retried, so the stream never ends on its own and never yields an
/// error.
///
/// The accept task starts on the first poll, on the runtime polling it.
/// Dropping the stream stops accepting, closes the listener and drops
/// connections still handshaking.
pub struct TlsIncoming {
    idle: Option<(Listener, TlsAcceptor)>,
    ready: Option<mpsc::Receiver<TlsStream<Conn>>>,
    accepting: Option<JoinHandle<()>>,
}

impl TlsIncoming {
    pub(super) fn new(listener: Listener, acceptor: TlsAcceptor) -> Self {
        Self {
            idle: Some((listener, acceptor)),
            ready: None,
            accepting: None,
        }
    }
}

async fn accept_loop(listener: Listener, acceptor: TlsAcceptor, tx: mpsc::Sender<TlsStream<Conn>>) {
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
                tls = acceptor.accept(conn) => tls,
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

impl Stream for TlsIncoming {
    type Item = io::Result<TlsStream<Conn>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some((listener, acceptor)) = this.idle.take() {
            let (tx, ready) = mpsc::channel(READY_QUEUE);
            this.accepting = Some(rt::spawn(accept_loop(listener, acceptor, tx)));
            this.ready = Some(ready);
        }
        match &mut this.ready {
            Some(ready) => ready.poll_recv(cx).map(|next| next.map(Ok)),
            None => Poll::Ready(None),
        }
    }
}

impl Drop for TlsIncoming {
    fn drop(&mut self) {
        if let Some(accepting) = &self.accepting {
            accepting.abort();
        }
    }
}

impl fmt::Debug for TlsIncoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIncoming")
            .field("started", &self.idle.is_none())
            .finish_non_exhaustive()
    }
}
