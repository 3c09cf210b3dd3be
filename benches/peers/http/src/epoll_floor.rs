//! `epoll-floor`: the floor without a runtime. One thread, one
//! edge-triggered epoll set (as tokio's and netpoll's), non-blocking
//! sockets and a buffer per connection; a readiness event is read until a
//! `recv` comes back short (one `recv` per request, as tokio does), and the
//! heads it completes are answered with `FLOOR_RESPONSE` in one `send`. No
//! tasks, no wakers, no timers: what any readiness-based backend costs at
//! the least, so that `floor` minus this is the most a faster runtime could
//! save per request.
//!
//! The loop takes the answering as a function ([`Answer`]), so that
//! `api-floor` (`super::api_floor`) runs the same loop with HTTP work in it.

use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

use bytes::BytesMut;

/// Answers the complete heads at the front of `buf` (taking them out of
/// it) into `out`; `peer` is the connection's client. `Err` closes the
/// connection.
pub trait Answer: Fn(&mut BytesMut, SocketAddr, &mut Vec<u8>) -> Result<(), ()> + Copy {}

impl<F: Fn(&mut BytesMut, SocketAddr, &mut Vec<u8>) -> Result<(), ()> + Copy> Answer for F {}

/// The listener's epoll token; connections use their file descriptor.
const LISTENER: u64 = u64::MAX;
/// A connection's interest while it reads, and while an answer waits for
/// room in the socket.
const READ: i32 = libc::EPOLLIN | libc::EPOLLET;
const WRITE: i32 = libc::EPOLLOUT | libc::EPOLLET;

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    buf: BytesMut,
    /// Bytes of answers the socket did not take yet (then the connection
    /// waits for `EPOLLOUT` instead of reading).
    pending: Vec<u8>,
}

/// Serves `addr` from this thread, answering with `answer`.
pub fn serve(
    addr: SocketAddr,
    name: &str,
    answer: impl Answer,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    // SAFETY: epoll_create1 takes no pointers; the result is checked.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    ctl(
        ep,
        libc::EPOLL_CTL_ADD,
        listener.as_raw_fd(),
        libc::EPOLLIN,
        LISTENER,
    )?;
    eprintln!("{name} listening on {addr}");
    let mut conns: HashMap<RawFd, Conn> = HashMap::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    loop {
        // SAFETY: `events` is a live buffer of the length passed.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        for ev in &events[..n as usize] {
            let (token, flags) = (ev.u64, ev.events);
            if token == LISTENER {
                accept_all(ep, &listener, &mut conns)?;
                continue;
            }
            let fd = token as RawFd;
            let Some(conn) = conns.get_mut(&fd) else {
                continue;
            };
            let open = if flags & libc::EPOLLOUT as u32 != 0 {
                flush(ep, conn)
            } else {
                serve_readable(ep, conn, answer)
            };
            if !open {
                // Closing the socket takes it out of the epoll set.
                conns.remove(&fd);
            }
        }
    }
}

fn accept_all(
    ep: RawFd,
    listener: &TcpListener,
    conns: &mut HashMap<RawFd, Conn>,
) -> std::io::Result<()> {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                stream.set_nonblocking(true)?;
                stream.set_nodelay(true)?;
                let fd = stream.as_raw_fd();
                ctl(ep, libc::EPOLL_CTL_ADD, fd, READ, fd as u64)?;
                let conn = Conn {
                    stream,
                    peer,
                    buf: BytesMut::with_capacity(8 * 1024),
                    pending: Vec::with_capacity(8 * 1024),
                };
                conns.insert(fd, conn);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A connection reset before it was accepted: the next one.
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads until a `recv` comes back short (the socket is then drained, and
/// the next arrival is a new edge), answering the heads each completes.
/// Whether the connection stays open.
fn serve_readable(ep: RawFd, conn: &mut Conn, answer: impl Answer) -> bool {
    const CHUNK: usize = 8 * 1024;
    let fd = conn.stream.as_raw_fd();
    loop {
        conn.buf.reserve(CHUNK);
        let spare = conn.buf.spare_capacity_mut();
        let spare_len = spare.len();
        // SAFETY: `spare` is writable memory of the length passed; recv
        // writes at most that many bytes into it.
        let r = unsafe { libc::recv(fd, spare.as_mut_ptr().cast(), spare.len(), 0) };
        let n = match r {
            0 => return false,
            n if n > 0 => n as usize,
            _ => match std::io::Error::last_os_error().kind() {
                ErrorKind::Interrupted => continue,
                ErrorKind::WouldBlock => return true,
                _ => return false,
            },
        };
        let len = conn.buf.len();
        // SAFETY: recv initialised the first `n` spare bytes.
        unsafe { conn.buf.set_len(len + n) };
        if answer(&mut conn.buf, conn.peer, &mut conn.pending).is_err() {
            return false;
        }
        if conn.buf.len() > 64 * 1024 {
            return false;
        }
        if !conn.pending.is_empty() {
            match write_pending(conn) {
                Ok(true) => {}
                // The socket is full: wait until it takes more, reading
                // nothing meanwhile.
                Ok(false) => return ctl(ep, libc::EPOLL_CTL_MOD, fd, WRITE, fd as u64).is_ok(),
                Err(_) => return false,
            }
        }
        if n < spare_len {
            return true;
        }
    }
}

/// Writes what is pending after `EPOLLOUT`; back to reading once all of it
/// is written.
fn flush(ep: RawFd, conn: &mut Conn) -> bool {
    let fd = conn.stream.as_raw_fd();
    match write_pending(conn) {
        Ok(true) => ctl(ep, libc::EPOLL_CTL_MOD, fd, READ, fd as u64).is_ok(),
        Ok(false) => true,
        Err(_) => false,
    }
}

/// `Ok(true)` when nothing is left to write.
fn write_pending(conn: &mut Conn) -> std::io::Result<bool> {
    while !conn.pending.is_empty() {
        match conn.stream.write(&conn.pending) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => {
                conn.pending.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn ctl(ep: RawFd, op: i32, fd: RawFd, events: i32, token: u64) -> std::io::Result<()> {
    let mut ev = libc::epoll_event {
        events: events as u32,
        u64: token,
    };
    // SAFETY: `ev` outlives the call; the kernel copies it.
    if unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
