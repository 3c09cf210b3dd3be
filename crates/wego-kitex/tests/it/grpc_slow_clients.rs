//! Slow and silent clients of the gRPC server: the handshake timeout, the
//! idle timeout, and graceful shutdown beside a connection that never
//! completed its handshake.

use std::time::{Duration, Instant};

use wego_kitex::grpc::{Code, GrpcServer, Request, Response, ResponseStream, Status};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Address, Conn, Dialer, rt};

use crate::grpc_common::*;

/// The HTTP/2 client connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame.
const SETTINGS: &[u8] = &[0, 0, 0, 0x4, 0, 0, 0, 0, 0];
/// A SETTINGS frame acknowledging the server's.
const SETTINGS_ACK: &[u8] = &[0, 0, 0, 0x4, 0x1, 0, 0, 0, 0];
/// The GOAWAY frame type.
const GOAWAY: u8 = 0x7;

/// How long any step may take before the test fails: far above the
/// timeouts configured, so that only a server that never acts trips it.
const BOUND: Duration = Duration::from_secs(10);

/// Serves every connection of a loopback listener with `server` and the
/// echo routes, reporting each connection's accept order and result when
/// its `serve_connection` returns.
async fn serve_reporting(
    server: GrpcServer,
) -> (
    Address,
    tokio::sync::mpsc::UnboundedReceiver<(usize, Result<(), Status>)>,
) {
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    // Never drained: the connections end only by themselves.
    rt::spawn(async move {
        let mut n = 0;
        while let Ok(conn) = listener.accept().await {
            let (s, tx) = (server.clone(), tx.clone());
            rt::spawn(async move {
                let r = s.serve_connection(conn, echo_router()).await;
                let _ = tx.send((n, r));
            });
            n += 1;
        }
    });
    (addr, rx)
}

/// Reads until the server closes the connection; everything it sent.
async fn read_to_close(conn: &mut Conn) -> Vec<u8> {
    let mut got = Vec::new();
    let read = rt::timeout(BOUND, async {
        let mut chunk = bytes::BytesMut::with_capacity(4096);
        loop {
            chunk.clear();
            match conn.read_buf(&mut chunk).await {
                Ok(n) if n > 0 => got.extend_from_slice(&chunk),
                _ => break,
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    got
}

/// The type and payload of each whole frame in `bytes` (a server's
/// side of a connection, which starts with a frame).
fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while bytes.len() >= 9 {
        let len = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        if bytes.len() < 9 + len {
            break;
        }
        out.push((bytes[3], bytes[9..9 + len].to_vec()));
        bytes = &bytes[9 + len..];
    }
    out
}

/// The error code of the GOAWAY among `frames`, if there is one.
fn goaway_code(frames: &[(u8, Vec<u8>)]) -> Option<u32> {
    frames
        .iter()
        .find(|(t, p)| *t == GOAWAY && p.len() >= 8)
        .map(|(_, p)| u32::from_be_bytes([p[4], p[5], p[6], p[7]]))
}

/// The next connection result reported, bounded.
async fn next_report(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(usize, Result<(), Status>)>,
) -> (usize, Result<(), Status>) {
    rt::timeout(BOUND, rx.recv())
        .await
        .expect("a connection ends")
        .unwrap()
}

wego_test_support::each_backend!(
    handshake_timeout_closes_a_trickled_preface,
    |_backend| async move {
        let server = GrpcServer::builder()
            .with_handshake_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let (addr, mut reports) = serve_reporting(server).await;
        // The preface and a SETTINGS frame of 60 settings: 393 bytes,
        // one at a time, at least 20 ms apart, take far longer than the
        // handshake timeout.
        let mut bytes = PREFACE.to_vec();
        bytes.extend_from_slice(&[0, 1, 104, 0x4, 0, 0, 0, 0, 0]);
        for _ in 0..60 {
            bytes.extend_from_slice(&[0, 0x4, 0, 0, 0xff, 0xff]);
        }
        let t0 = Instant::now();
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        let mut chunk = bytes::BytesMut::with_capacity(4096);
        let mut closed = false;
        for b in &bytes {
            if conn.write_all(std::slice::from_ref(b)).await.is_err() {
                closed = true;
                break;
            }
            // Paces the trickle; a read that ends the connection stops it.
            if let Ok(Ok(0) | Err(_)) =
                rt::timeout(Duration::from_millis(20), conn.read_buf(&mut chunk)).await
            {
                closed = true;
                break;
            }
        }
        assert!(closed, "the whole trickled handshake was accepted");
        assert!(t0.elapsed() >= Duration::from_millis(300));
        let (_, r) = next_report(&mut reports).await;
        assert_eq!(r.unwrap_err().code(), Code::DeadlineExceeded);
    }
);

wego_test_support::each_backend!(
    handshake_timeout_closes_a_silent_connection,
    |_backend| async move {
        let server = GrpcServer::builder()
            .with_handshake_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let (addr, mut reports) = serve_reporting(server).await;
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        let got = read_to_close(&mut conn).await;
        // The server sent its SETTINGS at once, then closed.
        assert_eq!(frames(&got).first().map(|f| f.0), Some(0x4));
        let (_, r) = next_report(&mut reports).await;
        assert_eq!(r.unwrap_err().code(), Code::DeadlineExceeded);
    }
);

/// Dials `addr` and completes the HTTP/2 handshake by hand.
async fn handshaken(addr: &Address) -> Conn {
    let mut conn = Dialer::new().dial(addr).await.unwrap();
    let mut hello = PREFACE.to_vec();
    hello.extend_from_slice(SETTINGS);
    hello.extend_from_slice(SETTINGS_ACK);
    conn.write_all(&hello).await.unwrap();
    conn
}

wego_test_support::each_backend!(
    idle_timeout_sends_goaway_and_closes,
    |_backend| async move {
        let server = GrpcServer::builder()
            .with_idle_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let (addr, mut reports) = serve_reporting(server).await;
        // A connection with no stream at all.
        let mut idle = handshaken(&addr).await;
        let got = read_to_close(&mut idle).await;
        assert_eq!(goaway_code(&frames(&got)), Some(0), "NO_ERROR");
        assert!(next_report(&mut reports).await.1.is_ok());
        // One that trickles a header block: h2 has no stream for it until
        // the block is whole, so the idle timeout bounds it.
        let mut trickler = handshaken(&addr).await;
        // The start of a HEADERS frame of 4,000 bytes on stream 1.
        trickler
            .write_all(&[0, 0x0f, 0xa0, 0x1, 0x4, 0, 0, 0, 1, 0x82])
            .await
            .unwrap();
        let got = read_to_close(&mut trickler).await;
        assert_eq!(goaway_code(&frames(&got)), Some(0), "NO_ERROR");
        assert!(next_report(&mut reports).await.1.is_ok());
    }
);

wego_test_support::each_backend!(
    idle_timeout_keeps_a_connection_with_an_open_stream,
    |_backend| async move {
        // Long enough for the channel to open its stream after connecting
        // on a loaded machine.
        let server = GrpcServer::builder()
            .with_idle_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        let (addr, mut reports) = serve_reporting(server).await;
        // Connection 0: a bidi stream, open across the others' idle time.
        let ch = wego_kitex::grpc::Channel::connect(&addr).await.unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel::<EchoRequest>(1);
        let out =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
            );
        let resp: Response<ResponseStream<EchoResponse>> =
            ch.streaming(BIDI, Request::new(out)).await.unwrap();
        let mut s = resp.into_inner();
        tx.send(req("before")).await.unwrap();
        assert_eq!(s.message().await.unwrap().unwrap().msg, "before");
        // Connection 1, opened after the stream: when its idle timeout
        // has closed it, connection 0 has been open longer than that.
        let mut idle = handshaken(&addr).await;
        let got = read_to_close(&mut idle).await;
        assert_eq!(goaway_code(&frames(&got)), Some(0));
        let (n, r) = next_report(&mut reports).await;
        assert_eq!(n, 1, "the connection with the open stream was closed");
        assert!(r.is_ok());
        tx.send(req("after")).await.unwrap();
        assert_eq!(s.message().await.unwrap().unwrap().msg, "after");
        drop(tx);
        assert!(s.message().await.unwrap().is_none());
        // Without the stream, connection 0 is idle and closed in turn.
        let (n, r) = next_report(&mut reports).await;
        assert_eq!(n, 0);
        assert!(r.is_ok());
    }
);

wego_test_support::each_backend!(
    graceful_shutdown_closes_connections_in_their_handshake_at_once,
    |_backend| async move {
        // Handshake and shutdown deadlines far above the bound: only
        // closing at once lets the shutdown finish, and gracefully.
        let server = GrpcServer::builder()
            .with_handshake_timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let s = server.clone();
        rt::spawn(async move { s.serve(listener, echo_router()).await });
        // One connection silent, one that sent only the preface.
        let mut silent = Dialer::new().dial(&addr).await.unwrap();
        let mut preface_only = Dialer::new().dial(&addr).await.unwrap();
        preface_only.write_all(PREFACE).await.unwrap();
        // The server's SETTINGS: both are being served.
        let mut head = [0u8; 9];
        for conn in [&mut silent, &mut preface_only] {
            rt::timeout(BOUND, conn.read_exact(&mut head))
                .await
                .expect("the server answers a new connection")
                .unwrap();
            assert_eq!(head[3], 0x4, "a SETTINGS frame");
        }
        let report = rt::timeout(BOUND, server.shutdown(Duration::from_secs(60)))
            .await
            .expect("the shutdown does not wait for the handshakes");
        assert!(report.is_graceful(), "{report:?}");
        read_to_close(&mut silent).await;
        read_to_close(&mut preface_only).await;
    }
);

#[test]
fn zero_timeouts_are_rejected() {
    let err = GrpcServer::builder()
        .with_handshake_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(err.is_config(), "{err}");
    assert!(err.to_string().contains("handshake_timeout"), "{err}");
    let err = GrpcServer::builder()
        .with_idle_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(err.is_config(), "{err}");
    assert!(err.to_string().contains("idle_timeout"), "{err}");
}
