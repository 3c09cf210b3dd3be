//! HTTPS over wego-netpoll's TLS: HTTP/1.1 and HTTP/2 chosen by ALPN, the
//! connection's `TlsInfo` in each request, mutual TLS, refused clients,
//! and curl, `openssl s_client` and the http-hello example as outside
//! peers. Certificates are made in the test with rcgen.

use std::convert::Infallible;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use wego_hertz::server::{Builder, ClientAddr, TlsInfo};
use wego_hertz::{Body, BoxError, Server};
use wego_netpoll::tls::{ClientAuth, Identity, RootCerts, TlsAcceptor, TlsConnector};
use wego_netpoll::{Address, Connect, rt};
use wego_test_support::{each_backend, loopback, peer};

use crate::example_hello::hello;
use crate::support::connect;

/// A certificate authority made for one test.
pub(crate) struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub(crate) fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    pub(crate) fn pem(&self) -> String {
        self.issuer.pem()
    }

    pub(crate) fn roots(&self) -> RootCerts {
        RootCerts::from_pem(self.pem()).unwrap()
    }

    /// A leaf for `names` (DNS names or `spiffe://` URIs) as PEM chain and
    /// key, with `edit` applied to its parameters.
    fn leaf_pem_with(
        &self,
        names: &[&str],
        edit: impl FnOnce(&mut CertificateParams),
    ) -> (String, String) {
        let (dns, uris): (Vec<&str>, Vec<&str>) = names.iter().partition(|n| !n.contains("://"));
        let mut params =
            CertificateParams::new(dns.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap();
        for uri in uris {
            params
                .subject_alt_names
                .push(rcgen::SanType::URI(uri.try_into().unwrap()));
        }
        edit(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    pub(crate) fn leaf(&self, names: &[&str]) -> Identity {
        let (chain, key) = self.leaf_pem_with(names, |_| {});
        Identity::from_pem(chain, key).unwrap()
    }
}

/// An acceptor for `localhost` offering `h2` and `http/1.1`.
pub(crate) fn acceptor(ca: &Ca) -> TlsAcceptor {
    TlsAcceptor::builder()
        .with_identity(ca.leaf(&["localhost"]))
        .with_alpn_protocols(["h2", "http/1.1"])
        .build()
        .unwrap()
}

/// A client trusting `ca`, asking for `localhost` and offering `alpn`.
fn connector(ca: &Ca, alpn: &[&str], identity: Option<Identity>) -> TlsConnector {
    let mut builder = TlsConnector::builder()
        .with_roots(ca.roots())
        .with_server_name("localhost")
        .with_alpn_protocols(alpn.iter().copied());
    if let Some(identity) = identity {
        builder = builder.with_identity(identity);
    }
    builder.build().unwrap()
}

/// Answers with what the request knows of its connection: the version,
/// and the TLS facts and client address from its extensions.
async fn who(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let ext = req.extensions();
    let text = match ext.get::<TlsInfo>() {
        None => format!("{:?} plaintext", req.version()),
        Some(tls) => format!(
            "{:?} alpn={} sni={} dns={} uri={} addr={}",
            req.version(),
            String::from_utf8_lossy(tls.alpn_protocol().unwrap_or(b"-")),
            tls.server_name().unwrap_or("-"),
            tls.peer_dns_names().join(","),
            tls.peer_uri_names().join(","),
            ext.get::<ClientAddr>().is_some(),
        ),
    };
    Ok(Response::new(Body::from(text)))
}

/// Serves [`who`] behind `acceptor` on a loopback listener, with the
/// http-hello example's accept loop: each connection handshakes on its
/// own task, then goes to `serve_connection`. Every failed handshake is
/// reported on the channel.
pub(crate) async fn start_tls(
    builder: Builder,
    acceptor: TlsAcceptor,
) -> (Address, mpsc::UnboundedReceiver<wego_netpoll::Error>) {
    start_tls_with(builder, acceptor, tower::service_fn(who)).await
}

/// As [`start_tls`], serving `svc` instead of [`who`].
pub(crate) async fn start_tls_with<S>(
    builder: Builder,
    acceptor: TlsAcceptor,
    svc: S,
) -> (Address, mpsc::UnboundedReceiver<wego_netpoll::Error>)
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let server = builder.build().unwrap();
    let listener = loopback().await;
    let addr = listener.local_addr().clone();
    let (tx, rx) = mpsc::unbounded_channel();
    rt::spawn(async move {
        while let Ok(conn) = listener.accept().await {
            let (server, acceptor, tx) = (server.clone(), acceptor.clone(), tx.clone());
            let svc = svc.clone();
            rt::spawn_connection(conn, move |conn| async move {
                match acceptor.accept(conn).await {
                    Ok(tls) => server.serve_connection(tls, svc).await,
                    Err(e) => {
                        let _ = tx.send(e);
                    }
                }
            });
        }
    });
    (addr, rx)
}

/// `GET /` over HTTP/1.1 with hyper's client; the response body.
async fn h1_get<IO>(io: IO) -> Result<String, BoxError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, driver) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    rt::spawn(driver);
    let req = Request::get("/")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())?;
    let resp = rt::timeout(Duration::from_secs(10), send.send_request(req)).await??;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8(body.to_vec())?)
}

/// `GET /` over HTTP/2 with the h2 crate's client; the response body.
async fn h2_get<IO>(io: IO) -> Result<String, BoxError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = h2::client::handshake(io).await?;
    rt::spawn(async move {
        let _ = conn.await;
    });
    let mut send = send.ready().await?;
    let req = Request::get("https://localhost/").body(())?;
    let (resp, _) = send.send_request(req, true)?;
    let resp = rt::timeout(Duration::from_secs(10), resp).await??;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut all = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        all.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8(all)?)
}

/// Writes `contents` to a file of this process in the temp directory.
fn write_temp(tag: &str, contents: &str) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("wego-hertz-tls-{tag}-{}.pem", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

each_backend!(https_serves_http1_and_h2_by_alpn, |_backend| async move {
    let ca = Ca::new("wego test ca");
    let (addr, _failed) = start_tls(Server::builder(), acceptor(&ca)).await;

    let tls = connector(&ca, &["h2"], None).connect(&addr).await.unwrap();
    assert_eq!(
        h2_get(tls).await.unwrap(),
        "HTTP/2.0 alpn=h2 sni=localhost dns= uri= addr=true"
    );
    let tls = connector(&ca, &["http/1.1"], None)
        .connect(&addr)
        .await
        .unwrap();
    assert_eq!(
        h1_get(tls).await.unwrap(),
        "HTTP/1.1 alpn=http/1.1 sni=localhost dns= uri= addr=true"
    );
    // A client that offers no ALPN gets HTTP/1.1.
    let tls = connector(&ca, &[], None).connect(&addr).await.unwrap();
    assert_eq!(
        h1_get(tls).await.unwrap(),
        "HTTP/1.1 alpn=- sni=localhost dns= uri= addr=true"
    );
});

each_backend!(
    alpn_h2_is_served_as_http2_with_cleartext_http2_off,
    |_backend| async move {
        let ca = Ca::new("wego test ca");
        let (addr, _failed) = start_tls(Server::builder().with_http2(false), acceptor(&ca)).await;
        let tls = connector(&ca, &["h2"], None).connect(&addr).await.unwrap();
        assert_eq!(
            h2_get(tls).await.unwrap(),
            "HTTP/2.0 alpn=h2 sni=localhost dns= uri= addr=true"
        );
        // Plaintext on the same server: the preface is refused as before.
        let server = Server::builder().with_http2(false).build().unwrap();
        let (io, mut client) = tokio::io::duplex(4096);
        rt::spawn(server.serve_connection(io, tower::service_fn(who)));
        client
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 505"), "{answer}");
    }
);

each_backend!(
    mtls_identity_reaches_the_handler_and_an_unknown_ca_is_refused,
    |_backend| async move {
        let server_ca = Ca::new("wego server ca");
        let client_ca = Ca::new("wego client ca");
        let rogue_ca = Ca::new("rogue ca");
        let acceptor = TlsAcceptor::builder()
            .with_identity(server_ca.leaf(&["localhost"]))
            .with_alpn_protocols(["h2", "http/1.1"])
            .with_client_auth(ClientAuth::required(client_ca.roots()))
            .build()
            .unwrap();
        let (addr, mut failed) = start_tls(Server::builder(), acceptor).await;
        let honest = client_ca.leaf(&["client.wego.test", "spiffe://wego.test/svc"]);

        let tls = connector(&server_ca, &["h2"], Some(honest.clone()))
            .connect(&addr)
            .await
            .unwrap();
        assert_eq!(
            h2_get(tls).await.unwrap(),
            "HTTP/2.0 alpn=h2 sni=localhost dns=client.wego.test \
             uri=spiffe://wego.test/svc addr=true"
        );
        let tls = connector(&server_ca, &["http/1.1"], Some(honest.clone()))
            .connect(&addr)
            .await
            .unwrap();
        assert_eq!(
            h1_get(tls).await.unwrap(),
            "HTTP/1.1 alpn=http/1.1 sni=localhost dns=client.wego.test \
             uri=spiffe://wego.test/svc addr=true"
        );

        // A certificate from a CA the server does not trust. Under TLS 1.3
        // the client's handshake may finish before the server refuses, so
        // the refusal shows either there or on the first request.
        let rogue = connector(
            &server_ca,
            &["http/1.1"],
            Some(rogue_ca.leaf(&["client.wego.test"])),
        );
        if let Ok(tls) = rogue.connect(&addr).await {
            assert!(h1_get(tls).await.is_err());
        }
        let refused = failed.recv().await.unwrap();
        assert!(refused.is_tls(), "{refused}");
        // Without a certificate at all.
        if let Ok(tls) = connector(&server_ca, &["h2"], None).connect(&addr).await {
            assert!(h2_get(tls).await.is_err());
        }
        assert!(failed.recv().await.unwrap().is_tls());

        // The server goes on serving honest clients.
        let tls = connector(&server_ca, &["h2"], Some(honest))
            .connect(&addr)
            .await
            .unwrap();
        assert!(h2_get(tls).await.unwrap().contains("dns=client.wego.test"));
    }
);

each_backend!(
    a_plaintext_client_on_the_tls_port_is_refused_and_serving_goes_on,
    |_backend| async move {
        let ca = Ca::new("wego test ca");
        let (addr, mut failed) = start_tls(Server::builder(), acceptor(&ca)).await;
        let mut conn = connect(&addr).await;
        conn.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        // The handshake fails on the first bytes: the connection closes
        // (after at most a TLS alert), with no HTTP answer.
        let mut got = Vec::new();
        let read = rt::timeout(Duration::from_secs(10), conn.read_to_end(&mut got)).await;
        assert!(read.is_ok(), "the server closes the plaintext connection");
        assert!(!got.starts_with(b"HTTP/"), "{got:?}");
        assert!(failed.recv().await.unwrap().is_tls());

        let tls = connector(&ca, &["http/1.1"], None)
            .connect(&addr)
            .await
            .unwrap();
        assert!(h1_get(tls).await.unwrap().starts_with("HTTP/1.1 "));
    }
);

each_backend!(
    the_client_refuses_an_expired_certificate_and_the_wrong_name,
    |_backend| async move {
        let ca = Ca::new("wego test ca");
        let (chain, key) = ca.leaf_pem_with(&["old.test"], |p| {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        });
        let acceptor = TlsAcceptor::builder()
            .with_identity(ca.leaf(&["localhost"]))
            .with_sni_identity("old.test", Identity::from_pem(chain, key).unwrap())
            .with_alpn_protocols(["h2", "http/1.1"])
            .build()
            .unwrap();
        let (addr, _failed) = start_tls(Server::builder(), acceptor).await;
        let client = connector(&ca, &["h2"], None);

        let err = client
            .connect_with_name(&addr, "old.test")
            .await
            .unwrap_err();
        assert!(err.is_tls() && err.to_string().contains("expired"), "{err}");
        // The default certificate is localhost's: asking for another name
        // gets it, and the client refuses it.
        let err = client
            .connect_with_name(&addr, "other.test")
            .await
            .unwrap_err();
        assert!(
            err.is_tls() && err.to_string().contains("not valid for name"),
            "{err}"
        );
        let tls = client.connect(&addr).await.unwrap();
        assert!(h2_get(tls).await.unwrap().starts_with("HTTP/2.0 "));
    }
);

each_backend!(
    curl_fetches_over_h2_and_http1_by_alpn,
    |_backend| async move {
        let test = "curl_fetches_over_h2_and_http1_by_alpn";
        let Some(curl) = peer::program(test, "curl") else {
            return;
        };
        let ca = Ca::new("wego test ca");
        let (addr, _failed) = start_tls(Server::builder(), acceptor(&ca)).await;
        let port = addr.as_tcp().unwrap().port();
        let ca_file = write_temp(&format!("curl-ca-{port}"), &ca.pem());
        let cacert = ca_file.clone();
        let out = rt::spawn_blocking(move || {
            let w = ["-sS", "--max-time", "20", "-w", "|%{http_version}\\n"];
            peer::output(
                Command::new(curl)
                    .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
                    .arg("--cacert")
                    .arg(&cacert)
                    .args(w)
                    .arg("--http2")
                    .arg(format!("https://localhost:{port}/"))
                    .arg("--next")
                    .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
                    .arg("--cacert")
                    .arg(&cacert)
                    .args(w)
                    .arg("--http1.1")
                    .arg(format!("https://localhost:{port}/")),
            )
        })
        .await
        .unwrap();
        let _ = std::fs::remove_file(ca_file);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines,
            [
                "HTTP/2.0 alpn=h2 sni=localhost dns= uri= addr=true|2",
                "HTTP/1.1 alpn=http/1.1 sni=localhost dns= uri= addr=true|1.1",
            ]
        );
    }
);

each_backend!(openssl_s_client_negotiates_h2, |_backend| async move {
    let test = "openssl_s_client_negotiates_h2";
    let Some(openssl) = peer::program(test, "openssl") else {
        return;
    };
    let ca = Ca::new("wego test ca");
    let (addr, _failed) = start_tls(Server::builder(), acceptor(&ca)).await;
    let port = addr.as_tcp().unwrap().port();
    let ca_file = write_temp(&format!("s-client-ca-{port}"), &ca.pem());
    let cafile = ca_file.clone();
    let out = rt::spawn_blocking(move || {
        // stdin at EOF: s_client handshakes, prints the session and leaves.
        peer::output(
            Command::new(openssl)
                .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
                .args(["-servername", "localhost", "-verify_hostname", "localhost"])
                .arg("-CAfile")
                .arg(&cafile)
                .args(["-verify_return_error", "-alpn", "h2"])
                .stdin(Stdio::null()),
        )
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(ca_file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("ALPN protocol: h2"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
});

each_backend!(
    http_hello_serves_https_that_curl_fetches_over_h2,
    |_backend| async move {
        let test = "http_hello_serves_https_that_curl_fetches_over_h2";
        let Some(curl) = peer::program(test, "curl") else {
            return;
        };
        let ca = Ca::new("wego test ca");
        let (chain, key) = ca.leaf_pem_with(&["localhost"], |_| {});
        let listener = loopback().await;
        let port = listener.local_addr().as_tcp().unwrap().port();
        let cert_file = write_temp(&format!("hello-cert-{port}"), &chain);
        let key_file = write_temp(&format!("hello-key-{port}"), &key);
        let ca_file = write_temp(&format!("hello-ca-{port}"), &ca.pem());
        let acceptor = hello::tls_acceptor(&cert_file, &key_file).unwrap();
        let _ = std::fs::remove_file(&cert_file);
        let _ = std::fs::remove_file(&key_file);

        let server = Server::builder().build().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = rt::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            let grace = Duration::from_secs(5);
            hello::serve_tls(&server, listener, acceptor, hello::app(), stopped, grace).await
        });
        let cacert = ca_file.clone();
        let out = rt::spawn_blocking(move || {
            peer::output(
                Command::new(curl)
                    .args(["-sS", "--max-time", "20", "--http2"])
                    .args(["-w", "|%{http_version}"])
                    .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
                    .arg("--cacert")
                    .arg(&cacert)
                    .arg(format!("https://localhost:{port}/")),
            )
        })
        .await
        .unwrap();
        let _ = std::fs::remove_file(ca_file);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout, "hello from wego-hertz|2");

        stop.send(()).unwrap();
        let report = rt::timeout(Duration::from_secs(10), serving)
            .await
            .unwrap()
            .unwrap();
        assert!(report.is_graceful(), "{report:?}");
    }
);
