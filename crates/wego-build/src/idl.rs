//! A small reader for the parts of a .thrift file that code generation needs
//! beyond pilota-build's types: services, their methods, arguments, return
//! types, `throws` and `oneway`, and the file's `rs` namespace.

/// One argument or exception field: id, IDL type text, name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) id: i32,
    pub(crate) ty: String,
    pub(crate) name: String,
}

/// One service method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Method {
    pub(crate) name: String,
    pub(crate) oneway: bool,
    /// IDL return type text (`void` for none).
    pub(crate) ret: String,
    pub(crate) args: Vec<Field>,
    pub(crate) throws: Vec<Field>,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Service {
    pub(crate) name: String,
    pub(crate) methods: Vec<Method>,
}

/// Removes `//`, `#` and `/* */` comments.
pub(crate) fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let b = src.as_bytes();
    let mut i = 0;
    let mut in_str: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = in_str {
            out.push(c as char);
            if c == q {
                in_str = None;
            }
            i += 1;
            continue;
        }
        if c == b'"' || c == b'\'' {
            in_str = Some(c);
            out.push(c as char);
            i += 1;
        } else if c == b'#' || (c == b'/' && b.get(i + 1) == Some(&b'/')) {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else {
            // Keep non-ASCII text intact.
            let ch = src[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The `namespace rs X` of a file, if any.
pub(crate) fn rs_namespace(src: &str) -> Option<String> {
    let src = strip_comments(src);
    let mut words = src.split_whitespace();
    while let Some(w) = words.next() {
        if w == "namespace" && words.next() == Some("rs") {
            return words.next().map(str::to_owned);
        }
    }
    None
}

/// The files named by `include "..."` statements.
pub(crate) fn includes(src: &str) -> Vec<String> {
    let src = strip_comments(src);
    src.lines()
        .filter_map(|l| l.trim().strip_prefix("include"))
        .filter_map(|rest| {
            let rest = rest.trim();
            let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            rest[1..].split(q).next().map(str::to_owned)
        })
        .collect()
}

/// Splits `s` at top-level `sep` characters (outside `<>` and `()`).
fn split_top(s: &str, seps: &[char]) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '<' | '(' | '{' | '[' => depth += 1,
            '>' | ')' | '}' | ']' => depth -= 1,
            _ => {}
        }
        if depth == 0 && seps.contains(&c) {
            if !cur.trim().is_empty() {
                parts.push(cur.trim().to_owned());
            }
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    if !cur.trim().is_empty() {
        parts.push(cur.trim().to_owned());
    }
    parts
}

/// Parses `1: required string name = "x"` (annotations in parentheses ignored).
fn field(s: &str, auto_id: i32) -> Result<Field, String> {
    let (id, rest) = match s.split_once(':') {
        Some((id, rest)) if id.trim().parse::<i32>().is_ok() => {
            (id.trim().parse::<i32>().unwrap_or(auto_id), rest)
        }
        _ => (auto_id, s),
    };
    let rest = rest.split('=').next().unwrap_or(rest).trim();
    let rest = rest
        .strip_prefix("required ")
        .or_else(|| rest.strip_prefix("optional "))
        .unwrap_or(rest)
        .trim();
    // The name is the last word; the type is everything before it.
    let rest = rest.split('(').next().unwrap_or(rest).trim();
    let cut = rest
        .rfind(|c: char| c.is_whitespace() || c == '>')
        .ok_or_else(|| format!("cannot read field `{s}`"))?;
    let (ty, name) = rest.split_at(cut + 1);
    Ok(Field {
        id,
        ty: ty
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace(" <", "<")
            .replace("< ", "<")
            .replace(" >", ">"),
        name: name.trim().to_owned(),
    })
}

fn fields(s: &str) -> Result<Vec<Field>, String> {
    split_top(s, &[',', ';'])
        .iter()
        .enumerate()
        .map(|(i, f)| field(f, -(i as i32) - 1))
        .collect()
}

/// Reads every service of a (comment-free) file.
pub(crate) fn services(src: &str) -> Result<Vec<Service>, String> {
    let src = strip_comments(src);
    let mut out = Vec::new();
    let mut rest = src.as_str();
    while let Some(pos) = find_word(rest, "service") {
        let after = &rest[pos + "service".len()..];
        let open = after.find('{').ok_or("service without a body")?;
        let head = after[..open].trim();
        let name = head
            .split_whitespace()
            .next()
            .ok_or("service without a name")?
            .to_owned();
        let mut depth = 0;
        let mut close = None;
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close.ok_or("unterminated service")?;
        let body = &after[open + 1..close];
        let mut methods = Vec::new();
        for m in split_methods(body)? {
            methods.push(method(&m)?);
        }
        out.push(Service { name, methods });
        rest = &after[close..];
    }
    Ok(out)
}

/// Index just past the parenthesis that closes the one at `open`.
fn close_paren(s: &str, open: usize) -> Result<usize, String> {
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(open + i + 1);
                }
            }
            _ => {}
        }
    }
    Err("unbalanced parentheses".into())
}

/// Splits a service body into method texts: each ends after its argument
/// list and an optional `throws (...)`; separators are optional.
fn split_methods(body: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',' || c == ';');
        if rest.is_empty() {
            return Ok(out);
        }
        let open = rest
            .find('(')
            .ok_or_else(|| format!("cannot read method `{}`", rest.trim()))?;
        let mut end = close_paren(rest, open)?;
        let after = rest[end..].trim_start();
        if let Some(t) = after.strip_prefix("throws") {
            let skipped = rest.len() - t.len();
            let o = rest[skipped..].find('(').ok_or("throws without fields")? + skipped;
            end = close_paren(rest, o)?;
        }
        out.push(rest[..end].to_owned());
        rest = &rest[end..];
    }
}

fn find_word(s: &str, w: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = s[from..].find(w) {
        let at = from + p;
        let before = s[..at].chars().next_back();
        let after = s[at + w.len()..].chars().next();
        if before.is_none_or(|c| !c.is_alphanumeric() && c != '_')
            && after.is_some_and(char::is_whitespace)
        {
            return Some(at);
        }
        from = at + w.len();
    }
    None
}

fn method(s: &str) -> Result<Method, String> {
    let open = s
        .find('(')
        .ok_or_else(|| format!("cannot read method `{s}`"))?;
    let head: Vec<&str> = s[..open].split_whitespace().collect();
    let (oneway, head) = match head.first() {
        Some(&"oneway") => (true, &head[1..]),
        _ => (false, &head[..]),
    };
    let name = (*head.last().ok_or("method without a name")?).to_owned();
    let ret = head[..head.len() - 1].join(" ");
    let mut depth = 0;
    let mut close = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    let args = fields(&s[open + 1..close])?;
    let tail = &s[close + 1..];
    let throws = match tail.find("throws") {
        Some(t) => {
            let t = &tail[t..];
            let o = t.find('(').ok_or("throws without fields")?;
            let c = t.rfind(')').ok_or("throws without fields")?;
            fields(&t[o + 1..c])?
        }
        None => Vec::new(),
    };
    Ok(Method {
        name,
        oneway,
        ret,
        args,
        throws,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_services_with_throws_and_oneway() {
        let src = r#"
            namespace rs demo // the module
            service S extends Base {
              /* doc */ map<string, list<i32>> get(1: i32 a, 2: optional map<string,string> b) throws (1: E e1),
              oneway void note(1:string s);
              void ping() throws (1: E e)
              void pong()
            }"#;
        assert_eq!(rs_namespace(src).as_deref(), Some("demo"));
        assert_eq!(
            includes("include \"a/b.thrift\"\ninclude 'c.thrift'"),
            vec!["a/b.thrift", "c.thrift"]
        );
        let s = services(src).unwrap();
        assert_eq!(s[0].name, "S");
        let m = &s[0].methods;
        assert_eq!(m[0].ret, "map<string, list<i32>>");
        assert_eq!(
            m[0].args[1],
            Field {
                id: 2,
                ty: "map<string,string>".into(),
                name: "b".into()
            }
        );
        assert_eq!(m[0].throws[0].ty, "E");
        assert!(m[1].oneway);
        assert_eq!(m[2].args, vec![]);
        assert_eq!(m[2].throws.len(), 1);
        assert_eq!(m[3].name, "pong");
    }
}
