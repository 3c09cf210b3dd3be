//! [`ChannelBuilder`] and the constructors of [`Channel`].

use std::time::Duration;

use wego_netpoll::Address;
use wego_netpoll::io::{AsyncRead, AsyncWrite};
use wego_netpoll::net::{BoxConnect, Connect};

use super::channel::Channel;
use super::connection::{Config, open, start};
use crate::grpc::codec::Encoding;
use crate::grpc::status::Status;

impl Channel {
    /// A builder with the defaults.
    pub fn builder() -> ChannelBuilder {
        ChannelBuilder {
            config: Config::default(),
        }
    }

    /// Connects with the defaults.
    ///
    /// # Errors
    ///
    /// As [`ChannelBuilder::connect`].
    pub async fn connect(addr: &Address) -> Result<Channel, Status> {
        Channel::builder().connect(addr).await
    }
}

/// Builds a [`Channel`].
#[derive(Debug, Clone)]
pub struct ChannelBuilder {
    pub(crate) config: Config,
}

impl ChannelBuilder {
    /// Largest response message accepted (default 4 MiB).
    pub fn with_max_recv_message_size(mut self, n: usize) -> Self {
        self.config.max_recv = n;
        self
    }

    /// Largest request message sent (default 4 MiB).
    pub fn with_max_send_message_size(mut self, n: usize) -> Self {
        self.config.max_send = n;
        self
    }

    /// Connect timeout (default 5 s).
    pub fn with_connect_timeout(mut self, d: Duration) -> Self {
        self.config.connect_timeout = d;
        self
    }

    /// A default timeout for calls that set none.
    pub fn with_timeout(mut self, d: Duration) -> Self {
        self.config.timeout = Some(d);
        self
    }

    /// Compresses every request with `encoding` unless the call says
    /// otherwise.
    pub fn with_compression(mut self, encoding: Encoding) -> Self {
        self.config.compression = Some(encoding);
        self
    }

    /// HTTP/2 keepalive pings every `interval`; the connection is closed
    /// if one is not answered within the keepalive timeout (default 20 s).
    pub fn with_keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.config.keepalive_interval = Some(interval);
        self.config.keepalive_timeout = timeout;
        self
    }

    /// Opens connections with `connector` instead of netpoll's [`Dialer`](wego_netpoll::Dialer)
    /// (TCP or Unix, `TCP_NODELAY` on): a TLS wrapper, a proxy, an
    /// in-memory transport. The connect timeout bounds it all the same,
    /// and a channel redials through it when its connection is gone.
    pub fn with_connector(mut self, connector: impl Connect) -> Self {
        self.config.connector = Some(BoxConnect::new(connector));
        self
    }

    /// Dials `addr` and performs the HTTP/2 handshake.
    ///
    /// # Errors
    ///
    /// `UNAVAILABLE` when the connection or handshake fails,
    /// `DEADLINE_EXCEEDED` on connect timeout.
    pub async fn connect(mut self, addr: &Address) -> Result<Channel, Status> {
        if self.config.authority.is_empty() {
            self.config.authority = match addr {
                Address::Tcp(sa) => sa.to_string(),
                _ => "localhost".to_owned(),
            };
        }
        let live = open(&self.config, addr, 0).await?;
        Ok(Channel::from_live(self.config, live, Some(addr.clone())))
    }

    /// Performs the HTTP/2 handshake over an established IO.
    ///
    /// # Errors
    ///
    /// `UNAVAILABLE` when the handshake fails.
    pub async fn handshake<IO>(mut self, io: IO) -> Result<Channel, Status>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if self.config.authority.is_empty() {
            self.config.authority = "localhost".to_owned();
        }
        let live = start(&self.config, io, 0).await?;
        Ok(Channel::from_live(self.config, live, None))
    }
}
