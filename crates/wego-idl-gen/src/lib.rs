//! wego-build's output for the repository's IDL folder (`idl/`), generated
//! by this crate's `build.rs` exactly as a user's build script does.
//!
//! wego's own tests, examples and benchmarks depend on this crate (as a
//! dev-dependency where it would otherwise be a cycle) instead of keeping
//! copies of generated code: the only checked-in generator output is
//! wego-build's golden files (`crates/wego-build/tests/golden/`), which
//! its tests compare with a fresh generation of the same IDL.
//!
//! | module | IDL | contents |
//! |---|---|---|
//! | [`echo`] | `idl/echo.thrift` | `echo_types::echo`, `echo_service` |
//! | [`thrift_test`] | `idl/ThriftTest.thrift` (Apache Thrift's cross-language test) | `ThriftTest_types::thrifttest`, `thrifttest_service` |
//! | [`store`] | `idl/store.thrift` + `idl/shared.thrift` (includes, typedefs, consts, unions, exceptions) | `store_types::{store, shared}`, `store_service` |
//! | [`echo_proto`] | `idl/echo.proto` | messages, `EchoServerHandler`, `echo_server_router`, `EchoServerClient` |
//! | [`grpc_testing`] | `idl/grpc/testing/*.proto` (the gRPC interop service) | `TestService`, `UnimplementedService`, `ReconnectService` |
//!
//! Not published: it exists for the workspace's own builds.

// Generated code carries no docs, and pilota's decoders use `unsafe` to
// fill numeric vectors (their sizes come from wego-kitex's checked input).
#![allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    unsafe_code
)]
#![allow(clippy::all, clippy::undocumented_unsafe_blocks, clippy::unwrap_used)]

/// `idl/echo.thrift`.
pub mod echo {
    include!(concat!(env!("OUT_DIR"), "/thrift/echo.rs"));
}

/// `idl/ThriftTest.thrift`, Apache Thrift's cross-language test service.
pub mod thrift_test {
    include!(concat!(env!("OUT_DIR"), "/thrift/ThriftTest.rs"));
}

/// `idl/store.thrift`, which includes `idl/shared.thrift`.
pub mod store {
    include!(concat!(env!("OUT_DIR"), "/thrift/store.rs"));
}

/// `idl/echo.proto` (package `echo`).
pub mod echo_proto {
    include!(concat!(env!("OUT_DIR"), "/proto/echo.rs"));
}

/// `idl/grpc/testing/test.proto` (package `grpc.testing`), the gRPC interop
/// service.
pub mod grpc_testing {
    include!(concat!(env!("OUT_DIR"), "/proto/grpc.testing.rs"));
}
