//! wego-cli's integration tests: IDL errors, the command line, and the
//! generated projects built and tested in one Cargo workspace.
#![allow(clippy::unwrap_used, clippy::print_stdout)] // tests fail by unwrapping and report timings

mod command;
mod idl_errors;
mod projects;

use std::path::{Path, PathBuf};

/// The repository root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A test IDL under `tests/it/idl/`.
fn idl(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/idl")
        .join(name)
}
