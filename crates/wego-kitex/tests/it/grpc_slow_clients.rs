//! Slow and silent clients of the gRPC server: the handshake timeout, the
//! idle timeout, and graceful shutdown beside a connection that never
//! completed its handshake.
//!
//! The timeout tests serve in-memory pipes with `serve_connection` and move
//! the paused clock themselves (`crate::clock`): each timeout is seen at
//! the millisecond it strikes.

use std::time::Duration;

use tokio::io::DuplexStream;
use wego_kitex::grpc::{Code, GrpcServer, Request, Response, ResponseStream, Status};
use wego_netpoll::Dialer;
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::rt::{self, JoinHandle};

use crate::clock::{assert_at, drain, settle, step_until_true, trickle};
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

/// Serves one in-memory pipe with `server` and the echo routes.
async fn serve(server: &GrpcServer) -> (DuplexStream, JoinHandle<Result<(), Status>>) {
    serve_pipe(server, echo_router()).await
}

/// The result of a connection whose task has finished.
async fn result(task: JoinHandle<Result<(), Status>>) -> Result<(), Status> {
    assert!(task.is_finished(), "the connection is still served");
    task.await.unwrap()
}

/// Reads until the server closes the connection, moving the clock a
/// millisecond at a time: everything it sent, and how long that took.
async fn read_to_close(conn: &mut DuplexStream) -> (Vec<u8>, Duration) {
    let mut got = Vec::new();
    let took = step_until_true(BOUND, || drain(conn, &mut got)).await;
    (got, took)
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

wego_test_support::each_backend_paused!(
    handshake_timeout_closes_a_trickled_preface,
    |backend| async move {
        let timeout = Duration::from_millis(300);
        let server = GrpcServer::builder()
            .with_handshake_timeout(timeout)
            .build()
            .unwrap();
        let (mut conn, task) = serve(&server).await;
        // The preface and a SETTINGS frame of 60 settings: 393 bytes, one
        // every 20 ms, take far longer than the handshake timeout; each
        // byte is news to the server, which must not restart its clock.
        let mut bytes = PREFACE.to_vec();
        bytes.extend_from_slice(&[0, 1, 104, 0x4, 0, 0, 0, 0, 0]);
        for _ in 0..60 {
            bytes.extend_from_slice(&[0, 0x4, 0, 0, 0xff, 0xff]);
        }
        let (got, took) = trickle(&mut conn, &bytes, Duration::from_millis(20), BOUND).await;
        assert_at(backend, took, timeout, 1);
        // The server sent its SETTINGS at once, then closed.
        assert_eq!(frames(&got).first().map(|f| f.0), Some(0x4));
        assert_eq!(
            result(task).await.unwrap_err().code(),
            Code::DeadlineExceeded
        );
    }
);

wego_test_support::each_backend_paused!(
    handshake_timeout_closes_a_silent_connection,
    |backend| async move {
        let timeout = Duration::from_millis(200);
        let server = GrpcServer::builder()
            .with_handshake_timeout(timeout)
            .build()
            .unwrap();
        let (mut conn, task) = serve(&server).await;
        let (got, took) = read_to_close(&mut conn).await;
        assert_at(backend, took, timeout, 1);
        // The server sent its SETTINGS at once, then closed.
        assert_eq!(frames(&got).first().map(|f| f.0), Some(0x4));
        assert_eq!(
            result(task).await.unwrap_err().code(),
            Code::DeadlineExceeded
        );
    }
);

/// Serves a pipe with `server` and completes the HTTP/2 handshake on it by
/// hand.
async fn handshaken(server: &GrpcServer) -> (DuplexStream, JoinHandle<Result<(), Status>>) {
    let (mut conn, task) = serve(server).await;
    let mut hello = PREFACE.to_vec();
    hello.extend_from_slice(SETTINGS);
    hello.extend_from_slice(SETTINGS_ACK);
    conn.write_all(&hello).await.unwrap();
    settle().await;
    (conn, task)
}

wego_test_support::each_backend_paused!(
    idle_timeout_sends_goaway_and_closes,
    |backend| async move {
        let idle = Duration::from_millis(200);
        let server = GrpcServer::builder()
            .with_idle_timeout(idle)
            .build()
            .unwrap();
        // A connection with no stream at all.
        let (mut conn, task) = handshaken(&server).await;
        let (got, took) = read_to_close(&mut conn).await;
        assert_at(backend, took, idle, 1);
        assert_eq!(goaway_code(&frames(&got)), Some(0), "NO_ERROR");
        assert!(result(task).await.is_ok());
        // One that trickles a header block: h2 has no stream for it until
        // the block is whole, so the idle timeout bounds it.
        let (mut trickler, task) = handshaken(&server).await;
        // The start of a HEADERS frame of 4,000 bytes on stream 1.
        trickler
            .write_all(&[0, 0x0f, 0xa0, 0x1, 0x4, 0, 0, 0, 1, 0x82])
            .await
            .unwrap();
        let (got, took) = read_to_close(&mut trickler).await;
        assert_at(backend, took, idle, 1);
        assert_eq!(goaway_code(&frames(&got)), Some(0), "NO_ERROR");
        assert!(result(task).await.is_ok());
    }
);

wego_test_support::each_backend_paused!(
    idle_timeout_keeps_a_connection_with_an_open_stream,
    |backend| async move {
        let idle = Duration::from_secs(1);
        let server = GrpcServer::builder()
            .with_idle_timeout(idle)
            .build()
            .unwrap();
        // Connection 0: a bidi stream, open across the others' idle time.
        let (ch, streamed) = pipe_channel(&server, echo_router()).await;
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
        // Connection 1, opened with the stream open: its idle timeout
        // closes it, and connection 0 has been open as long.
        let (mut conn, task) = handshaken(&server).await;
        let (got, took) = read_to_close(&mut conn).await;
        assert_at(backend, took, idle, 1);
        assert_eq!(goaway_code(&frames(&got)), Some(0));
        assert!(result(task).await.is_ok());
        assert!(
            !streamed.is_finished(),
            "the connection with the open stream was closed"
        );
        tx.send(req("after")).await.unwrap();
        assert_eq!(s.message().await.unwrap().unwrap().msg, "after");
        drop(tx);
        assert!(s.message().await.unwrap().is_none());
        // Without the stream, connection 0 is idle and closed in turn, an
        // idle timeout after its stream ended.
        let took = step_until_true(BOUND, || streamed.is_finished()).await;
        assert_at(backend, took, idle, 1);
        assert!(result(streamed).await.is_ok());
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
        for conn in [&mut silent, &mut preface_only] {
            // An end or a reset (the preface was never read): closed.
            let mut rest = Vec::new();
            let _ = rt::timeout(BOUND, conn.read_to_end(&mut rest))
                .await
                .expect("the server closes the connection");
        }
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
