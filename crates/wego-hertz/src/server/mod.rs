//! The HTTP/1.1 server: configuration, accept loop and connection driver.

#[allow(dead_code)] // the connection driver (next commit) is the sender
pub(crate) mod incoming;
