//! gRPC metadata: HTTP/2 headers and trailers seen as key-values.
//!
//! Keys are lower-case. Keys ending in `-bin` carry binary values, base64
//! encoded on the wire (sent padded, accepted with or without padding, as the
//! spec asks). Reserved keys (`grpc-*`, HTTP/2 pseudo and transport headers)
//! are filtered out of what handlers see.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Why a metadata entry could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The key is not a valid lower-case HTTP header name.
    #[error("invalid metadata key")]
    InvalidKey,
    /// An ASCII value contains bytes outside printable ASCII.
    #[error("invalid metadata value")]
    InvalidValue,
    /// A binary value was added under a key not ending in `-bin`, or the
    /// other way round.
    #[error("binary values need a key ending in -bin, ASCII values must not")]
    WrongKeyKind,
    /// A `-bin` value is not valid base64.
    #[error("invalid base64 in binary metadata")]
    InvalidBase64,
}

/// Encodes binary metadata as padded standard base64.
pub(crate) fn encode_bin(raw: &[u8]) -> String {
    STANDARD.encode(raw)
}

/// Decodes binary metadata, padded or not.
pub(crate) fn decode_bin(raw: &[u8]) -> Result<Bytes, MetadataError> {
    let trimmed: &[u8] = match raw.iter().position(|&b| b == b'=') {
        Some(i) => &raw[..i],
        None => raw,
    };
    STANDARD_NO_PAD
        .decode(trimmed)
        .map(Bytes::from)
        .map_err(|_| MetadataError::InvalidBase64)
}

/// Request or response metadata (custom headers or trailers).
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    headers: HeaderMap,
}

fn is_reserved(name: &str) -> bool {
    name.starts_with("grpc-")
        || matches!(
            name,
            "content-type"
                | "te"
                | "user-agent"
                | "content-length"
                | "connection"
                | "host"
                | "transfer-encoding"
                | "upgrade"
                | "keep-alive"
        )
}

impl Metadata {
    /// Creates empty metadata.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// Wraps received headers as metadata (reserved keys included; see
    /// [`Metadata::remove_reserved`]).
    pub fn from_headers(headers: HeaderMap) -> Metadata {
        Metadata { headers }
    }

    /// Drops `grpc-*` and transport headers, leaving user metadata.
    pub fn remove_reserved(&mut self) {
        let reserved: Vec<HeaderName> = self
            .headers
            .keys()
            .filter(|k| is_reserved(k.as_str()))
            .cloned()
            .collect();
        for k in reserved {
            self.headers.remove(k);
        }
    }

    /// Adds an ASCII value (appends; a key may repeat).
    ///
    /// # Errors
    ///
    /// Invalid key, `-bin` key, or a value with non-printable bytes.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        if key.ends_with("-bin") {
            return Err(MetadataError::WrongKeyKind);
        }
        let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| MetadataError::InvalidKey)?;
        if name.as_str() != key {
            return Err(MetadataError::InvalidKey);
        }
        if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(MetadataError::InvalidValue);
        }
        let v = HeaderValue::from_str(value).map_err(|_| MetadataError::InvalidValue)?;
        self.headers.append(name, v);
        Ok(())
    }

    /// Adds a binary value under a key ending in `-bin`.
    ///
    /// # Errors
    ///
    /// Invalid key, or a key without the `-bin` suffix.
    pub fn insert_bin(&mut self, key: &str, value: &[u8]) -> Result<(), MetadataError> {
        if !key.ends_with("-bin") {
            return Err(MetadataError::WrongKeyKind);
        }
        let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| MetadataError::InvalidKey)?;
        if name.as_str() != key {
            return Err(MetadataError::InvalidKey);
        }
        let v =
            HeaderValue::from_str(&encode_bin(value)).map_err(|_| MetadataError::InvalidValue)?;
        self.headers.append(name, v);
        Ok(())
    }

    /// Adds a value exactly as it appears on the wire (base64 text for a
    /// `-bin` key), e.g. to forward metadata received from a peer.
    ///
    /// # Errors
    ///
    /// Invalid key or value bytes.
    pub fn insert_raw(&mut self, key: &str, wire_value: &[u8]) -> Result<(), MetadataError> {
        let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| MetadataError::InvalidKey)?;
        let v = HeaderValue::from_bytes(wire_value).map_err(|_| MetadataError::InvalidValue)?;
        self.headers.append(name, v);
        Ok(())
    }

    /// The first ASCII value of `key`, if present and valid.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.headers.get(key).and_then(|v| v.to_str().ok())
    }

    /// Every ASCII value of `key`.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.headers
            .get_all(key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// The first binary value of `key` (a `-bin` key), decoded.
    pub fn get_bin(&self, key: &str) -> Option<Bytes> {
        if !key.ends_with("-bin") {
            return None;
        }
        self.headers
            .get(key)
            .and_then(|v| decode_bin(v.as_bytes()).ok())
    }

    /// Removes every value of `key`.
    pub fn remove(&mut self, key: &str) {
        self.headers.remove(key);
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// Iterates over `(key, raw wire value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes()))
    }

    /// The underlying header map.
    pub fn as_headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Consumes into the underlying header map.
    pub fn into_headers(self) -> HeaderMap {
        self.headers
    }

    /// Copies every entry into `map`, skipping reserved keys.
    pub(crate) fn merge_into(&self, map: &mut HeaderMap) {
        for (k, v) in &self.headers {
            if !is_reserved(k.as_str()) {
                map.append(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_and_binary_keys_are_kept_apart() {
        let mut md = Metadata::new();
        assert_eq!(md.insert("x-a-bin", "v"), Err(MetadataError::WrongKeyKind));
        assert_eq!(md.insert_bin("x-a", b"v"), Err(MetadataError::WrongKeyKind));
        assert_eq!(md.insert("X-Upper", "v"), Err(MetadataError::InvalidKey));
        assert_eq!(md.insert("bad key", "v"), Err(MetadataError::InvalidKey));
        assert_eq!(
            md.insert("x-a", "line\nbreak"),
            Err(MetadataError::InvalidValue)
        );
        md.insert("x-a", "1").unwrap();
        md.insert("x-a", "2").unwrap();
        md.insert_bin("x-b-bin", &[0, 1, 2, 255]).unwrap();
        assert_eq!(md.get_all("x-a"), vec!["1", "2"]);
        assert_eq!(md.get("x-b-bin"), Some("AAEC/w=="));
        assert_eq!(md.get_bin("x-b-bin").unwrap().as_ref(), &[0, 1, 2, 255]);
        assert_eq!(md.get_bin("x-a"), None);
    }

    #[test]
    fn binary_values_decode_with_or_without_padding() {
        assert_eq!(decode_bin(b"q6ur").unwrap().as_ref(), &[0xab, 0xab, 0xab]);
        assert_eq!(decode_bin(b"AAEC/w").unwrap().as_ref(), &[0, 1, 2, 255]);
        assert_eq!(decode_bin(b"AAEC/w==").unwrap().as_ref(), &[0, 1, 2, 255]);
        assert_eq!(decode_bin(b"!!!!"), Err(MetadataError::InvalidBase64));
        assert_eq!(decode_bin(b"A"), Err(MetadataError::InvalidBase64));
    }

    #[test]
    fn reserved_headers_are_removed() {
        let mut map = HeaderMap::new();
        map.insert("grpc-status", HeaderValue::from_static("0"));
        map.insert("content-type", HeaderValue::from_static("application/grpc"));
        map.insert("x-user", HeaderValue::from_static("u"));
        let mut md = Metadata::from_headers(map);
        md.remove_reserved();
        assert_eq!(md.len(), 1);
        assert_eq!(md.get("x-user"), Some("u"));
    }

    proptest! {
        #[test]
        fn binary_metadata_round_trips(v in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut md = Metadata::new();
            md.insert_bin("k-bin", &v).unwrap();
            let got = md.get_bin("k-bin").unwrap();
            prop_assert_eq!(got.as_ref(), &v[..]);
        }
    }
}
