//! Fuzz target bodies of mtcr-rs (see `targets.rs`); the binaries in `fuzz_targets/` are thin
//! libFuzzer entry points around them.

pub mod targets;
