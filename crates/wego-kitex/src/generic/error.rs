//! Errors of generic calls: values that do not match the IDL, and calls
//! that fail.

use std::fmt::Write as _;

/// Why a value (JSON, a [`Value`](super::Value) or Thrift bytes) does not
/// match the descriptor. `path` names the offending field from the
/// argument or result struct down, `thing.xtructs[2].i32_thing`, map
/// entries as `userMap{"5"}`; it is empty at the top.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The method is not in the descriptor.
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    /// The JSON text does not parse.
    #[error("invalid json at line {line} column {column}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A value has the wrong type.
    #[error("{path}: expected {expected}")]
    WrongType {
        /// Where.
        path: String,
        /// What the IDL declares.
        expected: String,
    },
    /// A required field is absent.
    #[error("{path}: required field missing")]
    MissingField {
        /// The field.
        path: String,
    },
    /// A field the struct does not declare (refused by
    /// [`UnknownFields::Reject`](super::UnknownFields::Reject)).
    #[error("{path}: unknown field")]
    UnknownField {
        /// The field.
        path: String,
    },
    /// A value of the right type that is still invalid: out of range, an
    /// unknown enum name, bad base64, a union with two fields set.
    #[error("{path}: {reason}")]
    Invalid {
        /// Where.
        path: String,
        /// Why.
        reason: String,
    },
    /// Values nested deeper than the limit.
    #[error("{path}: nested deeper than {limit}")]
    TooDeep {
        /// Where.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// Thrift bytes that cannot be decoded (truncated, malformed, a
    /// collection larger than the bytes that follow).
    #[error("{path}: malformed thrift: {reason}")]
    Malformed {
        /// Where.
        path: String,
        /// Why.
        reason: &'static str,
    },
}

impl ValueError {
    /// The path of the offending field (empty when not about one field).
    pub fn path(&self) -> &str {
        match self {
            ValueError::WrongType { path, .. }
            | ValueError::MissingField { path }
            | ValueError::UnknownField { path }
            | ValueError::Invalid { path, .. }
            | ValueError::TooDeep { path, .. }
            | ValueError::Malformed { path, .. } => path,
            ValueError::UnknownMethod(_) | ValueError::Json { .. } => "",
        }
    }
}

/// Why a generic call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The request does not match the IDL; nothing was sent.
    #[error("request does not match the idl")]
    Request(#[source] ValueError),
    /// The call itself failed (connect, timeout, `TApplicationException`, ...).
    #[error("call failed")]
    Call(#[source] crate::Error),
    /// The reply does not match the IDL.
    #[error("reply does not match the idl")]
    Reply(#[source] ValueError),
}

impl CallError {
    /// The value error of a request or a reply.
    pub fn value_error(&self) -> Option<&ValueError> {
        match self {
            CallError::Request(e) | CallError::Reply(e) => Some(e),
            CallError::Call(_) => None,
        }
    }

    /// The error of the call, when it was sent and failed.
    pub fn call_error(&self) -> Option<&crate::Error> {
        match self {
            CallError::Call(e) => Some(e),
            _ => None,
        }
    }
}

/// One step of a value path.
#[derive(Debug, Clone)]
pub(crate) enum Seg<'a> {
    Field(&'a str),
    Index(usize),
    Key(String),
}

/// The path of the value being visited.
#[derive(Debug, Default)]
pub(crate) struct Path<'a> {
    segs: Vec<Seg<'a>>,
}

impl<'a> Path<'a> {
    pub(crate) fn push(&mut self, s: Seg<'a>) {
        self.segs.push(s);
    }

    pub(crate) fn pop(&mut self) {
        self.segs.pop();
    }

    pub(crate) fn depth(&self) -> usize {
        self.segs.len()
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.segs {
            match s {
                Seg::Field(f) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(f);
                }
                Seg::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
                Seg::Key(k) => {
                    let _ = write!(out, "{{{k:?}}}");
                }
            }
        }
        out
    }

    pub(crate) fn wrong(&self, expected: impl Into<String>) -> ValueError {
        ValueError::WrongType {
            path: self.render(),
            expected: expected.into(),
        }
    }

    pub(crate) fn invalid(&self, reason: impl Into<String>) -> ValueError {
        ValueError::Invalid {
            path: self.render(),
            reason: reason.into(),
        }
    }

    pub(crate) fn malformed(&self, reason: &'static str) -> ValueError {
        ValueError::Malformed {
            path: self.render(),
            reason,
        }
    }

    pub(crate) fn too_deep(&self, limit: usize) -> ValueError {
        ValueError::TooDeep {
            path: self.render(),
            limit,
        }
    }
}
