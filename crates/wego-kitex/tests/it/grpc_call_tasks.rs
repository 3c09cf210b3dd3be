//! Where a connection's calls run: on the connection's task (the default)
//! or on a task each (`with_task_per_call`). Either way calls of one
//! connection proceed independently, and a handler's panic ends only its
//! own call.

use std::time::Duration;

use wego_kitex::grpc::{Code, GrpcRouter, GrpcServer, Request, Response};

use crate::grpc_common::*;

/// The echo routes plus a unary method whose handler panics.
fn router() -> GrpcRouter {
    echo_router().merge(GrpcRouter::new().unary(
        "/echo.EchoServer/Panic",
        |_r: Request<EchoRequest>| async move {
            if std::hint::black_box(true) {
                panic!("handler bug");
            }
            Ok(Response::new(EchoResponse::default()))
        },
    ))
}

wego_test_support::each_backend!(
    a_panicking_handler_ends_only_its_call,
    |_backend| async move {
        for task_per_call in [false, true] {
            let server = GrpcServer::builder()
                .with_task_per_call(task_per_call)
                .build()
                .unwrap();
            let (ch, _server) = start_with(server, router()).await;
            // A stream is open on the same connection while the handler
            // panics.
            let (tx, rx) = tokio::sync::mpsc::channel::<EchoRequest>(4);
            let reqs = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|m| (m, rx))
            });
            let mut stream = ch
                .streaming::<_, EchoRequest, EchoResponse>(BIDI, Request::new(reqs))
                .await
                .unwrap()
                .into_inner();
            tx.send(req("before")).await.unwrap();
            assert_eq!(stream.message().await.unwrap().unwrap().msg, "before");

            let err = ch
                .unary::<_, EchoResponse>("/echo.EchoServer/Panic", Request::new(req("x")))
                .await
                .unwrap_err();
            assert_ne!(err.code(), Code::Ok, "{err:?}");

            tx.send(req("after")).await.unwrap();
            let next = wego_netpoll::rt::timeout(Duration::from_secs(5), stream.message())
                .await
                .expect("the stream outlives the panic");
            assert_eq!(
                next.unwrap().unwrap().msg,
                "after",
                "task_per_call={task_per_call}"
            );
            let r = ch
                .unary::<_, EchoResponse>(UNARY, Request::new(req("still here")))
                .await
                .unwrap();
            assert_eq!(r.get_ref().msg, "still here");
        }
    }
);

wego_test_support::each_backend!(
    calls_of_one_connection_do_not_wait_for_each_other,
    |_backend| async move {
        for task_per_call in [false, true] {
            // A method whose handler reports its call and then waits for a
            // permit from the test.
            let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<()>();
            let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
            let g = gate.clone();
            let held =
                echo_router().unary("/echo.EchoServer/Held", move |r: Request<EchoRequest>| {
                    let (arrived_tx, g) = (arrived_tx.clone(), g.clone());
                    async move {
                        let _ = arrived_tx.send(());
                        g.acquire().await.unwrap().forget();
                        let m = r.into_inner();
                        Ok(Response::new(EchoResponse {
                            action: m.action,
                            msg: m.msg,
                        }))
                    }
                });
            let server = GrpcServer::builder()
                .with_task_per_call(task_per_call)
                .build()
                .unwrap();
            let (ch, _server) = start_with(server, held).await;
            let slow = {
                let ch = ch.clone();
                wego_netpoll::rt::spawn(async move {
                    ch.unary::<_, EchoResponse>("/echo.EchoServer/Held", Request::new(req("held")))
                        .await
                })
            };
            wego_netpoll::rt::timeout(Duration::from_secs(10), arrived.recv())
                .await
                .expect("the held call reaches its handler")
                .unwrap();
            // The held call cannot finish before the gate opens, so calls
            // that waited for it would never finish: the bound only catches
            // that hang.
            wego_netpoll::rt::timeout(Duration::from_secs(10), async {
                for i in 0..20 {
                    ch.unary::<_, EchoResponse>(UNARY, Request::new(req(&i.to_string())))
                        .await
                        .unwrap();
                }
            })
            .await
            .unwrap_or_else(|_| {
                panic!("quick calls waited for the held one (task_per_call={task_per_call})")
            });
            assert!(!slow.is_finished(), "the held call is still in its handler");
            gate.add_permits(1);
            assert_eq!(slow.await.unwrap().unwrap().get_ref().msg, "held");
        }
    }
);
