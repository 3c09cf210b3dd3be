//! A token-bucket QPS limiter.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use tower_layer::Layer;
use tower_service::Service;
use wego_netpoll::rt;

use crate::Error;

/// A token bucket: `rate` tokens per second, at most `burst` stored.
///
/// It refills on the runtime's clock ([`rt::now`]), so a paused test clock
/// drives it.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket refilled at `rate` per second holding at most `burst`
    /// (at least 1).
    pub fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate: f64::from(rate),
            burst,
            state: Mutex::new((burst, rt::now())),
        }
    }

    /// Takes a token; false when the bucket is empty.
    pub fn try_take(&self) -> bool {
        self.try_take_at(rt::now())
    }

    pub(crate) fn try_take_at(&self, now: Instant) -> bool {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(s.1).as_secs_f64();
        s.0 = (s.0 + elapsed * self.rate).min(self.burst);
        s.1 = now.max(s.1);
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Refuses calls beyond a QPS with [`Error::is_rate_limited`] (the protocol
/// maps it to HTTP 429, a Thrift application exception, gRPC
/// `RESOURCE_EXHAUSTED`). One bucket is shared by every clone of the service.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    bucket: Arc<TokenBucket>,
}

impl RateLimitLayer {
    /// `qps` calls per second, with bursts of up to `burst`.
    pub fn new(qps: u32, burst: u32) -> Self {
        RateLimitLayer {
            bucket: Arc::new(TokenBucket::new(qps, burst)),
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;
    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            bucket: self.bucket.clone(),
        }
    }
}

/// A service behind a token bucket.
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    bucket: Arc<TokenBucket>,
}

impl<S, Req> Service<Req> for RateLimit<S>
where
    S: Service<Req>,
    S::Future: Send + 'static,
    S::Error: From<Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if !self.bucket.try_take() {
            return Box::pin(async { Err(Error::rate_limited().into()) });
        }
        Box::pin(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_burst_then_rate() {
        let b = TokenBucket::new(10, 5);
        let t = Instant::now();
        assert_eq!((0..20).filter(|_| b.try_take_at(t)).count(), 5);
        let t1 = t + Duration::from_millis(500);
        assert_eq!(
            (0..20).filter(|_| b.try_take_at(t1)).count(),
            5,
            "5 tokens in 0.5 s at 10/s"
        );
        let t2 = t1 + Duration::from_secs(100);
        assert_eq!(
            (0..20).filter(|_| b.try_take_at(t2)).count(),
            5,
            "capped at burst"
        );
    }
}
