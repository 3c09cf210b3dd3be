#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! Golden-file tests of wego-build: code generated from the repository's
//! IDL folder (`idl/`) is compared with the files under `tests/golden/`;
//! run with `WEGO_BLESS=1` to update them. These golden files are the only
//! checked-in generator output: wego's tests, examples and benchmarks get
//! theirs from the `wego-idl-gen` crate's build script.

use std::path::{Path, PathBuf};

mod proto_golden;

/// The repository's IDL folder.
fn idl_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../idl")
}

fn check(idl: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let out = std::env::temp_dir().join(format!("wego-build-golden-{}-{idl}", std::process::id()));
    let written = wego_build::thrift()
        .out_dir(&out)
        .compile(&[idl_dir().join(format!("{idl}.thrift"))])
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
