//! Helpers for tests that run inside `mtcr-sim run`.
