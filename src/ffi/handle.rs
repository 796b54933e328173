//! The `mfile` <-> [`Device`] glue: the private context behind `mfile.ul_ctx` (which of the
//! device's accesses calls go to), the C-allocated strings and `dev_info` made from
//! [`DeviceInfo`] (so that C code may `free()` what the stock library lets it free), and the
//! copy of the device's state into the public `mfile` fields. The mfile itself is allocated
//! and freed in `ffi::open`.

use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use std::sync::atomic::{AtomicBool, Ordering};

use super::abi::{dev_info, mfile, vf_info};
use super::boundary::{fail, fail_with, Outcome};
use crate::defs::MDEVS_TAVOR_CR;
use crate::device::Device;
use crate::pci::DeviceInfo;

const CTX_MAGIC: u64 = 0x6d74_6372_2d72_7331; // "mtcr-rs1"

/// What `mfile.ul_ctx` points to for an mfile made by this library: the device opened by
/// `mopen`, and which of its accesses calls go to: the device itself, or (after
/// `mpci_change` on a memory open) its config-space companion ([`Device::config_companion`]).
/// No lock on the way to the device (each `Device` serializes its own accesses).
pub(crate) struct UlCtx {
    magic: u64,
    primary: Device,
    use_companion: AtomicBool,
}

impl UlCtx {
    /// The access calls go to.
    #[inline]
    pub fn active(&self) -> &Device {
        match self.primary.opened_companion() {
            Some(c) if self.use_companion.load(Ordering::Acquire) => c,
            _ => &self.primary,
        }
    }

    /// Make the other access the active one.
    pub fn flip(&self) {
        self.use_companion.fetch_xor(true, Ordering::AcqRel);
    }

    /// The config-space companion of the device (what `mpci_change` switches to).
    pub fn companion(&self) -> crate::Result<&Device> {
        self.primary.config_companion()
    }
}

/// The context of `mf`, or a failure (EINVAL) for NULL, or for an mfile this library did not
/// open (`ul_ctx` NULL, as in tools that build an mfile themselves for firmware contexts).
///
/// # Safety
/// `mf` is NULL or points to a live `mfile`.
pub(crate) unsafe fn ctx<'a, T>(mf: *mut mfile, ret: T) -> Outcome<&'a UlCtx, T> {
    // SAFETY: caller contract.
    unsafe { valid_ctx(mf) }.map_err(|why| fail(ret, libc::EINVAL, why))
}

/// The context of `mf`, or why there is none.
///
/// # Safety
/// As for [`ctx`].
#[inline]
unsafe fn valid_ctx<'a>(mf: *mut mfile) -> Result<&'a UlCtx, &'static str> {
    if mf.is_null() {
        return Err("NULL mfile");
    }
    // SAFETY: caller contract.
    let p = unsafe { (*mf).ul_ctx } as *const UlCtx;
    if p.is_null() {
        return Err("mfile not opened by this library");
    }
    // SAFETY: a non-NULL ul_ctx of a live mfile is one we allocated (see `new_mfile`).
    let c = unsafe { &*p };
    if c.magic != CTX_MAGIC {
        return Err("mfile not opened by this library");
    }
    Ok(c)
}

/// The BAR mapping of `mf` when its active access takes accesses in the current space
/// straight to it ([`Device::direct_window`]): the fast path of the dword and block calls on
/// `resource0`. None (also for a bad handle) sends the call down the general path, which
/// checks everything again and reports errors.
///
/// # Safety
/// As for [`ctx`].
#[inline]
pub(crate) unsafe fn direct_window<'a>(mf: *mut mfile) -> Option<&'a crate::access::mmio::Window> {
    // SAFETY: caller contract.
    unsafe { valid_ctx(mf) }.ok()?.active().direct_window()
}

/// `malloc`'d copy of `s` (interior NULs cut), or NULL when out of memory.
pub(crate) fn alloc_cstr(s: &str) -> *mut c_char {
    let b = s.as_bytes();
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    // SAFETY: malloc of n+1 bytes, then n bytes copied and a NUL stored.
    unsafe {
        let p = libc::malloc(n + 1) as *mut c_char;
        if !p.is_null() {
            ptr::copy_nonoverlapping(b.as_ptr() as *const c_char, p, n);
            *p.add(n) = 0;
        }
        p
    }
}

/// `malloc`'d NULL-terminated array of `malloc`'d strings (never NULL unless out of memory).
pub(crate) fn alloc_str_array(v: &[String]) -> *mut *mut c_char {
    // SAFETY: calloc of v.len()+1 pointers; each slot set to a fresh string; last stays NULL.
    unsafe {
        let arr = libc::calloc(v.len() + 1, std::mem::size_of::<*mut c_char>()) as *mut *mut c_char;
        if arr.is_null() {
            return arr;
        }
        for (i, s) in v.iter().enumerate() {
            *arr.add(i) = alloc_cstr(s);
        }
        arr
    }
}

/// Free an array made by [`alloc_str_array`] (NULL ok).
///
/// # Safety
/// `arr` is NULL or came from [`alloc_str_array`] and was not freed.
pub(crate) unsafe fn free_str_array(arr: *mut *mut c_char) {
    if arr.is_null() {
        return;
    }
    // SAFETY: caller contract: NULL-terminated array of malloc'd strings.
    unsafe {
        let mut i = 0;
        while !(*arr.add(i)).is_null() {
            libc::free(*arr.add(i) as *mut c_void);
            i += 1;
        }
        libc::free(arr as *mut c_void);
    }
}

/// Copy `s` into a fixed C char buffer, truncated, always NUL-terminated.
pub(crate) fn fill_fixed(dst: &mut [c_char], s: &str) {
    let n = s.len().min(dst.len().saturating_sub(1));
    for (d, &c) in dst.iter_mut().zip(s.as_bytes()[..n].iter()) {
        *d = c as c_char;
    }
    for d in dst.iter_mut().skip(n) {
        *d = 0;
    }
}

/// Fill a zeroed `dev_info` from `info`; `dev_name` is the name shown in `dev_info.dev_name`.
///
/// # Safety
/// `di` points to a writable, zero-initialised `dev_info`.
pub(crate) unsafe fn fill_dev_info(di: *mut dev_info, info: &DeviceInfo, dev_name: &str) {
    // SAFETY: caller contract.
    let d = unsafe { &mut *di };
    d.r#type = MDEVS_TAVOR_CR;
    fill_fixed(&mut d.dev_name, dev_name);
    d.ul_mode = 1;
    let p = &mut d.pci;
    p.domain = info.bdf.domain;
    p.bus = info.bdf.bus;
    p.dev = info.bdf.dev;
    p.func = info.bdf.func;
    p.dev_id = info.device_id;
    p.vend_id = info.vendor_id;
    p.class_id = info.class_id;
    p.subsys_id = info.subsys_id;
    p.subsys_vend_id = info.subsys_vendor_id;
    fill_fixed(&mut p.cr_dev, &info.dev_name());
    fill_fixed(&mut p.conf_dev, &info.conf_dev());
    p.net_devs = alloc_str_array(&info.net_devs);
    p.ib_devs = alloc_str_array(&info.ib_devs);
    let numa = if info.numa_node.is_empty() {
        "NA"
    } else {
        info.numa_node.as_str()
    };
    fill_fixed(&mut p.numa_node, numa);
    fill_fixed(&mut p.fwctl_dev, "");
    let n = info.vfs.len().min(u16::MAX as usize);
    if n > 0 {
        // SAFETY: calloc of n zeroed vf_info.
        let arr = unsafe { libc::calloc(n, std::mem::size_of::<vf_info>()) } as *mut vf_info;
        if !arr.is_null() {
            for (i, vf) in info.vfs.iter().take(n).enumerate() {
                // SAFETY: i < n, arr has n zeroed entries.
                let v = unsafe { &mut *arr.add(i) };
                fill_fixed(&mut v.dev_name, &vf.bdf.to_string());
                v.domain = vf.bdf.domain;
                v.bus = vf.bdf.bus;
                v.dev = vf.bdf.dev;
                v.func = vf.bdf.func;
                v.net_devs = alloc_str_array(&vf.net_devs);
                v.ib_devs = alloc_str_array(&vf.ib_devs);
            }
            p.virtfn_arr = arr;
            p.virtfn_count = n as u16;
        }
    }
}

/// Free what [`fill_dev_info`] allocated inside `di` (not `di` itself).
///
/// # Safety
/// `di` points to a `dev_info` filled by [`fill_dev_info`] (or zeroed).
pub(crate) unsafe fn free_dev_info_contents(di: *mut dev_info) {
    // SAFETY: caller contract; every pointer is NULL or ours.
    unsafe {
        let p = &mut (*di).pci;
        free_str_array(p.net_devs);
        free_str_array(p.ib_devs);
        p.net_devs = ptr::null_mut();
        p.ib_devs = ptr::null_mut();
        if !p.virtfn_arr.is_null() {
            for i in 0..p.virtfn_count as usize {
                let v = &mut *p.virtfn_arr.add(i);
                free_str_array(v.net_devs);
                free_str_array(v.ib_devs);
            }
            libc::free(p.virtfn_arr as *mut c_void);
            p.virtfn_arr = ptr::null_mut();
            p.virtfn_count = 0;
        }
    }
}

/// Copy the state tools read from `dev` into the public fields of `mf`.
///
/// # Safety
/// `mf` points to a live mfile.
pub(crate) unsafe fn sync_fields(mf: *mut mfile, dev: &Device) {
    // SAFETY: caller contract.
    let m = unsafe { &mut *mf };
    m.tp = dev.mtype();
    m.flags = dev.mdevs_flags();
    // Tools issue driver ioctls on mf->fd (hot reset): the node's descriptor, -1 elsewhere.
    m.fd = dev.node_fd().unwrap_or(-1);
    m.connectx_wa_slot = dev.connectx_wa_slot().unwrap_or(0);
    m.functional_vsec_supp = c_int::from(dev.functional_vsec());
    m.pxir_vsec_supp = u32::from(dev.pxir_vsec());
    m.vsec_cap_mask = dev.vsec_cap_mask();
    m.address_space = dev.address_space() as c_int;
    m.pci_device_id = dev.info().device_id;
    m.vsec_addr = u64::from(dev.vsec_addr());
    if dev.is_memory() {
        m.map_size = 0x400_0000;
    } else {
        m.map_size = 0;
    }
}

/// Make the device use the address space the C caller sees in `mf->address_space` (tools and
/// `swap_pci_address_space` change that field directly, as with the stock library).
///
/// # Safety
/// `mf` points to a live mfile.
pub(crate) unsafe fn sync_space<T>(mf: *mut mfile, dev: &Device, ret: T) -> Outcome<(), T> {
    if !dev.is_vsec_gateway() {
        return Ok(());
    }
    // SAFETY: caller contract.
    let want = unsafe { (*mf).address_space } as u32;
    if want != dev.address_space() {
        dev.set_address_space(want)
            .map_err(|e| fail_with(ret, &e))?;
    }
    Ok(())
}

/// Box a new context around `dev`, for `mfile.ul_ctx`.
pub(crate) fn new_ctx(dev: Device) -> *mut c_void {
    Box::into_raw(Box::new(UlCtx {
        magic: CTX_MAGIC,
        primary: dev,
        use_companion: AtomicBool::new(false),
    })) as *mut c_void
}

/// Drop the context behind `ul_ctx` (closing its device) if it is one of ours; NULL and
/// foreign pointers are left alone.
///
/// # Safety
/// `ul_ctx` is NULL, or the `ul_ctx` of a live mfile not used again afterwards.
pub(crate) unsafe fn drop_ctx(ul_ctx: *mut c_void) {
    let c = ul_ctx as *mut UlCtx;
    // SAFETY: caller contract; a non-NULL pointer with our magic came from `new_ctx`.
    unsafe {
        if !c.is_null() && (*c).magic == CTX_MAGIC {
            (*c).magic = 0;
            drop(Box::from_raw(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::{Bdf, VfInfo};
    use std::ffi::CStr;

    #[test]
    fn fixed_buffers_truncate_and_terminate() {
        let mut b = [0x55 as c_char; 4];
        fill_fixed(&mut b, "abcdef");
        // SAFETY: NUL-terminated by fill_fixed.
        assert_eq!(unsafe { CStr::from_ptr(b.as_ptr()) }, c"abc");
        fill_fixed(&mut b, "x");
        assert_eq!(b, [b'x' as c_char, 0, 0, 0]);
    }

    #[test]
    fn dev_info_round_trip() {
        let bdf = Bdf::new(0, 5, 0, 0).unwrap();
        let info = DeviceInfo {
            bdf,
            vendor_id: 0x15b3,
            device_id: 0x1017,
            class_id: 0x20000,
            numa_node: String::new(),
            ib_devs: vec!["mlx5_0".into()],
            net_devs: vec![],
            vfs: vec![VfInfo {
                bdf: Bdf::new(0, 5, 0, 2).unwrap(),
                ib_devs: vec!["mlx5_2".into()],
                net_devs: vec!["eth9".into()],
            }],
            ..Default::default()
        };
        // SAFETY: zeroed dev_info, filled then freed once.
        unsafe {
            let di = libc::calloc(1, std::mem::size_of::<dev_info>()) as *mut dev_info;
            fill_dev_info(di, &info, "mlx5_0");
            let d = &*di;
            assert_eq!(CStr::from_ptr(d.dev_name.as_ptr()), c"mlx5_0");
            assert_eq!(CStr::from_ptr(d.pci.cr_dev.as_ptr()), c"0000:05:00.0");
            assert_eq!(CStr::from_ptr(d.pci.numa_node.as_ptr()), c"NA");
            assert_eq!(CStr::from_ptr(*d.pci.ib_devs), c"mlx5_0");
            assert!((*d.pci.ib_devs.add(1)).is_null());
            assert!(!d.pci.net_devs.is_null() && (*d.pci.net_devs).is_null());
            assert_eq!(d.pci.virtfn_count, 1);
            let vf = &*d.pci.virtfn_arr;
            assert_eq!(CStr::from_ptr(vf.dev_name.as_ptr()), c"0000:05:00.2");
            assert_eq!(vf.func, 2);
            assert_eq!(CStr::from_ptr(*vf.net_devs), c"eth9");
            free_dev_info_contents(di);
            assert!(d.pci.virtfn_arr.is_null() && d.pci.ib_devs.is_null());
            libc::free(di as *mut c_void);
        }
    }
}
