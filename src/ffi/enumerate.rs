//! Enumeration: `mdevices`, `mdevices_info`, `mdevices_info_v`, `mdevices_info_destroy`,
//! `mdevice_info_destroy`, `get_pci_dev_rdma`.

use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use super::abi::{dev_info, mfile};
use super::boundary::{call, fail, fail_with, Outcome};
use super::handle::{ctx, fill_dev_info, free_dev_info_contents};
use crate::pci::DeviceInfo;

/// `int mdevices(char* buf, int len, int mask)`: names ("DDDD:BB:DD.F") of the devices of
/// `mask` (nothing unless it has MDEVS_TAVOR_CR) as consecutive NUL-terminated strings.
/// Returns the number of devices, -1 if `buf` is too small (or NULL), -2 if sysfs cannot be
/// read.
///
/// # Safety
/// `buf` NULL or writable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mdevices(buf: *mut c_char, len: c_int, mask: c_int) -> c_int {
    call("mdevices", -1, || {
        let list =
            crate::pci::enumerate::list(mask as u32, false).map_err(|e| fail_with(-2, &e))?;
        let mut need = 0usize;
        for d in &list {
            need += d.dev_name().len() + 1;
        }
        if buf.is_null() || len < 0 || need > len as usize {
            return Err(fail(
                -1,
                libc::ENOSPC,
                format!("buffer of {len} bytes too small ({need} needed)"),
            ));
        }
        let mut off = 0usize;
        for d in &list {
            let n = d.dev_name();
            // SAFETY: off + n.len() + 1 <= need <= len.
            unsafe {
                ptr::copy_nonoverlapping(n.as_ptr() as *const c_char, buf.add(off), n.len());
                *buf.add(off + n.len()) = 0;
            }
            off += n.len() + 1;
        }
        Ok(list.len() as c_int)
    })
}

/// A calloc'd dev_info array from `infos`; NULL for none.
fn to_c_array(infos: &[DeviceInfo]) -> Outcome<*mut dev_info, *mut dev_info> {
    if infos.is_empty() {
        return Ok(ptr::null_mut());
    }
    // SAFETY: calloc of infos.len() zeroed dev_info.
    let arr =
        unsafe { libc::calloc(infos.len(), std::mem::size_of::<dev_info>()) } as *mut dev_info;
    if arr.is_null() {
        return Err(fail(ptr::null_mut(), libc::ENOMEM, "out of memory"));
    }
    let fwctl = crate::device::fwctl_dev_paths(infos);
    for (i, (d, node)) in infos.iter().zip(&fwctl).enumerate() {
        // SAFETY: i < len, entries zeroed.
        unsafe { fill_dev_info(arr.add(i), d, &d.dev_name()) };
        if let Some(path) = node {
            // SAFETY: entry i was just filled.
            let p = unsafe { &mut (*arr.add(i)).pci };
            super::handle::fill_fixed(&mut p.fwctl_dev, path);
        }
    }
    Ok(arr)
}

/// # Safety
/// `len` NULL or writable.
unsafe fn info_common(
    mask: c_int,
    len: *mut c_int,
    verbose: bool,
    probe: bool,
) -> Outcome<*mut dev_info> {
    let null = ptr::null_mut();
    if len.is_null() {
        return Err(fail(null, libc::EINVAL, "NULL len pointer"));
    }
    // SAFETY: caller contract.
    unsafe { *len = 0 };
    let list = if probe {
        crate::device::list_opened(mask as u32)
    } else {
        crate::pci::enumerate::list(mask as u32, verbose)
    }
    .map_err(|e| fail_with(null, &e))?;
    let arr = to_c_array(&list)?;
    // SAFETY: caller contract.
    unsafe { *len = list.len() as c_int };
    Ok(arr)
}

/// `dev_info* mdevices_info(int mask, int* len)`: the devices of `mask` with their sysfs data;
/// every device is opened (PCIe-switch functions without a functional VSEC are dropped). NULL
/// and `*len = 0` if none, or if listing or any open fails (errno set). Free with
/// `mdevices_info_destroy`.
///
/// # Safety
/// `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mdevices_info(mask: c_int, len: *mut c_int) -> *mut dev_info {
    // SAFETY: caller contract.
    call("mdevices_info", ptr::null_mut(), || unsafe {
        info_common(mask, len, false, true)
    })
}

/// `dev_info* mdevices_info_v(int mask, int* len, int verbosity)`: as `mdevices_info` without
/// opening the devices; `verbosity != 0` also lists non-zero functions and virtual functions.
///
/// # Safety
/// `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mdevices_info_v(
    mask: c_int,
    len: *mut c_int,
    verbosity: c_int,
) -> *mut dev_info {
    // SAFETY: caller contract.
    call("mdevices_info_v", ptr::null_mut(), || unsafe {
        info_common(mask, len, verbosity != 0, false)
    })
}

/// `void mdevices_info_destroy(dev_info* dev_info, int len)`: free an array from
/// `mdevices_info*` (its name arrays and virtual-function arrays too). NULL is fine.
///
/// # Safety
/// `info` NULL or from `mdevices_info*` with its `len`, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn mdevices_info_destroy(info: *mut dev_info, len: c_int) {
    call("mdevices_info_destroy", (), || {
        if info.is_null() {
            return Ok(());
        }
        for i in 0..len.max(0) as usize {
            // SAFETY: caller contract: len entries.
            unsafe { free_dev_info_contents(info.add(i)) };
        }
        // SAFETY: calloc'd by to_c_array.
        unsafe { libc::free(info as *mut c_void) };
        Ok(())
    })
}

/// `void mdevice_info_destroy(dev_info* dev_info, int len)`: same as `mdevices_info_destroy`
/// (declared by the stock header but never defined there; defined here so callers link).
///
/// # Safety
/// As [`mdevices_info_destroy`].
#[no_mangle]
pub unsafe extern "C" fn mdevice_info_destroy(info: *mut dev_info, len: c_int) {
    // SAFETY: caller contract.
    unsafe { mdevices_info_destroy(info, len) }
}

/// `void get_pci_dev_rdma(mfile* mf, char* buf)`: the first RDMA device name of the function
/// ("mlx5_0"), at most 32 bytes with the NUL, or "" if none.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `buf` NULL or writable for 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn get_pci_dev_rdma(mf: *mut mfile, buf: *mut c_char) {
    call("get_pci_dev_rdma", (), || {
        if buf.is_null() {
            return Err(fail((), libc::EINVAL, "NULL buffer"));
        }
        // SAFETY: caller contract.
        unsafe { *buf = 0 };
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, ()) }?;
        let d = c.active();
        if let Some(name) = d.info().ib_devs.first() {
            let n = name.len().min(31);
            // SAFETY: buf writable for 32 bytes, n <= 31.
            unsafe {
                ptr::copy_nonoverlapping(name.as_ptr() as *const c_char, buf, n);
                *buf.add(n) = 0;
            }
        }
        Ok(())
    })
}
