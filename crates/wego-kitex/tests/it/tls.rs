//! gRPC and Thrift over TLS, through the transport seams alone: servers
//! take `TlsAcceptor::incoming(listener)` in `serve_incoming`, clients a
//! `TlsConnector` in `with_connector`. Certificates are made in the test
//! with rcgen; grpcio and Python's thrift run as outside TLS clients.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use wego_kitex::client::{Client, ClientRequest};
use wego_kitex::grpc::{
    Channel, ChannelBuilder, Code, GrpcServer, Http2Handler, Request, Response, ResponseStream,
    Status,
};
use wego_kitex::server::Server;
use wego_kitex::transport::Framing;
use wego_netpoll::tls::{ClientAuth, Identity, RootCerts, TlsAcceptor, TlsConnector, TlsInfo};
use wego_netpoll::{Address, rt};

use crate::grpc_common::{
    BIDI, CLIENT_STREAM, EchoRequest, EchoResponse, SERVER_STREAM, UNARY, echo_router, req,
    requests,
};
use crate::thrift_common::echo;

/// A certificate authority made for one test, with leaves for names.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "wego kitex test ca");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn roots(&self) -> RootCerts {
        RootCerts::from_pem(self.pem()).unwrap()
    }

    /// A leaf for DNS `names`, as PEM chain and key.
    fn leaf_pem(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn leaf(&self, names: &[&str]) -> Identity {
        let (chain, key) = self.leaf_pem(names);
        Identity::from_pem(chain, key).unwrap()
    }
}

/// A server-side acceptor for `localhost` offering `alpn`.
fn acceptor(ca: &Ca, alpn: &[&str]) -> TlsAcceptor {
    TlsAcceptor::builder()
        .with_identity(ca.leaf(&["localhost"]))
        .with_alpn_protocols(alpn)
        .build()
        .unwrap()
}

/// A client connector trusting `ca` for `localhost`, offering `alpn`.
fn connector(ca: &Ca, alpn: &[&str]) -> TlsConnector {
    TlsConnector::builder()
        .with_roots(ca.roots())
        .with_server_name("localhost")
        .with_alpn_protocols(alpn)
        .build()
        .unwrap()
}

/// Serves `router` over TLS on loopback; returns the address and the
/// server, whose `shutdown` stops it.
async fn grpc_over_tls(acceptor: TlsAcceptor) -> (Address, GrpcServer) {
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let server = GrpcServer::default();
    let s = server.clone();
    rt::spawn(async move {
        s.serve_incoming(acceptor.incoming(listener), echo_router())
            .await
    });
    (addr, server)
}

async fn tls_channel(connector: TlsConnector, addr: &Address) -> Channel {
    Channel::builder()
        .with_connector(connector)
        .connect(addr)
        .await
        .unwrap()
}

/// The error of connecting with `builder` and making one unary call: the
/// HTTP/2 handshake does not wait for the server, so a connection the
/// server refuses may fail at connect or at the first call.
async fn first_call_error(builder: ChannelBuilder, addr: &Address) -> Status {
    match builder.connect(addr).await {
        Err(e) => e,
        Ok(ch) => ch
            .unary::<_, EchoResponse>(UNARY, Request::new(req("refused")))
            .await
            .unwrap_err(),
    }
}

wego_test_support::each_backend!(
    grpc_unary_and_streaming_calls_run_over_tls,
    |_backend| async move {
        let ca = Ca::new();
        let (addr, server) = grpc_over_tls(acceptor(&ca, &["h2"])).await;
        let ch = tls_channel(connector(&ca, &["h2"]), &addr).await;

        let r: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("sealed"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "sealed");

        let five = EchoRequest {
            action: "5".into(),
            msg: "m".into(),
        };
        let resp: Response<ResponseStream<EchoResponse>> = ch
            .server_streaming(SERVER_STREAM, Request::new(five))
            .await
            .unwrap();
        let mut s = resp.into_inner();
        let mut got = Vec::new();
        while let Some(m) = s.message().await.unwrap() {
            got.push(m.action);
        }
        assert_eq!(got, ["0", "1", "2", "3", "4"]);

        let resp: Response<EchoResponse> = ch
            .client_streaming(CLIENT_STREAM, Request::new(requests(&["a", "b", "c"])))
            .await
            .unwrap();
        assert_eq!(resp.get_ref().msg, "abc");

        let resp: Response<ResponseStream<EchoResponse>> = ch
            .streaming(BIDI, Request::new(requests(&["x", "y"])))
            .await
            .unwrap();
        let got: Vec<String> = resp.into_inner().map(|m| m.unwrap().msg).collect().await;
        assert_eq!(got, ["x", "y"]);

        drop(ch);
        assert!(
            server
                .shutdown(std::time::Duration::from_secs(5))
                .await
                .is_graceful()
        );
    }
);

wego_test_support::each_backend!(
    grpc_mtls_serves_a_trusted_client_and_shows_its_identity,
    |_backend| async move {
        let ca = Ca::new();
        let acceptor = TlsAcceptor::builder()
            .with_identity(ca.leaf(&["localhost"]))
            .with_alpn_protocols(["h2"])
            .with_client_auth(ClientAuth::required(ca.roots()))
            .build()
            .unwrap();
        let listener = wego_test_support::loopback().await;
        let addr = listener.local_addr().clone();
        // The handshake's facts per connection, as the server receives it.
        let seen: Arc<Mutex<Vec<TlsInfo>>> = Arc::default();
        let incoming = acceptor.incoming(listener).inspect({
            let seen = seen.clone();
            move |tls| {
                if let Ok(tls) = tls {
                    seen.lock().unwrap().push(tls.info().clone());
                }
            }
        });
        // A handler that answers with what its request knows of the
        // connection: the verified client identity and the peer address.
        let whoami = "/wego.test.Who/Am";
        let router = echo_router().unary(whoami, |r: Request<EchoRequest>| async move {
            let tls = r
                .tls_info()
                .ok_or_else(|| Status::internal("no tls info"))?;
            let msg = format!(
                "{} alpn={} peer={}",
                tls.peer_dns_names().join(","),
                String::from_utf8_lossy(tls.alpn_protocol().unwrap_or(b"-")),
                r.peer_addr().is_some(),
            );
            Ok(Response::new(EchoResponse {
                msg,
                ..Default::default()
            }))
        });
        rt::spawn(async move { GrpcServer::default().serve_incoming(incoming, router).await });

        let client = TlsConnector::builder()
            .with_roots(ca.roots())
            .with_server_name("localhost")
            .with_alpn_protocols(["h2"])
            .with_identity(ca.leaf(&["client.wego.test"]))
            .build()
            .unwrap();
        let ch = tls_channel(client, &addr).await;
        let r: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("me"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "me");
        let infos = seen.lock().unwrap().clone();
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].alpn_protocol(), Some(&b"h2"[..]));
        assert_eq!(infos[0].peer_dns_names(), ["client.wego.test"]);
        let r: Response<EchoResponse> = ch.unary(whoami, Request::new(req("?"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "client.wego.test alpn=h2 peer=true");

        // Without a certificate the server refuses the handshake (in TLS
        // 1.3 after the client finished its part, so the refusal may
        // arrive with the first call), and goes on serving.
        let anonymous = Channel::builder().with_connector(connector(&ca, &["h2"]));
        let err = first_call_error(anonymous, &addr).await;
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        let r: Response<EchoResponse> = ch.unary(UNARY, Request::new(req("again"))).await.unwrap();
        assert_eq!(r.get_ref().msg, "again");
    }
);

wego_test_support::each_backend!(
    a_plaintext_grpc_client_on_the_tls_port_fails_clearly,
    |_backend| async move {
        let ca = Ca::new();
        let (addr, _server) = grpc_over_tls(acceptor(&ca, &["h2"])).await;
        let plain = Channel::builder().with_timeout(std::time::Duration::from_secs(10));
        let err = first_call_error(plain, &addr).await;
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");

        let ch = tls_channel(connector(&ca, &["h2"]), &addr).await;
        let r: Response<EchoResponse> = ch
            .unary(UNARY, Request::new(req("still here")))
            .await
            .unwrap();
        assert_eq!(r.get_ref().msg, "still here");
    }
);

/// A struct body `{1: string s}` STOP in the binary protocol.
fn args(s: &str) -> Bytes {
    let mut v = vec![11, 0, 1];
    v.extend_from_slice(&(s.len() as u32).to_be_bytes());
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v.into()
}

/// Serves `server` over TLS on loopback.
async fn thrift_over_tls(server: &Server, acceptor: TlsAcceptor) -> Address {
    let listener = wego_test_support::loopback().await;
    let addr = listener.local_addr().clone();
    let s = server.clone();
    rt::spawn(async move { s.serve_incoming(acceptor.incoming(listener)).await });
    addr
}

wego_test_support::each_backend!(
    thrift_runs_over_tls_in_every_framing,
    |_backend| async move {
        let ca = Ca::new();
        let server = Server::builder()
            .service("Echo", &["echo"], echo())
            .build()
            .unwrap();
        let addr = thrift_over_tls(&server, acceptor(&ca, &[])).await;
        for framing in [Framing::TtHeader, Framing::Framed, Framing::Buffered] {
            let client = Client::builder(addr.clone())
                .with_framing(framing)
                .with_connector(connector(&ca, &[]))
                .build()
                .unwrap();
            let msg = format!("sealed {framing:?}");
            let r = client
                .call(ClientRequest::new("echo", args(&msg)))
                .await
                .unwrap();
            assert_eq!(r.body, args(&msg), "{framing:?}");
        }
        assert!(
            server
                .shutdown(std::time::Duration::from_secs(5))
                .await
                .is_graceful()
        );
    }
);

wego_test_support::each_backend!(one_tls_port_serves_grpc_and_thrift, |_backend| async move {
    // The Thrift server sniffs the decrypted bytes: the HTTP/2 preface
    // goes to the gRPC handler, anything else is Thrift.
    let ca = Ca::new();
    let server = Server::builder()
        .service("Echo", &["echo"], echo())
        .with_http2_handler(Http2Handler::new(GrpcServer::default(), echo_router()).into_arc())
        .build()
        .unwrap();
    let addr = thrift_over_tls(&server, acceptor(&ca, &["h2"])).await;

    let ch = tls_channel(connector(&ca, &["h2"]), &addr).await;
    let r: Response<EchoResponse> = ch
        .unary(UNARY, Request::new(req("grpc on one port")))
        .await
        .unwrap();
    assert_eq!(r.get_ref().msg, "grpc on one port");

    // A Thrift client offers no ALPN and is served without.
    for framing in [Framing::TtHeader, Framing::Framed, Framing::Buffered] {
        let client = Client::builder(addr.clone())
            .with_framing(framing)
            .with_connector(connector(&ca, &[]))
            .build()
            .unwrap();
        let r = client
            .call(ClientRequest::new("echo", args("thrift on one port")))
            .await
            .unwrap();
        assert_eq!(r.body, args("thrift on one port"), "{framing:?}");
    }
});

/// Writes the CA certificate into a fresh temp dir; returns its path.
fn write_ca(ca: &Ca, tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wego-kitex-tls-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ca.pem");
    std::fs::write(&path, ca.pem()).unwrap();
    path
}

fn manifest_dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

wego_test_support::each_backend!(
    grpcio_runs_the_interop_cases_over_tls,
    |_backend| async move {
        let Some(python) = wego_test_support::peer::python_with(
            "grpcio_runs_the_interop_cases_over_tls",
            &["grpc", "grpc_tools"],
        ) else {
            return;
        };
        use crate::grpc_interop::{cases, pb, service};
        let ca = Ca::new();
        let ca_file = write_ca(&ca, "grpcio");
        let listener = wego_test_support::loopback().await;
        let port = listener.local_addr().as_tcp().unwrap().port();
        let incoming = acceptor(&ca, &["h2"]).incoming(listener);
        rt::spawn(async move {
            GrpcServer::default()
                .serve_incoming(incoming, pb::test_service_router(service::TestServer))
                .await
        });
        let out = rt::spawn_blocking({
            let ca_file = ca_file.clone();
            move || {
                wego_test_support::peer::output(
                    Command::new(python)
                        .arg(manifest_dir("tests/peers/grpc_interop_client.py"))
                        .arg(manifest_dir("../../idl/grpc/testing"))
                        .arg(port.to_string())
                        .arg(ca_file),
                )
            }
        })
        .await
        .unwrap();
        let _ = std::fs::remove_dir_all(ca_file.parent().unwrap());
        let stdout = String::from_utf8_lossy(&out.stdout);
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        for case in cases::CASES {
            assert!(
                stdout.contains(&format!("PASS {case}\n")),
                "grpcio case {case} did not pass over tls"
            );
        }
        assert!(out.status.success());
    }
);

wego_test_support::each_backend!(
    python_thrift_calls_every_method_over_tls,
    |_backend| async move {
        let Some(python) = wego_test_support::peer::python_with(
            "python_thrift_calls_every_method_over_tls",
            &["thrift"],
        ) else {
            return;
        };
        let ca = Ca::new();
        let ca_file = write_ca(&ca, "thrift");
        let server = crate::thrift_interop::thrift_test::builder()
            .build()
            .unwrap();
        let addr = thrift_over_tls(&server, acceptor(&ca, &[])).await;
        let port = addr.as_tcp().unwrap().port().to_string();
        for transport in ["buffered", "framed", "header"] {
            let (python, port, ca_file) = (python.clone(), port.clone(), ca_file.clone());
            let out = rt::spawn_blocking(move || {
                wego_test_support::peer::output(
                    Command::new(python)
                        .arg(manifest_dir("tests/peers/thrift_test_client.py"))
                        .args(["--port", &port, "--transport", transport, "--tls-ca"])
                        .arg(ca_file),
                )
            })
            .await
            .unwrap();
            assert!(
                out.status.success(),
                "python thrift over tls ({transport}) failed: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let _ = std::fs::remove_dir_all(ca_file.parent().unwrap());
    }
);
