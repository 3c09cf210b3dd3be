//! A long-connection pool for one address.
//!
//! Idle connections wait on a LIFO stack. Before reuse a connection is
//! checked with `is_active()` (the peer's close is seen without a read) and
//! its idle age; a stale one is dropped. Should a reused connection still
//! turn out stale, the call is retried once on a freshly dialed connection
//! when the server cannot have run it: the write failed, so the request
//! did not go out whole. A request written whole to a connection that
//! then closed with no reply byte may have been read and run by the
//! server (it may have crashed, or closed after reading); that call is
//! retried only when it is idempotent (`conn::Failed::may_resend`).
//!
//! Every connection that finishes a call cleanly goes back to the pool while
//! fewer than `max_idle` wait, including connections dialed under load: a
//! connection is never dropped just because an idle one freed up first
//! (volo-thrift 0.12 drops it, and its throughput collapses under churn).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use wego_netpoll::{ConnInfo, rt};

use super::conn::{self, Link, Reply};
use super::{Config, Mode};
use crate::Result;

#[derive(Debug)]
pub(super) struct Pool {
    idle: Mutex<Vec<(Link, Instant)>>,
    dials: AtomicUsize,
}

impl Pool {
    pub(super) fn new() -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            dials: AtomicUsize::new(0),
        }
    }

    pub(super) fn dials(&self) -> usize {
        self.dials.load(Ordering::Relaxed)
    }

    fn take_idle(&self, cfg: &Config) -> Option<Link> {
        let Mode::Pooled { idle_timeout, .. } = cfg.mode else {
            return None;
        };
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((link, since)) = idle.pop() {
            if rt::now().saturating_duration_since(since) < idle_timeout
                && link.conn.is_active()
                && link.buf.is_empty()
            {
                return Some(link);
            }
        }
        None
    }

    fn put_back(&self, cfg: &Config, link: Link) {
        let Mode::Pooled { max_idle, .. } = cfg.mode else {
            return;
        };
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < max_idle {
            idle.push((link, rt::now()));
        }
    }

    async fn dial(&self, cfg: &Config) -> Result<Link> {
        let link = conn::dial(cfg).await?;
        self.dials.fetch_add(1, Ordering::Relaxed);
        Ok(link)
    }

    pub(super) async fn call(
        &self,
        cfg: &Config,
        frame: Bytes,
        oneway: bool,
        idempotent: bool,
    ) -> Result<Reply> {
        if let Some(mut link) = self.take_idle(cfg) {
            match conn::roundtrip(cfg, &mut link, &frame, oneway).await {
                Ok(r) => {
                    self.put_back(cfg, link);
                    return Ok(r);
                }
                Err(f) if f.may_resend(idempotent) => {
                    tracing::debug!(error = %f.error, "stale pooled connection, redialing");
                }
                Err(f) => return Err(f.error),
            }
        }
        let mut link = self.dial(cfg).await?;
        let r = conn::roundtrip(cfg, &mut link, &frame, oneway)
            .await
            .map_err(|f| f.error)?;
        self.put_back(cfg, link);
        Ok(r)
    }
}
