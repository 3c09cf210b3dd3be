//! wego-hertz (under construction).
