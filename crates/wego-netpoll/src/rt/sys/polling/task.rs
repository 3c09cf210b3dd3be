//! Tasks of the polling backend: the `async-task` harness around a future,
//! abort, panic capture and the join handle.
//!
//! A task is an `async_task` allocation holding a [`TaskFuture`]: the user's
//! future plus a [`Header`] shared with the [`JoinHandle`] and with the
//! owning loop's task list. Aborting sets the header's flag and wakes the
//! task; its next poll returns [`Outcome::Cancelled`] without polling the
//! user's future, and `async-task` drops that future right there, on the
//! thread that runs the task. Shutdown aborts every task in a loop's list the
//! same way, so futures are dropped on their own loop.
//!
//! The user's future is dropped under `catch_unwind` on every path, as
//! tokio's harness does: by the task's poll when it ends (aborted, done or
//! panicked) and by [`TaskFuture`]'s own drop otherwise (a runnable
//! dropped unrun by a stopped loop). A destructor's panic never unwinds
//! into the loop, which `async-task` would turn into a process abort; on
//! an abort it is reported as the task's panic, as on tokio.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use async_task::{FallibleTask, Runnable};
use pin_project_lite::pin_project;

/// A panic payload.
pub(crate) type Panic = Box<dyn Any + Send + 'static>;

/// How a task ended.
pub(crate) enum Outcome<T> {
    Done(T),
    Panicked(Panic),
    Cancelled,
}

/// State shared by a task, its join handle and its loop's task list.
#[derive(Default)]
pub(crate) struct Header {
    aborted: AtomicBool,
    /// The task's waker, set at its first poll (an `async-task` waker names
    /// the task, so it never changes).
    waker: Mutex<Option<Waker>>,
}

impl Header {
    /// Marks the task aborted and wakes it so that it ends at its next poll.
    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Runs `drop` when the task's future is dropped (completed, cancelled or
/// dropped with its runnable).
pub(crate) struct OnDrop<D: FnOnce()>(Option<D>);

impl<D: FnOnce()> OnDrop<D> {
    pub(crate) fn new(d: D) -> Self {
        Self(Some(d))
    }
}

impl<D: FnOnce()> Drop for OnDrop<D> {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            d();
        }
    }
}

pin_project! {
    /// The future `async-task` runs: the user's future, abort and panics.
    pub(crate) struct TaskFuture<F, D: FnOnce()> {
        // `None` once dropped, which the task does itself (see the module
        // docs).
        #[pin]
        inner: Option<F>,
        header: Arc<Header>,
        registered: bool,
        _guard: OnDrop<D>,
    }

    impl<F, D: FnOnce()> PinnedDrop for TaskFuture<F, D> {
        fn drop(this: Pin<&mut Self>) {
            // A runnable dropped unrun: nobody awaits a panic here.
            let _ = drop_inner(this.project().inner);
        }
    }
}

/// Drops the user's future in place, catching a panic of its destructor.
fn drop_inner<F>(mut inner: Pin<&mut Option<F>>) -> Result<(), Panic> {
    catch_unwind(AssertUnwindSafe(|| inner.set(None)))
}

impl<F: Future, D: FnOnce()> Future for TaskFuture<F, D> {
    type Output = Outcome<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut inner = this.inner;
        // The waker first, then the flag: an abort from another thread
        // either finds the waker (under its lock) and wakes the task, or
        // set the flag before that lock was taken, and this load sees it.
        if !*this.registered {
            *this
                .header
                .waker
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
            *this.registered = true;
        }
        if this.header.aborted.load(Ordering::Acquire) {
            return Poll::Ready(match drop_inner(inner) {
                Ok(()) => Outcome::Cancelled,
                Err(panic) => Outcome::Panicked(panic),
            });
        }
        let Some(future) = inner.as_mut().as_pin_mut() else {
            // Polled after it ended: `async-task` never does.
            return Poll::Pending;
        };
        let out = match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(v)) => Outcome::Done(v),
            Ok(Poll::Pending) => return Poll::Pending,
            Err(panic) => Outcome::Panicked(panic),
        };
        // The task's outcome stands; a panic of the spent future's
        // destructor is dropped, as tokio drops it.
        let _ = drop_inner(inner);
        Poll::Ready(out)
    }
}

/// Creates a task whose runnables go to `schedule`; `on_drop` runs when its
/// future is dropped. The caller schedules the returned runnable.
pub(crate) fn create<F, S, D>(
    future: F,
    schedule: S,
    header: Arc<Header>,
    on_drop: D,
) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Fn(Runnable) + Send + Sync + 'static,
    D: FnOnce() + Send + 'static,
{
    let future = TaskFuture {
        inner: Some(future),
        header: Arc::clone(&header),
        registered: false,
        _guard: OnDrop::new(on_drop),
    };
    let (runnable, task) = async_task::spawn(future, schedule);
    (
        runnable,
        JoinHandle {
            task: Some(task.fallible()),
            header,
        },
    )
}

/// The polling backend's join handle; the facade's
/// [`JoinHandle`](crate::rt::JoinHandle) wraps it.
pub(crate) struct JoinHandle<T> {
    task: Option<FallibleTask<Outcome<T>>>,
    header: Arc<Header>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn abort(&self) {
        self.header.abort();
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(FallibleTask::is_finished)
    }

    /// Polls for the outcome; a task dropped without finishing (its runtime
    /// shut down) reads as cancelled.
    pub(crate) fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Outcome<T>> {
        let Some(task) = self.task.as_mut() else {
            return Poll::Ready(Outcome::Cancelled);
        };
        match Pin::new(task).poll(cx) {
            Poll::Ready(out) => {
                self.task = None;
                Poll::Ready(out.unwrap_or(Outcome::Cancelled))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // Dropping a handle detaches its task, as tokio's does.
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::{Arc, Mutex, PoisonError};

    use async_task::Runnable;

    use super::{Header, JoinHandle, create};

    /// Spins until `at` holds `value`, yielding now and then to a thread
    /// that has no core.
    fn wait_for(at: &AtomicU32, value: u32) {
        let mut spins = 0u32;
        while at.load(Ordering::Acquire) != value {
            spins += 1;
            if spins.is_multiple_of(256) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Runs a task's first poll on this thread while another thread aborts
    /// it, many times, with the abort swept across the poll (both threads
    /// spin, so that they start within a cache-line transfer of each
    /// other): each aborted task must end at its first poll or be
    /// scheduled again, so that its next poll sees the abort.
    #[test]
    fn an_abort_racing_the_first_poll_is_not_lost() {
        const ROUNDS: u32 = 200_000;
        let queue: Arc<Mutex<Vec<Runnable>>> = Arc::default();
        let slot: Arc<Mutex<Option<JoinHandle<()>>>> = Arc::default();
        // `go` = round + 1: abort that round's task; `done` = round + 1: aborted.
        let go = Arc::new(AtomicU32::new(0));
        let done = Arc::new(AtomicU32::new(0));
        let aborter = {
            let (slot, go, done) = (Arc::clone(&slot), Arc::clone(&go), Arc::clone(&done));
            std::thread::spawn(move || {
                for round in 1..=ROUNDS {
                    wait_for(&go, round);
                    for _ in 0..(round % 97) {
                        std::hint::spin_loop();
                    }
                    let handle = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                    handle.expect("the round's handle").abort();
                    done.store(round, Ordering::Release);
                }
            })
        };
        let mut lost = 0;
        for round in 1..=ROUNDS {
            let schedule = {
                let queue = Arc::clone(&queue);
                move |r: Runnable| queue.lock().unwrap_or_else(PoisonError::into_inner).push(r)
            };
            let ended = Arc::new(AtomicBool::new(false));
            let on_drop = {
                let ended = Arc::clone(&ended);
                move || ended.store(true, Ordering::SeqCst)
            };
            let (runnable, handle) = create(
                std::future::pending::<()>(),
                schedule,
                Arc::new(Header::default()),
                on_drop,
            );
            *slot.lock().unwrap() = Some(handle);
            go.store(round, Ordering::Release);
            for _ in 0..(round % 7) {
                std::hint::spin_loop();
            }
            runnable.run();
            wait_for(&done, round);
            let rescheduled = std::mem::take(&mut *queue.lock().unwrap());
            if rescheduled.is_empty() && !ended.load(Ordering::SeqCst) {
                lost += 1;
            }
            for r in rescheduled {
                r.run();
            }
        }
        aborter.join().unwrap();
        assert_eq!(lost, 0, "{lost} of {ROUNDS} aborts were lost");
    }
}
