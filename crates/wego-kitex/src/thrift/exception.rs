//! `TApplicationException`: the error a Thrift server sends instead of a
//! result (message type 3), with Apache Thrift's standard type codes.

use pilota::thrift::{
    ApplicationException as PilotaException, ApplicationExceptionKind, Message,
    TAsyncInputProtocol, TInputProtocol, TLengthProtocol, TOutputProtocol, ThriftException,
};

/// The standard `TApplicationException` type codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExceptionKind {
    /// 0: unknown.
    Unknown,
    /// 1: the method does not exist.
    UnknownMethod,
    /// 2: a message of the wrong type arrived.
    InvalidMessageType,
    /// 3: a reply named a different method.
    WrongMethodName,
    /// 4: a reply carried an unexpected sequence id.
    BadSequenceId,
    /// 5: the reply carried no result.
    MissingResult,
    /// 6: the handler failed.
    InternalError,
    /// 7: the request could not be decoded.
    ProtocolError,
    /// 8: unsupported transform.
    InvalidTransform,
    /// 9: unsupported protocol.
    InvalidProtocol,
    /// 10: unsupported client type.
    UnsupportedClientType,
    /// Any other code.
    Other(i32),
}

impl ExceptionKind {
    /// The wire code.
    pub fn code(self) -> i32 {
        match self {
            ExceptionKind::Unknown => 0,
            ExceptionKind::UnknownMethod => 1,
            ExceptionKind::InvalidMessageType => 2,
            ExceptionKind::WrongMethodName => 3,
            ExceptionKind::BadSequenceId => 4,
            ExceptionKind::MissingResult => 5,
            ExceptionKind::InternalError => 6,
            ExceptionKind::ProtocolError => 7,
            ExceptionKind::InvalidTransform => 8,
            ExceptionKind::InvalidProtocol => 9,
            ExceptionKind::UnsupportedClientType => 10,
            ExceptionKind::Other(c) => c,
        }
    }

    /// Maps a wire code to a kind.
    pub fn from_code(code: i32) -> Self {
        match code {
            0 => ExceptionKind::Unknown,
            1 => ExceptionKind::UnknownMethod,
            2 => ExceptionKind::InvalidMessageType,
            3 => ExceptionKind::WrongMethodName,
            4 => ExceptionKind::BadSequenceId,
            5 => ExceptionKind::MissingResult,
            6 => ExceptionKind::InternalError,
            7 => ExceptionKind::ProtocolError,
            8 => ExceptionKind::InvalidTransform,
            9 => ExceptionKind::InvalidProtocol,
            10 => ExceptionKind::UnsupportedClientType,
            c => ExceptionKind::Other(c),
        }
    }
}

/// A `TApplicationException`: kind and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationException {
    /// The type code.
    pub kind: ExceptionKind,
    /// Human-readable text (no payload data).
    pub message: String,
}

impl ApplicationException {
    /// Creates an exception.
    pub fn new(kind: ExceptionKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    fn to_pilota(&self) -> PilotaException {
        PilotaException::new(
            ApplicationExceptionKind::from(self.kind.code()),
            self.message.clone(),
        )
    }

    fn from_pilota(e: PilotaException) -> Self {
        Self {
            kind: ExceptionKind::from_code(e.kind().as_i32()),
            message: e.message().to_string(),
        }
    }
}

impl std::fmt::Display for ApplicationException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "application exception ({:?}): {}",
            self.kind, self.message
        )
    }
}

impl std::error::Error for ApplicationException {}

impl Message for ApplicationException {
    fn encode<T: TOutputProtocol>(&self, protocol: &mut T) -> Result<(), ThriftException> {
        self.to_pilota().encode(protocol)
    }

    fn decode<T: TInputProtocol>(protocol: &mut T) -> Result<Self, ThriftException> {
        PilotaException::decode(protocol).map(Self::from_pilota)
    }

    async fn decode_async<T: TAsyncInputProtocol>(
        protocol: &mut T,
    ) -> Result<Self, ThriftException> {
        PilotaException::decode_async(protocol)
            .await
            .map(Self::from_pilota)
    }

    fn size<T: TLengthProtocol>(&self, protocol: &mut T) -> usize {
        self.to_pilota().size(protocol)
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::thrift::{Protocol, decode_body, encode_body};

    #[test]
    fn exceptions_roundtrip_every_kind() {
        for code in -1..12 {
            for proto in [Protocol::Binary, Protocol::Compact] {
                let e = ApplicationException::new(ExceptionKind::from_code(code), "boom");
                let mut dst = BytesMut::new();
                encode_body(proto, &e, &mut dst).unwrap();
                let got: ApplicationException = decode_body(proto, &mut dst.freeze()).unwrap();
                assert_eq!(got, e);
                assert_eq!(got.kind.code(), code);
            }
        }
    }

    #[test]
    fn binary_fixture_decodes() {
        // struct { 1: string "x", 2: i32 1 } STOP
        let b = [11, 0, 1, 0, 0, 0, 1, b'x', 8, 0, 2, 0, 0, 0, 1, 0];
        let got: ApplicationException =
            decode_body(Protocol::Binary, &mut bytes::Bytes::copy_from_slice(&b)).unwrap();
        assert_eq!(
            got,
            ApplicationException::new(ExceptionKind::UnknownMethod, "x")
        );
    }

    #[test]
    fn rejects_invalid_utf8_and_short_strings() {
        let b = [11, 0, 1, 0, 0, 0, 2, 0xff, 0xfe, 0];
        let r: Result<ApplicationException, _> =
            decode_body(Protocol::Binary, &mut bytes::Bytes::copy_from_slice(&b));
        assert!(r.is_err());
        let b = [11, 0, 1, 0, 0, 0, 9, b'x', 0];
        let r: Result<ApplicationException, _> =
            decode_body(Protocol::Binary, &mut bytes::Bytes::copy_from_slice(&b));
        assert!(r.is_err());
    }
}
