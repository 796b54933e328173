//! Resets: `msw_reset`, `mhca_reset` (not available from user space, stock's return values and
//! errno) and `hot_reset` (the kernel driver's secondary-bus reset, [`Device::hot_reset`]).
//!
//! [`Device::hot_reset`]: crate::device::Device::hot_reset

use std::os::raw::c_int;

use super::abi::mfile;
use super::boundary::{call, fail, fail_with};
use super::handle::ctx;

/// `int msw_reset(mfile* mf)`: software reset exists only in-band: -1 with errno EPERM.
#[no_mangle]
pub extern "C" fn msw_reset(mf: *mut mfile) -> c_int {
    let _ = mf;
    call("msw_reset", -1, || {
        Err(fail(-1, libc::EPERM, "software reset needs in-band access"))
    })
}

/// `int mhca_reset(mfile* mf)`: not supported: -1 with errno ENOTSUP.
#[no_mangle]
pub extern "C" fn mhca_reset(mf: *mut mfile) -> c_int {
    let _ = mf;
    call("mhca_reset", -1, || {
        Err(fail(-1, libc::ENOTSUP, "HCA reset is not supported"))
    })
}

/// `int hot_reset(mfile* mf, int in_parallel, int domain_1, int bus_1, int device_1,
/// int function_1, int domain_2, int bus_2, int device_2, int function_2)`: the driver's
/// PCICONF_HOT_RESET on the node in use (the second function only when `in_parallel`): the
/// ioctl's result (0, or 1 when a parallel reset failed), -1 with errno on failure (ENOTTY on
/// a sysfs config open, EBADF on a `resource0` mapping: what the stock library's ioctl on
/// `mf->fd` gets there; EINVAL for NULL).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn hot_reset(
    mf: *mut mfile,
    in_parallel: c_int,
    domain_1: c_int,
    bus_1: c_int,
    device_1: c_int,
    function_1: c_int,
    domain_2: c_int,
    bus_2: c_int,
    device_2: c_int,
    function_2: c_int,
) -> c_int {
    call("hot_reset", -1, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, -1) }?;
        let dev = c.active();
        dev.hot_reset(
            in_parallel != 0,
            [domain_1, bus_1, device_1, function_1],
            [domain_2, bus_2, device_2, function_2],
        )
        .map_err(|e| fail_with(-1, &e))
    })
}
