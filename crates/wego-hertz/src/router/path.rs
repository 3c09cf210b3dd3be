//! Route syntax: Hertz/httprouter style (`/users/:id`, `/static/*path`)
//! translated to `matchit`'s (`/users/{id}`, `/static/{*path}`).

use super::RouteError;

/// A route pattern checked and translated for `matchit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// The pattern as the user wrote it.
    pub(crate) user: String,
    /// The same pattern in `matchit` syntax.
    pub(crate) tree: String,
    /// The catch-all parameter name, when the pattern ends in `*name`.
    pub(crate) catch_all: Option<String>,
}

/// Checks and translates a route pattern.
///
/// Rules: the pattern starts with `/`; `:name` and `*name` take a whole
/// segment; names are ASCII letters, digits and `_`; `*name` is the last
/// segment. `{` and `}` are literal characters.
pub(crate) fn parse(user: &str) -> Result<Pattern, RouteError> {
    let invalid = |reason: &str| RouteError::Invalid {
        route: user.to_owned(),
        reason: reason.to_owned(),
    };
    if !user.starts_with('/') {
        return Err(invalid("a route must start with `/`"));
    }
    let mut tree = String::with_capacity(user.len() + 8);
    let mut catch_all = None;
    let segments: Vec<&str> = user[1..].split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        tree.push('/');
        if let Some(name) = seg.strip_prefix(':') {
            check_name(name).map_err(|r| invalid(&r))?;
            tree.push('{');
            tree.push_str(name);
            tree.push('}');
        } else if let Some(name) = seg.strip_prefix('*') {
            check_name(name).map_err(|r| invalid(&r))?;
            if i + 1 != segments.len() {
                return Err(invalid("a `*` catch-all must be the last segment"));
            }
            tree.push_str("{*");
            tree.push_str(name);
            tree.push('}');
            catch_all = Some(name.to_owned());
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
    Ok(Pattern {
        user: user.to_owned(),
        tree,
        catch_all,
    })
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a parameter needs a name".to_owned());
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "parameter name `{name}` may only hold letters, digits and `_`"
        ));
    }
    Ok(())
}

/// Turns a `matchit` pattern back into user syntax (for error messages).
pub(crate) fn to_user(tree: &str) -> String {
    let mut out = String::with_capacity(tree.len());
    let mut chars = tree.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                if chars.peek() == Some(&'*') {
                    chars.next();
                    out.push('*');
                } else {
                    out.push(':');
                }
            }
            '}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_params_and_catch_all() {
        let p = parse("/users/:id/files/*path").unwrap();
        assert_eq!(p.tree, "/users/{id}/files/{*path}");
        assert_eq!(p.catch_all.as_deref(), Some("path"));
        assert_eq!(parse("/").unwrap().tree, "/");
        assert_eq!(parse("/a{b}").unwrap().tree, "/a{{b}}");
        assert_eq!(parse("/a/b:c").unwrap().tree, "/a/b:c");
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in ["", "users", "/a/:", "/a/*", "/a/*p/b", "/a/:x-y"] {
            assert!(
                matches!(parse(bad), Err(RouteError::Invalid { .. })),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn round_trips_to_user_syntax() {
        for p in ["/users/:id/files/*path", "/a{b}", "/", "/x/:y"] {
            assert_eq!(to_user(&parse(p).unwrap().tree), p);
        }
    }
}
