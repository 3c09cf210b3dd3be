//! `TlsAcceptor::incoming`: a listener's connections handshaken
//! concurrently, as a stream for `serve_incoming`.

use std::num::NonZeroUsize;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use wego_netpoll::io::{AsyncReadExt, AsyncWriteExt};
use wego_netpoll::net::ConnInfo;
use wego_netpoll::tls::{TlsAcceptor, TlsIncoming, TlsStream};
use wego_netpoll::{Conn, Connect, Dialer, rt};
use wego_test_support::{each_backend, loopback};

use super::{Ca, connector, echo, round_trip};

/// The next stream `incoming` yields.
async fn next(incoming: &mut TlsIncoming) -> TlsStream<Conn> {
    std::future::poll_fn(|cx| Pin::new(&mut *incoming).poll_next(cx))
        .await
        .expect("the stream never ends")
        .expect("the stream never yields an error")
}

/// An acceptor whose handshake timeout outlasts any test, so that only a
/// concurrent handshake lets a second client through while a first one
/// is silent.
fn patient_acceptor(ca: &Ca) -> TlsAcceptor {
    TlsAcceptor::builder()
        .with_identity(ca.leaf(&["localhost"]))
        .with_handshake_timeout(Duration::from_secs(3600))
        .build()
        .unwrap()
}

each_backend!(
    a_silent_client_does_not_delay_an_honest_one,
    |_backend| async move {
        let ca = Ca::new("wego test ca");
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let mut incoming = patient_acceptor(&ca).incoming(listener);

        // Connected (in the accept queue, ahead of the honest client) and
        // silent for the whole test.
        let mut silent = Dialer::new().dial(&addr).await.unwrap();
        let honest = rt::spawn({
            let connector = connector(&ca, "localhost");
            let addr = addr.clone();
            async move {
                let mut tls = connector.connect(&addr).await.unwrap();
                round_trip(&mut tls, b"through").await;
            }
        });
        // A server that handshakes one connection at a time is stuck on
        // the silent one for an hour; the bound only turns that hang into
        // a failure.
        let served = rt::timeout(Duration::from_secs(60), next(&mut incoming))
            .await
            .expect("the honest handshake finished while the silent one waits");
        assert_eq!(served.info().server_name(), Some("localhost"));
        rt::spawn(echo(served));
        honest.await.unwrap();

        // The silent client is still connected: its handshake still waits.
        silent.write_all(&[0x16]).await.unwrap();
    }
);

each_backend!(
    failed_handshakes_are_skipped_and_serving_goes_on,
    |_backend| async move {
        let ca = Ca::new("wego test ca");
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let mut incoming = patient_acceptor(&ca).incoming(listener);

        let (tx, mut served) = tokio::sync::mpsc::unbounded_channel();
        rt::spawn(async move {
            loop {
                let tls = next(&mut incoming).await;
                let _ = tx.send(tls.info().clone());
                rt::spawn(echo(tls));
            }
        });

        let mut plain = Dialer::new().dial(&addr).await.unwrap();
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        // Refused: the server sends an alert at most, then closes.
        let mut rest = Vec::new();
        let _ = plain.read_to_end(&mut rest).await;
        assert!(rest.len() < 64, "{rest:?}");

        let mut tls = connector(&ca, "localhost").connect(&addr).await.unwrap();
        round_trip(&mut tls, b"after a refusal").await;
        // Only the honest connection came through.
        let info = served.recv().await.unwrap();
        assert_eq!(info.server_name(), Some("localhost"));
        assert!(served.try_recv().is_err());
    }
);

each_backend!(pending_handshakes_are_bounded, |_backend| async move {
    let ca = Ca::new("wego test ca");
    let acceptor = TlsAcceptor::builder()
        .with_identity(ca.leaf(&["localhost"]))
        .with_max_pending_handshakes(NonZeroUsize::new(1).unwrap())
        .with_handshake_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    assert_eq!(acceptor.max_pending_handshakes(), 1);
    let listener = loopback().await;
    let addr = listener.local_addr().clone();
    let mut incoming = acceptor.incoming(listener);

    // The silent client takes the only slot; the honest one is
    // accepted once the silent one's handshake times out and its
    // socket is closed.
    let silent = Dialer::new().dial(&addr).await.unwrap();
    let honest = rt::spawn({
        let connector = connector(&ca, "localhost");
        async move {
            let mut tls = connector.connect(&addr).await.unwrap();
            round_trip(&mut tls, b"second").await;
        }
    });
    let served = next(&mut incoming).await;
    // The server closed the silent socket before it accepted the
    // honest one, and loopback delivered that FIN before the honest
    // handshake's bytes: a non-blocking peek finds the end.
    let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    let peeked = socket2::SockRef::from(&silent).peek(&mut probe);
    assert_eq!(peeked.ok(), Some(0), "the silent client was closed first");
    rt::spawn(echo(served));
    honest.await.unwrap();
});

each_backend!(
    one_port_serves_tls_and_plaintext_clients,
    |_backend| async move {
        let ca = Ca::new("wego test ca");
        let listener = loopback().await;
        let addr = listener.local_addr().clone();
        let mut incoming = patient_acceptor(&ca).incoming_or_plain(listener);
        let (tx, mut served) = tokio::sync::mpsc::unbounded_channel();
        rt::spawn(async move {
            loop {
                let io = std::future::poll_fn(|cx| Pin::new(&mut incoming).poll_next(cx))
                    .await
                    .unwrap()
                    .unwrap();
                let _ = tx.send((io.is_tls(), io.tls_info().is_some()));
                rt::spawn(echo(io));
            }
        });

        // Plaintext: the first byte, peeked to decide, is echoed too.
        let mut plain = Dialer::new().dial(&addr).await.unwrap();
        round_trip(&mut plain, b"GET / plain").await;
        assert_eq!(served.recv().await.unwrap(), (false, false));

        let mut tls = connector(&ca, "localhost").connect(&addr).await.unwrap();
        round_trip(&mut tls, b"sealed").await;
        assert_eq!(served.recv().await.unwrap(), (true, true));

        // A client that closes before its first byte is skipped.
        drop(Dialer::new().dial(&addr).await.unwrap());
        let mut again = Dialer::new().dial(&addr).await.unwrap();
        round_trip(&mut again, b"after an early close").await;
        assert_eq!(served.recv().await.unwrap(), (false, false));
    }
);
