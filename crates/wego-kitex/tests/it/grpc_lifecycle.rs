//! Graceful shutdown with GOAWAY, keepalive pings and the health service.
//!
//! The tests that wait for a shutdown deadline or a keepalive timer serve
//! in-memory pipes and move the paused clock themselves (`crate::clock`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::io::DuplexStream;
use wego_kitex::grpc::health::{
    HealthCheckRequest, HealthCheckResponse, HealthReporter, ServingStatus,
};
use wego_kitex::grpc::{Channel, Code, GrpcRouter, GrpcServer, Request, Response, ResponseStream};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf, split};
use wego_netpoll::rt;

use crate::clock::{assert_at, settle, settled, step_until, step_until_true};
use crate::grpc_common::*;

/// A bound no test here reaches unless a timeout is not enforced.
const BOUND: Duration = Duration::from_secs(10);

/// A unary method whose handler reports each call on the receiver
/// [`held_router`] returns and then waits for a permit of its gate.
const HELD: &str = "/echo.EchoServer/Held";

/// The echo routes plus [`HELD`]; the receiver of its calls and its gate.
fn held_router() -> (
    GrpcRouter,
    tokio::sync::mpsc::UnboundedReceiver<()>,
    Arc<tokio::sync::Semaphore>,
) {
    let (arrived_tx, arrived) = tokio::sync::mpsc::unbounded_channel();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    let router = echo_router().unary(HELD, move |r: Request<EchoRequest>| {
        let (arrived_tx, g) = (arrived_tx.clone(), g.clone());
        async move {
            let _ = arrived_tx.send(());
            g.acquire().await.unwrap().forget();
            let m = r.into_inner();
            Ok(Response::new(EchoResponse {
                action: m.action,
                msg: m.msg,
            }))
        }
    });
    (router, arrived, gate)
}

wego_test_support::each_backend!(
    graceful_shutdown_finishes_calls_in_flight,
    |_backend| async move {
        let server = GrpcServer::builder().build().unwrap();
        let (router, mut arrived, gate) = held_router();
        let (ch, server) = start_with(server, router).await;
        let slow = {
            let ch = ch.clone();
            rt::spawn(async move {
                ch.unary::<_, EchoResponse>(HELD, Request::new(req("in flight")))
                    .await
            })
        };
        rt::timeout(Duration::from_secs(10), arrived.recv())
            .await
            .expect("the call reaches its handler")
            .unwrap();
        // Draining begins with the call in its handler, and cannot end
        // while the call is there.
        let shutdown = server.shutdown(Duration::from_secs(30));
        let mut shutdown = std::pin::pin!(shutdown);
        assert!(shutdown.as_mut().now_or_never().is_none());
        assert!(server.shutdown_handle().is_draining());
        gate.add_permits(1);
        let report = shutdown.await;
        assert!(report.is_graceful());
        let done = slow.await.unwrap().unwrap();
        assert_eq!(done.get_ref().msg, "in flight");
        // New calls on the drained connection fail as UNAVAILABLE.
        let err = ch
            .unary::<_, EchoResponse>(UNARY, Request::new(req("late")))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{err}");
    }
);

wego_test_support::each_backend_paused!(forced_shutdown_cuts_long_calls, |backend| async move {
    // The gate never opens: the call cannot finish by itself.
    let (router, mut arrived, _gate) = held_router();
    let server = GrpcServer::default();
    let (ch, _conn) = pipe_channel(&server, router).await;
    let slow = rt::spawn(async move {
        ch.unary::<_, EchoResponse>(HELD, Request::new(req("cut")))
            .await
    });
    settle().await;
    arrived.try_recv().expect("the call reaches its handler");
    // The shutdown waits for the call until its deadline, then forces it.
    let grace = Duration::from_millis(200);
    let (report, took) = step_until(BOUND, server.shutdown(grace)).await;
    assert!(!report.is_graceful());
    assert_at(backend, took, grace, 1);
    // The forced close ends the call at once.
    let err = settled(slow)
        .await
        .expect("the forced close ends the call")
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            Code::Unavailable | Code::Internal | Code::Cancelled
        ),
        "{err}"
    );
});

/// The HTTP/2 client connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Counts the PING frames of one direction of an HTTP/2 connection, fed
/// the bytes as they come.
struct PingCounter {
    /// Bytes still to skip before the first frame (the client's preface).
    skip: usize,
    /// The start of a frame not yet whole.
    partial: bytes::BytesMut,
}

impl PingCounter {
    fn new(skip: usize) -> PingCounter {
        PingCounter {
            skip,
            partial: bytes::BytesMut::new(),
        }
    }

    /// The pings and the acks that `bytes` completes.
    fn feed(&mut self, bytes: &[u8]) -> (usize, usize) {
        let skipped = self.skip.min(bytes.len());
        self.skip -= skipped;
        self.partial.extend_from_slice(&bytes[skipped..]);
        let buf = &mut self.partial;
        let (mut pings, mut acks) = (0, 0);
        while buf.len() >= 9 {
            let len = usize::from(buf[0]) << 16 | usize::from(buf[1]) << 8 | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            if buf[3] == 0x6 {
                if buf[4] & 0x1 == 0 {
                    pings += 1;
                } else {
                    acks += 1;
                }
            }
            let _ = buf.split_to(9 + len);
        }
        (pings, acks)
    }
}

/// PING answers seen by a [`ping_counting_proxy`].
#[derive(Default)]
struct PingAcks {
    /// Acks the client sent: the server's pings it answered.
    by_client: AtomicUsize,
    /// Acks the server sent.
    by_server: AtomicUsize,
}

/// A proxy between two in-memory pipes, the client's end of one and the
/// server's of the other, that counts the PING acks of each direction.
fn ping_counting_proxy(client: DuplexStream, server: DuplexStream) -> Arc<PingAcks> {
    let acks = Arc::new(PingAcks::default());
    let (down_rd, down_wr) = split(client);
    let (up_rd, up_wr) = split(server);
    let c = acks.clone();
    rt::spawn(forward(down_rd, up_wr, PREFACE.len(), move |n| {
        c.by_client.fetch_add(n, Ordering::SeqCst);
    }));
    let c = acks.clone();
    rt::spawn(forward(up_rd, down_wr, 0, move |n| {
        c.by_server.fetch_add(n, Ordering::SeqCst);
    }));
    acks
}

/// Copies `from` to `to` until either closes, reporting the PING acks
/// among the frames that follow the first `skip` bytes.
async fn forward(
    mut from: ReadHalf<DuplexStream>,
    mut to: WriteHalf<DuplexStream>,
    skip: usize,
    acked: impl Fn(usize),
) {
    let mut chunk = bytes::BytesMut::with_capacity(16 * 1024);
    let mut counter = PingCounter::new(skip);
    loop {
        chunk.clear();
        match from.read_buf(&mut chunk).await {
            Ok(n) if n > 0 => {}
            _ => break,
        }
        if to.write_all(&chunk).await.is_err() {
            break;
        }
        acked(counter.feed(&chunk).1);
    }
    let _ = to.shutdown().await;
}

wego_test_support::each_backend_paused!(
    keepalive_pings_keep_an_idle_connection,
    |backend| async move {
        let (interval, timeout) = (Duration::from_millis(50), Duration::from_secs(1));
        let server = GrpcServer::builder()
            .with_keepalive_interval(interval)
            .with_keepalive_timeout(timeout)
            .build()
            .unwrap();
        let (upstream, conn) = serve_pipe(&server, echo_router()).await;
        let (client, proxy) = tokio::io::duplex(64 * 1024);
        let acks = ping_counting_proxy(proxy, upstream);
        let ch = Channel::builder()
            .with_keepalive(interval, timeout)
            .handshake(client)
            .await
            .unwrap();
        // Each side sends its next ping an interval after the previous one
        // was answered, at once here: the 25th answer each way comes 25
        // intervals in, past the keepalive timeout, which a side that
        // missed the answers would have closed the connection at.
        let want = 25;
        let took = step_until_true(BOUND, || {
            acks.by_client.load(Ordering::SeqCst) >= want
                && acks.by_server.load(Ordering::SeqCst) >= want
        })
        .await;
        assert_at(backend, took, interval * want as u32, want as u32);
        assert!(took > timeout);
        let r: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("alive"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "alive");
        // The call went over the pinged connection, still served.
        assert!(!conn.is_finished());
    }
);

wego_test_support::each_backend_paused!(keepalive_closes_a_silent_peer, |backend| async move {
    // A "server" that never speaks HTTP/2 after its SETTINGS: the
    // client's pings go unanswered.
    let (client, mut peer) = tokio::io::duplex(64 * 1024);
    let silent = rt::spawn(async move {
        // Send the server's SETTINGS, then read everything and answer
        // nothing, counting the client's pings until it closes.
        peer.write_all(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0])
            .await
            .unwrap();
        let mut chunk = bytes::BytesMut::with_capacity(4096);
        let mut counter = PingCounter::new(PREFACE.len());
        let mut pings = 0;
        loop {
            chunk.clear();
            match peer.read_buf(&mut chunk).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
            pings += counter.feed(&chunk).0;
        }
        pings
    });
    let (interval, timeout) = (Duration::from_millis(100), Duration::from_millis(200));
    let ch = Channel::builder()
        .with_keepalive(interval, timeout)
        .handshake(client)
        .await
        .unwrap();
    // The first ping goes out an interval in, and the connection closes
    // when it has gone unanswered for the keepalive timeout (two timers,
    // each of which may fire a grain late).
    let took = step_until_true(BOUND, || silent.is_finished()).await;
    assert_at(backend, took, interval + timeout, 2);
    assert_eq!(
        silent.await.unwrap(),
        1,
        "one ping, unanswered, then the close"
    );
    // A dead connection fails a call at once instead of hanging.
    let err = settled(ch.unary::<_, EchoResponse>(UNARY, Request::new(req("x"))))
        .await
        .expect("a dead connection fails the call at once")
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
});

wego_test_support::each_backend!(health_check_and_watch, |_backend| async move {
    let health = HealthReporter::new();
    let ch = start(echo_router().merge(health.router())).await;
    let check = |svc: &str| {
        let ch = ch.clone();
        let r = Request::new(HealthCheckRequest {
            service: svc.into(),
        });
        async move {
            ch.unary::<_, HealthCheckResponse>("/grpc.health.v1.Health/Check", r)
                .await
        }
    };
    assert_eq!(
        check("").await.unwrap().get_ref().status,
        ServingStatus::Serving as i32
    );
    assert_eq!(
        check("echo.EchoServer").await.unwrap_err().code(),
        Code::NotFound
    );
    health.set_status("echo.EchoServer", ServingStatus::NotServing);
    assert_eq!(
        check("echo.EchoServer").await.unwrap().get_ref().status,
        ServingStatus::NotServing as i32
    );

    let resp: Response<ResponseStream<HealthCheckResponse>> = ch
        .server_streaming(
            "/grpc.health.v1.Health/Watch",
            Request::new(HealthCheckRequest {
                service: "echo.EchoServer".into(),
            }),
        )
        .await
        .unwrap();
    let mut w = resp.into_inner();
    assert_eq!(
        w.message().await.unwrap().unwrap().status,
        ServingStatus::NotServing as i32
    );
    health.set_status("echo.EchoServer", ServingStatus::Serving);
    assert_eq!(
        w.message().await.unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );
    health.clear_status("echo.EchoServer");
    assert_eq!(
        w.message().await.unwrap().unwrap().status,
        ServingStatus::ServiceUnknown as i32
    );
});

wego_test_support::each_backend!(
    channel_redials_when_the_connection_is_gone,
    |_backend| async move {
        // The first connection is closed by the server (GOAWAY); later ones stay.
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        // Two servers, each with its own shutdown: the first serves only
        // the first connection.
        let first = GrpcServer::default();
        let first2 = first.clone();
        let accepted = Arc::new(AtomicUsize::new(0));
        let acc = accepted.clone();
        rt::spawn(async move {
            let keep = GrpcServer::default();
            loop {
                let Ok(conn) = listener.accept().await else {
                    return;
                };
                let n = acc.fetch_add(1, Ordering::SeqCst);
                let s = if n == 0 { first2.clone() } else { keep.clone() };
                rt::spawn(async move { s.serve_connection(conn, echo_router()).await });
            }
        });
        let ch = Channel::connect(&addr).await.unwrap();
        let r: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("one"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "one");
        // The server has closed the first connection when this returns.
        first.shutdown(Duration::from_secs(1)).await;
        // A call sent before the client has read the GOAWAY and the close
        // still goes over the closed connection and fails as UNAVAILABLE;
        // once the client has read them, the next call redials.
        let t0 = Instant::now();
        let r: Response<EchoResponse> = loop {
            match ch.unary(UNARY, Request::new(req("two"))).await {
                Ok(r) => break r,
                Err(s) => assert_eq!(s.code(), Code::Unavailable, "{s:?}"),
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "the channel never redialled"
            );
            rt::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(r.get_ref().msg, "two");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }
);
