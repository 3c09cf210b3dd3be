//! The streaming request body: frames handed from the connection task to the
//! handler over a one-slot channel, so the socket is read no faster than the
//! handler consumes.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::{Notify, mpsc};

use super::BodyError;

/// One message from the connection task to the body reader.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A data or trailers frame.
    Frame(Frame<Bytes>),
    /// The body ended cleanly (after all frames).
    End,
    /// Reading failed; the body is over.
    Err(BodyError),
}

/// The receiving side, wrapped in [`Body`](crate::Body).
#[derive(Debug)]
pub(crate) struct Incoming {
    rx: mpsc::Receiver<Msg>,
    /// Signalled on the first poll: the handler wants the body (this is when
    /// `100 Continue` goes out).
    want: Option<Arc<Notify>>,
    /// Bytes left for a `Content-Length` body; `None` when chunked.
    remaining: Option<u64>,
    done: bool,
}

/// The sending side, kept by the connection task.
#[derive(Debug)]
pub(crate) struct Sender {
    pub(crate) tx: mpsc::Sender<Msg>,
    pub(crate) want: Arc<Notify>,
}

/// A connected body pair; `len` is the `Content-Length`, if any.
pub(crate) fn channel(len: Option<u64>) -> (Sender, Incoming) {
    let (tx, rx) = mpsc::channel(1);
    let want = Arc::new(Notify::new());
    (
        Sender {
            tx,
            want: Arc::clone(&want),
        },
        Incoming {
            rx,
            want: Some(want),
            remaining: len,
            done: false,
        },
    )
}

impl Incoming {
    pub(crate) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(want) = self.want.take() {
            want.notify_one();
        }
        match Pin::new(&mut self.rx).poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Msg::Frame(frame))) => {
                if let (Some(rem), Some(data)) = (self.remaining.as_mut(), frame.data_ref()) {
                    *rem = rem.saturating_sub(data.len() as u64);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Msg::End)) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Msg::Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                // The connection went away before the end of the body.
                self.done = true;
                Poll::Ready(Some(Err(BodyError::incomplete())))
            }
        }
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        self.done || self.remaining == Some(0)
    }

    pub(crate) fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
