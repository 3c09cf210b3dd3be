//! JSON bodies: `Json<T>` renders `T: Serialize` and extracts `T: Deserialize`.

use bytes::{BufMut, BytesMut};
use http::StatusCode;
use http::header::{self, HeaderValue};
use serde::Serialize;

use super::{IntoResponse, Response, text};
use crate::Body;

/// A JSON body.
///
/// As a response, serialises `T` with `Content-Type: application/json`; a
/// serialisation failure becomes a 500. As an extractor (see
/// [`crate::extract`]), requires a JSON content type and deserialises the
/// body (limit: [`crate::extract::DEFAULT_BODY_LIMIT`] unless a
/// [`crate::extract::RequestBodyLimit`] extension says otherwise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut buf = BytesMut::with_capacity(128).writer();
        if let Err(e) = serde_json::to_writer(&mut buf, &self.0) {
            tracing::error!(error = %e, "cannot serialise a JSON response");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot serialise the response",
            );
        }
        let mut res = Response::new(Body::from(buf.into_inner().freeze()));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res
    }
}
