//! wego-build (under construction).
