//! Why an extractor refused a request, and the response that says so.

use http::StatusCode;

use crate::response::{IntoResponse, Response, text};

/// Why an extractor refused a request.
///
/// Renders as the status given by [`Rejection::status`] with the
/// [`Display`](std::fmt::Display) text as a `text/plain` body. Messages name
/// what was wrong, never the payload itself beyond a parser's position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The request did not come through a router, so it has no path
    /// parameters to extract (a programming error: 500).
    #[error("no path parameters: the request was not routed")]
    MissingPathParams,
    /// A path parameter does not fit the target type (400).
    #[error("invalid path parameter: {0}")]
    InvalidPathParam(String),
    /// The query string does not fit the target type (400).
    #[error("invalid query string: {0}")]
    InvalidQuery(String),
    /// The body has the wrong `Content-Type` (415).
    #[error("expected a request with content type {expected}")]
    UnsupportedMediaType {
        /// The content type the extractor accepts.
        expected: &'static str,
    },
    /// The body is longer than the limit (413).
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Reading the body failed (400).
    #[error("cannot read the request body: {0}")]
    BodyRead(String),
    /// The client sent no body bytes within the server's body-read timeout
    /// (408, as the server answers a body that times out before a response
    /// byte whatever the handler; RFC 9110 §15.5.9).
    #[error("timed out reading the request body")]
    BodyTimeout,
    /// The body is not valid UTF-8 (400).
    #[error("request body is not valid utf-8")]
    InvalidUtf8,
    /// The body is not syntactically valid JSON (400).
    #[error("malformed json: {0}")]
    JsonSyntax(String),
    /// The JSON is well-formed but does not fit the target type (422).
    #[error("json does not match the expected shape: {0}")]
    JsonData(String),
    /// The urlencoded form does not fit the target type (422).
    #[error("invalid form: {0}")]
    InvalidForm(String),
    /// The protobuf body cannot be decoded (400).
    #[error("invalid protobuf message: {0}")]
    InvalidProtobuf(String),
    /// The multipart body is malformed or exceeds a limit (400 or 413).
    #[error("invalid multipart body: {0}")]
    Multipart(String),
    /// No state of the requested type was registered (500).
    #[error("no state of type {0} is registered on the router")]
    MissingState(&'static str),
    /// A request extension the extractor needs is missing (500).
    #[error("missing request extension {0}")]
    MissingExtension(&'static str),
}

impl Rejection {
    /// The status code this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingPathParams | Self::MissingState(_) | Self::MissingExtension(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::JsonData(_) | Self::InvalidForm(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InvalidPathParam(_)
            | Self::InvalidQuery(_)
            | Self::BodyRead(_)
            | Self::InvalidUtf8
            | Self::JsonSyntax(_)
            | Self::InvalidProtobuf(_)
            | Self::Multipart(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(rejection = %self, "extractor failed");
        }
        text(status, self.to_string())
    }
}
