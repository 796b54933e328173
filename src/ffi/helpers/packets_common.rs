//! `packets_common.h`: big-endian bit-field helpers over raw buffers
//! ([`crate::proto::packets`] does the work). The buffer must hold the bytes the field touches;
//! a NULL buffer sets errno EINVAL (the `pop_*` functions then return 0).

use std::os::raw::c_int;

use crate::ffi::boundary::{call, fail, Outcome};
use crate::proto::packets;

/// The bytes `[0, n)` of `buff`, or EINVAL for NULL.
///
/// # Safety
/// `buff` is NULL or valid for `n` bytes.
unsafe fn buf<'a, R>(buff: *mut u8, n: usize, ret: R) -> Outcome<&'a mut [u8], R> {
    if buff.is_null() {
        return Err(fail(ret, libc::EINVAL, "NULL buffer"));
    }
    // SAFETY: caller contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(buff, n) })
}

/// Bytes a whole word of `width` bytes at bit `bit_offset` reaches.
fn word_end(bit_offset: u32, width: usize) -> usize {
    (bit_offset / 8) as usize + width
}

/// `void push_to_buff_64(u_int8_t* buff, u_int32_t bit_offset, u_int64_t value)`: store
/// `value` at byte `bit_offset / 8` in host byte order (upstream's library, as built, does not
/// swap 64-bit fields).
///
/// # Safety
/// `buff` NULL or writable up to byte `bit_offset / 8 + 8`.
#[no_mangle]
pub unsafe extern "C" fn push_to_buff_64(buff: *mut u8, bit_offset: u32, field_value: u64) {
    call("push_to_buff_64", (), || {
        // SAFETY: caller contract.
        let b = unsafe { buf(buff, word_end(bit_offset, 8), ()) }?;
        packets::push64(b, bit_offset, field_value);
        Ok(())
    })
}

/// `void push_to_buff_32(u_int8_t* buff, u_int32_t bit_offset, u_int32_t value)`: store
/// `value` big-endian at byte `bit_offset / 8`.
///
/// # Safety
/// `buff` NULL or writable up to byte `bit_offset / 8 + 4`.
#[no_mangle]
pub unsafe extern "C" fn push_to_buff_32(buff: *mut u8, bit_offset: u32, field_value: u32) {
    call("push_to_buff_32", (), || {
        // SAFETY: caller contract.
        let b = unsafe { buf(buff, word_end(bit_offset, 4), ()) }?;
        packets::push32(b, bit_offset, field_value);
        Ok(())
    })
}

/// `void push_to_buff(u_int8_t* buff, u_int32_t bit_offset, u_int32_t field_size,
/// u_int32_t field_value)`: store the low `field_size` bits of `field_value` at bit
/// `bit_offset` (bit 0 = most significant bit of byte 0); other bits are kept.
///
/// # Safety
/// `buff` NULL or writable for the bytes the field touches.
#[no_mangle]
pub unsafe extern "C" fn push_to_buff(
    buff: *mut u8,
    bit_offset: u32,
    field_size: u32,
    field_value: u32,
) {
    call("push_to_buff", (), || {
        // SAFETY: caller contract.
        let b = unsafe { buf(buff, packets::bytes_needed(bit_offset, field_size), ()) }?;
        packets::push(b, bit_offset, field_size, field_value);
        Ok(())
    })
}

/// `u_int64_t pop_from_buff_64(u_int8_t* buff, u_int32_t bit_offset)`: the 64-bit word at
/// byte `bit_offset / 8`, in host byte order (as upstream's library).
///
/// # Safety
/// `buff` NULL or readable up to byte `bit_offset / 8 + 8`.
#[no_mangle]
pub unsafe extern "C" fn pop_from_buff_64(buff: *mut u8, bit_offset: u32) -> u64 {
    call("pop_from_buff_64", 0, || {
        // SAFETY: caller contract.
        let b = unsafe { buf(buff, word_end(bit_offset, 8), 0) }?;
        Ok(packets::pop64(b, bit_offset))
    })
}

/// `u_int32_t pop_from_buff_32(u_int8_t* buff, u_int32_t bit_offset)`: the big-endian 32-bit
/// word at byte `bit_offset / 8`.
///
/// # Safety
/// `buff` NULL or readable up to byte `bit_offset / 8 + 4`.
#[no_mangle]
pub unsafe extern "C" fn pop_from_buff_32(buff: *mut u8, bit_offset: u32) -> u32 {
    call("pop_from_buff_32", 0, || {
        // SAFETY: caller contract.
        let b = unsafe { buf(buff, word_end(bit_offset, 4), 0) }?;
        Ok(packets::pop32(b, bit_offset))
    })
}

/// `u_int32_t pop_from_buff(const u_int8_t* buff, u_int32_t bit_offset, u_int32_t
/// field_size)`: the `field_size`-bit field at bit `bit_offset`.
///
/// # Safety
/// `buff` NULL or readable for the bytes the field touches.
#[no_mangle]
pub unsafe extern "C" fn pop_from_buff(buff: *const u8, bit_offset: u32, field_size: u32) -> u32 {
    call("pop_from_buff", 0, || {
        if buff.is_null() {
            return Err(fail(0, libc::EINVAL, "NULL buffer"));
        }
        // SAFETY: caller contract (read only).
        let b = unsafe {
            std::slice::from_raw_parts(buff, packets::bytes_needed(bit_offset, field_size))
        };
        Ok(packets::pop(b, bit_offset, field_size))
    })
}

/// `u_int32_t calc_array_field_offset(u_int32_t start_bit_offset, u_int32_t arr_elemnt_size,
/// int arr_idx, u_int32_t parent_node_size, int is_big_endian_arr)`: the bit offset of
/// element `arr_idx` of an array field in the layout tools' numbering. Elements wider than 32
/// bits that are not whole dwords get a warning on stderr, as upstream.
#[no_mangle]
pub extern "C" fn calc_array_field_offset(
    start_bit_offset: u32,
    arr_elemnt_size: u32,
    arr_idx: c_int,
    parent_node_size: u32,
    is_big_endian_arr: c_int,
) -> u32 {
    call("calc_array_field_offset", 0, || {
        let (off, unaligned) = packets::array_field_offset(
            start_bit_offset,
            arr_elemnt_size,
            arr_idx,
            parent_node_size,
            is_big_endian_arr != 0,
        );
        if unaligned {
            eprintln!(
                "\n-W- array element of {arr_elemnt_size} bits is not a whole number of dwords"
            );
        }
        Ok(off)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;

    #[test]
    fn through_the_c_entry_points() {
        let mut b = [0u8; 16];
        // SAFETY: b is large enough for every access below.
        unsafe {
            push_to_buff(b.as_mut_ptr(), 5, 11, 0x123);
            assert_eq!(b[..2], [0x01, 0x23]);
            assert_eq!(pop_from_buff(b.as_ptr(), 5, 11), 0x123);
            push_to_buff_32(b.as_mut_ptr(), 32, 0xa1b2c3d4);
            assert_eq!(b[4..8], [0xa1, 0xb2, 0xc3, 0xd4]);
            assert_eq!(pop_from_buff_32(b.as_mut_ptr(), 32), 0xa1b2c3d4);
            push_to_buff_64(b.as_mut_ptr(), 64, 0x0102030405060708);
            assert_eq!(b[8..], 0x0102030405060708u64.to_ne_bytes());
            assert_eq!(pop_from_buff_64(b.as_mut_ptr(), 64), 0x0102030405060708);
        }
        assert_eq!(calc_array_field_offset(0, 8, 1, 32, 0), 16);
        assert_eq!(calc_array_field_offset(24, 8, 1, 64, 1), 8);
    }

    #[test]
    fn null_buffers() {
        // SAFETY: NULL is accepted.
        unsafe {
            crate::ffi::boundary::set_errno(0);
            push_to_buff(null_mut(), 0, 8, 1);
            assert_eq!(*libc::__errno_location(), libc::EINVAL);
            push_to_buff_32(null_mut(), 0, 1);
            push_to_buff_64(null_mut(), 0, 1);
            assert_eq!(pop_from_buff(std::ptr::null(), 0, 8), 0);
            assert_eq!(pop_from_buff_32(null_mut(), 0), 0);
            assert_eq!(pop_from_buff_64(null_mut(), 0), 0);
        }
    }
}
