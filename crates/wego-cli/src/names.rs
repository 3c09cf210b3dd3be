//! Rust names for IDL names, matching what wego-build, pilota and prost
//! generate.

/// Rust keywords that cannot be plain identifiers.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "try",
    "type", "unsafe", "use", "where", "while", "yield", "abstract", "become", "box", "do", "final",
    "macro", "override", "priv", "typeof", "unsized", "virtual",
];

/// `testString` → `test_string`, `Echo` → `echo`, `HTTPCode` → `http_code`
/// (wego-build's rule for Thrift methods and arguments).
pub(crate) use wego_build::names::snake_case as snake_raw;

/// The identifier wego-build gives a Thrift method in the handler trait
/// and client it generates.
pub(crate) use wego_build::names::thrift_ident;

/// The stem of a protobuf service's generated functions
/// (`EchoServer` → `echo_server`, as in `echo_server_router`).
pub(crate) use wego_build::names::proto_service_stem;

/// [`snake_raw`] as an identifier: keywords become raw identifiers.
pub(crate) fn snake(s: &str) -> String {
    ident(snake_raw(s))
}

/// `s` as an identifier, `r#` added for keywords.
pub(crate) fn ident(s: String) -> String {
    if KEYWORDS.contains(&s.as_str()) && !matches!(s.as_str(), "self" | "Self" | "crate" | "super")
    {
        format!("r#{s}")
    } else if matches!(s.as_str(), "self" | "Self" | "crate" | "super") {
        format!("{s}_")
    } else {
        s
    }
}

/// `user_info` → `UserInfo`, `Echo` → `Echo` (wego-build's rule for types
/// and services); [`upper_first`] upper-cases the first character.
pub(crate) use wego_build::names::{camel, upper_first};

/// Whether `s` is a plain Rust identifier (ASCII letters, digits, `_`,
/// not starting with a digit).
pub(crate) fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// A Cargo package name from `--name`: letters, digits, `-` and `_`.
pub(crate) fn is_package_name(s: &str) -> bool {
    s.chars().next().is_some_and(|f| f.is_ascii_alphabetic())
        && s.chars()
            .all(|x| x.is_ascii_alphanumeric() || x == '-' || x == '_')
        && s.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_generators() {
        assert_eq!(snake("testString"), "test_string");
        assert_eq!(snake("Echo"), "echo");
        assert_eq!(snake("testI64"), "test_i64");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("self"), "self_");
        assert_eq!(camel("user_info"), "UserInfo");
        assert!(is_ident("echo_1"));
        assert!(!is_ident("1echo"));
        assert!(!is_ident("echo-x"));
        assert!(is_package_name("my-svc"));
        assert!(!is_package_name("-x"));
    }
}
