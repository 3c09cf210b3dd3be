//! RpcInfo and metainfo reach handlers; persistent values travel on.

use bytes::Bytes;
use wego_kitex::client::{Client, ClientRequest};
use wego_kitex::metainfo::{self, MetaInfo};
use wego_kitex::server::{Server, ThriftReply};

use crate::thrift_common::{pipe_client, service, start};

wego_test_support::each_backend!(handlers_see_rpcinfo_and_metainfo, |_backend| async move {
    let svc = service(|_req| async move {
        let ctx = metainfo::current().expect("a call context");
        let i = &ctx.rpc_info;
        let text = format!(
            "{}|{}|{}|{}|{}|{}|{}",
            i.caller.as_deref().unwrap_or("-"),
            i.callee,
            i.method,
            i.deadline.is_some(),
            ctx.metainfo.persistent("trace").unwrap_or("-"),
            ctx.metainfo.transient("hop").unwrap_or("-"),
            i.seq_id > 0,
        );
        Ok(ThriftReply::Result(Bytes::from(text)))
    });
    let server = Server::builder()
        .service("Meta", &["who"], svc)
        .build()
        .unwrap();
    let (addr, _sd) = start(server).await;
    let client = Client::builder(addr)
        .with_caller("caller-svc")
        .with_callee("Meta")
        .build()
        .unwrap();
    let mut m = MetaInfo::new();
    m.set_persistent("trace", "t-1");
    m.set_transient("hop", "h-1");
    let r = client
        .call(ClientRequest::new("who", Bytes::new()).with_metainfo(m))
        .await
        .unwrap();
    assert_eq!(&r.body[..], b"caller-svc|Meta|who|true|t-1|h-1|true");
});

wego_test_support::each_backend!(
    persistent_metainfo_travels_across_hops_transient_does_not,
    |_backend| async move {
        // C: reports what it sees.
        let c_svc = service(|_req| async move {
            let ctx = metainfo::current().unwrap();
            let text = format!(
                "{}|{}",
                ctx.metainfo.persistent("trace").unwrap_or("-"),
                ctx.metainfo.transient("hop").unwrap_or("-")
            );
            Ok(ThriftReply::Result(Bytes::from(text)))
        });
        let (c_addr, _c) = start(
            Server::builder()
                .service("C", &["who"], c_svc)
                .build()
                .unwrap(),
        )
        .await;
        // B: calls C from inside its handler, adding nothing.
        let b_client = Client::builder(c_addr).build().unwrap();
        let b_svc = service(move |_req| {
            let client = b_client.clone();
            async move {
                let r = client.call(ClientRequest::new("who", Bytes::new())).await?;
                Ok(ThriftReply::Result(r.body))
            }
        });
        let (b_addr, _b) = start(
            Server::builder()
                .service("B", &["who"], b_svc)
                .build()
                .unwrap(),
        )
        .await;
        let mut m = MetaInfo::new();
        m.set_persistent("trace", "t-9");
        m.set_transient("hop", "only-b");
        let a = Client::builder(b_addr).build().unwrap();
        let r = a
            .call(ClientRequest::new("who", Bytes::new()).with_metainfo(m))
            .await
            .unwrap();
        assert_eq!(&r.body[..], b"t-9|-");
    }
);

wego_test_support::each_backend_paused!(
    server_gives_up_at_the_deadline_the_client_sent,
    |backend| async move {
        use std::sync::Arc;
        use std::time::Duration;

        use crate::clock::{assert_at, step_until, step_until_true};

        /// Notifies when dropped.
        struct Dropped(Arc<tokio::sync::Notify>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.notify_one();
            }
        }
        // The handler reports its call and never finishes by itself: only
        // the server giving up at the deadline drops it.
        let dropped = Arc::new(tokio::sync::Notify::new());
        let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<()>();
        let d2 = dropped.clone();
        let slow = service(move |_req| {
            let guard = Dropped(d2.clone());
            let arrived_tx = arrived_tx.clone();
            async move {
                let _guard = guard;
                let _ = arrived_tx.send(());
                std::future::pending::<()>().await;
                Ok(ThriftReply::None)
            }
        });
        let server = Server::builder()
            .service("S", &["slow"], slow)
            .build()
            .unwrap();
        let timeout = Duration::from_millis(100);
        let client = pipe_client(&server)
            .with_rpc_timeout(timeout)
            .build()
            .unwrap();
        let bound = Duration::from_secs(10);
        let (r, took) =
            step_until(bound, client.call(ClientRequest::new("slow", Bytes::new()))).await;
        assert!(r.unwrap_err().is_timeout());
        assert_at(backend, took, timeout, 1);
        arrived.try_recv().expect("the call reached the handler");
        // The server's deadline started when the call arrived, at once:
        // the handler is dropped at the same time.
        let mut gone = std::pin::pin!(dropped.notified());
        let more = step_until_true(bound, || {
            futures_util::FutureExt::now_or_never(gone.as_mut()).is_some()
        })
        .await;
        assert_at(backend, took + more, timeout, 1);
    }
);
