//! The `http-client` example's options and `fetch`, against wego's server:
//! HTTP/1.1, HTTP/2 by prior knowledge, and (feature `tls`) HTTPS with a
//! private CA given by `--cacert`, over HTTP/2 by ALPN.

use http::{StatusCode, Version};
use wego_hertz::Server;

use crate::support::start_app;

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/http-client.rs"]
mod example;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn http_client_example_reads_its_options() {
    let o = example::parse_args(args(&["--http2", "--cacert", "ca.pem", "http://a/"])).unwrap();
    assert!(o.http2);
    assert_eq!(o.cacert.unwrap().to_str(), Some("ca.pem"));
    assert_eq!(o.url, "http://a/");
    for bad in [
        &[][..],
        &["--cacert"],
        &["--nope", "http://a/"],
        &["http://a/", "http://b/"],
    ] {
        assert!(example::parse_args(args(bad)).is_err(), "{bad:?}");
    }
}

wego_test_support::each_backend!(http_client_example_fetches, |_backend| async move {
    let (_server, addr, _task) = start_app(Server::builder()).await;
    let url = format!("http://{addr}/");
    for http2 in [false, true] {
        let mut argv = vec![url.as_str()];
        if http2 {
            argv.insert(0, "--http2");
        }
        let options = example::parse_args(args(&argv)).unwrap();
        let client = example::build_client(&options).unwrap();
        let mut out = Vec::new();
        let head = example::fetch(&client, &options.url, options.http2, &mut out)
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        let want = if http2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        assert_eq!(head.version(), want);
        assert_eq!(out, b"hello");
    }
});

#[cfg(feature = "tls")]
wego_test_support::each_backend!(
    http_client_example_trusts_its_cacert,
    |_backend| async move {
        use crate::tls::{Ca, acceptor, start_tls};

        let ca = Ca::new("example test ca");
        let (addr, _failed) = start_tls(Server::builder(), acceptor(&ca)).await;
        let port = match &addr {
            wego_netpoll::Address::Tcp(sock) => sock.port(),
            other => panic!("not tcp: {other}"),
        };
        let file = std::env::temp_dir().join(format!(
            "wego-http-client-ca-{}-{port}.pem",
            std::process::id()
        ));
        std::fs::write(&file, ca.pem()).unwrap();
        let url = format!("https://localhost:{port}/");
        let cacert = file.to_str().unwrap().to_owned();
        for http2 in [false, true] {
            let mut argv = vec!["--cacert", cacert.as_str(), url.as_str()];
            if http2 {
                argv.insert(0, "--http2");
            }
            let options = example::parse_args(args(&argv)).unwrap();
            let client = example::build_client(&options).unwrap();
            let mut out = Vec::new();
            let head = example::fetch(&client, &options.url, options.http2, &mut out)
                .await
                .unwrap();
            assert_eq!(head.status(), StatusCode::OK);
            // The server offers h2 by ALPN, and the client takes it.
            assert_eq!(head.version(), Version::HTTP_2);
            assert!(String::from_utf8(out).unwrap().contains("alpn=h2"));
        }
        // Without the CA the certificate is refused.
        let options = example::parse_args(args(&[url.as_str()])).unwrap();
        let client = example::build_client(&options).unwrap();
        let e = example::fetch(&client, &options.url, false, &mut Vec::new())
            .await
            .unwrap_err();
        let e = e.downcast::<wego_hertz::Error>().unwrap();
        assert!(e.is_connect(), "{e}");
        std::fs::remove_file(&file).unwrap();
    }
);
