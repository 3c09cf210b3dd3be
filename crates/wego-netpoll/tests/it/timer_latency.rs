//! Timer precision under load: timers fire never before their deadline,
//! and promptly after it while other tasks keep every worker busy.
//!
//! The lateness figures are printed (run with `--nocapture`); the asserted
//! bounds are loose on purpose, since CI shares two cores with other jobs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wego_netpoll::rt;
use wego_test_support::each_backend;

each_backend!(
    timers_fire_on_time_while_tasks_keep_the_workers_busy,
    |backend| async move {
        let stop = Arc::new(AtomicBool::new(false));
        // Load: tasks that never sleep, only yield, on both workers.
        let busy: Vec<_> = (0..32)
            .map(|_| {
                let stop = Arc::clone(&stop);
                rt::spawn(async move {
                    let mut spins = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        spins = spins.wrapping_add(1);
                        rt::yield_now().await;
                    }
                    spins
                })
            })
            .collect();
        let timers: Vec<_> = (0..400u64)
            .map(|i| {
                rt::spawn(async move {
                    // Deadlines spread over 1..41 ms, not on whole millis.
                    let d = Duration::from_micros(1_000 + (i * 7_919) % 40_000);
                    let deadline = rt::now() + d;
                    rt::sleep_until(deadline).await;
                    let now = rt::now();
                    assert!(now >= deadline, "a timer fired {:?} early", deadline - now);
                    now - deadline
                })
            })
            .collect();
        let mut late = Vec::with_capacity(timers.len());
        for t in timers {
            late.push(t.await.unwrap());
        }
        stop.store(true, Ordering::Relaxed);
        for b in busy {
            assert!(b.await.unwrap() > 0);
        }
        late.sort();
        let pct = |p: usize| late[(late.len() - 1) * p / 100];
        println!(
            "{backend}: timer lateness under load p50 {:?} p99 {:?} max {:?}",
            pct(50),
            pct(99),
            late[late.len() - 1]
        );
        assert!(pct(50) < Duration::from_millis(50), "p50 {:?}", pct(50));
    }
);
