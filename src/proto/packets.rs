//! Bit-field packing in mstflint's big-endian packet layouts (the `push_to_buff*` /
//! `pop_from_buff*` family of `packets_common.h`).
//!
//! Bit offsets count from the most significant bit of byte 0: bit 0 is the top bit of the
//! first byte, bit 8 the top bit of the second. A field of `size` bits at `offset` occupies
//! bits `offset .. offset + size`, most significant bit first. The 32-bit variants store a
//! whole big-endian word at byte `offset / 8` (the bit remainder is ignored, as in the stock
//! library). The 64-bit variants store the word in host byte order: upstream's byte-order
//! switch for them is commented out in its `packets_common.h`, so its library (v4.36, as
//! built) neither swaps on store nor on load, and this library keeps that.

/// Bytes a field of `size` bits at bit `offset` touches (from byte 0).
pub(crate) fn bytes_needed(offset: u32, size: u32) -> usize {
    ((u64::from(offset) + u64::from(size)).div_ceil(8)) as usize
}

/// The pieces of a field of `size` bits at bit `offset`, one per byte it touches, most
/// significant first: (byte index, bit position of the piece's lowest bit in its byte, its
/// bit count n, the field's bits below it — the n bits of the field just below the ones
/// already done).
fn pieces(offset: u32, size: u32) -> impl Iterator<Item = (usize, u32, u32, u32)> {
    let mut done = 0u32;
    let mut byte = (offset / 8) as usize;
    let mut bit_in_byte = offset % 8;
    std::iter::from_fn(move || {
        if done >= size {
            return None;
        }
        let n = (8 - bit_in_byte).min(size - done);
        done += n;
        let piece = (byte, 8 - n - bit_in_byte, n, size - done);
        bit_in_byte = 0;
        byte += 1;
        Some(piece)
    })
}

/// Store the low `size` bits of `value` at bit `offset`. Bits above 32 of a field wider than
/// 32 bits are zero. `buf` must hold [`bytes_needed`]`(offset, size)` bytes.
pub(crate) fn push(buf: &mut [u8], offset: u32, size: u32, value: u32) {
    let value = u64::from(value);
    for (byte, pos, n, shift) in pieces(offset, size) {
        let chunk = if shift >= 64 {
            0
        } else {
            ((value >> shift) & ((1 << n) - 1)) as u8
        };
        let mask = (((1u16 << n) - 1) << pos) as u8;
        buf[byte] = (buf[byte] & !mask) | (chunk << pos);
    }
}

/// The `size`-bit field at bit `offset` (the low 32 bits of it if wider). `buf` must hold
/// [`bytes_needed`]`(offset, size)` bytes.
pub(crate) fn pop(buf: &[u8], offset: u32, size: u32) -> u32 {
    let mut v = 0u64;
    for (byte, pos, n, shift) in pieces(offset, size) {
        let chunk = u64::from((buf[byte] >> pos) & (((1u16 << n) - 1) as u8));
        if shift < 64 {
            v |= chunk << shift;
        }
    }
    v as u32
}

/// Store `value` big-endian at byte `offset / 8` (4 bytes).
pub(crate) fn push32(buf: &mut [u8], offset: u32, value: u32) {
    let at = (offset / 8) as usize;
    buf[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// Store `value` in host byte order at byte `offset / 8` (8 bytes), as upstream does.
pub(crate) fn push64(buf: &mut [u8], offset: u32, value: u64) {
    let at = (offset / 8) as usize;
    buf[at..at + 8].copy_from_slice(&value.to_ne_bytes());
}

/// The big-endian 32-bit word at byte `offset / 8`.
pub(crate) fn pop32(buf: &[u8], offset: u32) -> u32 {
    let at = (offset / 8) as usize;
    let mut w = [0u8; 4];
    w.copy_from_slice(&buf[at..at + 4]);
    u32::from_be_bytes(w)
}

/// The 64-bit word in host byte order at byte `offset / 8`, as upstream reads it.
pub(crate) fn pop64(buf: &[u8], offset: u32) -> u64 {
    let at = (offset / 8) as usize;
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// Bit offset of element `idx` of an array field (`calc_array_field_offset`): `start` is the
/// offset of element 0 as the layout tools describe it (little-endian bit numbering within a
/// dword), `elem` the element size in bits, `parent` the size of the enclosing node in bits.
/// Elements wider than 32 bits are simply consecutive (`warn_unaligned` is then true when
/// the element is not a whole number of dwords). Arithmetic wraps as the stock unsigned code
/// does.
pub(crate) fn array_field_offset(
    start: u32,
    elem: u32,
    idx: i32,
    parent: u32,
    big_endian_arr: bool,
) -> (u32, bool) {
    let idx = idx as u32;
    if elem > 32 {
        return (
            start.wrapping_add(elem.wrapping_mul(idx)),
            !elem.is_multiple_of(32),
        );
    }
    let offs = if big_endian_arr {
        let o = start.wrapping_sub(elem.wrapping_mul(idx));
        let dword_delta = ((start >> 5) << 2).wrapping_sub((o >> 5) << 2) / 4;
        o.wrapping_add(64u32.wrapping_mul(dword_delta))
    } else {
        start.wrapping_add(elem.wrapping_mul(idx))
    };
    let r = parent
        .min(32)
        .wrapping_sub(offs % 32)
        .wrapping_sub(elem)
        .wrapping_add((offs >> 5) << 5);
    (r, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pop_bit_fields() {
        let mut b = [0u8; 4];
        // 5 bits at 0, 11 at 5, 1 at 16, 7 at 17, 8 at 24: one big-endian dword
        push(&mut b, 0, 5, 0x1f);
        assert_eq!(b, [0xf8, 0, 0, 0]);
        push(&mut b, 5, 11, 0x4);
        assert_eq!(b, [0xf8, 0x04, 0, 0]);
        push(&mut b, 5, 11, 0x7ff);
        assert_eq!(b, [0xff, 0xff, 0, 0]);
        push(&mut b, 16, 1, 1);
        push(&mut b, 17, 7, 0x05);
        push(&mut b, 24, 8, 0xab);
        assert_eq!(b, [0xff, 0xff, 0x85, 0xab]);
        assert_eq!(pop(&b, 0, 5), 0x1f);
        assert_eq!(pop(&b, 5, 11), 0x7ff);
        assert_eq!(pop(&b, 16, 1), 1);
        assert_eq!(pop(&b, 17, 7), 5);
        assert_eq!(pop(&b, 24, 8), 0xab);
        assert_eq!(pop(&b, 0, 32), 0xffff85ab);
        // only the field's bits change, extra value bits are dropped
        push(&mut b, 17, 7, 0xff00);
        assert_eq!(b, [0xff, 0xff, 0x80, 0xab]);
        push(&mut b, 0, 32, 0x12345678);
        assert_eq!(b, [0x12, 0x34, 0x56, 0x78]);
        assert_eq!(pop(&b, 4, 16), 0x2345);
        assert_eq!(bytes_needed(4, 16), 3);
        assert_eq!(bytes_needed(0, 0), 0);
    }

    #[test]
    fn wide_fields_keep_low_32_bits() {
        let mut b = [0u8; 8];
        push(&mut b, 0, 40, 0xaabbccdd);
        assert_eq!(b, [0, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0]);
        assert_eq!(pop(&b, 0, 40), 0xaabbccdd);
        b[0] = 0xff;
        assert_eq!(pop(&b, 0, 40), 0xaabbccdd);
    }

    #[test]
    fn words() {
        let mut b = [0u8; 12];
        push32(&mut b, 0, 0x01020304);
        push64(&mut b, 32, 0x1122334455667788);
        assert_eq!(b[..4], [1, 2, 3, 4]);
        assert_eq!(b[4..], 0x1122334455667788u64.to_ne_bytes());
        assert_eq!(pop32(&b, 0), 0x01020304);
        assert_eq!(pop32(&b, 7), 0x01020304); // bit remainder ignored
        assert_eq!(pop64(&b, 32), 0x1122334455667788);
    }

    #[test]
    fn array_offsets() {
        // 8-bit elements, little-endian numbering in a 32-bit node: element 0 at bits 24..32
        assert_eq!(array_field_offset(0, 8, 0, 32, false), (24, false));
        assert_eq!(array_field_offset(0, 8, 1, 32, false), (16, false));
        assert_eq!(array_field_offset(0, 8, 4, 64, false), (56, false));
        // big-endian array: element 0 at the top of the dword, the next one below
        assert_eq!(array_field_offset(24, 8, 0, 64, true), (0, false));
        assert_eq!(array_field_offset(24, 8, 1, 64, true), (8, false));
        assert_eq!(array_field_offset(24, 8, 4, 64, true), (32, false));
        // wide elements: consecutive
        assert_eq!(array_field_offset(64, 64, 2, 512, false), (192, false));
        assert_eq!(array_field_offset(0, 48, 1, 512, false), (48, true));
    }
}
