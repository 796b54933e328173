//! `packets_layout.h`: the operation TLV and register TLV of an access-register mailbox
//! (`struct OperationTlv`, `struct reg_tlv`) and their init / pack / unpack / dump functions.
//! The layouts are [`crate::proto::tlv`]'s; here only the C structs and argument checks.
//!
//! Upstream dereferences its pointers unchecked; here a NULL pointer sets errno EINVAL and
//! the function returns -1 (`init_*`), 0 (`*_pack`) or nothing.

use std::os::raw::c_int;

use crate::ffi::boundary::{call, fail, Outcome};
use crate::proto::tlv::{
    OperationTlv as OpTlv, RegTlv, REG_TLV_HEADER_SIZE_BYTES, TLV_OPERATION_SIZE_BYTES,
};

/// `struct OperationTlv` (24 bytes, upstream's member order and types).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(non_snake_case)]
pub struct OperationTlv {
    pub reserved0: u8,
    pub status: u8,
    pub dr: u8,
    pub len: u16,
    pub Type: u8,
    pub tlv_class: u8,
    pub method: u8,
    pub r: u8,
    pub register_id: u16,
    pub tid: u64,
}

/// `struct reg_tlv` (6 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(non_camel_case_types, non_snake_case)]
pub struct reg_tlv {
    pub reserved0: u16,
    pub len: u16,
    pub Type: u8,
}

const _: () = {
    assert!(std::mem::size_of::<OperationTlv>() == 24);
    assert!(std::mem::offset_of!(OperationTlv, len) == 4);
    assert!(std::mem::offset_of!(OperationTlv, register_id) == 10);
    assert!(std::mem::offset_of!(OperationTlv, tid) == 16);
    assert!(std::mem::size_of::<reg_tlv>() == 6);
    assert!(std::mem::offset_of!(reg_tlv, Type) == 4);
};

impl From<&OperationTlv> for OpTlv {
    fn from(t: &OperationTlv) -> Self {
        OpTlv {
            reserved0: t.reserved0,
            status: t.status,
            dr: t.dr,
            len: t.len,
            tlv_type: t.Type,
            tlv_class: t.tlv_class,
            method: t.method,
            r: t.r,
            register_id: t.register_id,
            tid: t.tid,
        }
    }
}

impl From<OpTlv> for OperationTlv {
    fn from(t: OpTlv) -> Self {
        OperationTlv {
            reserved0: t.reserved0,
            status: t.status,
            dr: t.dr,
            len: t.len,
            Type: t.tlv_type,
            tlv_class: t.tlv_class,
            method: t.method,
            r: t.r,
            register_id: t.register_id,
            tid: t.tid,
        }
    }
}

impl From<&reg_tlv> for RegTlv {
    fn from(t: &reg_tlv) -> Self {
        RegTlv {
            reserved0: t.reserved0,
            len: t.len,
            tlv_type: t.Type,
        }
    }
}

impl From<RegTlv> for reg_tlv {
    fn from(t: RegTlv) -> Self {
        reg_tlv {
            reserved0: t.reserved0,
            len: t.len,
            Type: t.tlv_type,
        }
    }
}

/// `p` as a reference, or EINVAL.
///
/// # Safety
/// `p` is NULL or valid for the call.
unsafe fn arg<'a, T, R>(p: *mut T, what: &str, ret: R) -> Outcome<&'a mut T, R> {
    // SAFETY: caller contract.
    unsafe { p.as_mut() }.ok_or_else(|| fail(ret, libc::EINVAL, format!("NULL {what}")))
}

/// The `n` bytes at `p`, or EINVAL.
///
/// # Safety
/// `p` is NULL or valid for `n` bytes of reads and writes.
unsafe fn bytes<'a, R>(p: *mut u8, n: usize, ret: R) -> Outcome<&'a mut [u8], R> {
    if p.is_null() {
        return Err(fail(ret, libc::EINVAL, "NULL buffer"));
    }
    // SAFETY: caller contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}

/// Write `text` to the C stream `out`.
///
/// # Safety
/// `out` is NULL or an open `FILE*`.
pub(crate) unsafe fn write_stream<R>(out: *mut libc::FILE, text: &str, ret: R) -> Outcome<(), R> {
    if out.is_null() {
        return Err(fail(ret, libc::EINVAL, "NULL output stream"));
    }
    // SAFETY: out is an open stream (caller contract); the bytes are valid for their length.
    let n = unsafe { libc::fwrite(text.as_ptr().cast(), 1, text.len(), out) };
    if n != text.len() {
        return Err(fail(ret, libc::EIO, "short write to the output stream"));
    }
    Ok(())
}

/// `int init_operation_tlv(struct OperationTlv* tlv, u_int16_t reg_id, u_int8_t method)`:
/// clear `*tlv` and set it up as an access-register operation (Type 1, class 1, len 4,
/// `method`, `register_id = reg_id`). Returns 0 (-1 with errno EINVAL for NULL).
///
/// # Safety
/// `operation_tlv` is NULL or points to a writable `struct OperationTlv`.
#[no_mangle]
pub unsafe extern "C" fn init_operation_tlv(
    operation_tlv: *mut OperationTlv,
    reg_id: u16,
    method: u8,
) -> c_int {
    call("init_operation_tlv", -1, || {
        // SAFETY: caller contract.
        let t = unsafe { arg(operation_tlv, "OperationTlv", -1) }?;
        *t = OpTlv::new(reg_id, method).into();
        Ok(0)
    })
}

/// `u_int32_t OperationTlv_pack(struct OperationTlv* data, u_int8_t* buffer)`: write the 16
/// packed bytes; returns 16 (0 with errno EINVAL for NULL).
///
/// # Safety
/// `data_to_pack` NULL or valid; `packed_buffer` NULL or writable for 16 bytes.
#[no_mangle]
pub unsafe extern "C" fn OperationTlv_pack(
    data_to_pack: *mut OperationTlv,
    packed_buffer: *mut u8,
) -> u32 {
    call("OperationTlv_pack", 0, || {
        // SAFETY: caller contract.
        let t = unsafe { arg(data_to_pack, "OperationTlv", 0) }?;
        // SAFETY: caller contract.
        let b = unsafe { bytes(packed_buffer, TLV_OPERATION_SIZE_BYTES, 0) }?;
        Ok(OpTlv::from(&*t).pack(b))
    })
}

/// `void OperationTlv_unpack(struct OperationTlv* data, u_int8_t* buffer)`: read the fields
/// from 16 packed bytes (errno EINVAL for NULL).
///
/// # Safety
/// `unpacked_data` NULL or writable; `buffer_to_unpack` NULL or readable for 16 bytes.
#[no_mangle]
pub unsafe extern "C" fn OperationTlv_unpack(
    unpacked_data: *mut OperationTlv,
    buffer_to_unpack: *mut u8,
) {
    call("OperationTlv_unpack", (), || {
        // SAFETY: caller contract.
        let t = unsafe { arg(unpacked_data, "OperationTlv", ()) }?;
        // SAFETY: caller contract.
        let b = unsafe { bytes(buffer_to_unpack, TLV_OPERATION_SIZE_BYTES, ()) }?;
        *t = OpTlv::unpack(b).into();
        Ok(())
    })
}

/// `void OperationTlv_dump(struct OperationTlv* data, FILE* out)`: one
/// `OperationTlv::<field>: <decimal>` line per field.
///
/// # Safety
/// `data_to_print` NULL or valid; `out_port` NULL or an open stream.
#[no_mangle]
pub unsafe extern "C" fn OperationTlv_dump(
    data_to_print: *mut OperationTlv,
    out_port: *mut libc::FILE,
) {
    call("OperationTlv_dump", (), || {
        // SAFETY: caller contract.
        let t = unsafe { arg(data_to_print, "OperationTlv", ()) }?;
        // SAFETY: caller contract.
        unsafe { write_stream(out_port, &OpTlv::from(&*t).dump(), ()) }
    })
}

/// `int init_reg_tlv(struct reg_tlv* tlv, u_int32_t reg_size)`: clear `*tlv` and set it up
/// as the header of a `reg_size`-byte register (Type 3, len `(reg_size + 4) / 4` dwords).
/// Returns 0 (-1 with errno EINVAL for NULL).
///
/// # Safety
/// `tlv_info` is NULL or points to a writable `struct reg_tlv`.
#[no_mangle]
pub unsafe extern "C" fn init_reg_tlv(tlv_info: *mut reg_tlv, reg_size: u32) -> c_int {
    call("init_reg_tlv", -1, || {
        // SAFETY: caller contract.
        let t = unsafe { arg(tlv_info, "reg_tlv", -1) }?;
        *t = RegTlv::new(reg_size).into();
        Ok(0)
    })
}

/// `u_int32_t reg_tlv_pack(struct reg_tlv* data, u_int8_t* buffer)`: write the 4 packed
/// bytes; returns 4 (0 with errno EINVAL for NULL).
///
/// # Safety
/// `data_to_pack` NULL or valid; `packed_buffer` NULL or writable for 4 bytes.
#[no_mangle]
pub unsafe extern "C" fn reg_tlv_pack(data_to_pack: *mut reg_tlv, packed_buffer: *mut u8) -> u32 {
    call("reg_tlv_pack", 0, || {
        // SAFETY: caller contract.
        let t = unsafe { arg(data_to_pack, "reg_tlv", 0) }?;
        // SAFETY: caller contract.
        let b = unsafe { bytes(packed_buffer, REG_TLV_HEADER_SIZE_BYTES, 0) }?;
        Ok(RegTlv::from(&*t).pack(b))
    })
}

/// `void reg_tlv_unpack(struct reg_tlv* data, u_int8_t* buffer)`: read the fields from 4
/// packed bytes (errno EINVAL for NULL).
///
/// # Safety
/// `unpacked_data` NULL or writable; `buffer_to_unpack` NULL or readable for 4 bytes.
#[no_mangle]
pub unsafe extern "C" fn reg_tlv_unpack(unpacked_data: *mut reg_tlv, buffer_to_unpack: *mut u8) {
    call("reg_tlv_unpack", (), || {
        // SAFETY: caller contract.
        let t = unsafe { arg(unpacked_data, "reg_tlv", ()) }?;
        // SAFETY: caller contract.
        let b = unsafe { bytes(buffer_to_unpack, REG_TLV_HEADER_SIZE_BYTES, ()) }?;
        *t = RegTlv::unpack(b).into();
        Ok(())
    })
}

/// `void reg_tlv_dump(struct reg_tlv* data, FILE* out)`: one `reg_tlv::<field>: <decimal>`
/// line per field.
///
/// # Safety
/// `data_to_print` NULL or valid; `out_port` NULL or an open stream.
#[no_mangle]
pub unsafe extern "C" fn reg_tlv_dump(data_to_print: *mut reg_tlv, out_port: *mut libc::FILE) {
    call("reg_tlv_dump", (), || {
        // SAFETY: caller contract.
        let t = unsafe { arg(data_to_print, "reg_tlv", ()) }?;
        // SAFETY: caller contract.
        unsafe { write_stream(out_port, &RegTlv::from(&*t).dump(), ()) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;

    fn errno() -> i32 {
        // SAFETY: this thread's errno.
        unsafe { *libc::__errno_location() }
    }

    #[test]
    fn round_trip_through_c_structs() {
        let mut op = OperationTlv::default();
        let mut b = [0u8; 16];
        let mut rt = reg_tlv::default();
        // SAFETY: valid pointers of the right sizes.
        unsafe {
            assert_eq!(init_operation_tlv(&mut op, 0x9020, 1), 0);
            assert_eq!(
                (op.Type, op.tlv_class, op.len, op.method, op.register_id),
                (1, 1, 4, 1, 0x9020)
            );
            assert_eq!(OperationTlv_pack(&mut op, b.as_mut_ptr()), 16);
            assert_eq!(
                b,
                [0x08, 0x04, 0, 0, 0x90, 0x20, 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]
            );
            let mut back = OperationTlv::default();
            b[2] = 0x04; // firmware status 4
            OperationTlv_unpack(&mut back, b.as_mut_ptr());
            assert_eq!(back.status, 4);
            back.status = 0;
            assert_eq!(back, op);

            assert_eq!(init_reg_tlv(&mut rt, 0x10), 0);
            assert_eq!((rt.Type, rt.len, rt.reserved0), (3, 5, 0));
            assert_eq!(reg_tlv_pack(&mut rt, b.as_mut_ptr()), 4);
            assert_eq!(b[..4], [0x18, 0x05, 0, 0]);
            let mut back = reg_tlv::default();
            reg_tlv_unpack(&mut back, b.as_mut_ptr());
            assert_eq!(back, rt);
        }
    }

    #[test]
    fn dump_to_stream() {
        let mut rt = reg_tlv {
            reserved0: 0,
            len: 2,
            Type: 3,
        };
        let mut op = OperationTlv::default();
        let mut buf = [0u8; 512];
        // SAFETY: fmemopen over a live buffer; the stream is closed before the buffer is read.
        unsafe {
            let f = libc::fmemopen(buf.as_mut_ptr().cast(), buf.len(), c"w".as_ptr());
            assert!(!f.is_null());
            reg_tlv_dump(&mut rt, f);
            OperationTlv_dump(&mut op, f);
            libc::fclose(f);
        }
        let s = std::ffi::CStr::from_bytes_until_nul(&buf)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(s.starts_with("reg_tlv::reserved0: 0\nreg_tlv::len: 2\nreg_tlv::Type: 3\nOperationTlv::reserved0: 0\n"), "{s}");
        assert!(s.ends_with("OperationTlv::tid: 0\n"), "{s}");
    }

    #[test]
    fn null_arguments() {
        let mut op = OperationTlv::default();
        let mut rt = reg_tlv::default();
        let mut b = [0u8; 16];
        // SAFETY: NULL is accepted for every pointer.
        unsafe {
            crate::ffi::boundary::set_errno(0);
            assert_eq!(init_operation_tlv(null_mut(), 1, 1), -1);
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(init_reg_tlv(null_mut(), 4), -1);
            assert_eq!(OperationTlv_pack(null_mut(), b.as_mut_ptr()), 0);
            assert_eq!(OperationTlv_pack(&mut op, null_mut()), 0);
            assert_eq!(reg_tlv_pack(null_mut(), b.as_mut_ptr()), 0);
            assert_eq!(reg_tlv_pack(&mut rt, null_mut()), 0);
            OperationTlv_unpack(null_mut(), b.as_mut_ptr());
            OperationTlv_unpack(&mut op, null_mut());
            reg_tlv_unpack(null_mut(), b.as_mut_ptr());
            reg_tlv_unpack(&mut rt, null_mut());
            OperationTlv_dump(null_mut(), null_mut());
            OperationTlv_dump(&mut op, null_mut());
            reg_tlv_dump(&mut rt, null_mut());
            assert_eq!(errno(), libc::EINVAL);
        }
        assert_eq!(op, OperationTlv::default());
        assert_eq!(rt, reg_tlv::default());
    }
}
