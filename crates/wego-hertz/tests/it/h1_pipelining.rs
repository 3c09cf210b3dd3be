//! Pipelined requests are answered in order, on one connection.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Notify;
use wego_hertz::Server;

use crate::support::{Gate, app, connect, held_app, read_response, start, start_app};

wego_test_support::each_backend!(answers_pipelined_requests_in_order, |_backend| async move {
    // `/held` waits until the test releases it, after the other three
    // requests were all sent in the same write: a server that answered in
    // order of completion would answer them first.
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (s, r, c) = (
        Arc::clone(&started),
        Arc::clone(&release),
        Arc::clone(&calls),
    );
    let svc = tower::service_fn(move |req: http::Request<wego_hertz::Body>| {
        let (s, r, c) = (Arc::clone(&s), Arc::clone(&r), Arc::clone(&c));
        async move {
            c.lock().unwrap().push(req.uri().path().to_owned());
            if req.uri().path() == "/held" {
                s.notify_one();
                r.notified().await;
                return Ok(http::Response::new(wego_hertz::Body::from("held")));
            }
            app(req).await
        }
    });
    let (_server, addr, _task) = start(Server::builder(), svc).await;
    let mut conn = connect(&addr).await;
    let batch = b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n\
POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\
POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n\
GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    conn.write_all(batch).await.unwrap();
    started.notified().await;
    release.notify_one();
    let mut buf = BytesMut::new();
    let mut bodies = Vec::new();
    for _ in 0..4 {
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        bodies.push(String::from_utf8(resp.body).unwrap());
    }
    assert_eq!(bodies, ["held", "abc", "de", "hello"]);
    // One at a time: the others were called after `/held` was answered.
    assert_eq!(*calls.lock().unwrap(), ["/held", "/echo", "/echo", "/"]);
});

wego_test_support::each_backend!(
    pipelined_requests_split_across_reads,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut conn = connect(&addr).await;
        let batch = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
        // The first request whole and 13 bytes of the second: the first is
        // answered while the second's head is incomplete in the server's
        // buffer; the rest completes it.
        let (a, b) = batch.split_at(40);
        conn.write_all(a).await.unwrap();
        let mut buf = BytesMut::new();
        let first = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(first.body, b"hello");
        assert!(buf.is_empty(), "answered the incomplete request: {buf:?}");
        conn.write_all(b).await.unwrap();
        let second = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(second.body, b"hello");
    }
);

/// Serves `svc` on one in-memory connection (`buffer` bytes each way)
/// whose first read holds all of `sent`: the requests in it are pipelined
/// for the server whatever the scheduling. Returns the client's end.
async fn pipelined<S>(svc: S, sent: &[u8], buffer: usize) -> tokio::io::DuplexStream
where
    S: tower_service::Service<
            http::Request<wego_hertz::Body>,
            Response = http::Response<wego_hertz::Body>,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let server = Server::builder().build().unwrap();
    let (io, mut client) = tokio::io::duplex(buffer);
    // Written before the server runs: its first read takes all of it.
    client.write_all(sent).await.unwrap();
    wego_netpoll::rt::spawn(server.serve_connection(io, svc));
    client
}

wego_test_support::each_backend!(
    an_answer_is_not_held_behind_a_slow_pipelined_handler,
    |_backend| async move {
        // `/held` is not ready at once: "hello" goes out before the driver
        // waits for it (an inline request, and one with `100-continue` whose
        // body came with it), not when it is answered.
        let cases: [&[u8]; 2] = [
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /held HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\
POST /held HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
        ];
        for sent in cases {
            let gate = Gate::default();
            let mut conn = pipelined(held_app(&gate), sent, 64 * 1024).await;
            gate.started.notified().await;
            let mut buf = BytesMut::new();
            let first = read_response(&mut conn, &mut buf, false).await;
            let first = first
                .unwrap_or_else(|| panic!("answer held back: {:?}", String::from_utf8_lossy(sent)));
            assert_eq!(first.body, b"hello");
            gate.release.notify_one();
            let held = read_response(&mut conn, &mut buf, false).await.unwrap();
            assert_eq!(held.body, b"held");
        }
    }
);

wego_test_support::each_backend!(
    an_answer_written_ahead_of_a_slow_handler_may_go_out_in_pieces,
    |_backend| async move {
        // A pipe of 64 bytes takes "hello"'s answer in pieces: the write
        // goes on as the client reads, while `/held` waits ...
        let sent = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /held HTTP/1.1\r\nHost: x\r\n\r\n";
        let gate = Gate::default();
        let mut conn = pipelined(held_app(&gate), sent, 64).await;
        gate.started.notified().await;
        let mut buf = BytesMut::new();
        let first = read_response(&mut conn, &mut buf, false).await;
        assert_eq!(first.expect("answer held back").body, b"hello");
        gate.release.notify_one();
        let held = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(held.body, b"held");

        // ... and when `/held` answers before the client reads, the rest of
        // "hello"'s answer goes out first, then "held"'s.
        let gate = Gate::default();
        let mut conn = pipelined(held_app(&gate), sent, 64).await;
        gate.started.notified().await;
        gate.release.notify_one();
        let mut buf = BytesMut::new();
        let first = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(first.body, b"hello");
        let held = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(held.body, b"held");
    }
);

/// A service that is ready for one call, then not until the test opens it
/// again; answers with the request's path.
#[derive(Clone, Default)]
struct Turnstile(Arc<TurnstileState>);

#[derive(Default)]
struct TurnstileState {
    shut: AtomicBool,
    waker: AtomicWaker,
    waiting: Notify,
}

impl Turnstile {
    fn open(&self) {
        self.0.shut.store(false, Ordering::SeqCst);
        self.0.waker.wake();
    }
}

impl tower_service::Service<http::Request<wego_hertz::Body>> for Turnstile {
    type Response = http::Response<wego_hertz::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.waker.register(cx.waker());
        if self.0.shut.load(Ordering::SeqCst) {
            self.0.waiting.notify_one();
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<wego_hertz::Body>) -> Self::Future {
        self.0.shut.store(true, Ordering::SeqCst);
        let path = req.uri().path().to_owned();
        std::future::ready(Ok(http::Response::new(wego_hertz::Body::from(path))))
    }
}

wego_test_support::each_backend!(
    an_answer_is_not_held_behind_a_service_that_is_not_ready,
    |_backend| async move {
        let svc = Turnstile::default();
        let mut conn = pipelined(
            svc.clone(),
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
            64 * 1024,
        )
        .await;
        svc.0.waiting.notified().await;
        let mut buf = BytesMut::new();
        let first = read_response(&mut conn, &mut buf, false).await;
        assert_eq!(first.expect("answer held back").body, b"/a");
        svc.open();
        let second = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(second.body, b"/b");
    }
);

/// A pipe that counts the writes that took bytes.
struct CountingWrites {
    io: tokio::io::DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl wego_netpoll::ConnInfo for CountingWrites {}

impl AsyncRead for CountingWrites {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingWrites {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

wego_test_support::each_backend!(
    answers_to_pipelined_requests_that_are_ready_at_once_share_one_write,
    |_backend| async move {
        let server = Server::builder().build().unwrap();
        let (io, mut client) = tokio::io::duplex(64 * 1024);
        let writes = Arc::new(AtomicUsize::new(0));
        let io = CountingWrites {
            io,
            writes: Arc::clone(&writes),
        };
        client
            .write_all(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3))
            .await
            .unwrap();
        let _served = wego_netpoll::rt::spawn(server.serve_connection(io, tower::service_fn(app)));
        let mut buf = BytesMut::new();
        for _ in 0..3 {
            let resp = read_response(&mut client, &mut buf, false).await.unwrap();
            assert_eq!(resp.body, b"hello");
        }
        assert_eq!(writes.load(Ordering::SeqCst), 1);
    }
);
