//! W3C Trace Context: the `traceparent` header and its propagation.
//!
//! `traceparent: 00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`
//! (W3C Trace Context §3.2). The same key (`traceparent`, with
//! `tracestate`) is used in HTTP headers, gRPC metadata and TTHeader
//! metainfo, so one trace spans HTTP → Thrift → gRPC hops.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// The header / metadata key of the trace parent.
pub const TRACEPARENT: &str = "traceparent";
/// The header / metadata key of the vendor trace state.
pub const TRACESTATE: &str = "tracestate";

/// Why a `traceparent` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceParentError {
    /// Not `version-traceid-parentid-flags` with the right lengths.
    #[error("malformed traceparent")]
    Malformed,
    /// A field is not lowercase hex.
    #[error("traceparent field is not lowercase hex")]
    NotHex,
    /// Version `ff` is forbidden.
    #[error("traceparent version ff is invalid")]
    InvalidVersion,
    /// The trace id or parent id is all zeros.
    #[error("traceparent id is all zeros")]
    ZeroId,
}

/// A span's position in a distributed trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The trace id (16 bytes, never all zeros).
    pub trace_id: [u8; 16],
    /// The parent span id (8 bytes, never all zeros).
    pub span_id: [u8; 8],
    /// Trace flags; bit 0 is "sampled".
    pub flags: u8,
}

fn hex_decode<const N: usize>(s: &[u8]) -> Result<[u8; N], TraceParentError> {
    if s.len() != N * 2 {
        return Err(TraceParentError::Malformed);
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(TraceParentError::NotHex),
    };
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = nib(s[2 * i])? << 4 | nib(s[2 * i + 1])?;
    }
    Ok(out)
}

fn hex(out: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(out, "{b:02x}"))
}

fn hex_string(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

fn random_nonzero<const N: usize>() -> [u8; N] {
    loop {
        let mut out = [0u8; N];
        out.iter_mut().for_each(|b| *b = fastrand::u8(..));
        if out.iter().any(|&b| b != 0) {
            return out;
        }
    }
}

/// Decides whether a new trace is sampled: the sampled flag of every
/// [`TraceContext::new_root`] made under the `tracing` subscriber that
/// exposes it.
///
/// A subscriber layer that samples traces (wego-otel's exporter layer)
/// exposes its decision as a `RootSampler` through `tracing`'s
/// `downcast_ref`, so the flag sent to callees in `traceparent` is the
/// decision the exporter takes for the trace's own spans. Without such a
/// subscriber every new trace is sampled.
pub struct RootSampler {
    sample: Box<SampleFn>,
}

/// A sampling decision by trace id.
type SampleFn = dyn Fn(&[u8; 16]) -> bool + Send + Sync;

impl RootSampler {
    /// A sampler deciding by trace id.
    pub fn new(sample: impl Fn(&[u8; 16]) -> bool + Send + Sync + 'static) -> Self {
        RootSampler {
            sample: Box::new(sample),
        }
    }

    /// Whether the trace `trace_id` is sampled.
    pub fn sample(&self, trace_id: &[u8; 16]) -> bool {
        (self.sample)(trace_id)
    }
}

impl fmt::Debug for RootSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootSampler").finish_non_exhaustive()
    }
}

/// The current subscriber's decision for a new trace (sampled when it has
/// no [`RootSampler`]).
fn root_sampled(trace_id: &[u8; 16]) -> bool {
    tracing::dispatcher::get_default(|d| {
        d.downcast_ref::<RootSampler>()
            .is_none_or(|s| s.sample(trace_id))
    })
}

impl TraceContext {
    /// Starts a new trace. It is sampled unless the current `tracing`
    /// subscriber exposes a [`RootSampler`] that says otherwise.
    pub fn new_root() -> Self {
        let trace_id = random_nonzero();
        TraceContext {
            trace_id,
            span_id: random_nonzero(),
            flags: u8::from(root_sampled(&trace_id)),
        }
    }

    /// A child span in the same trace (new span id, same flags).
    pub fn child(&self) -> Self {
        TraceContext {
            span_id: random_nonzero(),
            ..*self
        }
    }

    /// The trace id in lowercase hex (32 characters).
    pub fn trace_id_hex(&self) -> String {
        hex_string(&self.trace_id)
    }

    /// The span id in lowercase hex (16 characters).
    pub fn span_id_hex(&self) -> String {
        hex_string(&self.span_id)
    }

    /// The trace flags in lowercase hex (2 characters).
    pub fn flags_hex(&self) -> String {
        hex_string(&[self.flags])
    }

    /// True when the sampled flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// Parses a `traceparent` value.
    ///
    /// # Errors
    ///
    /// Fails on anything but a well-formed value with non-zero ids. Future
    /// versions (`01`–`fe`) are accepted when their first four fields parse,
    /// as §4.3 asks.
    pub fn parse(value: &str) -> Result<Self, TraceParentError> {
        let v = value.trim().as_bytes();
        if v.len() < 55 {
            return Err(TraceParentError::Malformed);
        }
        let version: [u8; 1] = hex_decode(&v[0..2])?;
        if version[0] == 0xff {
            return Err(TraceParentError::InvalidVersion);
        }
        if v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
            return Err(TraceParentError::Malformed);
        }
        if (version[0] == 0 && v.len() != 55) || (v.len() > 55 && v[55] != b'-') {
            return Err(TraceParentError::Malformed);
        }
        let trace_id: [u8; 16] = hex_decode(&v[3..35])?;
        let span_id: [u8; 8] = hex_decode(&v[36..52])?;
        let [flags] = hex_decode::<1>(&v[53..55])?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return Err(TraceParentError::ZeroId);
        }
        Ok(TraceContext {
            trace_id,
            span_id,
            flags,
        })
    }

    /// Writes `traceparent` (and `tracestate`, if given) into a carrier.
    pub fn inject(&self, carrier: &mut dyn Carrier, tracestate: Option<&str>) {
        carrier.set(TRACEPARENT, self.to_string());
        if let Some(ts) = tracestate {
            carrier.set(TRACESTATE, ts.to_owned());
        }
    }

    /// Reads the context from a carrier; `None` when absent or malformed
    /// (a malformed parent starts a new trace, as §4.3 says).
    pub fn extract(carrier: &dyn Carrier) -> Option<Self> {
        carrier.get(TRACEPARENT).and_then(|v| Self::parse(v).ok())
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("00-")?;
        hex(f, &self.trace_id)?;
        f.write_str("-")?;
        hex(f, &self.span_id)?;
        write!(f, "-{:02x}", self.flags)
    }
}

/// String key-value metadata a context travels in: HTTP headers, gRPC
/// metadata, TTHeader metainfo. Keys are lowercase ASCII.
pub trait Carrier {
    /// The value of `key`, if present.
    fn get(&self, key: &str) -> Option<&str>;
    /// Sets `key` to `value`, replacing any previous value.
    fn set(&mut self, key: &str, value: String);
}

impl Carrier for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        HashMap::get(self, key).map(String::as_str)
    }
    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

impl Carrier for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        BTreeMap::get(self, key).map(String::as_str)
    }
    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SPEC: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_the_spec_example() {
        let c = TraceContext::parse(SPEC).unwrap();
        assert_eq!(c.trace_id[0], 0x4b);
        assert_eq!(c.span_id[7], 0xb7);
        assert!(c.is_sampled());
        assert_eq!(c.to_string(), SPEC);
        assert_eq!(c.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.span_id_hex(), "00f067aa0ba902b7");
        assert_eq!(c.flags_hex(), "01");
    }

    #[test]
    fn rejects_malformed_values() {
        use TraceParentError::*;
        let cases = [
            ("", Malformed),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                Malformed,
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                InvalidVersion,
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                NotHex,
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                ZeroId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                ZeroId,
            ),
            (
                "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Malformed,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                Malformed,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
                NotHex,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-é1",
                Malformed,
            ),
        ];
        for (v, want) in cases {
            assert_eq!(TraceContext::parse(v), Err(want), "{v}");
        }
        // A future version may append fields after a dash.
        let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what";
        assert!(TraceContext::parse(future).is_ok());
    }

    #[test]
    fn inject_and_extract_through_a_carrier() {
        let c = TraceContext::new_root();
        let mut headers: HashMap<String, String> = HashMap::new();
        c.inject(&mut headers, Some("vendor=1"));
        assert_eq!(TraceContext::extract(&headers), Some(c));
        assert_eq!(Carrier::get(&headers, TRACESTATE), Some("vendor=1"));
        let child = c.child();
        assert_eq!(child.trace_id, c.trace_id);
        assert_ne!(child.span_id, c.span_id);
        let empty: BTreeMap<String, String> = BTreeMap::new();
        assert_eq!(TraceContext::extract(&empty), None);
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(t in any::<[u8; 16]>(), s in any::<[u8; 8]>(), flags: u8) {
            prop_assume!(t != [0; 16] && s != [0; 8]);
            let c = TraceContext { trace_id: t, span_id: s, flags };
            prop_assert_eq!(TraceContext::parse(&c.to_string()), Ok(c));
        }

        #[test]
        fn parse_never_panics(v in ".{0,80}") {
            let _ = TraceContext::parse(&v);
        }
    }
}
