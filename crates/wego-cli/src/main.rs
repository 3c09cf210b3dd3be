//! The `wego` command line. See `wego --help` and `docs/cli.md`.
#![allow(clippy::print_stdout)] // a command line prints its results

use std::path::PathBuf;
use std::process::ExitCode;

use wego_cli::{
    Deps, Error, Kind, NewOptions, UpdateOptions, find_wego_root, new_project, update_project,
};

const HELP: &str = "wego: service projects scaffolded from IDL

usage:
  wego new rpc  --idl FILE.thrift|FILE.proto --name NAME [options]
  wego new http --idl FILE.thrift|FILE.proto --name NAME [options]
  wego update [--idl FILE] [--dir DIR]

new options:
  --out DIR          where to write the project (default: ./NAME)
  --service NAME     the IDL service to generate (default: the file's last)
  --wego-path DIR    depend on the wego checkout at DIR by path (default:
                     the checkout wego runs in or was built from, if any;
                     else crates.io versions)
  --in-workspace     leave out the [workspace] table, for a project that
                     joins an enclosing Cargo workspace

update options:
  --idl FILE         copy this new version of the project's IDL in first
  --dir DIR          the project (default: the current directory)
";

fn value(args: &mut std::vec::IntoIter<String>, flag: &str) -> Result<String, Error> {
    args.next()
        .ok_or_else(|| Error::Usage(format!("{flag} needs a value")))
}

fn run(argv: Vec<String>) -> Result<(), Error> {
    let mut args = argv.into_iter();
    match args.next().as_deref() {
        None | Some("--help") | Some("-h") | Some("help") => {
            print!("{HELP}");
            Ok(())
        }
        Some("new") => {
            let kind = match args.next().as_deref() {
                Some("rpc") => Kind::Rpc,
                Some("http") => Kind::Http,
                other => {
                    return Err(Error::Usage(format!(
                        "wego new {}: expected `rpc` or `http`",
                        other.unwrap_or("")
                    )));
                }
            };
            let (mut idl, mut name, mut out, mut service, mut wego_path) =
                (None, None, None, None, None);
            let mut in_workspace = false;
            while let Some(flag) = args.next() {
                match flag.as_str() {
                    "--idl" => idl = Some(PathBuf::from(value(&mut args, &flag)?)),
                    "--name" => name = Some(value(&mut args, &flag)?),
                    "--out" => out = Some(PathBuf::from(value(&mut args, &flag)?)),
                    "--service" => service = Some(value(&mut args, &flag)?),
                    "--wego-path" => wego_path = Some(PathBuf::from(value(&mut args, &flag)?)),
                    "--in-workspace" => in_workspace = true,
                    other => {
                        return Err(Error::Usage(format!(
                            "unknown flag {other}; see wego --help"
                        )));
                    }
                }
            }
            let idl = idl.ok_or_else(|| Error::Usage("wego new needs --idl FILE".into()))?;
            let name = name.ok_or_else(|| Error::Usage("wego new needs --name NAME".into()))?;
            let out = out.unwrap_or_else(|| PathBuf::from(&name));
            let wego_path = match wego_path {
                Some(p) => Some(
                    p.canonicalize()
                        .map_err(|source| Error::Read { path: p, source })?,
                ),
                None => std::env::current_dir()
                    .ok()
                    .and_then(|d| find_wego_root(&d)),
            };
            let report = new_project(&NewOptions {
                kind,
                idl,
                name,
                out: out.clone(),
                service,
                deps: Deps {
                    wego_path,
                    in_workspace,
                },
            })?;
            println!("created {} ({} files)", out.display(), report.written.len());
            println!("next: cd {} && cargo test", out.display());
            Ok(())
        }
        Some("update") => {
            let (mut idl, mut dir) = (None, PathBuf::from("."));
            while let Some(flag) = args.next() {
                match flag.as_str() {
                    "--idl" => idl = Some(PathBuf::from(value(&mut args, &flag)?)),
                    "--dir" => dir = PathBuf::from(value(&mut args, &flag)?),
                    other => {
                        return Err(Error::Usage(format!(
                            "unknown flag {other}; see wego --help"
                        )));
                    }
                }
            }
            let report = update_project(&UpdateOptions { dir, idl })?;
            for f in &report.written {
                println!("wrote {f}");
            }
            for (f, what) in &report.stubs_added {
                println!("added a stub for {what} to {f}");
            }
            if report.written.is_empty() {
                println!("up to date");
            }
            Ok(())
        }
        Some(other) => Err(Error::Usage(format!(
            "unknown command {other:?}; see wego --help"
        ))),
    }
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("wego: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                msg.push_str(&format!(": {c}"));
                cause = c.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
