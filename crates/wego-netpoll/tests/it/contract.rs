//! The backend contract at the top of `rt/mod.rs`, checked on every
//! backend and flavour: tasks (spawn, abort, panics, blocking pool),
//! timers, sockets (vectored writes, half-close, liveness) and entry
//! (shutdown joins the threads and drops the tasks).

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::rt::{self, Backend, Flavor, Runtime};
use wego_netpoll::{Dialer, Listener};
use wego_test_support::{each_backend, loopback, runs};

/// Counts drops, to see that a future was dropped.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn enabled_backends_parse_and_polling_schedules_per_loop_only() {
    for &b in Backend::enabled() {
        assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        assert_eq!(b.flavors()[0], Flavor::PerCore);
    }
    assert_eq!(Backend::default(), Backend::enabled()[0]);
    let err = "epoll".parse::<Backend>().unwrap_err();
    assert!(
        err.is_runtime() && err.to_string().contains("epoll"),
        "{err}"
    );
    // A backend left out of the build is named as such, with its feature.
    for (name, enabled) in [
        ("tokio", cfg!(feature = "tokio")),
        ("polling", cfg!(feature = "polling")),
    ] {
        if !enabled {
            let err = name.parse::<Backend>().unwrap_err();
            let want = format!("this binary was built without the {name} backend");
            assert!(err.to_string().contains(&want), "{err}");
        }
    }
    #[cfg(all(feature = "tokio", feature = "polling"))]
    assert_eq!(Backend::enabled(), [Backend::Tokio, Backend::Polling]);
    #[cfg(feature = "polling")]
    {
        assert_eq!(Backend::Polling.flavors(), [Flavor::PerCore]);
        let err = Runtime::builder()
            .backend(Backend::Polling)
            .flavor(Flavor::WorkStealing)
            .build()
            .unwrap_err();
        assert!(err.is_runtime(), "{err}");
        assert!(
            err.to_string().contains("no work-stealing flavour"),
            "{err}"
        );
    }
}

// 1. Tasks: abort drops the future and reports cancelled, before or after
// the first poll; panics are reported and the worker lives on.
each_backend!(abort_cancels_and_drops_the_future, |_backend| async move {
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(Arc::clone(&dropped));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let task = rt::spawn(async move {
        let _guard = guard;
        let _ = started_tx.send(());
        std::future::pending::<()>().await;
    });
    started_rx.await.unwrap();
    assert!(!task.is_finished());
    task.abort();
    let err = task.await.unwrap_err();
    assert!(err.is_cancelled() && !err.is_panic(), "{err:?}");
    assert_eq!(dropped.load(Ordering::SeqCst), 1);

    // Aborted before it ever ran.
    let guard = DropCount(Arc::clone(&dropped));
    let task = rt::spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(dropped.load(Ordering::SeqCst), 2);

    let err = rt::spawn(async { panic!("boom") }).await.unwrap_err();
    assert!(err.is_panic());
    let payload = err.try_into_panic().unwrap();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(rt::spawn(async { 7 }).await.unwrap(), 7);
});

// 1. Tasks: a future whose destructor panics when the task is aborted
// reports a panic, and its worker lives on to run the next task. The
// checks use std channels with a timeout: on a dead worker no timer of the
// runtime would fire.
#[test]
fn a_destructor_that_panics_on_abort_does_not_kill_the_worker() {
    struct Boom;
    impl Drop for Boom {
        fn drop(&mut self) {
            panic!("drop boom");
        }
    }
    for (backend, flavor) in runs() {
        let rt = Runtime::builder()
            .backend(backend)
            .flavor(flavor)
            .worker_threads(NonZeroUsize::MIN)
            .build()
            .unwrap();
        let (up_tx, up_rx) = std::sync::mpsc::channel();
        let task = rt.spawn(async move {
            let _boom = Boom;
            up_tx.send(()).unwrap();
            std::future::pending::<()>().await;
        });
        up_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        task.abort();
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(async move { tx.send(7).unwrap() });
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok(7),
            "the worker died on {backend} {flavor}"
        );
        let err = rt.block_on(task).unwrap_err();
        assert!(err.is_panic(), "on {backend} {flavor}: {err:?}");
    }
}

// 1. Tasks: wake-ups from other OS threads and the blocking pool.
each_backend!(
    wake_ups_cross_threads_and_blocking_calls_return,
    |_backend| async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        tx.send(t * 1000 + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut sum = 0u64;
        let mut n = 0;
        while let Some(v) = rx.recv().await {
            sum += u64::from(v);
            n += 1;
        }
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(n, 4000);
        assert_eq!(sum, (0..4000u64).sum());

        let calls: Vec<_> = (0..64u64)
            .map(|i| {
                rt::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_millis(1));
                    i * i
                })
            })
            .collect();
        let mut total = 0;
        for c in calls {
            total += c.await.unwrap();
        }
        assert_eq!(total, (0..64u64).map(|i| i * i).sum());
        // A blocking call may use the runtime: spawn and wait on a task.
        let nested = rt::spawn_blocking(|| rt::spawn(async { 5 })).await.unwrap();
        assert_eq!(nested.await.unwrap(), 5);
        let err = rt::spawn_blocking(|| panic!("blocking boom"))
            .await
            .unwrap_err();
        assert!(err.is_panic());
    }
);

// 2. Timers: a duration too long for an `Instant` means "never", as on
// tokio, which clamps such a deadline to a far future.
each_backend!(a_sleep_of_duration_max_never_fires, |_backend| async move {
    assert_eq!(rt::timeout(Duration::MAX, async { 5 }).await.unwrap(), 5);
    let mut sleep = std::pin::pin!(rt::sleep(Duration::MAX));
    let pending =
        std::future::poll_fn(|cx| std::task::Poll::Ready(sleep.as_mut().poll(cx).is_pending()))
            .await;
    assert!(pending && !sleep.is_elapsed());
    assert!(sleep.deadline() > rt::now() + Duration::from_secs(365 * 24 * 3600));
    // A deadline made from such a duration is as far, and as never.
    let year = Duration::from_secs(365 * 24 * 3600);
    let now = rt::now();
    assert!(rt::deadline_in(Duration::MAX) > now + year);
    assert!(rt::deadline_after(now, Duration::MAX) > now + year);
    assert_eq!(rt::deadline_after(now, year), now + year);
    assert!(rt::timeout_at(rt::deadline_in(Duration::MAX), async { 5 }).await == Ok(5));
});

/// Polls `iv` for a tick once: true if none is due.
async fn tick_pending(iv: &mut rt::Interval) -> bool {
    std::future::poll_fn(|cx| std::task::Poll::Ready(iv.poll_tick(cx).is_pending())).await
}

// 2. Timers: an interval whose period is too long for an `Instant` ticks
// once, at once, then never; a reset pushes its next tick as far.
each_backend!(
    an_interval_of_duration_max_ticks_once_then_never,
    |_backend| async move {
        let start = rt::now();
        let mut iv = rt::interval(Duration::MAX);
        assert!(iv.tick().await >= start);
        assert!(tick_pending(&mut iv).await, "a second tick came");
        iv.reset();
        assert!(tick_pending(&mut iv).await, "a tick came after the reset");
        assert_eq!(iv.period(), Duration::MAX);
    }
);

// 4. Entry: a shutdown that may wait for ever for blocking tasks
// (`Duration::MAX`) waits for them and returns.
#[test]
fn shutdown_timeout_of_duration_max_waits_for_blocking_tasks() {
    for (backend, flavor) in runs() {
        let rt = Runtime::builder()
            .backend(backend)
            .flavor(flavor)
            .worker_threads(NonZeroUsize::new(2).unwrap())
            .build()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let done = Arc::new(AtomicUsize::new(0));
        let d = Arc::clone(&done);
        let started = rt.block_on(rt.spawn(async move {
            let (started_tx, started_rx) = tokio::sync::oneshot::channel();
            drop(rt::spawn_blocking(move || {
                let _ = started_tx.send(());
                let _ = rx.recv();
                d.fetch_add(1, Ordering::SeqCst);
            }));
            started_rx.await.is_ok()
        }));
        assert!(started.unwrap(), "on {backend} {flavor}");
        // The blocking task ends once released; the shutdown waits for it.
        drop(tx);
        rt.shutdown_timeout(Duration::MAX);
        assert_eq!(done.load(Ordering::SeqCst), 1, "on {backend} {flavor}");
    }
}

// 2. Timers: never early; sleep, timeout and interval.
each_backend!(timers_never_fire_early, |_backend| async move {
    let mut sleeps = Vec::new();
    for i in 0..50u64 {
        sleeps.push(rt::spawn(async move {
            let d = Duration::from_micros(500 + i * 397);
            let deadline = rt::now() + d;
            rt::sleep_until(deadline).await;
            assert!(rt::now() >= deadline, "sleep_until fired early");
        }));
    }
    for s in sleeps {
        s.await.unwrap();
    }
    for i in 0..20u64 {
        let d = Duration::from_micros(300 + i * 211);
        let start = Instant::now();
        rt::sleep(d).await;
        assert!(start.elapsed() >= d, "sleep of {d:?} fired early");
    }
    let start = Instant::now();
    let never = std::future::pending::<()>();
    assert!(rt::timeout(Duration::from_millis(20), never).await.is_err());
    assert!(start.elapsed() >= Duration::from_millis(20));
    let mut iv = rt::interval(Duration::from_millis(5));
    let first = iv.tick().await;
    let second = iv.tick().await;
    assert!(second - first >= Duration::from_millis(5));
});

// 3. Sockets: vectored writes and half-close on Conn.
each_backend!(
    vectored_writes_and_half_close_reach_the_peer,
    |_backend| async move {
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let server = rt::spawn(async move {
            let mut conn = listener.accept().await.unwrap();
            let mut got = Vec::new();
            conn.read_to_end(&mut got).await.unwrap();
            // The client's write half is shut; ours still works.
            conn.write_all(&got).await.unwrap();
            conn.shutdown().await.unwrap();
        });
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        assert!(wego_netpoll::io::AsyncWrite::is_write_vectored(&conn));
        // One slice with bytes among empty ones goes as a plain write.
        let one = [&b""[..], &b"one:"[..], &b""[..]];
        let slices: Vec<std::io::IoSlice<'_>> =
            one.iter().map(|p| std::io::IoSlice::new(p)).collect();
        assert_eq!(conn.write_vectored(&slices).await.unwrap(), 4);
        let parts = [&b"head:"[..], &[9u8; 70_000][..], &b":tail"[..]];
        let mut slices: Vec<std::io::IoSlice<'_>> =
            parts.iter().map(|p| std::io::IoSlice::new(p)).collect();
        let mut left = &mut slices[..];
        while !left.is_empty() {
            let n = conn.write_vectored(left).await.unwrap();
            std::io::IoSlice::advance_slices(&mut left, n);
        }
        conn.shutdown().await.unwrap();
        let mut back = Vec::new();
        conn.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, [&b"one:"[..], &parts.concat()].concat());
        server.await.unwrap();
        assert!(!conn.is_active());
    }
);

// 3. Sockets: a reset peer turns is_active false without a read.
each_backend!(
    a_reset_turns_is_active_false_without_reading,
    |_backend| async move {
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let server = rt::spawn(async move {
            let conn = listener.accept().await.unwrap();
            go_rx.await.unwrap();
            socket2::SockRef::from(&conn)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(conn);
        });
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        // Registered with the poller and idle: active, no data, no event.
        let mut none = [0u8; 1];
        assert!(
            rt::timeout(Duration::from_millis(20), conn.read(&mut none))
                .await
                .is_err()
        );
        assert!(conn.is_active());
        go_tx.send(()).unwrap();
        server.await.unwrap();
        let mut active = true;
        for _ in 0..200 {
            active = conn.is_active();
            if !active {
                break;
            }
            rt::sleep(Duration::from_millis(5)).await;
        }
        assert!(!active, "is_active still true after a reset");
    }
);

// 4. Entry: dropping the runtime joins every worker thread and drops every
// task, including ones parked on a socket, a timer or a channel.
#[test]
fn dropping_a_runtime_joins_its_threads_and_drops_its_tasks() {
    for (backend, flavor) in runs() {
        let name = format!("wego-dj{}", &backend.name()[..1]);
        let rt = Runtime::builder()
            .backend(backend)
            .flavor(flavor)
            .worker_threads(NonZeroUsize::new(3).unwrap())
            .thread_name(name.clone())
            .build()
            .unwrap();
        let dropped = Arc::new(AtomicUsize::new(0));
        let (parked_tx, mut parked_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let listener = rt.block_on(Listener::bind(&wego_netpoll::Address::loopback()));
        let listener = Arc::new(listener.unwrap());
        let (_keep_tx, keep_rx) = tokio::sync::oneshot::channel::<()>();
        let keep_rx = Arc::new(tokio::sync::Mutex::new(Some(keep_rx)));
        for i in 0..30 {
            let guard = DropCount(Arc::clone(&dropped));
            let parked = parked_tx.clone();
            let listener = Arc::clone(&listener);
            let keep_rx = Arc::clone(&keep_rx);
            rt.spawn(async move {
                let _guard = guard;
                let _ = parked.send(());
                match i % 3 {
                    0 => rt::sleep(Duration::from_secs(3600)).await,
                    1 => {
                        let _ = listener.accept().await;
                    }
                    _ => {
                        let rx = keep_rx.lock().await.take();
                        if let Some(rx) = rx {
                            let _ = rx.await;
                        } else {
                            std::future::pending::<()>().await;
                        }
                    }
                }
            });
        }
        rt.block_on(async {
            for _ in 0..30 {
                parked_rx.recv().await.unwrap();
            }
        });
        let prefix = name.clone();
        let threads = |p: &str| {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|n| n.starts_with(p) && !n.trim_end().ends_with("blk"))
                .count()
        };
        // tokio names a worker thread when it starts running, which can be
        // after the tasks ran elsewhere: wait for the three to show.
        let deadline = Instant::now() + Duration::from_secs(30);
        while threads(&prefix) < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(threads(&prefix) >= 3, "on {backend} {flavor}");
        drop(rt);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            30,
            "tasks not dropped on {backend} {flavor}"
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while threads(&prefix) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(threads(&prefix), 0, "threads left on {backend} {flavor}");
    }
}

// 1. Tasks: many OS threads spawn into a runtime at once while tasks wake
// each other across loops.
#[test]
fn many_threads_spawn_and_wake_without_losing_a_task() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 1500;
    for (backend, flavor) in runs() {
        let rt = Runtime::builder()
            .backend(backend)
            .flavor(flavor)
            .worker_threads(NonZeroUsize::new(2).unwrap())
            .build()
            .unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                let (rt, done) = (&rt, Arc::clone(&done));
                s.spawn(move || {
                    let mut handles = Vec::with_capacity(PER_THREAD);
                    for i in 0..PER_THREAD {
                        let done = Arc::clone(&done);
                        handles.push(rt.spawn(async move {
                            // A ping-pong with a task on whichever loop the
                            // spawn lands, then a yield.
                            let (tx, rx) = tokio::sync::oneshot::channel();
                            let peer = rt::spawn(async move {
                                rt::yield_now().await;
                                tx.send(i).unwrap();
                            });
                            assert_eq!(rx.await.unwrap(), i);
                            peer.await.unwrap();
                            rt::yield_now().await;
                            done.fetch_add(1, Ordering::SeqCst);
                        }));
                    }
                    for h in handles {
                        rt.block_on(h).unwrap();
                    }
                });
            }
        });
        assert_eq!(
            done.load(Ordering::SeqCst),
            THREADS * PER_THREAD,
            "on {backend} {flavor}"
        );
    }
}

// 4. Entry: a socket outliving its runtime fails clearly instead of
// waiting for readiness no loop will report.
#[test]
fn io_on_a_socket_whose_runtime_is_gone_fails_clearly() {
    for (backend, flavor) in runs() {
        let build = || {
            Runtime::builder()
                .backend(backend)
                .flavor(flavor)
                .worker_threads(NonZeroUsize::new(1).unwrap())
                .build()
                .unwrap()
        };
        let first = build();
        let (mut client, _server) = first.block_on(async {
            let listener = loopback().await;
            let addr = listener.local_addr().clone();
            let mut client = Dialer::new().dial(&addr).await.unwrap();
            let server = listener.accept().await.unwrap();
            // Register the client for reading: nothing is there yet.
            let mut none = [0u8; 1];
            assert!(
                rt::timeout(Duration::from_millis(10), client.read(&mut none))
                    .await
                    .is_err()
            );
            (client, server)
        });
        drop(first);
        let second = build();
        let res = second.block_on(async {
            let mut buf = [0u8; 1];
            rt::timeout(Duration::from_secs(5), client.read(&mut buf)).await
        });
        let err = res
            .unwrap_or_else(|_| panic!("read hung on {backend} {flavor}"))
            .unwrap_err();
        assert!(
            err.to_string().contains("shut down") || err.to_string().contains("shutdown"),
            "on {backend} {flavor}: {err}"
        );
    }
}
