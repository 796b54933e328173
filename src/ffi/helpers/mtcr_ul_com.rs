//! `mtcr_ul_com.h` (included by mstflint's dev_mgt, flint, mst_utils): `mopen_ul`, the I2C
//! address width of an mfile, `mtcr_fix_endianness`, `switch_access_funcs`. Its `*_ul`
//! twins of the `mtcr.h` functions are upstream internals and not exported.

use std::os::raw::{c_char, c_int};

use crate::defs::*;
use crate::ffi::abi::mfile;
use crate::ffi::boundary::{call, fail};

/// `mfile* mopen_ul(const char* name)`: the same open as `mopen` (upstream's `mopen` is this
/// function), NULL with errno set on failure.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mopen_ul(name: *const c_char) -> *mut mfile {
    // SAFETY: same contract as mopen.
    unsafe { crate::ffi::open::mopen(name) }
}

/// I2C address widths (bytes) and the `DType` each stands for.
const WIDTH_TO_DTYPE: [(u8, DType); 4] = [
    (0, MST_NOADDR),
    (1, MST_DIMM),
    (2, MST_GAMLA),
    (4, MST_TAVOR),
];

/// `int mset_i2c_addr_width(mfile* mf, u_int8_t addr_width)`: set `mf->dtype` from an I2C
/// address width (0 MST_NOADDR, 1 MST_DIMM, 2 MST_GAMLA, 4 MST_TAVOR). 0; 1 for another
/// width (nothing changed) or a NULL mfile (errno EINVAL).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn mset_i2c_addr_width(mf: *mut mfile, addr_width: u8) -> c_int {
    call("mset_i2c_addr_width", 1, || {
        // SAFETY: caller contract.
        let Some(m) = (unsafe { mf.as_mut() }) else {
            return Err(fail(1, libc::EINVAL, "NULL mfile"));
        };
        match WIDTH_TO_DTYPE.iter().find(|(w, _)| *w == addr_width) {
            Some(&(_, d)) => {
                m.dtype = d;
                Ok(0)
            }
            None => Err(fail(
                1,
                libc::EINVAL,
                format!("no I2C address width {addr_width}"),
            )),
        }
    })
}

/// `int mget_i2c_addr_width(mfile* mf, u_int8_t* addr_width)`: the I2C address width of
/// `mf->dtype` (2 after a PCI open, which leaves MST_GAMLA as upstream). 0; 1 for a `dtype` without one
/// or NULL arguments (errno EINVAL).
///
/// # Safety
/// `mf` NULL or a live mfile; `addr_width` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mget_i2c_addr_width(mf: *mut mfile, addr_width: *mut u8) -> c_int {
    call("mget_i2c_addr_width", 1, || {
        // SAFETY: caller contract.
        let (Some(m), false) = (unsafe { mf.as_ref() }, addr_width.is_null()) else {
            return Err(fail(1, libc::EINVAL, "NULL argument"));
        };
        match WIDTH_TO_DTYPE.iter().find(|(_, d)| *d == m.dtype) {
            Some(&(w, _)) => {
                // SAFETY: caller contract.
                unsafe { *addr_width = w };
                Ok(0)
            }
            None => Err(fail(
                1,
                libc::EINVAL,
                format!("device type {} has no I2C address width", m.dtype),
            )),
        }
    })
}

/// `void mtcr_fix_endianness(u_int32_t* buf, int len)`: convert the `len / 4` dwords at
/// `buf` from big-endian to host order in place (a NULL `buf` or a negative `len` is refused
/// with errno EINVAL).
///
/// # Safety
/// `buf` NULL or valid for `len` bytes (4-byte aligned or not).
#[no_mangle]
pub unsafe extern "C" fn mtcr_fix_endianness(buf: *mut u32, len: c_int) {
    call("mtcr_fix_endianness", (), || {
        if buf.is_null() || len < 0 {
            return Err(fail((), libc::EINVAL, "NULL buffer or negative length"));
        }
        for i in 0..(len / 4) as usize {
            // SAFETY: caller contract: i * 4 + 4 <= len bytes.
            unsafe {
                let p = buf.add(i);
                p.write_unaligned(u32::from_be(p.read_unaligned()));
            }
        }
        Ok(())
    })
}

/// `void switch_access_funcs(mfile* mf)`: switches a cable device's access functions in
/// upstream builds with cable support; without it (upstream's default build, and this
/// library, which has no cable access) it does nothing.
#[no_mangle]
pub extern "C" fn switch_access_funcs(mf: *mut mfile) {
    let _ = mf;
    call("switch_access_funcs", (), || Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;

    #[test]
    fn i2c_addr_width() {
        // SAFETY: m is a live zeroed mfile; NULLs accepted.
        unsafe {
            let mut m: mfile = std::mem::zeroed();
            let mut w = 9u8;
            for (width, dtype) in WIDTH_TO_DTYPE {
                assert_eq!(mset_i2c_addr_width(&mut m, width), 0);
                assert_eq!(m.dtype, dtype);
                assert_eq!(mget_i2c_addr_width(&mut m, &mut w), 0);
                assert_eq!(w, width);
            }
            assert_eq!(mset_i2c_addr_width(&mut m, 3), 1);
            assert_eq!(m.dtype, MST_TAVOR);
            m.dtype = 77;
            assert_eq!(mget_i2c_addr_width(&mut m, &mut w), 1);
            assert_eq!(mset_i2c_addr_width(null_mut(), 1), 1);
            assert_eq!(mget_i2c_addr_width(null_mut(), &mut w), 1);
            assert_eq!(mget_i2c_addr_width(&mut m, null_mut()), 1);
            switch_access_funcs(null_mut());
        }
    }

    #[test]
    fn fix_endianness() {
        let mut b = [0x01020304u32.to_be(), 0xa0b0c0d0u32.to_be(), 7];
        // SAFETY: b holds 12 bytes; 9 converts two dwords.
        unsafe {
            mtcr_fix_endianness(b.as_mut_ptr(), 9);
            mtcr_fix_endianness(null_mut(), 4);
            mtcr_fix_endianness(b.as_mut_ptr(), -4);
        }
        assert_eq!(b, [0x01020304, 0xa0b0c0d0, 7]);
    }
}
