//! The idle connections of a client, kept per origin.
//!
//! A connection enters the pool only after a response that allows reuse
//! has been read to its end, with nothing left over. It leaves it in one of
//! three ways: a request takes it (newest first, so the least recently used
//! ones age out), it idles past the idle timeout, or the pool finds it no
//! longer active. The last check runs on every checkout through
//! [`ConnInfo::is_active`], which answers without reading: a server that
//! closed an idle connection is noticed before a request is written to it,
//! not after.
//!
//! Over TLS that peek at the socket is not enough: a server closing an
//! idle connection sends `close_notify` before its FIN, and the peek sees
//! those bytes as data waiting. A TLS connection is therefore also read
//! once without waiting, at the TLS layer: an idle HTTP/1.1 connection has
//! nothing to read, so anything but "nothing yet" (the close, an error,
//! bytes nobody asked for) retires it, as Go's and hyper's clients retire
//! an idle connection that turns readable. Plaintext connections keep the
//! peek alone, so their checkout costs no read.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use http::Uri;
use tokio::io::{AsyncRead, ReadBuf};
use wego_netpoll::net::{BoxIo, ConnInfo};
use wego_netpoll::rt;

use crate::Error;

/// Where a request goes: the scheme, host and port that key the pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    /// `https://`: connections are TLS, the host is the server name.
    pub(crate) tls: bool,
    /// The host as written in the URI, lowercased; IPv6 literals keep
    /// their brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Origin {
    /// The origin of an absolute `http://` or `https://` URI.
    pub(crate) fn from_uri(uri: &Uri) -> Result<Self, Error> {
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(_) => return Err(Error::request("the uri scheme is not http or https")),
            None => return Err(Error::request("the uri is not absolute")),
        };
        let authority = uri
            .authority()
            .ok_or(Error::request("the uri has no host"))?;
        let host = authority.host();
        if host.is_empty() {
            return Err(Error::request("the uri has no host"));
        }
        Ok(Self {
            tls,
            host: host.to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
        })
    }

    /// The host without IPv6 brackets: an IP literal or a DNS name, as
    /// TLS names the server.
    pub(crate) fn bare_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }
}

/// A shared pool; clones share the connections.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Mutex<HashMap<Origin, Vec<Idle>>>>,
    idle_timeout: Duration,
    max_idle_per_host: usize,
}

struct Idle {
    io: BoxIo,
    since: Instant,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("idle_timeout", &self.idle_timeout)
            .field("max_idle_per_host", &self.max_idle_per_host)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(idle_timeout: Duration, max_idle_per_host: usize) -> Self {
        Self {
            inner: Arc::default(),
            idle_timeout,
            max_idle_per_host,
        }
    }

    /// The newest idle connection to `origin` that is still active and
    /// within the idle timeout; stale ones met on the way are closed.
    pub(crate) fn checkout(&self, origin: &Origin) -> Option<BoxIo> {
        let now = rt::now();
        let mut idle = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.get_mut(origin)?;
        let mut found = None;
        while let Some(mut conn) = list.pop() {
            if now.saturating_duration_since(conn.since) < self.idle_timeout
                && is_reusable(&mut conn.io)
            {
                found = Some(conn.io);
                break;
            }
        }
        if list.is_empty() {
            idle.remove(origin);
        }
        found
    }

    /// Keeps `io` for the next request to `origin`, closing the oldest idle
    /// connection if the origin already has the most allowed.
    pub(crate) fn put(&self, origin: &Origin, io: BoxIo) {
        if self.max_idle_per_host == 0 {
            return;
        }
        let now = rt::now();
        let mut idle = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.entry(origin.clone()).or_default();
        list.retain(|c| now.saturating_duration_since(c.since) < self.idle_timeout);
        if list.len() >= self.max_idle_per_host {
            list.remove(0);
        }
        list.push(Idle { io, since: now });
    }

    /// How many idle connections `origin` has.
    #[cfg(test)]
    pub(crate) fn idle_count(&self, origin: &Origin) -> usize {
        let idle = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        idle.get(origin).map_or(0, Vec::len)
    }
}

/// Whether an idle connection may carry another request: active by its
/// own account and, over TLS, with nothing to read at the TLS layer (see
/// the module doc).
fn is_reusable(io: &mut BoxIo) -> bool {
    if !io.is_active() {
        return false;
    }
    if io.tls_info().is_none() {
        return true;
    }
    let mut byte = [0u8; 1];
    let mut buf = ReadBuf::new(&mut byte);
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(io).poll_read(&mut cx, &mut buf).is_pending()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_needs_an_absolute_http_uri() {
        let o = Origin::from_uri(&"http://Example.TEST/x".parse().unwrap()).unwrap();
        assert_eq!((o.host.as_str(), o.port), ("example.test", 80));
        let o = Origin::from_uri(&"http://[::1]:8080".parse().unwrap()).unwrap();
        assert_eq!((o.host.as_str(), o.port), ("[::1]", 8080));
        assert_eq!(o.bare_host(), "::1");
        let o = Origin::from_uri(&"https://x.test/".parse().unwrap()).unwrap();
        assert!(o.tls);
        assert_eq!(o.port, 443);
        let plain = Origin::from_uri(&"http://x.test:443/".parse().unwrap()).unwrap();
        assert_ne!(o, plain, "the scheme keys the pool");
        for bad in ["/relative", "ftp://x.test/"] {
            let e = Origin::from_uri(&bad.parse().unwrap()).unwrap_err();
            assert!(e.is_request(), "{bad}: {e}");
        }
    }

    /// An IO whose activity the test sets.
    struct Probe {
        active: Arc<std::sync::atomic::AtomicBool>,
        _pipe: tokio::io::DuplexStream,
    }

    impl ConnInfo for Probe {
        fn is_active(&self) -> bool {
            self.active.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl AsyncRead for Probe {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            Pin::new(&mut self._pipe).poll_read(cx, buf)
        }
    }

    impl tokio::io::AsyncWrite for Probe {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            Pin::new(&mut self._pipe).poll_write(cx, buf)
        }
        fn poll_flush(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            Pin::new(&mut self._pipe).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            Pin::new(&mut self._pipe).poll_shutdown(cx)
        }
    }

    fn probe(active: bool) -> (BoxIo, Arc<std::sync::atomic::AtomicBool>) {
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(active));
        let io = Probe {
            active: Arc::clone(&flag),
            _pipe: tokio::io::duplex(8).0,
        };
        (Box::new(io), flag)
    }

    fn origin() -> Origin {
        Origin::from_uri(&"http://127.0.0.1:1/".parse().unwrap()).unwrap()
    }

    #[test]
    fn skips_connections_the_peer_closed() {
        let pool = Pool::new(Duration::from_secs(60), 4);
        let (live, _) = probe(true);
        let (dead, flag) = probe(true);
        pool.put(&origin(), live);
        pool.put(&origin(), dead);
        flag.store(false, std::sync::atomic::Ordering::SeqCst);
        // The newest is dead: it is dropped and the older live one returned.
        assert!(pool.checkout(&origin()).is_some());
        assert_eq!(pool.idle_count(&origin()), 0);
        assert!(pool.checkout(&origin()).is_none());
    }

    #[test]
    fn keeps_at_most_max_idle_per_host_and_none_at_zero() {
        let pool = Pool::new(Duration::from_secs(60), 2);
        for _ in 0..3 {
            pool.put(&origin(), probe(true).0);
        }
        assert_eq!(pool.idle_count(&origin()), 2);
        let none = Pool::new(Duration::from_secs(60), 0);
        none.put(&origin(), probe(true).0);
        assert_eq!(none.idle_count(&origin()), 0);
    }

    #[test]
    fn idle_timeout_expires_connections() {
        // A connection is kept only while it has idled less than the
        // timeout: with none allowed, none is handed out again.
        let pool = Pool::new(Duration::ZERO, 2);
        pool.put(&origin(), probe(true).0);
        assert!(pool.checkout(&origin()).is_none());
        let pool = Pool::new(Duration::from_secs(3600), 2);
        pool.put(&origin(), probe(true).0);
        assert!(pool.checkout(&origin()).is_some());
    }
}
