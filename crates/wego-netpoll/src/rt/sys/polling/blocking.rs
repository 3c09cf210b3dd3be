//! The blocking pool of a polling runtime: threads started on demand up to
//! a cap, that exit after 10 s without work.
//!
//! A blocking call is an `async-task` task whose schedule function queues
//! its runnable here; a pool thread runs it once, which calls the closure.
//! So `spawn_blocking` returns the same [`JoinHandle`] as `spawn`, aborting
//! a call that has not started yet cancels it, and a panic in the closure
//! reaches the handle as a [`JoinError`](crate::rt::JoinError).
//!
//! A call goes to an idle thread only if one is waiting and not yet
//! claimed: `push` moves a thread from `idle` to `notified` as it wakes it,
//! so the next call, pushed before that thread has woken, starts a thread
//! of its own (up to the cap) instead of queueing behind the first, as
//! tokio's pool does. Calls that wait for each other therefore cannot
//! deadlock below the cap.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_task::Runnable;

use super::task::{self, Header, JoinHandle};

/// How long an idle pool thread waits for work before it exits.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The blocking pool.
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    work: Condvar,
    exited: Condvar,
    max_threads: usize,
    name: String,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Runnable>,
    threads: usize,
    /// Threads waiting for work and not claimed by a queued call.
    idle: usize,
    /// Threads woken for a queued call that have not taken it yet.
    notified: usize,
    shutdown: bool,
}

impl Pool {
    pub(crate) fn new(name: String, max_threads: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                exited: Condvar::new(),
                max_threads: max_threads.max(1),
                name,
            }),
        }
    }

    /// Runs `f` on a pool thread; `enter` runs first on each new thread
    /// (it installs the runtime context).
    pub(crate) fn spawn<F, R>(&self, f: F, enter: Arc<dyn Fn() + Send + Sync>) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let schedule = move |runnable: Runnable| Inner::push(&inner, runnable, &enter);
        let mut f = Some(f);
        let future = std::future::poll_fn(move |_| {
            let f = f.take().expect("invariant: a blocking task runs once");
            std::task::Poll::Ready(f())
        });
        let (runnable, handle) = task::create(future, schedule, Arc::new(Header::default()), || {});
        runnable.schedule();
        handle
    }

    /// Stops the pool: queued calls that have not started are dropped
    /// (cancelled), and the caller waits for running ones until `timeout`
    /// (for ever if `None`).
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) {
        let dropped = {
            let mut st = self
                .inner
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            st.shutdown = true;
            std::mem::take(&mut st.queue)
        };
        drop(dropped);
        self.inner.work.notify_all();
        // A timeout too long for an `Instant` (`Duration::MAX`) waits for
        // ever, as `None` does.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut st = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while st.threads > 0 {
            st = match deadline {
                None => self
                    .inner
                    .exited
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return;
                    }
                    self.inner
                        .exited
                        .wait_timeout(st, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

impl Inner {
    fn push(this: &Arc<Self>, runnable: Runnable, enter: &Arc<dyn Fn() + Send + Sync>) {
        let mut st = this.state.lock().unwrap_or_else(PoisonError::into_inner);
        if st.shutdown {
            drop(st);
            drop(runnable);
            return;
        }
        st.queue.push_back(runnable);
        if st.idle > 0 {
            st.idle -= 1;
            st.notified += 1;
            drop(st);
            this.work.notify_one();
            return;
        }
        if st.threads >= this.max_threads {
            return;
        }
        st.threads += 1;
        drop(st);
        let inner = Arc::clone(this);
        let enter = Arc::clone(enter);
        let spawned = std::thread::Builder::new()
            .name(format!("{}-blk", this.name))
            .spawn(move || {
                enter();
                inner.work_loop();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start a blocking-pool thread");
            let mut st = this.state.lock().unwrap_or_else(PoisonError::into_inner);
            st.threads -= 1;
            // Another thread may still take the call; with none, it waits
            // for the next successful start.
        }
    }

    fn work_loop(&self) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        'work: loop {
            if let Some(runnable) = st.queue.pop_front() {
                drop(st);
                runnable.run();
                st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            loop {
                let (next, timed_out) = self
                    .work
                    .wait_timeout(st, KEEP_ALIVE)
                    .unwrap_or_else(PoisonError::into_inner);
                st = next;
                if st.notified > 0 {
                    // Claimed by `push`, which took it out of `idle`.
                    st.notified -= 1;
                    continue 'work;
                }
                if st.shutdown || timed_out.timed_out() {
                    st.idle -= 1;
                    if st.queue.is_empty() {
                        break 'work;
                    }
                    continue 'work;
                }
                // A spurious wake-up: wait again.
            }
        }
        st.threads -= 1;
        drop(st);
        self.exited.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::{Arc, PoisonError};
    use std::time::Duration;

    use super::Pool;

    fn idle(pool: &Pool) -> usize {
        pool.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .idle
    }

    #[test]
    fn calls_spawned_back_to_back_do_not_share_one_idle_thread() {
        let pool = Pool::new("blocking-test".to_owned(), 8);
        let enter: Arc<dyn Fn() + Send + Sync> = Arc::new(|| {});
        // One thread, idle: it ran a call and waits for the next.
        let (done, finished) = mpsc::channel();
        drop(pool.spawn(move || done.send(()), Arc::clone(&enter)));
        finished.recv().unwrap();
        while idle(&pool) == 0 {
            std::thread::yield_now();
        }
        // A waits for B: queued behind A on that one thread, B never runs.
        let (b_tx, b_rx) = mpsc::channel();
        let (a_tx, a_rx) = mpsc::channel();
        drop(pool.spawn(
            move || a_tx.send(b_rx.recv_timeout(Duration::from_secs(10))),
            Arc::clone(&enter),
        ));
        drop(pool.spawn(move || b_tx.send(()), Arc::clone(&enter)));
        assert_eq!(
            a_rx.recv().unwrap(),
            Ok(()),
            "the second call waited behind the first"
        );
        pool.shutdown(None);
    }
}
