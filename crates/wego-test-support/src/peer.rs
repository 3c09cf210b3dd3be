//! Outside peers: programs and Python modules that tests talk to.
//!
//! A test that needs a peer asks for it here. When the peer is missing the
//! test prints why and returns early (a skip), unless the environment has
//! `WEGO_REQUIRE_PEERS=1` (CI), where a missing peer is a failure.
//! A test runs a peer with [`output`], which fails the test rather than
//! hanging when the peer never finishes.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a peer program may run before [`output`] gives up on it.
///
/// Far above what any peer run takes on a loaded two-core machine; it
/// exists so that a peer that hangs fails its test instead of stalling the
/// whole test run.
pub const PEER_LIMIT: Duration = Duration::from_secs(300);

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

/// Runs `cmd` to completion like [`Command::output`] (stdin is null,
/// stdout and stderr are captured), but gives up after [`PEER_LIMIT`].
///
/// # Panics
///
/// Panics when the program cannot be started, or when it runs past the
/// limit: it is then killed and the panic message carries what it printed.
pub fn output(cmd: &mut Command) -> Output {
    output_with_stdin(cmd, Stdio::null())
}

/// [`output`] with the given stdin (a file, say).
///
/// # Panics
///
/// As [`output`].
pub fn output_with_stdin(cmd: &mut Command, stdin: Stdio) -> Output {
    output_within(cmd, stdin, PEER_LIMIT)
}

fn output_within(cmd: &mut Command, stdin: Stdio, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    // Each stream is read to its end on its own thread, which reports on
    // the channel when the child closes it: that happens when it exits.
    let (done, finished) = mpsc::channel();
    let stdout = drain(child.stdout.take(), done.clone());
    let stderr = drain(child.stderr.take(), done);
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        if finished.recv_timeout(left).is_err() {
            timed_out = true;
            let _ = child.kill();
            break;
        }
    }
    let status = child
        .wait()
        .unwrap_or_else(|e| panic!("cannot wait for {cmd:?}: {e}"));
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if timed_out {
        panic!(
            "{cmd:?} did not finish within {limit:?} and was killed\n\
             stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Reads `stream` to its end on a thread of its own, then says so on `done`.
fn drain<R: Read + Send + 'static>(
    stream: Option<R>,
    done: mpsc::Sender<()>,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut stream) = stream {
            let _ = stream.read_to_end(&mut buf);
        }
        let _ = done.send(());
        buf
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_captures_both_streams_and_the_status() {
        let out = output(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
    }

    #[test]
    #[should_panic(expected = "was killed")]
    fn a_program_that_never_finishes_is_killed() {
        // `sleep` outlives any test run; the limit is what ends it.
        output_within(
            Command::new("sh").args(["-c", "echo started; exec sleep 100000"]),
            Stdio::null(),
            Duration::from_millis(50),
        );
    }
}
