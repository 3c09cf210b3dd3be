//! The `email()` and `phone()` checks of `api.vd` rules, as generated
//! projects run them: `wego` copies this file into `src/generated/vd.rs`
//! (and rewrites it there on `wego update`).
//!
//! `email(s)`: one `@`; before it one or more ASCII letters, digits, `_`,
//! `-`, `.` or CJK ideographs (U+4E00..=U+9FA5); after it ASCII letters,
//! digits, `_`, `-` and `.`, ending in a `.` and a 2 to 8 letter top-level
//! domain with at least one character before that dot: Hertz's validator
//! rule.
//!
//! `phone(s, region)`: spaces, `-`, `.`, `(`, `)` and `/` are ignored; any
//! other character but a leading `+` fails. `+86…` and `+1…` follow the
//! rules of China and North America below; another `+` number passes with 8
//! to 15 digits not starting with 0 (E.164's shape). A number without `+`
//! follows its region's rule:
//! - `CN` (the default): a mobile number `1[3-9]` + 9 digits, or a landline
//!   `0` + area code + subscriber (`10`/`2x` + 8 digits, `[3-9]xx` + 7 or 8).
//! - `US`, `CA`: an optional `1`, then `[2-9]xx` `[2-9]xx` `xxxx`.

/// Longest input either check looks at, in bytes.
const MAX_INPUT: usize = 320;

/// Whether `s` is an email address by Hertz's validator rule.
pub fn email(s: &str) -> bool {
    if s.len() > MAX_INPUT {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '\u{4e00}'..='\u{9fa5}')
        });
    let domain_chars = |t: &str| {
        t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    let Some((host, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    local_ok
        && !host.is_empty()
        && domain_chars(host)
        && (2..=8).contains(&tld.len())
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

/// Whether `s` is a telephone number of `region` (`CN`, `US` or `CA`) by
/// the rules in this module's documentation.
pub fn phone(s: &str, region: &str) -> bool {
    if s.len() > MAX_INPUT {
        return false;
    }
    let trimmed = s.trim();
    let (international, rest) = match trimmed.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, trimmed),
    };
    let mut digits = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return false,
        }
    }
    if international {
        if let Some(national) = digits.strip_prefix("86") {
            return cn_significant(national);
        }
        if let Some(national) = digits.strip_prefix('1') {
            return nanp(national);
        }
        return (8..=15).contains(&digits.len()) && !digits.starts_with('0');
    }
    match region {
        "US" | "CA" => nanp(digits.strip_prefix('1').unwrap_or(&digits)),
        _ => match digits.strip_prefix('0') {
            Some(significant) => cn_landline(significant),
            None => cn_mobile(&digits),
        },
    }
}

fn cn_mobile(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

/// Area code and subscriber number, without the trunk `0`.
fn cn_landline(d: &str) -> bool {
    let b = d.as_bytes();
    match b.first() {
        Some(b'1') => d.starts_with("10") && b.len() == 10,
        Some(b'2') => b.len() == 10,
        Some(b'3'..=b'9') => (10..=11).contains(&b.len()),
        _ => false,
    }
}

/// A Chinese number after `+86`: mobile or landline without the trunk `0`.
fn cn_significant(d: &str) -> bool {
    cn_mobile(d) || cn_landline(d)
}

/// A North American number without the country code `1`.
fn nanp(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 10 && (b'2'..=b'9').contains(&b[0]) && (b'2'..=b'9').contains(&b[3])
}
