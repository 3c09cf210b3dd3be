//! The frame read timeout closes a connection whose frame trickles in too
//! slowly to finish by its deadline, from the connection's first byte or
//! between calls; a slow frame that finishes in time is served, and the
//! idle read timeout still closes a silent connection. The write timeout
//! closes a connection whose peer stops reading its replies, and the
//! client's closes one whose server stops reading its requests.
//!
//! Each test serves one in-memory pipe with `Server::serve_connection`,
//! sends a Framed TBinaryProtocol `echo` call by hand, and moves the paused
//! clock itself (`crate::clock`): every timeout is seen at the millisecond
//! it strikes. The trickle's pauses are far shorter than the idle timeout,
//! so only the frame deadline can close it.

use std::time::Duration;

use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use wego_kitex::client::{Client, ClientRequest, Mode};
use wego_kitex::server::{Server, ServerStats};
use wego_kitex::thrift::Protocol;
use wego_netpoll::Address;
use wego_netpoll::rt::{self, JoinHandle};
use wego_test_support::Pipes;

use crate::clock::step_until;
use crate::clock::{
    MS, advance, assert_at, closed_silently, drain, settle, settled, step_until_true, trickle,
};
use crate::thrift_common::{echo, string_args};

/// A bound no test here reaches unless the server never acts.
const HANG: Duration = Duration::from_secs(60);
/// The pause between two trickled bytes: far below every idle timeout here.
const PAUSE: Duration = Duration::from_millis(50);

fn server(read_timeout: Duration, frame_read_timeout: Duration) -> (Server, ServerStats) {
    let server = Server::builder()
        .service("Echo", &["echo"], echo())
        .with_read_timeout(read_timeout)
        .with_frame_read_timeout(frame_read_timeout)
        .build()
        .unwrap();
    let stats = server.stats();
    (server, stats)
}

/// Serves one pipe, each way `buffer` bytes, with `server` on its own
/// task; returns the client's end and the task, which ends when the server
/// closes the connection.
async fn serve(server: &Server, buffer: usize) -> (DuplexStream, JoinHandle<()>) {
    let (client, io) = tokio::io::duplex(buffer);
    let s = server.clone();
    let task = rt::spawn(async move { s.serve_connection(io).await });
    settle().await;
    (client, task)
}

/// A Framed TBinaryProtocol `echo` call whose one string argument is `arg`.
fn call(seq_id: i32, arg: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x01, 0x00, 0x01];
    p.extend_from_slice(&4u32.to_be_bytes());
    p.extend_from_slice(b"echo");
    p.extend_from_slice(&seq_id.to_be_bytes());
    p.extend_from_slice(&[11, 0, 1]);
    p.extend_from_slice(&(arg.len() as u32).to_be_bytes());
    p.extend_from_slice(arg);
    p.push(0);
    let mut v = (p.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(&p);
    v
}

/// Sends `bytes` and expects their reply, which echoes `arg`, with the
/// clock still: a whole frame is served at once.
async fn round_trip(conn: &mut DuplexStream, bytes: &[u8], arg: &[u8]) {
    settled(conn.write_all(bytes))
        .await
        .expect("the server takes the call")
        .unwrap();
    settle().await;
    expect_reply(conn, arg);
}

/// Checks that one whole Framed reply, which echoes `arg`, has arrived.
fn expect_reply(conn: &mut DuplexStream, arg: &[u8]) {
    let mut got = Vec::new();
    assert!(!drain(conn, &mut got), "closed instead of answering");
    assert!(got.len() >= 4, "no reply: {got:?}");
    let len = u32::from_be_bytes(got[..4].try_into().unwrap()) as usize;
    assert_eq!(got.len(), 4 + len, "one whole reply");
    assert!(
        got.windows(arg.len()).any(|w| w == arg),
        "the reply echoes the argument"
    );
}

/// Trickles `bytes`, a byte every [`PAUSE`], until the server closes;
/// returns how long after the first byte that was. Panics on an answer, if
/// the whole frame went out, or if the connection is still open after
/// [`HANG`].
async fn trickle_to_close(conn: &mut DuplexStream, bytes: &[u8]) -> Duration {
    let (got, took) = trickle(conn, bytes, PAUSE, HANG).await;
    assert!(got.is_empty(), "answered {got:?}");
    took
}

/// A frame far too long to trickle whole within [`HANG`].
fn long_call() -> Vec<u8> {
    call(1, &vec![b'x'; 64 * 1024])
}

wego_test_support::each_backend_paused!(
    a_frame_trickled_from_the_first_byte_is_closed_at_its_deadline,
    |backend| async move {
        let frame_timeout = Duration::from_millis(200);
        let (server, stats) = server(Duration::from_secs(10), frame_timeout);
        let (mut conn, _task) = serve(&server, 64 * 1024).await;
        // A byte every 50 ms keeps the idle timeout away; the frame's
        // clock, started by its first byte, runs out all the same.
        let closed_after = trickle_to_close(&mut conn, &long_call()).await;
        assert_at(backend, closed_after, frame_timeout, 1);
        assert_eq!(stats.frame_read_timeouts(), 1);
    }
);

wego_test_support::each_backend_paused!(
    a_frame_trickled_after_a_served_call_is_closed_at_its_deadline,
    |backend| async move {
        let frame_timeout = Duration::from_millis(500);
        let (server, stats) = server(Duration::from_secs(10), frame_timeout);
        let (mut conn, _task) = serve(&server, 64 * 1024).await;
        round_trip(&mut conn, &call(1, b"first"), b"first").await;
        let closed_after = trickle_to_close(&mut conn, &long_call()).await;
        assert_at(backend, closed_after, frame_timeout, 1);
        assert_eq!(stats.frame_read_timeouts(), 1);
    }
);

wego_test_support::each_backend_paused!(
    a_slow_frame_that_finishes_in_time_is_served,
    |_backend| async move {
        let frame_timeout = Duration::from_secs(2);
        let (server, stats) = server(Duration::from_secs(10), frame_timeout);
        let (mut conn, _task) = serve(&server, 64 * 1024).await;
        for (seq, arg) in [(1, &b"slow one"[..]), (2, &b"slow two"[..])] {
            // Three pieces, the last a millisecond before the frame's
            // deadline: served, however close to it.
            let frame = call(seq, arg);
            let (a, rest) = frame.split_at(frame.len() / 3);
            let (b, c) = rest.split_at(rest.len() / 2);
            conn.write_all(a).await.unwrap();
            advance(frame_timeout / 2).await;
            conn.write_all(b).await.unwrap();
            advance(frame_timeout / 2 - MS).await;
            round_trip(&mut conn, c, arg).await;
            // Idle between frames for longer than a frame may take: the
            // deadline belongs to a frame, not to the connection.
            advance(frame_timeout + Duration::from_millis(500)).await;
            assert!(!closed_silently(&mut conn), "closed while idle");
        }
        assert_eq!(stats.frame_read_timeouts(), 0);
    }
);

wego_test_support::each_backend_paused!(
    the_idle_timeout_still_closes_silent_connections,
    |backend| async move {
        let idle = Duration::from_millis(300);
        let (server, stats) = server(idle, Duration::from_secs(3600));
        // Silent from the start.
        let (mut conn, _task) = serve(&server, 64 * 1024).await;
        let closed_after = step_until_true(HANG, || closed_silently(&mut conn)).await;
        assert_at(backend, closed_after, idle, 1);
        // Silent after a served call: the idle clock starts at its last
        // byte.
        let (mut conn, _task) = serve(&server, 64 * 1024).await;
        round_trip(&mut conn, &call(1, b"once"), b"once").await;
        let closed_after = step_until_true(HANG, || closed_silently(&mut conn)).await;
        assert_at(backend, closed_after, idle, 1);
        assert_eq!(stats.frame_read_timeouts(), 0);
    }
);

wego_test_support::each_backend_paused!(
    a_peer_that_never_reads_its_replies_is_closed_after_the_write_timeout,
    |backend| async move {
        let write_timeout = Duration::from_millis(300);
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .with_write_timeout(write_timeout)
            .build()
            .unwrap();
        // A 4 KiB pipe fills as a socket's buffers do: the server takes
        // the whole call, and its 64 KiB reply stalls once 4 KiB of it
        // wait unread.
        let (mut conn, task) = serve(&server, 4 * 1024).await;
        settled(conn.write_all(&call(1, &vec![b'x'; 64 * 1024])))
            .await
            .expect("the server takes the whole call")
            .unwrap();
        // Never read: the reply stays stalled until the write timeout
        // closes the connection.
        let closed_after = step_until_true(HANG, || task.is_finished()).await;
        assert_at(backend, closed_after, write_timeout, 1);
        // The reply's first 4 KiB, then the close.
        let mut got = Vec::new();
        assert!(drain(&mut conn, &mut got), "the connection is closed");
        assert_eq!(got.len(), 4 * 1024);
        assert!(conn.write_all(b"more").await.is_err());
    }
);

#[test]
fn zero_timeouts_are_rejected() {
    let zero = Duration::ZERO;
    let b = || Server::builder().service("Echo", &["echo"], echo());
    assert!(b().with_frame_read_timeout(zero).build().is_err());
    assert!(b().with_read_timeout(zero).build().is_err());
    assert!(b().with_write_timeout(zero).build().is_err());
    assert!(b().build().is_ok());
}

wego_test_support::each_backend_paused!(
    a_buffered_call_read_in_many_pieces_is_served,
    |_backend| async move {
        let (server, _stats) = server(Duration::from_secs(10), Duration::from_secs(10));
        let (mut conn, _task) = serve(&server, 64 * 1024).await;
        // Unframed (Buffered) calls: the server finds each one's end by
        // walking it, resuming the walk at every read. The argument is
        // long enough to span many reads.
        let arg = vec![b'b'; 3000];
        for seq in 1..=2 {
            let framed = call(seq, &arg);
            for piece in framed[4..].chunks(7) {
                settled(conn.write_all(piece))
                    .await
                    .expect("the server reads the piece")
                    .unwrap();
                settle().await;
            }
            let mut got = Vec::new();
            assert!(!drain(&mut conn, &mut got), "closed instead of answering");
            assert!(
                got.starts_with(&[0x80, 0x01, 0x00, 0x02]) && got.ends_with(&[0]),
                "an unframed reply"
            );
            assert!(got.windows(arg.len()).any(|w| w == arg.as_slice()));
        }
    }
);

/// A `mode` client whose first connection goes to a peer that never reads
/// (its end comes back on the receiver) and whose later ones `server`
/// serves; every pipe holds 64 KiB each way.
fn stalling_client(
    server: &Server,
    mode: Mode,
    write_timeout: Duration,
) -> (Client, mpsc::UnboundedReceiver<DuplexStream>) {
    let (stalled_tx, stalled) = mpsc::unbounded_channel();
    let server = server.clone();
    let pipes = Pipes::new(move |n, io| {
        let (server, stalled_tx) = (server.clone(), stalled_tx.clone());
        async move {
            if n == 1 {
                let _ = stalled_tx.send(io);
            } else {
                server.serve_connection(io).await;
            }
        }
    });
    let client = Client::builder(Address::loopback())
        .with_connector(pipes)
        .with_mode(mode)
        .with_write_timeout(write_timeout)
        // Far beyond the write timeout: only the write timeout can end the
        // stalled calls at it.
        .with_rpc_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    (client, stalled)
}

/// Asserts that `e` is the client's write timeout.
#[track_caller]
fn assert_write_timeout(e: &wego_kitex::Error, what: &str) {
    let io = std::error::Error::source(e).and_then(|c| c.downcast_ref::<std::io::Error>());
    assert!(
        e.is_transport() && io.map(std::io::Error::kind) == Some(std::io::ErrorKind::TimedOut),
        "{what}: {e:?}"
    );
}

wego_test_support::each_backend_paused!(
    a_server_that_never_reads_fails_the_calls_at_the_client_write_timeout,
    |backend| async move {
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .build()
            .unwrap();
        let write_timeout = Duration::from_millis(200);
        // 256 KiB of argument: the 64 KiB pipe fills as a socket's buffers
        // do when the peer stops reading.
        let big = string_args(Protocol::Binary, &"x".repeat(256 * 1024));
        let small = string_args(Protocol::Binary, "queued");
        for mode in [
            Mode::Pooled {
                max_idle: 4,
                idle_timeout: Duration::from_secs(60),
            },
            Mode::Multiplexed,
        ] {
            let (client, mut stalled) = stalling_client(&server, mode, write_timeout);
            let call = |args: &bytes::Bytes| {
                let (c, a) = (client.clone(), args.clone());
                async move { c.call(ClientRequest::new("echo", a)).await }
            };
            let stuck = rt::spawn(call(&big));
            settle().await;
            let mut peer = stalled
                .try_recv()
                .expect("the call dialed the stalled peer");
            // Multiplexed, a second call waits behind the stalled write on
            // the same connection.
            let queued = (mode == Mode::Multiplexed).then(|| rt::spawn(call(&small)));
            let (r, took) = step_until(HANG, stuck).await;
            assert_write_timeout(&r.unwrap().unwrap_err(), &format!("{mode:?}"));
            assert_at(backend, took, write_timeout, 1);
            if let Some(queued) = queued {
                let r = settled(queued).await.expect("failed with the connection");
                assert_write_timeout(&r.unwrap().unwrap_err(), "the queued call");
            }
            // The stalled connection is closed: its peer reads what it had
            // taken, then the end.
            settle().await;
            let mut got = Vec::new();
            assert!(drain(&mut peer, &mut got), "{mode:?}: still open");
            assert!(!got.is_empty());
            // The next call dials a new connection, which the server serves.
            let after = settled(call(&small))
                .await
                .expect("answered without the clock")
                .unwrap();
            assert_eq!(after.body, small);
            assert_eq!(client.dial_count(), 2, "{mode:?}");
        }
    }
);

#[test]
fn a_zero_client_write_timeout_is_rejected() {
    let b = Client::builder(Address::loopback()).with_write_timeout(Duration::ZERO);
    assert!(b.build().unwrap_err().is_config());
}
