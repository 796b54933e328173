//! `mtcr_mem_ops.h`: driver DMA memory for ICMD. Upstream's user-level library (`MST_UL`)
//! has none: `mtcr_memaccess` and `get_mem_props` return ME_UNSUPPORTED_OPERATION,
//! `init_mem_ops` does nothing and `close_mem_ops` only frees `mf->dma_props` if set. This
//! library behaves the same (and sets errno ENOTSUP with a message on the failures).

use std::os::raw::{c_int, c_uchar, c_uint, c_ulonglong};

use crate::defs::*;
use crate::ffi::abi::mfile;
use crate::ffi::boundary::{call, fail};

/// `mem_props_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct mem_props_t {
    pub dma_pa: c_ulonglong,
    pub mem_size: c_uint,
}

/// `mem_type_t` values.
pub const MEM_ICMD: c_int = 0;
pub const MEM_END: c_int = 1;

/// `void init_mem_ops(mfile* mf)`: nothing to set up (no DMA memory without the kernel
/// driver's memory-access ioctls, which this library does not use).
#[no_mangle]
pub extern "C" fn init_mem_ops(mf: *mut mfile) {
    let _ = mf;
    call("init_mem_ops", (), || Ok(()))
}

/// `void close_mem_ops(mfile* mf)`: free `mf->dma_props` (C heap) if set, and clear it.
///
/// # Safety
/// `mf` NULL or a live mfile whose `dma_props` is NULL or from `malloc`.
#[no_mangle]
pub unsafe extern "C" fn close_mem_ops(mf: *mut mfile) {
    call("close_mem_ops", (), || {
        // SAFETY: caller contract.
        let Some(m) = (unsafe { mf.as_mut() }) else {
            return Err(fail((), libc::EINVAL, "NULL mfile"));
        };
        if !m.dma_props.is_null() {
            // SAFETY: caller contract: allocated by malloc.
            unsafe { libc::free(m.dma_props) };
            m.dma_props = std::ptr::null_mut();
        }
        Ok(())
    })
}

/// `int mtcr_memaccess(mfile* mf, unsigned int offset, unsigned int size, unsigned char*
/// data, int rw, mem_type_t type)`: ME_UNSUPPORTED_OPERATION (errno ENOTSUP), as upstream's
/// user-level library.
#[no_mangle]
pub extern "C" fn mtcr_memaccess(
    mf: *mut mfile,
    offset: c_uint,
    size: c_uint,
    data: *mut c_uchar,
    rw: c_int,
    mem_type: c_int,
) -> c_int {
    let _ = (mf, data);
    call("mtcr_memaccess", ME_UNSUPPORTED_OPERATION, || {
        Err(fail(
            ME_UNSUPPORTED_OPERATION,
            libc::ENOTSUP,
            format!(
                "DMA memory access (type {mem_type}, {} of {size} bytes at {offset:#x}) is not \
                 supported by the user-level library",
                if rw != 0 { "write" } else { "read" }
            ),
        ))
    })
}

/// `int get_mem_props(mfile* mf, mem_type_t type, mem_props_t* props)`:
/// ME_UNSUPPORTED_OPERATION (errno ENOTSUP), `*props` untouched, as upstream's user-level
/// library.
#[no_mangle]
pub extern "C" fn get_mem_props(mf: *mut mfile, mem_type: c_int, props: *mut mem_props_t) -> c_int {
    let _ = (mf, props);
    call("get_mem_props", ME_UNSUPPORTED_OPERATION, || {
        Err(fail(
            ME_UNSUPPORTED_OPERATION,
            libc::ENOTSUP,
            format!("no DMA memory of type {mem_type} in the user-level library"),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;

    #[test]
    fn unsupported_and_cleanup() {
        let mut p = mem_props_t {
            dma_pa: 5,
            mem_size: 6,
        };
        assert_eq!(
            get_mem_props(null_mut(), MEM_ICMD, &mut p),
            ME_UNSUPPORTED_OPERATION
        );
        // SAFETY: this thread's errno.
        assert_eq!(unsafe { *libc::__errno_location() }, libc::ENOTSUP);
        assert_eq!((p.dma_pa, p.mem_size), (5, 6));
        let mut b = [0u8; 4];
        assert_eq!(
            mtcr_memaccess(null_mut(), 0, 4, b.as_mut_ptr(), 0, MEM_ICMD),
            ME_UNSUPPORTED_OPERATION
        );
        init_mem_ops(null_mut());
        // SAFETY: NULL accepted; m is a live zeroed mfile, dma_props from malloc.
        unsafe {
            close_mem_ops(null_mut());
            let mut m: mfile = std::mem::zeroed();
            close_mem_ops(&mut m);
            m.dma_props = libc::malloc(16);
            close_mem_ops(&mut m);
            assert!(m.dma_props.is_null());
        }
        assert_eq!(std::mem::size_of::<mem_props_t>(), 16);
        assert_eq!(MEM_END, 1);
    }
}
