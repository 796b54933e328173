//! PCI config space of an open `mfile`: `read_dword_from_conf_space`
//! ([`Device::read_config_dword`](crate::device::Device::read_config_dword)).

use std::os::raw::c_int;
use std::ptr;

use super::abi::mfile;
use super::boundary::{call, fail, fail_with};
use super::handle::ctx;

/// `int read_dword_from_conf_space(mfile* mf, u_int32_t offset, u_int32_t* data)`: read a PCI
/// config-space dword. 0 on success, -1 (errno set) on failure or NULL arguments.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `data` NULL or writable for 4 bytes.
#[no_mangle]
pub unsafe extern "C" fn read_dword_from_conf_space(
    mf: *mut mfile,
    offset: u32,
    data: *mut u32,
) -> c_int {
    call("read_dword_from_conf_space", -1, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, -1) }?;
        if data.is_null() {
            return Err(fail(-1, libc::EINVAL, "NULL data pointer"));
        }
        let v = c
            .active()
            .driver_config_dword(offset)
            .map_err(|e| fail_with(-1, &e))?;
        // SAFETY: caller contract.
        unsafe { ptr::write_unaligned(data, v) };
        Ok(0)
    })
}
