//! tonic as a gRPC peer over TLS: tonic's client (rustls with ring, ALPN
//! h2) against wego's server behind a `TlsAcceptor`, and wego's client
//! through a `TlsConnector` against tonic's TLS server; every call kind,
//! mutual TLS both ways, and the refusals a wrong trust anchor or a missing
//! ALPN protocol cause. Certificates come from a CA made per test by rcgen.
//! The wego side runs on each network backend compiled in (tokio and
//! polling).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::disallowed_methods)] // tonic runs on tokio directly

mod common;

use common::{TonicClient, tonic_calls_every_kind, treq, wego_calls_every_kind, wreq};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use futures_util::StreamExt;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tonic::transport::{
    Certificate, ClientTlsConfig, Endpoint, Identity as TonicIdentity, ServerTlsConfig,
};
use wego_grpc_peers::{TonicEcho, WegoEcho, tonic_echo, wego_echo};
use wego_kitex::grpc::{Channel, Code, GrpcServer, Request, Status};
use wego_netpoll::rt::{Backend, Runtime};
use wego_netpoll::tls::{ClientAuth, Identity, RootCerts, TlsAcceptor, TlsConnector, TlsInfo};
use wego_netpoll::{Address, Listener};

/// A certificate authority made for one test, with leaves for names.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A leaf for DNS `names`, as PEM certificate and key.
    fn leaf_pem(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn wego_leaf(&self, names: &[&str]) -> Identity {
        let (cert, key) = self.leaf_pem(names);
        Identity::from_pem(cert, key).unwrap()
    }

    fn tonic_leaf(&self, names: &[&str]) -> TonicIdentity {
        let (cert, key) = self.leaf_pem(names);
        TonicIdentity::from_pem(cert, key)
    }
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn wego_runtime(backend: Backend) -> Runtime {
    Runtime::builder()
        .backend(backend)
        .worker_threads(std::num::NonZeroUsize::new(2).unwrap())
        .build()
        .unwrap()
}

/// The TLS facts of every connection a wego server accepted.
type Seen = Arc<Mutex<Vec<TlsInfo>>>;

/// Serves wego's echo router behind `acceptor` on `rt`; returns the
/// address and the handshakes' facts as the server saw them.
fn wego_tls_server(rt: &Runtime, acceptor: TlsAcceptor) -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let (tx, rx) = mpsc::channel();
    let record = seen.clone();
    drop(rt.spawn(async move {
        let listener = Listener::bind(&Address::loopback()).await.unwrap();
        tx.send(listener.local_addr().as_tcp().unwrap()).unwrap();
        let incoming = acceptor.incoming(listener).inspect(move |tls| {
            if let Ok(tls) = tls {
                record.lock().unwrap().push(tls.info().clone());
            }
        });
        GrpcServer::default()
            .serve_incoming(incoming, wego_echo::echo_server_router(WegoEcho))
            .await;
    }));
    (rx.recv().unwrap(), seen)
}

/// A wego acceptor for `localhost` offering `alpn`.
fn wego_acceptor(ca: &Ca, alpn: &[&str]) -> TlsAcceptor {
    TlsAcceptor::builder()
        .with_identity(ca.wego_leaf(&["localhost"]))
        .with_alpn_protocols(alpn)
        .build()
        .unwrap()
}

/// Serves tonic's echo service over TLS with `tls` on `rt`.
fn tonic_tls_server(rt: &tokio::runtime::Runtime, tls: ServerTlsConfig) -> SocketAddr {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let server = tonic::transport::Server::builder()
        .tls_config(tls)
        .unwrap()
        .add_service(tonic_echo::echo_server_server::EchoServerServer::new(
            TonicEcho,
        ))
        .serve_with_incoming(incoming);
    drop(rt.spawn(server));
    addr
}

/// An endpoint for `addr` verifying the server as `localhost` against
/// `ca_pem`, optionally presenting `identity`.
fn tonic_endpoint(addr: SocketAddr, ca_pem: &str, identity: Option<TonicIdentity>) -> Endpoint {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some(id) = identity {
        tls = tls.identity(id);
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(Duration::from_secs(10))
}

/// A wego channel to `addr` through `connector`.
async fn wego_channel(connector: TlsConnector, addr: SocketAddr) -> Result<Channel, Status> {
    Channel::builder()
        .with_connector(connector)
        .connect(&Address::Tcp(addr))
        .await
}

/// A wego connector verifying `localhost` against `ca`, offering h2.
fn wego_connector(ca_pem: &str, identity: Option<Identity>) -> TlsConnector {
    let mut b = TlsConnector::builder()
        .with_roots(RootCerts::from_pem(ca_pem).unwrap())
        .with_server_name("localhost")
        .with_alpn_protocols(["h2"]);
    if let Some(id) = identity {
        b = b.with_identity(id);
    }
    b.build().unwrap()
}

/// The error of a first unary call through `connector`: a refused TLS
/// handshake fails the connect or, in TLS 1.3 where the client finishes
/// before the server has judged its certificate, the first call.
async fn wego_first_call_error(connector: TlsConnector, addr: SocketAddr) -> Status {
    let ch = match wego_channel(connector, addr).await {
        Err(e) => return e,
        Ok(ch) => ch,
    };
    wego_echo::EchoServerClient::new(ch)
        .echo(Request::new(wreq("refused")))
        .await
        .unwrap_err()
}

#[test]
fn tonic_tls_client_calls_wego_tls_server() {
    for &backend in Backend::enabled() {
        let ca = Ca::new("wego peers test ca");
        let server_rt = wego_runtime(backend);
        let (addr, seen) = wego_tls_server(&server_rt, wego_acceptor(&ca, &["h2"]));
        let client_rt = tokio_runtime();
        client_rt.block_on(async {
            let ch = tonic_endpoint(addr, &ca.pem(), None)
                .connect()
                .await
                .unwrap();
            let mut c = TonicClient::new(ch);
            tonic_calls_every_kind(&mut c).await;
        });
        let infos = seen.lock().unwrap().clone();
        assert_eq!(infos.len(), 1, "{backend}: one connection for every call");
        assert_eq!(infos[0].alpn_protocol(), Some(&b"h2"[..]), "{backend}");
        assert_eq!(infos[0].server_name(), Some("localhost"), "{backend}");
        assert!(infos[0].peer_certificates().is_empty(), "{backend}");
    }
}

#[test]
fn tonic_tls_client_refuses_a_wego_server_it_does_not_trust() {
    for &backend in Backend::enabled() {
        let ca = Ca::new("wego peers test ca");
        let other = Ca::new("another ca");
        let server_rt = wego_runtime(backend);
        let (addr, seen) = wego_tls_server(&server_rt, wego_acceptor(&ca, &["h2"]));
        tokio_runtime().block_on(async {
            let err = tonic_endpoint(addr, &other.pem(), None)
                .connect()
                .await
                .unwrap_err();
            let chain = error_chain(&err);
            assert!(chain.contains("UnknownIssuer"), "{backend}: {chain}");
        });
        assert!(seen.lock().unwrap().is_empty(), "{backend}");
    }
}

/// tonic asks for h2 by ALPN and refuses a TLS server that does not
/// choose it; wego's acceptor must offer h2 for tonic.
#[test]
fn tonic_tls_client_needs_h2_by_alpn_from_wego() {
    for &backend in Backend::enabled() {
        let ca = Ca::new("wego peers test ca");
        let server_rt = wego_runtime(backend);
        let (addr, _seen) = wego_tls_server(&server_rt, wego_acceptor(&ca, &[]));
        tokio_runtime().block_on(async {
            let err = tonic_endpoint(addr, &ca.pem(), None)
                .connect()
                .await
                .unwrap_err();
            let chain = error_chain(&err);
            assert!(
                chain.contains("HTTP/2 was not negotiated"),
                "{backend}: {chain}"
            );
        });
    }
}

#[test]
fn wego_server_requiring_client_certificates_serves_tonic_with_one() {
    for &backend in Backend::enabled() {
        let ca = Ca::new("wego peers test ca");
        let acceptor = TlsAcceptor::builder()
            .with_identity(ca.wego_leaf(&["localhost"]))
            .with_alpn_protocols(["h2"])
            .with_client_auth(ClientAuth::required(RootCerts::from_pem(ca.pem()).unwrap()))
            .build()
            .unwrap();
        let server_rt = wego_runtime(backend);
        let (addr, seen) = wego_tls_server(&server_rt, acceptor);
        tokio_runtime().block_on(async {
            let id = ca.tonic_leaf(&["tonic.client.test"]);
            let ch = tonic_endpoint(addr, &ca.pem(), Some(id))
                .connect()
                .await
                .unwrap();
            let mut c = TonicClient::new(ch);
            assert_eq!(c.echo(treq("me")).await.unwrap().into_inner().msg, "me");

            // Without a certificate the handshake is refused: at connect,
            // or (TLS 1.3) with the first call.
            let refused = match tonic_endpoint(addr, &ca.pem(), None).connect().await {
                Err(_) => true,
                Ok(ch) => TonicClient::new(ch).echo(treq("anon")).await.is_err(),
            };
            assert!(refused, "{backend}: an anonymous client was served");
            // The server goes on serving the trusted client.
            assert_eq!(
                c.echo(treq("again")).await.unwrap().into_inner().msg,
                "again"
            );
        });
        let infos = seen.lock().unwrap().clone();
        assert_eq!(
            infos.len(),
            1,
            "{backend}: only the trusted handshake completes"
        );
        assert_eq!(
            infos[0].peer_dns_names(),
            ["tonic.client.test"],
            "{backend}"
        );
    }
}

#[test]
fn wego_tls_client_calls_tonic_tls_server() {
    let ca = Ca::new("wego peers test ca");
    let server_rt = tokio_runtime();
    let tls = ServerTlsConfig::new().identity(ca.tonic_leaf(&["localhost"]));
    let addr = tonic_tls_server(&server_rt, tls);
    for &backend in Backend::enabled() {
        wego_runtime(backend).block_on(async {
            let ch = wego_channel(wego_connector(&ca.pem(), None), addr)
                .await
                .unwrap();
            wego_calls_every_kind(&ch).await;
        });
    }
}

#[test]
fn wego_tls_client_refuses_a_tonic_server_it_does_not_trust() {
    let ca = Ca::new("wego peers test ca");
    let other = Ca::new("another ca");
    let server_rt = tokio_runtime();
    let tls = ServerTlsConfig::new().identity(ca.tonic_leaf(&["localhost"]));
    let addr = tonic_tls_server(&server_rt, tls);
    for &backend in Backend::enabled() {
        wego_runtime(backend).block_on(async {
            let err = wego_first_call_error(wego_connector(&other.pem(), None), addr).await;
            assert_eq!(err.code(), Code::Unavailable, "{backend}: {err:?}");
        });
    }
}

#[test]
fn tonic_server_requiring_client_certificates_serves_wego_with_one() {
    let ca = Ca::new("wego peers test ca");
    let server_rt = tokio_runtime();
    let tls = ServerTlsConfig::new()
        .identity(ca.tonic_leaf(&["localhost"]))
        .client_ca_root(Certificate::from_pem(ca.pem()));
    let addr = tonic_tls_server(&server_rt, tls);
    for &backend in Backend::enabled() {
        wego_runtime(backend).block_on(async {
            let id = ca.wego_leaf(&["wego.client.test"]);
            let ch = wego_channel(wego_connector(&ca.pem(), Some(id)), addr)
                .await
                .unwrap();
            let c = wego_echo::EchoServerClient::new(ch);
            let r = c.echo(Request::new(wreq("me"))).await.unwrap();
            assert_eq!(r.get_ref().msg, "me");

            let err = wego_first_call_error(wego_connector(&ca.pem(), None), addr).await;
            assert_eq!(err.code(), Code::Unavailable, "{backend}: {err:?}");

            let r = c.echo(Request::new(wreq("again"))).await.unwrap();
            assert_eq!(r.get_ref().msg, "again");
        });
    }
}

/// `err` and its sources, for matching a cause several layers down.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("{err} / {err:?}");
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(&format!(" <- {e} / {e:?}"));
        cur = e.source();
    }
    out
}
