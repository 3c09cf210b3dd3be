//! Echo, concurrency, half-close, reset, connect errors and liveness.

use std::time::Duration;

use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::{Address, Conn, Dialer, Listener, rt};
use wego_test_support::{each_backend, loopback, unix_socket_path};

async fn echo_server(listener: Listener) {
    loop {
        let Ok(mut conn) = listener.accept().await else {
            return;
        };
        rt::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if conn.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

async fn round_trip(conn: &mut Conn, payload: &[u8]) {
    conn.write_all(payload).await.unwrap();
    let mut back = vec![0u8; payload.len()];
    conn.read_exact(&mut back).await.unwrap();
    assert_eq!(back, payload);
}

each_backend!(echo_over_tcp, |_backend| async move {
    let listener = loopback().await;
    let addr = listener.local_addr().clone();
    rt::spawn(echo_server(listener));
    let mut conn = Dialer::new().dial(&addr).await.unwrap();
    assert_eq!(conn.peer_addr(), &addr);
    assert!(matches!(conn.local_addr(), Address::Tcp(a) if a.ip().is_loopback()));
    round_trip(&mut conn, b"hello").await;
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = wego_netpoll::io::split(conn);
    let writer = rt::spawn({
        let big = big.clone();
        async move { w.write_all(&big).await.unwrap() }
    });
    let mut back = vec![0u8; big.len()];
    r.read_exact(&mut back).await.unwrap();
    writer.await.unwrap();
    assert_eq!(back, big);
});

each_backend!(
    accepted_addresses_mirror_the_dialers,
    |_backend| async move {
        // A listener on one address, and one on the wildcard address, whose
        // accepted sockets' local address is the one the peer reached.
        for bind in ["127.0.0.1:0", "0.0.0.0:0"] {
            let listener = Listener::bind(&bind.parse().unwrap()).await.unwrap();
            let port = listener.local_addr().as_tcp().unwrap().port();
            let target = Address::Tcp(([127, 0, 0, 1], port).into());
            let dialer = Dialer::new();
            let (dialed, accepted) = tokio::join!(dialer.dial(&target), listener.accept());
            let (dialed, accepted) = (dialed.unwrap(), accepted.unwrap());
            assert_eq!(accepted.local_addr(), &target, "bound to {bind}");
            assert_eq!(accepted.local_addr(), dialed.peer_addr(), "bound to {bind}");
            assert_eq!(accepted.peer_addr(), dialed.local_addr(), "bound to {bind}");
        }
    }
);

each_backend!(
    set_nodelay_reaches_the_socket_whatever_was_set_before,
    |_backend| async move {
        for listener_nodelay in [true, false] {
            let listener = Listener::builder()
                .nodelay(listener_nodelay)
                .bind(&"127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            let target = listener.local_addr().clone();
            let dialer = Dialer::new();
            let (dialed, accepted) = tokio::join!(dialer.dial(&target), listener.accept());
            let (_dialed, accepted) = (dialed.unwrap(), accepted.unwrap());
            let on_socket = || socket2::SockRef::from(&accepted).tcp_nodelay().unwrap();
            assert_eq!(on_socket(), listener_nodelay);
            for want in [true, true, false, false, true] {
                accepted.set_nodelay(want).unwrap();
                assert_eq!(on_socket(), want, "after set_nodelay({want})");
            }
        }
    }
);

each_backend!(echo_over_unix_socket, |_backend| async move {
    let path = unix_socket_path("echo");
    let addr = Address::Unix(path.clone());
    let listener = Listener::bind(&addr).await.unwrap();
    rt::spawn(echo_server(listener));
    let mut conn = Dialer::new().dial(&addr).await.unwrap();
    assert_eq!(conn.peer_addr(), &addr);
    round_trip(&mut conn, b"over a unix socket").await;
    let _ = std::fs::remove_file(path);
});

each_backend!(
    serves_a_thousand_concurrent_connections,
    |_backend| async move {
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        rt::spawn(echo_server(listener));
        let mut tasks = Vec::new();
        for i in 0..1000u32 {
            let addr = addr.clone();
            tasks.push(rt::spawn(async move {
                let mut conn = Dialer::new().dial(&addr).await.unwrap();
                round_trip(&mut conn, &i.to_be_bytes()).await;
                conn
            }));
        }
        let mut conns = Vec::new();
        for t in tasks {
            conns.push(t.await.unwrap());
        }
        // Every connection is still open and served at the same time.
        for (i, conn) in conns.iter_mut().enumerate() {
            round_trip(conn, format!("again {i}").as_bytes()).await;
        }
    }
);

each_backend!(half_close_lets_the_peer_finish, |_backend| async move {
    let listener = loopback().await;
    let addr = listener.local_addr().clone();
    let server = rt::spawn(async move {
        let mut conn = listener.accept().await.unwrap();
        let mut all = Vec::new();
        conn.read_to_end(&mut all).await.unwrap();
        // The client's write half is closed; ours still works.
        conn.write_all(format!("got {} bytes", all.len()).as_bytes())
            .await
            .unwrap();
        conn.shutdown().await.unwrap();
    });
    let mut conn = Dialer::new().dial(&addr).await.unwrap();
    conn.write_all(&[7u8; 12345]).await.unwrap();
    conn.shutdown().await.unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).await.unwrap();
    assert_eq!(reply, "got 12345 bytes");
    server.await.unwrap();
});

each_backend!(peer_reset_is_an_error_not_a_hang, |_backend| async move {
    let listener = loopback().await;
    let addr = listener.local_addr().clone();
    let server = rt::spawn(async move {
        let mut conn = listener.accept().await.unwrap();
        // Reset only after the client saw its connect complete (it writes
        // first); a RST racing the handshake fails the dial instead.
        let mut first = [0u8; 1];
        conn.read_exact(&mut first).await.unwrap();
        // SO_LINGER 0 turns close into a RST.
        socket2::SockRef::from(&conn)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(conn);
    });
    let mut conn = Dialer::new().dial(&addr).await.unwrap();
    conn.write_all(b"x").await.unwrap();
    server.await.unwrap();
    let mut buf = [0u8; 16];
    let res = rt::timeout(Duration::from_secs(5), async {
        // Writes may succeed until the RST is seen; reads must end.
        let _ = conn.write_all(b"ping").await;
        conn.read(&mut buf).await
    })
    .await
    .expect("read after reset must not hang");
    match res {
        Ok(0) => {}
        Ok(n) => panic!("read {n} bytes from a reset connection"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
    assert!(!conn.is_active());
});

each_backend!(
    connect_to_a_closed_port_fails_clearly_within_the_timeout,
    |_backend| async move {
        // Bind then drop to find a port nobody listens on.
        let addr = loopback().await.local_addr().clone();
        let dialer = Dialer::new().with_connect_timeout(Duration::from_secs(2));
        let started = std::time::Instant::now();
        let err = dialer.dial(&addr).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(err.is_connect(), "{err:?}");
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionRefused));
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
);

each_backend!(connect_timeout_is_enforced, |_backend| async move {
    // A listener that never accepts, with the smallest backlog: once its
    // accept queue is full, Linux drops further SYNs, so the next handshake
    // cannot complete and only the connect timeout ends the dial.
    let listener = Listener::builder()
        .backlog(0)
        .bind(&Address::loopback())
        .await
        .unwrap();
    let addr = listener.local_addr().clone();
    let dialer = Dialer::new().with_connect_timeout(Duration::from_millis(300));
    let mut held = Vec::new();
    let mut timed_out = None;
    for _ in 0..64 {
        let started = std::time::Instant::now();
        match dialer.dial(&addr).await {
            Ok(conn) => held.push(conn),
            Err(err) => {
                timed_out = Some((err, started.elapsed()));
                break;
            }
        }
    }
    let (err, took) = timed_out.expect("a full accept queue must stall a dial");
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.to_string().contains("timed out after 300ms"), "{err}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    drop(listener);
});

each_backend!(
    is_active_turns_false_after_the_peer_closes,
    |_backend| async move {
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = rt::spawn(async move {
            let mut conn = listener.accept().await.unwrap();
            conn.write_all(b"x").await.unwrap();
            rx.await.unwrap();
            drop(conn);
        });
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        let mut one = [0u8; 1];
        conn.read_exact(&mut one).await.unwrap();
        assert!(conn.is_active());
        tx.send(()).unwrap();
        server.await.unwrap();
        // The FIN arrives asynchronously; poll without reading, under a
        // deadline only a hang reaches.
        let mut active = true;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            active = conn.is_active();
            if !active {
                break;
            }
            rt::sleep(Duration::from_millis(5)).await;
        }
        assert!(!active, "is_active still true after the peer closed");
    }
);

each_backend!(
    is_active_does_not_consume_pending_data,
    |_backend| async move {
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let (written, written_rx) = tokio::sync::oneshot::channel::<()>();
        let (done, done_rx) = tokio::sync::oneshot::channel::<()>();
        rt::spawn(async move {
            let mut conn = listener.accept().await.unwrap();
            conn.write_all(b"data").await.unwrap();
            written.send(()).unwrap();
            // Open until the client has read.
            let _ = done_rx.await;
        });
        let mut conn = Dialer::new().dial(&addr).await.unwrap();
        // Over loopback, written means waiting in the client's socket.
        written_rx.await.unwrap();
        assert!(conn.is_active());
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"data");
        let _ = done.send(());
    }
);
