//! wego-kitex (under construction).
