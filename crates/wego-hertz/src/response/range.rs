//! `Range: bytes=…` requests (RFC 9110 §14), resolved against a length.

use std::ops::Range;

/// At most this many ranges are honoured in one request; a request with
/// more gets the whole representation (RFC 9110 §14.2 lets a server ignore
/// a Range header, and many small ranges are a known amplification).
pub const MAX_RANGES: usize = 32;

/// What a `Range` header asks of a representation of a known length.
///
/// ```
/// use wego_hertz::response::ByteRanges;
///
/// assert_eq!(ByteRanges::resolve(b"bytes=0-9", 100), ByteRanges::Ranges(vec![0..10]));
/// assert_eq!(ByteRanges::resolve(b"bytes=-10", 100), ByteRanges::Ranges(vec![90..100]));
/// assert_eq!(ByteRanges::resolve(b"bytes=200-", 100), ByteRanges::Unsatisfiable);
/// assert_eq!(ByteRanges::resolve(b"lines=1-2", 100), ByteRanges::Full);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ByteRanges {
    /// Send the whole representation (200): the header is not a byte range
    /// request we honour (another unit, malformed, or more than
    /// [`MAX_RANGES`] ranges).
    Full,
    /// No range overlaps the representation: 416 with
    /// `Content-Range: bytes */<length>`.
    Unsatisfiable,
    /// Send these ranges (206), in ascending order, with overlapping and
    /// adjacent ranges merged; never empty, each inside `0..length`.
    Ranges(Vec<Range<u64>>),
}

impl ByteRanges {
    /// Resolves a `Range` header value against a representation of `len`
    /// bytes.
    pub fn resolve(header: &[u8], len: u64) -> ByteRanges {
        let Some(set) = strip_unit(header) else {
            return ByteRanges::Full;
        };
        let mut ranges = Vec::new();
        let mut specs = 0usize;
        for spec in set.split(|&b| b == b',') {
            let spec = trim(spec);
            if spec.is_empty() {
                // `1#range-spec` allows empty list elements; they count for
                // nothing.
                continue;
            }
            specs += 1;
            if specs > MAX_RANGES {
                return ByteRanges::Full;
            }
            match parse_spec(spec) {
                None => return ByteRanges::Full,
                Some(spec) => {
                    if let Some(r) = spec.clamp(len) {
                        ranges.push(r);
                    }
                }
            }
        }
        if specs == 0 {
            return ByteRanges::Full;
        }
        if ranges.is_empty() {
            return ByteRanges::Unsatisfiable;
        }
        ByteRanges::Ranges(coalesce(ranges))
    }
}

/// `bytes=` (the unit is case-insensitive), or `None` for another unit or
/// no `=`.
fn strip_unit(header: &[u8]) -> Option<&[u8]> {
    let header = trim(header);
    let eq = header.iter().position(|&b| b == b'=')?;
    let (unit, rest) = header.split_at(eq);
    unit.eq_ignore_ascii_case(b"bytes").then_some(&rest[1..])
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

/// One range-spec, before it meets the representation's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-last`, or `first-` (`last` is `None`).
    From { first: u64, last: Option<u64> },
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

impl Spec {
    /// The byte range this spec selects in `0..len`, or `None` when it
    /// selects nothing.
    fn clamp(self, len: u64) -> Option<Range<u64>> {
        match self {
            Spec::From { first, last } => {
                if first >= len {
                    return None;
                }
                let end = last.map_or(len, |l| l.saturating_add(1).min(len));
                Some(first..end)
            }
            Spec::Suffix(0) => None,
            Spec::Suffix(n) => Some(len.saturating_sub(n)..len),
        }
        .filter(|r| !r.is_empty())
    }
}

/// Parses `first-[last]` or `-suffix`; `None` when malformed (including
/// `last < first`, which RFC 9110 §14.1.1 makes the whole header invalid).
fn parse_spec(spec: &[u8]) -> Option<Spec> {
    let dash = spec.iter().position(|&b| b == b'-')?;
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    if first.is_empty() {
        return Some(Spec::Suffix(parse_u64(last)?));
    }
    let first = parse_u64(first)?;
    let last = if last.is_empty() {
        None
    } else {
        let last = parse_u64(last)?;
        if last < first {
            return None;
        }
        Some(last)
    };
    Some(Spec::From { first, last })
}

/// A non-empty run of ASCII digits that fits in a `u64`.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Sorts ranges and merges those that overlap or touch, so that no byte is
/// sent twice (RFC 9110 §14.6 lets a server coalesce).
fn coalesce(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
// One-range `Vec`s are what the resolver returns; clippy's lint is about
// `vec![a..b]` meant as the elements of the range.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    fn ranges(h: &str, len: u64) -> ByteRanges {
        ByteRanges::resolve(h.as_bytes(), len)
    }

    #[test]
    fn resolves_the_three_spec_forms() {
        assert_eq!(ranges("bytes=0-0", 10), ByteRanges::Ranges(vec![0..1]));
        assert_eq!(ranges("bytes=2-", 10), ByteRanges::Ranges(vec![2..10]));
        assert_eq!(ranges("bytes=-3", 10), ByteRanges::Ranges(vec![7..10]));
        assert_eq!(ranges("bytes=-30", 10), ByteRanges::Ranges(vec![0..10]));
        assert_eq!(ranges("bytes=5-100", 10), ByteRanges::Ranges(vec![5..10]));
        assert_eq!(
            ranges("Bytes = 1-2", 10),
            ByteRanges::Full,
            "no space before ="
        );
        assert_eq!(ranges("BYTES=1-2", 10), ByteRanges::Ranges(vec![1..3]));
    }

    #[test]
    fn merges_overlapping_and_adjacent_ranges_in_order() {
        assert_eq!(
            ranges("bytes=6-7, 0-1,2-3 , 1-2", 10),
            ByteRanges::Ranges(vec![0..4, 6..8])
        );
        assert_eq!(ranges("bytes=0-4,2-", 10), ByteRanges::Ranges(vec![0..10]));
    }

    #[test]
    fn unsatisfiable_when_no_range_overlaps() {
        assert_eq!(ranges("bytes=10-", 10), ByteRanges::Unsatisfiable);
        assert_eq!(ranges("bytes=-0", 10), ByteRanges::Unsatisfiable);
        assert_eq!(ranges("bytes=0-", 0), ByteRanges::Unsatisfiable);
        assert_eq!(ranges("bytes=20-30, 10-", 10), ByteRanges::Unsatisfiable);
        // One satisfiable range is enough.
        assert_eq!(
            ranges("bytes=20-30, 1-1", 10),
            ByteRanges::Ranges(vec![1..2])
        );
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for h in [
            "",
            "bytes",
            "bytes=",
            "bytes=,",
            "bytes=-",
            "bytes=a-b",
            "bytes=1-a",
            "bytes=5-2",
            "bytes=1-2-3",
            "bytes=--1",
            "bytes=+1-2",
            "bytes=0x1-2",
            "bytes=18446744073709551616-",
            "bytes=-18446744073709551616",
            "items=0-1",
            "bytes=1 -2",
        ] {
            assert_eq!(ranges(h, 10), ByteRanges::Full, "{h:?}");
        }
    }

    #[test]
    fn too_many_ranges_get_the_whole_representation() {
        let many = (0..=MAX_RANGES)
            .map(|i| format!("{i}-{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(ranges(&format!("bytes={many}"), 1000), ByteRanges::Full);
        let ok = (0..MAX_RANGES)
            .map(|i| format!("{}-{}", i * 2, i * 2))
            .collect::<Vec<_>>()
            .join(",");
        assert!(
            matches!(ranges(&format!("bytes={ok}"), 1000), ByteRanges::Ranges(r) if r.len() == MAX_RANGES)
        );
    }

    #[test]
    fn the_largest_values_do_not_overflow() {
        assert_eq!(
            ranges("bytes=0-18446744073709551615", u64::MAX),
            ByteRanges::Ranges(vec![0..u64::MAX])
        );
        assert_eq!(
            ranges("bytes=-18446744073709551615", 5),
            ByteRanges::Ranges(vec![0..5])
        );
    }

    proptest::proptest! {
        #[test]
        fn resolved_ranges_are_sorted_disjoint_and_inside(h in "bytes=[0-9,\\- ]{0,40}", len in 0u64..200) {
            if let ByteRanges::Ranges(rs) = ByteRanges::resolve(h.as_bytes(), len) {
                proptest::prop_assert!(!rs.is_empty());
                for r in &rs {
                    proptest::prop_assert!(r.start < r.end && r.end <= len);
                }
                for w in rs.windows(2) {
                    proptest::prop_assert!(w[0].end < w[1].start);
                }
            }
        }
    }
}
