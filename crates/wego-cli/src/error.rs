//! The errors of the `wego` command.

use std::path::PathBuf;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The IDL is invalid, or uses something generation does not support.
    #[error("{file}:{line}:{column}: {message}")]
    Idl {
        /// The IDL file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was found and what was expected.
        message: String,
    },
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// `wego new` would overwrite an existing project.
    #[error("{} already exists and is not empty", .0.display())]
    Exists(PathBuf),
    /// `wego update` found no project manifest (`wego.toml`).
    #[error("{}: {reason}", path.display())]
    Project {
        /// The manifest or directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// An IDL error at a byte offset of `src`.
    pub(crate) fn idl_at(file: &str, src: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_col(src, offset);
        Error::Idl {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `src`.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
