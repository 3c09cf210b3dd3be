#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! Integration tests of wego-hertz over loopback, one module per behaviour.

mod client;
#[cfg(feature = "cookies")]
mod client_cookies;
#[cfg(feature = "gzip")]
mod client_decompress;
mod client_failures;
#[cfg(feature = "governance")]
mod client_governance;
mod client_h1;
mod client_h2;
mod client_hyper;
mod client_nginx;
mod client_redirect;
mod client_support;
#[cfg(feature = "tls")]
mod client_tls;
mod client_upgrade;
mod support;

#[cfg(feature = "validator")]
mod example_binding;
mod example_hello;
mod example_http_client;
#[cfg(feature = "gzip")]
mod example_middleware;
mod h1_body_errors;
mod h1_expect;
mod h1_pipelining;
mod h1_smuggling;
mod h2_attacks;
mod h2_basic;
mod h2_lifecycle;
mod h2_peers;
mod h2_support;
mod h2_upgrade;
mod header_case;
mod hyper_client;
mod hyper_limits;
mod limits;
mod proxy;
mod proxy_example;
mod proxy_failures;
mod server_any_io;
mod server_basic;
mod server_curl;
mod server_shutdown;
mod server_streaming;
mod sse_client;
mod timeouts;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "ws")]
mod ws;
#[cfg(feature = "ws")]
mod ws_deflate;
#[cfg(feature = "ws")]
mod ws_example;
mod ws_upgrade;

// router, handlers, extractors, middleware (hertz-app)
#[cfg(feature = "validator")]
mod binding;
mod extract;
#[cfg(feature = "governance")]
mod governance;
mod middleware;
mod responses;
mod router;
mod static_files;
