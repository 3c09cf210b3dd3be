//! `ProtobufHandler::serve_connection` bounds a connection as the Thrift
//! server does, with the same settings (`server::Config`): the idle read
//! timeout closes a silent connection, the frame read timeout one whose
//! frame trickles in, and the write timeout one whose peer stops reading.
//!
//! Each test serves one in-memory pipe and moves the paused clock itself
//! (`crate::clock`), as `thrift_frame_deadline` does.

use std::time::Duration;

use tokio::io::{AsyncWriteExt, DuplexStream};
use wego_kitex::protobuf::{ProtobufHandler, ProtobufMessageType, codec};
use wego_kitex::server::Config;
use wego_netpoll::Shutdown;
use wego_netpoll::rt::{self, JoinHandle};

use crate::clock::{
    advance, assert_at, closed_silently, drain, settle, settled, step_until_true, trickle,
};
use crate::grpc_common::{echo_router, req};

/// A bound no test here reaches unless the connection is never closed.
const HANG: Duration = Duration::from_secs(120);

/// Serves one pipe, each way `buffer` bytes, with a handler on `config`.
async fn serve(config: Option<Config>, buffer: usize) -> (DuplexStream, JoinHandle<()>, Shutdown) {
    let mut handler = ProtobufHandler::new(echo_router());
    if let Some(c) = config {
        handler = handler.with_server_config(&c);
    }
    let shutdown = Shutdown::new();
    let (client, io) = tokio::io::duplex(buffer);
    let w = shutdown.watcher();
    let task = rt::spawn(async move {
        let _ = handler.serve_connection(io, w).await;
    });
    settle().await;
    (client, task, shutdown)
}

/// A Framed Kitex Protobuf `Echo` call of `msg`.
fn call(seq_id: i32, msg: &str) -> Vec<u8> {
    let mut payload = bytes::BytesMut::new();
    let body = prost::Message::encode_to_vec(&req(msg));
    codec::encode(
        ProtobufMessageType::Call,
        "Echo",
        seq_id,
        &body,
        &mut payload,
    )
    .unwrap();
    let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&payload);
    frame
}

fn config(f: impl FnOnce(&mut Config)) -> Option<Config> {
    let mut c = Config::default();
    f(&mut c);
    Some(c)
}

wego_test_support::each_backend_paused!(
    a_silent_kitex_protobuf_connection_is_closed_at_the_read_timeout,
    |backend| async move {
        // The default, the Thrift server's: 60 s.
        let idle = Config::default().read_timeout;
        let (mut conn, _task, _sd) = serve(None, 64 * 1024).await;
        advance(idle - Duration::from_secs(1)).await;
        assert!(
            !closed_silently(&mut conn),
            "closed before the read timeout"
        );
        let rest = step_until_true(HANG, || closed_silently(&mut conn)).await;
        assert_at(backend, rest + idle - Duration::from_secs(1), idle, 1);
        // Silent after a served call: the clock starts at its last byte.
        let idle = Duration::from_millis(300);
        let (mut conn, _task, _sd) = serve(config(|c| c.read_timeout = idle), 64 * 1024).await;
        settled(conn.write_all(&call(1, "once")))
            .await
            .unwrap()
            .unwrap();
        settle().await;
        let mut got = Vec::new();
        assert!(!drain(&mut conn, &mut got) && !got.is_empty(), "answered");
        let closed_after = step_until_true(HANG, || closed_silently(&mut conn)).await;
        assert_at(backend, closed_after, idle, 1);
    }
);

wego_test_support::each_backend_paused!(
    a_trickled_kitex_protobuf_frame_is_closed_at_the_frame_read_timeout,
    |backend| async move {
        let frame_timeout = Duration::from_millis(200);
        let (mut conn, _task, _sd) = serve(
            config(|c| {
                c.read_timeout = Duration::from_secs(10);
                c.frame_read_timeout = frame_timeout;
            }),
            64 * 1024,
        )
        .await;
        // After a served call, a frame whose bytes come one every 50 ms,
        // which keeps the idle timeout away.
        settled(conn.write_all(&call(1, "first")))
            .await
            .unwrap()
            .unwrap();
        settle().await;
        let mut got = Vec::new();
        assert!(!drain(&mut conn, &mut got) && !got.is_empty(), "answered");
        let frame = call(2, &"x".repeat(64 * 1024));
        let (got, closed_after) = trickle(&mut conn, &frame, Duration::from_millis(50), HANG).await;
        assert!(got.is_empty(), "answered {got:?}");
        assert_at(backend, closed_after, frame_timeout, 1);
    }
);

wego_test_support::each_backend_paused!(
    a_kitex_protobuf_peer_that_never_reads_is_closed_at_the_write_timeout,
    |backend| async move {
        let write_timeout = Duration::from_millis(300);
        // A 4 KiB pipe: the 64 KiB reply stalls once 4 KiB of it wait.
        let (mut conn, task, _sd) =
            serve(config(|c| c.write_timeout = write_timeout), 4 * 1024).await;
        let frame = call(1, &"x".repeat(64 * 1024));
        let send = rt::spawn(async move {
            let _ = conn.write_all(&frame).await;
            conn
        });
        let closed_after = step_until_true(HANG, || task.is_finished()).await;
        assert_at(backend, closed_after, write_timeout, 1);
        let mut conn = send.await.unwrap();
        let mut got = Vec::new();
        assert!(drain(&mut conn, &mut got), "the connection is closed");
    }
);
