//! Mock services, a protocol-like error type and paused-clock helpers for
//! the tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tower_service::Service;
use wego_governance::{Call, Classify, Instance};
use wego_netpoll::rt::Backend;
use wego_netpoll::{Address, rt};

/// A protocol's error: transport failures are retryable breaker failures,
/// business errors are neither, governance refusals keep their meaning.
#[derive(Debug)]
pub(crate) enum TestError {
    Transport,
    Business,
    Gov(wego_governance::Error),
}

impl From<wego_governance::Error> for TestError {
    fn from(e: wego_governance::Error) -> Self {
        TestError::Gov(e)
    }
}

impl Classify for TestError {
    fn is_retryable(&self) -> bool {
        match self {
            TestError::Transport => true,
            TestError::Business => false,
            TestError::Gov(e) => e.is_retryable(),
        }
    }
    fn is_breaker_failure(&self) -> bool {
        match self {
            TestError::Transport => true,
            TestError::Business => false,
            TestError::Gov(e) => e.is_breaker_failure(),
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            TestError::Transport => "transport",
            TestError::Business => "business",
            TestError::Gov(e) => e.kind(),
        }
    }
}

pub(crate) type BoxFut<T> = Pin<Box<dyn Future<Output = Result<T, TestError>> + Send>>;

/// A service made of a closure returning a boxed future.
pub(crate) struct FnService<R>(pub Arc<dyn Fn(Call<u32>) -> BoxFut<R> + Send + Sync>);

impl<R> Clone for FnService<R> {
    fn clone(&self) -> Self {
        FnService(self.0.clone())
    }
}

impl<R> Service<Call<u32>> for FnService<R> {
    type Response = R;
    type Error = TestError;
    type Future = BoxFut<R>;
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), TestError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Call<u32>) -> BoxFut<R> {
        (self.0)(req)
    }
}

pub(crate) fn service_fn<R>(
    f: impl Fn(Call<u32>) -> BoxFut<R> + Send + Sync + 'static,
) -> FnService<R> {
    FnService(Arc::new(f))
}

pub(crate) fn addr(port: u16) -> Address {
    Address::Tcp(([127, 0, 0, 1], port).into())
}

pub(crate) fn inst(port: u16) -> Instance {
    Instance::new(addr(port))
}

pub(crate) fn call(n: u32) -> Call<u32> {
    Call::new("echo", "say", n)
}

/// A fleet of fake instances: each answers with its port, or fails with a
/// transport error while marked down. Counts calls per instance.
#[derive(Clone, Default)]
pub(crate) struct Fleet {
    down: Arc<Mutex<Vec<u16>>>,
    hits: Arc<Mutex<std::collections::BTreeMap<u16, usize>>>,
    pub(crate) total: Arc<AtomicUsize>,
}

impl Fleet {
    pub(crate) fn set_down(&self, port: u16, down: bool) {
        let mut d = self.down.lock().unwrap();
        d.retain(|p| *p != port);
        if down {
            d.push(port);
        }
    }
    pub(crate) fn hits(&self, port: u16) -> usize {
        self.hits.lock().unwrap().get(&port).copied().unwrap_or(0)
    }
    pub(crate) fn reset(&self) {
        self.hits.lock().unwrap().clear();
    }

    /// The per-instance factory for a LoadBalanceLayer.
    pub(crate) fn make(
        &self,
    ) -> impl Fn(&Instance) -> FnService<u16> + Clone + Send + Sync + 'static {
        let fleet = self.clone();
        move |i: &Instance| {
            let port = i.address.as_tcp().unwrap().port();
            let fleet = fleet.clone();
            service_fn(move |_req| {
                fleet.total.fetch_add(1, Ordering::Relaxed);
                *fleet.hits.lock().unwrap().entry(port).or_default() += 1;
                let down = fleet.down.lock().unwrap().contains(&port);
                Box::pin(async move {
                    if down {
                        Err(TestError::Transport)
                    } else {
                        Ok(port)
                    }
                })
            })
        }
    }
}

/// Waits for readiness, then calls.
pub(crate) async fn send<S, R>(svc: &mut S, req: R) -> Result<S::Response, S::Error>
where
    S: Service<R>,
{
    futures_util::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
    svc.call(req).await
}

/// Waits until `done()` holds, checking it every few milliseconds; panics
/// naming `what` once `limit` has passed. The limit only catches a hang:
/// give it ample room, since a loaded machine is slow, not wrong.
pub(crate) async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        rt::sleep(Duration::from_millis(5)).await;
    }
}

/// The step by which [`drive`] moves the paused clock.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// How late a timer may fire on `backend`'s paused clock: the polling
/// backend fires it at its deadline; tokio's timer wheel counts whole
/// milliseconds, so it may fire up to 1 ms later.
pub(crate) fn timer_slack(backend: Backend) -> Duration {
    if backend == Backend::Tokio {
        Duration::from_millis(1)
    } else {
        Duration::ZERO
    }
}

/// Polls `fut` once: its output if it is ready.
pub(crate) async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Option<F::Output> {
    match std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// Runs `fut` to its end on the paused clock, moving the clock one
/// [`TICK`] at a time while `fut` waits; panics once `limit` has passed on
/// the clock.
pub(crate) async fn drive<F: Future>(fut: F, limit: Duration) -> F::Output {
    let start = rt::now();
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Some(out) = poll_once(&mut fut).await {
            return out;
        }
        assert!(
            rt::now() - start < limit,
            "still waiting after {limit:?} on the clock"
        );
        rt::advance(TICK).await.unwrap();
    }
}

/// Moves the paused clock an hour past the system clock, so that a
/// deadline taken from the system clock by mistake has passed already.
pub(crate) async fn run_ahead_of_the_system_clock() {
    rt::advance(Duration::from_secs(3600)).await.unwrap();
}
