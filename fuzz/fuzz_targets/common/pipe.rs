//! The client side of the whole-connection targets: a peer that writes
//! the fuzzer's bytes into an in-memory pipe in pieces and reads back
//! everything the server sends.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

/// The slowest a connection may take to end once its client has sent
/// everything: far above what a few kilobytes of input need, so that only
/// a connection that waits for nothing trips it.
pub const END_WITHIN: Duration = Duration::from_secs(10);

/// Room in each direction of the in-memory pipe between client and server.
const PIPE_ROOM: usize = 64 * 1024;

thread_local! {
    /// A current-thread runtime, so that the server's tasks run between
    /// the client's yields and [`exchange_until_quiet`] knows when the
    /// server has answered everything it will.
    static CURRENT_THREAD: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
}

/// Runs `f` to its end on this thread's current-thread runtime.
#[allow(dead_code)]
pub fn block_on_current_thread<F: Future>(f: F) -> F::Output {
    CURRENT_THREAD.with(|rt| rt.block_on(f))
}

/// Connects a server and a client through an in-memory pipe and drives
/// both: `serve` gets the server's end, `client` the other. Returns what
/// the client returns; fails the input when the two have not ended
/// within [`END_WITHIN`], which only a connection that waits for bytes
/// that cannot come takes.
#[allow(dead_code)]
pub async fn connect<S, C>(
    serve: impl FnOnce(DuplexStream) -> S,
    client: impl FnOnce(DuplexStream) -> C,
) -> C::Output
where
    S: Future,
    C: Future,
{
    let (server_end, client_end) = tokio::io::duplex(PIPE_ROOM);
    let both = async { futures_util::join!(serve(server_end), client(client_end)).1 };
    match wego_netpoll::rt::timeout(END_WITHIN, both).await {
        Ok(out) => out,
        Err(_) => panic!("the connection did not end within {END_WITHIN:?} of the client's close"),
    }
}

/// The piece size an input's selector byte stands for: 1 to 64 bytes, or
/// (0) all `len` bytes at once.
#[allow(dead_code)]
pub fn piece_size(selector: u8, len: usize) -> usize {
    match selector % 65 {
        0 => len.max(1),
        n => usize::from(n),
    }
}

/// Writes `input` in pieces of `piece` bytes, closes the write side and
/// reads everything the server sends until it closes.
#[allow(dead_code)]
pub async fn exchange<C: AsyncRead + AsyncWrite + Unpin>(
    io: C,
    input: &[u8],
    piece: usize,
) -> Vec<u8> {
    let (mut rd, mut wr) = tokio::io::split(io);
    let write = async move {
        for chunk in input.chunks(piece.max(1)) {
            // The server may stop reading (an error answered, the
            // connection closed): what is left is simply not sent.
            if wr.write_all(chunk).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    };
    let read = async move {
        let mut out = Vec::new();
        let _ = rd.read_to_end(&mut out).await;
        out
    };
    futures_util::join!(write, read).1
}

/// As [`exchange`], but the client sends `parts` one after another,
/// waiting after each until the server has gone quiet, and closes its side
/// only after the last: for protocols where a client waits for an answer
/// before it goes on (the `101` of an HTTP/2 upgrade), and where a
/// client's end of stream ends the connection at once (HTTP/2), so that
/// the server answers what the input asked before it learns the client
/// has gone.
///
/// Quiet means that `QUIET_YIELDS` yields in a row let the server write
/// nothing more. It is only exact on a current-thread runtime, where the
/// server's tasks run between this task's yields; waiting too little is no
/// worse than [`exchange`], which does not wait at all.
#[allow(dead_code)]
pub async fn exchange_until_quiet<C: AsyncRead + AsyncWrite + Unpin>(
    io: C,
    parts: &[&[u8]],
    piece: usize,
) -> Vec<u8> {
    const QUIET_YIELDS: usize = 16;
    let read_so_far = std::cell::Cell::new(0usize);
    let (mut rd, mut wr) = tokio::io::split(io);
    let write = async {
        for part in parts {
            for chunk in part.chunks(piece.max(1)) {
                if wr.write_all(chunk).await.is_err() {
                    return;
                }
            }
            let mut quiet = 0;
            let mut seen = read_so_far.get();
            while quiet < QUIET_YIELDS {
                tokio::task::yield_now().await;
                let now = read_so_far.get();
                quiet = if now == seen { quiet + 1 } else { 0 };
                seen = now;
            }
        }
        let _ = wr.shutdown().await;
    };
    let read = async {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    read_so_far.set(out.len());
                }
            }
        }
        out
    };
    futures_util::join!(write, read).1
}
