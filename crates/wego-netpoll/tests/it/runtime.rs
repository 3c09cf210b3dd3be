//! The runtime flavours: block_on with I/O and timers, where spawned tasks
//! run, timers and blocking work on every worker, panics, and shutdown.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::rt::{self, Flavor, Runtime};
use wego_netpoll::{Dialer, Listener};
use wego_test_support::loopback;

fn runtime(flavor: Flavor, workers: usize, name: &str) -> Runtime {
    Runtime::builder()
        .flavor(flavor)
        .worker_threads(NonZeroUsize::new(workers).unwrap())
        .thread_name(name)
        .build()
        .unwrap()
}

/// Names of this process's threads whose name starts with `prefix`.
fn threads_named(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|s| s.trim_end().to_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// The threads named `prefix*` once `settled` holds for them, or after 30 s.
/// A joined thread can stay listed in /proc for a moment after `join`
/// returns (the kernel wakes the joiner before it unlinks the task), so a
/// single look races with the exit.
fn threads_settled(prefix: &str, settled: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = threads_named(prefix);
        if settled(&left) || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn per_core_is_the_default_and_flavors_parse() {
    let rt = Runtime::builder()
        .worker_threads(NonZeroUsize::new(1).unwrap())
        .build()
        .unwrap();
    assert_eq!(rt.flavor(), Flavor::PerCore);
    assert_eq!(rt.worker_threads(), 1);
    assert_eq!(Flavor::default(), Flavor::PerCore);
    for &f in Flavor::all() {
        assert_eq!(f.to_string().parse::<Flavor>().unwrap(), f);
    }
    let err = "fifo".parse::<Flavor>().unwrap_err();
    assert!(err.is_runtime(), "{err}");
    assert!(err.to_string().contains("fifo"), "{err}");
}

/// The block_on future itself (on the caller's thread) binds, dials, echoes
/// through a spawned task, sleeps, times out and ticks an interval.
async fn io_and_timers() {
    let listener = loopback().await;
    let addr = listener.local_addr().clone();
    let server = rt::spawn(async move {
        let mut conn = listener.accept().await.unwrap();
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf).await.unwrap();
        conn.write_all(&buf).await.unwrap();
    });
    let mut conn = Dialer::new().dial(&addr).await.unwrap();
    conn.write_all(b"hello").await.unwrap();
    let mut back = [0u8; 5];
    conn.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"hello");
    server.await.unwrap();

    let start = Instant::now();
    rt::sleep(Duration::from_millis(30)).await;
    assert!(start.elapsed() >= Duration::from_millis(30));
    let never = std::future::pending::<()>();
    assert!(rt::timeout(Duration::from_millis(10), never).await.is_err());
    let mut ticks = rt::interval(Duration::from_millis(5));
    for _ in 0..3 {
        ticks.tick().await;
    }
    assert!(start.elapsed() >= Duration::from_millis(40));
}

#[test]
fn block_on_runs_io_and_timers_on_both_flavors() {
    for &flavor in Flavor::all() {
        for workers in [1, 2] {
            let rt = runtime(flavor, workers, "wego-bo");
            rt.block_on(io_and_timers());
        }
    }
}

#[test]
fn block_on_takes_a_future_that_is_not_send() {
    let rt = runtime(Flavor::PerCore, 2, "wego-ns");
    let local = std::rc::Rc::new(7);
    let out = rt.block_on(async move {
        rt::sleep(Duration::from_millis(1)).await;
        *local
    });
    assert_eq!(out, 7);
}

#[test]
fn spawn_inside_a_worker_stays_on_that_worker() {
    let rt = runtime(Flavor::PerCore, 2, "wego-in");
    let pairs: Vec<(ThreadId, ThreadId)> = rt.block_on(async {
        let mut outer = Vec::new();
        for _ in 0..4 {
            // Runtime::spawn from outside would spread these; rt::spawn from
            // a task keeps the child on the parent's worker.
            outer.push(rt::spawn(async {
                let parent = std::thread::current().id();
                let child = rt::spawn(async { std::thread::current().id() })
                    .await
                    .unwrap();
                (parent, child)
            }));
        }
        let mut out = Vec::new();
        for h in outer {
            out.push(h.await.unwrap());
        }
        out
    });
    for (parent, child) in pairs {
        assert_eq!(parent, child);
    }
}

#[test]
fn runtime_spawn_spreads_round_robin_over_per_core_workers() {
    let rt = runtime(Flavor::PerCore, 2, "wego-rr");
    let names: Vec<String> = (0..4)
        .map(|_| rt.spawn(async { std::thread::current().name().unwrap().to_owned() }))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| rt.block_on(h).unwrap())
        .collect();
    assert_eq!(names, ["wego-rr-0", "wego-rr-1", "wego-rr-0", "wego-rr-1"]);
}

#[test]
fn timers_and_blocking_work_on_every_worker() {
    for &flavor in Flavor::all() {
        let rt = runtime(flavor, 2, "wego-tm");
        let handles: Vec<_> = (0..4)
            .map(|i| {
                rt.spawn(async move {
                    let thread = std::thread::current().id();
                    let blocking = rt::spawn_blocking(move || i * 2).await.unwrap();
                    assert_eq!(blocking, i * 2);
                    rt::sleep(Duration::from_millis(5)).await;
                    let slow = rt::sleep(Duration::from_secs(60));
                    assert!(rt::timeout(Duration::from_millis(5), slow).await.is_err());
                    let fast = rt::timeout(Duration::from_secs(60), async { i });
                    assert_eq!(fast.await.unwrap(), i);
                    let mut iv = rt::interval(Duration::from_millis(2));
                    iv.tick().await;
                    iv.tick().await;
                    rt::yield_now().await;
                    thread
                })
            })
            .collect();
        let threads: HashSet<ThreadId> = handles
            .into_iter()
            .map(|h| rt.block_on(h).unwrap())
            .collect();
        if flavor == Flavor::PerCore {
            assert_eq!(threads.len(), 2, "round-robin reaches both workers");
        }
    }
}

#[test]
fn a_panicking_task_does_not_kill_its_worker() {
    for &flavor in Flavor::all() {
        let rt = runtime(flavor, 1, "wego-pn");
        let err = rt
            .block_on(rt.spawn(async { panic!("boom in a task") }))
            .unwrap_err();
        assert!(err.is_panic());
        // The same (only) worker still runs tasks, I/O and timers.
        let out = rt.block_on(rt.spawn(async {
            rt::sleep(Duration::from_millis(1)).await;
            41 + 1
        }));
        assert_eq!(out.unwrap(), 42);
        rt.block_on(io_and_timers());
    }
}

#[test]
fn dropping_a_per_core_runtime_joins_its_threads() {
    let rt = runtime(Flavor::PerCore, 2, "wego-jn");
    let seen = Arc::new(Mutex::new(HashSet::new()));
    for _ in 0..2 {
        let seen = Arc::clone(&seen);
        rt.block_on(rt.spawn(async move {
            rt::spawn_blocking(|| ()).await.unwrap();
            seen.lock()
                .unwrap()
                .insert(std::thread::current().name().unwrap().to_owned());
        }))
        .unwrap();
    }
    // A task that never ends is cancelled, not waited for.
    rt.spawn(std::future::pending::<()>());
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert!(threads_named("wego-jn-").len() >= 2);
    drop(rt);
    assert_eq!(
        threads_settled("wego-jn-", <[String]>::is_empty),
        Vec::<String>::new()
    );
}

#[test]
fn shutdown_timeout_stops_workers_without_waiting_for_stuck_blocking_tasks() {
    let rt = runtime(Flavor::PerCore, 2, "wego-st");
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let started = rt.block_on(async move {
        let (up_tx, up_rx) = tokio::sync::oneshot::channel();
        rt::spawn_blocking(move || {
            let _ = up_tx.send(());
            // Held until the test ends: a blocking task that outlives the
            // shutdown deadline.
            let _ = rx.recv();
        });
        up_rx.await.is_ok()
    });
    assert!(started);
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_millis(50));
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    // The worker threads are gone; only the stuck blocking thread remains.
    let left = threads_settled("wego-st-", |t| t.iter().all(|n| n.ends_with("-blk")));
    assert!(
        left.iter().all(|n| n.ends_with("-blk")),
        "threads left: {left:?}"
    );
    drop(tx);
}

#[test]
fn sockets_from_one_block_on_call_work_in_the_next() {
    // The listener registers with worker 0's poller on the caller's thread;
    // between block_on calls worker 0's thread keeps driving it, and a
    // dialer on worker 1 (the second Runtime::spawn) connects to it.
    let rt = runtime(Flavor::PerCore, 2, "wego-lb");
    let listener = rt
        .block_on(Listener::bind(&wego_netpoll::Address::loopback()))
        .unwrap();
    let addr = listener.local_addr().clone();
    rt.block_on(rt.spawn(async {})).unwrap();
    let dial = rt.spawn(async move {
        let mut c = Dialer::new().dial(&addr).await.unwrap();
        c.write_all(b"x").await.unwrap();
        std::thread::current().name().unwrap().to_owned()
    });
    let mut conn = rt.block_on(listener.accept()).unwrap();
    let mut b = [0u8; 1];
    rt.block_on(conn.read_exact(&mut b)).unwrap();
    assert_eq!(rt.block_on(dial).unwrap(), "wego-lb-1");
}
