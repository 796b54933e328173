//! mtcr-rs: a Rust reimplementation of mstflint's `libmtcr_ul`.
//!
//! Two faces over one implementation:
//! * the safe Rust API, [`Device`] (open a ConnectX/BlueField function, read and write its
//!   crspace, VPD, address spaces), with [`Error`] as its error type;
//! * the C ABI of `libmtcr_ul` (`mopen`, `mread4`, ... in [`ffi`]), a thin wrapper over [`Device`]
//!   that keeps mstflint's signatures, return conventions, errno and struct layouts.
//!
//! Layout: `device/` names and enumeration, `access/` one file per access path behind the
//! [`access::Access`] trait, `select` the choice among paths, `ffi/` the C boundary.

pub mod access;
pub(crate) mod chips;
pub mod defs;
pub mod device;
pub mod error;
pub mod ffi;
pub mod fwctl_abi;
pub mod name;
pub mod open;
pub mod pci;
pub(crate) mod poll;
pub mod proto;

pub use device::{Device, OpenOptions};
pub use error::{Error, Result};
