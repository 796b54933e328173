//! mstflint's internal fwctl helpers (`mtcr_ul/fwctrl.h` / `fwctrl_ioctl.h`), exported as
//! upstream exports them but kept out of the public headers: `fwctl_control_access_register`,
//! `fwctl_set_device_id`, `mlx5u_fwctl_umem_reg`, `mlx5u_fwctl_rsc_destroy`,
//! `mlx5lib_alloc_umem_mkey_buff`, `mlx5lib_free_umem_mkey_buff`. They work on a raw fwctl
//! descriptor (`mf->fd` of a fwctl handle); the work is `crate::access::fwctl`'s.

use std::os::raw::{c_int, c_void};

use crate::access::fwctl;
use crate::ffi::abi::mfile;
use crate::ffi::boundary::{call, fail, fail_with};

pub use crate::fwctl_abi::mlx5_umem_buff;

/// The fwctl descriptor of `mf`: its own (`fd` of a fwctl handle), else an attached one.
///
/// # Safety
/// `mf` NULL or points to a live mfile.
unsafe fn fwctl_fd(mf: *mut mfile) -> Option<c_int> {
    if mf.is_null() {
        return None;
    }
    // SAFETY: caller contract.
    let m = unsafe { &*mf };
    if m.tp == crate::defs::MST_FWCTL_CONTROL_DRIVER && m.fd >= 0 {
        Some(m.fd)
    } else if m.fwctl_fd >= 0 {
        Some(m.fwctl_fd)
    } else {
        None
    }
}

/// `int fwctl_control_access_register(int fd, void* data_in, int size_in, __u16 reg_id,
/// int method, int* reg_status, mfile* mf)`: one ACCESS_REG RPC on `fd` (`method` 1 read,
/// 0 write). 0 when delivered (`*reg_status` = the MError of the firmware status, the
/// syndrome in `mf->icmd.syndrome` when `mf` is given), -1 with errno when not.
///
/// # Safety
/// `data_in` NULL or valid for `size_in` bytes; `reg_status` NULL or writable; `mf` NULL or
/// a live mfile.
#[no_mangle]
pub unsafe extern "C" fn fwctl_control_access_register(
    fd: c_int,
    data_in: *mut c_void,
    size_in: c_int,
    reg_id: u16,
    method: c_int,
    reg_status: *mut c_int,
    mf: *mut mfile,
) -> c_int {
    call("fwctl_control_access_register", -1, || {
        if data_in.is_null() || reg_status.is_null() || size_in <= 0 || fd < 0 {
            return Err(fail(
                -1,
                libc::EINVAL,
                "fwctl_control_access_register: bad arguments",
            ));
        }
        // SAFETY: caller contract.
        let data = unsafe { std::slice::from_raw_parts_mut(data_in as *mut u8, size_in as usize) };
        let write = method != fwctl::FWCTL_METHOD_READ as c_int;
        let r = fwctl::access_reg_fd(fd, reg_id, write, data).map_err(|e| fail_with(-1, &e))?;
        // SAFETY: caller contract.
        unsafe {
            reg_status.write_unaligned(r.reg_status());
            if !mf.is_null() {
                (*mf).icmd.syndrome = r.syndrome as c_int;
            }
        }
        Ok(0)
    })
}

/// `void fwctl_set_device_id(mfile* mf)`: read MGIR over the handle's fwctl descriptor and
/// store its hw id dword in `mf->device_hw_id` (unchanged when the read fails).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn fwctl_set_device_id(mf: *mut mfile) {
    call("fwctl_set_device_id", (), || {
        // SAFETY: caller contract.
        let fd = unsafe { fwctl_fd(mf) }
            .ok_or_else(|| fail((), libc::EINVAL, "fwctl_set_device_id: no fwctl descriptor"))?;
        let mut mgir = [0u8; 160];
        let r = fwctl::access_reg_fd(fd, fwctl::REG_MGIR, false, &mut mgir)
            .map_err(|e| fail_with((), &e))?;
        if r.status != 0 {
            return Err(fail(
                (),
                libc::EIO,
                format!("MGIR read: firmware status {:#x}", r.status),
            ));
        }
        // SAFETY: fwctl_fd checked mf.
        unsafe { (*mf).device_hw_id = u32::from_be_bytes([mgir[8], mgir[9], mgir[10], mgir[11]]) };
        Ok(())
    })
}

/// `int mlx5u_fwctl_umem_reg(mfile* mf, void* addr, size_t len, uint32_t* umem_id,
/// uint32_t* mkey_id)`: register user memory for DMA (FWCTL_RSC_UMEM_REG, an mstflint
/// extension mainline fwctl does not have: ENOTTY there). The resource id, or -errno.
///
/// # Safety
/// `mf` NULL or a live mfile; `addr` memory of `len` bytes kept until released; `umem_id`,
/// `mkey_id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mlx5u_fwctl_umem_reg(
    mf: *mut mfile,
    addr: *mut c_void,
    len: usize,
    umem_id: *mut u32,
    mkey_id: *mut u32,
) -> c_int {
    call("mlx5u_fwctl_umem_reg", -libc::EINVAL, || {
        // SAFETY: caller contract.
        let fd = unsafe { fwctl_fd(mf) };
        let (Some(fd), false, false, false) =
            (fd, addr.is_null(), umem_id.is_null(), mkey_id.is_null())
        else {
            return Err(fail(
                -libc::EINVAL,
                libc::EINVAL,
                "mlx5u_fwctl_umem_reg: bad arguments",
            ));
        };
        let (rsc, umem, mkey) = fwctl::umem_reg_fd(fd, addr as u64, len as u64)
            .map_err(|e| fail_with(-e.errno(), &e))?;
        // SAFETY: caller contract.
        unsafe {
            umem_id.write_unaligned(umem);
            mkey_id.write_unaligned(mkey);
        }
        Ok(rsc as c_int)
    })
}

/// `int mlx5u_fwctl_rsc_destroy(mfile* mf, uint32_t rsc_id)`: FWCTL_RSC_DESTROY. 0, or -1
/// with errno.
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn mlx5u_fwctl_rsc_destroy(mf: *mut mfile, rsc_id: u32) -> c_int {
    call("mlx5u_fwctl_rsc_destroy", -1, || {
        // SAFETY: caller contract.
        let fd = unsafe { fwctl_fd(mf) }.ok_or_else(|| {
            fail(
                -1,
                libc::EINVAL,
                "mlx5u_fwctl_rsc_destroy: no fwctl descriptor",
            )
        })?;
        fwctl::rsc_destroy_fd(fd, rsc_id).map_err(|e| fail_with(-1, &e))?;
        Ok(0)
    })
}

/// `struct mlx5_umem_buff* mlx5lib_alloc_umem_mkey_buff(mfile* mf, size_t size, int
/// page_size)`: a zeroed, `page_size`-aligned buffer of `size` bytes registered for DMA;
/// NULL (errno set) when allocation or registration fails. Free with
/// `mlx5lib_free_umem_mkey_buff` after storing it in `mf->umem_buff`.
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn mlx5lib_alloc_umem_mkey_buff(
    mf: *mut mfile,
    size: usize,
    page_size: c_int,
) -> *mut mlx5_umem_buff {
    let null = std::ptr::null_mut();
    call("mlx5lib_alloc_umem_mkey_buff", null, || {
        // SAFETY: caller contract.
        let fd = unsafe { fwctl_fd(mf) }.ok_or_else(|| {
            fail(
                null,
                libc::EINVAL,
                "mlx5lib_alloc_umem_mkey_buff: no fwctl descriptor",
            )
        })?;
        let align = usize::try_from(page_size).unwrap_or(0);
        if size == 0 || !align.is_power_of_two() || align < std::mem::size_of::<usize>() {
            return Err(fail(
                null,
                libc::EINVAL,
                format!("mlx5lib_alloc_umem_mkey_buff: bad size {size} / page size {page_size}"),
            ));
        }
        let mut buf: *mut c_void = null.cast();
        // SAFETY: posix_memalign into a local pointer; align is a power of two >= sizeof(void*).
        let rc = unsafe { libc::posix_memalign(&mut buf, align, size) };
        if rc != 0 || buf.is_null() {
            return Err(fail(
                null,
                libc::ENOMEM,
                "mlx5lib_alloc_umem_mkey_buff: out of memory",
            ));
        }
        // SAFETY: buf has size bytes.
        unsafe { std::ptr::write_bytes(buf as *mut u8, 0, size) };
        let (rsc, umem, mkey) = match fwctl::umem_reg_fd(fd, buf as u64, size as u64) {
            Ok(v) => v,
            Err(e) => {
                // SAFETY: buf came from posix_memalign and is not used elsewhere.
                unsafe { libc::free(buf) };
                return Err(fail_with(null, &e));
            }
        };
        // SAFETY: malloc of one struct, checked, then fully written.
        let b =
            unsafe { libc::malloc(std::mem::size_of::<mlx5_umem_buff>()) } as *mut mlx5_umem_buff;
        if b.is_null() {
            let _ = fwctl::rsc_destroy_fd(fd, rsc);
            // SAFETY: as above.
            unsafe { libc::free(buf) };
            return Err(fail(
                null,
                libc::ENOMEM,
                "mlx5lib_alloc_umem_mkey_buff: out of memory",
            ));
        }
        // SAFETY: b points to writable memory for one mlx5_umem_buff.
        unsafe {
            b.write(mlx5_umem_buff {
                buff: buf,
                size,
                umem_id: umem,
                umem_mkey: mkey,
                rsc_id: rsc,
            })
        };
        Ok(b)
    })
}

/// `void mlx5lib_free_umem_mkey_buff(mfile* mf)`: release `mf->umem_buff` (resource, buffer,
/// struct) and set it to NULL. Nothing to do when it is NULL.
///
/// # Safety
/// `mf` NULL or a live mfile whose `umem_buff` is NULL or from `mlx5lib_alloc_umem_mkey_buff`.
#[no_mangle]
pub unsafe extern "C" fn mlx5lib_free_umem_mkey_buff(mf: *mut mfile) {
    call("mlx5lib_free_umem_mkey_buff", (), || {
        if mf.is_null() {
            return Ok(());
        }
        // SAFETY: caller contract.
        let b = unsafe { (*mf).umem_buff };
        if b.is_null() {
            return Ok(());
        }
        // SAFETY: b came from mlx5lib_alloc_umem_mkey_buff (caller contract).
        unsafe {
            if let Some(fd) = fwctl_fd(mf) {
                if let Err(e) = fwctl::rsc_destroy_fd(fd, (*b).rsc_id) {
                    log::warn!("{e}");
                }
            }
            libc::free((*b).buff);
            libc::free(b as *mut c_void);
            (*mf).umem_buff = std::ptr::null_mut();
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_fail_cleanly() {
        let mut st = 7;
        let mut b = [0u8; 16];
        // SAFETY: NULL / bad descriptors are accepted by every function.
        unsafe {
            let p = b.as_mut_ptr() as *mut c_void;
            assert_eq!(
                fwctl_control_access_register(-1, p, 16, 0x9020, 1, &mut st, std::ptr::null_mut()),
                -1
            );
            assert_eq!(
                fwctl_control_access_register(0, p, 0, 0x9020, 1, &mut st, std::ptr::null_mut()),
                -1
            );
            assert_eq!(st, 7);
            fwctl_set_device_id(std::ptr::null_mut());
            let (mut u, mut k) = (0, 0);
            assert_eq!(
                mlx5u_fwctl_umem_reg(std::ptr::null_mut(), p, 16, &mut u, &mut k),
                -libc::EINVAL
            );
            assert_eq!(mlx5u_fwctl_rsc_destroy(std::ptr::null_mut(), 1), -1);
            assert!(mlx5lib_alloc_umem_mkey_buff(std::ptr::null_mut(), 4096, 4096).is_null());
            mlx5lib_free_umem_mkey_buff(std::ptr::null_mut());
            let mut m: mfile = std::mem::zeroed();
            m.fd = -1;
            m.fwctl_fd = -1;
            mlx5lib_free_umem_mkey_buff(&mut m);
            assert!(mlx5lib_alloc_umem_mkey_buff(&mut m, 4096, 4096).is_null());
            // A descriptor that is not fwctl: the ioctl fails, nothing leaks.
            let f = std::fs::File::open("/dev/null").unwrap();
            m.fwctl_fd = std::os::fd::AsRawFd::as_raw_fd(&f);
            assert!(mlx5lib_alloc_umem_mkey_buff(&mut m, 4096, 4096).is_null());
            assert_eq!(
                fwctl_control_access_register(m.fwctl_fd, p, 16, 0x9020, 1, &mut st, &mut m),
                -1
            );
        }
    }
}
