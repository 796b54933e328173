//! The firmware side of the simulated device: synthetic firmware images (generator and
//! checker) and their checksums. Described in `sim/FIRMWARE.md`.

pub mod crc;
pub mod image;
