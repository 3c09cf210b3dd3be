//! Serving HTTP over an IO type of your own.
//!
//! The server runs over anything that is tokio's `AsyncRead + AsyncWrite`
//! plus netpoll's `ConnInfo`, so a transport the server has never heard of
//! plugs in without touching it. Here that transport is `Metered`, which
//! counts the bytes each connection moves and reports them when the
//! connection closes: the kind of wrapper a traffic meter, a test harness
//! or a TLS stream is.
//!
//! The program first answers one request over an in-memory pipe (no socket
//! at all), then serves a TCP listener through `serve_incoming` with every
//! accepted connection wrapped, until ctrl-c:
//!
//! ```text
//! cargo run -p wego-hertz --example serve-any-io
//! curl http://127.0.0.1:8080/     # the server logs: 78 bytes in, 125 out
//! ```

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use wego_hertz::{Body, ClientAddr, Server};
use wego_netpoll::{Address, ConnInfo, Listener, rt};

/// An IO that counts the bytes read from and written to the one inside,
/// and reports them when dropped (when the server is done with it).
struct Metered<IO> {
    io: IO,
    read: usize,
    written: usize,
}

impl<IO> Metered<IO> {
    fn new(io: IO) -> Self {
        Self {
            io,
            read: 0,
            written: 0,
        }
    }
}

impl<IO> Drop for Metered<IO> {
    fn drop(&mut self) {
        eprintln!(
            "serve-any-io: connection closed, {} bytes in, {} out",
            self.read, self.written
        );
    }
}

/// The connection facts are the inner IO's: a TCP connection gives the
/// handlers their `ClientAddr`, an in-memory pipe gives none.
impl<IO: ConnInfo> ConnInfo for Metered<IO> {
    fn peer_addr(&self) -> Option<Address> {
        self.io.peer_addr()
    }

    fn local_addr(&self) -> Option<Address> {
        self.io.local_addr()
    }

    fn is_active(&self) -> bool {
        self.io.is_active()
    }

    fn tls_info(&self) -> Option<&wego_netpoll::net::TlsInfo> {
        self.io.tls_info()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Metered<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        self.read += buf.filled().len() - before;
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Metered<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.written += n;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Greets the client by address when the transport knows it.
async fn hello(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let text = match req.extensions().get::<ClientAddr>() {
        Some(ClientAddr(addr)) => format!("hello, {addr}\n"),
        None => "hello, whoever you are\n".to_owned(),
    };
    Ok(Response::new(Body::from(text)))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rt::block_on(async {
        let server = Server::builder().build()?;
        let svc = tower::service_fn(hello);

        // One request over an in-memory pipe: no socket, no address.
        let (io, mut client) = tokio::io::duplex(4096);
        let served = rt::spawn(server.serve_connection(Metered::new(io), svc));
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: pipe\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = String::new();
        client.read_to_string(&mut answer).await?;
        served.await?;
        eprintln!("serve-any-io: over a pipe:\n{answer}\n");

        // Every TCP connection wrapped on its way to the server.
        let listener = Listener::bind(&"127.0.0.1:8080".parse::<Address>()?).await?;
        eprintln!(
            "serve-any-io: listening on http://{}",
            listener.local_addr()
        );
        let incoming = futures_util::stream::unfold(listener, |listener| async move {
            let conn = listener.accept().await.map(Metered::new);
            Some((conn.map_err(io::Error::other), listener))
        });
        let stopper = server.clone();
        rt::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stopper.begin_shutdown();
        });
        server.serve_incoming(incoming, svc).await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?
}
