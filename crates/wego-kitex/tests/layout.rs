#![allow(clippy::unwrap_used, clippy::print_stdout)] // a test: failures are panics, reports go to stdout
//! Checks the crate's layout from its sources, with no dependency:
//!
//! - no import cycle between the crate's modules at any level (the
//!   children of every directory module form an acyclic graph), and
//! - no two public types with the same name anywhere in the crate.
//!
//! Edges come from `use` trees and from inline `crate::`, `super::` and
//! `self::` paths outside comments and `#[cfg(test)] mod tests`. A path
//! that names an item re-exported by a module is followed to the module
//! defining it, so `use super::Status` in `grpc/client/` depends on
//! `grpc/status.rs`, not on `grpc/mod.rs`. A parent's `mod` and `pub use`
//! lines are not dependencies on its children.
//!
//! `cargo test -p wego-kitex --test layout -- --nocapture` prints the
//! module graph and every cycle found in the whole crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module of the crate: its path segments below the crate root.
type ModPath = Vec<String>;

struct Source {
    file: PathBuf,
    module: ModPath,
    /// The code with comments and unit tests removed.
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort_by(|a, b| a.module.cmp(&b.module));
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Source>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(root, &path, out);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap();
        let mut module: ModPath = rel
            .iter()
            .map(|s| s.to_str().unwrap().trim_end_matches(".rs").to_owned())
            .collect();
        let last = module.last().unwrap().clone();
        if last == "tests" {
            continue; // unit tests in a sibling file
        }
        if last == "mod" || last == "lib" {
            module.pop();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        out.push(Source {
            file: rel.to_path_buf(),
            module,
            code: strip(&text),
        });
    }
}

/// Drops comment lines, trailing comments and the `#[cfg(test)] mod tests`
/// block that closes a file.
fn strip(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|n| n.trim_start().starts_with("mod tests"))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        let code = match line.find("//") {
            // Keep `"http://..."` literals intact: cut only outside quotes.
            Some(i) if line[..i].matches('"').count() % 2 == 0 => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Expands a use tree (`a::{b, c::{d, e as f}}`) into its paths, each with
/// the name it binds.
fn expand(tree: &str) -> Vec<(Vec<String>, String)> {
    fn go(prefix: &[String], s: &str, out: &mut Vec<(Vec<String>, String)>) {
        let s = s.trim();
        if s.is_empty() {
            return;
        }
        if let Some(open) = s.find('{') {
            let head: Vec<String> = s[..open]
                .split("::")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            let inner = &s[open + 1..s.rfind('}').unwrap()];
            let mut base = prefix.to_vec();
            base.extend(head);
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        go(&base, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            go(&base, &inner[start..], out);
            return;
        }
        let (path, alias) = match s.split_once(" as ") {
            Some((p, a)) => (p.trim(), Some(a.trim().to_owned())),
            None => (s, None),
        };
        let mut full = prefix.to_vec();
        full.extend(path.split("::").map(|p| p.trim().to_owned()));
        if full.last().is_some_and(|l| l == "self") {
            full.pop();
        }
        let name = alias.unwrap_or_else(|| full.last().cloned().unwrap_or_default());
        out.push((full, name));
    }
    let mut out = Vec::new();
    go(&[], tree, &mut out);
    out
}

/// How far a `use` binding is visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vis {
    Private,
    Crate,
    Public,
}

/// The `use` statements of a file: (visibility, path, bound name). A
/// statement starts a line, after its visibility.
fn uses(code: &str) -> Vec<(Vis, Vec<String>, String)> {
    let mut out = Vec::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        let (vis, rest) = if let Some(r) = t.strip_prefix("use ") {
            (Vis::Private, r)
        } else if let Some(r) = t.strip_prefix("pub use ") {
            (Vis::Public, r)
        } else if t.starts_with("pub(") && t.contains(") use ") {
            (Vis::Crate, &t[t.find(") use ").unwrap() + 6..])
        } else {
            continue;
        };
        let mut stmt = rest.to_owned();
        while !stmt.contains(';') {
            let Some(next) = lines.next() else { break };
            stmt.push_str(next);
        }
        let end = stmt.find(';').unwrap_or(stmt.len());
        for (path, name) in expand(&stmt[..end]) {
            out.push((vis, path, name));
        }
    }
    out
}

/// Finds `word` where it starts a token.
fn find_word(s: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find(word) {
        let at = from + i;
        let prev = s[..at].chars().next_back();
        if prev.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':')) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Inline `crate::…`, `super::…` and `self::…` paths.
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = find_word(&code[from..], start) {
            let at = from + i;
            let tail: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(
                tail.split("::")
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
            from = at + tail.len().max(1);
        }
    }
    out
}

struct Crate {
    modules: BTreeSet<ModPath>,
    /// Items defined per module.
    defined: BTreeMap<ModPath, BTreeSet<String>>,
    /// `pub use` bindings per module: name -> absolute path.
    reexports: BTreeMap<ModPath, BTreeMap<String, Vec<String>>>,
}

impl Crate {
    fn new(srcs: &[Source]) -> Crate {
        let modules: BTreeSet<ModPath> = srcs.iter().map(|s| s.module.clone()).collect();
        let mut defined = BTreeMap::new();
        let mut reexports = BTreeMap::new();
        for s in srcs {
            let mut names = BTreeSet::new();
            for line in s.code.lines() {
                let words: Vec<&str> = line
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty())
                    .collect();
                for w in words.windows(2) {
                    if matches!(
                        w[0],
                        "struct" | "enum" | "trait" | "type" | "fn" | "const" | "static" | "mod"
                    ) {
                        names.insert(w[1].to_owned());
                    }
                }
            }
            defined.insert(s.module.clone(), names);
            let mut map = BTreeMap::new();
            for (vis, path, name) in uses(&s.code) {
                if vis != Vis::Private
                    && let Some(abs) = absolute(&modules, &s.module, &path)
                {
                    map.insert(name, abs);
                }
            }
            reexports.insert(s.module.clone(), map);
        }
        Crate {
            modules,
            defined,
            reexports,
        }
    }

    /// The module file that defines what `abs` names.
    fn target(&self, abs: &[String], depth: usize) -> Option<ModPath> {
        let mut m: ModPath = abs.to_vec();
        while !self.modules.contains(&m) {
            m.pop();
        }
        let Some(item) = abs.get(m.len()) else {
            return Some(m); // a module itself
        };
        if self.defined.get(&m).is_some_and(|d| d.contains(item)) || depth > 8 {
            return Some(m);
        }
        match self.reexports.get(&m).and_then(|r| r.get(item)) {
            Some(next) => self.target(next, depth + 1),
            None => Some(m),
        }
    }
}

/// Makes `path`, as written in `module`, absolute; `None` for paths into
/// other crates.
fn absolute(
    modules: &BTreeSet<ModPath>,
    module: &[String],
    path: &[String],
) -> Option<Vec<String>> {
    let first = path.first()?;
    let (mut base, rest): (Vec<String>, &[String]) = match first.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (module.to_vec(), &path[1..]),
        "super" => {
            let mut base = module.to_vec();
            let mut rest = path;
            while rest.first().is_some_and(|p| p == "super") {
                base.pop();
                rest = &rest[1..];
            }
            (base, rest)
        }
        _ => {
            // A child module named without `self::` (2018 uniform paths).
            let mut child = module.to_vec();
            child.push(first.clone());
            if !modules.contains(&child) {
                return None;
            }
            (module.to_vec(), path)
        }
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// File-level edges: module -> modules it depends on.
fn edges(srcs: &[Source], krate: &Crate) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut out: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for s in srcs {
        let mut paths: Vec<Vec<String>> = uses(&s.code).into_iter().map(|(_, p, _)| p).collect();
        paths.extend(inline_paths(&s.code));
        let deps = out.entry(s.module.clone()).or_default();
        for p in paths {
            let Some(abs) = absolute(&krate.modules, &s.module, &p) else {
                continue;
            };
            let Some(t) = krate.target(&abs, 0) else {
                continue;
            };
            // A module's own items, and a parent declaring or re-exporting
            // its descendants, are not dependencies.
            if t == s.module || t.starts_with(&s.module) {
                continue;
            }
            deps.insert(t);
        }
    }
    out
}

/// Cycles among the children of `parent` (each child with its whole
/// subtree); each cycle is listed once, as its set of children.
fn cycles_under(
    parent: &[String],
    graph: &BTreeMap<ModPath, BTreeSet<ModPath>>,
) -> Vec<BTreeSet<String>> {
    let child = |m: &ModPath| -> Option<String> {
        (m.len() > parent.len() && m.starts_with(parent)).then(|| m[parent.len()].clone())
    };
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in graph {
        let Some(a) = child(from) else { continue };
        g.entry(a.clone()).or_default();
        for to in tos {
            if let Some(b) = child(to)
                && b != a
            {
                g.entry(a.clone()).or_default().insert(b);
            }
        }
    }
    // Strongly connected components by mutual reachability (graphs are small).
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for m in g.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<String, BTreeSet<String>> =
        g.keys().map(|k| (k.clone(), reach(k))).collect();
    let mut out: Vec<BTreeSet<String>> = Vec::new();
    for (a, ra) in &reaches {
        if !ra.contains(a) {
            continue;
        }
        let scc: BTreeSet<String> = ra
            .iter()
            .filter(|b| reaches[*b].contains(a))
            .cloned()
            .collect();
        if !out.contains(&scc) {
            out.push(scc);
        }
    }
    out
}

/// Every directory module at or below `root`, `root` included.
fn dirs_under(krate: &Crate, root: &[String]) -> Vec<ModPath> {
    krate
        .modules
        .iter()
        .filter(|m| m.starts_with(root))
        .filter(|m| {
            krate
                .modules
                .iter()
                .any(|c| c.len() > m.len() && c.starts_with(m))
        })
        .cloned()
        .collect()
}

fn cycles_in(root: &[String]) -> Vec<String> {
    let srcs = sources();
    let krate = Crate::new(&srcs);
    let graph = edges(&srcs, &krate);
    let mut found = Vec::new();
    for dir in dirs_under(&krate, root) {
        for scc in cycles_under(&dir, &graph) {
            found.push(format!("{}: {:?}", name(&dir), scc));
        }
    }
    found
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".to_owned()
    } else {
        m.join("::")
    }
}

#[test]
fn modules_have_no_import_cycles() {
    let found = cycles_in(&[]);
    assert!(found.is_empty(), "import cycles: {found:#?}");
}

#[test]
fn prints_the_module_graph() {
    let srcs = sources();
    let krate = Crate::new(&srcs);
    let graph = edges(&srcs, &krate);
    for (from, tos) in &graph {
        let tos: Vec<String> = tos.iter().map(|t| name(t)).collect();
        println!("{} -> {}", name(from), tos.join(", "));
    }
    for c in cycles_in(&[]) {
        println!("cycle under {c}");
    }
    // The walk found the modules this test is about.
    assert!(graph.contains_key(&vec!["grpc".to_owned()]));
    assert!(
        graph
            .keys()
            .filter(|m| m.starts_with(&["grpc".to_owned()]))
            .count()
            > 10
    );
}

#[test]
fn finds_a_planted_cycle() {
    // The checker itself: two modules naming each other form a cycle.
    let a = Source {
        file: "a.rs".into(),
        module: vec!["a".into()],
        code: "use crate::b::B;\npub struct A;\n".into(),
    };
    let b = Source {
        file: "b.rs".into(),
        module: vec!["b".into()],
        code: "pub struct B(super::a::A);\n".into(),
    };
    let root = Source {
        file: "lib.rs".into(),
        module: vec![],
        code: "mod a;\nmod b;\npub use a::A;\n".into(),
    };
    let srcs = [root, a, b];
    let krate = Crate::new(&srcs);
    let graph = edges(&srcs, &krate);
    let cycles = cycles_under(&[], &graph);
    assert_eq!(cycles.len(), 1, "{graph:?}");
    assert_eq!(cycles[0], BTreeSet::from(["a".to_owned(), "b".to_owned()]));
    assert!(srcs[0].file.ends_with("lib.rs"));
}

#[test]
fn public_type_names_are_unique() {
    let srcs = sources();
    // name -> the items bearing it: a file for a local definition, the
    // path for a re-exported foreign item (the same item twice is fine).
    let mut items: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let modules: BTreeSet<ModPath> = srcs.iter().map(|s| s.module.clone()).collect();
    for s in &srcs {
        for line in s.code.lines() {
            let t = line.trim_start();
            for kw in [
                "pub struct ",
                "pub enum ",
                "pub trait ",
                "pub type ",
                "pub union ",
            ] {
                if let Some(rest) = t.strip_prefix(kw) {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    items
                        .entry(name)
                        .or_default()
                        .insert(s.file.display().to_string());
                }
            }
        }
        for (vis, path, name) in uses(&s.code) {
            let starts_upper = name.chars().next().is_some_and(char::is_uppercase);
            if vis != Vis::Public || !starts_upper || absolute(&modules, &s.module, &path).is_some()
            {
                continue;
            }
            items.entry(name).or_default().insert(path.join("::"));
        }
    }
    let dups: Vec<_> = items.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(dups.is_empty(), "public types sharing a name: {dups:#?}");
}
