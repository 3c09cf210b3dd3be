//! A client of server-sent events (`text/event-stream`).
//!
//! - [`EventParser`]: the sans-IO parser: bytes in, [`MessageEvent`]s out,
//!   with `event`, `data` (lines joined with `\n`), `id` and `retry`;
//!   comments ignored; a leading BOM skipped; CRLF, LF and CR line ends;
//!   a maximum event size (1 MiB by default) past which it fails with
//!   [`SseError::EventTooLarge`] instead of buffering more.
//! - [`EventStream`]: the events of one response body (any
//!   `http_body::Body`, such as [`crate::Body`]) as a `Stream`.
//! - [`Reconnecting`]: a stream that reopens itself when a body ends or
//!   fails, waiting the `retry` delay the server set, and passing the last
//!   event id to the closure that opens the next body (to be sent as
//!   `Last-Event-ID`).
//!
//! The server side is [`crate::response::Sse`]. See `docs/http.md`,
//! "SSE client".

mod parser;
mod stream;

pub use parser::{DEFAULT_MAX_EVENT_SIZE, EventParser, MessageEvent, SseError};
pub use stream::{DEFAULT_RETRY, EventStream, Reconnecting};
