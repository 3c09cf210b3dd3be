//! Interop with Python's grpcio, both directions, for the 16 interop cases:
//! grpcio's client against our TestService server, and our client against
//! a grpcio TestService server. Stubs are generated at test time with
//! `grpc_tools.protoc` into a temp dir.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use wego_kitex::grpc::{Channel, GrpcServer};
use wego_netpoll::{Address, rt};

pub(crate) use wego_idl_gen::grpc_testing as pb;
#[path = "../../examples/interop/cases.rs"]
pub(crate) mod cases;
#[path = "../../examples/interop/service.rs"]
pub(crate) mod service;

fn dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

wego_test_support::each_backend!(grpcio_client_against_our_server, |_backend| async move {
    let Some(python) = wego_test_support::peer::python_with(
        "grpcio_client_against_our_server",
        &["grpc", "grpc_tools"],
    ) else {
        return;
    };
    let listener = wego_test_support::loopback().await;
    let port = listener.local_addr().as_tcp().unwrap().port();
    rt::spawn(async move {
        GrpcServer::default()
            .serve(listener, pb::test_service_router(service::TestServer))
            .await
    });
    grpcio_client_passes(python, port).await;
});

/// Runs grpcio's interop client (`tests/peers/grpc_interop_client.py`)
/// against a `TestService` on `port` and fails the test unless every
/// interop case passes.
#[allow(clippy::print_stdout)] // grpcio's per-case report belongs in the test output
pub(crate) async fn grpcio_client_passes(python: PathBuf, port: u16) {
    let out = rt::spawn_blocking(move || {
        wego_test_support::peer::output(
            Command::new(python)
                .arg(dir("tests/peers/grpc_interop_client.py"))
                .arg(dir("../../idl/grpc/testing"))
                .arg(port.to_string()),
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    // Beyond the interop cases: an early failure's trailing metadata.
    for case in cases::CASES
        .iter()
        .chain(&["early_failure_trailing_metadata"])
    {
        assert!(
            stdout.contains(&format!("PASS {case}\n")),
            "grpcio case {case} did not pass"
        );
    }
    assert!(out.status.success());
}

wego_test_support::each_backend!(our_client_against_grpcio_server, |_backend| async move {
    let Some(python) = wego_test_support::peer::python_with(
        "our_client_against_grpcio_server",
        &["grpc", "grpc_tools"],
    ) else {
        return;
    };
    let mut child = Command::new(python)
        .arg(dir("tests/peers/grpc_interop_server.py"))
        .arg(dir("../../idl/grpc/testing"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let port = rt::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line.trim().parse::<u16>().unwrap()
    })
    .await
    .unwrap();
    let addr: Address = format!("127.0.0.1:{port}").parse().unwrap();
    let ch = Channel::connect(&addr).await.unwrap();
    let mut failures = Vec::new();
    for case in cases::CASES {
        // grpcio's Python server API cannot see whether a request was
        // compressed, so the compression feature probe is skipped.
        if let Err(e) = cases::run_with(case, &ch, false).await {
            failures.push(format!("{case}: {e}"));
        }
    }
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    assert!(failures.is_empty(), "failed against grpcio: {failures:#?}");
});
