#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! Golden-file tests of wego-build: generated code is compared with the
//! files under `tests/golden/`; run with `WEGO_BLESS=1` to update them.

use std::path::Path;

mod proto_golden;

fn check(idl: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let out = std::env::temp_dir().join(format!("wego-build-golden-{}-{idl}", std::process::id()));
    let written = wego_build::thrift()
        .out_dir(&out)
        .compile(&[dir.join(format!("{idl}.thrift"))])
        .unwrap();
    let got = std::fs::read_to_string(&written[0]).unwrap();
    let golden = dir.join(format!("{idl}.rs"));
    if std::env::var_os("WEGO_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert!(
        got == want,
        "generated code for {idl} differs from {}; rerun with WEGO_BLESS=1",
        golden.display()
    );
    assert!(got.contains("pub trait EchoServerHandler") || idl != "echo");
}

#[test]
fn thrift_test_matches_golden() {
    check("ThriftTest");
}

#[test]
fn includes_match_golden() {
    check("store");
}

#[test]
fn echo_matches_golden() {
    check("echo");
}

/// wego-kitex's examples and tests include checked-in copies of the
/// generated code; they must stay identical to the golden output.
#[test]
fn kitex_copies_match_golden() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let golden = root.join("tests/golden");
    let kitex = root.join("../wego-kitex");
    for (g, copy) in [
        ("ThriftTest.rs", "examples/gen/thrift_test.rs"),
        ("echo.rs", "examples/gen/echo.rs"),
        ("store.rs", "tests/it/gen/store.rs"),
    ] {
        let want = std::fs::read_to_string(golden.join(g)).unwrap();
        let path = kitex.join(copy);
        if std::env::var_os("WEGO_BLESS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let got = std::fs::read_to_string(&path).unwrap();
        assert!(
            got == want,
            "{} differs from {g}; rerun with WEGO_BLESS=1",
            path.display()
        );
    }
}
