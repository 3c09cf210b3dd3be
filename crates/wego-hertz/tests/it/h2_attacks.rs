//! The known HTTP/2 attacks, each sent at the server while an honest
//! client on another connection must still be answered: rapid reset
//! (CVE-2023-44487), CONTINUATION flood (CVE-2024-27316), HPACK bomb,
//! SETTINGS and PING floods. The zero-window stall, which ends at the
//! write timeout, is tested on the paused clock in `timeouts.rs`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use wego_hertz::Server;
use wego_netpoll::{Address, rt};

use crate::h2_support::{GET_ROOT, client, frame, get, goaway_code, raw, read_frame, send};
use crate::support::start_app;

/// GOAWAY's ENHANCE_YOUR_CALM and frame types (RFC 9113 §7, §6).
const ENHANCE_YOUR_CALM: u32 = 0xb;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// An honest request on a fresh connection is answered.
async fn honest(addr: &Address) {
    let mut h2 = client(addr).await;
    let r = send(&mut h2, get("/"), b"").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.body(), &Bytes::from_static(b"hello"));
}

/// A literal header field without indexing, new name (RFC 7541 §6.2.2),
/// with a value of `len` bytes (`len` < 2^21).
fn literal(name: &[u8], len: usize) -> Vec<u8> {
    let mut v = vec![0, name.len() as u8];
    v.extend_from_slice(name);
    // Length with a 7-bit prefix: 127, then 7 bits at a time.
    v.push(0x7f);
    let mut rest = len - 127;
    while rest >= 128 {
        v.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    v.push(rest as u8);
    v.extend(std::iter::repeat_n(b'a', len));
    v
}

wego_test_support::each_backend!(rapid_reset_gets_goaway, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut attack = raw(&addr).await;
    // 1,000 streams, each opened and reset at once, in one write.
    let mut flood = Vec::new();
    for i in 0..1000u32 {
        let id = 2 * i + 1;
        flood.extend(frame(HEADERS, END_HEADERS | END_STREAM, id, GET_ROOT));
        flood.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes()));
    }
    attack.write_all(&flood).await.unwrap();
    honest(&addr).await;
    assert_eq!(goaway_code(&mut attack).await, Some(ENHANCE_YOUR_CALM));
    honest(&addr).await;
});

wego_test_support::each_backend!(
    continuation_flood_ends_the_connection,
    |_backend| async move {
        let (_server, addr, _task) = start_app(Server::builder()).await;
        let mut attack = raw(&addr).await;
        attack
            .write_all(&frame(HEADERS, END_STREAM, 1, GET_ROOT))
            .await
            .unwrap();
        let (mut rd, mut wr) = tokio::io::split(attack);
        // CONTINUATION frames without END_HEADERS, until the server
        // stops reading: 16 KiB of header each, 64 MiB at most.
        let writer = rt::spawn(async move {
            let chunk = frame(CONTINUATION, 0, 1, &literal(b"x-pad", 16_000));
            for _ in 0..4096 {
                if wr.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        });
        honest(&addr).await;
        // The header list outgrows SETTINGS_MAX_HEADER_LIST_SIZE: the
        // connection ends, with GOAWAY or a close, long before the flood.
        let _ = goaway_code(&mut rd).await;
        writer.await.unwrap();
        honest(&addr).await;
    }
);

wego_test_support::each_backend!(hpack_bomb_is_refused, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let mut attack = raw(&addr).await;
    // One 4,000-byte field put in the dynamic table (literal with
    // incremental indexing), then referenced 4,000 times by one byte each
    // (index 62): 16 MB of headers from 12 KB on the wire.
    let mut block = GET_ROOT.to_vec();
    let mut field = literal(b"x-bomb", 4000);
    field[0] = 0x40;
    block.extend(field);
    block.extend(std::iter::repeat_n(0xbe, 4000));
    attack
        .write_all(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block))
        .await
        .unwrap();
    honest(&addr).await;
    // Refused: a response other than the handler's 200 (431), a reset of
    // the stream, or the connection's end.
    loop {
        let Some(f) = read_frame(&mut attack).await else {
            break;
        };
        if f.stream == 1 && f.kind == HEADERS {
            // 0x88 is `:status: 200` from the static table.
            assert_ne!(f.payload.first(), Some(&0x88), "the bomb was served");
            break;
        }
        if (f.stream == 1 && f.kind == RST_STREAM) || f.kind == 0x7 {
            break;
        }
    }
    honest(&addr).await;
});

/// A server-side IO that counts the bytes the server reads.
struct Counted<IO> {
    io: IO,
    read: Arc<AtomicUsize>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Counted<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        self.read
            .fetch_add(buf.filled().len() - before, Ordering::Relaxed);
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counted<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<IO> wego_netpoll::ConnInfo for Counted<IO> {}

/// Floods a connection with `one` frame repeated (each needs an answer)
/// while never reading: the server must stop reading once its answers
/// cannot leave, not queue them without bound. The pipe holds 16 KiB each
/// way; the flood is 4 MiB.
async fn flood_without_reading(one: Vec<u8>) {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let server = Server::builder().build().unwrap();
    let (io, mut attack) = tokio::io::duplex(16 * 1024);
    let read = Arc::new(AtomicUsize::new(0));
    let io = Counted {
        io,
        read: Arc::clone(&read),
    };
    rt::spawn(server.serve_connection(io, tower::service_fn(crate::support::app)));
    let total = 4 * 1024 * 1024;
    let mut flood = crate::h2_support::preface();
    while flood.len() < total {
        flood.extend_from_slice(&one);
    }
    let writer = rt::spawn(async move {
        let _ = attack.write_all(&flood).await;
        attack
    });
    honest(&addr).await;
    let seen = read.load(Ordering::Relaxed);
    assert!(
        seen < 1024 * 1024 && !writer.is_finished(),
        "the server read {seen} bytes of the flood without its answers leaving"
    );
    // Still served once the client reads again.
    writer.abort();
}

wego_test_support::each_backend!(ping_flood_is_bounded, |_backend| async move {
    flood_without_reading(frame(PING, 0, 0, &[7; 8])).await;
});

wego_test_support::each_backend!(settings_flood_is_bounded, |_backend| async move {
    flood_without_reading(frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100])).await;
});
