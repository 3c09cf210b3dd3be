//! wego-build (under construction).

pub mod proto;
