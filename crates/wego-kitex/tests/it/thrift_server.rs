//! The Thrift server and client over loopback: framings, errors, limits, shutdown.
//!
//! The tests that wait for a timeout or a shutdown deadline use in-memory
//! pipes instead and move the paused clock themselves (`crate::clock`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use wego_kitex::client::{Client, ClientRequest, Mode};
use wego_kitex::server::{Server, ThriftReply};
use wego_kitex::thrift::{ExceptionKind, Protocol};
use wego_kitex::transport::Framing;
use wego_netpoll::rt;

use crate::clock::{assert_at, settle, settled, step_until, step_until_true};
use crate::thrift_common::{echo, pipe_client, service, start, string_args};

/// A bound no test here reaches unless a timeout is not enforced.
const BOUND: Duration = Duration::from_secs(10);

wego_test_support::each_backend!(
    serves_every_framing_and_protocol_on_one_port,
    |_backend| async move {
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        for framing in [
            Framing::TtHeader,
            Framing::THeader,
            Framing::Framed,
            Framing::Buffered,
        ] {
            for proto in [Protocol::Binary, Protocol::Compact] {
                for mode in [
                    Mode::Short,
                    Mode::Pooled {
                        max_idle: 4,
                        idle_timeout: Duration::from_secs(5),
                    },
                ] {
                    let client = Client::builder(addr.clone())
                        .with_framing(framing)
                        .with_protocol(proto)
                        .with_mode(mode)
                        .build()
                        .unwrap();
                    for i in 0..3 {
                        let a = string_args(proto, &format!("hello {i}"));
                        let r = client
                            .call(ClientRequest::new("echo", a.clone()))
                            .await
                            .unwrap();
                        assert_eq!(r.body, a, "{framing:?} {proto:?} {mode:?}");
                        assert_eq!(r.protocol, proto);
                    }
                }
            }
        }
    }
);

wego_test_support::each_backend!(
    unknown_methods_and_handler_errors_become_exceptions,
    |_backend| async move {
        let failing = service(|_req| async move { Err::<ThriftReply, _>("database down".into()) });
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .service("Fail", &["fail"], failing)
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        let client = Client::builder(addr).build().unwrap();
        let e = client
            .call(ClientRequest::new(
                "nope",
                string_args(Protocol::Binary, ""),
            ))
            .await
            .unwrap_err();
        assert!(e.is_application(), "{e}");
        assert_eq!(
            e.application_exception().unwrap().kind,
            ExceptionKind::UnknownMethod
        );
        let e = client
            .call(ClientRequest::new(
                "fail",
                string_args(Protocol::Binary, ""),
            ))
            .await
            .unwrap_err();
        assert_eq!(
            e.application_exception().unwrap().kind,
            ExceptionKind::InternalError
        );
        assert!(
            e.application_exception()
                .unwrap()
                .message
                .contains("database down")
        );
        // Apache multiplexed names route by service.
        let a = string_args(Protocol::Binary, "x");
        let r = client
            .call(ClientRequest::new("Echo:echo", a.clone()))
            .await
            .unwrap();
        assert_eq!(r.body, a);
    }
);

wego_test_support::each_backend!(
    multiplexed_calls_share_one_connection_and_may_finish_out_of_order,
    |_backend| async move {
        // Each handler reports its call with a gate, and answers once the
        // test opens it.
        let (arrived_tx, mut arrived) =
            tokio::sync::mpsc::unbounded_channel::<(Bytes, tokio::sync::oneshot::Sender<()>)>();
        let gated = service(move |req: wego_kitex::server::ThriftRequest| {
            let arrived_tx = arrived_tx.clone();
            async move {
                let (open, gate) = tokio::sync::oneshot::channel();
                let _ = arrived_tx.send((req.args.clone(), open));
                let _ = gate.await;
                Ok(ThriftReply::Result(req.args))
            }
        });
        let server = Server::builder()
            .service("S", &["echo"], gated)
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        // Deadlines far beyond the test's own bounds: no call ends by them.
        let client = Client::builder(addr)
            .with_mode(Mode::Multiplexed)
            .with_rpc_timeout(Duration::from_secs(600))
            .build()
            .unwrap();
        let mut calls = Vec::new();
        for i in 0..40 {
            let c = client.clone();
            calls.push(rt::spawn(async move {
                let a = string_args(Protocol::Binary, &format!("m{i}"));
                let r = c.call(ClientRequest::new("echo", a.clone())).await.unwrap();
                assert_eq!(r.body, a);
            }));
        }
        // Every call waits in its handler at once...
        let mut gates = std::collections::HashMap::new();
        for _ in 0..40 {
            let (a, open) = rt::timeout(Duration::from_secs(10), arrived.recv())
                .await
                .expect("every call reaches its handler")
                .unwrap();
            gates.insert(a, open);
        }
        // ...and they are answered last first: each reply comes back while
        // every earlier call still waits.
        for (i, call) in calls.into_iter().enumerate().rev() {
            let a = string_args(Protocol::Binary, &format!("m{i}"));
            gates.remove(&a).unwrap().send(()).unwrap();
            rt::timeout(Duration::from_secs(10), call)
                .await
                .unwrap_or_else(|_| panic!("call m{i} answered out of order"))
                .unwrap();
        }
        assert_eq!(client.dial_count(), 1);
    }
);

wego_test_support::each_backend!(
    pool_keeps_connections_dialed_under_load,
    |_backend| async move {
        // Every call of a burst waits in its handler until the whole burst
        // is there, so a burst of n calls needs n connections at once.
        let n = 20;
        let barrier = Arc::new(tokio::sync::Barrier::new(n));
        let together = service(move |req: wego_kitex::server::ThriftRequest| {
            let barrier = barrier.clone();
            async move {
                barrier.wait().await;
                Ok(ThriftReply::Result(req.args))
            }
        });
        let server = Server::builder()
            .service("S", &["echo"], together)
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        let client = Client::builder(addr)
            .with_mode(Mode::Pooled {
                max_idle: 64,
                idle_timeout: Duration::from_secs(30),
            })
            .build()
            .unwrap();
        let burst = || {
            let client = client.clone();
            async move {
                let mut calls = Vec::new();
                for _ in 0..n {
                    let c = client.clone();
                    calls.push(rt::spawn(async move {
                        c.call(ClientRequest::new(
                            "echo",
                            string_args(Protocol::Binary, "x"),
                        ))
                        .await
                        .unwrap();
                    }));
                }
                // The bound only catches a burst whose calls never all
                // reach the server.
                rt::timeout(Duration::from_secs(20), async {
                    for c in calls {
                        c.await.unwrap();
                    }
                })
                .await
                .expect("the burst's calls are served together");
            }
        };
        burst().await;
        assert_eq!(client.dial_count(), n);
        for _ in 0..3 {
            burst().await;
        }
        // Every connection dialed under load went back to the pool and was reused.
        assert_eq!(client.dial_count(), n);
    }
);

wego_test_support::each_backend_paused!(
    stale_pooled_connections_never_fail_a_call,
    |backend| async move {
        let idle = Duration::from_millis(100);
        let server = Server::builder()
            .service("S", &["echo"], echo())
            .with_read_timeout(idle)
            .build()
            .unwrap();
        // Pooled (the default), over in-memory pipes: a pipe cannot tell
        // the pool that its peer closed, so each stale connection is taken,
        // fails its write, and the call goes to a fresh one.
        let client = pipe_client(&server).build().unwrap();
        for round in 0..3 {
            let a = string_args(Protocol::Binary, "x");
            assert_eq!(
                client
                    .call(ClientRequest::new("echo", a.clone()))
                    .await
                    .unwrap()
                    .body,
                a,
                "round {round}"
            );
            // The server closes the idle pooled connection at its read
            // timeout.
            let took = step_until_true(BOUND, || server.active() == 0).await;
            assert_at(backend, took, idle, 1);
        }
        assert_eq!(client.dial_count(), 3);
    }
);

wego_test_support::each_backend!(oneway_calls_get_no_reply, |_backend| async move {
    // One permit per oneway call the server ran.
    let seen = Arc::new(tokio::sync::Semaphore::new(0));
    let s2 = seen.clone();
    let svc = service(move |_req| {
        let s = s2.clone();
        async move {
            s.add_permits(1);
            Ok(ThriftReply::None)
        }
    });
    let server = Server::builder()
        .service("S", &["note", "echo"], svc)
        .build()
        .unwrap();
    let (addr, _sd) = start(server).await;
    for framing in [Framing::TtHeader, Framing::Framed, Framing::Buffered] {
        let client = Client::builder(addr.clone())
            .with_framing(framing)
            .build()
            .unwrap();
        let r = client
            .call(ClientRequest::new("note", string_args(Protocol::Binary, "x")).with_oneway(true))
            .await
            .unwrap();
        assert!(r.body.is_empty());
    }
    rt::timeout(Duration::from_secs(10), seen.acquire_many(3))
        .await
        .unwrap_or_else(|_| panic!("oneway calls seen: {}", seen.available_permits()))
        .unwrap()
        .forget();
    assert_eq!(seen.available_permits(), 0);
});

wego_test_support::each_backend_paused!(rpc_timeout_is_a_timeout_error, |backend| async move {
    // The handler never answers: only the client's timeout ends the call.
    let slow = service(|_req: wego_kitex::server::ThriftRequest| async move {
        std::future::pending::<()>().await;
        Ok(ThriftReply::None)
    });
    let server = Server::builder()
        .service("S", &["echo"], slow)
        .build()
        .unwrap();
    let timeout = Duration::from_millis(100);
    let client = pipe_client(&server)
        .with_rpc_timeout(timeout)
        .build()
        .unwrap();
    let call = client.call(ClientRequest::new(
        "echo",
        string_args(Protocol::Binary, "x"),
    ));
    let (r, took) = step_until(BOUND, call).await;
    let e = r.unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert_at(backend, took, timeout, 1);
});

wego_test_support::each_backend!(connect_errors_are_typed, |_backend| async move {
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    drop(listener);
    let client = Client::builder(addr).build().unwrap();
    let e = client
        .call(ClientRequest::new(
            "echo",
            string_args(Protocol::Binary, "x"),
        ))
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e}");
});

wego_test_support::each_backend!(
    oversized_frames_close_the_connection,
    |_backend| async move {
        let server = Server::builder()
            .service("S", &["echo"], echo())
            .with_max_frame(1024)
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        for framing in [Framing::TtHeader, Framing::Framed, Framing::Buffered] {
            let client = Client::builder(addr.clone())
                .with_framing(framing)
                .with_mode(Mode::Short)
                .build()
                .unwrap();
            let big = string_args(Protocol::Binary, &"x".repeat(4096));
            let e = client
                .call(ClientRequest::new("echo", big))
                .await
                .unwrap_err();
            assert!(e.is_closed() || e.is_transport(), "{framing:?}: {e}");
            let small = string_args(Protocol::Binary, "ok");
            assert_eq!(
                client
                    .call(ClientRequest::new("echo", small.clone()))
                    .await
                    .unwrap()
                    .body,
                small
            );
        }
    }
);

wego_test_support::each_backend_paused!(
    forced_shutdown_cuts_a_call_that_outlives_the_deadline,
    |backend| async move {
        // The handler reports its call and never answers.
        let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<()>();
        let held = service(move |_req: wego_kitex::server::ThriftRequest| {
            let arrived_tx = arrived_tx.clone();
            async move {
                let _ = arrived_tx.send(());
                std::future::pending::<Result<ThriftReply, _>>().await
            }
        });
        let server = Server::builder()
            .service("S", &["echo"], held)
            .build()
            .unwrap();
        // The client would wait far longer than the shutdown: only the
        // server's close can end the call first.
        let client = pipe_client(&server)
            .with_rpc_timeout(Duration::from_secs(600))
            .build()
            .unwrap();
        let call = rt::spawn(async move {
            client
                .call(ClientRequest::new(
                    "echo",
                    string_args(Protocol::Binary, "x"),
                ))
                .await
        });
        settle().await;
        arrived.try_recv().expect("the call reaches its handler");
        // Draining stops the connection's reading; at the deadline the
        // forced phase closes it with the call still in its handler.
        let grace = Duration::from_millis(50);
        let (report, took) = step_until(BOUND, server.shutdown(grace)).await;
        assert_eq!(report.forced, 1);
        assert_at(backend, took, grace, 1);
        let answer = settled(call)
            .await
            .expect("the forced close ends the call at once")
            .unwrap();
        assert!(answer.is_err(), "no reply was sent: {answer:?}");
    }
);

wego_test_support::each_backend!(
    graceful_shutdown_finishes_in_flight_calls,
    |_backend| async move {
        // The handler reports its call and answers once the test opens
        // the gate.
        let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<()>();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let g = gate.clone();
        let held = service(move |req: wego_kitex::server::ThriftRequest| {
            let (arrived_tx, g) = (arrived_tx.clone(), g.clone());
            async move {
                let _ = arrived_tx.send(());
                g.acquire().await.unwrap().forget();
                Ok(ThriftReply::Result(req.args))
            }
        });
        let server = Server::builder()
            .service("S", &["echo"], held)
            .build()
            .unwrap();
        let (addr, sd) = start(server).await;
        let client = Client::builder(addr.clone()).build().unwrap();
        let c = client.clone();
        let call = rt::spawn(async move {
            c.call(ClientRequest::new(
                "echo",
                string_args(Protocol::Binary, "x"),
            ))
            .await
        });
        rt::timeout(Duration::from_secs(10), arrived.recv())
            .await
            .expect("the call reaches its handler")
            .unwrap();
        // Draining begins with the call in its handler, and cannot end
        // while the call is there.
        let shutdown = sd.shutdown(Duration::from_secs(30));
        let mut shutdown = std::pin::pin!(shutdown);
        assert!(shutdown.as_mut().now_or_never().is_none());
        assert!(sd.is_draining());
        gate.add_permits(1);
        let report = shutdown.await;
        assert!(report.is_graceful());
        assert!(call.await.unwrap().is_ok());
        // The listener is gone: new calls cannot connect.
        let fresh = Client::builder(addr)
            .with_mode(Mode::Short)
            .build()
            .unwrap();
        assert!(
            fresh
                .call(ClientRequest::new(
                    "echo",
                    string_args(Protocol::Binary, "x")
                ))
                .await
                .is_err()
        );
    }
);

wego_test_support::each_backend!(
    ttheader_over_framed_payloads_get_mirrored_replies,
    |_backend| async move {
        use bytes::BytesMut;
        use wego_kitex::thrift::{MessageHeader, MessageType, decode_header, encode_header};
        use wego_kitex::transport::framed;
        use wego_kitex::ttheader::{self, Header, HeaderFormat};
        use wego_netpoll::Dialer;
        use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};

        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        // volo's default: TTHeader whose payload is itself a framed message.
        let mut out = BytesMut::new();
        let start_h =
            ttheader::encode(&Header::new(HeaderFormat::TtHeader, 0, 0), &mut out).unwrap();
        let start_f = framed::begin(&mut out);
        let env = MessageHeader {
            name: "echo".into(),
            kind: MessageType::Call,
            seq_id: 9,
        };
        encode_header(Protocol::Binary, &env, true, &mut out);
        out.extend_from_slice(&string_args(Protocol::Binary, "inner"));
        framed::finish(&mut out, start_f).unwrap();
        ttheader::finish(&mut out, start_h).unwrap();
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        conn.write_all(&out).await.unwrap();
        let mut buf = BytesMut::new();
        let (h, mut payload) = loop {
            if let Some(f) = ttheader::decode(&mut buf, 1 << 20).unwrap() {
                break f;
            }
            assert!(conn.read_buf(&mut buf).await.unwrap() > 0, "server closed");
        };
        assert_eq!(h.seq_id, 0);
        let inner = framed::decode(&mut BytesMut::from(&payload[..]), 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(inner.len() + 4, payload.len());
        let _ = payload.split_to(4);
        let (env, _) = decode_header(Protocol::Binary, &mut payload).unwrap();
        assert_eq!((env.kind, env.seq_id), (MessageType::Reply, 9));
        assert_eq!(payload, string_args(Protocol::Binary, "inner"));
    }
);

wego_test_support::each_backend!(
    connections_beyond_the_limit_are_closed,
    |_backend| async move {
        let server = Server::builder()
            .service("S", &["echo"], echo())
            .with_max_connections(1)
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        let first = Client::builder(addr.clone()).build().unwrap();
        let a = string_args(Protocol::Binary, "x");
        assert_eq!(
            first
                .call(ClientRequest::new("echo", a.clone()))
                .await
                .unwrap()
                .body,
            a
        );
        // The first client's pooled connection holds the only slot.
        let second = Client::builder(addr)
            .with_mode(Mode::Short)
            .build()
            .unwrap();
        let e = second
            .call(ClientRequest::new("echo", a.clone()))
            .await
            .unwrap_err();
        assert!(e.is_closed() || e.is_transport(), "{e}");
        assert_eq!(
            first
                .call(ClientRequest::new("echo", a.clone()))
                .await
                .unwrap()
                .body,
            a
        );
    }
);

wego_test_support::each_backend!(
    max_connections_covers_every_listener_of_a_server,
    |_backend| async move {
        let server = Server::builder()
            .service("S", &["echo"], echo())
            .with_max_connections(1)
            .build()
            .unwrap();
        // Two listeners, the second served by a clone of the server.
        let (a, _sd) = start(server.clone()).await;
        let (b, _) = start(server.clone()).await;
        let x = string_args(Protocol::Binary, "x");
        // The pooled connection to the first listener keeps the only slot.
        let first = Client::builder(a).build().unwrap();
        first
            .call(ClientRequest::new("echo", x.clone()))
            .await
            .unwrap();
        let second = Client::builder(b.clone())
            .with_mode(Mode::Short)
            .build()
            .unwrap();
        let e = second
            .call(ClientRequest::new("echo", x.clone()))
            .await
            .unwrap_err();
        assert!(e.is_closed() || e.is_transport(), "{e}");
        // The first client's connection is served on.
        first.call(ClientRequest::new("echo", x)).await.unwrap();
    }
);

wego_test_support::each_backend!(
    in_flight_limit_bounds_concurrent_calls_per_connection,
    |_backend| async move {
        // Handlers report their call and wait for the gate; the test opens
        // it once the limit's worth of calls is in.
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<()>();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let (n2, p2, g) = (now.clone(), peak.clone(), gate.clone());
        let svc = service(move |req: wego_kitex::server::ThriftRequest| {
            let (now, peak, g, arrived_tx) =
                (n2.clone(), p2.clone(), g.clone(), arrived_tx.clone());
            async move {
                let cur = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(cur, Ordering::SeqCst);
                let _ = arrived_tx.send(());
                let _permit = g.acquire().await.unwrap();
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(ThriftReply::Result(req.args))
            }
        });
        let server = Server::builder()
            .service("S", &["echo"], svc)
            .with_max_in_flight(std::num::NonZeroUsize::new(4).unwrap())
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        let client = Client::builder(addr)
            .with_mode(Mode::Multiplexed)
            .build()
            .unwrap();
        let mut calls = Vec::new();
        for _ in 0..20 {
            let c = client.clone();
            calls.push(rt::spawn(async move {
                c.call(ClientRequest::new(
                    "echo",
                    string_args(Protocol::Binary, "x"),
                ))
                .await
                .unwrap();
            }));
        }
        for _ in 0..4 {
            rt::timeout(Duration::from_secs(10), arrived.recv())
                .await
                .expect("the limit's worth of calls reaches the handlers")
                .unwrap();
        }
        assert_eq!(now.load(Ordering::SeqCst), 4);
        gate.add_permits(20);
        for c in calls {
            c.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 4);
    }
);

/// Public futures are `Send`, so they can be spawned on any worker.
#[test]
fn public_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let client = Client::builder("127.0.0.1:1".parse().unwrap())
        .build()
        .unwrap();
    is_send(&client.call(ClientRequest::new("m", Bytes::new())));
    let server = Server::builder()
        .service("S", &["echo"], echo())
        .build()
        .unwrap();
    let serve = async move {
        let listener = wego_test_support::loopback().await;
        server.serve(listener).await;
    };
    is_send(&serve);
}

wego_test_support::each_backend_paused!(
    multiplexed_client_redials_after_the_server_closes,
    |backend| async move {
        let idle = Duration::from_millis(100);
        let server = Server::builder()
            .service("S", &["echo"], echo())
            .with_read_timeout(idle)
            .build()
            .unwrap();
        let client = pipe_client(&server)
            .with_mode(Mode::Multiplexed)
            .build()
            .unwrap();
        let a = string_args(Protocol::Binary, "x");
        assert_eq!(
            client
                .call(ClientRequest::new("echo", a.clone()))
                .await
                .unwrap()
                .body,
            a
        );
        // The server closes the idle connection at its read timeout.
        let took = step_until_true(BOUND, || server.active() == 0).await;
        assert_at(backend, took, idle, 1);
        // The client has read the close by now: the next call goes to a
        // new connection.
        let r = client
            .call(ClientRequest::new("echo", a.clone()))
            .await
            .unwrap();
        assert_eq!(r.body, a);
        assert_eq!(client.dial_count(), 2);
    }
);

/// A proxy to `upstream` on loopback whose connections forward one request
/// and its reply; a connection `n` (from 0) for which `closes(n)` holds then
/// closes on its next request without forwarding it, as a server that read
/// the request and closed would: the call that sent it gets no reply. The
/// count is of the connections accepted.
async fn closing_proxy(
    upstream: wego_netpoll::Address,
    closes: fn(usize) -> bool,
) -> (wego_netpoll::Address, Arc<AtomicUsize>) {
    use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
    let proxy = wego_test_support::loopback().await;
    let addr = proxy.local_addr().clone();
    let accepted = Arc::new(AtomicUsize::new(0));
    let seen = accepted.clone();
    rt::spawn(async move {
        loop {
            let Ok(mut client) = proxy.accept().await else {
                return;
            };
            let closing = closes(seen.fetch_add(1, Ordering::SeqCst));
            let upstream = upstream.clone();
            rt::spawn(async move {
                let mut server = wego_netpoll::Dialer::new().dial(&upstream).await.unwrap();
                let mut up = vec![0u8; 64 * 1024];
                let mut down = vec![0u8; 64 * 1024];
                let mut replied = false;
                loop {
                    tokio::select! {
                        n = client.read(&mut up) => {
                            let Ok(n @ 1..) = n else { return };
                            if closing && replied {
                                return; // drops both connections
                            }
                            server.write_all(&up[..n]).await.unwrap();
                        }
                        n = server.read(&mut down) => {
                            let Ok(n @ 1..) = n else { return };
                            client.write_all(&down[..n]).await.unwrap();
                            replied = true;
                        }
                    }
                }
            });
        }
    });
    (addr, accepted)
}

wego_test_support::each_backend!(
    multiplexed_call_on_a_connection_closed_under_it_is_retried_once,
    |_backend| async move {
        let server = Server::builder()
            .service("S", &["echo"], echo())
            .build()
            .unwrap();
        let (upstream, _sd) = start(server).await;
        // The first connection closes on its second request.
        let (addr, accepted) = closing_proxy(upstream, |n| n == 0).await;
        let client = Client::builder(addr)
            .with_mode(Mode::Multiplexed)
            .build()
            .unwrap();
        let a = string_args(Protocol::Binary, "x");
        // Idempotent: the retry policy allows sending the call again.
        for _ in 0..2 {
            let r = client
                .call(ClientRequest::new("echo", a.clone()).with_idempotent(true))
                .await
                .unwrap();
            assert_eq!(r.body, a);
        }
        assert_eq!(client.dial_count(), 2);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }
);

wego_test_support::each_backend!(
    a_call_the_server_may_have_read_is_sent_again_only_when_idempotent,
    |_backend| async move {
        let server = Server::builder()
            .service("S", &["echo"], echo())
            .build()
            .unwrap();
        let (upstream, _sd) = start(server).await;
        let a = string_args(Protocol::Binary, "x");
        for mode in [
            Mode::Pooled {
                max_idle: 4,
                idle_timeout: Duration::from_secs(60),
            },
            Mode::Multiplexed,
        ] {
            // Every connection closes on its second request.
            let (addr, accepted) = closing_proxy(upstream.clone(), |_| true).await;
            let client = Client::builder(addr).with_mode(mode).build().unwrap();
            let call = |idempotent| {
                client.call(ClientRequest::new("echo", a.clone()).with_idempotent(idempotent))
            };
            call(false).await.unwrap();
            // The request went out whole, and the peer closed: it may have
            // run the call, which is not sent again.
            let e = call(false).await.unwrap_err();
            assert!(e.is_closed(), "{mode:?}: {e}");
            assert_eq!(accepted.load(Ordering::SeqCst), 1, "{mode:?}: sent again");
            // An idempotent call is: the second connection closes under it
            // and a third answers.
            call(true).await.unwrap();
            call(true).await.unwrap();
            assert_eq!(accepted.load(Ordering::SeqCst), 3, "{mode:?}");
        }
    }
);

wego_test_support::each_backend!(
    a_multiplexed_reply_the_client_rejects_fails_only_its_call,
    |_backend| async move {
        // "hold" answers once the test opens the gate; every call is counted.
        let runs = Arc::new(AtomicUsize::new(0));
        let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<()>();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let (r2, g) = (runs.clone(), gate.clone());
        let svc = service(move |req: wego_kitex::server::ThriftRequest| {
            let (r, g, arrived_tx) = (r2.clone(), g.clone(), arrived_tx.clone());
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                if req.args == string_args(Protocol::Binary, "hold") {
                    let _ = arrived_tx.send(());
                    g.acquire().await.unwrap().forget();
                }
                Ok(ThriftReply::Result(req.args))
            }
        });
        let server = Server::builder()
            .service("S", &["echo"], svc)
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        let client = Client::builder(addr)
            .with_mode(Mode::Multiplexed)
            .with_max_frame(1024)
            .build()
            .unwrap();
        let call = |s: &str| {
            let (c, a) = (client.clone(), string_args(Protocol::Binary, s));
            async move { c.call(ClientRequest::new("echo", a)).await }
        };
        call("x").await.unwrap();
        let held = rt::spawn(call("hold"));
        rt::timeout(BOUND, arrived.recv()).await.unwrap().unwrap();
        // The reply is over the client's limit: that call fails, once.
        let e = call(&"y".repeat(4096)).await.unwrap_err();
        assert!(e.is_protocol(), "{e}");
        assert_eq!(runs.load(Ordering::SeqCst), 3, "the big call ran once");
        // The call in flight beside it, and the connection, go on.
        gate.add_permits(1);
        let r = held.await.unwrap().unwrap();
        assert_eq!(r.body, string_args(Protocol::Binary, "hold"));
        call("after").await.unwrap();
        assert_eq!(client.dial_count(), 1);
    }
);

wego_test_support::each_backend!(
    a_panicking_handler_is_answered_internal_error_and_the_connection_lives,
    |_backend| async move {
        // "boom" panics; "hold" answers once the test opens the gate.
        let runs = Arc::new(AtomicUsize::new(0));
        let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<()>();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let (r2, g) = (runs.clone(), gate.clone());
        let svc = service(move |req: wego_kitex::server::ThriftRequest| {
            let (r, g, arrived_tx) = (r2.clone(), g.clone(), arrived_tx.clone());
            async move {
                if req.args == string_args(Protocol::Binary, "boom") {
                    r.fetch_add(1, Ordering::SeqCst);
                    panic!("handler bug");
                }
                if req.args == string_args(Protocol::Binary, "hold") {
                    let _ = arrived_tx.send(());
                    g.acquire().await.unwrap().forget();
                }
                Ok(ThriftReply::Result(req.args))
            }
        });
        let server = Server::builder()
            .service("S", &["echo"], svc)
            .build()
            .unwrap();
        let (addr, _sd) = start(server).await;
        let call = |c: &Client, s: &str| {
            let (c, a) = (c.clone(), string_args(Protocol::Binary, s));
            async move { c.call(ClientRequest::new("echo", a)).await }
        };
        for mode in [
            Mode::Pooled {
                max_idle: 4,
                idle_timeout: Duration::from_secs(60),
            },
            Mode::Multiplexed,
        ] {
            runs.store(0, Ordering::SeqCst);
            let client = Client::builder(addr.clone())
                .with_mode(mode)
                .build()
                .unwrap();
            call(&client, "ok").await.unwrap();
            // On the multiplexed connection another call is in flight.
            let held = (mode == Mode::Multiplexed).then(|| rt::spawn(call(&client, "hold")));
            if held.is_some() {
                rt::timeout(BOUND, arrived.recv()).await.unwrap().unwrap();
            }
            let e = call(&client, "boom").await.unwrap_err();
            let kind = e.application_exception().map(|x| x.kind);
            assert_eq!(kind, Some(ExceptionKind::InternalError), "{mode:?}: {e}");
            assert_eq!(runs.load(Ordering::SeqCst), 1, "{mode:?}: sent once");
            if let Some(held) = held {
                gate.add_permits(1);
                let r = held.await.unwrap().unwrap();
                assert_eq!(r.body, string_args(Protocol::Binary, "hold"));
            }
            // The connection served on.
            call(&client, "after").await.unwrap();
            assert_eq!(client.dial_count(), 1, "{mode:?}");
        }
    }
);

wego_test_support::each_backend_paused!(
    dropping_a_multiplexed_client_closes_its_connection,
    |_backend| async move {
        let server = Server::builder()
            .service("S", &["echo"], echo())
            .with_read_timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let client = pipe_client(&server)
            .with_mode(Mode::Multiplexed)
            .build()
            .unwrap();
        let a = string_args(Protocol::Binary, "x");
        let other = client.clone();
        client
            .call(ClientRequest::new("echo", a.clone()))
            .await
            .unwrap();
        settle().await;
        assert_eq!(server.active(), 1);
        // A clone keeps the connection.
        drop(client);
        settle().await;
        assert_eq!(server.active(), 1);
        other.call(ClientRequest::new("echo", a)).await.unwrap();
        // The last handle takes it along, with its reader: the server sees
        // the close at once, long before its read timeout.
        drop(other);
        settle().await;
        assert_eq!(server.active(), 0, "the connection outlived its client");
    }
);

// Timeouts too long for an `Instant` mean "never": a server whose read and
// frame timeouts and a client whose RPC timeout and call timeout are
// `Duration::MAX` serve and call, and wait for ever rather than overflow.
wego_test_support::each_backend_paused!(
    timeouts_of_duration_max_never_fire,
    |_backend| async move {
        let server = Server::builder()
            .service("S", &["echo"], echo())
            .with_read_timeout(Duration::MAX)
            .with_frame_read_timeout(Duration::MAX)
            .build()
            .unwrap();
        let client = pipe_client(&server)
            .with_rpc_timeout(Duration::MAX)
            .build()
            .unwrap();
        for round in 0..2 {
            let a = string_args(Protocol::Binary, "x");
            let request = ClientRequest::new("echo", a.clone()).with_timeout(Duration::MAX);
            let (reply, _) = step_until(Duration::from_secs(60), client.call(request)).await;
            assert_eq!(reply.unwrap().body, a, "round {round}");
            // A year of silence: the pooled connection is still served.
            rt::advance(Duration::from_secs(365 * 24 * 3600))
                .await
                .unwrap();
            settle().await;
            assert_eq!(server.active(), 1, "round {round}");
        }
    }
);
