//! The generated gRPC client (wego-build's golden echo output) over a
//! governance stack: load balancing, retries and breakers around
//! per-instance `LazyChannel`s, a dead instance retried around.

use std::time::Duration;

use tower_layer::Layer;
use wego_governance::breaker::{BreakerConfig, Breakers};
use wego_governance::lb::{LoadBalanceLayer, RoundRobin};
use wego_governance::retry::{Backoff, RetryLayer};
use wego_governance::{Instance, InstanceWatch};
use wego_kitex::grpc::{Channel, GrpcServer, LazyChannel, Request};
use wego_netpoll::rt;

use super::grpc_common::echo_router;

use wego_idl_gen::echo_proto as echo;

wego_test_support::each_backend!(
    generated_grpc_client_runs_over_a_governance_stack,
    |_backend| async move {
        let mut instances = Vec::new();
        let mut servers = Vec::new();
        for _ in 0..2 {
            let listener = wego_test_support::loopback().await;
            instances.push(Instance::new(listener.local_addr().clone()));
            let server = GrpcServer::default();
            let s = server.clone();
            let task = rt::spawn(async move { s.serve(listener, echo_router()).await });
            servers.push((server, task));
        }
        // One instance is gone before the first call.
        let (dead, task) = servers.remove(0);
        dead.shutdown(Duration::ZERO).await;
        task.await.unwrap();

        let breakers = Breakers::new(BreakerConfig::default().with_consecutive_failures(1));
        let builder = Channel::builder().with_connect_timeout(Duration::from_secs(2));
        let lb = LoadBalanceLayer::new("echo", InstanceWatch::fixed(instances), RoundRobin::new)
            .with_breaker(breakers)
            .layer(move |i: &Instance| LazyChannel::new(builder.clone(), i.address.clone()));
        let stack = RetryLayer::new(3).with_backoff(Backoff::none()).layer(lb);
        let client = echo::EchoServerClient::new(stack).with_idempotent(true);
        for i in 0..10 {
            let r = client
                .echo(Request::new(echo::Request {
                    action: "echo".into(),
                    msg: i.to_string(),
                }))
                .await
                .unwrap_or_else(|s| panic!("call {i}: {s:?}"));
            assert_eq!(r.into_inner().msg, i.to_string());
        }
    }
);
