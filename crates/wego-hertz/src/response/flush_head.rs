//! Writing the response head before the body's first frame.

use super::{IntoResponseParts, PartsError, Response};

/// Asks the server to write the response head at once, before the body
/// yields anything.
///
/// The server otherwise writes the head together with the body's first
/// frame, or when the body ends without one. Until then nothing is on the
/// wire, so a body that fails before its first byte (a malformed request
/// body streamed back into the response, a file that cannot be read) is
/// still answered with an error status instead of a `200` cut short.
///
/// A stream whose first frame may be long in coming, such as server-sent
/// events or a long poll, wants the client to see the head now: put
/// `FlushHead` in the response's extensions, or return it as a response
/// part. [`Sse`](super::Sse) responses carry it.
///
/// ```
/// use wego_hertz::Body;
/// use wego_hertz::response::{FlushHead, IntoResponse};
///
/// let events = futures_util::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
/// let res = (FlushHead, Body::from_stream(events)).into_response();
/// assert!(res.extensions().get::<FlushHead>().is_some());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushHead;

impl IntoResponseParts for FlushHead {
    fn into_response_parts(self, res: &mut Response) -> Result<(), PartsError> {
        res.extensions_mut().insert(self);
        Ok(())
    }
}
