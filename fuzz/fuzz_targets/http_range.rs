//! Fuzzes wego-hertz's `Range` header resolution: for any header and
//! length it returns the whole representation, "unsatisfiable", or sorted,
//! disjoint, non-empty ranges inside the representation, at most
//! `MAX_RANGES` of them, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wego_hertz::response::{ByteRanges, MAX_RANGES};

fuzz_target!(|data: &[u8]| {
    let Some((len_bytes, header)) = data.split_first_chunk::<8>() else {
        return;
    };
    // Small lengths most of the time, so that ranges often overlap the end.
    let raw = u64::from_le_bytes(*len_bytes);
    let len = if raw & 1 == 0 {
        raw >> 1
    } else {
        (raw >> 1) % 4096
    };
    if let ByteRanges::Ranges(ranges) = ByteRanges::resolve(header, len) {
        assert!(!ranges.is_empty() && ranges.len() <= MAX_RANGES);
        for r in &ranges {
            assert!(r.start < r.end && r.end <= len);
        }
        for w in ranges.windows(2) {
            assert!(w[0].end < w[1].start);
        }
    }
});
