//! Plain `mfile` fields read or set through a function: `mget_mdevs_flags`,
//! `mget_mdevs_type`, `is_remote_dev`, `mset_i2c_secondary`, `mget_i2c_secondary`. They touch
//! no device, so they work on any mfile (also one a tool built itself).

use std::os::raw::{c_int, c_uchar};

use super::abi::mfile;
use super::boundary::{call, fail};

/// `int mget_mdevs_flags(mfile* mf, u_int32_t* devs_flags)`: `*devs_flags = mf->flags`
/// (MDEVS_TAVOR_CR for PCI opens). 0, or 1 with errno EINVAL for NULL arguments.
///
/// # Safety
/// `mf` NULL or a live mfile; `devs_flags` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mget_mdevs_flags(mf: *mut mfile, devs_flags: *mut u32) -> c_int {
    call("mget_mdevs_flags", 1, || {
        if mf.is_null() || devs_flags.is_null() {
            return Err(fail(1, libc::EINVAL, "NULL argument"));
        }
        // SAFETY: caller contract.
        unsafe { devs_flags.write_unaligned((*mf).flags) };
        Ok(0)
    })
}

/// `int mget_mdevs_type(mfile* mf, u_int32_t* mtype)`: `*mtype = mf->tp` (MST_PCICONF or
/// MST_PCI). 0, or 1 with errno EINVAL for NULL arguments.
///
/// # Safety
/// `mf` NULL or a live mfile; `mtype` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mget_mdevs_type(mf: *mut mfile, mtype: *mut u32) -> c_int {
    call("mget_mdevs_type", 1, || {
        if mf.is_null() || mtype.is_null() {
            return Err(fail(1, libc::EINVAL, "NULL argument"));
        }
        // SAFETY: caller contract.
        unsafe { mtype.write_unaligned((*mf).tp) };
        Ok(0)
    })
}

/// `int is_remote_dev(mfile* mf)`: `mf->is_remote` (0 for every open of this library; 0 for
/// NULL).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn is_remote_dev(mf: *mut mfile) -> c_int {
    call("is_remote_dev", 0, || {
        if mf.is_null() {
            return Err(fail(0, libc::EINVAL, "NULL mfile"));
        }
        // SAFETY: caller contract.
        Ok(unsafe { (*mf).is_remote })
    })
}

/// `unsigned char mset_i2c_secondary(mfile* mf, unsigned char new_i2c_secondary)`: store the
/// I2C secondary address, return the previous one (0xff for NULL).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn mset_i2c_secondary(mf: *mut mfile, new_i2c_secondary: c_uchar) -> c_uchar {
    call("mset_i2c_secondary", 0xff, || {
        if mf.is_null() {
            return Err(fail(0xff, libc::EINVAL, "NULL mfile"));
        }
        // SAFETY: caller contract.
        Ok(unsafe { std::mem::replace(&mut (*mf).i2c_secondary, new_i2c_secondary) })
    })
}

/// `unsigned char mget_i2c_secondary(mfile* mf)`: the I2C secondary address (0xff for NULL).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn mget_i2c_secondary(mf: *mut mfile) -> c_uchar {
    call("mget_i2c_secondary", 0xff, || {
        if mf.is_null() {
            return Err(fail(0xff, libc::EINVAL, "NULL mfile"));
        }
        // SAFETY: caller contract.
        Ok(unsafe { (*mf).i2c_secondary })
    })
}
