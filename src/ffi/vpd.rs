//! Vital product data: `mvpd_read4`, `mvpd_write4` ([`Device::vpd_read4`],
//! [`Device::vpd_write4`]; writes only where [`Device::vpd_writable`]).
//!
//! [`Device::vpd_read4`]: crate::device::Device::vpd_read4
//! [`Device::vpd_write4`]: crate::device::Device::vpd_write4
//! [`Device::vpd_writable`]: crate::device::Device::vpd_writable

use std::os::raw::{c_int, c_uint};
use std::ptr;

use super::abi::mfile;
use super::boundary::{call, fail, fail_with};
use super::handle::ctx;
use crate::defs::ME_UNSUPPORTED_OPERATION;

/// `int mvpd_read4(mfile* mf, unsigned int offset, u_int8_t value[4])`: 4 bytes of VPD at any
/// offset. 0 on success; -1 (errno EINVAL) for NULL arguments; otherwise the errno value.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `value` NULL or writable for 4 bytes.
#[no_mangle]
pub unsafe extern "C" fn mvpd_read4(mf: *mut mfile, offset: c_uint, value: *mut u8) -> c_int {
    call("mvpd_read4", -1, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, -1) }?;
        if value.is_null() {
            return Err(fail(-1, libc::EINVAL, "NULL value pointer"));
        }
        // SAFETY: caller contract.
        if unsafe { (*mf).dinfo }.is_null() {
            return Err(fail(-1, libc::EPERM, "no device info"));
        }
        match c.active().vpd_read4(offset) {
            Ok(b) => {
                // SAFETY: value writable for 4 bytes.
                unsafe { ptr::copy_nonoverlapping(b.as_ptr(), value, 4) };
                Ok(0)
            }
            Err(e) => Err(fail_with(e.errno(), &e)),
        }
    })
}

/// `int mvpd_write4(mfile* mf, unsigned int offset, u_int8_t value[4])`: on a kernel-driver
/// path the 4 bytes are written through the driver's VPD ioctl (dword-aligned offset): 0, or
/// the errno value. Elsewhere VPD writes are not supported by the user-space library: always
/// ME_UNSUPPORTED_OPERATION (17), as stock.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `value` NULL or readable for 4 bytes.
#[no_mangle]
pub unsafe extern "C" fn mvpd_write4(mf: *mut mfile, offset: c_uint, value: *mut u8) -> c_int {
    call("mvpd_write4", ME_UNSUPPORTED_OPERATION, || {
        let unsupported = || {
            Err(fail(
                ME_UNSUPPORTED_OPERATION,
                libc::ENOTSUP,
                "VPD write is not supported",
            ))
        };
        if mf.is_null() {
            return unsupported();
        }
        // SAFETY: caller contract.
        let Ok(c) = (unsafe { ctx(mf, ME_UNSUPPORTED_OPERATION) }) else {
            return unsupported();
        };
        let d = c.active();
        if !d.vpd_writable() {
            return unsupported();
        }
        if value.is_null() {
            return Err(fail(libc::EINVAL, libc::EINVAL, "NULL value pointer"));
        }
        let mut b = [0u8; 4];
        // SAFETY: value readable for 4 bytes (caller contract).
        unsafe { ptr::copy_nonoverlapping(value, b.as_mut_ptr(), 4) };
        match d.vpd_write4(offset, b) {
            Ok(()) => Ok(0),
            Err(e) => Err(fail_with(e.errno(), &e)),
        }
    })
}
