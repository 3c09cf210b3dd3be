//! The four call kinds over loopback, with metadata both ways.

use futures_util::StreamExt;
use wego_kitex::grpc::{Channel, Code, Request, Response, ResponseStream};

use crate::grpc_common::*;

wego_test_support::each_backend!(
    unary_call_round_trips_with_metadata,
    |_backend| async move {
        let ch = start(echo_router()).await;
        let mut r = Request::new(req("hello"));
        r.metadata_mut()
            .insert("x-echo-initial", "test_initial_metadata_value")
            .unwrap();
        r.metadata_mut()
            .insert_bin("x-trail-bin", &[0xab, 0xab, 0xab])
            .unwrap();
        let resp: Response<EchoResponse> = ch.unary(UNARY, r).await.unwrap();
        assert_eq!(resp.get_ref().msg, "hello");
        assert_eq!(
            resp.metadata().get("x-echo-initial"),
            Some("test_initial_metadata_value")
        );
        assert_eq!(
            resp.trailers().get_bin("x-trail-bin").unwrap().as_ref(),
            &[0xab, 0xab, 0xab]
        );
        // Many calls multiplex on one connection.
        let calls = (0..50).map(|i| {
            let ch = ch.clone();
            async move {
                let r: Response<EchoResponse> = ch
                    .unary(UNARY, Request::new(req(&i.to_string())))
                    .await
                    .unwrap();
                assert_eq!(r.get_ref().msg, i.to_string());
            }
        });
        futures_util::future::join_all(calls).await;
    }
);

wego_test_support::each_backend!(
    server_streaming_yields_every_message,
    |_backend| async move {
        let ch = start(echo_router()).await;
        let r = EchoRequest {
            action: "5".into(),
            msg: "m".into(),
        };
        let resp: Response<ResponseStream<EchoResponse>> = ch
            .server_streaming(SERVER_STREAM, Request::new(r))
            .await
            .unwrap();
        let mut s = resp.into_inner();
        let mut got = Vec::new();
        while let Some(m) = s.message().await.unwrap() {
            got.push(m.action);
        }
        assert_eq!(got, ["0", "1", "2", "3", "4"]);
        assert!(s.trailers().is_some());
        // An empty stream ends cleanly.
        let r = EchoRequest {
            action: "0".into(),
            msg: "m".into(),
        };
        let resp: Response<ResponseStream<EchoResponse>> = ch
            .server_streaming(SERVER_STREAM, Request::new(r))
            .await
            .unwrap();
        assert!(resp.into_inner().message().await.unwrap().is_none());
    }
);

wego_test_support::each_backend!(client_streaming_aggregates, |_backend| async move {
    let ch = start(echo_router()).await;
    let resp: Response<EchoResponse> = ch
        .client_streaming(CLIENT_STREAM, Request::new(requests(&["a", "b", "c"])))
        .await
        .unwrap();
    assert_eq!(resp.get_ref().msg, "abc");
    let resp: Response<EchoResponse> = ch
        .client_streaming(CLIENT_STREAM, Request::new(requests(&[])))
        .await
        .unwrap();
    assert_eq!(resp.get_ref().msg, "");
});

wego_test_support::each_backend!(bidi_streaming_ping_pongs, |_backend| async move {
    let ch = start(echo_router()).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<EchoRequest>(1);
    let out =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let resp: Response<ResponseStream<EchoResponse>> =
        ch.streaming(BIDI, Request::new(out)).await.unwrap();
    let mut s = resp.into_inner();
    for i in 0..20 {
        tx.send(req(&format!("ping {i}"))).await.unwrap();
        let m = s.message().await.unwrap().unwrap();
        assert_eq!(m.msg, format!("ping {i}"));
    }
    drop(tx);
    assert!(s.next().await.is_none());
});

wego_test_support::each_backend!(
    bidi_stream_ends_with_the_handlers_status,
    |_backend| async move {
        let ch = start(echo_router()).await;
        let msgs = vec![
            req("ok"),
            EchoRequest {
                action: "fail".into(),
                msg: "9:precondition".into(),
            },
        ];
        let resp: Response<ResponseStream<EchoResponse>> = ch
            .streaming(BIDI, Request::new(futures_util::stream::iter(msgs)))
            .await
            .unwrap();
        let mut s = resp.into_inner();
        assert_eq!(s.message().await.unwrap().unwrap().msg, "ok");
        let err = s.message().await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert_eq!(err.message(), "precondition");
    }
);

/// Public futures are `Send`, so they run on any multi-threaded executor
/// (checked at compile time; never called).
#[allow(dead_code)]
fn public_futures_are_send(
    ch: Channel,
    server: wego_kitex::grpc::GrpcServer,
    listener: wego_netpoll::Listener,
) {
    fn is_send<T: Send>(_: &T) {}
    is_send(&ch.unary::<EchoRequest, EchoResponse>(UNARY, Request::new(req("x"))));
    is_send(
        &ch.server_streaming::<EchoRequest, EchoResponse>(SERVER_STREAM, Request::new(req("x"))),
    );
    is_send(
        &ch.client_streaming::<_, _, EchoResponse>(CLIENT_STREAM, Request::new(requests(&["x"]))),
    );
    is_send(&ch.streaming::<_, _, EchoResponse>(BIDI, Request::new(requests(&["x"]))));
    is_send(&server.serve(listener, echo_router()));
    is_send(&Channel::connect(&wego_netpoll::Address::loopback()));
}

wego_test_support::each_backend!(
    metainfo_reaches_handlers_and_next_hops,
    |_backend| async move {
        // Hop 2 reports the persistent value and rpc info it sees.
        let hop2 = wego_kitex::grpc::GrpcRouter::new().unary(
            "/t.Hop2/See",
            |_r: Request<EchoRequest>| async move {
                let ctx = wego_kitex::metainfo::current().unwrap();
                let seen = format!(
                    "{}/{} tenant={:?} hop={:?}",
                    ctx.rpc_info.callee,
                    ctx.rpc_info.method,
                    ctx.metainfo.persistent("tenant"),
                    ctx.metainfo.upstream_transient("hop"),
                );
                Ok(Response::new(EchoResponse {
                    action: String::new(),
                    msg: seen,
                }))
            },
        );
        let ch2 = start(hop2).await;
        // Hop 1 calls hop 2 from inside its handler: persistent values follow,
        // transient ones stop.
        let hop1 = wego_kitex::grpc::GrpcRouter::new().unary(
            "/t.Hop1/Relay",
            move |r: Request<EchoRequest>| {
                let ch2 = ch2.clone();
                async move {
                    let ctx = wego_kitex::metainfo::current().unwrap();
                    assert_eq!(ctx.metainfo.upstream_transient("hop"), Some("1"));
                    ch2.unary::<_, EchoResponse>("/t.Hop2/See", Request::new(r.into_inner()))
                        .await
                }
            },
        );
        let ch1 = start(hop1).await;
        let mut r = Request::new(req("x"));
        r.metadata_mut()
            .insert("rpc-persist-tenant", "acme")
            .unwrap();
        r.metadata_mut().insert("rpc-transit-hop", "1").unwrap();
        let resp: Response<EchoResponse> = ch1.unary("/t.Hop1/Relay", r).await.unwrap();
        assert_eq!(
            resp.get_ref().msg,
            "t.Hop2/See tenant=Some(\"acme\") hop=None"
        );
    }
);

wego_test_support::each_backend!(
    a_request_with_too_many_metainfo_entries_is_refused,
    |_backend| async move {
        use wego_kitex::grpc::metainfo::MAX_ENTRIES;
        let ch = start(echo_router()).await;
        let with_entries = |n: usize| {
            let mut r = Request::new(req("x"));
            for i in 0..n {
                let (prefix, i) = if i % 2 == 0 {
                    ("rpc-persist", i)
                } else {
                    ("rpc-transit", i)
                };
                r.metadata_mut()
                    .insert(&format!("{prefix}-k{i}"), "")
                    .unwrap();
            }
            r
        };
        let ok: Response<EchoResponse> = ch.unary(UNARY, with_entries(MAX_ENTRIES)).await.unwrap();
        assert_eq!(ok.get_ref().msg, "x");
        let err = ch
            .unary::<_, EchoResponse>(UNARY, with_entries(MAX_ENTRIES + 1))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
        assert!(err.message().contains("metainfo"), "{err:?}");
    }
);

wego_test_support::each_backend!(grpc_over_a_unix_socket, |_backend| async move {
    let path = wego_test_support::unix_socket_path("grpc");
    let addr = wego_netpoll::Address::Unix(path.clone());
    let listener = wego_netpoll::Listener::bind(&addr).await.unwrap();
    wego_netpoll::rt::spawn(async move {
        wego_kitex::grpc::GrpcServer::default()
            .serve(listener, echo_router())
            .await
    });
    let ch = Channel::connect(&addr).await.unwrap();
    let r: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("unix"))).await.unwrap();
    assert_eq!(r.get_ref().msg, "unix");
    let _ = std::fs::remove_file(path);
});
