//! A Kitex Protobuf client over TTHeader or Framed: one connection, calls
//! in turn (ping-pong), deadlines sent in TTHeader and enforced here. A
//! call that does not finish cleanly closes the connection (the next one
//! dials anew), as the Thrift client's pool drops a cancelled call's
//! connection.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::Mutex;
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::net::{BoxConnect, BoxIo, Connect};
use wego_netpoll::{Address, Dialer, rt};

use super::codec::{self, ErrorProto, ProtobufMessageType};
use super::framing::{self, ProtobufFraming};
use crate::grpc::{Code, Status};
use crate::metainfo::keys;
use crate::ttheader::{Header, HeaderFormat, PROTOCOL_KITEX_PROTOBUF};

/// Builds a [`ProtobufClient`].
#[derive(Debug, Clone)]
pub struct ProtobufClientBuilder {
    addr: Address,
    framing: ProtobufFraming,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    callee: String,
    max_message: usize,
    connector: Option<BoxConnect>,
}

impl ProtobufClientBuilder {
    /// TTHeader (default) or Framed.
    pub fn with_framing(mut self, framing: ProtobufFraming) -> Self {
        self.framing = framing;
        self
    }

    /// The RPC timeout: sent in TTHeader and enforced by the client.
    pub fn with_timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// The connect timeout (default 5 s).
    pub fn with_connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// The callee service name sent in TTHeader (`to_service`).
    pub fn with_callee(mut self, name: impl Into<String>) -> Self {
        self.callee = name.into();
        self
    }

    /// Opens the connection with `connector` instead of netpoll's
    /// [`Dialer`] (TCP or Unix, `TCP_NODELAY` on); the connect timeout
    /// bounds it all the same.
    pub fn with_connector(mut self, connector: impl Connect) -> Self {
        self.connector = Some(BoxConnect::new(connector));
        self
    }

    /// Connects.
    ///
    /// # Errors
    ///
    /// `UNAVAILABLE` when the connection fails, `DEADLINE_EXCEEDED` when
    /// the connect timeout passes.
    pub async fn connect(self) -> Result<ProtobufClient, Status> {
        let link = self.open().await?;
        Ok(ProtobufClient {
            conn: Mutex::new(Some(link)),
            seq: AtomicI32::new(1),
            config: self,
        })
    }

    /// Opens a connection, bounded by the connect timeout.
    async fn open(&self) -> Result<Link, Status> {
        let connect = async {
            match &self.connector {
                Some(c) => c.connect(&self.addr).await,
                None => {
                    let dialer = Dialer::new()
                        .with_connect_timeout(self.connect_timeout)
                        .with_nodelay(true);
                    dialer
                        .connect(&self.addr)
                        .await
                        .map(|c| Box::new(c) as BoxIo)
                }
            }
        };
        match rt::timeout(self.connect_timeout, connect).await {
            Ok(Ok(c)) => Ok((c, BytesMut::with_capacity(8 * 1024))),
            Ok(Err(e)) if e.is_timeout() => Err(Status::deadline_exceeded("connect timed out")),
            Ok(Err(e)) => Err(Status::unavailable(format!("connect: {e}"))),
            Err(_) => Err(Status::deadline_exceeded("connect timed out")),
        }
    }
}

/// A connection and its read buffer.
type Link = (BoxIo, BytesMut);

/// A Kitex Protobuf client on one connection, calls in turn.
///
/// A call that does not end with its own reply read whole (a timeout, a
/// dropped call future, an I/O error, a malformed reply) closes the
/// connection, as the Thrift client drops a pooled connection whose call
/// was cancelled: a late reply, or half a request, can then never be
/// taken for the next call's. The next call dials a new connection.
pub struct ProtobufClient {
    /// The connection, `None` once a call closed it.
    conn: Mutex<Option<Link>>,
    seq: AtomicI32,
    config: ProtobufClientBuilder,
}

impl std::fmt::Debug for ProtobufClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtobufClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ProtobufClient {
    /// A builder for `addr` (TTHeader, no timeout).
    pub fn builder(addr: Address) -> ProtobufClientBuilder {
        ProtobufClientBuilder {
            addr,
            framing: ProtobufFraming::TtHeader,
            timeout: None,
            connect_timeout: Duration::from_secs(5),
            callee: String::new(),
            max_message: crate::grpc::codec::DEFAULT_MAX_MESSAGE_SIZE,
            connector: None,
        }
    }

    /// Calls `method` with `req`, on a new connection if the last call
    /// closed the previous one. The timeout bounds the whole call, the
    /// dial included.
    ///
    /// # Errors
    ///
    /// A [`Status`]: the server's exception (`UNIMPLEMENTED` for an unknown
    /// method, `INTERNAL` otherwise, with its message), `DEADLINE_EXCEEDED`,
    /// or `UNAVAILABLE` for connection failures.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it finishes closes the connection; the
    /// next call dials a new one.
    pub async fn call<Req, Resp>(&self, method: &str, req: &Req) -> Result<Resp, Status>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut payload = BytesMut::new();
        codec::encode(
            ProtobufMessageType::Call,
            method,
            seq,
            &req.encode_to_vec(),
            &mut payload,
        )
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let mut header = Header::new(HeaderFormat::TtHeader, PROTOCOL_KITEX_PROTOBUF, seq);
        header.int_info.push((keys::TO_METHOD, method.to_owned()));
        if !self.config.callee.is_empty() {
            header
                .int_info
                .push((keys::TO_SERVICE, self.config.callee.clone()));
        }
        if let Some(t) = self.config.timeout {
            header
                .int_info
                .push((keys::RPC_TIMEOUT, t.as_millis().to_string()));
        }
        // Persistent metainfo and a child of the served call's trace.
        #[cfg_attr(not(feature = "governance"), allow(unused_mut))]
        let mut meta = crate::metainfo::current()
            .map(|c| c.metainfo.for_next_hop())
            .unwrap_or_default();
        #[cfg(feature = "governance")]
        crate::metainfo::inject_child(&mut meta);
        meta.to_wire(&mut header.str_info);
        let mut frame = BytesMut::new();
        framing::encode(self.config.framing, Some(&header), &payload, &mut frame)
            .map_err(|()| Status::internal("cannot frame the request"))?;
        let exchange = async {
            let mut slot = self.conn.lock().await;
            // Out of the slot for the exchange: it goes back only once this
            // call's reply has been read whole, so a call that fails or is
            // dropped half-way leaves no connection behind.
            let (mut conn, mut buf) = match slot.take() {
                Some(link) => link,
                None => self.config.open().await?,
            };
            conn.write_all(&frame).await.map_err(io_status)?;
            conn.flush().await.map_err(io_status)?;
            let reply = loop {
                match framing::decode(self.config.framing, &mut buf, self.config.max_message) {
                    Ok(Some((_, p))) => break p,
                    Ok(None) => {}
                    Err(()) => return Err(Status::internal("malformed reply frame")),
                }
                if conn.read_buf(&mut buf).await.map_err(io_status)? == 0 {
                    return Err(Status::unavailable("connection closed"));
                }
            };
            let msg = codec::decode(reply).map_err(|e| Status::internal(e.to_string()))?;
            if msg.seq_id != seq {
                return Err(Status::internal("reply for another sequence id"));
            }
            *slot = Some((conn, buf));
            Ok(msg)
        };
        let msg = match self.config.timeout {
            Some(t) => rt::timeout(t, exchange)
                .await
                .map_err(|_| Status::deadline_exceeded("deadline exceeded"))??,
            None => exchange.await?,
        };
        match msg.kind {
            ProtobufMessageType::Reply => Resp::decode(msg.body)
                .map_err(|e| Status::internal(format!("cannot decode reply: {e}"))),
            ProtobufMessageType::Exception => {
                let e = <ErrorProto as prost::Message>::decode(msg.body).unwrap_or_default();
                let code = if e.type_id == 1 {
                    Code::Unimplemented
                } else {
                    Code::Internal
                };
                Err(Status::new(code, e.message))
            }
            _ => Err(Status::internal("unexpected message type in reply")),
        }
    }
}

fn io_status(e: std::io::Error) -> Status {
    Status::unavailable(format!("connection: {e}"))
}
