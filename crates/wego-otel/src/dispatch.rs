//! Runs export futures on the wego runtime.
//!
//! The SDK's batch span processor and periodic metric reader export from
//! threads of their own, polling the exporter's future with a plain
//! executor: there is no reactor there to dial a socket on. A
//! [`Dispatcher`] is started on the wego runtime (either backend) and
//! spawns every future it is sent onto that runtime; the caller waits on
//! a oneshot channel, which works on any thread.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};
use wego_netpoll::{BoxFuture, rt};

use crate::{Error, Result};

/// Exports waiting for the runtime: the SDK sends one batch at a time per
/// exporter, so a short queue only absorbs a flush racing a timer.
const QUEUE: usize = 16;

/// A handle that runs futures on the runtime it was started on.
#[derive(Debug, Clone)]
pub(crate) struct Dispatcher {
    tx: mpsc::Sender<BoxFuture<'static, ()>>,
}

impl Dispatcher {
    /// Starts the dispatching task on the current wego runtime.
    ///
    /// # Panics
    ///
    /// Outside a wego runtime, as `wego_netpoll::rt::spawn`.
    pub(crate) fn start() -> Dispatcher {
        let (tx, mut rx) = mpsc::channel::<BoxFuture<'static, ()>>(QUEUE);
        rt::spawn(async move {
            while let Some(job) = rx.recv().await {
                rt::spawn(job);
            }
        });
        Dispatcher { tx }
    }

    /// Runs `fut` on the runtime and returns its output.
    ///
    /// # Errors
    ///
    /// [`Error::is_runtime`] when the runtime stopped or the queue is full.
    pub(crate) async fn run<T, F>(&self, fut: F) -> Result<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = oneshot::channel();
        self.tx
            .try_send(Box::pin(async move {
                let _ = done.send(fut.await);
            }))
            .map_err(|_| Error::runtime())?;
        result.await.map_err(|_| Error::runtime())
    }
}
