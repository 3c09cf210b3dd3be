//! HTTP/2 keepalive: PING the peer every interval and report a dead
//! connection when an answer does not come in time.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use wego_netpoll::rt;

/// Resolves when the connection should be considered dead.
pub(crate) type Dead = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Pings every `every`, resolving if a ping is not answered within
/// `timeout` (or fails). Poll it alongside the connection: the answer is
/// processed while the connection is driven.
pub(crate) fn start(mut pp: h2::PingPong, every: Duration, timeout: Duration) -> Dead {
    Box::pin(async move {
        loop {
            rt::sleep(every).await;
            match rt::timeout(timeout, pp.ping(h2::Ping::opaque())).await {
                Ok(Ok(_pong)) => {}
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "keepalive ping failed");
                    return;
                }
                Err(_) => return,
            }
        }
    })
}

/// A keepalive that never fires (keepalive off).
pub(crate) fn never() -> Dead {
    Box::pin(std::future::pending())
}
