//! One call on one connection: write the frame, read the reply frame.

use std::io;

use bytes::{Bytes, BytesMut};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::net::{BoxIo, Connect};
use wego_netpoll::{ConnInfo, rt};

use super::Config;
use crate::server::write_within;
use crate::thrift::DecodeState;
use crate::ttheader::Header;
use crate::{Error, Result};

pub(super) type Reply = Option<(Option<Header>, Bytes)>;

/// A connection with its read buffer.
pub(super) struct Link {
    pub(super) conn: BoxIo,
    pub(super) buf: BytesMut,
    /// Where the decode of a partial reply stopped, resumed by the next
    /// read (an unframed reply is walked once).
    pub(super) decoding: DecodeState,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("peer", &self.conn.peer_addr())
            .field("buffered", &self.buf.len())
            .finish()
    }
}

/// Opens a connection with the client's connector, bounded by the
/// connect timeout whatever the connector does.
pub(super) async fn dial(cfg: &Config) -> Result<Link> {
    match rt::timeout(cfg.connect_timeout, cfg.connector.connect(&cfg.addr)).await {
        Ok(Ok(conn)) => Ok(Link {
            conn,
            buf: BytesMut::with_capacity(4096),
            decoding: DecodeState::default(),
        }),
        Ok(Err(e)) if e.is_timeout() => Err(Error::timeout()),
        Ok(Err(e)) => Err(Error::connect(e)),
        Err(_) => Err(Error::timeout()),
    }
}

/// Why a call on a connection failed, and what the server can have seen
/// of it: whether sending it again on a new connection is safe.
#[derive(Debug)]
pub(super) struct Failed {
    pub(super) error: Error,
    /// The connection ended (closed or reset) with no reply byte for the
    /// call: it may have been stale, e.g. closed by the server while idle.
    pub(super) stale: bool,
    /// The request was handed to the connection whole, so the server may
    /// have read it, and run it.
    pub(super) sent: bool,
}

impl Failed {
    /// Whether the call may go again on a new connection: only when the
    /// connection was stale, and the server cannot have read the request
    /// or the call is idempotent (the retry policy's own condition). A
    /// call the server may have run is never sent twice behind the
    /// caller's back, as Go's `net/http` re-sends only replayable
    /// requests.
    pub(super) fn may_resend(&self, idempotent: bool) -> bool {
        self.stale && (!self.sent || idempotent)
    }
}

pub(super) async fn roundtrip(
    cfg: &Config,
    link: &mut Link,
    frame: &Bytes,
    oneway: bool,
) -> Result<Reply, Failed> {
    // Flushed too: a TLS stream keeps the records it could not send until
    // it is flushed.
    let write = async {
        link.conn.write_all(frame).await?;
        link.conn.flush().await
    };
    if let Err(e) = write_within(cfg.write_timeout, write).await {
        // Not all of the frame went out: the server cannot run the call. A
        // peer that stopped reading is not a stale connection, and a new
        // one to it would stall as well: no second try.
        let stalled = e.kind() == io::ErrorKind::TimedOut;
        return Err(Failed {
            error: Error::transport(e),
            stale: !stalled,
            sent: false,
        });
    }
    if oneway {
        return Ok(None);
    }
    let mut got_any = false;
    loop {
        match cfg
            .codec
            .decode_resume(&mut link.buf, cfg.max_frame, &mut link.decoding)
        {
            Ok(Some(f)) => return Ok(Some((f.header, f.payload))),
            Ok(None) => {}
            Err(e) => {
                return Err(Failed {
                    error: Error::protocol(e),
                    stale: false,
                    sent: true,
                });
            }
        }
        match link.conn.read_buf(&mut link.buf).await {
            Ok(0) => {
                return Err(Failed {
                    error: Error::closed(),
                    stale: !got_any,
                    sent: true,
                });
            }
            Ok(_) => got_any = true,
            Err(e) => {
                return Err(Failed {
                    error: Error::transport(e),
                    stale: !got_any,
                    sent: true,
                });
            }
        }
    }
}

pub(super) async fn call_short(cfg: &Config, frame: Bytes, oneway: bool) -> Result<Reply> {
    let mut link = dial(cfg).await?;
    roundtrip(cfg, &mut link, &frame, oneway)
        .await
        .map_err(|f| f.error)
}
