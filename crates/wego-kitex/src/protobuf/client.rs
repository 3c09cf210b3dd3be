//! A Kitex Protobuf client over TTHeader or Framed: one connection, calls
//! in turn (ping-pong), deadlines sent in TTHeader and enforced here.

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
        let conn = match rt::timeout(self.connect_timeout, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) if e.is_timeout() => {
                return Err(Status::deadline_exceeded("connect timed out"));
            }
            Ok(Err(e)) => return Err(Status::unavailable(format!("connect: {e}"))),
            Err(_) => return Err(Status::deadline_exceeded("connect timed out")),
        };
        Ok(ProtobufClient {
            conn: Mutex::new((conn, BytesMut::with_capacity(8 * 1024))),
            seq: AtomicI32::new(1),
            config: self,
        })
    }
}

/// A Kitex Protobuf client on one connection.
pub struct ProtobufClient {
    conn: Mutex<(BoxIo, BytesMut)>,
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

    /// Calls `method` with `req`.
    ///
    /// # Errors
    ///
    /// A [`Status`]: the server's exception (`UNIMPLEMENTED` for an unknown
    /// method, `INTERNAL` otherwise, with its message), `DEADLINE_EXCEEDED`,
    /// or `UNAVAILABLE` for connection failures.
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
            let mut guard = self.conn.lock().await;
            let (conn, buf) = &mut *guard;
            conn.write_all(&frame).await.map_err(io_status)?;
            conn.flush().await.map_err(io_status)?;
            loop {
                match framing::decode(self.config.framing, buf, self.config.max_message) {
                    Ok(Some((_, p))) => return Ok(p),
                    Ok(None) => {}
                    Err(()) => return Err(Status::internal("malformed reply frame")),
                }
                if conn.read_buf(buf).await.map_err(io_status)? == 0 {
                    return Err(Status::unavailable("connection closed"));
                }
            }
        };
        let reply = match self.config.timeout {
            Some(t) => rt::timeout(t, exchange)
                .await
                .map_err(|_| Status::deadline_exceeded("deadline exceeded"))??,
            None => exchange.await?,
        };
        let msg = codec::decode(reply).map_err(|e| Status::internal(e.to_string()))?;
        if msg.seq_id != seq {
            return Err(Status::internal("reply for another sequence id"));
        }
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
