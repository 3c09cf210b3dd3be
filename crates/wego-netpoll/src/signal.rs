//! Waiting for the process to be asked to stop: SIGTERM or ctrl-c, on
//! either backend.
//!
//! The polling backend has no tokio reactor to deliver signals, so the
//! signals are awaited on a one-thread tokio runtime of their own, on a
//! thread of its own; the future this module returns is woken from there
//! through a oneshot channel and can be awaited on any backend (or none).

use std::future::Future;
use std::sync::mpsc::Sender;

use tokio::sync::oneshot;

/// Resolves when the process gets SIGTERM or ctrl-c (SIGINT), whichever
/// comes first; on targets other than Unix, ctrl-c only.
///
/// The handlers are installed on a thread named `signals` right after the
/// call, whether or not the future is polled yet: a signal that comes
/// after that and before the first poll is kept (one that comes sooner
/// has its default effect). If no handler can be installed (no thread, no
/// runtime, the signal refused), the reason is logged with `tracing` and
/// the future never resolves: the process then stops the way it would
/// without a handler.
///
/// ```no_run
/// # async fn serve() {}
/// # async fn run() {
/// tokio::select! {
///     () = serve() => {}
///     () = wego_netpoll::signal::terminated() => println!("shutting down"),
/// }
/// # }
/// ```
pub fn terminated() -> impl Future<Output = ()> + Send + 'static {
    let (tx, rx) = oneshot::channel();
    start(tx, None);
    async move {
        if rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Installs the handlers on the `signals` thread; `fired` is sent to when a
/// signal arrives, `ready` (if given) once the handlers are installed.
fn start(fired: oneshot::Sender<()>, ready: Option<Sender<()>>) {
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    tracing::warn!(error = %e, "no signal handler: no runtime");
                    return;
                }
            };
            runtime.block_on(async move {
                match wait(ready).await {
                    Ok(()) => {
                        let _ = fired.send(());
                    }
                    Err(e) => tracing::warn!(error = %e, "no signal handler"),
                }
            });
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no signal handler: no thread");
    }
}

/// Installs the handlers, says so on `ready`, and waits for one to fire.
#[cfg(unix)]
async fn wait(ready: Option<Sender<()>>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    if let Some(ready) = ready {
        let _ = ready.send(());
    }
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// Installs the handler, says so on `ready`, and waits for it to fire.
#[cfg(not(unix))]
async fn wait(ready: Option<Sender<()>>) -> std::io::Result<()> {
    let ctrl_c = tokio::signal::ctrl_c();
    if let Some(ready) = ready {
        let _ = ready.send(());
    }
    ctrl_c.await
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn sigterm_resolves_it() {
        let (tx, rx) = oneshot::channel();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        start(tx, Some(ready_tx));
        // The handlers are installed: SIGTERM no longer ends the process.
        ready.recv().expect("the handlers are installed");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime
            .block_on(rx)
            .expect("SIGTERM fires the terminated future");
    }
}
