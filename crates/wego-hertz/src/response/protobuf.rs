//! Protobuf bodies (prost), behind the `protobuf` feature.

use http::header::{self, HeaderValue};

use super::{IntoResponse, Response};
use crate::Body;

/// A protobuf body: renders `T: prost::Message` with
/// `Content-Type: application/x-protobuf`, and as an extractor decodes one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Protobuf<T>(pub T);

impl<T: prost::Message> IntoResponse for Protobuf<T> {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::from(self.0.encode_to_vec()));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        res
    }
}
