//! In-band (InfiniBand MAD) and OS register-access entry points of `mtcr.h`:
//! `maccess_reg_mad`, `mos_reg_access`. This library has no in-band access; they fail as
//! upstream's build without in-band does, and never touch the device.

use std::os::raw::{c_int, c_void};

use super::abi::mfile;
use super::boundary::{call, fail};
use crate::defs::*;

/// `int maccess_reg_mad(mfile* mf, u_int8_t* data)`: send a register-access MAD. No in-band
/// access here: ME_REG_ACCESS_UNKNOWN_ERR with errno ENODEV, as upstream without in-band
/// for a PCI device (it cannot reopen it in-band); ME_BAD_PARAMS (errno EINVAL) for NULL.
///
/// # Safety
/// Pointers are not dereferenced beyond a NULL check.
#[no_mangle]
pub unsafe extern "C" fn maccess_reg_mad(mf: *mut mfile, data: *mut u8) -> c_int {
    call("maccess_reg_mad", ME_REG_ACCESS_UNKNOWN_ERR, || {
        if mf.is_null() || data.is_null() {
            return Err(fail(ME_BAD_PARAMS, libc::EINVAL, "NULL argument"));
        }
        Err(fail(
            ME_REG_ACCESS_UNKNOWN_ERR,
            libc::ENODEV,
            "register access by MAD needs an in-band (InfiniBand) device; this library has no \
             in-band access",
        ))
    })
}

/// `int mos_reg_access(mfile* mf, int reg_access, void* reg_data, u_int32_t cmd_type)`:
/// register access through an OS driver interface, which the Linux library does not have:
/// prints a warning on stderr and returns ME_NOT_IMPLEMENTED (errno ENOSYS), as upstream.
#[no_mangle]
pub extern "C" fn mos_reg_access(
    mf: *mut mfile,
    reg_access: c_int,
    reg_data: *mut c_void,
    cmd_type: u32,
) -> c_int {
    let _ = (mf, reg_data);
    call("mos_reg_access", ME_NOT_IMPLEMENTED, || {
        eprintln!("Warning: libmtcr_ul: mos_reg_access() is not supported on Linux; nothing done.");
        Err(fail(
            ME_NOT_IMPLEMENTED,
            libc::ENOSYS,
            format!("OS register access ({reg_access}, command type {cmd_type}) is not available on Linux"),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;

    fn errno() -> i32 {
        // SAFETY: this thread's errno.
        unsafe { *libc::__errno_location() }
    }

    #[test]
    fn no_inband() {
        // SAFETY: mfile is a C struct of integers, arrays and raw pointers: all-zero is valid.
        let mut m: mfile = unsafe { std::mem::zeroed() };
        let mut d = [0u8; 256];
        // SAFETY: NULL accepted; m and d live.
        unsafe {
            assert_eq!(maccess_reg_mad(null_mut(), d.as_mut_ptr()), ME_BAD_PARAMS);
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(maccess_reg_mad(&mut m, null_mut()), ME_BAD_PARAMS);
            assert_eq!(
                maccess_reg_mad(&mut m, d.as_mut_ptr()),
                ME_REG_ACCESS_UNKNOWN_ERR
            );
            assert_eq!(errno(), libc::ENODEV);
        }
        assert_eq!(
            mos_reg_access(null_mut(), 1, null_mut(), 0),
            ME_NOT_IMPLEMENTED
        );
        assert_eq!(errno(), libc::ENOSYS);
        assert!(d.iter().all(|&b| b == 0));
    }
}
