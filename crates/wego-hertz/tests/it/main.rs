#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! Integration tests of wego-hertz, one module per behaviour.
