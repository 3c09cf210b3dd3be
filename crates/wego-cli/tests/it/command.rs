//! The `wego` binary: usage, exit codes and error text.

use std::process::Command;

fn wego(args: &[&str], cwd: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wego"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, _) = wego(&["--help"], dir.path());
    assert!(ok);
    for cmd in [
        "wego new rpc",
        "wego new http",
        "wego update",
        "--wego-path",
    ] {
        assert!(out.contains(cmd), "{out}");
    }
}

#[test]
fn usage_errors_fail_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = wego(&["new", "rpc", "--name", "x"], dir.path());
    assert!(!ok);
    assert!(err.contains("needs --idl"), "{err}");
    let (ok, _, err) = wego(&["new", "grpc"], dir.path());
    assert!(!ok);
    assert!(err.contains("expected `rpc` or `http`"), "{err}");
    let (ok, _, err) = wego(&["update"], dir.path());
    assert!(!ok);
    assert!(err.contains("wego.toml"), "{err}");
}

#[test]
fn idl_errors_print_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.thrift"),
        "service S {\n  void f(1: i32 a\n}\n",
    )
    .unwrap();
    let (ok, _, err) = wego(
        &["new", "rpc", "--idl", "x.thrift", "--name", "svc"],
        dir.path(),
    );
    assert!(!ok);
    assert!(err.starts_with("wego: x.thrift:3:"), "{err}");
    assert!(!dir.path().join("svc").exists());
}

#[test]
fn new_writes_a_project_that_depends_on_this_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let idl = crate::repo().join("idl/echo.thrift");
    let (ok, out, err) = wego(
        &[
            "new",
            "rpc",
            "--idl",
            idl.to_str().unwrap(),
            "--name",
            "echo-svc",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("created echo-svc"), "{out}");
    let manifest = std::fs::read_to_string(dir.path().join("echo-svc/Cargo.toml")).unwrap();
    let kitex = crate::repo().join("crates/wego-kitex");
    assert!(
        manifest.contains(&format!(
            "wego-kitex = {{ path = \"{}\" }}",
            kitex.display()
        )),
        "{manifest}"
    );
    assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
    // A second `new` into the same place is refused.
    let (ok, _, err) = wego(
        &[
            "new",
            "rpc",
            "--idl",
            idl.to_str().unwrap(),
            "--name",
            "echo-svc",
        ],
        dir.path(),
    );
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
}
