//! gRPC status: the 17 codes, the `grpc-status` / `grpc-message` trailers and
//! the HTTP-to-gRPC mapping for peers that are not gRPC servers.
//!
//! `grpc-message` is percent-encoded on the wire (gRPC over HTTP/2 spec,
//! "Responses"): every byte outside `0x20..=0x7E`, and `%` itself, becomes
//! `%XX`. Decoding is lenient as the spec asks: a malformed escape is kept
//! verbatim instead of failing the call.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode, percent_encode};

use super::metadata::Metadata;

/// The status codes of gRPC (`google.rpc.Code`), numbered as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// Not an error.
    Ok = 0,
    /// The operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// An unknown error.
    Unknown = 2,
    /// The client gave an invalid argument.
    InvalidArgument = 3,
    /// The deadline passed before the operation completed.
    DeadlineExceeded = 4,
    /// A requested entity was not found.
    NotFound = 5,
    /// The entity the client tried to create already exists.
    AlreadyExists = 6,
    /// The caller may not execute the operation.
    PermissionDenied = 7,
    /// A resource (quota, message size, memory) is exhausted.
    ResourceExhausted = 8,
    /// The system is not in a state the operation needs.
    FailedPrecondition = 9,
    /// The operation was aborted, typically by a concurrency conflict.
    Aborted = 10,
    /// The operation went past the valid range.
    OutOfRange = 11,
    /// The operation is not implemented or supported.
    Unimplemented = 12,
    /// An internal invariant broke.
    Internal = 13,
    /// The service is currently unavailable; retrying may help.
    Unavailable = 14,
    /// Unrecoverable data loss or corruption.
    DataLoss = 15,
    /// The request lacks valid authentication credentials.
    Unauthenticated = 16,
}

impl Code {
    /// Returns the code for a wire number; numbers past 16 are [`Code::Unknown`],
    /// as the spec asks of receivers.
    pub fn from_i32(n: i32) -> Code {
        match n {
            0 => Code::Ok,
            1 => Code::Cancelled,
            2 => Code::Unknown,
            3 => Code::InvalidArgument,
            4 => Code::DeadlineExceeded,
            5 => Code::NotFound,
            6 => Code::AlreadyExists,
            7 => Code::PermissionDenied,
            8 => Code::ResourceExhausted,
            9 => Code::FailedPrecondition,
            10 => Code::Aborted,
            11 => Code::OutOfRange,
            12 => Code::Unimplemented,
            13 => Code::Internal,
            14 => Code::Unavailable,
            15 => Code::DataLoss,
            16 => Code::Unauthenticated,
            _ => Code::Unknown,
        }
    }

    /// Parses the ASCII decimal value of a `grpc-status` header.
    pub fn from_bytes(b: &[u8]) -> Code {
        match std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
        {
            Some(n) => Code::from_i32(n),
            None => Code::Unknown,
        }
    }

    /// The wire number of this code.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The canonical upper-case name, e.g. `DEADLINE_EXCEEDED`.
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// Maps the HTTP status of a response that carried no `grpc-status`,
    /// per the gRPC spec's "HTTP to gRPC Status Code Mapping" table.
    pub fn from_http(status: StatusCode) -> Code {
        match status.as_u16() {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502..=504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }
}

impl Code {
    /// Whether a call failing with this code may be retried on another
    /// connection without side effects having happened (only
    /// `UNAVAILABLE`, per gRPC's retry design).
    pub fn is_retryable(self) -> bool {
        self == Code::Unavailable
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes escaped in `grpc-message`: everything outside printable ASCII, and `%`.
const MESSAGE_ESCAPES: &AsciiSet = &CONTROLS.add(b'%');

/// Percent-encodes a status message for the `grpc-message` trailer.
pub fn encode_message(msg: &str) -> String {
    // CONTROLS covers 0x00..=0x1F and 0x7F; percent_encode always escapes
    // non-ASCII bytes, so only printable ASCII except '%' stays verbatim.
    percent_encode(msg.as_bytes(), MESSAGE_ESCAPES).to_string()
}

/// Decodes a `grpc-message` value. Malformed escapes are kept as they are and
/// invalid UTF-8 becomes U+FFFD; a peer's message never fails a call.
pub fn decode_message(raw: &[u8]) -> String {
    String::from_utf8_lossy(&percent_decode(raw).collect::<Vec<u8>>()).into_owned()
}

/// The outcome of a gRPC call: a code, a message and optional details and
/// trailing metadata. Handlers return it as their error; clients get it back
/// from the peer.
///
/// One pointer wide, so `Result<T, Status>` stays small.
#[derive(Clone)]
pub struct Status {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    code: Code,
    message: String,
    details: Bytes,
    metadata: Metadata,
    /// The call had received response headers or consumed a request
    /// message (gRPC's "committed" RPC): never retried.
    committed: bool,
}

impl Status {
    /// Creates a status with a code and a message.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            inner: Box::new(Inner {
                code,
                message: message.into(),
                details: Bytes::new(),
                metadata: Metadata::new(),
                committed: false,
            }),
        }
    }

    /// A successful status.
    pub fn ok() -> Status {
        Status::new(Code::Ok, "")
    }

    /// [`Code::Cancelled`] with a message.
    pub fn cancelled(message: impl Into<String>) -> Status {
        Status::new(Code::Cancelled, message)
    }

    /// [`Code::Unknown`] with a message.
    pub fn unknown(message: impl Into<String>) -> Status {
        Status::new(Code::Unknown, message)
    }

    /// [`Code::InvalidArgument`] with a message.
    pub fn invalid_argument(message: impl Into<String>) -> Status {
        Status::new(Code::InvalidArgument, message)
    }

    /// [`Code::DeadlineExceeded`] with a message.
    pub fn deadline_exceeded(message: impl Into<String>) -> Status {
        Status::new(Code::DeadlineExceeded, message)
    }

    /// [`Code::NotFound`] with a message.
    pub fn not_found(message: impl Into<String>) -> Status {
        Status::new(Code::NotFound, message)
    }

    /// [`Code::ResourceExhausted`] with a message.
    pub fn resource_exhausted(message: impl Into<String>) -> Status {
        Status::new(Code::ResourceExhausted, message)
    }

    /// [`Code::Unimplemented`] with a message.
    pub fn unimplemented(message: impl Into<String>) -> Status {
        Status::new(Code::Unimplemented, message)
    }

    /// [`Code::Internal`] with a message.
    pub fn internal(message: impl Into<String>) -> Status {
        Status::new(Code::Internal, message)
    }

    /// [`Code::Unavailable`] with a message.
    pub fn unavailable(message: impl Into<String>) -> Status {
        Status::new(Code::Unavailable, message)
    }

    /// Marks the status of a committed call (response headers received or
    /// a request message consumed), which retries must not repeat.
    #[cfg_attr(not(feature = "governance"), allow(dead_code))] // used by the governance glue
    pub(crate) fn into_committed(mut self) -> Status {
        self.inner.committed = true;
        self
    }

    /// Whether the call this status ended was committed: it had received
    /// response headers or consumed a request message, so it is never
    /// retried whatever its code.
    pub fn is_committed(&self) -> bool {
        self.inner.committed
    }

    /// Sets binary details (`grpc-status-details-bin`).
    pub fn with_details(mut self, details: Bytes) -> Status {
        self.inner.details = details;
        self
    }

    /// Sets the trailing metadata sent with this status.
    pub fn with_metadata(mut self, metadata: Metadata) -> Status {
        self.inner.metadata = metadata;
        self
    }

    /// The status code.
    pub fn code(&self) -> Code {
        self.inner.code
    }

    /// The (decoded) status message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The binary details, empty when none.
    pub fn details(&self) -> &Bytes {
        &self.inner.details
    }

    /// The trailing metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.inner.metadata
    }

    /// Mutable access to the trailing metadata.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.inner.metadata
    }

    /// Whether the code is [`Code::Ok`].
    pub fn is_ok(&self) -> bool {
        self.inner.code == Code::Ok
    }

    /// Reads a status from trailers (or trailers-only headers). Returns `None`
    /// when there is no `grpc-status`.
    pub fn from_header_map(map: &HeaderMap) -> Option<Status> {
        let code = Code::from_bytes(map.get("grpc-status")?.as_bytes());
        let message = map
            .get("grpc-message")
            .map(|v| decode_message(v.as_bytes()))
            .unwrap_or_default();
        let details = map
            .get("grpc-status-details-bin")
            .and_then(|v| super::metadata::decode_bin(v.as_bytes()).ok())
            .unwrap_or_default();
        let mut metadata = Metadata::from_headers(map.clone());
        metadata.remove_reserved();
        Some(Status {
            inner: Box::new(Inner {
                code,
                message,
                details,
                metadata,
                committed: false,
            }),
        })
    }

    /// Writes `grpc-status`, `grpc-message`, details and the metadata into
    /// `map`.
    pub fn write_to(&self, map: &mut HeaderMap) {
        for (k, v) in self.inner.metadata.as_headers() {
            map.append(k.clone(), v.clone());
        }
        map.insert("grpc-status", HeaderValue::from(self.inner.code.as_i32()));
        if !self.inner.message.is_empty() {
            // encode_message yields printable ASCII only.
            if let Ok(v) = HeaderValue::from_str(&encode_message(&self.inner.message)) {
                map.insert("grpc-message", v);
            }
        }
        if !self.inner.details.is_empty()
            && let Ok(v) = HeaderValue::from_str(&super::metadata::encode_bin(&self.inner.details))
        {
            map.insert("grpc-status-details-bin", v);
        }
    }

    /// The status for an HTTP response that had no `grpc-status`.
    pub fn from_http(status: StatusCode) -> Status {
        Status::new(
            Code::from_http(status),
            format!("non-grpc response: http status {}", status.as_u16()),
        )
    }

    /// Maps an h2 error: a GOAWAY or a broken connection is UNAVAILABLE (the
    /// stream was not processed, so it may be retried elsewhere, as grpc-go
    /// does), resets by the peer carry their reason (gRPC spec, "HTTP2
    /// Transport Mapping").
    pub(crate) fn from_h2(err: &h2::Error) -> Status {
        // Checked first: a GOAWAY also carries a reason (NO_ERROR for a
        // graceful shutdown), which the reset table below would map to
        // INTERNAL and make a server restart look like a server bug.
        if err.is_io() || err.is_go_away() {
            return Status::unavailable(format!("connection: {err}"));
        }
        if let Some(reason) = err.reason() {
            let code = match reason {
                h2::Reason::NO_ERROR
                | h2::Reason::PROTOCOL_ERROR
                | h2::Reason::INTERNAL_ERROR
                | h2::Reason::FLOW_CONTROL_ERROR
                | h2::Reason::SETTINGS_TIMEOUT
                | h2::Reason::FRAME_SIZE_ERROR
                | h2::Reason::COMPRESSION_ERROR
                | h2::Reason::CONNECT_ERROR => Code::Internal,
                h2::Reason::REFUSED_STREAM => Code::Unavailable,
                h2::Reason::CANCEL => Code::Cancelled,
                h2::Reason::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
                h2::Reason::INADEQUATE_SECURITY => Code::PermissionDenied,
                _ => Code::Unknown,
            };
            return Status::new(code, format!("h2: {err}"));
        }
        Status::internal(format!("h2: {err}"))
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Status");
        d.field("code", &self.inner.code)
            .field("message", &self.inner.message);
        if !self.inner.details.is_empty() {
            d.field("details_len", &self.inner.details.len());
        }
        d.finish()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "status {}", self.inner.code)?;
        if !self.inner.message.is_empty() {
            write!(f, ": {}", self.inner.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Status {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_code_round_trips_through_its_number() {
        for n in 0..=16 {
            assert_eq!(Code::from_i32(n).as_i32(), n);
        }
        assert_eq!(Code::from_i32(17), Code::Unknown);
        assert_eq!(Code::from_i32(-1), Code::Unknown);
        assert_eq!(Code::from_bytes(b"4"), Code::DeadlineExceeded);
        assert_eq!(Code::from_bytes(b"x"), Code::Unknown);
        assert_eq!(Code::from_bytes(b""), Code::Unknown);
    }

    #[test]
    fn http_statuses_map_as_the_spec_table_says() {
        let cases = [
            (400, Code::Internal),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::Unimplemented),
            (429, Code::Unavailable),
            (502, Code::Unavailable),
            (503, Code::Unavailable),
            (504, Code::Unavailable),
            (500, Code::Unknown),
            (418, Code::Unknown),
        ];
        for (http, code) in cases {
            assert_eq!(
                Code::from_http(StatusCode::from_u16(http).unwrap()),
                code,
                "{http}"
            );
        }
    }

    #[test]
    fn message_escapes_percent_controls_and_non_ascii() {
        assert_eq!(encode_message("a b"), "a b");
        assert_eq!(encode_message("100%"), "100%25");
        assert_eq!(
            encode_message("\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"),
            "%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP %F0%9F%98%88%09%0A"
        );
    }

    #[test]
    fn malformed_percent_escapes_are_kept_verbatim() {
        assert_eq!(decode_message(b"%"), "%");
        assert_eq!(decode_message(b"%4"), "%4");
        assert_eq!(decode_message(b"%zz ok"), "%zz ok");
        assert_eq!(decode_message(b"%FF"), "\u{FFFD}");
        assert_eq!(decode_message(b"%41%42"), "AB");
    }

    #[test]
    fn status_round_trips_through_trailers() {
        let mut md = Metadata::new();
        md.insert("x-trailer", "v").unwrap();
        md.insert_bin("x-trailer-bin", &[0xab, 0xab, 0xab]).unwrap();
        let st = Status::new(Code::NotFound, "no such thing: ☺")
            .with_details(Bytes::from_static(b"\x01\x02"))
            .with_metadata(md);
        let mut map = HeaderMap::new();
        st.write_to(&mut map);
        let back = Status::from_header_map(&map).unwrap();
        assert_eq!(back.code(), Code::NotFound);
        assert_eq!(back.message(), "no such thing: ☺");
        assert_eq!(back.details().as_ref(), b"\x01\x02");
        assert_eq!(back.metadata().get("x-trailer"), Some("v"));
        assert_eq!(
            back.metadata().get_bin("x-trailer-bin").unwrap().as_ref(),
            &[0xab, 0xab, 0xab]
        );
        assert!(back.metadata().get("grpc-status").is_none());
        assert!(Status::from_header_map(&HeaderMap::new()).is_none());
    }

    proptest! {
        #[test]
        fn any_message_round_trips(s in any::<String>()) {
            let enc = encode_message(&s);
            prop_assert!(enc.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode_message(enc.as_bytes()), s);
        }
    }
}
