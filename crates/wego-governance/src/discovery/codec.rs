//! The text form of an [`Instance`] stored in a registry (etcd values).
//!
//! One `name=value` per line: `address=<addr>`, `weight=<u32>`, and
//! `tag:<key>=<value>` per tag. `%`, `=`, CR and LF inside tag keys and
//! values are percent-escaped (`%25`, `%3D`, `%0D`, `%0A`). Unknown names are
//! ignored, so newer writers can add fields. A value is at most
//! [`MAX_ENCODED`] bytes with at most [`MAX_TAGS`] tags: registry contents
//! come from other processes and are checked like any peer input.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use wego_netpoll::Address;

use crate::Instance;

/// The largest encoded instance accepted.
pub const MAX_ENCODED: usize = 16 * 1024;
/// The most tags accepted.
pub const MAX_TAGS: usize = 64;

/// Why an encoded instance was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Longer than [`MAX_ENCODED`].
    #[error("encoded instance is too large")]
    TooLarge,
    /// Not UTF-8.
    #[error("encoded instance is not utf-8")]
    NotUtf8,
    /// A line without `=`.
    #[error("line {0} has no '='")]
    MissingEquals(usize),
    /// No `address` line.
    #[error("no address")]
    MissingAddress,
    /// The address does not parse.
    #[error("invalid address")]
    BadAddress,
    /// The weight is not a `u32`.
    #[error("invalid weight")]
    BadWeight,
    /// More than [`MAX_TAGS`] tags.
    #[error("too many tags")]
    TooManyTags,
    /// A bad `%XX` escape.
    #[error("invalid percent escape")]
    BadEscape,
}

fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '=' => out.push_str("%3D"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
}

fn unescape(s: &str) -> Result<String, DecodeError> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or(DecodeError::BadEscape)?;
            let hex = std::str::from_utf8(hex).map_err(|_| DecodeError::BadEscape)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| DecodeError::BadEscape)?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::BadEscape)
}

/// The address's text form. Unix paths are written verbatim after
/// `unix:` (not through `Address`'s `Display`/`FromStr`, which do not
/// round-trip a path starting with `//`: found by fuzzing); paths that are
/// not UTF-8 are written lossily.
fn address_text(address: &Address) -> String {
    match address {
        Address::Unix(path) => format!("unix:{}", path.to_string_lossy()),
        other => other.to_string(),
    }
}

fn parse_address(text: &str) -> Result<Address, DecodeError> {
    match text.strip_prefix("unix:") {
        Some("") => Err(DecodeError::BadAddress),
        Some(path) => Ok(Address::Unix(PathBuf::from(path))),
        None => text.parse().map_err(|_| DecodeError::BadAddress),
    }
}

/// Encodes an instance.
pub fn encode(instance: &Instance) -> String {
    let mut out = String::new();
    out.push_str("address=");
    escape(&mut out, &address_text(&instance.address));
    out.push('\n');
    let _ = writeln!(out, "weight={}", instance.weight);
    for (k, v) in &instance.tags {
        out.push_str("tag:");
        escape(&mut out, k);
        out.push('=');
        escape(&mut out, v);
        out.push('\n');
    }
    out
}

/// Decodes an instance.
///
/// # Errors
///
/// See [`DecodeError`]; never panics on any input.
pub fn decode(bytes: &[u8]) -> Result<Instance, DecodeError> {
    if bytes.len() > MAX_ENCODED {
        return Err(DecodeError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)?;
    let mut address = None;
    let mut weight = crate::DEFAULT_WEIGHT;
    let mut tags = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .ok_or(DecodeError::MissingEquals(n + 1))?;
        match name {
            "address" => address = Some(parse_address(&unescape(value)?)?),
            "weight" => weight = value.parse().map_err(|_| DecodeError::BadWeight)?,
            _ => {
                if let Some(key) = name.strip_prefix("tag:") {
                    if tags.len() >= MAX_TAGS {
                        return Err(DecodeError::TooManyTags);
                    }
                    tags.insert(unescape(key)?, unescape(value)?);
                }
            }
        }
    }
    let address = address.ok_or(DecodeError::MissingAddress)?;
    let mut inst = Instance::new(address).with_weight(weight);
    inst.tags = tags;
    Ok(inst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_a_readable_form() {
        let i = Instance::new("10.0.0.1:80".parse().unwrap())
            .with_weight(7)
            .with_tag("zone", "a=b");
        assert_eq!(
            encode(&i),
            "address=10.0.0.1:80\nweight=7\ntag:zone=a%3Db\n"
        );
        assert_eq!(decode(encode(&i).as_bytes()), Ok(i));
    }

    #[test]
    fn rejects_malformed_values() {
        assert_eq!(decode(b"weight=1\n"), Err(DecodeError::MissingAddress));
        assert_eq!(decode(b"address\n"), Err(DecodeError::MissingEquals(1)));
        assert_eq!(decode(b"address=nope\n"), Err(DecodeError::BadAddress));
        assert_eq!(
            decode(b"address=1.2.3.4:5\nweight=-1"),
            Err(DecodeError::BadWeight)
        );
        assert_eq!(
            decode(b"address=1.2.3.4:5\ntag:a=%4"),
            Err(DecodeError::BadEscape)
        );
        assert_eq!(
            decode(b"address=1.2.3.4:5\ntag:a=%zz"),
            Err(DecodeError::BadEscape)
        );
        assert_eq!(
            decode(b"address=1.2.3.4:5\ntag:a=%ff"),
            Err(DecodeError::BadEscape)
        );
        assert_eq!(decode(&[0xff]), Err(DecodeError::NotUtf8));
        assert_eq!(
            decode(&vec![b'a'; MAX_ENCODED + 1]),
            Err(DecodeError::TooLarge)
        );
        let many: String = (0..=MAX_TAGS).map(|i| format!("tag:{i}=x\n")).collect();
        assert_eq!(
            decode(format!("address=1.2.3.4:5\n{many}").as_bytes()),
            Err(DecodeError::TooManyTags)
        );
        assert!(
            decode(b"address=unix:/tmp/s\nfuture=1\n").is_ok(),
            "unknown names are ignored"
        );
        assert_eq!(decode(b"address=unix:\n"), Err(DecodeError::BadAddress));
    }

    #[test]
    fn unix_paths_round_trip_verbatim() {
        // Fuzzing found `unix://x` parsed as `x` by `Address::from_str`.
        for path in ["//D=ighhg:ht90", "/run/app.sock", "rel\nline", "%41"] {
            let i = Instance::new(Address::Unix(path.into()));
            assert_eq!(decode(encode(&i).as_bytes()), Ok(i), "{path:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(ip in any::<[u8; 4]>(), port: u16, weight: u32, unix in proptest::option::of("\\PC{1,20}"),
                      tags in proptest::collection::btree_map(".{0,12}", ".{0,12}", 0..8)) {
            let address = match unix {
                Some(p) => Address::Unix(p.into()),
                None => Address::Tcp((ip, port).into()),
            };
            let mut i = Instance::new(address).with_weight(weight);
            i.tags = tags;
            prop_assert_eq!(decode(encode(&i).as_bytes()), Ok(i));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }
    }
}
