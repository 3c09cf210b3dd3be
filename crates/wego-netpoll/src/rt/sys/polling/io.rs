//! Socket registration with a loop's poller, and readiness.
//!
//! A socket is registered once, edge-triggered, for reading, writing and
//! hang-up; its [`ScheduledIo`] keeps what the poller reported since the
//! last `WouldBlock` as bits plus a tick that counts events:
//!
//! ```text
//!  bits 0..4: READABLE WRITABLE HUP ERROR      bits 16..: event tick
//! ```
//!
//! An I/O operation tries the system call while the direction is marked
//! ready; on `WouldBlock` it clears the mark only if no event arrived since
//! it looked (same tick), registers its waker and looks again, so an edge
//! that lands between the system call and the registration is never lost.
//! `HUP` and `ERROR` make both directions ready, and the next system call
//! returns the end of stream or the error; a `WouldBlock` clears them too,
//! since a socket that really hung up never answers it.
//!
//! `unsafe` here: `Poller::add_with_mode` is unsafe because the caller must
//! delete the source before closing it; the owners of a [`Registration`]
//! call [`Registration::deregister`] before their socket closes (`net.rs`).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use polling::{Event, PollMode};

use super::eager::{EagerRead, Filled};
use super::event_loop::LoopShared;

const READABLE: usize = 1;
const WRITABLE: usize = 1 << 1;
const HUP: usize = 1 << 2;
const ERROR: usize = 1 << 3;
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
            Direction::Read => READABLE | HUP | ERROR,
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
        if ev.is_interrupt() {
            bits |= HUP;
        }
        if ev.is_err() == Some(true) {
            bits |= ERROR;
        }
        if let Some(eager) = &self.eager
            && bits & Direction::Read.mask() != 0
        {
            // A drained socket has nothing for a reader's system call:
            // leave READABLE unset so that `is_active` need not peek.
            if eager.fill() == Filled::Drained {
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

    /// Returns true if a read event arrived since the last `WouldBlock`.
    pub(crate) fn is_readable(&self) -> bool {
        self.readiness.load(Ordering::Acquire) & READABLE != 0
    }

    /// Ready in `dir`: returns the readiness word observed, else registers
    /// the task's waker.
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
        let _ = self.readiness.compare_exchange(
            observed,
            observed & !dir.clearable(),
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
        let interest = Event::all(key).with_interrupt();
        // SAFETY: `add_with_mode` requires that the source be deleted from
        // the poller before it is closed. Every owner (net.rs's `Stream`
        // and `Listener`) calls `deregister` with the socket in its `Drop`
        // impl, which runs before the socket field is dropped and closed.
        let added = unsafe { owner.poller.add_with_mode(&fd, interest, PollMode::Edge) };
        if let Err(e) = added {
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
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut() -> io::Result<R>,
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.io.clear(dir, observed),
                res => return Poll::Ready(res),
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
