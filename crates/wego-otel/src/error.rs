//! The crate's error type.

use wego_netpoll::BoxError;

/// Why building or flushing the telemetry pipeline failed. Ask with the
/// `is_*` methods; the cause is in `source()`.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: Kind,
    #[source]
    cause: Option<BoxError>,
}

#[derive(Debug, thiserror::Error)]
// Without an exporter feature nothing builds a pipeline, so nothing fails.
#[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]
enum Kind {
    #[error("invalid telemetry setting: {0}")]
    Config(&'static str),
    #[error("telemetry export failed")]
    Export,
    #[error("the runtime running the exporter is gone")]
    Runtime,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

// Without an exporter feature nothing builds a pipeline, so nothing fails.
#[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]
impl Error {
    /// True when a builder setting cannot work (the message names it).
    pub fn is_config(&self) -> bool {
        matches!(self.kind, Kind::Config(_))
    }

    /// True when a flush or shutdown could not deliver or stop cleanly.
    pub fn is_export(&self) -> bool {
        matches!(self.kind, Kind::Export)
    }

    /// True when the wego runtime that runs the exports has stopped.
    pub fn is_runtime(&self) -> bool {
        matches!(self.kind, Kind::Runtime)
    }

    pub(crate) fn config(setting: &'static str) -> Self {
        Error {
            kind: Kind::Config(setting),
            cause: None,
        }
    }

    pub(crate) fn export(cause: impl Into<BoxError>) -> Self {
        Error {
            kind: Kind::Export,
            cause: Some(cause.into()),
        }
    }

    pub(crate) fn runtime() -> Self {
        Error {
            kind: Kind::Runtime,
            cause: None,
        }
    }
}
