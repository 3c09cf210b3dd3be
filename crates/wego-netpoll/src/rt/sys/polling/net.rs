//! Sockets of the polling backend: non-blocking std sockets registered with
//! a loop's poller.
//!
//! A stream registers lazily, at its first `WouldBlock`, with the loop of
//! the thread that polls it: an accepted connection handed to
//! `spawn_connection` is therefore registered only on the loop that serves
//! it, and reads that find data waiting cost no registration at all. A
//! listener and a dialing socket register at once, since they must wait.
//!
//! `unsafe` here: reading into the unfilled part of a [`ReadBuf`] without
//! zeroing it first, as tokio's own sockets do (see the `SAFETY` comments).
#![allow(unsafe_code)]

use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::ReadBuf;

use super::context;
use super::eager::{EagerRead, Taken};
use super::event_loop::LoopShared;
use super::io::{Direction, Registration, runtime_gone};

/// The socket of a [`Stream`].
#[derive(Debug)]
pub(crate) enum Sock {
    Tcp(std::net::TcpStream),
    Unix(UnixStream),
}

impl AsFd for Sock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Sock::Tcp(s) => s.as_fd(),
            Sock::Unix(s) => s.as_fd(),
        }
    }
}

/// A connected stream of the polling backend.
#[derive(Debug)]
pub(crate) struct Stream {
    reg: Option<Registration>,
    /// The loop's reads into a buffer, once registered with a loop that
    /// reads eagerly (`Builder::eager_reads`); kept across a move between
    /// loops so that no buffered byte is lost.
    eager: Option<Arc<EagerRead>>,
    /// The loop whose per-loop listener accepted it (`per_loop.rs`), which
    /// `spawn_connection` serves it on.
    home: Option<usize>,
    sock: Sock,
}

impl Stream {
    /// Wraps a non-blocking socket; it registers at its first `WouldBlock`.
    pub(crate) fn new(sock: Sock) -> Self {
        Self {
            reg: None,
            eager: None,
            home: None,
            sock,
        }
    }

    /// Marks the stream as accepted by loop `index`'s listener.
    pub(crate) fn with_home(mut self, index: usize) -> Self {
        self.home = Some(index);
        self
    }

    /// The loop that accepted it, for a per-loop listener's connection.
    pub(crate) fn home(&self) -> Option<usize> {
        self.home
    }

    /// The registration, made now with the current loop if there is none.
    // Inlined: every read and write of a registered stream asks, and only
    // the first one registers.
    #[inline]
    fn registration(&mut self) -> io::Result<(&Registration, &Sock)> {
        match self.reg {
            Some(ref reg) => Ok((reg, &self.sock)),
            None => self.register(true),
        }
    }

    /// Registers with the current loop unless registered; `connected`
    /// false leaves eager reads unarmed until the connect completes.
    #[cold]
    fn register(&mut self, connected: bool) -> io::Result<(&Registration, &Sock)> {
        if self.reg.is_none() {
            let owner = context::current_loop().ok_or_else(context::outside_runtime)?;
            if owner.eager_reads && self.eager.is_none() {
                let fd = connected.then(|| self.sock.as_fd().as_raw_fd());
                self.eager = Some(Arc::new(EagerRead::new(fd)));
            }
            let eager = self.eager.clone();
            self.reg = Some(Registration::new(owner, self.sock.as_fd(), eager)?);
        }
        let reg = self.reg.as_ref().expect("invariant: registered just above");
        Ok((reg, &self.sock))
    }

    /// Drops the registration unless it is with `target`, so that the
    /// stream registers again with the loop that polls it next. The eager
    /// buffer stays: reads take what it holds before the socket's bytes,
    /// and the new loop reads into it once registered.
    pub(crate) fn release_unless_on(&mut self, target: &Arc<LoopShared>) {
        if self.reg.as_ref().is_some_and(|r| !r.is_on(target))
            && let Some(reg) = self.reg.take()
        {
            reg.deregister(self.sock.as_fd());
        }
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Optimistic first: a socket with data waiting reads without
        // touching the poller. Not for a stream that a loop read for
        // before it moved (`release_unless_on`): its buffer comes first.
        if self.reg.is_none() && self.eager.is_none() {
            match recv(&self.sock, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                res => return Poll::Ready(res),
            }
        }
        if let Err(e) = self.registration() {
            return Poll::Ready(Err(e));
        }
        let reg = self.reg.as_ref().expect("invariant: registered just above");
        let Some(eager) = &self.eager else {
            return reg.poll_read_io(cx, || {
                let room = buf.remaining();
                let before = buf.filled().len();
                recv(&self.sock, buf)?;
                let n = buf.filled().len() - before;
                Ok(((), n > 0 && n < room))
            });
        };
        // The loop reads for this stream: take what it buffered.
        if reg.is_closed() {
            return Poll::Ready(Err(runtime_gone()));
        }
        match eager.take(buf, || reg.io().register_reader(cx.waker())) {
            Taken::Read => Poll::Ready(Ok(())),
            Taken::Failed(e) => Poll::Ready(Err(e)),
            Taken::Empty => Poll::Pending,
        }
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |sock| send(sock, data))
    }

    pub(crate) fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |sock| match sock {
            Sock::Tcp(s) => (&*s).write_vectored(bufs),
            Sock::Unix(s) => (&*s).write_vectored(bufs),
        })
    }

    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&Sock) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        if self.reg.is_none() {
            match op(&self.sock) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                res => return Poll::Ready(res),
            }
        }
        let (reg, sock) = match self.registration() {
            Ok(r) => r,
            Err(e) => return Poll::Ready(Err(e)),
        };
        reg.poll_io(cx, Direction::Write, || op(sock))
    }

    /// The eager buffer's length and whether the stream ended there.
    #[cfg(test)]
    pub(crate) fn eager_snapshot(&self) -> Option<(usize, bool)> {
        self.eager.as_ref().map(|e| e.snapshot())
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        let res = match &self.sock {
            Sock::Tcp(s) => s.shutdown(Shutdown::Write),
            Sock::Unix(s) => s.shutdown(Shutdown::Write),
        };
        match res {
            // Already closed by the peer: the write half is shut either way.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            res => res,
        }
    }

    /// Liveness from the poller's reports and the eager buffer (kept
    /// across a move between loops), with a peek only when a read event is
    /// pending (data and an orderly close both report readable).
    pub(crate) fn is_active(&self) -> bool {
        if self.reg.as_ref().is_some_and(|r| r.io().is_hung_up()) {
            return false;
        }
        if let Some(active) = self.eager.as_ref().and_then(|e| e.is_active()) {
            return active;
        }
        if self.reg.as_ref().is_some_and(|r| !r.io().is_readable()) {
            // No event since a read found nothing: no data, no FIN.
            return true;
        }
        crate::net::peek_is_active(socket2::SockRef::from(&self.sock))
    }

    pub(crate) fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match &self.sock {
            Sock::Tcp(s) => s.set_nodelay(on),
            Sock::Unix(_) => Ok(()),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // The loop must stop reading the socket before it closes.
        if let Some(eager) = &self.eager {
            eager.close();
        }
        if let Some(reg) = self.reg.take() {
            reg.deregister(self.sock.as_fd());
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// Reads once from the socket into the unfilled part of `buf`.
///
/// Through rustix, whose Linux backend makes the system call itself: libc's
/// `recv` and `send` are thread-cancellation points, which costs each call
/// two more libc calls (62 instructions per request, 135 with the
/// wrappers around them) for a feature Rust never uses.
fn recv(sock: &Sock, buf: &mut ReadBuf<'_>) -> io::Result<()> {
    // SAFETY: `recv` only writes initialized bytes into the slice (the
    // kernel copies received data) and never de-initializes any; the
    // bytes it reports written are marked initialized and filled below.
    let unfilled = unsafe { buf.unfilled_mut() };
    let ((read, _), _) = rustix::net::recv(sock, unfilled, rustix::net::RecvFlags::empty())?;
    let n = read.len();
    // SAFETY: `recv` initialized the first `n` bytes of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Ok(())
}

/// Writes `data` to the socket once, as std's `write` on a socket does
/// (`MSG_NOSIGNAL`: a closed peer is an `EPIPE` error, never a signal).
fn send(sock: &Sock, data: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(
        sock,
        data,
        rustix::net::SendFlags::NOSIGNAL,
    )?)
}

/// The socket of a [`Listener`].
#[derive(Debug)]
enum ListenSock {
    Tcp(std::net::TcpListener),
    Unix(UnixListener),
}

impl AsFd for ListenSock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            ListenSock::Tcp(l) => l.as_fd(),
            ListenSock::Unix(l) => l.as_fd(),
        }
    }
}

/// A listening socket of the polling backend.
#[derive(Debug)]
pub(crate) struct Listener {
    reg: Option<Registration>,
    sock: ListenSock,
}

impl Listener {
    /// Registers a bound, non-blocking TCP listener with the current loop.
    pub(crate) fn from_tcp(l: std::net::TcpListener) -> io::Result<Self> {
        Self::register(ListenSock::Tcp(l))
    }

    /// Registers a bound, non-blocking Unix listener with the current loop.
    pub(crate) fn from_unix(l: UnixListener) -> io::Result<Self> {
        Self::register(ListenSock::Unix(l))
    }

    /// Registers a bound, non-blocking TCP listener with `owner`.
    pub(crate) fn from_tcp_on(
        l: std::net::TcpListener,
        owner: Arc<LoopShared>,
    ) -> io::Result<Self> {
        let sock = ListenSock::Tcp(l);
        let reg = Registration::new(owner, sock.as_fd(), None)?;
        Ok(Self {
            reg: Some(reg),
            sock,
        })
    }

    fn register(sock: ListenSock) -> io::Result<Self> {
        let owner = context::current_loop().ok_or_else(context::outside_runtime)?;
        let reg = Registration::new(owner, sock.as_fd(), None)?;
        Ok(Self {
            reg: Some(reg),
            sock,
        })
    }

    /// Accepts a connection, non-blocking and not yet registered, with the
    /// peer's address for TCP.
    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Stream, Option<SocketAddr>)>> {
        let Some(reg) = &self.reg else {
            return Poll::Ready(Err(io::Error::other("listener is closed")));
        };
        reg.poll_io(cx, Direction::Read, || {
            let (sock, peer) = accept(&self.sock)?;
            Ok((Stream::new(sock), peer))
        })
    }
}

/// Accepts one connection from `listener`, made non-blocking by `accept4`
/// itself (`SOCK_NONBLOCK`): no `ioctl(FIONBIO)` per connection afterwards.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn accept(listener: &ListenSock) -> io::Result<(Sock, Option<SocketAddr>)> {
    use rustix::net::{SocketFlags, acceptfrom_with};
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    Ok(match listener {
        ListenSock::Tcp(l) => {
            let (fd, peer) = acceptfrom_with(l, flags)?;
            let stream = std::net::TcpStream::from(fd);
            let peer = match peer.and_then(|p| SocketAddr::try_from(p).ok()) {
                Some(peer) => peer,
                None => stream.peer_addr()?,
            };
            (Sock::Tcp(stream), Some(peer))
        }
        ListenSock::Unix(l) => {
            let (fd, _) = acceptfrom_with(l, flags)?;
            (Sock::Unix(UnixStream::from(fd)), None)
        }
    })
}

/// Accepts one connection from `listener` and makes it non-blocking.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn accept(listener: &ListenSock) -> io::Result<(Sock, Option<SocketAddr>)> {
    let (sock, peer) = match listener {
        ListenSock::Tcp(l) => {
            let (s, peer) = l.accept()?;
            (Sock::Tcp(s), Some(peer))
        }
        ListenSock::Unix(l) => (Sock::Unix(l.accept()?.0), None),
    };
    match &sock {
        Sock::Tcp(s) => s.set_nonblocking(true)?,
        Sock::Unix(s) => s.set_nonblocking(true)?,
    }
    Ok((sock, peer))
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(reg) = self.reg.take() {
            reg.deregister(self.sock.as_fd());
        }
    }
}

/// Connects a non-blocking socket to `addr`, waiting on the current loop.
pub(crate) async fn connect_tcp(addr: SocketAddr) -> io::Result<Stream> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    let stream = Stream::new(Sock::Tcp(socket.into()));
    finish_connect(stream, |s| socket2::SockRef::from(s).connect(&addr.into())).await
}

/// Connects a non-blocking Unix socket to `path`, waiting on the current loop.
pub(crate) async fn connect_unix(path: &Path) -> io::Result<Stream> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    let addr = SockAddr::unix(path)?;
    let stream = Stream::new(Sock::Unix(socket.into()));
    finish_connect(stream, |s| socket2::SockRef::from(s).connect(&addr)).await
}

async fn finish_connect(
    mut stream: Stream,
    connect: impl FnOnce(&Sock) -> io::Result<()>,
) -> io::Result<Stream> {
    match connect(&stream.sock) {
        Ok(()) => return Ok(stream),
        // Non-blocking connect: EINPROGRESS, then writable when done.
        Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    stream.register(false)?;
    std::future::poll_fn(|cx| {
        let reg = stream.reg.as_ref().expect("invariant: registered above");
        reg.poll_ready(cx, Direction::Write)
    })
    .await?;
    let sock = socket2::SockRef::from(&stream.sock);
    if let Some(e) = sock.take_error()? {
        return Err(e);
    }
    // Writable without a pending error can still mean "not connected" on
    // some systems; asking for the peer settles it.
    sock.peer_addr()?;
    if let Some(eager) = &stream.eager {
        eager.arm(stream.sock.as_fd().as_raw_fd());
    }
    Ok(stream)
}

/// `EINPROGRESS`, which `io::ErrorKind` names only on nightly Rust.
#[cfg(any(target_os = "linux", target_os = "android"))]
const EINPROGRESS: i32 = 115;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const EINPROGRESS: i32 = 36;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_socket_is_non_blocking_with_its_peer_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (sock, peer) = accept(&ListenSock::Tcp(l)).expect("accept");
        assert_eq!(peer, Some(client.local_addr().expect("client addr")));
        let Sock::Tcp(s) = &sock else {
            panic!("a TCP listener gives a TCP socket")
        };
        assert!(socket2::SockRef::from(s).nonblocking().expect("flags"));

        let path = std::env::temp_dir().join(format!("wego-accept-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).expect("bind unix");
        let _client = UnixStream::connect(&path).expect("connect unix");
        let (sock, peer) = accept(&ListenSock::Unix(l)).expect("accept unix");
        assert_eq!(peer, None);
        let Sock::Unix(s) = &sock else {
            panic!("a Unix listener gives a Unix socket")
        };
        assert!(socket2::SockRef::from(s).nonblocking().expect("flags"));
        let _ = std::fs::remove_file(&path);
    }
}
