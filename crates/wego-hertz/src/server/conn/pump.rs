//! The body pump: moves a streamed request body from the socket to the
//! handler, one frame per channel slot, and drains what the handler left.

use bytes::BytesMut;
use http::StatusCode;
use http_body::Frame;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tower_service::Service;
use wego_netpoll::rt;

use super::super::Config;
use super::{Driver, room};
use crate::body::incoming::{self, Msg};
use crate::body::{Body, BodyError};
use crate::codec::{BodyDecoder, Decoded};

/// What became of the request body by the time the response was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyState {
    /// Read to its end (or there was none).
    Done,
    /// The handler has not read all of it; the connection may drain it.
    Unread,
    /// Reading failed: close.
    Broken(Failure),
}

impl BodyState {
    /// Whether the client may still be sending the body: it was neither
    /// read to its end nor ended by the client (its close, a failed read).
    pub(super) fn may_be_sending(self) -> bool {
        match self {
            Self::Unread => true,
            Self::Broken(f) => {
                matches!(f, Failure::Malformed | Failure::TooLarge | Failure::Timeout)
            }
            Self::Done => false,
        }
    }
}

/// Why reading a request body failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// Invalid framing: a bad chunk size line, data past a chunk, bare LF.
    Malformed,
    /// Longer than the server's `max_body_size`.
    TooLarge,
    /// No bytes within the body-read timeout.
    Timeout,
    /// The client closed the connection before the end.
    Incomplete,
    /// The socket failed.
    Io,
}

impl Failure {
    /// The status answered when the request is rejected for this before
    /// any response byte was written, whatever the handler answered: the
    /// request was not a valid message (RFC 9112 §7.1), or the server's
    /// policy refuses it.
    pub(super) fn rejection(self) -> Option<StatusCode> {
        match self {
            Self::Malformed => Some(StatusCode::BAD_REQUEST),
            Self::TooLarge => Some(StatusCode::PAYLOAD_TOO_LARGE),
            Self::Timeout | Self::Incomplete | Self::Io => None,
        }
    }

    /// The status answered when the response body fails before its first
    /// byte because of this; `None`: the peer is gone, close quietly.
    pub(super) fn status(self) -> Option<StatusCode> {
        match self {
            Self::Timeout => Some(StatusCode::REQUEST_TIMEOUT),
            Self::Incomplete | Self::Io => None,
            other => other.rejection(),
        }
    }
}

/// Moves the request body from the socket to the handler.
pub(super) struct Pump {
    pub(super) tx: incoming::Sender,
    pub(super) decoder: BodyDecoder,
    /// `Expect: 100-continue` was received and `100 Continue` not yet sent.
    pub(super) continue_pending: bool,
    /// Body bytes delivered so far.
    pub(super) read: u64,
    pub(super) state: BodyState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// A frame was handed over, or the body ended or failed (see `state`).
    Progress,
    /// The handler asked for the body: send `100 Continue` now.
    SendContinue,
}

impl Pump {
    /// A pump for a body framed by `decoder`.
    pub(super) fn new(tx: incoming::Sender, decoder: BodyDecoder, expect_continue: bool) -> Self {
        Self {
            tx,
            decoder,
            continue_pending: expect_continue,
            read: 0,
            state: BodyState::Unread,
        }
    }

    /// Whether the body is still being read.
    pub(super) fn is_unread(&self) -> bool {
        self.state == BodyState::Unread
    }

    /// Whether the connection must close after the response: the handler
    /// dropped a body whose declared rest is longer than `drain_limit`,
    /// more than [`Driver::drain`] reads. Known before the response's head
    /// is written, so that the head can say `Connection: close` (RFC 9112
    /// §9.6). A chunked body's rest is unknown until drained.
    pub(super) fn cannot_drain(&self, drain_limit: usize) -> bool {
        self.state == BodyState::Unread
            && self.tx.tx.is_closed()
            && matches!(self.decoder, BodyDecoder::Length(left) if left > drain_limit as u64)
    }

    /// Why reading the body failed, if it did.
    pub(super) fn failure(&self) -> Option<Failure> {
        match self.state {
            BodyState::Broken(f) => Some(f),
            _ => None,
        }
    }

    /// Hands over the next frame of the body.
    ///
    /// Cancel safe: bytes leave the read buffer only once a channel slot is
    /// reserved for them, and the send that follows does not wait.
    pub(super) async fn step<IO: AsyncRead + Unpin>(
        &mut self,
        io: &mut IO,
        rbuf: &mut BytesMut,
        config: &Config,
    ) -> Step {
        if self.continue_pending {
            self.tx.want.notified().await;
            self.continue_pending = false;
            return Step::SendContinue;
        }
        let Ok(permit) = self.tx.tx.reserve().await else {
            // The handler dropped the body; what is left gets drained.
            self.state = BodyState::Unread;
            return self.parked().await;
        };
        loop {
            match self.decoder.decode(rbuf) {
                Ok(Some(Decoded::Data(data))) => {
                    self.read += data.len() as u64;
                    if let Some(max) = config.max_body_size
                        && self.read > max
                    {
                        let limit = usize::try_from(max).unwrap_or(usize::MAX);
                        permit.send(Msg::Err(BodyError::too_large(limit)));
                        self.state = BodyState::Broken(Failure::TooLarge);
                        return Step::Progress;
                    }
                    permit.send(Msg::Frame(Frame::data(data)));
                    return Step::Progress;
                }
                Ok(Some(Decoded::Trailers(t))) => {
                    permit.send(Msg::Frame(Frame::trailers(t)));
                    return Step::Progress;
                }
                Ok(Some(Decoded::End)) => {
                    permit.send(Msg::End);
                    self.state = BodyState::Done;
                    return Step::Progress;
                }
                Ok(None) => {
                    room(rbuf);
                    let read = rt::timeout(config.body_read_timeout, io.read_buf(rbuf)).await;
                    let (err, failure) = match read {
                        Ok(Ok(0)) => (BodyError::incomplete(), Failure::Incomplete),
                        Ok(Ok(_)) => continue,
                        Ok(Err(e)) => (BodyError::io(e), Failure::Io),
                        Err(_) => (BodyError::timeout(), Failure::Timeout),
                    };
                    permit.send(Msg::Err(err));
                    self.state = BodyState::Broken(failure);
                    return Step::Progress;
                }
                Err(e) => {
                    permit.send(Msg::Err(BodyError::malformed(e)));
                    self.state = BodyState::Broken(Failure::Malformed);
                    return Step::Progress;
                }
            }
        }
    }

    /// Nothing more to do until the response is written: never resolves.
    async fn parked(&self) -> Step {
        std::future::pending::<Step>().await
    }
}

impl<S, IO> Driver<S, IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = std::convert::Infallible,
        >,
    S::Future: Send + 'static,
{
    /// Reads and discards up to `drain_limit` bytes of body the handler left.
    pub(super) async fn drain(&mut self, pump: &mut Pump) -> BodyState {
        let limit = pump.read.saturating_add(self.config.drain_limit as u64);
        loop {
            match pump.decoder.decode(&mut self.rbuf) {
                Ok(Some(Decoded::End)) => return BodyState::Done,
                Ok(Some(Decoded::Data(d))) => {
                    pump.read += d.len() as u64;
                    if pump.read > limit {
                        return BodyState::Broken(Failure::TooLarge);
                    }
                }
                Ok(Some(Decoded::Trailers(_))) => {}
                Ok(None) => {
                    if self.flush().await.is_err() {
                        return BodyState::Broken(Failure::Io);
                    }
                    // The rest of the request is part of the exchange: the
                    // idle clock starts once it is read.
                    self.answered_at = None;
                    room(&mut self.rbuf);
                    let read = rt::timeout(
                        self.config.body_read_timeout,
                        self.io.read_buf(&mut self.rbuf),
                    )
                    .await;
                    match read {
                        Ok(Ok(n)) if n > 0 => {}
                        Ok(Ok(_)) => return BodyState::Broken(Failure::Incomplete),
                        Ok(Err(_)) => return BodyState::Broken(Failure::Io),
                        Err(_) => return BodyState::Broken(Failure::Timeout),
                    }
                }
                Err(_) => return BodyState::Broken(Failure::Malformed),
            }
        }
    }
}
