//! `mtcr_icmd_cif.h`: the ICMD entry points that header adds to `mtcr.h`'s
//! (`increase_poll_time`, `icmd_send_command_enhanced`, `icmd_take_semaphore`,
//! `is_livefish_device`). The ICMD protocol is [`crate::proto::icmd`]'s.

use std::os::raw::{c_int, c_void};

use crate::defs::*;
use crate::ffi::abi::mfile;
use crate::ffi::boundary::{call, fail, Outcome};
use crate::ffi::handle::ctx;
use crate::proto::Icmd;

// `extern int increase_poll_time` (the data symbol this header declares) is the core's
// `crate::poll::INCREASE_POLL_TIME`: the storage the poll loops read.

fn merr(e: crate::error::MError) -> crate::ffi::boundary::Failure<c_int> {
    fail(e.code, libc::EIO, e.to_string())
}

/// `int icmd_take_semaphore(mfile* mf)`: open the ICMD interface if needed and take the ICMD
/// semaphore for this process, keeping it (for `icmd_send_command_enhanced`) until
/// `icmd_clear_semaphore`. ME_OK; ME_ICMD_NOT_SUPPORTED, ME_ICMD_STATUS_SEMAPHORE_TO (held by
/// another process), ME_ICMD_STATUS_CR_FAIL; ME_BAD_PARAMS (errno EINVAL) for a NULL or
/// foreign mfile.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn icmd_take_semaphore(mf: *mut mfile) -> c_int {
    call(
        "icmd_take_semaphore",
        ME_ICMD_STATUS_CR_FAIL,
        || -> Outcome<c_int> {
            // SAFETY: caller contract.
            let c = unsafe { ctx(mf, ME_BAD_PARAMS) }?;
            c.active().icmd_lock().map_err(merr)?;
            // SAFETY: ctx checked mf.
            unsafe { (*mf).icmd.took_semaphore = 1 };
            Ok(ME_OK)
        },
    )
}

/// `int icmd_send_command_enhanced(mfile* mf, int opcode, void* data, int write_data_size,
/// int read_data_size, int skip_write)`: `icmd_send_command_int` without taking or releasing
/// the ICMD semaphore: the caller holds it (`icmd_take_semaphore`). MError as
/// `icmd_send_command_int`.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `data` NULL or valid for `max(write_data_size,
/// read_data_size)` bytes.
#[no_mangle]
pub unsafe extern "C" fn icmd_send_command_enhanced(
    mf: *mut mfile,
    opcode: c_int,
    data: *mut c_void,
    write_data_size: c_int,
    read_data_size: c_int,
    skip_write: c_int,
) -> c_int {
    call("icmd_send_command_enhanced", ME_ICMD_STATUS_CR_FAIL, || {
        // SAFETY: caller contract.
        unsafe {
            crate::ffi::icmd::send(
                mf,
                opcode,
                data,
                write_data_size,
                read_data_size,
                skip_write,
                false,
            )
        }
    })
}

/// `int is_livefish_device(mfile* mf)`: 1 if the device is in flash recovery: a software
/// device (`MST_SOFTWARE`), or a non-GPU PCI function whose hardware id (`read_device_id`)
/// equals its PCI device id (`mf->dinfo->pci.dev_id`). 0 otherwise, for a NULL mfile or one
/// without `dinfo`, or when the hardware id cannot be read.
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn is_livefish_device(mf: *mut mfile) -> c_int {
    call("is_livefish_device", 0, || {
        // SAFETY: caller contract: NULL or a live mfile (its dinfo NULL or valid).
        let Some(m) = (unsafe { mf.as_ref() }) else {
            return Err(fail(0, libc::EINVAL, "NULL mfile"));
        };
        // SAFETY: as above.
        let Some(di) = (unsafe { m.dinfo.as_ref() }) else {
            return Ok(0);
        };
        if m.tp == MST_SOFTWARE {
            return Ok(1);
        }
        let pci_id = di.pci.dev_id;
        let mut hw = 0u32;
        // SAFETY: mf live; hw writable.
        if unsafe { crate::ffi::access::read_device_id(mf, &mut hw) } != 4 {
            return Ok(0);
        }
        Ok(c_int::from(crate::chips::is_livefish(pci_id, hw)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::abi::dev_info;
    use std::ptr::null_mut;

    fn errno() -> i32 {
        // SAFETY: this thread's errno.
        unsafe { *libc::__errno_location() }
    }

    #[test]
    fn null_and_foreign() {
        let mut b = [0u8; 8];
        // SAFETY: NULL accepted; b valid for 8 bytes.
        unsafe {
            crate::ffi::boundary::set_errno(0);
            assert_eq!(icmd_take_semaphore(null_mut()), ME_BAD_PARAMS);
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(
                icmd_send_command_enhanced(null_mut(), 1, b.as_mut_ptr().cast(), 8, 8, 0),
                ME_BAD_PARAMS
            );
            assert_eq!(is_livefish_device(null_mut()), 0);
            // a tool-allocated mfile: no dinfo -> 0; software device -> 1
            let mut m: mfile = std::mem::zeroed();
            assert_eq!(is_livefish_device(&mut m), 0);
            let mut di: dev_info = std::mem::zeroed();
            m.dinfo = &mut di;
            m.tp = MST_SOFTWARE;
            assert_eq!(is_livefish_device(&mut m), 1);
            // not ours: read_device_id fails -> 0
            m.tp = MST_PCICONF;
            assert_eq!(is_livefish_device(&mut m), 0);
            assert_eq!(icmd_take_semaphore(&mut m), ME_BAD_PARAMS);
        }
    }

    #[test]
    fn poll_time_is_an_int() {
        // What C sees as `int`: same size and alignment (and representation, documented).
        assert_eq!(
            std::mem::size_of_val(&crate::poll::INCREASE_POLL_TIME),
            std::mem::size_of::<c_int>()
        );
        assert_eq!(
            std::mem::align_of_val(&crate::poll::INCREASE_POLL_TIME),
            std::mem::align_of::<c_int>()
        );
    }
}
