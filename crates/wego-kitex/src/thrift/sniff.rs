//! [`Match`]: what a framing or a payload protocol says about the first
//! bytes it is shown. It sits below both `transport` and `thrift` so each
//! can use it; its public path is `transport::Match`.

/// What a framing or a payload protocol says about a connection's (or a
/// frame's) first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Match {
    /// Too few bytes to tell.
    NeedMore,
    /// The bytes are in this framing or protocol.
    Yes,
    /// They are not.
    No,
}
