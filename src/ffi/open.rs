//! Opening and closing: `mopen`, `mopend`, `mopen_adv`, `mopen_fw_ctx`, `mclose`,
//! `mclear_pci_semaphore`, `mpci_change`, and the allocation of the `mfile` around an open
//! [`Device`] (`new_mfile`, `free_mfile`).

use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use super::abi::{dev_info, mfile};
use super::boundary::{c_str, call, fail, fail_with, Outcome};
use super::handle::{
    alloc_cstr, ctx, drop_ctx, fill_dev_info, free_dev_info_contents, new_ctx, sync_fields,
};
use crate::defs::*;
use crate::device::{Device, OpenOptions};

fn open_named(name: *const c_char, opts: &OpenOptions) -> Outcome<*mut mfile> {
    open_named_ext(name, opts, false)
}

fn open_named_ext(
    name: *const c_char,
    opts: &OpenOptions,
    prefer_memory: bool,
) -> Outcome<*mut mfile> {
    let null = ptr::null_mut();
    // SAFETY: the C caller passes NULL or a NUL-terminated string.
    let Some(name) = (unsafe { c_str(name) }) else {
        return Err(fail(null, libc::EINVAL, "NULL or non-UTF-8 device name"));
    };
    let dev = if prefer_memory {
        Device::open_prefer_memory(name, opts)
    } else {
        Device::open_with(name, opts)
    }
    .map_err(|e| fail_with(null, &e))?;
    log::debug!("opened {name} via {:?}", dev.path());
    new_mfile(dev, name)
}

/// `mfile* mopen(const char* name)`: open a device by any name form the stock library accepts.
/// NULL on failure with errno set (EACCES not root, EINVAL bad name, ENOENT no such device as
/// upstream, ENODEV no usable access path, ENOTSUP unsupported device, EBUSY semaphore stuck,
/// or the errno of the failing syscall).
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mopen(name: *const c_char) -> *mut mfile {
    call("mopen", ptr::null_mut(), || {
        open_named(name, &OpenOptions::default())
    })
}

/// `mfile* mopend(const char* name, DType dtype)`: `mopen` for `dtype == MST_TAVOR`, else NULL
/// (errno EINVAL).
///
/// # Safety
/// As [`mopen`].
#[no_mangle]
pub unsafe extern "C" fn mopend(name: *const c_char, dtype: DType) -> *mut mfile {
    call("mopend", ptr::null_mut(), || {
        if dtype != MST_TAVOR {
            return Err(fail(
                ptr::null_mut(),
                libc::EINVAL,
                format!("unsupported device type {dtype}"),
            ));
        }
        open_named(name, &OpenOptions::default())
    })
}

/// `mfile* mopen_adv(const char* name, MType mtype)`: `mopen`, then NULL with errno EPERM if
/// the access type in use is not in the `mtype` mask.
///
/// # Safety
/// As [`mopen`].
#[no_mangle]
pub unsafe extern "C" fn mopen_adv(name: *const c_char, mtype: MType) -> *mut mfile {
    call("mopen_adv", ptr::null_mut(), || {
        // A memory-only mask asks for memory access (drivers' memory nodes, then resource0).
        let memory =
            mtype & (MST_PCI | MST_DRIVER_CR) != 0 && mtype & (MST_PCICONF | MST_DRIVER_CONF) == 0;
        let mf = open_named_ext(name, &OpenOptions::default(), memory)?;
        // SAFETY: mf was just allocated by new_mfile.
        let tp = unsafe { (*mf).tp };
        if tp & mtype == 0 {
            // SAFETY: ours, not handed out.
            unsafe { free_mfile(mf) };
            return Err(fail(
                ptr::null_mut(),
                libc::EPERM,
                format!("access type {tp:#x} not in the requested mask {mtype:#x}"),
            ));
        }
        Ok(mf)
    })
}

/// `mfile* mopen_fw_ctx(void* fw_cmd_context, void* fw_cmd_func, void* dma_func,
/// void* extra_data)`: firmware-context (UEFI) opens are not supported on Linux: always NULL
/// (errno ENOTSUP); no argument is read, so callers passing upstream's three arguments are safe
/// too. Not declared in `mtcr.h` (upstream's header has it only in a comment, and mflash /
/// fw_comps_mgr define a static function of that name).
#[no_mangle]
pub extern "C" fn mopen_fw_ctx(
    fw_cmd_context: *mut c_void,
    fw_cmd_func: *mut c_void,
    dma_func: *mut c_void,
    extra_data: *mut c_void,
) -> *mut mfile {
    let _ = (fw_cmd_context, fw_cmd_func, dma_func, extra_data);
    call("mopen_fw_ctx", ptr::null_mut(), || {
        Err(fail(
            ptr::null_mut(),
            libc::ENOTSUP,
            "firmware-context access is not supported",
        ))
    })
}

/// `int mclose(mfile* mf)`: close and free. Always 0 (NULL is fine; an mfile this library did
/// not open is left alone).
///
/// # Safety
/// `mf` is NULL or an mfile from `mopen*` not closed yet; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mclose(mf: *mut mfile) -> c_int {
    call("mclose", 0, || {
        if mf.is_null() {
            return Ok(0);
        }
        // SAFETY: caller contract.
        if unsafe { ctx(mf, 0) }.is_ok() {
            // SAFETY: ours (context checked), not used by the caller afterwards.
            unsafe { free_mfile(mf) };
        }
        Ok(0)
    })
}

/// `int mclear_pci_semaphore(const char* name)`: open with the VSEC semaphore forced free,
/// then close. ME_OK, ME_ERROR if the open fails (errno set), ME_UNSUPPORTED_ACCESS_TYPE if
/// the device is not a PCI (config or memory) device.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mclear_pci_semaphore(name: *const c_char) -> c_int {
    call("mclear_pci_semaphore", ME_ERROR, || {
        let opts = OpenOptions {
            clear_semaphore: true,
            force: None,
        };
        // SAFETY: the C caller passes NULL or a NUL-terminated string.
        let Some(name) = (unsafe { c_str(name) }) else {
            return Err(fail(
                ME_ERROR,
                libc::EINVAL,
                "NULL or non-UTF-8 device name",
            ));
        };
        let dev = Device::open_with(name, &opts).map_err(|e| fail_with(ME_ERROR, &e))?;
        if dev.mtype() & (MST_PCI | MST_PCICONF) == 0 {
            return Ok(ME_UNSUPPORTED_ACCESS_TYPE);
        }
        Ok(ME_OK)
    })
}

/// `void mpci_change(mfile* mf)`: swap between memory-mapped and config-space access (the
/// stock library keeps a config-space companion after a memory open). On a memory open the
/// first call opens the config access; calling again swaps back. On a config open there is no
/// companion: nothing changes (errno ENOTSUP, see `mtcr_last_error`).
///
/// # Safety
/// `mf` is NULL or an mfile from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn mpci_change(mf: *mut mfile) {
    call("mpci_change", (), || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, ()) }?;
        c.companion().map_err(|e| fail_with((), &e))?;
        c.flip();
        // SAFETY: mf is live (caller contract).
        unsafe { sync_fields(mf, c.active()) };
        Ok(())
    })
}

/// Allocate an mfile around `dev`, named `name`.
pub(crate) fn new_mfile(dev: Device, name: &str) -> Outcome<*mut mfile, *mut mfile> {
    let null = ptr::null_mut();
    // SAFETY: calloc of one zeroed mfile (all-zero is a valid mfile: NULL pointers, 0 ints).
    let mf = unsafe { libc::calloc(1, std::mem::size_of::<mfile>()) } as *mut mfile;
    if mf.is_null() {
        return Err(fail(null, libc::ENOMEM, "out of memory"));
    }
    // SAFETY: calloc of one zeroed dev_info.
    let di = unsafe { libc::calloc(1, std::mem::size_of::<dev_info>()) } as *mut dev_info;
    let dn = alloc_cstr(name);
    if di.is_null() || dn.is_null() {
        // SAFETY: free(NULL) is fine; both came from the C allocator.
        unsafe {
            libc::free(di as *mut c_void);
            libc::free(dn as *mut c_void);
            libc::free(mf as *mut c_void);
        }
        return Err(fail(null, libc::ENOMEM, "out of memory"));
    }
    // SAFETY: di zeroed and writable; mf zeroed and exclusively ours.
    unsafe {
        fill_dev_info(di, dev.info(), name);
        let m = &mut *mf;
        // As upstream's PCI opens: dtype stays 0 (MST_GAMLA; only I2C opens set MST_TAVOR), so
        // mget_i2c_addr_width reports 2.
        m.dtype = MST_GAMLA;
        m.fd = -1;
        m.res_fd = -1;
        m.sock = -1;
        m.fwctl_fd = -1;
        m.dev_name = dn;
        m.dinfo = di;
        m.mpci_change = Some(mpci_change);
        sync_fields(mf, &dev);
        // A fwctl handle: `fd` is the node's descriptor (as mstflint's).
        if let Some(n) = dev.fwctl_node() {
            m.fd = n.fd();
            m.device_hw_id = dev.open_hw_id_raw();
        }
        // Tools read hw_dev_id/rev_id straight from the mfile: fill them now (a failure here
        // is not an open failure; read_device_id reports it).
        if let Ok((hw, rev)) = dev.hw_id_at_open() {
            m.hw_dev_id = hw;
            m.rev_id = rev;
        }
        m.ul_ctx = new_ctx(dev);
    }
    Ok(mf)
}

/// Free an mfile made by [`new_mfile`] (closing its device).
///
/// # Safety
/// `mf` came from [`new_mfile`] and is not used afterwards.
pub(crate) unsafe fn free_mfile(mf: *mut mfile) {
    // SAFETY: caller contract.
    unsafe {
        let m = &mut *mf;
        drop_ctx(m.ul_ctx);
        m.ul_ctx = ptr::null_mut();
        if !m.dinfo.is_null() {
            free_dev_info_contents(m.dinfo);
            libc::free(m.dinfo as *mut c_void);
            m.dinfo = ptr::null_mut();
        }
        libc::free(m.dev_name as *mut c_void);
        m.dev_name = ptr::null_mut();
        libc::free(mf as *mut c_void);
    }
}
