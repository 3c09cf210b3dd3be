//! Eager reads, Netpoll's nocopy model: the loop reads a readable socket
//! into the connection's [`LinkBuffer`] when the poller reports it, before
//! the connection's task runs, so the task finds what arrived without a
//! system call of its own.
//!
//! ```text
//!  poller: readable ──> loop: fill() ── recv until WouldBlock, EOF, error
//!                                       or CAP bytes buffered
//!                        └─> wake the reader
//!  task: poll_read ──> take() ── buffered bytes first, then EOF or the
//!                                 error, in the order they happened
//! ```
//!
//! Invariants:
//!
//! - At most [`CAP`] bytes, in at most [`MAX_BLOCKS`] blocks, are
//!   buffered per connection. Each read is a block of its own, so the
//!   block limit bounds what a peer trickling tiny segments (one readiness
//!   report, one read, one block each) costs in block handles and heap
//!   allocations: about as much again as the byte cap. At either limit the
//!   loop stops reading (`paused`); the kernel's receive queue and TCP flow
//!   control hold the rest. The task's next read below the cap reads on
//!   the loop's behalf once (`resume`), since an edge-triggered poller
//!   reports no new edge for data already queued.
//! - End of stream or an error is recorded once, after the bytes read
//!   before it, and delivered only when the buffer is empty; after an
//!   error is delivered, reads see end of stream.
//! - The socket is read through its raw descriptor, which the state holds
//!   only while the socket is open: [`EagerRead::close`] clears it, under
//!   the same lock the reads take, before the owning stream closes the
//!   socket (`net.rs`'s `Drop`).
//! - A task that finds nothing registers its waker before it releases the
//!   lock, and the loop wakes the reader after it filled under the lock, so
//!   a wake-up is never lost.
//!
//! `unsafe` here: borrowing the raw descriptor ([`BorrowedFd::borrow_raw`]),
//! valid by the invariant above.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use tokio::io::ReadBuf;

use crate::buffer::LinkBuffer;

/// The most bytes buffered per connection before the loop stops reading.
pub(crate) const CAP: usize = 64 * 1024;

/// The most blocks buffered per connection: [`CAP`] over 64 bytes, about
/// what a block costs besides its payload (its `Bytes` handle in the chain
/// and the smallest heap allocation), so that tiny reads cost at most about
/// [`CAP`] again.
pub(crate) const MAX_BLOCKS: usize = CAP / 64;

/// Size of the per-thread buffer one `recv` reads into.
const SCRATCH: usize = 16 * 1024;

thread_local! {
    /// Where `recv` lands before the bytes are copied, at their size, into
    /// the connection's buffer: an idle connection then holds no memory.
    static SCRATCH_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// How a [`EagerRead::fill`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filled {
    /// The socket had nothing more to read (or the stream ended).
    Drained,
    /// The buffer reached [`CAP`] or [`MAX_BLOCKS`] with data possibly left
    /// in the socket.
    Capped,
}

/// What the connection's reader gets next when the buffer is empty.
#[derive(Debug)]
enum End {
    Open,
    Eof,
    Failed(io::Error),
}

#[derive(Debug)]
struct State {
    /// The socket, while it is open.
    fd: Option<RawFd>,
    buf: LinkBuffer,
    end: End,
    /// Stopped at a limit; the task's read that empties the buffer reads
    /// again.
    paused: bool,
}

/// One connection's eager-read state, shared by its stream and the loop
/// its socket is registered with.
#[derive(Debug)]
pub(crate) struct EagerRead {
    state: Mutex<State>,
}

/// What [`EagerRead::take`] found.
#[derive(Debug)]
pub(crate) enum Taken {
    /// Bytes copied into the caller's buffer, or end of stream if none.
    Read,
    /// The error that ended the stream.
    Failed(io::Error),
    /// Nothing yet; the caller's waker was registered by `register`.
    Empty,
}

impl EagerRead {
    /// Eager reading for the connected socket `fd`; `None` for a socket
    /// still connecting, whose pending error a read must not consume:
    /// [`arm`](Self::arm) it once connected.
    pub(crate) fn new(fd: Option<RawFd>) -> Self {
        Self {
            state: Mutex::new(State {
                fd,
                buf: LinkBuffer::new(),
                end: End::Open,
                paused: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts reading the now connected socket `fd`, with what arrived
    /// since it connected (whose readiness report found it unarmed).
    pub(crate) fn arm(&self, fd: RawFd) {
        let mut st = self.lock();
        st.fd = Some(fd);
        fill_locked(&mut st, false);
    }

    /// Reads what the socket has, up to the cap (the loop, on a readable
    /// report). With `short_read_drains` (the poller reported no shutdown
    /// of the peer, and would have), a read that returns less than it had
    /// room for ends the fill without asking the kernel again.
    pub(crate) fn fill(&self, short_read_drains: bool) -> Filled {
        let mut st = self.lock();
        if st.paused {
            return Filled::Capped;
        }
        fill_locked(&mut st, short_read_drains)
    }

    /// Copies buffered bytes into `dst`, or reports the end of the stream;
    /// with nothing buffered and the stream open, calls `register` (with
    /// the lock held, so that the loop's next fill wakes it).
    pub(crate) fn take(&self, dst: &mut ReadBuf<'_>, register: impl FnOnce()) -> Taken {
        let mut st = self.lock();
        if st.buf.is_empty() && st.paused {
            // Below the cap again: read what the kernel kept meanwhile.
            st.paused = false;
            fill_locked(&mut st, false);
        }
        if !st.buf.is_empty() {
            let mut n = 0;
            for chunk in st.buf.chunks() {
                let k = chunk.len().min(dst.remaining());
                // `put_slice` initialises as it copies: no zeroing first.
                dst.put_slice(&chunk[..k]);
                n += k;
                if dst.remaining() == 0 {
                    break;
                }
            }
            st.buf
                .skip(n)
                .expect("invariant: n bytes were just copied from the buffer");
            st.buf.release();
            return Taken::Read;
        }
        match std::mem::replace(&mut st.end, End::Eof) {
            End::Eof => Taken::Read,
            End::Failed(e) => Taken::Failed(e),
            End::Open => {
                st.end = End::Open;
                register();
                Taken::Empty
            }
        }
    }

    /// Returns `Some(true)` if bytes are buffered, `Some(false)` if the
    /// stream ended here, `None` if the buffer cannot tell.
    pub(crate) fn is_active(&self) -> Option<bool> {
        let st = self.lock();
        if !st.buf.is_empty() {
            return Some(true);
        }
        match st.end {
            End::Open => None,
            End::Eof | End::Failed(_) => Some(false),
        }
    }

    /// Bytes buffered now, and whether the end of the stream (or an
    /// error) was seen (for tests).
    #[cfg(test)]
    pub(crate) fn snapshot(&self) -> (usize, bool) {
        let st = self.lock();
        (st.buf.len(), !matches!(st.end, End::Open))
    }

    /// Forgets the socket, which its owner is about to close, and frees
    /// the buffer.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.fd = None;
        st.buf = LinkBuffer::new();
    }
}

/// Reads until the socket would block, the stream ends or a limit is hit;
/// with `short_read_drains`, also after a short read.
fn fill_locked(st: &mut State, short_read_drains: bool) -> Filled {
    let Some(fd) = st.fd else {
        return Filled::Drained;
    };
    if !matches!(st.end, End::Open) {
        return Filled::Drained;
    }
    // SAFETY: `fd` is open: `close` clears it under this lock before the
    // owning stream closes the socket, and the lock is held until the
    // borrow ends with this function.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    SCRATCH_BUF.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        if scratch.len() < SCRATCH {
            scratch.resize(SCRATCH, 0);
        }
        loop {
            let room = CAP.saturating_sub(st.buf.len());
            if room == 0 || st.buf.block_count() >= MAX_BLOCKS {
                st.paused = true;
                return Filled::Capped;
            }
            let want = room.min(SCRATCH);
            // rustix's `recv`, as the stream's own reads (`net.rs`).
            match rustix::net::recv(fd, &mut scratch[..want], rustix::net::RecvFlags::empty())
                .map(|(n, _)| n)
                .map_err(io::Error::from)
            {
                Ok(0) => {
                    st.end = End::Eof;
                    return Filled::Drained;
                }
                // A short read drains the socket, but a FIN that arrived
                // with the data, in the same readiness report, is read
                // only by the next call and brings no new edge: the caller
                // says whether the report excluded one.
                Ok(n) => {
                    st.buf.append(Bytes::copy_from_slice(&scratch[..n]));
                    st.buf.flush();
                    if short_read_drains && n < want {
                        return Filled::Drained;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Filled::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    st.end = End::Failed(e);
                    return Filled::Drained;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    //! Eager reads over loopback: order, end of stream and errors after
    //! buffered bytes, and the cap. The server's task waits (on a channel
    //! or on the buffer's state) while the loop reads for it, so the bytes
    //! are in the buffer before the task reads them.
    use std::future::Future;
    use std::io::Write;
    use std::num::NonZeroUsize;
    use std::sync::mpsc;
    use std::task::Poll;
    use std::time::Duration;

    use tokio::io::AsyncReadExt;

    use super::CAP;
    use crate::Address;
    use crate::net::{Conn, Listener};
    use crate::rt::{self, Backend, Runtime};

    fn runtime() -> Runtime {
        Runtime::builder()
            .backend(Backend::Polling)
            .worker_threads(NonZeroUsize::new(1).expect("invariant: 1 is non-zero"))
            .eager_reads(true)
            .build()
            .expect("the polling runtime builds")
    }

    /// Accepts one connection and reads its first byte, which the client
    /// sends only once the read is pending: the socket (and its eager
    /// buffer) is then registered with the loop.
    async fn accept_registered(listener: &Listener, start: mpsc::Sender<()>) -> Conn {
        let mut conn = listener.accept().await.expect("accept");
        let mut first = [0u8; 1];
        {
            let mut read = std::pin::pin!(conn.read_exact(&mut first));
            std::future::poll_fn(|cx| {
                assert!(read.as_mut().poll(cx).is_pending(), "nothing was sent yet");
                Poll::Ready(())
            })
            .await;
            start.send(()).expect("the client waits");
            read.await.expect("first byte");
        }
        assert_eq!(first, [b'!']);
        conn
    }

    /// Yields until the connection's eager state satisfies `done`.
    async fn wait_until(conn: &Conn, done: impl Fn((usize, bool)) -> bool) {
        rt::timeout(Duration::from_secs(10), async {
            loop {
                let snap = conn.eager_snapshot().expect("the loop reads eagerly");
                if done(snap) {
                    return;
                }
                rt::yield_now().await;
            }
        })
        .await
        .expect("the loop buffered the bytes in time");
    }

    /// Connects, and sends `!` once told to.
    fn client(addr: &Address, start: &mpsc::Receiver<()>) -> std::net::TcpStream {
        let sa = addr.as_tcp().expect("a TCP listener");
        let mut c = std::net::TcpStream::connect(sa).expect("connect");
        start.recv().expect("the server reads");
        c.write_all(b"!").expect("first byte");
        c
    }

    #[test]
    fn tiny_segments_cannot_make_a_block_each_past_the_cap() {
        use std::os::fd::AsRawFd;
        let (mut peer, ours) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let eager = super::EagerRead::new(Some(ours.as_raw_fd()));
        // One byte per readiness report, as a peer trickling 1-byte
        // segments makes them: each read is a block of its own.
        let mut sent = 0;
        while sent < CAP {
            peer.write_all(b"x").unwrap();
            sent += 1;
            if eager.fill(true) == super::Filled::Capped {
                break;
            }
        }
        {
            let st = eager.lock();
            assert!(
                st.buf.block_count() <= super::MAX_BLOCKS,
                "{} blocks of one byte buffered",
                st.buf.block_count()
            );
        }
        // Nothing is lost: what the cap left in the socket is read once
        // the buffer drains.
        let mut got = Vec::new();
        loop {
            let mut chunk = [0u8; 4096];
            let mut dst = tokio::io::ReadBuf::new(&mut chunk);
            match eager.take(&mut dst, || {}) {
                super::Taken::Read if !dst.filled().is_empty() => {
                    got.extend_from_slice(dst.filled())
                }
                _ => break,
            }
        }
        assert_eq!(got.len(), sent);
        drop(ours);
    }

    #[test]
    fn bytes_then_end_of_stream_in_order() {
        let rt = runtime();
        rt.block_on(async {
            let listener = Listener::bind(&Address::loopback()).await.unwrap();
            let addr = listener.local_addr().clone();
            let sent: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
            let expect = sent.clone();
            let (start, started) = mpsc::channel();
            let peer = std::thread::spawn(move || {
                let mut c = client(&addr, &started);
                c.write_all(&sent).unwrap();
                c.shutdown(std::net::Shutdown::Write).unwrap();
                c
            });
            let mut conn = accept_registered(&listener, start).await;
            // Everything, end of stream included, is buffered before the
            // task reads a byte of it.
            wait_until(&conn, |(len, ended)| len == expect.len() && ended).await;
            let mut got = Vec::new();
            let mut chunk = [0u8; 777];
            loop {
                let n = conn.read(&mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&chunk[..n]);
            }
            assert_eq!(got, expect);
            // End of stream stays end of stream.
            assert_eq!(conn.read(&mut chunk).await.unwrap(), 0);
            assert!(!conn.is_active());
            drop(peer.join().unwrap());
        });
    }

    #[test]
    fn an_error_comes_after_the_bytes_before_it() {
        let rt = runtime();
        rt.block_on(async {
            let listener = Listener::bind(&Address::loopback()).await.unwrap();
            let addr = listener.local_addr().clone();
            let (go_tx, go_rx) = mpsc::channel::<()>();
            let (start, started) = mpsc::channel();
            let peer = std::thread::spawn(move || {
                let mut c = client(&addr, &started);
                c.write_all(b"last words").unwrap();
                go_rx.recv().unwrap();
                // Close with SO_LINGER 0: the peer sends a reset.
                socket2::SockRef::from(&c)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(c);
            });
            let mut conn = accept_registered(&listener, start).await;
            wait_until(&conn, |(len, _)| len == 10).await;
            go_tx.send(()).unwrap();
            wait_until(&conn, |(_, ended)| ended).await;
            assert!(!conn.is_active(), "bytes buffered, but the peer is gone");
            let mut got = [0u8; 64];
            let n = conn.read(&mut got).await.unwrap();
            assert_eq!(&got[..n], b"last words");
            let err = conn.read(&mut got).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
            peer.join().unwrap();
        });
    }

    #[test]
    fn the_buffer_stops_at_the_cap_and_resumes_when_drained() {
        const TOTAL: usize = 4 * 1024 * 1024;
        let rt = runtime();
        rt.block_on(async {
            let listener = Listener::bind(&Address::loopback()).await.unwrap();
            let addr = listener.local_addr().clone();
            let (start, started) = mpsc::channel();
            let peer = std::thread::spawn(move || {
                let mut c = client(&addr, &started);
                let data: Vec<u8> = (0..TOTAL).map(|i| (i % 253) as u8).collect();
                // Blocks while the server's kernel buffers are full.
                c.write_all(&data).unwrap();
                c.shutdown(std::net::Shutdown::Write).unwrap();
                c
            });
            let mut conn = accept_registered(&listener, start).await;
            wait_until(&conn, |(len, _)| len == CAP).await;
            // The peer keeps sending (its 4 MiB do not fit the socket
            // buffers), and the loop keeps being told the socket is
            // readable, but nothing more is buffered.
            for _ in 0..1000 {
                rt::yield_now().await;
                let (len, ended) = conn.eager_snapshot().unwrap();
                assert!(len <= CAP, "{len} bytes buffered, cap {CAP}");
                assert!(!ended);
            }
            // Draining reads on, in order, to the end.
            let mut got = Vec::with_capacity(TOTAL);
            conn.read_to_end(&mut got).await.unwrap();
            assert_eq!(got.len(), TOTAL);
            assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 253) as u8));
            drop(peer.join().unwrap());
        });
    }

    #[test]
    fn a_moved_conn_keeps_what_its_first_loop_read_for_it() {
        let rt = Runtime::builder()
            .backend(Backend::Polling)
            .worker_threads(NonZeroUsize::new(2).expect("invariant: 2 is non-zero"))
            .eager_reads(true)
            .build()
            .expect("the polling runtime builds");
        rt.block_on(async {
            let listener = Listener::bind(&Address::loopback()).await.unwrap();
            let (report, mut reports) = tokio::sync::mpsc::unbounded_channel();
            let mut peers = Vec::new();
            let mut conns = Vec::new();
            // Two connections registered with loop 0 (`block_on`'s), each
            // with "hello" and the end of stream in its buffer.
            for _ in 0..2 {
                let addr = listener.local_addr().clone();
                let (start, started) = mpsc::channel();
                peers.push(std::thread::spawn(move || {
                    let mut c = client(&addr, &started);
                    c.write_all(b"hello").unwrap();
                    c.shutdown(std::net::Shutdown::Write).unwrap();
                    c
                }));
                let conn = accept_registered(&listener, start).await;
                wait_until(&conn, |(len, ended)| len == 5 && ended).await;
                conns.push(conn);
            }
            // Both are live while placed, so one of them moves to loop 1.
            for conn in conns {
                let report = report.clone();
                rt::spawn_connection(conn, move |mut conn| async move {
                    let active = conn.is_active();
                    let mut rest = Vec::new();
                    let read = conn.read_to_end(&mut rest).await.map(|_| rest);
                    let thread = std::thread::current().name().map(str::to_owned);
                    report.send((thread, active, read)).unwrap();
                    std::future::pending::<()>().await;
                });
            }
            let mut threads = Vec::new();
            for _ in 0..2 {
                let (thread, active, read) = reports.recv().await.unwrap();
                assert!(active, "{thread:?}: bytes are buffered");
                assert_eq!(read.unwrap(), b"hello", "{thread:?}");
                threads.push(thread);
            }
            threads.sort();
            threads.dedup();
            assert_eq!(threads.len(), 2, "one connection moved: {threads:?}");
            for peer in peers {
                drop(peer.join().unwrap());
            }
        });
    }

    #[test]
    fn a_dial_reports_refusal_and_then_reads_eagerly() {
        let rt = runtime();
        rt.block_on(async {
            // A port nobody listens on: the refusal (the socket's pending
            // error) must reach the dialer, not an eager read.
            let closed = Listener::bind(&Address::loopback()).await.unwrap();
            let addr = closed.local_addr().clone();
            drop(closed);
            let err = crate::Dialer::new().dial(&addr).await.unwrap_err();
            assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionRefused));

            // A server that greets at once: the greeting may arrive with
            // the connect's completion, before eager reads are armed.
            let listener = Listener::bind(&Address::loopback()).await.unwrap();
            let addr = listener.local_addr().clone();
            let server = rt::spawn(async move {
                let mut conn = listener.accept().await.unwrap();
                tokio::io::AsyncWriteExt::write_all(&mut conn, b"hello")
                    .await
                    .unwrap();
                conn
            });
            let mut conn = crate::Dialer::new().dial(&addr).await.unwrap();
            let mut got = [0u8; 5];
            rt::timeout(Duration::from_secs(10), conn.read_exact(&mut got))
                .await
                .expect("the greeting is read")
                .unwrap();
            assert_eq!(&got, b"hello");
            drop(server.await.unwrap());
        });
    }
}
