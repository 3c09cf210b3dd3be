//! Outside peers: programs and Python modules that tests talk to.
//!
//! A test that needs a peer asks for it here. When the peer is missing the
//! test prints why and returns early (a skip), unless the environment has
//! `WEGO_REQUIRE_PEERS=1` (CI), where a missing peer is a failure.

use std::path::PathBuf;
use std::process::Command;

/// Returns true when missing peers must fail tests (`WEGO_REQUIRE_PEERS=1`).
pub fn required() -> bool {
    std::env::var("WEGO_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Finds `name` on `PATH` (also `/usr/sbin`, `/usr/bin`, `/usr/local/bin`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Returns the program's path, or skips (prints and returns `None`) or
/// fails (panics, under `WEGO_REQUIRE_PEERS=1`) when it is missing.
///
/// # Panics
///
/// Panics when the program is missing and peers are required.
pub fn program(test: &str, name: &str) -> Option<PathBuf> {
    match find_program(name) {
        Some(p) => Some(p),
        None => missing(test, &format!("program `{name}` is not installed")),
    }
}

/// Returns a Python interpreter that can import every module in `modules`,
/// or skips/fails like [`program`].
///
/// # Panics
///
/// Panics when no such interpreter exists and peers are required.
pub fn python_with(test: &str, modules: &[&str]) -> Option<PathBuf> {
    let Some(python) = find_program("python3") else {
        return missing(test, "python3 is not installed");
    };
    let imports = modules.join(", ");
    let ok = Command::new(&python)
        .args(["-c", &format!("import {imports}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(python)
    } else {
        missing(
            test,
            &format!("python3 cannot import {imports} (pip install the peer)"),
        )
    }
}

/// Reports a missing peer: a printed skip, or a panic when peers are required.
///
/// # Panics
///
/// Panics when peers are required.
pub fn missing<T>(test: &str, reason: &str) -> Option<T> {
    if required() {
        panic!("{test}: required peer missing: {reason} (WEGO_REQUIRE_PEERS=1)");
    }
    eprintln!("SKIPPED {test}: {reason}");
    None
}
