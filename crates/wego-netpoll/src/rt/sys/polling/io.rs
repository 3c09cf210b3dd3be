//! Socket registration with a loop's poller, and readiness.
//!
//! A socket is registered once, edge-triggered, for reading, writing and
//! hang-up; its [`ScheduledIo`] keeps what the poller reported since the
//! last `WouldBlock` as bits plus a tick that counts events:
//!
//! ```text
//!  bits 0..5: READABLE WRITABLE HUP ERROR READ_CLOSED   bits 16..: event tick
//! ```
//!
//! An I/O operation tries the system call while the direction is marked
//! ready; on `WouldBlock` it clears the mark only if no event arrived since
//! it looked (same tick), registers its waker and looks again, so an edge
//! that lands between the system call and the registration is never lost.
//! `HUP`, `ERROR` and (for reads) `READ_CLOSED` keep a direction ready, and
//! the next system call returns the end of stream or the error; a
//! `WouldBlock` clears them too, since a socket that really hung up never
//! answers it.
//!
//! A read that returned less than it had room for drained the socket (a
//! stream socket hands over all it holds): where the poller reports the
//! peer's shutdown ([`Poller::REPORTS_READ_CLOSED`]), that read clears
//! `READABLE` (same tick rule) but never `READ_CLOSED`, so the next read
//! waits for the next edge instead of asking the kernel for a
//! `WouldBlock`, and a FIN reported with the last data is still read.
//!
//! The owners of a [`Registration`] call [`Registration::deregister`]
//! before their socket closes (`net.rs`), as the poller requires.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use super::eager::{EagerRead, Filled};
use super::event_loop::LoopShared;
use super::poller::{Event, Poller};

const READABLE: usize = 1;
const WRITABLE: usize = 1 << 1;
const HUP: usize = 1 << 2;
const ERROR: usize = 1 << 3;
const READ_CLOSED: usize = 1 << 4;
const BITS: usize = 0xffff;
const TICK: usize = 1 << 16;

/// A direction of interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE | READ_CLOSED | HUP | ERROR,
            Direction::Write => WRITABLE | HUP | ERROR,
        }
    }

    /// The bits a `WouldBlock` in this direction disproves: all of them. A
    /// socket that really hung up or failed answers with end of stream or
    /// the error, never `WouldBlock`; a stale hang-up report (the socket
    /// moved between pollers) must not make the operation spin.
    fn clearable(self) -> usize {
        self.mask()
    }
}

/// Readiness and wakers of one registered socket.
#[derive(Default)]
pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    reader: Mutex<Option<Waker>>,
    writer: Mutex<Option<Waker>>,
    /// The connection's eager reads, if the loop reads for it.
    eager: Option<Arc<EagerRead>>,
}

impl ScheduledIo {
    /// Records an event from the poller and wakes the tasks it concerns;
    /// with eager reads, first reads what arrived into the connection's
    /// buffer.
    pub(crate) fn dispatch(&self, ev: &Event) {
        let mut bits = 0;
        if ev.readable {
            bits |= READABLE;
        }
        if ev.writable {
            bits |= WRITABLE;
        }
        if ev.hup {
            bits |= HUP;
        }
        if ev.error {
            bits |= ERROR;
        }
        if ev.read_closed {
            bits |= READ_CLOSED;
        }
        if let Some(eager) = &self.eager
            && bits & Direction::Read.mask() != 0
        {
            // A short read drains the socket unless the end of the stream
            // (or an error) is waiting behind the data.
            let short_read_drains =
                Poller::REPORTS_READ_CLOSED && bits & (READ_CLOSED | HUP | ERROR) == 0;
            // A drained socket has nothing for a reader's system call:
            // leave READABLE unset so that `is_active` need not peek.
            if eager.fill(short_read_drains) == Filled::Drained {
                bits &= !READABLE;
            }
            self.set(bits);
            if bits & Direction::Read.mask() == 0 {
                wake(&self.reader);
            }
            return;
        }
        self.set(bits);
    }

    /// Registers the reader's waker (eager reads: under the buffer's lock,
    /// which the loop takes before it wakes the reader).
    pub(crate) fn register_reader(&self, waker: &Waker) {
        let mut w = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        if !w.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *w = Some(waker.clone());
        }
    }

    fn set(&self, bits: usize) {
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some((cur.wrapping_add(TICK) & !BITS) | (cur & BITS) | bits)
            });
        if bits & Direction::Read.mask() != 0 {
            wake(&self.reader);
        }
        if bits & Direction::Write.mask() != 0 {
            wake(&self.writer);
        }
    }

    /// Marks the socket hung up and wakes everyone (the loop is stopping).
    pub(crate) fn close(&self) {
        self.set(HUP);
        drop(
            self.reader
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        drop(
            self.writer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    /// Returns true once the poller reported a hang-up or an error.
    pub(crate) fn is_hung_up(&self) -> bool {
        self.readiness.load(Ordering::Acquire) & (HUP | ERROR) != 0
    }

    /// Returns true if a read event (data or the peer's shutdown) arrived
    /// since the last read that drained the socket.
    pub(crate) fn is_readable(&self) -> bool {
        self.readiness.load(Ordering::Acquire) & (READABLE | READ_CLOSED) != 0
    }

    /// Ready in `dir`: returns the readiness word observed, else registers
    /// the task's waker.
    #[inline]
    fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<usize> {
        let cur = self.readiness.load(Ordering::Acquire);
        if cur & dir.mask() != 0 {
            return Poll::Ready(cur);
        }
        let slot = match dir {
            Direction::Read => &self.reader,
            Direction::Write => &self.writer,
        };
        {
            let mut w = slot.lock().unwrap_or_else(PoisonError::into_inner);
            if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *w = Some(cx.waker().clone());
            }
        }
        let cur = self.readiness.load(Ordering::Acquire);
        if cur & dir.mask() != 0 {
            return Poll::Ready(cur);
        }
        Poll::Pending
    }

    /// Clears `dir`'s mark if no event arrived since `observed` was read.
    fn clear(&self, dir: Direction, observed: usize) {
        self.clear_bits(dir.clearable(), observed);
    }

    /// Clears `bits` if no event arrived since `observed` was read.
    fn clear_bits(&self, bits: usize, observed: usize) {
        let _ = self.readiness.compare_exchange(
            observed,
            observed & !bits,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}

/// The error of I/O on a socket whose runtime has shut down: no loop will
/// ever report its readiness again.
pub(crate) fn runtime_gone() -> io::Error {
    io::Error::other("the wego runtime this socket was registered with has shut down")
}

fn wake(slot: &Mutex<Option<Waker>>) {
    let waker = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(w) = waker {
        w.wake();
    }
}

/// A socket's registration with one loop's poller; deleted on drop.
pub(crate) struct Registration {
    io: Arc<ScheduledIo>,
    owner: Arc<LoopShared>,
    key: usize,
}

impl Registration {
    /// Registers `fd` with `owner`'s poller, edge-triggered, for reading,
    /// writing and hang-up.
    ///
    /// The caller must drop the registration before closing `fd`. With
    /// `eager`, the loop reads `fd` into that buffer when it is readable.
    pub(crate) fn new(
        owner: Arc<LoopShared>,
        fd: BorrowedFd<'_>,
        eager: Option<Arc<EagerRead>>,
    ) -> io::Result<Self> {
        let io = Arc::new(ScheduledIo {
            eager,
            ..ScheduledIo::default()
        });
        let key = owner
            .io
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(Arc::clone(&io));
        // The socket must be deleted from the poller before it is closed:
        // every owner (net.rs's `Stream` and `Listener`) calls `deregister`
        // with the socket in its `Drop` impl, which runs before the socket
        // field is dropped and closed.
        if let Err(e) = owner.poller.add(fd, key) {
            owner
                .io
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(key);
            return Err(e);
        }
        Ok(Self { io, owner, key })
    }

    pub(crate) fn io(&self) -> &ScheduledIo {
        &self.io
    }

    /// Returns true once the loop this is registered with has shut down.
    pub(crate) fn is_closed(&self) -> bool {
        self.owner.is_closed()
    }

    /// Runs `op` until it does not return `WouldBlock`, waiting for `dir`'s
    /// readiness in between.
    #[inline]
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_op(cx, dir, || op().map(|r| (r, false)))
    }

    /// Reads with `op` as [`poll_io`](Self::poll_io) does; `op` also says
    /// whether the read was short (less than it had room for, but not the
    /// end of the stream): such a read drained the socket, and clears the
    /// readable mark where the poller reports the peer's shutdown.
    #[inline]
    pub(crate) fn poll_read_io<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<(R, bool)>,
    ) -> Poll<io::Result<R>> {
        self.poll_op(cx, Direction::Read, op)
    }

    /// The loop of both: `op` returns its result and whether it drained the
    /// socket in `dir` (only reads say so).
    // Inlined, with `poll_io`, `poll_read_io` and `ScheduledIo::poll_ready`,
    // into each stream's read and write: calls of a few instructions each,
    // made on every request.
    #[inline]
    fn poll_op<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut() -> io::Result<(R, bool)>,
    ) -> Poll<io::Result<R>> {
        loop {
            if self.owner.is_closed() {
                return Poll::Ready(Err(runtime_gone()));
            }
            let observed = match self.io.poll_ready(cx, dir) {
                Poll::Ready(o) => o,
                Poll::Pending => return Poll::Pending,
            };
            match op() {
                Ok((r, drained)) => {
                    if drained && Poller::REPORTS_READ_CLOSED {
                        self.io.clear_bits(READABLE, observed);
                    }
                    return Poll::Ready(Ok(r));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.io.clear(dir, observed),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Waits until `dir` is reported ready, without an operation.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<io::Result<()>> {
        if self.owner.is_closed() {
            return Poll::Ready(Err(runtime_gone()));
        }
        self.io.poll_ready(cx, dir).map(|_| Ok(()))
    }

    /// Deletes `fd` (the socket this was created for) from the poller and
    /// drops the registration.
    pub(crate) fn deregister(self, fd: BorrowedFd<'_>) {
        // Deleting fails only if the poller no longer watches the socket;
        // nothing is left to undo then.
        let _ = self.owner.poller.delete(fd);
    }

    /// Returns true if the registration is with `owner`'s poller.
    pub(crate) fn is_on(&self, owner: &Arc<LoopShared>) -> bool {
        Arc::ptr_eq(&self.owner, owner)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut io = self.owner.io.lock().unwrap_or_else(PoisonError::into_inner);
        if io.contains(self.key) {
            io.remove(self.key);
        }
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    //! A peer's shutdown that the poller reports in the same event as the
    //! last data: a read that drains the data must not lose it. The loop is
    //! held busy while the peer writes and shuts down (a Unix socket does
    //! both synchronously), so that one report carries both.

    use std::future::Future;
    use std::io::Write;
    use std::num::NonZeroUsize;
    use std::os::unix::net::UnixStream;
    use std::sync::mpsc;
    use std::task::Poll;
    use std::time::Duration;

    use tokio::io::AsyncReadExt;

    use crate::Address;
    use crate::net::Listener;
    use crate::rt::{self, Backend, Runtime};

    fn end_of_stream_reported_with_the_data_is_read(eager: bool) {
        let rt = Runtime::builder()
            .backend(Backend::Polling)
            .worker_threads(NonZeroUsize::new(1).expect("invariant: 1 is non-zero"))
            .eager_reads(eager)
            .build()
            .expect("the polling runtime builds");
        let path = std::env::temp_dir().join(format!(
            "wego-io-{}-{}.sock",
            std::process::id(),
            if eager { "eager" } else { "lazy" }
        ));
        let _ = std::fs::remove_file(&path);
        rt.block_on(async {
            let listener = Listener::bind(&Address::Unix(path.clone()))
                .await
                .expect("bind");
            let mut client = UnixStream::connect(&path).expect("connect");
            let (pending_tx, pending_rx) = mpsc::channel();
            // The reader, on the loop: takes a first byte, then waits for
            // more with its read registered.
            let reader = rt::spawn(async move {
                let mut conn = listener.accept().await.expect("accept");
                let mut buf = [0u8; 64];
                let n = conn.read(&mut buf).await.expect("first read");
                assert_eq!(&buf[..n], b"!");
                let mut got = Vec::new();
                {
                    let mut read = std::pin::pin!(conn.read(&mut buf));
                    std::future::poll_fn(|cx| {
                        assert!(read.as_mut().poll(cx).is_pending(), "nothing sent yet");
                        Poll::Ready(())
                    })
                    .await;
                    pending_tx.send(()).expect("the test waits");
                    let n = read.await.expect("read");
                    got.extend_from_slice(&buf[..n]);
                }
                rt::timeout(Duration::from_secs(10), async {
                    loop {
                        let n = conn.read(&mut buf).await.expect("read");
                        if n == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..n]);
                    }
                })
                .await
                .expect("the end of the stream is read, not lost");
                got
            });
            client.write_all(b"!").expect("write");
            // Blocking waits on the block_on thread; the loop runs apart.
            pending_rx.recv().expect("the reader is pending");
            let (busy_tx, busy_rx) = mpsc::channel();
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let blocker = rt::spawn(async move {
                busy_tx.send(()).expect("the test waits");
                release_rx.recv().expect("the test releases the loop");
            });
            busy_rx.recv().expect("the loop is held");
            client.write_all(b"last words").expect("write");
            client
                .shutdown(std::net::Shutdown::Write)
                .expect("shutdown");
            release_tx.send(()).expect("the blocker waits");
            blocker.await.expect("blocker");
            assert_eq!(reader.await.expect("reader"), b"last words");
        });
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn end_of_stream_reported_with_the_data_is_read_lazily() {
        end_of_stream_reported_with_the_data_is_read(false);
    }

    #[test]
    fn end_of_stream_reported_with_the_data_is_read_eagerly() {
        end_of_stream_reported_with_the_data_is_read(true);
    }
}
