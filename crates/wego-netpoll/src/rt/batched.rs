//! [`Batched`]: a future polled only after the tasks ready with it have run.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Wraps `fut` so that each time it is woken, its poll waits until the
/// tasks already ready to run have run: see [`Batched`].
pub fn batched<F: Future>(fut: F) -> Batched<F> {
    Batched {
        inner: fut,
        yielded: false,
    }
}

pin_project_lite::pin_project! {
    /// A future whose every poll is put behind the tasks that are ready with
    /// it: woken, it first wakes itself again and returns `Pending`, which
    /// both backends schedule at the back of the run queue, and polls the
    /// inner future on the next turn.
    ///
    /// This is for connection drivers that many request tasks wake in a row.
    /// An HTTP/2 connection woken by each of a hundred request tasks would
    /// otherwise run right after the first (tokio runs a task just woken by
    /// the running one next) and write one request per system call; batched,
    /// it runs once after all hundred have queued their frames and writes
    /// them together. The price is one extra poll per wake-up.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Batched<F> {
        #[pin]
        inner: F,
        yielded: bool,
    }
}

impl<F: Future> Future for Batched<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if !*this.yielded {
            *this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        *this.yielded = false;
        this.inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn every_poll_of_the_inner_future_follows_one_yield() {
        let wakes = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        let polled = AtomicUsize::new(0);
        let mut fut = std::pin::pin!(batched(std::future::poll_fn(|_| {
            if polled.fetch_add(1, Ordering::SeqCst) == 1 {
                Poll::Ready("done")
            } else {
                Poll::Pending
            }
        })));
        // Woken: yields first, asking to be polled again, and leaves the
        // inner future alone.
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            (
                wakes.0.load(Ordering::SeqCst),
                polled.load(Ordering::SeqCst)
            ),
            (1, 0)
        );
        // The next turn polls it.
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            (
                wakes.0.load(Ordering::SeqCst),
                polled.load(Ordering::SeqCst)
            ),
            (1, 1)
        );
        // Woken again: one more yield, then the inner future finishes.
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready("done"));
        assert_eq!(polled.load(Ordering::SeqCst), 2);
    }
}
