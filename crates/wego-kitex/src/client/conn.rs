//! One call on one connection: write the frame, read the reply frame.

use bytes::{Bytes, BytesMut};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::net::{BoxIo, Connect};
use wego_netpoll::{ConnInfo, rt};

use super::Config;
use crate::transport::decode_frame;
use crate::ttheader::Header;
use crate::{Error, Result};

pub(super) type Reply = Option<(Option<Header>, Bytes)>;

/// A connection with its read buffer.
pub(super) struct Link {
    pub(super) conn: BoxIo,
    pub(super) buf: BytesMut,
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
        }),
        Ok(Err(e)) if e.is_timeout() => Err(Error::timeout()),
        Ok(Err(e)) => Err(Error::connect(e)),
        Err(_) => Err(Error::timeout()),
    }
}

/// Why a round trip failed, and whether the peer can have seen nothing of it
/// (then a call on a reused connection may be retried on a fresh one).
pub(super) struct Failed {
    pub(super) error: Error,
    pub(super) untouched: bool,
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
    if let Err(e) = write.await {
        return Err(Failed {
            error: Error::transport(e),
            untouched: true,
        });
    }
    if oneway {
        return Ok(None);
    }
    let mut got_any = false;
    loop {
        match decode_frame(&mut link.buf, cfg.framing, cfg.protocol, cfg.max_frame) {
            Ok(Some(r)) => return Ok(Some(r)),
            Ok(None) => {}
            Err(e) => {
                return Err(Failed {
                    error: Error::protocol(e),
                    untouched: false,
                });
            }
        }
        match link.conn.read_buf(&mut link.buf).await {
            Ok(0) => {
                return Err(Failed {
                    error: Error::closed(),
                    untouched: !got_any,
                });
            }
            Ok(_) => got_any = true,
            Err(e) => {
                return Err(Failed {
                    error: Error::transport(e),
                    untouched: !got_any,
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
