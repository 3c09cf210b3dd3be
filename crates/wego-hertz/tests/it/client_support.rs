//! Servers for the client's tests: wego's server behind a counting accept
//! loop, and a raw TCP server whose every connection a test scripts.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use http::{Request, Response};
use tokio::io::AsyncReadExt;
use wego_hertz::server::Builder;
use wego_hertz::{Body, Server};
use wego_netpoll::{Address, Conn, rt};

/// Counts the connections a server accepted.
#[derive(Clone, Default)]
pub(crate) struct Accepts(Arc<AtomicUsize>);

impl Accepts {
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
}

/// Serves `svc` with wego's server on loopback, counting accepted
/// connections.
pub(crate) async fn wego_server<S>(builder: Builder, svc: S) -> (Server, Address, Accepts)
where
    S: tower_service::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let server = builder.build().unwrap();
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let accepts = Accepts::default();
    let counted = accepts.clone();
    let incoming = futures_util::stream::unfold(listener, move |listener| {
        let counted = counted.clone();
        async move {
            let conn = listener.accept().await.map_err(std::io::Error::other);
            counted.bump();
            Some((conn, listener))
        }
    });
    let s = server.clone();
    rt::spawn(async move { s.serve_incoming(incoming, svc).await.unwrap() });
    (server, addr, accepts)
}

/// A raw server: `script(n, conn)` runs for the n-th accepted connection
/// (from 0).
pub(crate) async fn raw_server<F, Fut>(script: F) -> (Address, Accepts)
where
    F: Fn(usize, Conn) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let accepts = Accepts::default();
    let counted = accepts.clone();
    rt::spawn(async move {
        while let Ok(conn) = listener.accept().await {
            let n = counted.bump();
            rt::spawn(script(n, conn));
        }
    });
    (addr, accepts)
}

/// Reads one request head (and no body) from `conn`; false on EOF.
pub(crate) async fn read_head<C>(conn: &mut C, buf: &mut BytesMut) -> bool
where
    C: tokio::io::AsyncRead + Unpin,
{
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let _ = buf.split_to(end + 4);
            return true;
        }
        match conn.read_buf(buf).await {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// `http://{addr}{path}`.
pub(crate) fn url(addr: &Address, path: &str) -> String {
    format!("http://{addr}{path}")
}
