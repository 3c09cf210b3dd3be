//! The frame read timeout closes a connection whose frame trickles in too
//! slowly to finish by its deadline, from the connection's first byte or
//! between calls; a slow frame that finishes in time is served, and the
//! idle read timeout still closes a silent connection. The write timeout
//! closes a connection whose peer stops reading its replies.
//!
//! Raw sockets send a Framed TBinaryProtocol `echo` call. The trickle's
//! pauses are far shorter than the idle timeout, so only the frame deadline
//! can close it; every wait is bounded by [`HANG`], which only a
//! connection the server never closes reaches.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use wego_kitex::server::{Server, ServerStats};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Address, Conn, Dialer, rt};

use crate::thrift_common::{echo, start};

/// Longer than any close the tests expect takes.
const HANG: Duration = Duration::from_secs(30);
/// The pause between two trickled bytes: far below every idle timeout here.
const PAUSE: Duration = Duration::from_millis(50);

async fn server(
    read_timeout: Duration,
    frame_read_timeout: Duration,
) -> (Address, ServerStats, Server) {
    let server = Server::builder()
        .service("Echo", &["echo"], echo())
        .with_read_timeout(read_timeout)
        .with_frame_read_timeout(frame_read_timeout)
        .build()
        .unwrap();
    let stats = server.stats();
    let (addr, sd) = start(server).await;
    (addr, stats, sd)
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

/// Reads one Framed reply and checks that it echoes `arg`.
async fn read_reply(conn: &mut Conn, arg: &[u8]) {
    let mut len = [0; 4];
    rt::timeout(HANG, conn.read_exact(&mut len))
        .await
        .expect("no reply")
        .unwrap();
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    conn.read_exact(&mut body).await.unwrap();
    assert!(
        body.windows(arg.len()).any(|w| w == arg),
        "the reply echoes the argument"
    );
}

/// Sends `bytes` one at a time, [`PAUSE`] apart, until the server closes;
/// returns how many bytes went out. Panics on an answer, if the whole frame
/// went out, or if the connection is still open after [`HANG`].
async fn trickle(conn: &mut Conn, bytes: &[u8]) -> usize {
    let t0 = Instant::now();
    let mut b = [0; 64];
    for (i, byte) in bytes.iter().enumerate() {
        assert!(
            t0.elapsed() < HANG,
            "still open after {HANG:?}, {i} bytes of the frame sent"
        );
        if conn.write_all(std::slice::from_ref(byte)).await.is_err() {
            return i;
        }
        // The pause, cut short by the server's close.
        match rt::timeout(PAUSE, conn.read(&mut b)).await {
            Err(_) => {}
            Ok(Ok(0)) => return i + 1,
            Ok(Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
                return i + 1;
            }
            Ok(Ok(n)) => panic!("answered {:?}", &b[..n]),
        }
    }
    panic!("the whole frame went out unhindered");
}

/// Reads until the server closes; panics on an answer or after [`HANG`].
async fn expect_close(conn: &mut Conn) {
    let mut got = Vec::new();
    match rt::timeout(HANG, conn.read_to_end(&mut got)).await {
        Err(_) => panic!("no close within {HANG:?}"),
        Ok(Ok(_)) => assert!(got.is_empty(), "answered {got:?}"),
        Ok(Err(e)) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
    }
}

/// A frame too long to trickle whole within [`HANG`].
fn long_call() -> Vec<u8> {
    call(1, &vec![b'x'; 64 * 1024])
}

wego_test_support::each_backend!(
    a_frame_trickled_from_the_first_byte_is_closed_at_its_deadline,
    |_backend| async move {
        let (addr, stats, _sd) = server(Duration::from_secs(10), Duration::from_millis(200)).await;
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        let sent = trickle(&mut conn, &long_call()).await;
        assert!(sent < 1000, "closed only after {sent} bytes");
        assert_eq!(stats.frame_read_timeouts(), 1);
    }
);

wego_test_support::each_backend!(
    a_frame_trickled_after_a_served_call_is_closed_at_its_deadline,
    |_backend| async move {
        let (addr, stats, _sd) = server(Duration::from_secs(10), Duration::from_millis(500)).await;
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        conn.write_all(&call(1, b"first")).await.unwrap();
        read_reply(&mut conn, b"first").await;
        let sent = trickle(&mut conn, &long_call()).await;
        assert!(sent < 1000, "closed only after {sent} bytes");
        assert_eq!(stats.frame_read_timeouts(), 1);
    }
);

wego_test_support::each_backend!(
    a_slow_frame_that_finishes_in_time_is_served,
    |_backend| async move {
        let frame_timeout = Duration::from_secs(2);
        let (addr, stats, _sd) = server(Duration::from_secs(10), frame_timeout).await;
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        for (seq, arg) in [(1, &b"slow one"[..]), (2, &b"slow two"[..])] {
            // Three pieces, well within the frame's deadline.
            let frame = call(seq, arg);
            for piece in frame.chunks(frame.len() / 3 + 1) {
                conn.write_all(piece).await.unwrap();
                rt::sleep(PAUSE).await;
            }
            read_reply(&mut conn, arg).await;
            // Idle between frames for longer than a frame may take: the
            // deadline belongs to a frame, not to the connection.
            rt::sleep(frame_timeout + Duration::from_millis(500)).await;
        }
        assert_eq!(stats.frame_read_timeouts(), 0);
    }
);

wego_test_support::each_backend!(
    the_idle_timeout_still_closes_silent_connections,
    |_backend| async move {
        let (addr, stats, _sd) =
            server(Duration::from_millis(300), Duration::from_secs(3600)).await;
        // Silent from the start.
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        expect_close(&mut conn).await;
        // Silent after a served call.
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        conn.write_all(&call(1, b"once")).await.unwrap();
        read_reply(&mut conn, b"once").await;
        expect_close(&mut conn).await;
        assert_eq!(stats.frame_read_timeouts(), 0);
    }
);

wego_test_support::each_backend!(
    a_peer_that_never_reads_its_replies_is_closed_after_the_write_timeout,
    |_backend| async move {
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .with_write_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        // Calls whose replies fill the socket buffers both ways, never
        // read: the server's reply write stalls, and once it has stalled
        // for the write timeout the server closes, which fails a write
        // here. A server that kept waiting would leave this write blocked
        // until HANG (at most 1 GiB of calls is sent).
        let call = call(1, &vec![b'x'; 256 * 1024]);
        let sent = rt::timeout(HANG, async {
            for n in 0..4096 {
                if conn.write_all(&call).await.is_err() {
                    return n;
                }
            }
            panic!("1 GiB of calls went out and the server never closed");
        })
        .await
        .expect("a peer that never reads was not closed within HANG");
        assert!(sent > 0, "the first call could not even be sent");
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
