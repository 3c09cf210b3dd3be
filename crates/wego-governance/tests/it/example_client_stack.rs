//! The `client_stack` example: load balancing, breakers and retry in front
//! of two live echo servers and a dead address.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/client_stack.rs"]
mod example;

wego_test_support::each_backend!(
    client_stack_example_routes_around_the_dead_instance,
    |_backend| async move {
        let report = example::run(60).await.unwrap();
        assert_eq!(report.calls, 60);
        assert_eq!(report.failures, 0, "retries hide the dead instance");
        // The dead instance is tried until its breaker opens (3 consecutive
        // failures), each failure costing one retry; then it gets no traffic.
        assert_eq!(report.retries, 3);
        let dead = format!("echo/{}", report.dead);
        for (scope, state) in &report.breakers {
            let want = if *scope == dead { "open" } else { "closed" };
            assert_eq!(state, want, "{scope}: {:?}", report.breakers);
        }
        assert_eq!(report.breakers.len(), 3);
        // Round robin between the two live servers.
        let counts: Vec<u32> = report.answers.values().copied().collect();
        assert_eq!(counts, [30, 30], "{:?}", report.answers);
        assert!(
            report.metrics.contains(
                "wego_requests_total{service=\"echo\",method=\"say\",status=\"ok\"} 60\n"
            )
        );
        assert!(report.metrics.contains("wego_breaker_state{scope=\""));
    }
);
