//! wego-governance (under construction).
