//! Multiplexed mode: one TTHeader connection, concurrent calls paired with
//! their replies by sequence id (replies may arrive in any order).
//!
//! A call sent on a reused connection that turns out closed (the server
//! closed it while idle and the client had not read the close yet) fails
//! with no reply; it is retried once on a freshly dialed connection, as the
//! pooled mode retries a stale pooled connection. A call on a connection it
//! dialed itself is never retried.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::{Mutex, mpsc, oneshot};
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt, split};
use wego_netpoll::rt;

use super::Config;
use super::conn::{self, Reply};
use crate::{Error, Result};

type Waiters = Arc<std::sync::Mutex<Option<HashMap<i32, oneshot::Sender<Reply>>>>>;

#[derive(Debug)]
struct Live {
    tx: mpsc::Sender<Bytes>,
    waiters: Waiters,
}

struct Forget {
    waiters: Waiters,
    seq_id: i32,
}

impl Drop for Forget {
    fn drop(&mut self) {
        if let Some(m) = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            m.remove(&self.seq_id);
        }
    }
}

#[derive(Debug)]
pub(super) struct Mux {
    live: Mutex<Option<Arc<Live>>>,
    dials: AtomicUsize,
}

impl Mux {
    pub(super) fn new() -> Self {
        Self {
            live: Mutex::new(None),
            dials: AtomicUsize::new(0),
        }
    }

    pub(super) fn dials(&self) -> usize {
        self.dials.load(Ordering::Relaxed)
    }

    /// The live connection, and whether this call dialed it.
    async fn live(&self, cfg: &Config) -> Result<(Arc<Live>, bool)> {
        let mut slot = self.live.lock().await;
        // A connection is reusable while both its writer (channel open) and
        // its reader (waiter map present) are alive.
        let alive = |l: &&Arc<Live>| {
            !l.tx.is_closed()
                && l.waiters
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some()
        };
        if let Some(l) = slot.as_ref().filter(alive) {
            return Ok((l.clone(), false));
        }
        let link = conn::dial(cfg).await?;
        self.dials.fetch_add(1, Ordering::Relaxed);
        let (mut rd, mut wr) = split(link.conn);
        let (tx, mut rx) = mpsc::channel::<Bytes>(1024);
        let waiters: Waiters = Arc::new(std::sync::Mutex::new(Some(HashMap::new())));
        rt::spawn(async move {
            while let Some(f) = rx.recv().await {
                if wr.write_all(&f).await.is_err() {
                    return;
                }
                while let Ok(more) = rx.try_recv() {
                    if wr.write_all(&more).await.is_err() {
                        return;
                    }
                }
                if wr.flush().await.is_err() {
                    return;
                }
            }
        });
        let (w2, codec, max) = (waiters.clone(), cfg.codec.clone(), cfg.max_frame);
        let mut buf = link.buf;
        rt::spawn(async move {
            'read: loop {
                loop {
                    match codec.decode(&mut buf, max) {
                        Ok(Some(crate::transport::Frame {
                            header: Some(h),
                            payload,
                        })) => {
                            let waiter = w2
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .as_mut()
                                .and_then(|m| m.remove(&h.seq_id));
                            if let Some(w) = waiter {
                                let _ = w.send(Some((Some(h), payload)));
                            }
                        }
                        Ok(_) => break,
                        Err(_) => break 'read,
                    }
                }
                match rd.read_buf(&mut buf).await {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
            // Fail every waiting call: dropping the senders closes them.
            w2.lock().unwrap_or_else(|p| p.into_inner()).take();
        });
        let live = Arc::new(Live { tx, waiters });
        *slot = Some(live.clone());
        Ok((live, true))
    }

    pub(super) async fn call(
        &self,
        cfg: &Config,
        frame: Bytes,
        seq_id: i32,
        oneway: bool,
    ) -> Result<Reply> {
        let (live, dialed) = self.live(cfg).await?;
        match call_on(&live, frame.clone(), seq_id, oneway).await {
            // No reply came on a reused connection: it was closed under us.
            // Its reader or writer has ended, so `live` dials a new one.
            Err(e) if e.is_closed() && !dialed => {
                let (live, _) = self.live(cfg).await?;
                call_on(&live, frame, seq_id, oneway).await
            }
            r => r,
        }
    }
}

/// Sends one call on `live` and waits for its reply; `Error::closed` when
/// the connection ended before the reply.
async fn call_on(live: &Live, frame: Bytes, seq_id: i32, oneway: bool) -> Result<Reply> {
    let rx = if oneway {
        None
    } else {
        let (tx, rx) = oneshot::channel();
        match live
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            Some(m) => m.insert(seq_id, tx),
            None => return Err(Error::closed()),
        };
        Some(rx)
    };
    // If this call is dropped (RPC timeout, caller gone), forget its
    // waiter so the map does not grow with replies that never come.
    let _forget = rx.is_some().then(|| Forget {
        waiters: live.waiters.clone(),
        seq_id,
    });
    if live.tx.send(frame).await.is_err() {
        return Err(Error::closed());
    }
    match rx {
        None => Ok(None),
        Some(rx) => rx.await.map_err(|_| Error::closed()),
    }
}
