//! Serving any IO: one connection over an in-memory pipe, a stream of Unix
//! connections, an IO wrapper of the test's own; where `ClientAddr` comes
//! from; and `serve_with_shutdown`.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use http::{Request, Response, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use wego_hertz::{Body, ClientAddr, Server};
use wego_netpoll::net::WithInfo;
use wego_netpoll::{Address, ConnInfo, Dialer, Listener, rt};

use crate::support::{connect, read_response};

/// Answers with the request's `ClientAddr`, or `none` when it has none.
async fn whoami(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let who = match req.extensions().get::<ClientAddr>() {
        Some(ClientAddr(addr)) => addr.to_string(),
        None => "none".to_owned(),
    };
    Ok(Response::new(Body::from(who)))
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// Sends one request on `io` and returns the response body as text.
async fn ask<C: AsyncRead + AsyncWrite + Unpin>(io: &mut C) -> String {
    io.write_all(GET).await.unwrap();
    let mut buf = BytesMut::new();
    let resp = read_response(io, &mut buf, false)
        .await
        .expect("a response");
    assert_eq!(resp.status, StatusCode::OK);
    String::from_utf8(resp.body).unwrap()
}

wego_test_support::each_backend!(
    serves_one_connection_over_a_duplex_pipe,
    |_backend| async move {
        let server = Server::builder().build().unwrap();
        let (io, mut client) = tokio::io::duplex(4096);
        let served = rt::spawn(server.serve_connection(io, tower::service_fn(whoami)));
        // Counted as in flight from the call on.
        assert_eq!(server.active(), 1);
        // Keep-alive: two requests on the one pipe.
        assert_eq!(ask(&mut client).await, "none");
        assert_eq!(ask(&mut client).await, "none");
        drop(client);
        served.await.unwrap();
        assert_eq!(server.active(), 0);
    }
);

wego_test_support::each_backend!(client_addr_comes_from_conn_info, |_backend| async move {
    let server = Server::builder().build().unwrap();

    // A netpoll connection knows its peer.
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let mut client = Dialer::new().dial(&addr).await.unwrap();
    let conn = listener.accept().await.unwrap();
    let peer = conn.peer_addr().clone();
    rt::spawn(server.serve_connection(conn, tower::service_fn(whoami)));
    assert_eq!(ask(&mut client).await, peer.to_string());

    // Any IO with the facts its caller supplies.
    let (io, mut client) = tokio::io::duplex(4096);
    let io = WithInfo::new(io).with_peer_addr("198.51.100.7:4000".parse().unwrap());
    rt::spawn(server.serve_connection(io, tower::service_fn(whoami)));
    assert_eq!(ask(&mut client).await, "198.51.100.7:4000");
});

wego_test_support::each_backend!(serves_a_stream_of_unix_connections, |_backend| async move {
    let path = wego_test_support::unix_socket_path("hertz-incoming");
    let addr = Address::Unix(path.clone());
    let listener = Listener::bind(&addr).await.unwrap();
    let incoming = futures_util::stream::unfold(listener, |listener| async move {
        let conn = listener.accept().await.map_err(io::Error::other);
        Some((conn, listener))
    });
    let server = Server::builder().build().unwrap();
    let s = server.clone();
    let task = rt::spawn(async move {
        s.serve_incoming(incoming, tower::service_fn(whoami))
            .await
            .unwrap()
    });
    for _ in 0..2 {
        let mut client = connect(&addr).await;
        // An unnamed Unix client socket: its address displays as `unix:`.
        assert!(ask(&mut client).await.starts_with("unix:"));
    }
    server.shutdown(Duration::from_secs(5)).await;
    task.await.unwrap();
    let _ = std::fs::remove_file(path);
});

wego_test_support::each_backend!(
    serve_incoming_returns_when_the_stream_ends,
    |_backend| async move {
        let server = Server::builder().build().unwrap();
        let (io, mut client) = tokio::io::duplex(4096);
        let incoming = futures_util::stream::iter([Ok::<_, io::Error>(io)]);
        let s = server.clone();
        let task = rt::spawn(async move {
            s.serve_incoming(incoming, tower::service_fn(whoami))
                .await
                .unwrap()
        });
        assert_eq!(ask(&mut client).await, "none");
        // The stream has ended; the call returns once its connection closes.
        drop(client);
        task.await.unwrap();
        assert_eq!(server.active(), 0);
    }
);

/// An IO of the test's own: counts the bytes read from and written to the
/// pipe inside.
struct Counting<IO> {
    io: IO,
    read: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
}

impl<IO> ConnInfo for Counting<IO> {}

impl<IO: AsyncRead + Unpin> AsyncRead for Counting<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.fetch_add(n, Ordering::SeqCst);
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counting<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.written.fetch_add(n, Ordering::SeqCst);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

wego_test_support::each_backend!(
    serves_an_io_wrapper_that_counts_bytes,
    |_backend| async move {
        let server = Server::builder().build().unwrap();
        let (io, mut client) = tokio::io::duplex(4096);
        let (read, written) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let io = Counting {
            io,
            read: Arc::clone(&read),
            written: Arc::clone(&written),
        };
        let served = rt::spawn(server.serve_connection(io, tower::service_fn(crate::support::app)));
        let request = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        client.write_all(request).await.unwrap();
        client.shutdown().await.unwrap();
        // Everything the server sent, up to its close.
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut client, &mut got)
            .await
            .unwrap();
        served.await.unwrap();
        let text = String::from_utf8(got.clone()).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nhello"), "{text}");
        assert_eq!(read.load(Ordering::SeqCst), request.len());
        assert_eq!(written.load(Ordering::SeqCst), got.len());
    }
);

wego_test_support::each_backend!(
    serve_with_shutdown_ends_when_the_signal_fires,
    |_backend| async move {
        let stops = Arc::new(AtomicUsize::new(0));
        let s = Arc::clone(&stops);
        let server = Server::builder()
            .with_shutdown_timeout(Duration::from_secs(5))
            .on_shutdown(move || {
                s.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let srv = server.clone();
        let task = rt::spawn(async move {
            let signal = async {
                let _ = rx.await;
            };
            srv.serve_with_shutdown(listener, tower::service_fn(whoami), signal)
                .await
        });
        // Serving until the signal: an idle keep-alive connection stays open.
        let mut client = connect(&addr).await;
        assert!(!ask(&mut client).await.is_empty());
        tx.send(()).unwrap();
        task.await.unwrap().unwrap();
        assert_eq!(stops.load(Ordering::SeqCst), 1);
        assert_eq!(server.active(), 0);
        // The idle connection was closed, and nothing accepts any more.
        assert!(crate::support::closed(&mut client).await);
        assert!(Dialer::new().dial(&addr).await.is_err());
    }
);

/// Answers with what the server put in the request's extensions, read by
/// an extractor (so the request's maps go back to the thread's pool).
async fn server_entries(ext: http::Extensions) -> String {
    let addr = ext
        .get::<ClientAddr>()
        .map_or("none".to_owned(), |a| a.0.to_string());
    let tls = ext
        .get::<wego_hertz::server::TlsInfo>()
        .and_then(|t| t.server_name().map(str::to_owned));
    let limit = ext
        .get::<wego_hertz::server::RequestBodyLimit>()
        .map(|l| l.0);
    format!("addr={addr} tls={tls:?} limit={limit:?}")
}

wego_test_support::each_backend!(
    each_connection_sees_only_its_own_facts,
    |_backend| async move {
        // The connections are served one after another in this task, so on
        // one thread: the second takes the extension map the first gave
        // back, with the first's entries in it.
        let app = || wego_hertz::Router::new().get("/", server_entries);
        let serve = |server: Server, known: Facts, expect: &'static str| async move {
            let (server_io, mut client) = tokio::io::duplex(4096);
            let io = io_with(server_io, known);
            let served = server.serve_connection(io, app());
            let asked = async move {
                for _ in 0..2 {
                    assert_eq!(ask(&mut client).await, expect);
                }
            };
            tokio::join!(served, asked);
        };
        let limited = Server::builder().with_body_limit(10).build().unwrap();
        let plain = Server::builder().build().unwrap();
        let tls = wego_netpoll::net::TlsInfo::new(wego_netpoll::net::TlsVersion::Tls13)
            .with_server_name("a.test");
        serve(
            limited,
            Facts::Tls("198.51.100.7:4000", tls),
            "addr=198.51.100.7:4000 tls=Some(\"a.test\") limit=Some(10)",
        )
        .await;
        serve(
            plain.clone(),
            Facts::Peer("203.0.113.9:5000"),
            "addr=203.0.113.9:5000 tls=None limit=None",
        )
        .await;
        serve(plain, Facts::None, "addr=none tls=None limit=None").await;
    }
);

/// What a test connection tells the server about itself.
enum Facts {
    None,
    Peer(&'static str),
    Tls(&'static str, wego_netpoll::net::TlsInfo),
}

/// `io` with `facts`.
fn io_with(io: tokio::io::DuplexStream, facts: Facts) -> WithInfo<tokio::io::DuplexStream> {
    let io = WithInfo::new(io);
    match facts {
        Facts::None => io,
        Facts::Peer(addr) => io.with_peer_addr(addr.parse().unwrap()),
        Facts::Tls(addr, tls) => io.with_peer_addr(addr.parse().unwrap()).with_tls_info(tls),
    }
}
