//! The Rust names wego-build gives IDL names, for tools that write code
//! against what it generates (the `wego` command's scaffolding).

/// Upper-cases the first character: `testString` → `TestString`.
pub fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The name of a Thrift type or service: `user_info` → `UserInfo`.
pub fn camel(s: &str) -> String {
    s.split('_').map(upper_first).collect()
}

/// A Thrift method or argument name in snake case, before keywords are
/// escaped: `testString` → `test_string`, `HTTPCode` → `http_code`.
pub fn snake_case(s: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || next_lower) && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

/// The identifier of a Thrift method or argument in the generated handler
/// trait and client: [`snake_case`], with the keywords a Thrift IDL
/// commonly uses escaped as raw identifiers.
pub fn thrift_ident(s: &str) -> String {
    let out = snake_case(s);
    match out.as_str() {
        "type" | "match" | "loop" | "move" | "ref" | "self" | "fn" | "mod" | "use" | "impl"
        | "trait" | "struct" | "enum" => {
            format!("r#{out}")
        }
        _ => out,
    }
}

/// The snake-case stem of a protobuf service's generated functions
/// (`EchoServer` → `echo_server`, as in `echo_server_router`).
pub fn proto_service_stem(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_generated() {
        assert_eq!(snake_case("testString"), "test_string");
        assert_eq!(snake_case("HTTPCode"), "http_code");
        assert_eq!(snake_case("testI64"), "test_i64");
        assert_eq!(thrift_ident("type"), "r#type");
        assert_eq!(thrift_ident("Echo"), "echo");
        assert_eq!(camel("user_info"), "UserInfo");
        assert_eq!(upper_first("testString"), "TestString");
        assert_eq!(proto_service_stem("EchoServer"), "echo_server");
    }
}
