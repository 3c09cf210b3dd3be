#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! Golden-file tests of wego-build.
mod proto_golden;
