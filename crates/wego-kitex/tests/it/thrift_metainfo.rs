//! RpcInfo and metainfo reach handlers; persistent values travel on.

use bytes::Bytes;
use wego_kitex::client::{Client, ClientRequest};
use wego_kitex::metainfo::{self, MetaInfo};
use wego_kitex::server::{Server, ThriftReply};

use crate::thrift_common::{service, start};

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
