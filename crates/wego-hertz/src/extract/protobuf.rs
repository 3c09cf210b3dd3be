//! Protobuf request bodies: the extractor side of [`Protobuf`].

use super::{FromRequest, Rejection, Request, body_limit, has_content_type, read_body};
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
        let limit = body_limit(req.extensions());
        let bytes = read_body(req.into_body(), limit).await?;
        T::decode(bytes)
            .map(Protobuf)
            .map_err(|e| Rejection::InvalidProtobuf(e.to_string()))
    }
}
