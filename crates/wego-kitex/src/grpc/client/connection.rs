//! A channel's connections: configuration, dialling and the HTTP/2
//! handshake with its connection driver (and keepalive).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use wego_netpoll::io::{AsyncRead, AsyncWrite};
use wego_netpoll::net::{BoxConnect, Connect};
use wego_netpoll::rt;
use wego_netpoll::{Address, Dialer};

use super::pump::PumpGuard;
use crate::grpc::codec::{DEFAULT_MAX_MESSAGE_SIZE, Encoding};
use crate::grpc::conn::coalesce::coalesce;
use crate::grpc::conn::keepalive;
use crate::grpc::status::Status;

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) max_recv: usize,
    pub(crate) max_send: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<Encoding>,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) authority: String,
    /// Opens connections instead of netpoll's [`Dialer`] when set.
    pub(crate) connector: Option<BoxConnect>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_recv: DEFAULT_MAX_MESSAGE_SIZE,
            max_send: DEFAULT_MAX_MESSAGE_SIZE,
            connect_timeout: Duration::from_secs(5),
            timeout: None,
            compression: None,
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(20),
            authority: String::new(),
            connector: None,
        }
    }
}

/// Opens a connection to `addr` with the channel's connector (netpoll's
/// dialer by default, unboxed) and performs the HTTP/2 handshake.
pub(crate) async fn open(config: &Config, addr: &Address, generation: u64) -> Result<Live, Status> {
    match &config.connector {
        None => {
            let dialer = Dialer::new()
                .with_connect_timeout(config.connect_timeout)
                .with_nodelay(true);
            let conn = connect(config, &dialer, addr).await?;
            start(config, conn, generation).await
        }
        Some(connector) => {
            let io = connect(config, connector, addr).await?;
            start(config, io, generation).await
        }
    }
}

/// Connects within the connect timeout.
async fn connect<C: Connect>(
    config: &Config,
    connector: &C,
    addr: &Address,
) -> Result<C::Io, Status> {
    match rt::timeout(config.connect_timeout, connector.connect(addr)).await {
        Ok(Ok(io)) => Ok(io),
        Ok(Err(e)) if e.is_timeout() => Err(Status::deadline_exceeded(format!("connect: {e}"))),
        Ok(Err(e)) => Err(Status::unavailable(format!("connect: {e}"))),
        Err(_) => Err(Status::deadline_exceeded("connect timed out")),
    }
}

/// Performs the HTTP/2 handshake and spawns the connection driver.
pub(crate) async fn start<IO>(config: &Config, io: IO, generation: u64) -> Result<Live, Status>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (io, flush) = coalesce(io);
    let (send, mut conn) = h2::client::Builder::new()
        .initial_window_size(1024 * 1024)
        .initial_connection_window_size(2 * 1024 * 1024)
        .max_send_buffer_size(256 * 1024)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(|e| Status::unavailable(format!("http/2 handshake: {e}")))?;
    let mut dead = match (config.keepalive_interval, conn.ping_pong()) {
        (Some(every), Some(pp)) => keepalive::start(pp, every, config.keepalive_timeout),
        _ => keepalive::never(),
    };
    // The connection driver. Calls queue frames from their own tasks and
    // wake it; it lets the tasks already runnable go first (one trip
    // through the run queue) so that their frames leave in one write.
    let driver = rt::spawn(async move {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if dead.as_mut().poll(cx).is_ready() {
                tracing::debug!("keepalive ping timed out, closing connection");
                return Poll::Ready(());
            }
            if let Poll::Ready(r) = Pin::new(&mut conn).poll(cx) {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "grpc client connection ended");
                }
                return Poll::Ready(());
            }
            if !yielded && flush.has_buffered() {
                yielded = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            yielded = false;
            match flush.poll_flush(cx) {
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "grpc client connection write failed");
                    Poll::Ready(())
                }
                _ => Poll::Pending,
            }
        })
        .await;
    });
    Ok(Live {
        send,
        generation,
        _driver: PumpGuard(driver, None),
    })
}

/// One established HTTP/2 connection.
pub(crate) struct Live {
    pub(crate) send: SendRequest<Bytes>,
    pub(crate) generation: u64,
    pub(crate) _driver: PumpGuard,
}
