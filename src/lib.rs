//! mtcr-rs: a Rust reimplementation of mstflint's `libmtcr_ul`.
//!
//! Two faces over one implementation:
//! * the safe Rust API, [`Device`] (open a ConnectX/BlueField function, read and write its
//!   crspace, VPD, address spaces), with [`Error`] as its error type, and the protocols over
//!   it in [`proto`] (ICMD, tools HCR, register access);
//! * the C ABI of `libmtcr_ul` (`mopen`, `mread4`, ... in [`ffi`]), a thin wrapper over [`Device`]
//!   that keeps mstflint's signatures, return conventions, errno and struct layouts.
//!
//! The layers and the way a call travels: docs/ARCHITECTURE.md. The modules below the API
//! (`access`, `name`, `open`, `pci`, `chips`, `poll`, `fwctl_abi`) are internal; tests and
//! the fuzz targets reach them with the feature `__internal-api` (not a stable interface).

/// Declares internal modules: `pub` with the feature `__internal-api` (tests, fuzzing),
/// crate-private otherwise.
macro_rules! internal {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "__internal-api")]
        pub mod $name;
        #[cfg(not(feature = "__internal-api"))]
        pub(crate) mod $name;
    )*};
}

internal!(access, chips, fwctl_abi, name, open, pci, poll);

pub mod defs;
pub mod device;
pub mod error;
pub mod ffi;
pub mod proto;

pub use access::PathKind;
pub use device::{Device, OpenOptions};
pub use error::{Error, MError, Result};
pub use pci::{Bdf, DeviceInfo, SysfsRoot, VfInfo};
