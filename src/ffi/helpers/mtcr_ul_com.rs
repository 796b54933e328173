//! `mtcr_ul_com.h`: `mopen_ul`, which mstflint's device-management code calls directly.

use std::os::raw::c_char;

use crate::ffi::abi::mfile;

/// `mfile* mopen_ul(const char* name)`: the same open as `mopen` (upstream's `mopen` is this
/// function), NULL with errno set on failure.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mopen_ul(name: *const c_char) -> *mut mfile {
    // SAFETY: same contract as mopen.
    unsafe { crate::ffi::open::mopen(name) }
}
