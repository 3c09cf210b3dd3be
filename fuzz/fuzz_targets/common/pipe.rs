//! The client side of the whole-connection targets: a peer that writes
//! the fuzzer's bytes into an in-memory pipe in pieces and reads back
//! everything the server sends.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The piece size an input's selector byte stands for: 1 to 64 bytes, or
/// (0) all `len` bytes at once.
pub fn piece_size(selector: u8, len: usize) -> usize {
    match selector % 65 {
        0 => len.max(1),
        n => usize::from(n),
    }
}

/// Writes `input` in pieces of `piece` bytes, closes the write side and
/// reads everything the server sends until it closes.
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
