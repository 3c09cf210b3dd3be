//! [`Codec`]: how a gRPC method's messages become bytes and back, in
//! tonic's shape (an encoder and a decoder over buffers). [`ProstCodec`]
//! is the default; the length-prefixed framing around each message
//! ([`codec`](crate::grpc::codec)) and compression are the same for every codec.

use std::fmt;
use std::marker::PhantomData;

use bytes::{Bytes, BytesMut};

use crate::grpc::status::Status;

/// Decodes one message from its payload.
pub(crate) type DecodeFn<T> = fn(Bytes) -> Result<T, Status>;

/// Decodes a prost message, `INTERNAL` when the bytes are not one.
pub(crate) fn decode_prost<T: prost::Message + Default>(b: Bytes) -> Result<T, Status> {
    T::decode(b).map_err(|e| Status::internal(format!("cannot decode message: {e}")))
}

/// Leaves a payload as it is.
pub(crate) fn decode_raw(b: Bytes) -> Result<Bytes, Status> {
    Ok(b)
}

/// Encodes one message into a buffer.
pub trait MessageEncoder: Send + 'static {
    /// The message type.
    type Item;

    /// Appends `item`'s encoding to `dst`.
    ///
    /// # Errors
    ///
    /// A [`Status`] (usually `INTERNAL`) when `item` cannot be encoded; the
    /// call fails with it.
    fn encode(&mut self, item: Self::Item, dst: &mut BytesMut) -> Result<(), Status>;
}

/// Decodes one whole message.
pub trait MessageDecoder: Send + 'static {
    /// The message type.
    type Item;

    /// Decodes `src`, exactly one message (its gRPC prefix removed and
    /// decompressed, within the size limit).
    ///
    /// # Errors
    ///
    /// A [`Status`] (usually `INTERNAL`) for bytes that are not a message.
    fn decode(&mut self, src: Bytes) -> Result<Self::Item, Status>;
}

/// A method's message codec: an encoder for what this side sends and a
/// decoder for what it receives (on a server, `Encode` is the response and
/// `Decode` the request; on a client the other way round).
pub trait Codec: Send + Sync + 'static {
    /// What this side sends.
    type Encode: Send + 'static;
    /// What this side receives.
    type Decode: Send + 'static;
    /// The encoder of sent messages.
    type Encoder: MessageEncoder<Item = Self::Encode>;
    /// The decoder of received messages.
    type Decoder: MessageDecoder<Item = Self::Decode>;

    /// The `content-type` a client sends: `application/grpc` (protobuf) or
    /// `application/grpc+{subtype}`. A server answers a call with the
    /// content-type the call came with.
    fn content_type(&self) -> &'static str {
        "application/grpc"
    }

    /// An encoder, one per call.
    fn encoder(&self) -> Self::Encoder;

    /// A decoder, one per call.
    fn decoder(&self) -> Self::Decoder;
}

/// The protobuf codec through prost: sends `E`, receives `D`.
pub struct ProstCodec<E, D> {
    _types: PhantomData<fn() -> (E, D)>,
}

impl<E, D> ProstCodec<E, D> {
    /// The prost codec for these types.
    pub fn new() -> Self {
        Self {
            _types: PhantomData,
        }
    }
}

impl<E, D> Default for ProstCodec<E, D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E, D> Clone for ProstCodec<E, D> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<E, D> fmt::Debug for ProstCodec<E, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProstCodec")
    }
}

impl<E, D> Codec for ProstCodec<E, D>
where
    E: prost::Message + Send + 'static,
    D: prost::Message + Default + Send + 'static,
{
    type Encode = E;
    type Decode = D;
    type Encoder = ProstEncoder<E>;
    type Decoder = ProstDecoder<D>;

    fn encoder(&self) -> Self::Encoder {
        ProstEncoder(PhantomData)
    }

    fn decoder(&self) -> Self::Decoder {
        ProstDecoder(PhantomData)
    }
}

/// [`ProstCodec`]'s encoder.
pub struct ProstEncoder<E>(PhantomData<fn(E)>);

impl<E> fmt::Debug for ProstEncoder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProstEncoder")
    }
}

impl<E: prost::Message + 'static> MessageEncoder for ProstEncoder<E> {
    type Item = E;

    fn encode(&mut self, item: E, dst: &mut BytesMut) -> Result<(), Status> {
        dst.reserve(item.encoded_len());
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode message: {e}")))
    }
}

/// [`ProstCodec`]'s decoder.
pub struct ProstDecoder<D>(PhantomData<fn() -> D>);

impl<D> ProstDecoder<D> {
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<D> fmt::Debug for ProstDecoder<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProstDecoder")
    }
}

impl<D: prost::Message + Default + 'static> MessageDecoder for ProstDecoder<D> {
    type Item = D;

    fn decode(&mut self, src: Bytes) -> Result<D, Status> {
        decode_prost(src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Ping {
        #[prost(string, tag = "1")]
        msg: String,
    }

    #[test]
    fn prost_roundtrips_and_rejects_garbage() {
        let c = ProstCodec::<Ping, Ping>::new();
        let mut buf = BytesMut::new();
        c.encoder()
            .encode(Ping { msg: "hi".into() }, &mut buf)
            .unwrap();
        let got = c.decoder().decode(buf.freeze()).unwrap();
        assert_eq!(got.msg, "hi");
        let bad = c.decoder().decode(Bytes::from_static(b"\x0a\x05hi"));
        assert_eq!(bad.unwrap_err().code(), crate::grpc::Code::Internal);
        assert_eq!(c.content_type(), "application/grpc");
    }
}
