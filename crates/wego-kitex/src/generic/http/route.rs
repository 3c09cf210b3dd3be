//! The route table compiled from a descriptor's `api.get` / `api.post` /
//! ... annotations, matched with `matchit` as hertz's router is.
//!
//! Patterns use hz's syntax: static segments, `:name` (one whole segment)
//! and a final `*name` catch-all; priority is static, then parameter, then
//! catch-all. Two routes that could match the same path ambiguously
//! (`/items/:id` and `/items/:name`), or the same method and pattern on two
//! Thrift methods, are an [`HttpRouteError`] when the table is built, never
//! a surprise while serving. The path is matched as sent (not
//! percent-decoded), so `%2F` never splits a segment.

use std::collections::HashMap;

use http::Method;

use super::super::descriptor::{Descriptor, StructKind, Type};

/// Why a descriptor's HTTP routes cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpRouteError {
    /// A route pattern is malformed.
    #[error("method {method}: route {route:?} is malformed: {reason}")]
    Invalid {
        /// The Thrift method.
        method: String,
        /// The pattern.
        route: String,
        /// What is wrong.
        reason: String,
    },
    /// Two routes overlap. Each is named as `GET /items/:id (method
    /// GetItem)`.
    #[error("{route} conflicts with {other}")]
    Conflict {
        /// The route added last.
        route: String,
        /// The route it conflicts with.
        other: String,
    },
    /// A routed method does not take exactly one struct argument (the
    /// request the HTTP request fills).
    #[error("method {method}: an http-routed method takes exactly one struct argument")]
    Shape {
        /// The Thrift method.
        method: String,
    },
}

/// What a request's method and path resolve to.
#[derive(Debug)]
pub(crate) enum RouteMatch {
    /// A route: the Thrift method's index and the raw (still
    /// percent-encoded) path parameters.
    Found {
        method: usize,
        params: Vec<(String, String)>,
    },
    /// No route has this path.
    NotFound,
    /// Routes have this path, for other HTTP methods.
    MethodNotAllowed { allow: Vec<Method> },
}

#[derive(Debug, Clone)]
struct PathRoutes {
    /// The pattern as written in the IDL.
    pattern: String,
    /// HTTP method → (Thrift method index).
    methods: Vec<(Method, usize)>,
}

/// The compiled routes of one descriptor.
#[derive(Clone)]
pub(crate) struct RouteTable {
    tree: matchit::Router<usize>,
    paths: Vec<PathRoutes>,
}

impl std::fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTable")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl RouteTable {
    /// Compiles every route of `d`.
    pub(crate) fn build(d: &Descriptor) -> Result<Self, HttpRouteError> {
        let mut tree = matchit::Router::new();
        let mut paths: Vec<PathRoutes> = Vec::new();
        // matchit pattern → index into `paths`.
        let mut by_tree: HashMap<String, usize> = HashMap::new();
        for (mi, m) in d.methods().iter().enumerate() {
            if m.http_routes.is_empty() {
                continue;
            }
            let args = d.struct_desc(m.args);
            let one_struct = matches!(args.fields.as_slice(),
                [f] if matches!(f.ty, Type::Struct(s) if d.struct_desc(s).kind != StructKind::Union));
            if !one_struct {
                return Err(HttpRouteError::Shape {
                    method: m.name.clone(),
                });
            }
            for r in &m.http_routes {
                let invalid = |reason: &str| HttpRouteError::Invalid {
                    method: m.name.clone(),
                    route: r.path.clone(),
                    reason: reason.to_owned(),
                };
                let verb = Method::from_bytes(r.method.as_bytes())
                    .map_err(|_| invalid("not an http method"))?;
                let pattern = to_tree(&r.path).map_err(|e| invalid(&e))?;
                if let Some(&pi) = by_tree.get(&pattern) {
                    let p = &mut paths[pi];
                    if let Some(&(_, other)) = p.methods.iter().find(|(v, _)| *v == verb) {
                        return Err(HttpRouteError::Conflict {
                            route: name_route(&verb, &r.path, &m.name),
                            other: name_route(&verb, &p.pattern, &d.methods()[other].name),
                        });
                    }
                    p.methods.push((verb, mi));
                    continue;
                }
                let pi = paths.len();
                if let Err(e) = tree.insert(pattern.clone(), pi) {
                    let other = match &e {
                        matchit::InsertError::Conflict { with } => by_tree
                            .get(with)
                            .map(|&i| {
                                let o = &paths[i];
                                let (v, om) = &o.methods[0];
                                name_route(v, &o.pattern, &d.methods()[*om].name)
                            })
                            .unwrap_or_else(|| with.clone()),
                        other => return Err(invalid(&other.to_string())),
                    };
                    return Err(HttpRouteError::Conflict {
                        route: name_route(&verb, &r.path, &m.name),
                        other,
                    });
                }
                by_tree.insert(pattern, pi);
                paths.push(PathRoutes {
                    pattern: r.path.clone(),
                    methods: vec![(verb, mi)],
                });
            }
        }
        Ok(Self { tree, paths })
    }

    /// Resolves `method` and the raw `path` of a request.
    pub(crate) fn find(&self, method: &Method, path: &str) -> RouteMatch {
        let Ok(found) = self.tree.at(path) else {
            return RouteMatch::NotFound;
        };
        let Some(p) = self.paths.get(*found.value) else {
            return RouteMatch::NotFound;
        };
        match p.methods.iter().find(|(v, _)| v == method) {
            Some(&(_, mi)) => RouteMatch::Found {
                method: mi,
                params: found
                    .params
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            },
            None => RouteMatch::MethodNotAllowed {
                allow: p.methods.iter().map(|(v, _)| v.clone()).collect(),
            },
        }
    }

    /// Every route: HTTP method, pattern, Thrift method index.
    pub(crate) fn routes(&self) -> impl Iterator<Item = (&Method, &str, usize)> {
        self.paths.iter().flat_map(|p| {
            p.methods
                .iter()
                .map(move |(v, mi)| (v, p.pattern.as_str(), *mi))
        })
    }
}

fn name_route(verb: &Method, pattern: &str, method: &str) -> String {
    format!("{verb} {pattern} (method {method})")
}

/// Checks an hz pattern and translates it into matchit's syntax
/// (`/items/:id` → `/items/{id}`, `/files/*rest` → `/files/{*rest}`).
fn to_tree(user: &str) -> Result<String, String> {
    let Some(rest) = user.strip_prefix('/') else {
        return Err("a route must start with `/`".to_owned());
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let mut tree = String::with_capacity(user.len() + 8);
    let mut names: Vec<&str> = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        tree.push('/');
        let param = seg
            .strip_prefix(':')
            .map(|n| (n, false))
            .or_else(|| seg.strip_prefix('*').map(|n| (n, true)));
        if let Some((name, catch_all)) = param {
            if name.is_empty() {
                return Err("a parameter needs a name".to_owned());
            }
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!(
                    "parameter name `{name}` may only hold letters, digits and `_`"
                ));
            }
            if names.contains(&name) {
                return Err(format!("parameter `{name}` appears twice"));
            }
            names.push(name);
            if catch_all && i + 1 != segments.len() {
                return Err("a `*` catch-all must be the last segment".to_owned());
            }
            tree.push_str(if catch_all { "{*" } else { "{" });
            tree.push_str(name);
            tree.push('}');
        } else {
            for c in seg.chars() {
                match c {
                    '{' => tree.push_str("{{"),
                    '}' => tree.push_str("}}"),
                    _ => tree.push(c),
                }
            }
        }
    }
    Ok(tree)
}
