//! HTTP/2 test helpers: an h2 client over a netpoll connection, and raw
//! frames for what h2's client will not send.

use bytes::{BufMut, Bytes, BytesMut};
use http::{Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt};
use wego_netpoll::{Address, Conn, rt};

use crate::support::connect;

/// Connects with prior knowledge; the connection is driven on its own task.
pub(crate) async fn client(addr: &Address) -> h2::client::SendRequest<Bytes> {
    client_with(addr, h2::client::Builder::new()).await
}

/// As [`client`], with the client's settings.
pub(crate) async fn client_with(
    addr: &Address,
    builder: h2::client::Builder,
) -> h2::client::SendRequest<Bytes> {
    let conn = connect(addr).await;
    let (send, h2conn) = builder.handshake(conn).await.unwrap();
    rt::spawn(async move {
        let _ = h2conn.await;
    });
    send.ready().await.unwrap()
}

/// Sends a request with `body` (none when empty) and reads the whole
/// response.
pub(crate) async fn send(
    client: &mut h2::client::SendRequest<Bytes>,
    req: Request<()>,
    body: &[u8],
) -> Response<Bytes> {
    let (resp, mut stream) = client.send_request(req, body.is_empty()).unwrap();
    if !body.is_empty() {
        stream
            .send_data(Bytes::copy_from_slice(body), true)
            .unwrap();
    }
    collect(resp.await.unwrap()).await
}

/// Reads a response body whole, releasing flow control as it goes.
pub(crate) async fn collect(resp: Response<h2::RecvStream>) -> Response<Bytes> {
    let (parts, mut body) = resp.into_parts();
    let mut all = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        all.extend_from_slice(&chunk);
    }
    Response::from_parts(parts, all.freeze())
}

/// A GET for `path`.
pub(crate) fn get(path: &str) -> Request<()> {
    Request::get(format!("http://t{path}")).body(()).unwrap()
}

/// The client preface and an empty SETTINGS frame.
pub(crate) fn preface() -> Vec<u8> {
    let mut v = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    v.extend_from_slice(&frame(0x4, 0, 0, &[]));
    v
}

/// One frame (RFC 9113 §4.1).
pub(crate) fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_uint(payload.len() as u64, 3);
    b.put_u8(kind);
    b.put_u8(flags);
    b.put_u32(stream);
    b.put_slice(payload);
    b.to_vec()
}

/// A HPACK block for `GET http://t/` (static-table indexes, RFC 7541 B).
pub(crate) const GET_ROOT: &[u8] = &[0x82, 0x86, 0x84, 0x41, 0x01, b't'];

/// A frame as read off the wire.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) stream: u32,
    pub(crate) payload: Vec<u8>,
}

/// Reads the next frame; `None` at EOF or a reset.
pub(crate) async fn read_frame<C: AsyncRead + Unpin>(conn: &mut C) -> Option<Frame> {
    let mut head = [0u8; 9];
    conn.read_exact(&mut head).await.ok()?;
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let mut payload = vec![0; len];
    conn.read_exact(&mut payload).await.ok()?;
    Some(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    })
}

/// Reads frames until a GOAWAY; its error code, or `None` when the
/// connection closed without one.
pub(crate) async fn goaway_code<C: AsyncRead + Unpin>(conn: &mut C) -> Option<u32> {
    while let Some(f) = read_frame(conn).await {
        if f.kind == 0x7 && f.payload.len() >= 8 {
            return Some(u32::from_be_bytes([
                f.payload[4],
                f.payload[5],
                f.payload[6],
                f.payload[7],
            ]));
        }
    }
    None
}

/// A raw connection that has sent the preface.
pub(crate) async fn raw(addr: &Address) -> Conn {
    use tokio::io::AsyncWriteExt;
    let mut conn = connect(addr).await;
    conn.write_all(&preface()).await.unwrap();
    conn
}

/// The server's answer to an upgrading request.
pub(crate) const SWITCHING: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
