//! `mtcr_ib_res_mgt.h`: the in-band (SMP MAD) semaphore-lock protocol. This library has no
//! in-band access, so these behave as upstream's build without in-band (`NO_INBAND`):
//! `mib_semaphore_lock_is_supported` answers 1 and `mib_semaphore_lock_vs_mad` fails with
//! 1 without touching its outputs (errno ENOTSUP here). Tools only use them for in-band
//! (`MDEVS_IB`) devices, which this library never opens.

use std::os::raw::c_int;

use crate::ffi::abi::mfile;
use crate::ffi::boundary::{call, fail};
use crate::proto::tlv::{SemaphoreLockCmd, SEMAPHORE_LOCK_CMD_SIZE};

/// `struct semaphore_lock_cmd` (12 bytes; upstream defines it in `mtcr_ib_res_mgt.c`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct semaphore_lock_cmd {
    pub semaphore_max_addr: u8,
    pub lease_time_exponent: u8,
    pub is_lease: u8,
    pub semaphore_addr: u16,
    pub op: u8,
    pub lock_key: u32,
}

const _: () = {
    assert!(std::mem::size_of::<semaphore_lock_cmd>() == 12);
    assert!(std::mem::offset_of!(semaphore_lock_cmd, semaphore_addr) == 4);
    assert!(std::mem::offset_of!(semaphore_lock_cmd, lock_key) == 8);
};

/// `void semaphore_lock_cmd_pack(const struct semaphore_lock_cmd*, u_int8_t* buff)`: write
/// the 12 packed bytes of the SMP semaphore-lock attribute (errno EINVAL for NULL).
///
/// # Safety
/// `ptr_struct` NULL or valid; `ptr_buff` NULL or writable for 12 bytes.
#[no_mangle]
pub unsafe extern "C" fn semaphore_lock_cmd_pack(
    ptr_struct: *const semaphore_lock_cmd,
    ptr_buff: *mut u8,
) {
    call("semaphore_lock_cmd_pack", (), || {
        // SAFETY: caller contract.
        let (Some(c), false) = (unsafe { ptr_struct.as_ref() }, ptr_buff.is_null()) else {
            return Err(fail((), libc::EINVAL, "NULL argument"));
        };
        // SAFETY: caller contract: 12 writable bytes.
        let b = unsafe { std::slice::from_raw_parts_mut(ptr_buff, SEMAPHORE_LOCK_CMD_SIZE) };
        SemaphoreLockCmd {
            semaphore_max_addr: c.semaphore_max_addr,
            lease_time_exponent: c.lease_time_exponent,
            is_lease: c.is_lease,
            semaphore_addr: c.semaphore_addr,
            op: c.op,
            lock_key: c.lock_key,
        }
        .pack(b);
        Ok(())
    })
}

/// `void semaphore_lock_cmd_unpack(struct semaphore_lock_cmd*, u_int8_t* buff)`: read the
/// fields from 12 packed bytes (errno EINVAL for NULL).
///
/// # Safety
/// `ptr_struct` NULL or writable; `ptr_buff` NULL or readable for 12 bytes.
#[no_mangle]
pub unsafe extern "C" fn semaphore_lock_cmd_unpack(
    ptr_struct: *mut semaphore_lock_cmd,
    ptr_buff: *mut u8,
) {
    call("semaphore_lock_cmd_unpack", (), || {
        // SAFETY: caller contract.
        let (Some(c), false) = (unsafe { ptr_struct.as_mut() }, ptr_buff.is_null()) else {
            return Err(fail((), libc::EINVAL, "NULL argument"));
        };
        // SAFETY: caller contract: 12 readable bytes.
        let b = unsafe { std::slice::from_raw_parts(ptr_buff, SEMAPHORE_LOCK_CMD_SIZE) };
        let u = SemaphoreLockCmd::unpack(b);
        *c = semaphore_lock_cmd {
            semaphore_max_addr: u.semaphore_max_addr,
            lease_time_exponent: u.lease_time_exponent,
            is_lease: u.is_lease,
            semaphore_addr: u.semaphore_addr,
            op: u.op,
            lock_key: u.lock_key,
        };
        Ok(())
    })
}

/// `int mib_semaphore_lock_vs_mad(mfile* mf, sem_op_t op, u_int32_t sem_addr,
/// u_int32_t lock_key, u_int32_t* res, int* is_leaseable, u_int8_t* lease_time_exp,
/// sem_lock_method_t method)`: always 1 (failure) with errno ENOTSUP, outputs untouched: no
/// in-band access in this library.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn mib_semaphore_lock_vs_mad(
    mf: *mut mfile,
    op: c_int,
    sem_addr: u32,
    lock_key: u32,
    res: *mut u32,
    is_leaseable: *mut c_int,
    lease_time_exp: *mut u8,
    method: c_int,
) -> c_int {
    let _ = (mf, res, is_leaseable, lease_time_exp);
    call("mib_semaphore_lock_vs_mad", 1, || {
        Err(fail(
            1,
            libc::ENOTSUP,
            format!(
                "semaphore op {op} on {sem_addr:#x} (key {lock_key:#x}, method {method}): \
                 in-band (MAD) access is not supported by this library"
            ),
        ))
    })
}

/// `int mib_semaphore_lock_is_supported(mfile* mf)`: 1, as upstream's build without in-band
/// answers (the question only arises for in-band devices).
#[no_mangle]
pub extern "C" fn mib_semaphore_lock_is_supported(mf: *mut mfile) -> c_int {
    let _ = mf;
    call("mib_semaphore_lock_is_supported", 1, || Ok(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;

    #[test]
    fn no_inband() {
        let (mut res, mut lease, mut exp) = (7u32, 8, 9u8);
        crate::ffi::boundary::set_errno(0);
        assert_eq!(
            mib_semaphore_lock_vs_mad(null_mut(), 1, 0x10, 0, &mut res, &mut lease, &mut exp, 1),
            1
        );
        // SAFETY: this thread's errno.
        assert_eq!(unsafe { *libc::__errno_location() }, libc::ENOTSUP);
        assert_eq!((res, lease, exp), (7, 8, 9));
        assert_eq!(
            mib_semaphore_lock_vs_mad(null_mut(), 3, 0, 0, null_mut(), null_mut(), null_mut(), 0),
            1
        );
        assert_eq!(mib_semaphore_lock_is_supported(null_mut()), 1);
    }

    #[test]
    fn semaphore_cmd_round_trip() {
        let c = semaphore_lock_cmd {
            semaphore_max_addr: 0x40,
            lease_time_exponent: 2,
            is_lease: 1,
            semaphore_addr: 0x12,
            op: 1,
            lock_key: 0xcafe,
        };
        let mut b = [0u8; 12];
        let mut back = semaphore_lock_cmd::default();
        // SAFETY: valid pointers, 12-byte buffer; NULLs accepted.
        unsafe {
            semaphore_lock_cmd_pack(&c, b.as_mut_ptr());
            assert_eq!(b, [0x80, 2, 0, 0x40, 0, 1, 0, 0x12, 0, 0, 0xca, 0xfe]);
            semaphore_lock_cmd_unpack(&mut back, b.as_mut_ptr());
            assert_eq!(back, c);
            crate::ffi::boundary::set_errno(0);
            semaphore_lock_cmd_pack(std::ptr::null(), b.as_mut_ptr());
            assert_eq!(*libc::__errno_location(), libc::EINVAL);
            semaphore_lock_cmd_pack(&c, null_mut());
            semaphore_lock_cmd_unpack(null_mut(), b.as_mut_ptr());
            semaphore_lock_cmd_unpack(&mut back, null_mut());
        }
    }
}
