//! `ServeDir` and `File` done fully: validators and conditional requests,
//! byte ranges, precompressed siblings, index files, listings and symbolic
//! links, over loopback (and curl as an outside client).

use std::path::{Path, PathBuf};

use wego_hertz::response::ServeDir;
use wego_hertz::{Router, Server};
use wego_netpoll::Address;

use crate::support::{Resp, roundtrip, start};

/// A fresh directory tree for one test run:
/// `public/{index.html, a.txt (0..=9 digits), app.js (+ .gz, .br), docs/, empty/}`
/// and `outside.txt` beside `public/`.
struct Tree {
    base: PathBuf,
}

impl Tree {
    fn new(name: &str) -> Self {
        let base = std::env::temp_dir().join(format!(
            "wego-static-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("public");
        std::fs::create_dir_all(root.join("docs/sub")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("index.html"), "home").unwrap();
        std::fs::write(root.join("a.txt"), "0123456789").unwrap();
        std::fs::write(root.join("app.js"), "plain js").unwrap();
        std::fs::write(root.join("app.js.gz"), "gzip bytes").unwrap();
        std::fs::write(root.join("app.js.br"), "brotli bytes").unwrap();
        std::fs::write(root.join("docs/<b>&x.txt"), "odd name").unwrap();
        std::fs::write(base.join("outside.txt"), "secret").unwrap();
        Self { base }
    }

    fn root(&self) -> PathBuf {
        self.base.join("public")
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

async fn serve(dir: ServeDir) -> (Server, Address, wego_netpoll::rt::JoinHandle<()>) {
    let app = Router::new().route_service(http::Method::GET, "/s/*path", dir);
    start(Server::builder(), app).await
}

fn get(path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    request("GET", path, headers)
}

fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    raw.into_bytes()
}

fn status_body(r: &Resp) -> (u16, &[u8]) {
    (r.status.as_u16(), &r.body[..])
}

wego_test_support::each_backend!(
    files_carry_validators_and_answer_304,
    |_backend| async move {
        let tree = Tree::new("validators");
        let (_server, addr, _task) = serve(ServeDir::new(tree.root())).await;
        let r = roundtrip(&addr, &get("/s/a.txt", &[])).await;
        assert_eq!(status_body(&r), (200, &b"0123456789"[..]));
        assert_eq!(r.header("accept-ranges"), Some("bytes"));
        let etag = r.header("etag").unwrap().to_owned();
        let modified = r.header("last-modified").unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        assert!(httpdate::parse_http_date(&modified).is_ok(), "{modified}");

        for headers in [
            vec![("if-none-match", etag.as_str())],
            vec![("if-none-match", &format!("\"other\", {etag}"))],
            vec![("if-modified-since", modified.as_str())],
        ] {
            let r = roundtrip(&addr, &get("/s/a.txt", &headers)).await;
            assert_eq!(status_body(&r), (304, &b""[..]), "{headers:?}");
            assert_eq!(r.header("etag"), Some(etag.as_str()));
        }
        // A stale validator gets the file; If-None-Match wins over
        // If-Modified-Since.
        let r = roundtrip(
            &addr,
            &get(
                "/s/a.txt",
                &[
                    ("if-none-match", "\"old\""),
                    ("if-modified-since", &modified),
                ],
            ),
        )
        .await;
        assert_eq!(r.status, 200);
        let r = roundtrip(&addr, &get("/s/a.txt", &[("if-match", "\"old\"")])).await;
        assert_eq!(r.status, 412);

        // A changed file gets a new tag: the old one no longer matches.
        std::fs::write(tree.root().join("a.txt"), "01234567890").unwrap();
        let r = roundtrip(&addr, &get("/s/a.txt", &[("if-none-match", &etag)])).await;
        assert_eq!(status_body(&r), (200, &b"01234567890"[..]));
        assert_ne!(r.header("etag"), Some(etag.as_str()));
    }
);

wego_test_support::each_backend!(ranges_answer_206_and_416, |_backend| async move {
    let tree = Tree::new("ranges");
    let (_server, addr, _task) = serve(ServeDir::new(tree.root())).await;
    let r = roundtrip(&addr, &get("/s/a.txt", &[("range", "bytes=2-4")])).await;
    assert_eq!(status_body(&r), (206, &b"234"[..]));
    assert_eq!(r.header("content-range"), Some("bytes 2-4/10"));
    assert_eq!(r.header("content-length"), Some("3"));
    let r = roundtrip(&addr, &get("/s/a.txt", &[("range", "bytes=-3")])).await;
    assert_eq!(status_body(&r), (206, &b"789"[..]));

    // Two ranges: multipart/byteranges, each part with its own range.
    let r = roundtrip(&addr, &get("/s/a.txt", &[("range", "bytes=0-1, 8-")])).await;
    assert_eq!(r.status, 206);
    let ct = r.header("content-type").unwrap().to_owned();
    let boundary = ct.strip_prefix("multipart/byteranges; boundary=").unwrap();
    let body = String::from_utf8(r.body.clone()).unwrap();
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    let expected = format!(
        "\r\n--{boundary}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-range: bytes 0-1/10\r\n\r\n01\
         \r\n--{boundary}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-range: bytes 8-9/10\r\n\r\n89\
         \r\n--{boundary}--\r\n"
    );
    assert_eq!(body, expected);

    // Overlapping ranges are merged into one.
    let r = roundtrip(&addr, &get("/s/a.txt", &[("range", "bytes=0-3,2-5")])).await;
    assert_eq!(status_body(&r), (206, &b"012345"[..]));

    let r = roundtrip(&addr, &get("/s/a.txt", &[("range", "bytes=50-")])).await;
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */10"));

    // Malformed or foreign ranges are ignored: the whole file.
    for range in ["bytes=5-2", "lines=1-2", "bytes=x"] {
        let r = roundtrip(&addr, &get("/s/a.txt", &[("range", range)])).await;
        assert_eq!(status_body(&r), (200, &b"0123456789"[..]), "{range}");
    }
});

wego_test_support::each_backend!(
    if_range_decides_between_part_and_whole,
    |_backend| async move {
        let tree = Tree::new("if-range");
        let (_server, addr, _task) = serve(ServeDir::new(tree.root())).await;
        let r = roundtrip(&addr, &get("/s/a.txt", &[])).await;
        let etag = r.header("etag").unwrap().to_owned();
        let modified = r.header("last-modified").unwrap().to_owned();
        for current in [etag.as_str(), modified.as_str()] {
            let r = roundtrip(
                &addr,
                &get("/s/a.txt", &[("range", "bytes=0-0"), ("if-range", current)]),
            )
            .await;
            assert_eq!(status_body(&r), (206, &b"0"[..]), "{current}");
        }
        for stale in ["\"old\"", "Thu, 01 Jan 1970 00:00:00 GMT"] {
            let r = roundtrip(
                &addr,
                &get("/s/a.txt", &[("range", "bytes=0-0"), ("if-range", stale)]),
            )
            .await;
            assert_eq!(status_body(&r), (200, &b"0123456789"[..]), "{stale}");
        }
    }
);

wego_test_support::each_backend!(
    precompressed_siblings_follow_accept_encoding,
    |_backend| async move {
        let tree = Tree::new("precompressed");
        let dir = ServeDir::new(tree.root())
            .with_precompressed_br()
            .with_precompressed_gzip();
        let (_server, addr, _task) = serve(dir).await;
        let cases: [(&str, &[u8], Option<&str>); 6] = [
            ("gzip, br", b"brotli bytes", Some("br")),
            ("gzip", b"gzip bytes", Some("gzip")),
            ("br;q=0, gzip;q=0.5", b"gzip bytes", Some("gzip")),
            ("*", b"brotli bytes", Some("br")),
            ("identity", b"plain js", None),
            ("gzip;q=0", b"plain js", None),
        ];
        for (accept, body, encoding) in cases {
            let r = roundtrip(&addr, &get("/s/app.js", &[("accept-encoding", accept)])).await;
            assert_eq!(status_body(&r), (200, body), "{accept}");
            assert_eq!(r.header("content-encoding"), encoding, "{accept}");
            assert_eq!(
                r.header("content-type"),
                Some("text/javascript; charset=utf-8")
            );
            assert_eq!(r.header("vary"), Some("accept-encoding"));
        }
        // Off by default.
        let (_server, addr, _task) = serve(ServeDir::new(tree.root())).await;
        let r = roundtrip(&addr, &get("/s/app.js", &[("accept-encoding", "br, gzip")])).await;
        assert_eq!(status_body(&r), (200, &b"plain js"[..]));
        assert_eq!(r.header("content-encoding"), None);
    }
);

wego_test_support::each_backend!(
    directories_use_index_files_and_optional_listings,
    |_backend| async move {
        let tree = Tree::new("dirs");
        let (_server, addr, _task) = serve(ServeDir::new(tree.root())).await;
        let r = roundtrip(&addr, &get("/s/", &[])).await;
        assert_eq!(status_body(&r), (200, &b"home"[..]));
        // Without the slash: redirected, the query kept.
        let r = roundtrip(&addr, &get("/s/docs?x=1", &[])).await;
        assert_eq!(r.status, 301);
        assert_eq!(r.header("location"), Some("/s/docs/?x=1"));
        // No index and no listing: 404.
        let r = roundtrip(&addr, &get("/s/docs/", &[])).await;
        assert_eq!(r.status, 404);

        let dir = ServeDir::new(tree.root())
            .with_index_files(["missing.html"])
            .with_directory_listing(true);
        let (_server, addr, _task) = serve(dir).await;
        let r = roundtrip(&addr, &get("/s/docs/", &[])).await;
        assert_eq!(r.status, 200);
        let page = String::from_utf8(r.body).unwrap();
        assert!(
            page.contains("<a href=\"%3Cb%3E%26x.txt\">&lt;b&gt;&amp;x.txt</a>"),
            "{page}"
        );
        assert!(page.contains("<a href=\"sub/\">sub/</a>"), "{page}");
        let r = roundtrip(&addr, &get("/s/", &[])).await;
        assert!(String::from_utf8(r.body).unwrap().contains("index.html"));
    }
);

#[cfg(unix)]
wego_test_support::each_backend!(symlinks_out_of_the_root_answer_404, |_backend| async move {
    let tree = Tree::new("symlinks");
    let root = tree.root();
    std::os::unix::fs::symlink(tree.base.join("outside.txt"), root.join("out.txt")).unwrap();
    std::os::unix::fs::symlink(&tree.base, root.join("up")).unwrap();
    std::os::unix::fs::symlink(root.join("a.txt"), root.join("in.txt")).unwrap();
    let (_server, addr, _task) = serve(ServeDir::new(&root)).await;
    for path in ["/s/out.txt", "/s/up/outside.txt"] {
        let r = roundtrip(&addr, &get(path, &[])).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.body.starts_with(b"secret"), "{path}");
    }
    // Links whose resolved path stays inside the root are followed.
    for path in ["/s/in.txt", "/s/up/public/a.txt"] {
        let r = roundtrip(&addr, &get(path, &[])).await;
        assert_eq!(status_body(&r), (200, &b"0123456789"[..]), "{path}");
    }
    // Allowed when asked for.
    let (_server, addr, _task) = serve(ServeDir::new(&root).with_symlinks_outside_root(true)).await;
    let r = roundtrip(&addr, &get("/s/out.txt", &[])).await;
    assert_eq!(status_body(&r), (200, &b"secret"[..]));
});

wego_test_support::each_backend!(
    head_gets_the_headers_of_get_without_a_body,
    |_backend| async move {
        let tree = Tree::new("head");
        let app =
            Router::new().route_service(http::Method::GET, "/s/*path", ServeDir::new(tree.root()));
        let (_server, addr, _task) = start(Server::builder(), app).await;
        let mut conn = crate::support::connect(&addr).await;
        let mut buf = bytes::BytesMut::new();
        use tokio::io::AsyncWriteExt;
        conn.write_all(&request("HEAD", "/s/a.txt", &[]))
            .await
            .unwrap();
        let r = crate::support::read_response(&mut conn, &mut buf, true)
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), Some("10"));
        assert!(r.header("etag").is_some());
        assert!(r.body.is_empty());
    }
);

// curl, an outside client: a resumed download (`-C -`) and a conditional
// one (`-z` with the file's own modification time).
wego_test_support::each_backend!(curl_resumes_and_revalidates, |_backend| async move {
    let Some(curl) = wego_test_support::peer::program("curl_resumes_and_revalidates", "curl")
    else {
        return;
    };
    let tree = Tree::new("curl");
    let (_server, addr, _task) = serve(ServeDir::new(tree.root())).await;
    let url = format!("http://{addr}/s/a.txt");
    let out = tree.base.join("download.txt");
    std::fs::write(&out, "0123").unwrap();
    let run = |args: Vec<String>| {
        let curl = curl.clone();
        wego_netpoll::rt::spawn_blocking(move || {
            wego_test_support::peer::output(std::process::Command::new(curl).args(args))
        })
    };
    let o = run(vec![
        "-s".into(),
        "-f".into(),
        "-C".into(),
        "-".into(),
        "-o".into(),
        path(&out),
        url.clone(),
    ])
    .await
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), b"0123456789");
    let o = run(vec![
        "-s".into(),
        "-o".into(),
        "/dev/null".into(),
        "-w".into(),
        "%{http_code}".into(),
        "-z".into(),
        path(&tree.root().join("a.txt")),
        url,
    ])
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "304");
});

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
