//! wego's client against nginx: connections nginx closes after
//! `keepalive_requests`, `Connection: close` and chunked (gzip) responses.
//! Skips when nginx is not installed (Debian's `nginx-light`).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use http::Request;
use wego_hertz::{Body, Client};
use wego_netpoll::{Address, Dialer, rt};

/// An nginx process on a loopback port, killed on drop.
struct Nginx {
    child: Child,
    dir: PathBuf,
    addr: Address,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const PAGE: &str = "a page long enough to be worth compressing, repeated: ";

impl Nginx {
    async fn start(test: &str) -> Option<Self> {
        let program = wego_test_support::peer::program(test, "nginx")?;
        // A free port: bind port 0, note it, release it for nginx.
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let dir = std::env::temp_dir().join(format!("wego-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("www")).unwrap();
        std::fs::write(dir.join("www/page.txt"), PAGE.repeat(200)).unwrap();
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               keepalive_requests 2;\n  default_type text/plain;\n\
               gzip on;\n  gzip_min_length 1;\n  gzip_types text/plain;\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {d}/www;\n\
                 location = /conn {{ return 200 \"$connection\"; }}\n\
                 location = /close {{ keepalive_timeout 0; return 200 \"$connection\"; }}\n\
               }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(program)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr: Address = format!("127.0.0.1:{port}").parse().unwrap();
        let nginx = Self { child, dir, addr };
        // Readiness: retry connecting until nginx listens (bounded).
        let dialer = Dialer::new();
        for _ in 0..500 {
            if dialer.dial(&nginx.addr).await.is_ok() {
                return Some(nginx);
            }
            rt::sleep(Duration::from_millis(10)).await;
        }
        panic!("nginx did not start listening on {}", nginx.addr);
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn text(client: &Client, req: Request<Body>) -> String {
    let resp = client.request(req).await.unwrap();
    let body = resp.into_body().collect_limited(1 << 20).await.unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

fn get(url: String) -> Request<Body> {
    Request::get(url).body(Body::empty()).unwrap()
}

wego_test_support::each_backend!(
    nginx_keepalive_requests_close_is_followed,
    |_backend| async move {
        let Some(nginx) = Nginx::start("nginx_keepalive_requests_close_is_followed").await else {
            return;
        };
        let client = Client::builder().build().unwrap();
        // nginx closes each connection after its second request
        // (`keepalive_requests 2`): six requests, three connections, no
        // error.
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(text(&client, get(nginx.url("/conn"))).await);
        }
        assert_eq!(seen[0], seen[1]);
        assert_eq!(seen[2], seen[3]);
        assert_eq!(seen[4], seen[5]);
        assert!(seen[0] != seen[2] && seen[2] != seen[4], "{seen:?}");
        // `keepalive_timeout 0` answers `Connection: close`: each request
        // gets a connection of its own.
        let a = text(&client, get(nginx.url("/close"))).await;
        let b = text(&client, get(nginx.url("/close"))).await;
        assert_ne!(a, b);
    }
);

wego_test_support::each_backend!(
    nginx_chunked_gzip_response_is_read_whole,
    |_backend| async move {
        let Some(nginx) = Nginx::start("nginx_chunked_gzip_response_is_read_whole").await else {
            return;
        };
        let client = Client::builder().build().unwrap();
        for _ in 0..2 {
            let req = Request::get(nginx.url("/page.txt"))
                .header("accept-encoding", "gzip")
                .body(Body::empty())
                .unwrap();
            let resp = client.request(req).await.unwrap();
            assert_eq!(resp.headers()["transfer-encoding"], "chunked");
            assert_eq!(resp.headers()["content-encoding"], "gzip");
            let zipped = resp.into_body().collect_limited(1 << 20).await.unwrap();
            let mut page = String::new();
            flate2::read::GzDecoder::new(&zipped[..])
                .read_to_string(&mut page)
                .unwrap();
            assert_eq!(page, PAGE.repeat(200));
        }
    }
);
