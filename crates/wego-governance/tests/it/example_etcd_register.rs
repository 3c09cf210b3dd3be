//! The `etcd_register` example against a real etcd: the instance appears
//! in the watch while registered and disappears when deregistered.

use std::time::Duration;

use wego_governance::Registry;
use wego_test_support::etcd::EtcdServer;

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/etcd_register.rs"]
mod example;

wego_test_support::each_backend!(
    etcd_register_example_registers_and_watches,
    |backend| async move {
        let Some(etcd) =
            EtcdServer::start("etcd_register_example_registers_and_watches", backend).await
        else {
            return;
        };
        let addr: wego_netpoll::Address = "127.0.0.1:8888".parse().unwrap();
        let example::Registered {
            registry,
            registration,
            discover: _discover,
            mut watch,
        } = example::register_and_watch(&etcd.url(), addr.clone(), "example-echo")
            .await
            .unwrap();
        crate::etcd::wait_for(&mut watch, 1, Duration::from_secs(10)).await;
        let me = watch.current()[0].clone();
        assert_eq!(me.address, addr);
        assert_eq!(me.tag("example"), Some("yes"));
        assert_eq!(
            example::describe("example-echo", &watch.current()),
            "example-echo: [\"127.0.0.1:8888 (weight 100)\"]"
        );
        registry.deregister(&registration).await.unwrap();
        crate::etcd::wait_for(&mut watch, 0, Duration::from_secs(10)).await;
    }
);
