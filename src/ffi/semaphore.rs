//! Semaphore dwords: `MREAD4_SEMAPHORE`, `MWRITE4_SEMAPHORE` over
//! [`Device::read_semaphore`] / [`Device::write_semaphore`] (which pick the VSEC semaphore
//! space or crspace). `mclear_pci_semaphore` is an open option (`ffi::open`).
//!
//! [`Device::read_semaphore`]: crate::device::Device::read_semaphore
//! [`Device::write_semaphore`]: crate::device::Device::write_semaphore

use std::os::raw::c_int;
use std::ptr;

use super::abi::mfile;
use super::boundary::{call, fail, fail_with, Outcome};
use super::handle::ctx;
use crate::defs::*;
use crate::device::Device;

/// Run `f` on the active device, then, on a VSEC gateway (where it used the semaphore space),
/// leave `mf->address_space` at AS_CR_SPACE as the stock library does.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
unsafe fn semaphore_op(
    mf: *mut mfile,
    f: impl FnOnce(&Device) -> crate::error::Result<()>,
) -> Outcome<c_int> {
    // SAFETY: caller contract.
    let c = unsafe { ctx(mf, ME_ICMD_STATUS_CR_FAIL) }?;
    let d = c.active();
    let r = f(d);
    if d.is_vsec_gateway() {
        // SAFETY: caller contract.
        unsafe { (*mf).address_space = AS_CR_SPACE as c_int };
    }
    r.map_err(|e| fail_with(ME_ICMD_STATUS_CR_FAIL, &e))?;
    Ok(ME_OK)
}

/// `int MREAD4_SEMAPHORE(mfile* mf, int offset, u_int32_t* ptr)`: read a semaphore dword (in
/// the VSEC semaphore space, else crspace where only bit 31 is returned). ME_OK, or
/// ME_ICMD_STATUS_CR_FAIL.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `ptr` NULL or writable for 4 bytes.
#[no_mangle]
pub unsafe extern "C" fn MREAD4_SEMAPHORE(mf: *mut mfile, offset: c_int, ptr: *mut u32) -> c_int {
    call("MREAD4_SEMAPHORE", ME_ICMD_STATUS_CR_FAIL, || {
        if ptr.is_null() {
            return Err(fail(
                ME_ICMD_STATUS_CR_FAIL,
                libc::EINVAL,
                "NULL value pointer",
            ));
        }
        // SAFETY: caller contract.
        unsafe {
            semaphore_op(mf, |dev| {
                let v = dev.read_semaphore(offset as u32)?;
                // SAFETY: ptr is non-NULL and writable for 4 bytes (caller contract).
                ptr::write_unaligned(ptr, v);
                Ok(())
            })
        }
    })
}

/// `int MWRITE4_SEMAPHORE(mfile* mf, int offset, int value)`: write a semaphore dword (VSEC
/// semaphore space, else crspace). ME_OK, or ME_ICMD_STATUS_CR_FAIL.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn MWRITE4_SEMAPHORE(mf: *mut mfile, offset: c_int, value: c_int) -> c_int {
    call("MWRITE4_SEMAPHORE", ME_ICMD_STATUS_CR_FAIL, || {
        // SAFETY: caller contract.
        unsafe { semaphore_op(mf, |dev| dev.write_semaphore(offset as u32, value as u32)) }
    })
}
