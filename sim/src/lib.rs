//! mtcr-sim: a simulated ConnectX device for testing libmtcr implementations without hardware.
pub mod config;
pub mod model;
