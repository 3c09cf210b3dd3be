//! Parses `traceparent` values from peers; a parsed value formats back to
//! a value that parses to the same context.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wego_governance::trace::TraceContext;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(ctx) = TraceContext::parse(s) {
            assert_eq!(TraceContext::parse(&ctx.to_string()), Ok(ctx));
        }
    }
});
