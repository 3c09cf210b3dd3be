//! Protobuf request bodies: the extractor side of [`Protobuf`].

use super::{FromRequest, Rejection, Request, has_content_type, read_request_body};
use crate::response::Protobuf;

const PROTOBUF: &str = "application/x-protobuf";

impl<T: prost::Message + Default> FromRequest for Protobuf<T> {
    type Rejection = Rejection;

    async fn from_request(req: Request) -> Result<Self, Rejection> {
        let h = req.headers();
        if !has_content_type(h, PROTOBUF, None)
            && !has_content_type(h, "application/protobuf", None)
        {
            return Err(Rejection::UnsupportedMediaType { expected: PROTOBUF });
        }
        let bytes = read_request_body(req).await?;
        T::decode(bytes)
            .map(Protobuf)
            .map_err(|e| Rejection::InvalidProtobuf(e.to_string()))
    }
}
