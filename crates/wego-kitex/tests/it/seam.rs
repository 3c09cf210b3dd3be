//! The transport seam: servers over any IO (an in-memory pipe, a Unix
//! socket, a wrapper that counts bytes) and clients over a connector
//! defined here.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::mpsc;
use wego_kitex::client::{Client, ClientRequest, Mode};
use wego_kitex::grpc::{Channel, GrpcServer, Http2Handler, Request, Response};
use wego_kitex::server::Server;
use wego_netpoll::io::{AsyncRead, AsyncWrite, ReadBuf};
use wego_netpoll::net::{Address, ConnInfo, Connect, WithInfo};
use wego_netpoll::{Listener, rt};

use crate::grpc_common::{EchoResponse, UNARY, echo_router, req};
use crate::thrift_common::echo;

/// Bytes an IO has read and written, shared with the test.
#[derive(Debug, Clone, Default)]
struct Counts {
    read: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
}

impl Counts {
    fn read(&self) -> usize {
        self.read.load(Ordering::SeqCst)
    }
    fn written(&self) -> usize {
        self.written.load(Ordering::SeqCst)
    }
}

/// An IO that counts the bytes that pass through it.
#[derive(Debug)]
struct Counting<IO> {
    io: IO,
    counts: Counts,
}

impl<IO: ConnInfo> ConnInfo for Counting<IO> {
    fn peer_addr(&self) -> Option<Address> {
        self.io.peer_addr()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Counting<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.counts.read.fetch_add(n, Ordering::SeqCst);
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counting<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.counts.written.fetch_add(n, Ordering::SeqCst);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// What a [`Pipes`] connector hands the server end of each pipe to.
type ServeEnd = Arc<dyn Fn(Counting<WithInfo<tokio::io::DuplexStream>>) + Send + Sync>;

/// A connector that serves every connection from an in-memory pipe: the
/// server end goes to `serve` (a server's `serve_connection`, on a task
/// of its own), the client end, counted, to the client.
#[derive(Clone)]
struct Pipes {
    serve: ServeEnd,
    connects: Arc<AtomicUsize>,
    client: Counts,
    server: Counts,
}

impl Pipes {
    fn new(serve: ServeEnd) -> Self {
        Pipes {
            serve,
            connects: Arc::default(),
            client: Counts::default(),
            server: Counts::default(),
        }
    }
}

impl Connect for Pipes {
    type Io = Counting<tokio::io::DuplexStream>;

    async fn connect(&self, _addr: &Address) -> wego_netpoll::Result<Self::Io> {
        self.connects.fetch_add(1, Ordering::SeqCst);
        let (client, server) = tokio::io::duplex(64 * 1024);
        let peer: Address = "192.0.2.7:4000".parse().expect("a literal address");
        let server = WithInfo::new(server).with_peer_addr(peer);
        (self.serve)(Counting {
            io: server,
            counts: self.server.clone(),
        });
        Ok(Counting {
            io: client,
            counts: self.client.clone(),
        })
    }
}

/// A struct body `{1: string s}` STOP in the binary protocol.
fn args(s: &str) -> Bytes {
    let mut v = vec![11, 0, 1];
    v.extend_from_slice(&(s.len() as u32).to_be_bytes());
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v.into()
}

/// A Thrift server whose connections come from [`Pipes`]; each served
/// connection reports on `done` when it ends.
fn thrift_pipes(server: &Server) -> (Pipes, mpsc::UnboundedReceiver<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = server.clone();
    let pipes = Pipes::new(Arc::new(move |io| {
        let (server, tx) = (server.clone(), tx.clone());
        rt::spawn(async move {
            server.serve_connection(io).await;
            let _ = tx.send(());
        });
    }));
    (pipes, rx)
}

wego_test_support::each_backend!(
    thrift_server_and_client_run_over_pipes_with_every_byte_counted,
    |_backend| async move {
        let peers = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = peers.clone();
        let server = Server::builder()
            .service(
                "Echo",
                &["echo"],
                crate::thrift_common::service(move |r: wego_kitex::server::ThriftRequest| {
                    seen.lock().unwrap().push(r.context.rpc_info.peer.clone());
                    async move { Ok(wego_kitex::server::ThriftReply::Result(r.args)) }
                }),
            )
            .build()
            .unwrap();
        let (pipes, mut done) = thrift_pipes(&server);
        // Short connections: each call dials, so each ends its connection.
        let client = Client::builder("10.0.0.1:9".parse().unwrap())
            .with_mode(Mode::Short)
            .with_connector(pipes.clone())
            .build()
            .unwrap();
        for msg in ["one", "two"] {
            let r = client
                .call(ClientRequest::new("echo", args(msg)))
                .await
                .unwrap();
            assert_eq!(r.body, args(msg));
        }
        done.recv().await.unwrap();
        done.recv().await.unwrap();
        assert_eq!(pipes.connects.load(Ordering::SeqCst), 2);
        let (c, s) = (&pipes.client, &pipes.server);
        assert!(c.written() > 0 && c.read() > 0);
        assert_eq!(s.read(), c.written(), "the server read every request byte");
        assert_eq!(s.written(), c.read(), "the client read every reply byte");
        // The peer address comes from the IO's ConnInfo.
        let peers = peers.lock().unwrap().clone();
        assert_eq!(peers, vec![Some("192.0.2.7:4000".into()); 2]);
    }
);

wego_test_support::each_backend!(
    pooled_thrift_client_dials_once_through_its_connector,
    |_backend| async move {
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .build()
            .unwrap();
        let (pipes, _done) = thrift_pipes(&server);
        let client = Client::builder("10.0.0.1:9".parse().unwrap())
            .with_connector(pipes.clone())
            .build()
            .unwrap();
        for _ in 0..3 {
            client
                .call(ClientRequest::new("echo", args("x")))
                .await
                .unwrap();
        }
        assert_eq!(pipes.connects.load(Ordering::SeqCst), 1);
        assert_eq!(client.dial_count(), 1);
    }
);

wego_test_support::each_backend!(
    multiplexed_thrift_client_runs_over_a_connector,
    |_backend| async move {
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .build()
            .unwrap();
        let (pipes, _done) = thrift_pipes(&server);
        let client = Client::builder("10.0.0.1:9".parse().unwrap())
            .with_mode(Mode::Multiplexed)
            .with_connector(pipes.clone())
            .build()
            .unwrap();
        let calls = (0..4).map(|i| {
            let client = client.clone();
            async move {
                let msg = format!("m{i}");
                let r = client
                    .call(ClientRequest::new("echo", args(&msg)))
                    .await
                    .unwrap();
                assert_eq!(r.body, args(&msg));
            }
        });
        futures_util::future::join_all(calls).await;
        assert_eq!(pipes.connects.load(Ordering::SeqCst), 1);
    }
);

/// Accepts on `listener` as a stream of IOs, for `serve_incoming`.
fn incoming(
    listener: Listener,
) -> impl futures_core::Stream<Item = io::Result<wego_netpoll::Conn>> + Send {
    futures_util::stream::unfold(listener, |l| async move {
        let next = l.accept().await.map_err(io::Error::other);
        Some((next, l))
    })
}

wego_test_support::each_backend!(
    thrift_server_serves_incoming_unix_connections,
    |_backend| async move {
        let path = wego_test_support::unix_socket_path("kitex-seam");
        let addr = Address::Unix(path.clone());
        let listener = Listener::bind(&addr).await.unwrap();
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .build()
            .unwrap();
        let s = server.clone();
        let serving = rt::spawn(async move { s.serve_incoming(incoming(listener)).await });
        let client = Client::builder(addr).build().unwrap();
        let r = client
            .call(ClientRequest::new("echo", args("over unix")))
            .await
            .unwrap();
        assert_eq!(r.body, args("over unix"));
        drop(client);
        assert!(
            server
                .shutdown(std::time::Duration::from_secs(5))
                .await
                .is_graceful()
        );
        serving.await.unwrap();
        let _ = std::fs::remove_file(path);
    }
);

/// A gRPC server whose connections come from [`Pipes`].
fn grpc_pipes(server: &GrpcServer) -> (Pipes, mpsc::UnboundedReceiver<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = server.clone();
    let pipes = Pipes::new(Arc::new(move |io| {
        let (server, tx) = (server.clone(), tx.clone());
        rt::spawn(async move {
            let _ = server.serve_connection(io, echo_router()).await;
            let _ = tx.send(());
        });
    }));
    (pipes, rx)
}

wego_test_support::each_backend!(
    grpc_server_and_channel_run_over_pipes_with_bytes_counted,
    |_backend| async move {
        let server = GrpcServer::default();
        let (pipes, mut done) = grpc_pipes(&server);
        let ch = Channel::builder()
            .with_connector(pipes.clone())
            .connect(&"10.0.0.1:9".parse().unwrap())
            .await
            .unwrap();
        let r: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("piped"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "piped");
        assert_eq!(pipes.connects.load(Ordering::SeqCst), 1);
        drop(ch);
        done.recv().await.unwrap();
        let (c, s) = (&pipes.client, &pipes.server);
        // The client's bytes all arrive before its end closes; the server
        // may write a last frame (its GOAWAY) the departed client never
        // reads.
        assert!(c.written() > 0 && c.read() > 0);
        assert_eq!(s.read(), c.written(), "the server read every client byte");
        assert!(
            s.written() >= c.read(),
            "the client read only what was sent"
        );
    }
);

wego_test_support::each_backend!(
    grpc_server_serves_incoming_unix_connections,
    |_backend| async move {
        let path = wego_test_support::unix_socket_path("kitex-grpc-seam");
        let addr = Address::Unix(path.clone());
        let listener = Listener::bind(&addr).await.unwrap();
        let server = GrpcServer::default();
        let s = server.clone();
        let serving =
            rt::spawn(async move { s.serve_incoming(incoming(listener), echo_router()).await });
        let ch = Channel::connect(&addr).await.unwrap();
        let r: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("unix"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "unix");
        drop(ch);
        assert!(
            server
                .shutdown(std::time::Duration::from_secs(5))
                .await
                .is_graceful()
        );
        serving.await.unwrap();
        let _ = std::fs::remove_file(path);
    }
);

wego_test_support::each_backend!(
    one_port_sniffing_hands_any_io_to_the_grpc_handler,
    |_backend| async move {
        // A Thrift server with the gRPC handler, served over pipes: the
        // first bytes of a pipe pick HTTP/2 or Thrift as on a socket.
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .with_http2_handler(Http2Handler::new(GrpcServer::default(), echo_router()).into_arc())
            .build()
            .unwrap();
        let (pipes, _done) = thrift_pipes(&server);
        let ch = Channel::builder()
            .with_connector(pipes.clone())
            .connect(&"10.0.0.1:9".parse().unwrap())
            .await
            .unwrap();
        let r: Response<EchoResponse> =
            ch.unary(UNARY, Request::new(req("sniffed"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "sniffed");
        let client = Client::builder("10.0.0.1:9".parse().unwrap())
            .with_connector(pipes.clone())
            .build()
            .unwrap();
        let r = client
            .call(ClientRequest::new("echo", args("thrift")))
            .await
            .unwrap();
        assert_eq!(r.body, args("thrift"));
        assert_eq!(pipes.connects.load(Ordering::SeqCst), 2);
        // Both connections count toward the Thrift server's shutdown.
        drop((ch, client));
        assert!(
            server
                .shutdown(std::time::Duration::from_secs(5))
                .await
                .is_graceful()
        );
    }
);

wego_test_support::each_backend!(
    serve_with_shutdown_drains_when_its_signal_fires,
    |_backend| async move {
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .build()
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let s = server.clone();
        let serving = rt::spawn(async move {
            s.serve_with_shutdown(listener, async move {
                let _ = stopped.await;
            })
            .await
        });
        let client = Client::builder(addr).build().unwrap();
        client
            .call(ClientRequest::new("echo", args("before")))
            .await
            .unwrap();
        drop(client);
        stop.send(()).unwrap();
        let report = serving.await.unwrap();
        assert!(report.is_graceful());
        assert!(server.is_draining());
        assert_eq!(server.active(), 0);
    }
);
