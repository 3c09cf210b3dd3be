//! The server's and the client's timeouts on the paused test clock: each fires at its
//! deadline on the clock, not before it, and only on the connection or
//! stream it bounds. The peers are in-memory pipes, so no timer races the
//! kernel's delivery of bytes (`wego_test_support::on_each_backend_paused`).

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::{Request, Response, StatusCode};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use wego_hertz::{Body, Client, Server};
use wego_netpoll::rt;
use wego_test_support::{Pipes, clocked};

use crate::client::get;
use crate::h2_support::{collect, preface, send};
use crate::support::read_response;

/// How far the clock moves per step while a test waits for a timeout.
const STEP: Duration = Duration::from_millis(50);
/// How late after its deadline a timeout may be seen: the step it fell in,
/// and another for a chain of two timers (tokio rounds each deadline up to
/// its next millisecond).
const SLACK: Duration = Duration::from_millis(2 * 50 + 2);
/// Catches a timeout that never fires.
const LIMIT: Duration = Duration::from_secs(600);

/// Serves `svc` on one in-memory connection of `server`, as a task; returns
/// the client's end of the pipe (`buffer` bytes each way) and the task.
fn pipe<S>(server: &Server, svc: S, buffer: usize) -> (DuplexStream, rt::JoinHandle<()>)
where
    S: tower_service::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let (client, io) = tokio::io::duplex(buffer);
    (client, rt::spawn(server.serve_connection(io, svc)))
}

/// [`pipe`] to the test application.
fn pipe_app(server: &Server) -> (DuplexStream, rt::JoinHandle<()>) {
    pipe(server, tower::service_fn(crate::support::app), 64 * 1024)
}

/// Everything the server sends until it closes its end.
async fn until_eof(conn: &mut DuplexStream) -> Vec<u8> {
    let mut all = Vec::new();
    conn.read_to_end(&mut all).await.unwrap();
    all
}

/// Waits for `fut` while the clock moves: fails the test, rather than hangs
/// it, if `fut` waits on a timer that never fires.
async fn ends<F: Future>(fut: F) -> F::Output {
    clocked(STEP, LIMIT, fut).await.0
}

/// Checks that `waited` is `deadline` on the clock, give or take [`SLACK`]
/// after it and never before it.
fn at_deadline(what: &str, waited: Duration, deadline: Duration) {
    assert!(
        waited >= deadline && waited < deadline + SLACK,
        "{what} after {waited:?}, deadline {deadline:?}"
    );
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

wego_test_support::each_backend_paused!(
    a_head_not_read_in_time_gets_408_and_close,
    |_backend| async move {
        let deadline = Duration::from_secs(5);
        let server = Server::builder()
            .with_header_read_timeout(deadline)
            .build()
            .unwrap();
        // Half a head, and nothing at all.
        for sent in [&b"GET / HTTP/1.1\r\nHost:"[..], b""] {
            let (mut conn, task) = pipe_app(&server);
            conn.write_all(sent).await.unwrap();
            let mut buf = BytesMut::new();
            let (resp, waited) =
                clocked(STEP, LIMIT, read_response(&mut conn, &mut buf, false)).await;
            let resp = resp.unwrap();
            assert_eq!(resp.status, StatusCode::REQUEST_TIMEOUT);
            assert!(resp.closes());
            at_deadline("408", waited, deadline);
            assert!(ends(until_eof(&mut conn)).await.is_empty());
            ends(task).await.unwrap();
        }
    }
);

wego_test_support::each_backend_paused!(
    between_requests_the_idle_clock_runs_not_the_header_clock,
    |_backend| async move {
        let (head, idle) = (Duration::from_secs(5), Duration::from_secs(60));
        let server = Server::builder()
            .with_header_read_timeout(head)
            .with_idle_timeout(idle)
            .build()
            .unwrap();
        let (mut conn, task) = pipe_app(&server);
        let mut buf = BytesMut::new();
        conn.write_all(GET).await.unwrap();
        assert_eq!(
            read_response(&mut conn, &mut buf, false)
                .await
                .unwrap()
                .body,
            b"hello"
        );
        // Idle for six header-read timeouts: still served.
        rt::advance(head * 6).await.unwrap();
        conn.write_all(GET).await.unwrap();
        assert_eq!(
            read_response(&mut conn, &mut buf, false)
                .await
                .unwrap()
                .body,
            b"hello"
        );
        // A head that starts is on the header clock, from its first byte.
        conn.write_all(b"GET / HT").await.unwrap();
        let (resp, waited) = clocked(STEP, LIMIT, read_response(&mut conn, &mut buf, false)).await;
        assert_eq!(resp.unwrap().status, StatusCode::REQUEST_TIMEOUT);
        at_deadline("408", waited, head);
        ends(task).await.unwrap();

        // Left idle: closed quietly (no 408) at the idle deadline.
        let (mut conn, task) = pipe_app(&server);
        conn.write_all(GET).await.unwrap();
        read_response(&mut conn, &mut buf, false).await.unwrap();
        let (rest, waited) = clocked(STEP, LIMIT, until_eof(&mut conn)).await;
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
        at_deadline("the idle close", waited, idle);
        ends(task).await.unwrap();
    }
);

wego_test_support::each_backend_paused!(
    hyper_sees_the_408_of_a_silent_connection_as_the_end,
    |_backend| async move {
        let deadline = Duration::from_secs(5);
        let server = Server::builder()
            .with_header_read_timeout(deadline)
            .build()
            .unwrap();
        // A connection that sends nothing gets 408 and is closed; hyper has
        // no request to match it with, so it ends the connection with an
        // error and refuses further requests.
        let (io, task) = pipe_app(&server);
        let (mut send, driver) = http1::handshake::<_, Body>(TokioIo::new(io)).await.unwrap();
        let (ended, waited) = clocked(STEP, LIMIT, driver).await;
        assert!(ended.is_err(), "hyper took the 408 for an answer");
        at_deadline("the close", waited, deadline);
        assert!(send.send_request(get("/")).await.is_err());
        ends(task).await.unwrap();
    }
);

wego_test_support::each_backend_paused!(
    a_stalled_request_body_ends_at_the_body_read_timeout,
    |_backend| async move {
        let deadline = Duration::from_secs(5);
        let server = Server::builder()
            .with_body_read_timeout(deadline)
            .build()
            .unwrap();
        let head =
            |path: &str| format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n");

        // A handler that buffers the body sees the timeout as a body error
        // (the test application answers 400 for it); the connection, its
        // body unread, closes after the answer.
        let (mut conn, task) = pipe_app(&server);
        conn.write_all(head("/collect").as_bytes()).await.unwrap();
        conn.write_all(b"four").await.unwrap();
        let mut buf = BytesMut::new();
        let (resp, waited) = clocked(STEP, LIMIT, read_response(&mut conn, &mut buf, false)).await;
        assert_eq!(resp.unwrap().status, StatusCode::BAD_REQUEST);
        at_deadline("the answer", waited, deadline);
        assert!(ends(until_eof(&mut conn)).await.is_empty());
        ends(task).await.unwrap();

        // A handler that streams the body back has sent its head and the
        // four bytes; the timeout cuts the response short, and the close
        // tells the client it is incomplete.
        let (mut conn, task) = pipe_app(&server);
        conn.write_all(head("/echo").as_bytes()).await.unwrap();
        conn.write_all(b"four").await.unwrap();
        let (all, waited) = clocked(STEP, LIMIT, until_eof(&mut conn)).await;
        at_deadline("the close", waited, deadline);
        let all = String::from_utf8(all).unwrap();
        assert!(all.starts_with("HTTP/1.1 200 OK\r\n"), "{all}");
        let body = &all[all.find("\r\n\r\n").unwrap() + 4..];
        assert!(
            body.contains("four") && !body.ends_with("0\r\n\r\n"),
            "{all}"
        );
        ends(task).await.unwrap();
    }
);

/// Requests the server answers before reading them whole, and the status
/// of each: a body over the cap, a 100-continue the expect hook refuses, a
/// malformed head.
const REFUSED: [(&str, StatusCode); 3] = [
    (
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
        StatusCode::PAYLOAD_TOO_LARGE,
    ),
    (
        "PUT /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        StatusCode::EXPECTATION_FAILED,
    ),
    (
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        StatusCode::BAD_REQUEST,
    ),
];

/// A server with a 10-byte body cap, an expect hook that refuses
/// `/refuse`, and `builder`'s other settings.
fn refusing(builder: wego_hertz::server::Builder) -> Server {
    use wego_hertz::server::ExpectDecision;
    builder
        .with_max_body_size(Some(10))
        .with_expect_hook(|parts| {
            if parts.uri.path() == "/refuse" {
                ExpectDecision::Reject(StatusCode::EXPECTATION_FAILED)
            } else {
                ExpectDecision::Continue
            }
        })
        .build()
        .unwrap()
}

wego_test_support::each_backend_paused!(
    a_lingering_close_ends_at_the_linger_timeout,
    |_backend| async move {
        let linger = Duration::from_secs(2);
        let server = refusing(Server::builder().with_linger_timeout(linger));
        for (req, status) in REFUSED {
            // The answer and the server's EOF come at once; the client
            // keeps its side open and sends more of the body, which the
            // server reads and discards until the time limit.
            let (mut conn, task) = pipe_app(&server);
            conn.write_all(req.as_bytes()).await.unwrap();
            let mut buf = BytesMut::new();
            let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
            assert_eq!(resp.status, status, "{req:?}");
            assert!(resp.closes(), "{req:?}");
            assert!(until_eof(&mut conn).await.is_empty(), "{req:?}");
            conn.write_all(b"more of the body").await.unwrap();
            let (ended, waited) = clocked(STEP, LIMIT, task).await;
            ended.unwrap();
            at_deadline("the close", waited, linger);
        }

        // A request read whole whose answer closes the connection does not
        // linger.
        let (mut conn, task) = pipe_app(&server);
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert!(resp.closes());
        let (ended, waited) = clocked(STEP, LIMIT, task).await;
        ended.unwrap();
        assert!(waited.is_zero(), "closed after {waited:?}");

        // Nor does one whose client closes, or one past the byte limit, or
        // one with lingering turned off: each closes before the clock moves.
        let limited = refusing(
            Server::builder()
                .with_linger_timeout(linger)
                .with_linger_limit(1024),
        );
        let off = refusing(Server::builder().with_linger_timeout(Duration::ZERO));
        for (server, what) in [
            (&server, "client closed"),
            (&limited, "limit"),
            (&off, "off"),
        ] {
            let (mut conn, task) = pipe_app(server);
            conn.write_all(REFUSED[0].0.as_bytes()).await.unwrap();
            let mut buf = BytesMut::new();
            let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
            assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE, "{what}");
            match what {
                "client closed" => conn.shutdown().await.unwrap(),
                "limit" => conn.write_all(&[b'x'; 2048]).await.unwrap(),
                _ => {}
            }
            let (ended, waited) = clocked(STEP, LIMIT, task).await;
            ended.unwrap();
            assert!(waited.is_zero(), "{what}: closed after {waited:?}");
        }
    }
);

wego_test_support::each_backend_paused!(
    a_graceful_shutdown_ends_a_lingering_close,
    |_backend| async move {
        let server = refusing(
            Server::builder()
                .with_linger_timeout(Duration::from_secs(60))
                .with_shutdown_timeout(Duration::from_secs(30)),
        );
        let (mut conn, task) = pipe_app(&server);
        conn.write_all(REFUSED[0].0.as_bytes()).await.unwrap();
        let mut buf = BytesMut::new();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(until_eof(&mut conn).await.is_empty());
        // Lingering, with the client's side open: the shutdown closes it
        // at once, as it does an idle connection, not at the linger's end
        // nor at the shutdown's deadline.
        let s = server.clone();
        let shutdown = rt::spawn(async move { s.shutdown(Duration::from_secs(30)).await });
        let (ended, waited) = clocked(STEP, LIMIT, task).await;
        ended.unwrap();
        assert!(waited.is_zero(), "closed after {waited:?}");
        assert!(ends(shutdown).await.unwrap().is_graceful());
    }
);

/// Answers `GET /slow` with three chunks, each 8 s after the last; anything
/// else with "hello".
async fn slow(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    if req.uri().path() != "/slow" {
        return Ok(Response::new(Body::from("hello")));
    }
    let chunks = futures_util::stream::iter(["a", "b", "c"]).then(|c| async move {
        rt::sleep(Duration::from_secs(8)).await;
        Ok::<_, Infallible>(Bytes::from_static(c.as_bytes()))
    });
    Ok(Response::new(Body::from_stream(chunks)))
}

wego_test_support::each_backend_paused!(
    the_idle_clock_starts_when_the_response_ends,
    |_backend| async move {
        let (head, idle) = (Duration::from_secs(5), Duration::from_secs(10));
        let server = Server::builder()
            .with_header_read_timeout(head)
            .with_idle_timeout(idle)
            .build()
            .unwrap();
        let (mut conn, task) = pipe(&server, tower::service_fn(slow), 64 * 1024);
        let mut buf = BytesMut::new();
        // The head goes out at 8 s and the end at 24 s: the body takes
        // longer than the idle timeout.
        conn.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (resp, _) = clocked(STEP, LIMIT, read_response(&mut conn, &mut buf, false)).await;
        assert_eq!(resp.unwrap().body, b"abc");
        // Well within the idle timeout of the response's end: served.
        rt::advance(idle / 2).await.unwrap();
        // A write error is seen as the missing answer below.
        let _ = conn.write_all(GET).await;
        let (resp, _) = clocked(STEP, LIMIT, read_response(&mut conn, &mut buf, false)).await;
        assert_eq!(resp.expect("closed after the slow response").body, b"hello");

        // A pipelined head that follows a slow response is on the header
        // clock from the response's end, not from its head.
        conn.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET / HT")
            .await
            .unwrap();
        let (resp, _) = clocked(STEP, LIMIT, read_response(&mut conn, &mut buf, false)).await;
        assert_eq!(resp.unwrap().body, b"abc");
        let (resp, waited) = clocked(STEP, LIMIT, read_response(&mut conn, &mut buf, false)).await;
        assert_eq!(resp.unwrap().status, StatusCode::REQUEST_TIMEOUT);
        at_deadline("408", waited, head);
        ends(task).await.unwrap();

        // Left idle after the slow response: closed quietly at the idle
        // deadline counted from its end.
        let (mut conn, task) = pipe(&server, tower::service_fn(slow), 64 * 1024);
        conn.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (resp, _) = clocked(STEP, LIMIT, read_response(&mut conn, &mut buf, false)).await;
        assert_eq!(resp.unwrap().body, b"abc");
        let (rest, waited) = clocked(STEP, LIMIT, until_eof(&mut conn)).await;
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
        at_deadline("the idle close", waited, idle);
        ends(task).await.unwrap();
    }
);

wego_test_support::each_backend_paused!(
    an_extractor_answers_a_body_timeout_with_408,
    |_backend| async move {
        use wego_hertz::extract::{Form, Json, Multipart, MultipartError};

        let deadline = Duration::from_secs(5);
        let server = Server::builder()
            .with_body_read_timeout(deadline)
            .build()
            .unwrap();
        let app = wego_hertz::Router::new()
            .post("/bytes", |b: Bytes| async move { b.len().to_string() })
            .post("/string", |s: String| async move { s })
            .post("/json", |Json(v): Json<serde_json::Value>| async move {
                v.to_string()
            })
            .post(
                "/form",
                |Form(f): Form<std::collections::HashMap<String, String>>| async move {
                    f.len().to_string()
                },
            )
            .post("/upload", |mut m: Multipart| async move {
                while let Some(f) = m.next_field().await? {
                    f.bytes().await?;
                }
                Ok::<_, MultipartError>("done")
            });
        let cases = [
            ("/bytes", "text/plain", "four"),
            ("/string", "text/plain", "four"),
            ("/json", "application/json", "[1, "),
            ("/form", "application/x-www-form-urlencoded", "a=1&"),
            ("/upload", "multipart/form-data; boundary=b", "--b\r\n"),
        ];
        for (path, content_type, sent) in cases {
            let (mut conn, task) = pipe(&server, app.clone(), 64 * 1024);
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n\
                 Content-Length: 100\r\n\r\n{sent}"
            );
            conn.write_all(head.as_bytes()).await.unwrap();
            let mut buf = BytesMut::new();
            let (resp, waited) =
                clocked(STEP, LIMIT, read_response(&mut conn, &mut buf, false)).await;
            let resp = resp.unwrap();
            // As the driver answers a body that times out before the
            // response (RFC 9110 §15.5.9), whatever the handler's shape.
            assert_eq!(resp.status, StatusCode::REQUEST_TIMEOUT, "{path}");
            assert!(resp.closes(), "{path}");
            at_deadline(path, waited, deadline);
            assert!(ends(until_eof(&mut conn)).await.is_empty());
            ends(task).await.unwrap();
        }
    }
);

/// Answers `GET /big` with 1 MiB, anything else with "hello".
async fn big(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(if req.uri().path() == "/big" {
        Body::from(vec![b'x'; 1024 * 1024])
    } else {
        Body::from("hello")
    }))
}

wego_test_support::each_backend_paused!(
    a_peer_that_stops_reading_is_cut_at_the_write_timeout,
    |_backend| async move {
        let deadline = Duration::from_secs(5);
        let server = Server::builder()
            .with_write_timeout(deadline)
            .build()
            .unwrap();
        // 4 KiB of pipe each way, never read from the client's end: the
        // response's write stalls at once.
        let (mut conn, task) = pipe(&server, tower::service_fn(big), 4096);
        conn.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (ended, waited) = clocked(STEP, LIMIT, task).await;
        ended.unwrap();
        at_deadline("the close", waited, deadline);
        let got = until_eof(&mut conn).await;
        assert!(got.len() <= 4096, "{} bytes", got.len());

        // A reader as slow as the clock allows, but reading: served whole.
        let (mut conn, task) = pipe(&server, tower::service_fn(big), 4096);
        conn.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut got = 0;
        let mut chunk = [0u8; 4096];
        loop {
            match conn.read(&mut chunk).await.unwrap() {
                0 => break,
                n => got += n,
            }
            rt::advance(deadline / 2).await.unwrap();
        }
        assert!(got > 1024 * 1024, "{got} bytes");
        ends(task).await.unwrap();
    }
);

/// An h2 client over `io`, driven on its own task; the task's handle says
/// when the server ended the connection.
async fn h2_client(
    io: DuplexStream,
) -> (
    h2::client::SendRequest<Bytes>,
    rt::JoinHandle<Result<(), h2::Error>>,
) {
    let (send, conn) = h2::client::handshake(io).await.unwrap();
    (send.ready().await.unwrap(), rt::spawn(conn))
}

wego_test_support::each_backend_paused!(
    an_idle_http2_connection_is_closed_at_the_idle_timeout,
    |_backend| async move {
        let idle = Duration::from_secs(60);
        let server = Server::builder()
            .with_http2_idle_timeout(idle)
            .build()
            .unwrap();
        let (io, task) = pipe_app(&server);
        let (mut h2, driver) = h2_client(io).await;
        let r = send(&mut h2, crate::h2_support::get("/"), b"").await;
        assert_eq!(r.status(), StatusCode::OK);
        // The idle clock starts once no stream is open: GOAWAY, then close.
        let (ended, waited) = clocked(STEP, LIMIT, driver).await;
        ended.unwrap().unwrap();
        at_deadline("the close", waited, idle);
        ends(task).await.unwrap();
    }
);

wego_test_support::each_backend_paused!(
    a_peer_that_does_not_answer_pings_is_closed,
    |_backend| async move {
        let (every, patience) = (Duration::from_secs(10), Duration::from_secs(5));
        let server = Server::builder()
            .with_http2_keep_alive_interval(Some(every))
            .with_http2_keep_alive_timeout(patience)
            .with_http2_idle_timeout(Duration::from_secs(3600))
            .build()
            .unwrap();
        // Sends the preface and then nothing, and never reads: no PING of
        // the server's is answered.
        let (mut silent, task) = pipe_app(&server);
        silent.write_all(&preface()).await.unwrap();
        let (ended, waited) = clocked(STEP, LIMIT, task).await;
        ended.unwrap();
        at_deadline("the close", waited, every + patience);

        // A client that answers (h2 does, as it reads) keeps its connection
        // for ten intervals, and it still serves.
        let (io, task) = pipe_app(&server);
        let (mut h2, driver) = h2_client(io).await;
        for _ in 0..10 {
            rt::advance(every).await.unwrap();
            // The ping is answered before the clock moves on.
            for _ in 0..8 {
                rt::yield_now().await;
            }
        }
        assert!(!driver.is_finished() && !task.is_finished());
        let r = send(&mut h2, crate::h2_support::get("/"), b"").await;
        assert_eq!(r.status(), StatusCode::OK);
    }
);

wego_test_support::each_backend_paused!(
    a_zero_window_stall_is_reset_at_the_write_timeout,
    |_backend| async move {
        let deadline = Duration::from_secs(5);
        let server = Server::builder()
            .with_write_timeout(deadline)
            .build()
            .unwrap();
        // A client that opens no window for response data.
        let (io, _task) = pipe(&server, tower::service_fn(big), 64 * 1024);
        let mut builder = h2::client::Builder::new();
        builder.initial_window_size(0);
        let (stalled, conn) = builder.handshake::<_, Bytes>(io).await.unwrap();
        rt::spawn(conn);
        let mut stalled = stalled.ready().await.unwrap();
        let (resp, _) = stalled
            .send_request(crate::h2_support::get("/big"), true)
            .unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        // Another connection of the same server is served meanwhile.
        let (io, _other) = pipe(&server, tower::service_fn(big), 64 * 1024);
        let (mut h2, _driver) = h2_client(io).await;
        let r = collect(
            h2.send_request(crate::h2_support::get("/"), true)
                .unwrap()
                .0
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.body(), &Bytes::from_static(b"hello"));
        // The stalled stream is reset once the write timeout passes.
        let mut body = resp.into_body();
        let (end, waited) = clocked(STEP, LIMIT, body.data()).await;
        assert!(matches!(end, Some(Err(ref e)) if e.is_reset()), "{end:?}");
        at_deadline("the reset", waited, deadline);
    }
);

/// Reads one request head from `io`.
async fn read_head(io: &mut DuplexStream) {
    let mut buf = BytesMut::new();
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        assert!(
            io.read_buf(&mut buf).await.unwrap() > 0,
            "eof before a head"
        );
    }
}

/// Never dialed: the pipe connector ignores the address.
const URL: &str = "http://127.0.0.1:1/";

wego_test_support::each_backend_paused!(
    the_client_read_idle_timeout_bounds_each_wait_for_bytes,
    |_backend| async move {
        let idle = Duration::from_secs(5);
        // Silent after the head (connection 1); after the head and two of
        // ten body bytes (2); dripping a byte every 4 s, within the idle
        // timeout, until the body is whole (3).
        let pipe = Pipes::new(|n, mut io: DuplexStream| async move {
            read_head(&mut io).await;
            if n >= 2 {
                io.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
                    .await
                    .unwrap();
            }
            if n == 3 {
                for b in b"cdefghij" {
                    rt::sleep(Duration::from_secs(4)).await;
                    io.write_all(&[*b]).await.unwrap();
                }
            }
            std::future::pending::<()>().await;
        });
        let client = Client::builder()
            .with_connector(pipe)
            .with_read_idle_timeout(idle)
            .build()
            .unwrap();
        let (err, waited) = clocked(STEP, LIMIT, client.get(URL)).await;
        assert!(err.unwrap_err().is_timeout());
        at_deadline("the head's timeout", waited, idle);

        let body = client.get(URL).await.unwrap().into_body();
        let (err, waited) = clocked(STEP, LIMIT, body.collect_limited(100)).await;
        let err = err.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        at_deadline("the body's timeout", waited, idle);

        let body = client.get(URL).await.unwrap().into_body();
        let (body, waited) = clocked(STEP, LIMIT, body.collect_limited(100)).await;
        assert_eq!(body.unwrap(), &b"abcdefghij"[..]);
        assert!(waited >= Duration::from_secs(32), "{waited:?}");
    }
);

wego_test_support::each_backend_paused!(
    the_client_timeout_bounds_the_whole_exchange,
    |_backend| async move {
        let whole = Duration::from_secs(5);
        // Silent after the head (connection 1); dripping a body byte every
        // 2 s (2), each wait far within any idle bound.
        let pipe = Pipes::new(|n, mut io: DuplexStream| async move {
            read_head(&mut io).await;
            if n == 2 {
                io.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
                    .await
                    .unwrap();
                for b in b"abcdefghij" {
                    rt::sleep(Duration::from_secs(2)).await;
                    if io.write_all(&[*b]).await.is_err() {
                        return;
                    }
                }
            }
            std::future::pending::<()>().await;
        });
        let client = Client::builder()
            .with_connector(pipe)
            .with_timeout(whole)
            .build()
            .unwrap();
        let (err, waited) = clocked(STEP, LIMIT, client.get(URL)).await;
        assert!(err.unwrap_err().is_timeout());
        at_deadline("the timeout", waited, whole);

        let start = rt::now();
        let body = client.get(URL).await.unwrap().into_body();
        let (err, _) = clocked(STEP, LIMIT, body.collect_limited(100)).await;
        let err = err.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        at_deadline("the body's timeout", rt::now() - start, whole);
    }
);

wego_test_support::each_backend_paused!(
    the_http2_client_read_idle_timeout_ends_only_its_stream,
    |_backend| async move {
        let idle = Duration::from_secs(5);
        let server = Server::builder().build().unwrap();
        // hertz's own HTTP/2 server: `/never` holds its answer.
        let pipe = Pipes::new(move |_n, io: DuplexStream| {
            server.serve_connection(
                io,
                tower::service_fn(|req: Request<Body>| async move {
                    if req.uri().path() == "/never" {
                        std::future::pending::<()>().await;
                    }
                    Ok::<_, Infallible>(Response::new(Body::from("hello")))
                }),
            )
        });
        let client = Client::builder()
            .with_connector(pipe)
            .with_http2_prior_knowledge()
            .with_read_idle_timeout(idle)
            .build()
            .unwrap();
        let (err, waited) = clocked(STEP, LIMIT, client.get("http://127.0.0.1:1/never")).await;
        let err = err.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        at_deadline("the timeout", waited, idle);
        // The connection still serves.
        let resp = client.get(URL).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
);

wego_test_support::each_backend_paused!(
    the_timeout_layer_answers_408_at_its_deadline,
    |_backend| async move {
        use crate::middleware::{ROUTE_TIMEOUT, app};
        let server = Server::builder().build().unwrap();
        let (mut conn, _task) = pipe(&server, app(), 64 * 1024);
        // `/slow` never answers: only the layer can.
        conn.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        let (resp, waited) = clocked(STEP, LIMIT, read_response(&mut conn, &mut buf, false)).await;
        assert_eq!(resp.unwrap().status, StatusCode::REQUEST_TIMEOUT);
        at_deadline("the 408", waited, ROUTE_TIMEOUT);
        // The connection goes on.
        conn.write_all(b"GET /id HTTP/1.1\r\nHost: t\r\nX-Request-Id: a\r\n\r\n")
            .await
            .unwrap();
        let resp = read_response(&mut conn, &mut buf, false).await.unwrap();
        assert_eq!(resp.body, b"a");
    }
);

#[cfg(feature = "governance")]
wego_test_support::each_backend_paused!(
    a_governed_call_ends_at_its_deadline,
    |_backend| async move {
        use std::sync::Arc;

        use wego_governance::{Discover, Instance, StaticDiscover};
        use wego_hertz::client::{CallOptions, GovernedClient};

        let deadline = Duration::from_secs(5);
        // Every instance reads the request and never answers.
        let silent = || {
            Pipes::new(|_n, mut io: DuplexStream| async move {
                read_head(&mut io).await;
                std::future::pending::<()>().await;
            })
        };
        let discover: Arc<dyn Discover> = Arc::new(StaticDiscover::with_service(
            "echo-svc",
            vec![Instance::new(
                "127.0.0.1:1".parse::<wego_netpoll::Address>().unwrap(),
            )],
        ));
        // A per-request deadline.
        let client =
            GovernedClient::builder(Client::builder().with_connector(silent()).build().unwrap())
                .with_discover(Arc::clone(&discover))
                .add_service("echo-svc")
                .build()
                .unwrap();
        let mut req = Request::get("http://echo-svc/t")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(CallOptions::new().with_timeout(deadline));
        let (err, waited) = clocked(STEP, LIMIT, client.request(req)).await;
        let err = err.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert!(err.governance().unwrap().is_timeout());
        at_deadline("the timeout", waited, deadline);
        // The governed client's own timeout.
        let bounded =
            GovernedClient::builder(Client::builder().with_connector(silent()).build().unwrap())
                .with_discover(discover)
                .add_service("echo-svc")
                .with_timeout(deadline)
                .build()
                .unwrap();
        let (err, waited) = clocked(STEP, LIMIT, bounded.get("http://echo-svc/t")).await;
        let err = err.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        at_deadline("the timeout", waited, deadline);
    }
);

wego_test_support::each_backend_paused!(
    a_proxied_call_is_504_at_the_proxy_timeout,
    |_backend| async move {
        use wego_hertz::Router;
        use wego_hertz::proxy::ReverseProxy;

        let deadline = Duration::from_secs(5);
        // The upstream holds its answer (connection 1), or sends its head
        // and holds the body (2).
        let upstream = Pipes::new(|n, mut io: DuplexStream| async move {
            read_head(&mut io).await;
            if n == 2 {
                io.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
                    .await
                    .unwrap();
            }
            std::future::pending::<()>().await;
        });
        let proxy = ReverseProxy::builder()
            .with_upstream("http://127.0.0.1:1")
            .with_client(Client::builder().with_connector(upstream).build().unwrap())
            .with_timeout(deadline)
            .build()
            .unwrap();
        let app = Router::new().any("/*rest", proxy);
        let server = Server::builder().build().unwrap();
        for _ in 0..2 {
            let (mut conn, _task) = pipe(&server, app.clone(), 64 * 1024);
            conn.write_all(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
                .await
                .unwrap();
            let mut buf = BytesMut::new();
            let (resp, waited) =
                clocked(STEP, LIMIT, read_response(&mut conn, &mut buf, false)).await;
            let resp = resp.unwrap();
            assert_eq!(resp.status, StatusCode::GATEWAY_TIMEOUT);
            assert_eq!(resp.body, b"upstream timed out\n");
            at_deadline("the 504", waited, deadline);
        }
    }
);

// Timeouts too long for an `Instant` mean "never": a server and a client
// whose every timeout is `Duration::MAX` serve and send requests, over
// HTTP/1.1 and HTTP/2, and wait for ever rather than overflow.
wego_test_support::each_backend_paused!(
    timeouts_of_duration_max_never_fire,
    |_backend| async move {
        let server = Server::builder()
            .with_header_read_timeout(Duration::MAX)
            .with_idle_timeout(Duration::MAX)
            .with_body_read_timeout(Duration::MAX)
            .with_write_timeout(Duration::MAX)
            .with_http2_idle_timeout(Duration::MAX)
            .build()
            .unwrap();
        for h2 in [false, true] {
            let served = server.clone();
            let pipe = Pipes::new(move |_n, io: DuplexStream| {
                served.serve_connection(io, tower::service_fn(crate::support::app))
            });
            let mut client = Client::builder()
                .with_connector(pipe)
                .with_timeout(Duration::MAX)
                .with_read_idle_timeout(Duration::MAX)
                .with_idle_timeout(Duration::MAX);
            if h2 {
                client = client.with_http2_prior_knowledge();
            }
            let client = client.build().unwrap();
            for _ in 0..2 {
                let resp = ends(client.get(URL)).await.unwrap();
                assert_eq!(resp.status(), StatusCode::OK, "h2: {h2}");
                let body = ends(resp.into_body().collect_limited(1024)).await.unwrap();
                assert_eq!(&body[..], b"hello", "h2: {h2}");
                // A year of silence: nothing timed out.
                rt::advance(Duration::from_secs(365 * 24 * 3600))
                    .await
                    .unwrap();
            }
        }
    }
);
