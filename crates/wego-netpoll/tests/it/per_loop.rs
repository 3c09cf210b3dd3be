//! `ListenerBuilder::per_loop` off the polling backend: one socket, as
//! usual. (The per-loop listener itself is tested in
//! `src/rt/sys/polling/per_loop.rs`, where a connection's accepting loop
//! is visible.)

use std::num::NonZeroUsize;

use wego_netpoll::rt::{self, Backend, Runtime};
use wego_netpoll::{Address, Dialer, Listener};

#[test]
fn a_per_loop_listener_on_tokio_is_one_socket() {
    let runtime = Runtime::builder()
        .backend(Backend::Tokio)
        .worker_threads(NonZeroUsize::new(2).unwrap())
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = Listener::builder()
            .per_loop(true)
            .bind(&Address::loopback())
            .await
            .unwrap();
        let addr = listener.local_addr().clone();
        let accept = rt::spawn(async move { listener.accept().await.map(|_| ()) });
        Dialer::new().dial(&addr).await.unwrap();
        accept.await.unwrap().unwrap();
    });
}
