//! HTTP/2 plumbing that the client and the server share: write
//! coalescing under h2 ([`coalesce`]), keepalive pings ([`keepalive`]),
//! sending a framed message within the flow-control window ([`send`]) and
//! reading one call's messages from its body ([`recv`]).
//!
//! Nothing here knows a call's direction; `client/` and `server/` build
//! their streams and connection drivers on it.

pub(crate) mod coalesce;
pub(crate) mod keepalive;
pub(crate) mod recv;
pub(crate) mod send;
