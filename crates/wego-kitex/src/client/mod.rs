//! The Thrift client: short connections, a long-connection pool, or one
//! multiplexed TTHeader connection; connect, RPC and write timeouts.
//!
//! [`Client`] is a `tower::Service<ClientRequest>` carrying encoded argument
//! structs; `wego-build` generates typed clients on top of it.

mod conn;
mod mux;
mod payload;
mod pool;
mod request;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use wego_netpoll::net::{BoxConnect, Connect};
use wego_netpoll::{Address, Dialer, rt};

use crate::metainfo::{self, keys};
use crate::thrift::{self, MessageCodec, MessageHeader, MessageType, PayloadProtocol, Protocol};
use crate::transport::{BufferedCodec, DEFAULT_MAX_FRAME, FrameCodec, FrameError, Framing};
use crate::ttheader::{Header, HeaderFormat, PROTOCOL_BINARY, PROTOCOL_COMPACT};
use crate::{Error, Result};

pub use request::{ClientRequest, ClientResponse};

/// How the client uses connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// A new connection per call.
    Short,
    /// A pool of long connections, one call at a time on each.
    Pooled {
        /// Most idle connections kept.
        max_idle: usize,
        /// Idle connections older than this are closed.
        idle_timeout: Duration,
    },
    /// One TTHeader connection carrying concurrent calls, paired by sequence id.
    Multiplexed,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) addr: Address,
    pub(crate) framing: Framing,
    /// The frame codec: `framing`'s stack, or one set with
    /// `ClientBuilder::with_frame_codec`.
    pub(crate) codec: Arc<dyn FrameCodec>,
    /// The protocol of argument and result bodies: the wire's, or a
    /// payload protocol's body form.
    pub(crate) protocol: Protocol,
    /// A payload protocol set with `ClientBuilder::with_payload_protocol`,
    /// which messages are transcoded into.
    pub(crate) payload: Option<Arc<dyn PayloadProtocol>>,
    /// The TTHeader/THeader protocol id of the messages sent.
    pub(crate) header_protocol_id: u8,
    pub(crate) mode: Mode,
    /// Opens connections; bounded by `connect_timeout` whatever it is.
    pub(crate) connector: BoxConnect,
    pub(crate) connect_timeout: Duration,
    pub(crate) rpc_timeout: Duration,
    /// How long one request write may stall on a peer that takes no bytes.
    pub(crate) write_timeout: Duration,
    pub(crate) max_frame: usize,
    pub(crate) callee: String,
    pub(crate) caller: Option<String>,
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    cfg: Config,
    /// A connector set with [`ClientBuilder::with_connector`]; netpoll's
    /// [`Dialer`] otherwise.
    connector: Option<BoxConnect>,
    /// A codec set with [`ClientBuilder::with_frame_codec`]; the framing's
    /// stack otherwise.
    codec: Option<Arc<dyn FrameCodec>>,
}

impl ClientBuilder {
    /// Uses `framing` (default TTHeader).
    pub fn with_framing(mut self, framing: Framing) -> Self {
        self.cfg.framing = framing;
        self.codec = None;
        self
    }
    /// Frames calls with `codec`, a framing beyond the built-in ones (or a
    /// stack of them); payloads stay Thrift messages in the client's
    /// protocol. Multiplexed mode needs a codec whose
    /// [`header_format`](FrameCodec::header_format) is TTHeader.
    pub fn with_frame_codec(mut self, codec: impl FrameCodec) -> Self {
        self.codec = Some(Arc::new(codec));
        self
    }
    /// Uses `protocol` (default binary).
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.cfg.protocol = protocol;
        self.cfg.payload = None;
        self
    }
    /// Sends messages in `protocol`, a payload protocol beyond Binary and
    /// Compact ([`PayloadProtocol`]): argument structs are encoded in its
    /// [`body_form`](PayloadProtocol::body_form) (what
    /// [`Client::protocol`] then answers) and transcoded on the way out,
    /// replies transcoded back on the way in. Buffered framing finds
    /// replies' ends with the protocol; a framing with a header needs the
    /// protocol's [`header_protocol_id`](PayloadProtocol::header_protocol_id).
    pub fn with_payload_protocol(mut self, protocol: impl PayloadProtocol) -> Self {
        self.cfg.payload = Some(Arc::new(protocol));
        self
    }
    /// Uses connection `mode` (default a pool of up to 1024 idle connections).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.cfg.mode = mode;
        self
    }
    /// Sets the connect timeout (default 1 s); it bounds every connect,
    /// whichever connector makes it.
    pub fn with_connect_timeout(mut self, d: Duration) -> Self {
        self.cfg.connect_timeout = d;
        self
    }
    /// Opens connections with `connector` instead of netpoll's [`Dialer`]
    /// (TCP or Unix, `TCP_NODELAY` on): a TLS wrapper, a proxy, an
    /// in-memory transport for tests. The pool and the multiplexer work
    /// the same over any connector.
    pub fn with_connector(mut self, connector: impl Connect) -> Self {
        self.connector = Some(BoxConnect::new(connector));
        self
    }
    /// Sets the RPC timeout (default 10 s); also sent in TTHeader.
    pub fn with_rpc_timeout(mut self, d: Duration) -> Self {
        self.cfg.rpc_timeout = d;
        self
    }
    /// Sets the write timeout (default 10 s, as the server's): how long
    /// writing a request may wait on a peer that takes no more bytes (its
    /// receive window full). It starts when the socket first pushes back.
    /// When it passes, the connection is closed: the calls on it fail with
    /// a transport error ([`Error::is_transport`], its source an
    /// [`io::ErrorKind::TimedOut`](std::io::ErrorKind::TimedOut) error),
    /// in a pool the call writing, in multiplexed mode every call sent or
    /// queued on the connection, and the next call dials a new one.
    pub fn with_write_timeout(mut self, d: Duration) -> Self {
        self.cfg.write_timeout = d;
        self
    }
    /// Sets the callee service name sent in TTHeader.
    pub fn with_callee(mut self, name: impl Into<String>) -> Self {
        self.cfg.callee = name.into();
        self
    }
    /// Sets the caller service name sent in TTHeader.
    pub fn with_caller(mut self, name: impl Into<String>) -> Self {
        self.cfg.caller = Some(name.into());
        self
    }
    /// Sets the largest reply frame accepted.
    pub fn with_max_frame(mut self, n: usize) -> Self {
        self.cfg.max_frame = n;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`]: multiplexed mode needs TTHeader framing; a
    /// zero timeout is refused.
    pub fn build(self) -> Result<Client> {
        let cfg = self.finish()?;
        Ok(Client::from_config(Arc::new(cfg)))
    }

    /// Validates the configuration once and returns a template that makes
    /// clients for any address without failing: what a `LoadBalanceLayer`
    /// per-instance factory needs. The builder's own address is ignored
    /// (start from [`Client::template`]).
    ///
    /// # Errors
    ///
    /// As [`ClientBuilder::build`].
    pub fn build_template(self) -> Result<ClientTemplate> {
        Ok(ClientTemplate {
            cfg: Arc::new(self.finish()?),
        })
    }

    /// Checks the settings and settles the connector.
    fn finish(self) -> Result<Config> {
        let mut cfg = self.cfg;
        cfg.codec = match (self.codec, &cfg.payload) {
            (Some(c), _) => c,
            (None, Some(p)) if cfg.framing == Framing::Buffered => {
                Arc::new(BufferedCodec::new(p.clone()))
            }
            (None, _) => cfg.framing.codec(cfg.protocol),
        };
        cfg.header_protocol_id = match (&cfg.payload, cfg.protocol) {
            (Some(p), _) => match p.header_protocol_id() {
                Some(id) => id,
                None if cfg.codec.header_format().is_some() => {
                    return Err(Error::config(
                        "payload protocol has no header protocol id for a header framing",
                    ));
                }
                None => PROTOCOL_BINARY,
            },
            (None, Protocol::Compact) => PROTOCOL_COMPACT,
            (None, _) => PROTOCOL_BINARY,
        };
        if let Some(p) = &cfg.payload {
            cfg.protocol = p.body_form();
        }
        if cfg.mode == Mode::Multiplexed
            && cfg.codec.header_format() != Some(HeaderFormat::TtHeader)
        {
            return Err(Error::config("multiplexed mode needs TTHeader framing"));
        }
        if cfg.rpc_timeout.is_zero() {
            return Err(Error::config("rpc_timeout must be positive"));
        }
        if cfg.connect_timeout.is_zero() {
            return Err(Error::config("connect_timeout must be positive"));
        }
        if cfg.write_timeout.is_zero() {
            return Err(Error::config("write_timeout must be positive"));
        }
        cfg.connector = match self.connector {
            Some(c) => c,
            None => BoxConnect::new(
                Dialer::new()
                    .with_connect_timeout(cfg.connect_timeout)
                    .with_nodelay(true),
            ),
        };
        Ok(cfg)
    }
}

/// A validated client configuration without an address: makes one
/// [`Client`] per instance, infallibly (connections are dialled on the
/// first call; a failed dial is that call's connect error, retryable).
///
/// ```
/// use wego_governance::Instance;
/// use wego_kitex::client::Client;
///
/// let template = Client::template().build_template().unwrap();
/// let make = template.factory(); // Fn(&Instance) -> Client, for LoadBalanceLayer
/// let client = make(&Instance::new("127.0.0.1:9000".parse().unwrap()));
/// # let _ = client;
/// ```
#[derive(Debug, Clone)]
pub struct ClientTemplate {
    cfg: Arc<Config>,
}

impl ClientTemplate {
    /// A client for `addr` with the template's configuration; clients made
    /// by separate calls do not share connections.
    pub fn for_address(&self, addr: Address) -> Client {
        let mut cfg = Config::clone(&self.cfg);
        cfg.addr = addr;
        Client::from_config(Arc::new(cfg))
    }

    /// The per-instance factory for `LoadBalanceLayer`:
    /// `move |inst: &Instance| template.for_address(inst.address.clone())`.
    #[cfg(feature = "governance")]
    pub fn factory(
        &self,
    ) -> impl Fn(&wego_governance::Instance) -> Client + Clone + Send + Sync + use<> {
        let t = self.clone();
        move |inst: &wego_governance::Instance| t.for_address(inst.address.clone())
    }
}

#[derive(Debug, Clone)]
enum Transport {
    Short,
    Pool(Arc<pool::Pool>),
    Mux(Arc<mux::Mux>),
}

/// A Thrift client for one address; cheap to clone (clones share connections).
#[derive(Debug, Clone)]
pub struct Client {
    cfg: Arc<Config>,
    transport: Transport,
    seq: Arc<AtomicI32>,
}

impl Client {
    fn from_config(cfg: Arc<Config>) -> Client {
        Client {
            transport: match cfg.mode {
                Mode::Multiplexed => Transport::Mux(Arc::new(mux::Mux::new())),
                Mode::Pooled { .. } => Transport::Pool(Arc::new(pool::Pool::new())),
                Mode::Short => Transport::Short,
            },
            seq: Arc::new(AtomicI32::new(1)),
            cfg,
        }
    }

    /// Starts building a [`ClientTemplate`] (no address yet; finish with
    /// [`ClientBuilder::build_template`]).
    pub fn template() -> ClientBuilder {
        Client::builder(Address::loopback())
    }

    /// The address this client calls.
    pub fn address(&self) -> &Address {
        &self.cfg.addr
    }

    /// Starts building a client for `addr`.
    pub fn builder(addr: Address) -> ClientBuilder {
        ClientBuilder {
            cfg: Config {
                addr,
                framing: Framing::TtHeader,
                codec: Framing::TtHeader.codec(Protocol::Binary),
                protocol: Protocol::Binary,
                payload: None,
                header_protocol_id: PROTOCOL_BINARY,
                mode: Mode::Pooled {
                    max_idle: 1024,
                    idle_timeout: Duration::from_secs(30),
                },
                connector: BoxConnect::new(Dialer::new()),
                connect_timeout: Duration::from_secs(1),
                rpc_timeout: Duration::from_secs(10),
                write_timeout: Duration::from_secs(10),
                max_frame: DEFAULT_MAX_FRAME,
                callee: String::new(),
                caller: None,
            },
            connector: None,
            codec: None,
        }
    }

    /// The protocol argument structs must be encoded in.
    pub fn protocol(&self) -> Protocol {
        self.cfg.protocol
    }

    /// How many connections this client has dialed (for tests and metrics).
    pub fn dial_count(&self) -> usize {
        match &self.transport {
            Transport::Pool(p) => p.dials(),
            Transport::Mux(m) => m.dials(),
            Transport::Short => 0,
        }
    }

    /// Performs one call.
    ///
    /// # Errors
    ///
    /// See [`Error`]'s predicates: connect, timeout, transport, protocol,
    /// application exception, closed.
    pub async fn call(&self, req: ClientRequest) -> Result<ClientResponse> {
        let mut timeout = req.timeout.unwrap_or(self.cfg.rpc_timeout);
        if let Some(d) = req.deadline {
            timeout = timeout.min(d.saturating_duration_since(rt::now()));
            if timeout.is_zero() {
                return Err(Error::timeout());
            }
        }
        let seq_id = self.seq.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let frame = self.encode(&req, seq_id, timeout)?;
        let fut = async {
            let reply = match &self.transport {
                Transport::Short => conn::call_short(&self.cfg, frame, req.oneway).await?,
                Transport::Pool(p) => p.call(&self.cfg, frame, req.oneway, req.idempotent).await?,
                Transport::Mux(m) => {
                    m.call(&self.cfg, frame, seq_id, req.oneway, req.idempotent)
                        .await?
                }
            };
            match reply {
                Some((h, payload)) => self.decode_reply(&req.method, seq_id, h, payload),
                None => Ok(ClientResponse {
                    protocol: self.cfg.protocol,
                    body: Bytes::new(),
                }),
            }
        };
        // The server's own deadline (the RPC timeout travels in TTHeader)
        // starts when the request arrives, so it never passes before ours:
        // its "deadline exceeded" exception can only come after our
        // deadline, and wins the race with our timer only on a busy
        // machine. An error that arrives once our deadline has passed is
        // this call's timeout either way.
        let deadline = rt::deadline_in(timeout);
        match rt::timeout(timeout, fut).await {
            Ok(Err(e)) if e.is_application() && rt::now() >= deadline => Err(Error::timeout()),
            Ok(r) => r,
            Err(_) => Err(Error::timeout()),
        }
    }

    fn encode(&self, req: &ClientRequest, seq_id: i32, timeout: Duration) -> Result<Bytes> {
        let cfg = &self.cfg;
        let kind = if req.oneway {
            MessageType::Oneway
        } else {
            MessageType::Call
        };
        let env = MessageHeader {
            name: req.method.clone(),
            kind,
            seq_id,
        };
        let header = match cfg.codec.header_format() {
            Some(format) => {
                let mut h = Header::new(format, cfg.header_protocol_id, seq_id);
                if format == HeaderFormat::TtHeader {
                    h.int_info.push((keys::TO_METHOD, req.method.clone()));
                    h.int_info
                        .push((keys::RPC_TIMEOUT, timeout.as_millis().to_string()));
                    if !cfg.callee.is_empty() {
                        h.int_info.push((keys::TO_SERVICE, cfg.callee.clone()));
                    } else if let Some(c) = &req.callee {
                        h.int_info.push((keys::TO_SERVICE, c.to_string()));
                    }
                    if let Some(c) = &cfg.caller {
                        h.int_info.push((keys::FROM_SERVICE, c.clone()));
                    }
                }
                // Persistent values of the call being served travel on.
                let mut meta = metainfo::current()
                    .map(|c| c.metainfo.for_next_hop())
                    .unwrap_or_default();
                for (k, v) in req.metainfo.to_wire_pairs() {
                    meta.set_raw(k, v);
                }
                // A child of the served call's trace, unless the request has one.
                #[cfg(feature = "governance")]
                metainfo::inject_child(&mut meta);
                meta.to_wire(&mut h.str_info);
                Some(h)
            }
            None => None,
        };
        let args = req.args_in(cfg.protocol)?;
        let proto = cfg.protocol;
        let mut out = BytesMut::with_capacity(64 + args.len());
        let encoded = match &cfg.payload {
            None => cfg.codec.encode(header.as_ref(), &mut out, &mut |out| {
                proto.encode_begin(&env, true, out);
                out.extend_from_slice(&args);
                proto.encode_end(out);
                Ok(())
            }),
            Some(p) => cfg.codec.encode(header.as_ref(), &mut out, &mut |out| {
                thrift::payload::encode_message(&**p, &env, &args, out).map_err(FrameError::Thrift)
            }),
        };
        encoded.map_err(Error::protocol)?;
        Ok(out.freeze())
    }

    fn decode_reply(
        &self,
        method: &str,
        seq_id: i32,
        h: Option<Header>,
        mut payload: Bytes,
    ) -> Result<ClientResponse> {
        if let Some(p) = &self.cfg.payload {
            let (env, body) = payload::decode_reply(&**p, &self.cfg, h.as_ref(), payload)?;
            return check_reply(method, seq_id, env, self.cfg.protocol, body);
        }
        let proto = match h.as_ref().map(|h| h.protocol_id) {
            Some(PROTOCOL_COMPACT) => Protocol::Compact,
            Some(PROTOCOL_BINARY) => Protocol::Binary,
            Some(_) => return Err(Error::protocol("reply with an unknown protocol id")),
            None => self.cfg.protocol,
        };
        let (env, _) = thrift::decode_header(proto, &mut payload).map_err(Error::protocol)?;
        check_reply(method, seq_id, env, proto, payload)
    }
}

/// Pairs a reply's envelope with its call and answers with its body (or
/// the exception it carries).
fn check_reply(
    method: &str,
    seq_id: i32,
    env: MessageHeader,
    proto: Protocol,
    mut payload: Bytes,
) -> Result<ClientResponse> {
    {
        if env.seq_id != seq_id {
            return Err(Error::protocol(format!(
                "reply seq id {} for call {seq_id}",
                env.seq_id
            )));
        }
        match env.kind {
            MessageType::Reply
                if env.name == method || method.ends_with(&format!(":{}", env.name)) =>
            {
                Ok(ClientResponse {
                    protocol: proto,
                    body: payload,
                })
            }
            MessageType::Reply => Err(Error::protocol("reply names another method")),
            MessageType::Exception => {
                let e: thrift::ApplicationException =
                    thrift::decode_body(proto, &mut payload).map_err(Error::protocol)?;
                Err(Error::application(e))
            }
            _ => Err(Error::protocol("unexpected message type in reply")),
        }
    }
}

impl tower_service::Service<ClientRequest> for Client {
    type Response = ClientResponse;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<ClientResponse>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ClientRequest) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.call(req).await })
    }
}
