//! Server configuration: typed limits and timeouts with safe defaults,
//! checked in [`Builder::build`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, StatusCode};

use super::Server;
use crate::codec::HeadLimits;
use crate::error::{Error, Result};

/// The largest flow-control window (RFC 9113 §6.9.1).
const MAX_WINDOW: u32 = (1 << 31) - 1;
/// The bounds of `SETTINGS_MAX_FRAME_SIZE` (RFC 9113 §6.5.2).
const MIN_FRAME: u32 = 1 << 14;
const MAX_FRAME: u32 = (1 << 24) - 1;

/// What to do with a request that carries `Expect: 100-continue`, decided
/// from its head before any of the body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpectDecision {
    /// Send `100 Continue` when the handler starts reading the body.
    Continue,
    /// Answer with this final status (417, 413, 401, ...) without calling
    /// the handler, and close the connection. A 1xx is no final status: it
    /// is answered 500.
    Reject(StatusCode),
}

pub(crate) type ExpectHook = Arc<dyn Fn(&http::request::Parts) -> ExpectDecision + Send + Sync>;
pub(crate) type RunHook = Arc<dyn Fn(&wego_netpoll::Address) + Send + Sync>;
pub(crate) type ShutdownHook = Arc<dyn Fn() + Send + Sync>;

/// The server's settings, shared by every connection.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) head: HeadLimits,
    pub(crate) body_limit: usize,
    pub(crate) max_body_size: Option<u64>,
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) body_read_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) keep_alive: bool,
    pub(crate) drain_limit: usize,
    pub(crate) linger_timeout: Duration,
    pub(crate) linger_limit: usize,
    pub(crate) server_header: Option<HeaderValue>,
    pub(crate) nodelay: bool,
    pub(crate) title_case_headers: bool,
    pub(crate) expect: Option<ExpectHook>,
    pub(crate) on_run: Vec<RunHook>,
    pub(crate) on_shutdown: Vec<ShutdownHook>,
    pub(crate) http2: Http2,
}

/// The HTTP/2 settings (`with_http2_*`); see `docs/http.md` for the
/// defaults and their reasons.
#[derive(Debug, Clone)]
pub(crate) struct Http2 {
    /// Whether HTTP/2 is served at all (prior knowledge and `Upgrade: h2c`).
    pub(crate) enabled: bool,
    pub(crate) max_concurrent_streams: u32,
    pub(crate) initial_stream_window: u32,
    pub(crate) initial_connection_window: u32,
    pub(crate) max_frame_size: u32,
    pub(crate) max_header_list_size: u32,
    pub(crate) max_send_buffer_size: usize,
    pub(crate) keep_alive_interval: Option<Duration>,
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_pending_accept_reset_streams: usize,
    pub(crate) max_local_error_reset_streams: usize,
}

impl Default for Http2 {
    fn default() -> Self {
        Self {
            enabled: true,
            max_concurrent_streams: 200,
            initial_stream_window: 1024 * 1024,
            initial_connection_window: 2 * 1024 * 1024,
            max_frame_size: 16 * 1024,
            max_header_list_size: 64 * 1024,
            max_send_buffer_size: 400 * 1024,
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            max_pending_accept_reset_streams: 20,
            max_local_error_reset_streams: 1024,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            head: HeadLimits::default(),
            body_limit: super::DEFAULT_BODY_LIMIT,
            max_body_size: Some(super::DEFAULT_MAX_BODY_SIZE),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(5),
            keep_alive: true,
            drain_limit: 256 * 1024,
            linger_timeout: Duration::from_millis(500),
            linger_limit: 256 * 1024,
            server_header: Some(HeaderValue::from_static("wego")),
            nodelay: true,
            title_case_headers: false,
            expect: None,
            on_run: Vec::new(),
            on_shutdown: Vec::new(),
            http2: Http2::default(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("head", &self.head)
            .field("body_limit", &self.body_limit)
            .field("max_body_size", &self.max_body_size)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("keep_alive", &self.keep_alive)
            .field("drain_limit", &self.drain_limit)
            .field("linger_timeout", &self.linger_timeout)
            .field("linger_limit", &self.linger_limit)
            .field("server_header", &self.server_header)
            .field("nodelay", &self.nodelay)
            .field("title_case_headers", &self.title_case_headers)
            .field("expect_hook", &self.expect.is_some())
            .field("on_run", &self.on_run.len())
            .field("on_shutdown", &self.on_shutdown.len())
            .field("http2", &self.http2)
            .finish()
    }
}

/// Builds a [`Server`]; every setting has a safe default (see `docs/http.md`).
#[derive(Debug, Default)]
pub struct Builder {
    config: Config,
}

impl Builder {
    /// Longest request line (default 8 KiB); longer ones get 414.
    pub fn with_max_request_line(mut self, bytes: usize) -> Self {
        self.config.head.max_request_line = bytes;
        self
    }

    /// Largest request head, request line included (default 64 KiB); larger
    /// ones get 431. Also bounds a chunked body's trailer section.
    pub fn with_max_head_size(mut self, bytes: usize) -> Self {
        self.config.head.max_head = bytes;
        self
    }

    /// Most header fields (default 100); more get 431.
    pub fn with_max_headers(mut self, count: usize) -> Self {
        self.config.head.max_headers = count;
        self
    }

    /// The limit for extractors that buffer the whole body (default 4 MiB),
    /// handed to handlers as the [`RequestBodyLimit`](super::RequestBodyLimit) request
    /// extension. Streaming readers are not bound by it.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// A hard cap on every request body, streamed or not (default
    /// [`DEFAULT_MAX_BODY_SIZE`](super::DEFAULT_MAX_BODY_SIZE), 4 MiB);
    /// `None` lifts it.
    ///
    /// A larger `Content-Length` gets 413 before the handler runs, and no
    /// `100 Continue`. A chunked body that grows past the cap fails with
    /// `BodyError::is_too_large` for the handler; the server answers 413 if
    /// no response byte was written yet, and the connection closes.
    ///
    /// Raise it (or lift it) for routes that take large uploads, and bound
    /// them with [`BodyLimitLayer`](crate::middleware::BodyLimitLayer)
    /// where needed.
    pub fn with_max_body_size(mut self, bytes: Option<u64>) -> Self {
        self.config.max_body_size = bytes;
        self
    }

    /// Time allowed to receive a whole request head, from its first byte
    /// (from accept for a connection's first request, and never before the
    /// previous response was written out; default 10 s). Past it: 408 and
    /// close.
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.header_read_timeout = timeout;
        self
    }

    /// How long a keep-alive connection may wait for its next request,
    /// counted from the end of its previous response, however long that
    /// took to write (default 60 s); then it closes quietly.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Longest wait for the next bytes of a request body (default 30 s).
    /// Past it the handler's body fails with
    /// [`BodyError::is_timeout`](crate::BodyError::is_timeout): the body
    /// extractors answer 408, as the server does when the response has no
    /// byte out yet, and the connection closes after the response.
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.body_read_timeout = timeout;
        self
    }

    /// Longest wait for the client to accept response bytes (default 30 s).
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout;
        self
    }

    /// How long [`Server::serve_with_shutdown`] lets work in flight finish
    /// once its signal fires, before forcing connections closed (default
    /// 5 s, Hertz's `ExitWaitTimeout`).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Whether connections are kept alive between requests (default true).
    pub fn with_keep_alive(mut self, on: bool) -> Self {
        self.config.keep_alive = on;
        self
    }

    /// How many bytes of a request body the handler left unread the server
    /// reads and discards to keep the connection (default 256 KiB); past it
    /// the connection closes instead (with `Connection: close` in the
    /// response's head when the body's `Content-Length` shows it in
    /// advance).
    pub fn with_drain_limit(mut self, bytes: usize) -> Self {
        self.config.drain_limit = bytes;
        self
    }

    /// How long an HTTP/1.1 connection the server closes while its client
    /// may still be sending the request (an early 413, an expect hook's
    /// refusal, a 400, 408 or 431, a body left unread past the drain
    /// limit) reads and discards what arrives before it closes (default
    /// 500 ms, Go's figure; `Duration::ZERO` closes at once).
    ///
    /// RFC 9112 §9.6: closed with unread bytes, or with more still
    /// coming, a socket is reset by the kernel, and the client's writes
    /// fail before it reads the answer. So the server shuts down its write
    /// side after the final response, then reads until the client closes,
    /// [`with_linger_limit`](Self::with_linger_limit) bytes are discarded,
    /// or this time passes. A graceful shutdown ends it at once. A
    /// connection closed with its request read whole does not linger.
    pub fn with_linger_timeout(mut self, timeout: Duration) -> Self {
        self.config.linger_timeout = timeout;
        self
    }

    /// How many bytes a lingering connection reads and discards before it
    /// closes anyway (default 256 KiB, as
    /// [`with_drain_limit`](Self::with_drain_limit)); see
    /// [`with_linger_timeout`](Self::with_linger_timeout).
    pub fn with_linger_limit(mut self, bytes: usize) -> Self {
        self.config.linger_limit = bytes;
        self
    }

    /// The `Server` header added to responses that set none (default
    /// `wego`; `None` sends no header).
    pub fn with_server_header(mut self, value: Option<HeaderValue>) -> Self {
        self.config.server_header = value;
        self
    }

    /// Sets `TCP_NODELAY` on accepted connections (default true).
    pub fn with_nodelay(mut self, on: bool) -> Self {
        self.config.nodelay = on;
        self
    }

    /// Writes response header names in title case, `Content-Type` and
    /// `X-Request-Id`, as Hertz and Go's net/http do (default false:
    /// lowercase, as the `http` crate stores them and as hyper writes them).
    ///
    /// HTTP/1.1 header names are case-insensitive; turn this on only for
    /// peers that compare them byte for byte. It costs no allocation: names
    /// are rewritten in the output buffer.
    pub fn with_title_case_headers(mut self, on: bool) -> Self {
        self.config.title_case_headers = on;
        self
    }

    /// Decides requests with `Expect: 100-continue` from their head
    /// (Hertz's `ContinueHandler`). Without a hook every one is continued.
    pub fn with_expect_hook<F>(mut self, hook: F) -> Self
    where
        F: Fn(&http::request::Parts) -> ExpectDecision + Send + Sync + 'static,
    {
        self.config.expect = Some(Arc::new(hook));
        self
    }

    /// Whether HTTP/2 is served beside HTTP/1.1 on the same connections
    /// (default true): a connection that opens with the HTTP/2 preface
    /// (prior knowledge), or a request with `Upgrade: h2c`. Off, the preface
    /// is answered 505 and the upgrade ignored. A TLS connection whose
    /// handshake negotiated ALPN `h2` is served as HTTP/2 either way: the
    /// acceptor's ALPN list decides there.
    pub fn with_http2(mut self, on: bool) -> Self {
        self.config.http2.enabled = on;
        self
    }

    /// `SETTINGS_MAX_CONCURRENT_STREAMS`: streams a client may have open
    /// on one HTTP/2 connection (default 200).
    pub fn with_http2_max_concurrent_streams(mut self, streams: u32) -> Self {
        self.config.http2.max_concurrent_streams = streams;
        self
    }

    /// `SETTINGS_INITIAL_WINDOW_SIZE`: bytes of request body a client may
    /// send on a stream before the handler reads them (default 1 MiB).
    pub fn with_http2_initial_stream_window_size(mut self, bytes: u32) -> Self {
        self.config.http2.initial_stream_window = bytes;
        self
    }

    /// The connection's receive window: request body bytes a client may
    /// send across all its streams before handlers read them (default
    /// 2 MiB).
    pub fn with_http2_initial_connection_window_size(mut self, bytes: u32) -> Self {
        self.config.http2.initial_connection_window = bytes;
        self
    }

    /// `SETTINGS_MAX_FRAME_SIZE`: the largest frame payload a client may
    /// send (default 16 KiB, the protocol's minimum; at most 16 MiB - 1).
    pub fn with_http2_max_frame_size(mut self, bytes: u32) -> Self {
        self.config.http2.max_frame_size = bytes;
        self
    }

    /// `SETTINGS_MAX_HEADER_LIST_SIZE`: the largest decoded header list of
    /// a request, as RFC 9113 §6.5.2 counts it (default 64 KiB, as
    /// [`with_max_head_size`](Self::with_max_head_size) for HTTP/1.1).
    /// A larger request is answered 431; a header block that keeps growing
    /// past it (CONTINUATION frames) ends the connection.
    pub fn with_http2_max_header_list_size(mut self, bytes: u32) -> Self {
        self.config.http2.max_header_list_size = bytes;
        self
    }

    /// Response bytes buffered per stream ahead of the client's flow-control
    /// window (default 400 KiB); a handler streaming a body waits for the
    /// client beyond it.
    pub fn with_http2_max_send_buffer_size(mut self, bytes: usize) -> Self {
        self.config.http2.max_send_buffer_size = bytes;
        self
    }

    /// Sends an HTTP/2 PING every `interval` and closes the connection when
    /// no answer comes within [`with_http2_keep_alive_timeout`](Self::with_http2_keep_alive_timeout)
    /// (default: no PINGs).
    pub fn with_http2_keep_alive_interval(mut self, interval: Option<Duration>) -> Self {
        self.config.http2.keep_alive_interval = interval;
        self
    }

    /// How long a keep-alive PING may wait for its answer (default 20 s).
    pub fn with_http2_keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.config.http2.keep_alive_timeout = timeout;
        self
    }

    /// How long an HTTP/2 connection may have no open stream (default
    /// 60 s); then it gets a GOAWAY and closes.
    pub fn with_http2_idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.http2.idle_timeout = timeout;
        self
    }

    /// How long a client has, once HTTP/2 is chosen, to send its preface
    /// and first SETTINGS frame (default 10 s).
    pub fn with_http2_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.http2.handshake_timeout = timeout;
        self
    }

    /// Streams a client may open and reset before the server has accepted
    /// them (default 20); past it the connection gets GOAWAY
    /// (`ENHANCE_YOUR_CALM`). This bounds the rapid-reset attack
    /// (CVE-2023-44487).
    pub fn with_http2_max_pending_accept_reset_streams(mut self, streams: usize) -> Self {
        self.config.http2.max_pending_accept_reset_streams = streams;
        self
    }

    /// Streams the server may reset for a client's protocol errors on one
    /// connection (default 1024); past it the connection gets GOAWAY
    /// (`ENHANCE_YOUR_CALM`).
    pub fn with_http2_max_local_error_reset_streams(mut self, streams: usize) -> Self {
        self.config.http2.max_local_error_reset_streams = streams;
        self
    }

    /// Runs `hook` with the listening address when [`Server::serve`] starts.
    pub fn on_run<F>(mut self, hook: F) -> Self
    where
        F: Fn(&wego_netpoll::Address) + Send + Sync + 'static,
    {
        self.config.on_run.push(Arc::new(hook));
        self
    }

    /// Runs `hook` when a graceful shutdown begins, before connections drain.
    pub fn on_shutdown<F>(mut self, hook: F) -> Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.config.on_shutdown.push(Arc::new(hook));
        self
    }

    /// Checks the settings and builds the server.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] for a zero limit or timeout (but a zero
    /// [`with_linger_timeout`](Self::with_linger_timeout), which turns
    /// lingering off), or a request-line limit larger than the head limit;
    /// the message names the setting.
    pub fn build(self) -> Result<Server> {
        let c = &self.config;
        let checks = [
            (
                c.head.max_request_line == 0,
                "with_max_request_line must be at least 1",
            ),
            (
                c.head.max_head == 0,
                "with_max_head_size must be at least 1",
            ),
            (
                c.head.max_headers == 0,
                "with_max_headers must be at least 1",
            ),
            (
                c.head.max_request_line > c.head.max_head,
                "with_max_request_line must not exceed with_max_head_size",
            ),
            (c.body_limit == 0, "with_body_limit must be at least 1"),
            (
                c.max_body_size == Some(0),
                "with_max_body_size must be at least 1 (None lifts the cap)",
            ),
            (
                c.header_read_timeout.is_zero(),
                "with_header_read_timeout must be longer than zero",
            ),
            (
                c.idle_timeout.is_zero(),
                "with_idle_timeout must be longer than zero",
            ),
            (
                c.body_read_timeout.is_zero(),
                "with_body_read_timeout must be longer than zero",
            ),
            (
                c.write_timeout.is_zero(),
                "with_write_timeout must be longer than zero",
            ),
            (
                c.linger_limit == 0,
                "with_linger_limit must be at least 1 (with_linger_timeout(Duration::ZERO) turns lingering off)",
            ),
            (
                c.shutdown_timeout.is_zero(),
                "with_shutdown_timeout must be longer than zero",
            ),
            (
                c.http2.max_concurrent_streams == 0,
                "with_http2_max_concurrent_streams must be at least 1",
            ),
            (
                c.http2.initial_stream_window == 0 || c.http2.initial_stream_window > MAX_WINDOW,
                "with_http2_initial_stream_window_size must be between 1 and 2^31 - 1",
            ),
            (
                c.http2.initial_connection_window == 0
                    || c.http2.initial_connection_window > MAX_WINDOW,
                "with_http2_initial_connection_window_size must be between 1 and 2^31 - 1",
            ),
            (
                !(MIN_FRAME..=MAX_FRAME).contains(&c.http2.max_frame_size),
                "with_http2_max_frame_size must be between 16384 and 16777215",
            ),
            (
                c.http2.max_header_list_size == 0,
                "with_http2_max_header_list_size must be at least 1",
            ),
            (
                c.http2.max_send_buffer_size == 0,
                "with_http2_max_send_buffer_size must be at least 1",
            ),
            (
                c.http2.keep_alive_interval.is_some_and(|d| d.is_zero()),
                "with_http2_keep_alive_interval must be longer than zero",
            ),
            (
                c.http2.keep_alive_timeout.is_zero(),
                "with_http2_keep_alive_timeout must be longer than zero",
            ),
            (
                c.http2.idle_timeout.is_zero(),
                "with_http2_idle_timeout must be longer than zero",
            ),
            (
                c.http2.handshake_timeout.is_zero(),
                "with_http2_handshake_timeout must be longer than zero",
            ),
        ];
        if let Some((_, what)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(Error::config(what));
        }
        Ok(Server::from_config(self.config))
    }
}
