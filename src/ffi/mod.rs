//! The C ABI of `libmtcr_ul` (mstflint v4.36 signatures, return values, errno and struct
//! layouts) over the safe [`crate::Device`] API. Only argument checks, conversions, errno and
//! panic containment live here; the behaviour is the core's.
//!
//! * [`abi`]: `mfile`, `dev_info`, `vf_info`, `mtcr_page_info` (layouts asserted at compile time);
//! * [`boundary`]: panic catching, errno, per-thread last error (`mtcr_last_error`);
//! * [`open`], [`access`], [`enumerate`], [`misc`]: the exported functions;
//! * [`errstr`]: `m_err2str`; [`logger`]: `MTCR_LOG` / `MFT_DEBUG` stderr logging.
//!
//! Every exported function catches panics (a panic returns the function's failure value with
//! errno EIO), checks NULL pointers and lengths, and on failure sets errno and the per-thread
//! message returned by `mtcr_last_error()`.

pub mod abi;
pub mod access;
pub mod boundary;
pub mod enumerate;
pub mod errstr;
pub(crate) mod handle;
pub mod logger;
pub mod misc;
pub mod open;

pub use abi::{dev_info, mfile, mtcr_page_info, vf_info};
