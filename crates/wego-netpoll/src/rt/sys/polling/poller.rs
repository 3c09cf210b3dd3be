//! The loop's poller: readiness of registered sockets, and a cross-thread
//! wake-up.
//!
//! Two implementations behind one interface:
//!
//! - **Linux: epoll, registered by the loop itself** (through `rustix`).
//!   Each socket is added once, edge-triggered, for `EPOLLIN`, `EPOLLOUT`
//!   and `EPOLLRDHUP`; a wait is one `epoll_wait` (a timerfd covers the
//!   last fraction of a millisecond of a timeout); the wake-up is an
//!   eventfd registered edge-triggered once, so that a wait never re-arms
//!   it and a notify is one `write`.
//! - **Elsewhere: the `polling` crate** (kqueue on macOS and the BSDs,
//!   epoll's other users), edge mode. On Linux it is compiled for the tests
//!   that hold both implementations to the same contract.
//!
//! Why Linux does not use `polling`: its epoll backend never registers
//! `EPOLLRDHUP`, so it cannot say that the peer's FIN arrived in the same
//! report as the last data. Without that, a read that drained the socket
//! may not clear the readable mark (the end of stream would never be read:
//! no new edge comes), and every request costs a second `recv` that
//! returns `WouldBlock`. Its wait also arms a timerfd and re-arms its
//! notifier with two `epoll_ctl` calls and a `read` each time. Figures are
//! in docs/benchmarks.md ("netpoll backends").
//!
//! The contract both keep: [`Poller::add`] registers a socket edge-triggered
//! under a key; [`Poller::wait`] reports each socket whose state changed
//! since the last report at least once, with [`Event::read_closed`] set
//! when the poller knows the peer shut its write side
//! ([`Poller::REPORTS_READ_CLOSED`]); [`Poller::notify`] makes the current
//! or next wait return; a timeout never ends a wait before it elapsed.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

#[cfg(target_os = "linux")]
pub(crate) use epoll::{Events, Poller};
#[cfg(not(target_os = "linux"))]
pub(crate) use polling_crate::{Events, Poller};

/// What the poller reported for one registered socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    /// The key the socket was added with.
    pub(crate) key: usize,
    /// Data (or the end of the stream) to read.
    pub(crate) readable: bool,
    /// Room to write.
    pub(crate) writable: bool,
    /// The peer shut its write side: a read will see the end of the stream
    /// once the data before it is read.
    pub(crate) read_closed: bool,
    /// Both directions are closed.
    pub(crate) hup: bool,
    /// The socket has a pending error.
    pub(crate) error: bool,
}

/// The interface both implementations offer (for the shared tests).
#[cfg_attr(not(test), allow(dead_code))]
trait Contract: Sized {
    const REPORTS_READ_CLOSED: bool;
    fn new() -> io::Result<Self>;
    fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()>;
    fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()>;
    fn notify(&self) -> io::Result<()>;
    fn wait_into(&self, out: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()>;
}

/// Implements [`Contract`] for the module's `Poller` and `Events`, which
/// have the same inherent methods in both implementations.
macro_rules! contract_by_inherent_methods {
    () => {
        impl Contract for Poller {
            const REPORTS_READ_CLOSED: bool = Poller::REPORTS_READ_CLOSED;
            fn new() -> io::Result<Self> {
                Poller::new()
            }
            fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
                Poller::add(self, fd, key)
            }
            fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
                Poller::delete(self, fd)
            }
            fn notify(&self) -> io::Result<()> {
                Poller::notify(self)
            }
            fn wait_into(&self, out: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
                let mut events = Events::new();
                self.wait(&mut events, timeout)?;
                out.extend(events.iter());
                Ok(())
            }
        }
    };
}
use contract_by_inherent_methods;

#[cfg(target_os = "linux")]
mod epoll {
    use std::io;
    use std::os::fd::{BorrowedFd, OwnedFd};
    use std::time::{Duration, Instant};

    use rustix::buffer::spare_capacity;
    use rustix::event::{EventfdFlags, Timespec, epoll, eventfd};
    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, timerfd_create,
        timerfd_settime,
    };

    use super::{Contract, Event};

    /// The keys of the wake-up eventfd and the timerfd; never a socket's
    /// (slab keys are small).
    const NOTIFY_KEY: u64 = u64::MAX;
    const TIMER_KEY: u64 = u64::MAX - 1;

    /// How many events one wait can report.
    const CAPACITY: usize = 1024;

    /// The longest single `epoll_wait` (an hour, in milliseconds).
    const MAX_WAIT_MS: u64 = 3_600_000;

    /// An epoll instance, its wake-up eventfd and the timerfd that ends a
    /// wait's last fraction of a millisecond.
    #[derive(Debug)]
    pub(crate) struct Poller {
        epoll: OwnedFd,
        waker: OwnedFd,
        timer: OwnedFd,
    }

    /// Room for the events of one wait.
    pub(crate) struct Events {
        list: Vec<epoll::Event>,
    }

    impl Events {
        pub(crate) fn new() -> Self {
            Self {
                list: Vec::with_capacity(CAPACITY),
            }
        }

        pub(crate) fn clear(&mut self) {
            self.list.clear();
        }

        /// The sockets' events (the wake-up's are left out).
        pub(crate) fn iter(&self) -> impl Iterator<Item = Event> + '_ {
            self.list.iter().filter_map(|ev| {
                // Copies: the kernel's struct is packed on x86_64.
                let flags = ev.flags;
                let data = ev.data.u64();
                if data == NOTIFY_KEY || data == TIMER_KEY {
                    return None;
                }
                use epoll::EventFlags as F;
                Some(Event {
                    // Slab keys come from a `usize`; the cast is lossless.
                    key: data as usize,
                    readable: flags.intersects(F::IN | F::PRI | F::RDHUP | F::HUP | F::ERR),
                    writable: flags.intersects(F::OUT | F::HUP | F::ERR),
                    read_closed: flags.contains(F::RDHUP),
                    hup: flags.contains(F::HUP),
                    error: flags.contains(F::ERR),
                })
            })
        }
    }

    impl Poller {
        /// The poller reports [`Event::read_closed`].
        pub(crate) const REPORTS_READ_CLOSED: bool = true;

        pub(crate) fn new() -> io::Result<Self> {
            let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
            let waker = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            let timer = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
            )?;
            // Edge-triggered and never read (but the eventfd on overflow):
            // each write or expiry is a new edge, so a wait re-arms nothing.
            for (fd, key) in [(&waker, NOTIFY_KEY), (&timer, TIMER_KEY)] {
                epoll::add(
                    &epoll,
                    fd,
                    epoll::EventData::new_u64(key),
                    epoll::EventFlags::IN | epoll::EventFlags::ET,
                )?;
            }
            Ok(Self {
                epoll,
                waker,
                timer,
            })
        }

        /// Registers `fd` edge-triggered for reading, writing and the
        /// peer's shutdown, under `key`.
        pub(crate) fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
            use epoll::EventFlags as F;
            epoll::add(
                &self.epoll,
                fd,
                epoll::EventData::new_u64(key as u64),
                F::IN | F::OUT | F::RDHUP | F::ET,
            )?;
            Ok(())
        }

        pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
            epoll::delete(&self.epoll, fd)?;
            Ok(())
        }

        /// Makes the current or next [`wait`](Self::wait) return.
        pub(crate) fn notify(&self) -> io::Result<()> {
            let one = 1u64.to_ne_bytes();
            match rustix::io::write(&self.waker, &one) {
                Ok(_) => Ok(()),
                // The counter is at its maximum: a wake-up is pending
                // anyway; reset it so that later writes keep making edges.
                Err(rustix::io::Errno::AGAIN) => {
                    let mut buf = [0u8; 8];
                    let _ = rustix::io::read(&self.waker, &mut buf);
                    rustix::io::write(&self.waker, &one)?;
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        }

        /// Waits for events or until `timeout` has elapsed; `None` waits
        /// until an event or a notify. Whole milliseconds of the timeout
        /// are waited in `epoll_wait`, the rest on the timerfd, so the
        /// wait ends neither early nor up to a millisecond late. The
        /// timerfd's own reports (of this wait or an earlier one that
        /// ended before it fired) end no wait.
        pub(crate) fn wait(
            &self,
            events: &mut Events,
            timeout: Option<Duration>,
        ) -> io::Result<()> {
            if timeout == Some(Duration::ZERO) {
                return self.wait_once(events, Some(Duration::ZERO));
            }
            // A timeout too far ahead for an `Instant` waits for events.
            let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
            loop {
                let wait = match deadline {
                    None => None,
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Ok(());
                        }
                        // Whole milliseconds, at most an hour per call: a
                        // millisecond count past `i32` would need
                        // `epoll_pwait2`, which older kernels lack.
                        let whole = Duration::from_millis(
                            u64::try_from(left.as_millis())
                                .unwrap_or(u64::MAX)
                                .min(MAX_WAIT_MS),
                        );
                        if whole.is_zero() {
                            self.arm_timer(left)?;
                            None
                        } else {
                            Some(whole)
                        }
                    }
                };
                self.wait_once(events, wait)?;
                if events.list.iter().any(|ev| ev.data.u64() != TIMER_KEY) {
                    return Ok(());
                }
                events.clear();
            }
        }

        fn wait_once(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
            let ts = timeout.map(timespec);
            epoll::wait(&self.epoll, spare_capacity(&mut events.list), ts.as_ref())?;
            Ok(())
        }

        /// Makes the timerfd fire once, `after` from now.
        fn arm_timer(&self, after: Duration) -> io::Result<()> {
            let spec = Itimerspec {
                it_interval: timespec(Duration::ZERO),
                it_value: timespec(after),
            };
            timerfd_settime(&self.timer, TimerfdTimerFlags::empty(), &spec)?;
            Ok(())
        }
    }

    fn timespec(d: Duration) -> Timespec {
        Timespec {
            tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(d.subsec_nanos()),
        }
    }

    super::contract_by_inherent_methods!();
}

#[cfg(any(not(target_os = "linux"), test))]
mod polling_crate {
    //! `unsafe` here: `Poller::add_with_mode` is unsafe because the caller
    //! must delete the source before closing it; the owners of a
    //! registration do (`io.rs`, `net.rs`).
    #![allow(unsafe_code)]
    #![cfg_attr(target_os = "linux", allow(dead_code))]

    use std::io;
    use std::os::fd::BorrowedFd;
    use std::time::Duration;

    use super::{Contract, Event};

    /// The `polling` crate's poller.
    #[derive(Debug)]
    pub(crate) struct Poller(polling::Poller);

    /// Room for the events of one wait.
    pub(crate) struct Events(polling::Events);

    impl Events {
        pub(crate) fn new() -> Self {
            Self(polling::Events::new())
        }

        pub(crate) fn clear(&mut self) {
            self.0.clear();
        }

        pub(crate) fn iter(&self) -> impl Iterator<Item = Event> + '_ {
            self.0.iter().map(|ev| Event {
                key: ev.key,
                readable: ev.readable,
                writable: ev.writable,
                read_closed: false,
                hup: ev.is_interrupt(),
                error: ev.is_err() == Some(true),
            })
        }
    }

    impl Poller {
        /// `polling` does not report the peer's shutdown apart from
        /// readability.
        pub(crate) const REPORTS_READ_CLOSED: bool = false;

        pub(crate) fn new() -> io::Result<Self> {
            Ok(Self(polling::Poller::new()?))
        }

        pub(crate) fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
            let interest = polling::Event::all(key).with_interrupt();
            // SAFETY: `add_with_mode` requires that the source be deleted
            // before it is closed: every registration's owner deletes its
            // socket in its `Drop`, before the socket closes (`net.rs`).
            unsafe { self.0.add_with_mode(&fd, interest, polling::PollMode::Edge) }
        }

        pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
            self.0.delete(fd)
        }

        pub(crate) fn notify(&self) -> io::Result<()> {
            self.0.notify()
        }

        pub(crate) fn wait(
            &self,
            events: &mut Events,
            timeout: Option<Duration>,
        ) -> io::Result<()> {
            self.0.wait(&mut events.0, timeout).map(drop)
        }
    }

    super::contract_by_inherent_methods!();
}

#[cfg(test)]
mod tests {
    //! Both implementations against the contract, over loopback TCP.

    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::os::fd::AsFd;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::{Contract, Event};

    const KEY: usize = 7;
    /// Long enough for loopback to deliver; a wait that should report
    /// returns as soon as it does.
    const PATIENCE: Duration = Duration::from_secs(10);
    /// How long a wait that should report nothing is given.
    const QUIET: Duration = Duration::from_millis(20);

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (server, _) = l.accept().expect("accept");
        server.set_nonblocking(true).expect("nonblocking");
        (server, client)
    }

    /// Waits until an event for `KEY` satisfies `want`, folding the events
    /// of several waits (a poller may split one change over two reports).
    fn wait_for<P: Contract>(p: &P, want: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Event {
            key: KEY,
            readable: false,
            writable: false,
            read_closed: false,
            hup: false,
            error: false,
        };
        while Instant::now() < deadline {
            let mut out = Vec::new();
            p.wait_into(&mut out, Some(PATIENCE)).expect("wait");
            for ev in out.into_iter().filter(|ev| ev.key == KEY) {
                seen.readable |= ev.readable;
                seen.writable |= ev.writable;
                seen.read_closed |= ev.read_closed;
                seen.hup |= ev.hup;
                seen.error |= ev.error;
            }
            if want(&seen) {
                return seen;
            }
        }
        panic!("no event as wanted; saw {seen:?}");
    }

    fn quiet<P: Contract>(p: &P) -> Vec<Event> {
        let mut out = Vec::new();
        p.wait_into(&mut out, Some(QUIET)).expect("wait");
        out
    }

    fn reports_edges<P: Contract>() {
        let p = P::new().expect("poller");
        let (server, mut client) = pair();
        p.add(server.as_fd(), KEY).expect("add");
        // A fresh connected socket is writable.
        wait_for(&p, |e| e.writable);
        assert!(quiet(&p).is_empty(), "edge-triggered: no second report");
        client.write_all(b"ping").expect("write");
        let ev = wait_for(&p, |e| e.readable);
        assert!(!ev.read_closed && !ev.hup && !ev.error, "{ev:?}");
        let mut buf = [0u8; 16];
        assert_eq!((&server).read(&mut buf).expect("read"), 4);
        assert!(quiet(&p).is_empty(), "nothing new after the read");
        p.delete(server.as_fd()).expect("delete");
        client.write_all(b"more").expect("write");
        assert!(quiet(&p).is_empty(), "a deleted socket reports nothing");
    }

    fn reports_a_fin_that_came_with_the_data<P: Contract>() {
        let p = P::new().expect("poller");
        let (server, mut client) = pair();
        client.write_all(b"last words").expect("write");
        client.shutdown(Shutdown::Write).expect("shutdown");
        // Registered after both were sent: the first report has both.
        p.add(server.as_fd(), KEY).expect("add");
        let ev = wait_for(&p, |e| {
            e.readable && (e.read_closed || !P::REPORTS_READ_CLOSED)
        });
        assert_eq!(ev.read_closed, P::REPORTS_READ_CLOSED, "{ev:?}");
        assert!(!ev.hup, "{ev:?}");
        let mut buf = [0u8; 64];
        assert_eq!((&server).read(&mut buf).expect("read"), 10);
        assert_eq!((&server).read(&mut buf).expect("read"), 0);
    }

    fn reports_hang_up<P: Contract>() {
        let p = P::new().expect("poller");
        let (server, client) = pair();
        p.add(server.as_fd(), KEY).expect("add");
        wait_for(&p, |e| e.writable);
        drop(client);
        let ev = wait_for(&p, |e| {
            e.readable && (e.read_closed || !P::REPORTS_READ_CLOSED)
        });
        assert_eq!(ev.read_closed, P::REPORTS_READ_CLOSED, "{ev:?}");
        server.shutdown(Shutdown::Write).expect("shutdown");
        let ev = wait_for(&p, |e| e.hup);
        assert!(ev.readable && ev.writable, "{ev:?}");
    }

    fn notify_wakes_a_wait<P: Contract + Send + Sync + 'static>() {
        let p = Arc::new(P::new().expect("poller"));
        // A notify before the wait: the wait returns at once.
        p.notify().expect("notify");
        let start = Instant::now();
        assert!(quiet_for(&*p, PATIENCE).is_empty());
        assert!(start.elapsed() < PATIENCE);
        // From another thread while the wait blocks; repeated, so that an
        // edge-triggered wake-up is shown to re-arm by itself.
        for _ in 0..3 {
            let (tx, rx) = std::sync::mpsc::channel();
            let waiter = {
                let p = Arc::clone(&p);
                std::thread::spawn(move || {
                    tx.send(()).expect("send");
                    let mut out = Vec::new();
                    p.wait_into(&mut out, None).expect("wait");
                    out
                })
            };
            rx.recv().expect("the waiter starts");
            p.notify().expect("notify");
            assert!(waiter.join().expect("join").is_empty());
        }
    }

    fn quiet_for<P: Contract>(p: &P, t: Duration) -> Vec<Event> {
        let mut out = Vec::new();
        p.wait_into(&mut out, Some(t)).expect("wait");
        out
    }

    fn timeout_is_never_short<P: Contract>() {
        let p = P::new().expect("poller");
        for micros in [1u64, 300, 1_500, 2_700] {
            let t = Duration::from_micros(micros);
            let start = Instant::now();
            assert!(quiet_for(&p, t).is_empty());
            assert!(
                start.elapsed() >= t,
                "{t:?} ended after {:?}",
                start.elapsed()
            );
        }
        // A wait ended by a notify before its sub-millisecond timer fired
        // leaves that timer to fire during the next wait, which must not
        // end there.
        p.notify().expect("notify");
        assert!(quiet_for(&p, Duration::from_micros(300)).is_empty());
        let t = Duration::from_millis(5);
        let start = Instant::now();
        assert!(quiet_for(&p, t).is_empty());
        assert!(start.elapsed() >= t, "ended after {:?}", start.elapsed());
    }

    macro_rules! contract {
        ($name:ident, $poller:ty) => {
            mod $name {
                #[test]
                fn reports_edges() {
                    super::reports_edges::<$poller>();
                }
                #[test]
                fn reports_a_fin_that_came_with_the_data() {
                    super::reports_a_fin_that_came_with_the_data::<$poller>();
                }
                #[test]
                fn reports_hang_up() {
                    super::reports_hang_up::<$poller>();
                }
                #[test]
                fn notify_wakes_a_wait() {
                    super::notify_wakes_a_wait::<$poller>();
                }
                #[test]
                fn timeout_is_never_short() {
                    super::timeout_is_never_short::<$poller>();
                }
            }
        };
    }

    #[cfg(target_os = "linux")]
    contract!(epoll, super::super::epoll::Poller);
    contract!(polling_crate, super::super::polling_crate::Poller);
}
