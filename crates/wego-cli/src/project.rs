//! `wego new` and `wego update`: writing a project, and regenerating one
//! without touching what its user wrote.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::IdlKind;
use crate::render::{self, Deps, Files, Owner};

/// What `wego new` generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// An RPC service (`wego new rpc`).
    Rpc,
    /// An HTTP API (`wego new http`).
    Http,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Rpc => "rpc",
            Kind::Http => "http",
        }
    }
}

/// Options of `wego new`.
#[derive(Debug, Clone)]
pub struct NewOptions {
    /// RPC or HTTP.
    pub kind: Kind,
    /// The IDL file.
    pub idl: PathBuf,
    /// The package name.
    pub name: String,
    /// The project directory (created; must be absent or empty).
    pub out: PathBuf,
    /// The service to generate (default: the IDL's last).
    pub service: Option<String>,
    /// Where the wego crates come from.
    pub deps: Deps,
}

/// Options of `wego update`.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// The project directory.
    pub dir: PathBuf,
    /// A new version of the IDL to copy into `idl/` first.
    pub idl: Option<PathBuf>,
}

/// What a command wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Files written or rewritten, relative to the project.
    pub written: Vec<String>,
    /// Stubs appended to user files: (file, method or route).
    pub stubs_added: Vec<(String, String)>,
}

/// The manifest `wego update` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Manifest {
    kind: Kind,
    idl: String,
    name: String,
    service: String,
}

const MANIFEST: &str = "wego.toml";

impl Manifest {
    fn render(&self) -> String {
        format!(
            "# Written by `wego new`; `wego update` regenerates the project from it.\nkind = \"{}\"\nidl = \"{}\"\nname = \"{}\"\nservice = \"{}\"\n",
            self.kind.as_str(),
            self.idl,
            self.name,
            self.service
        )
    }

    fn parse(path: &Path, text: &str) -> Result<Manifest> {
        let bad = |reason: String| Error::Project {
            path: path.to_path_buf(),
            reason,
        };
        let get = |key: &str| -> Result<String> {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().trim_matches('"').to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| bad(format!("no `{key}` key")))
        };
        let kind = match get("kind")?.as_str() {
            "rpc" => Kind::Rpc,
            "http" => Kind::Http,
            other => return Err(bad(format!("kind {other:?}, expected \"rpc\" or \"http\""))),
        };
        Ok(Manifest {
            kind,
            idl: get("idl")?,
            name: get("name")?,
            service: get("service")?,
        })
    }
}

fn load(
    kind: Kind,
    idl: &Path,
    service: Option<&str>,
    name: &str,
    deps: &Deps,
) -> Result<(Files, String)> {
    let idl_kind = IdlKind::of(idl).ok_or_else(|| {
        Error::Usage(format!(
            "{}: expected a .thrift or .proto file",
            idl.display()
        ))
    })?;
    Ok(match (kind, idl_kind) {
        (Kind::Rpc, IdlKind::Thrift) => {
            let s = crate::thrift::load(idl, service)?.rpc()?;
            (render::rpc::project(&s, name, deps), s.idl_name)
        }
        (Kind::Rpc, _) => {
            let s = crate::proto::load(idl, service)?;
            (render::rpc::project(&s, name, deps), s.idl_name)
        }
        (Kind::Http, IdlKind::Thrift) => {
            let api = crate::thrift::load(idl, service)?.http()?;
            (render::http::project(&api, name, deps), api.service)
        }
        (Kind::Http, _) => {
            let api = crate::proto_http::load(idl, service)?;
            (render::http::project(&api, name, deps), api.service)
        }
    })
}

fn write(dir: &Path, rel: &str, text: &str) -> Result<()> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(&path, text).map_err(|source| Error::Write { path, source })
}

/// `wego new`: generates a project into `opts.out`.
///
/// # Errors
///
/// An invalid IDL ([`Error::Idl`], with file, line and column), an
/// existing non-empty directory, or an I/O failure.
pub fn new_project(opts: &NewOptions) -> Result<Report> {
    if !crate::names::is_package_name(&opts.name) {
        return Err(Error::Usage(format!(
            "--name {:?}: expected a package name (a letter, then letters, digits, `-` or `_`)",
            opts.name
        )));
    }
    if let Ok(mut entries) = std::fs::read_dir(&opts.out)
        && entries.next().is_some()
    {
        return Err(Error::Exists(opts.out.clone()));
    }
    let (files, service) = load(
        opts.kind,
        &opts.idl,
        opts.service.as_deref(),
        &opts.name,
        &opts.deps,
    )?;
    let mut report = Report::default();
    for (rel, _, text) in &files.0 {
        write(&opts.out, rel, text)?;
        report.written.push(rel.clone());
    }
    let idl = opts
        .idl
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let manifest = Manifest {
        kind: opts.kind,
        idl,
        name: opts.name.clone(),
        service,
    };
    write(&opts.out, MANIFEST, &manifest.render())?;
    report.written.push(MANIFEST.into());
    Ok(report)
}

/// `wego update`: copies a new IDL in (if given), rewrites `src/generated/` and
/// the IDL, and appends stubs for new methods or routes to the handler
/// file, leaving every existing line of user files as it was.
///
/// # Errors
///
/// No `wego.toml`, an invalid IDL, or an I/O failure.
pub fn update_project(opts: &UpdateOptions) -> Result<Report> {
    let mpath = opts.dir.join(MANIFEST);
    let text = std::fs::read_to_string(&mpath).map_err(|e| Error::Project {
        path: mpath.clone(),
        reason: format!("not a project generated by `wego new` ({e})"),
    })?;
    let manifest = Manifest::parse(&mpath, &text)?;
    let idl_path = match &opts.idl {
        Some(p) => {
            let given = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if given != manifest.idl {
                return Err(Error::Usage(format!(
                    "the project's IDL is idl/{}; --idl names {given:?}, expected a file of the same name",
                    manifest.idl
                )));
            }
            p.clone()
        }
        None => opts.dir.join("idl").join(&manifest.idl),
    };
    // Generation needs the same dependency lines only for files it does not rewrite.
    let deps = Deps {
        wego_path: None,
        in_workspace: true,
    };
    let (files, _) = load(
        manifest.kind,
        &idl_path,
        Some(&manifest.service),
        &manifest.name,
        &deps,
    )?;
    let mut report = Report::default();
    for (rel, owner, text) in &files.0 {
        let path = opts.dir.join(rel);
        match owner {
            Owner::Generated => {
                if rel.starts_with("idl/") && opts.idl.is_none() {
                    continue;
                }
                let old = std::fs::read_to_string(&path).ok();
                if old.as_deref() != Some(text.as_str()) {
                    write(&opts.dir, rel, text)?;
                    report.written.push(rel.clone());
                }
            }
            Owner::User => {
                if !path.exists() {
                    write(&opts.dir, rel, text)?;
                    report.written.push(rel.clone());
                }
            }
        }
    }
    match manifest.kind {
        Kind::Rpc => add_rpc_stubs(&opts.dir, &idl_path, &manifest, &mut report)?,
        Kind::Http => add_http_stubs(&opts.dir, &idl_path, &manifest, &mut report)?,
    }
    Ok(report)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Whether `src` defines a function `name` (`fn name(` or `fn name<`).
fn defines_fn(src: &str, name: &str) -> bool {
    let pat = format!("fn {name}");
    let mut from = 0;
    while let Some(p) = src[from..].find(&pat) {
        let end = from + p + pat.len();
        let before_ok = from + p == 0
            || !src[..from + p]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let after = src[end..].trim_start().chars().next();
        if before_ok && matches!(after, Some('(') | Some('<')) {
            return true;
        }
        from = end;
    }
    false
}

/// The byte offset of the `}` closing the block that opens at the first
/// `{` at or after `from`; strings, chars and comments are skipped.
fn block_end(src: &str, from: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = from + src[from..].find('{')?;
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
                continue;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') || (b.get(i + 1) == Some(&b'\\')) => {
                // A char literal ('x' or '\n'); lifetimes have no closing quote.
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn add_rpc_stubs(dir: &Path, idl: &Path, m: &Manifest, report: &mut Report) -> Result<()> {
    let service = match IdlKind::of(idl) {
        Some(IdlKind::Thrift) => crate::thrift::load(idl, Some(&m.service))?.rpc()?,
        _ => crate::proto::load(idl, Some(&m.service))?,
    };
    let rel = "src/handler.rs";
    let path = dir.join(rel);
    let mut src = read(&path)?;
    let missing: Vec<_> = service
        .methods
        .iter()
        .filter(|x| !defines_fn(&src, &x.rust_name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let marker = format!("impl {} for", service.handler_trait);
    let at = src.find(&marker).ok_or_else(|| Error::Project {
        path: path.clone(),
        reason: format!("no `{marker} ...` block to add the new methods to"),
    })?;
    let end = block_end(&src, at).ok_or_else(|| Error::Project {
        path: path.clone(),
        reason: format!("the `{marker} ...` block is not closed"),
    })?;
    let mut add = String::new();
    for x in &missing {
        add.push('\n');
        add.push_str(&render::rpc::stub(x));
        report.stubs_added.push((rel.into(), x.idl_name.clone()));
    }
    src.insert_str(end, &add);
    write(dir, rel, &src)?;
    report.written.push(rel.into());
    Ok(())
}

fn add_http_stubs(dir: &Path, idl: &Path, m: &Manifest, report: &mut Report) -> Result<()> {
    let api = match IdlKind::of(idl) {
        Some(IdlKind::Thrift) => crate::thrift::load(idl, Some(&m.service))?.http()?,
        _ => crate::proto_http::load(idl, Some(&m.service))?,
    };
    let rel = "src/handlers.rs";
    let path = dir.join(rel);
    let mut src = read(&path)?;
    let mut added = false;
    for r in render::http::handlers_of(&api) {
        if defines_fn(&src, &r.handler) {
            continue;
        }
        if !src.ends_with('\n') {
            src.push('\n');
        }
        src.push('\n');
        src.push_str(&render::http::stub(r, &api.service));
        report
            .stubs_added
            .push((rel.into(), format!("{} {}", r.method, r.path)));
        added = true;
    }
    if added {
        write(dir, rel, &src)?;
        report.written.push(rel.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_functions_by_name() {
        let src = "impl X for H {\n    async fn echo(&self) {}\n    fn echo_all<T>() {}\n}\n";
        assert!(defines_fn(src, "echo"));
        assert!(defines_fn(src, "echo_all"));
        assert!(!defines_fn(src, "ech"));
        assert!(!defines_fn(src, "all"));
    }

    #[test]
    fn finds_the_end_of_a_block_past_strings_and_comments() {
        let src = "impl A for B {\n  fn f() { let s = \"}\"; let c = '}'; } // }\n  /* } */\n}\nfn g() {}";
        let end = block_end(src, 0).unwrap();
        assert_eq!(&src[end..end + 2], "}\n");
        assert_eq!(src[end + 2..].trim(), "fn g() {}");
        assert_eq!(block_end("impl A { fn f<'a>(x: &'a str) {} }", 0), Some(33));
        assert_eq!(block_end("impl A { ", 0), None);
    }

    #[test]
    fn the_manifest_round_trips() {
        let m = Manifest {
            kind: Kind::Http,
            idl: "api.thrift".into(),
            name: "svc".into(),
            service: "Api".into(),
        };
        let back = Manifest::parse(Path::new("wego.toml"), &m.render()).unwrap();
        assert_eq!(back, m);
        assert!(Manifest::parse(Path::new("wego.toml"), "kind = \"x\"").is_err());
    }
}
