#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! Integration tests of wego-hertz over loopback, one module per behaviour.

mod support;

mod example_hello;
mod h1_expect;
mod h1_pipelining;
mod h1_smuggling;
mod limits;
mod server_basic;
mod server_curl;
mod server_shutdown;
mod server_streaming;

// router, handlers, extractors, middleware (hertz-app)
#[cfg(feature = "validator")]
mod binding;
mod extract;
mod governance;
mod middleware;
mod responses;
mod router;
