//! Echo handlers for volo-thrift and wego-kitex, shared by the
//! `thrift-bench` tool and the volo interop tests.

#![allow(clippy::disallowed_methods)] // volo runs on tokio directly; this peer owns its runtime

/// volo-thrift's code generated from `idl/echo.thrift` by volo-build.
#[allow(clippy::all, missing_docs, unreachable_pub, dead_code, unsafe_code)]
pub mod volo_echo {
    include!(concat!(env!("OUT_DIR"), "/volo_gen.rs"));
}

/// wego-build's code for `idl/echo.thrift` (as wego-kitex's examples use it).
pub use wego_idl_gen::echo as wego_echo;

use volo_echo::volo_gen::echo as v;
use wego_echo::echo_types::echo as w;

/// The volo echo handler.
#[derive(Clone, Copy, Debug)]
pub struct VoloEcho;

impl v::EchoServer for VoloEcho {
    async fn echo(&self, req: v::Request) -> Result<v::Response, volo_thrift::ServerError> {
        Ok(v::Response {
            action: req.action,
            msg: req.msg,
        })
    }

    async fn notify(&self, _req: v::Request) -> Result<(), volo_thrift::ServerError> {
        Ok(())
    }
}

/// The wego echo handler.
#[derive(Clone, Copy, Debug)]
pub struct WegoEcho;

impl wego_echo::echo_service::EchoServerHandler for WegoEcho {
    async fn echo(&self, req: w::Request) -> Result<w::Response, wego_kitex::BoxError> {
        Ok(w::Response {
            action: req.action,
            msg: req.msg,
        })
    }

    async fn notify(&self, _req: w::Request) -> Result<(), wego_kitex::BoxError> {
        Ok(())
    }
}

/// A wego-kitex echo server builder.
pub fn wego_server() -> wego_kitex::server::ServerBuilder {
    type S = wego_echo::echo_service::EchoServerServer<WegoEcho>;
    wego_kitex::server::Server::builder().add_service(S::new(WegoEcho))
}

/// Picks a free loopback port (volo binds by address, so the port is
/// chosen first; the window in which another process could take it is tiny).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
