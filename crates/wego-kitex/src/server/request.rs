//! [`ThriftRequest`] and [`ThriftReply`]: what a Thrift service takes and
//! answers.

use std::sync::Arc;

use bytes::Bytes;

use crate::metainfo::CallContext;
use crate::thrift::{ApplicationException, MessageHeader, Protocol};

/// A decoded Thrift call as it reaches a service.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ThriftRequest {
    /// The protocol of the envelope and the arguments.
    pub protocol: Protocol,
    /// The envelope; `name` is the method (a `service:` prefix is stripped).
    pub header: MessageHeader,
    /// The encoded argument struct.
    pub args: Bytes,
    /// RpcInfo and metainfo.
    pub context: Arc<CallContext>,
}

impl ThriftRequest {
    /// A request for `method` carrying encoded `args`.
    pub fn new(
        protocol: Protocol,
        header: MessageHeader,
        args: Bytes,
        context: Arc<CallContext>,
    ) -> Self {
        Self {
            protocol,
            header,
            args,
            context,
        }
    }
}

/// What a service answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ThriftReply {
    /// An encoded result struct (success or a declared exception).
    Result(Bytes),
    /// A `TApplicationException`.
    Exception(ApplicationException),
    /// No reply (oneway calls).
    None,
}
