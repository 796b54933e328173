//! mtcr-sim: a simulated ConnectX device served through FUSE in a private mount namespace.
pub mod config;
pub mod drivers;
pub mod fw;
pub mod model;
pub mod proto;
pub mod runtime;
pub mod testing;
