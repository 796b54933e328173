//! The two 16-bit checksums firmware images use.
//!
//! * [`sw_crc16`]: the "software" CRC the tools compute over big-endian dwords: polynomial
//!   0x100b, register preset to 0xffff, each dword fed most significant bit first, then 16
//!   zero bits flushed through, and the result inverted. Section, ITOC entry, tools area and
//!   BOOT2 checksums are this one.
//! * [`hw_crc16`]: the checksum the hardware computes over a byte string (the HW pointers):
//!   a reflected CRC-16 with polynomial 0xd008 (0x100b bit-reversed), preset 0xffff, the
//!   first two input bytes inverted, and the two result bytes swapped.

/// Software CRC over `dwords` (host values of the big-endian dwords of the image).
pub fn sw_crc16(dwords: impl IntoIterator<Item = u32>) -> u16 {
    let mut crc: u32 = 0xffff;
    let mut push = |bit: u32| {
        let top = crc & 0x8000;
        crc = ((crc << 1) | bit) & 0xffff;
        if top != 0 {
            crc ^= 0x100b;
        }
    };
    for d in dwords {
        for i in (0..32).rev() {
            push((d >> i) & 1);
        }
    }
    for _ in 0..16 {
        push(0);
    }
    (crc ^ 0xffff) as u16
}

/// Software CRC over a byte buffer read as big-endian dwords (length a multiple of 4; a
/// trailing partial dword is ignored).
pub fn sw_crc16_bytes(bytes: &[u8]) -> u16 {
    sw_crc16(
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
    )
}

const fn hw_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u16;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xd008
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static HW_TABLE: [u16; 256] = hw_table();

/// Hardware CRC over `bytes` (a HW pointer entry: the 4 pointer bytes and the 2 reserved
/// bytes that precede the CRC field).
pub fn hw_crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    for (i, &b) in bytes.iter().enumerate() {
        let b = if i < 2 { !b } else { b };
        crc = (crc >> 8) ^ HW_TABLE[((crc ^ u16::from(b)) & 0xff) as usize];
    }
    crc.swap_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hw_table_matches_the_reflected_polynomial() {
        // Entry 1 and entry 0x80 pin the polynomial and its bit order.
        assert_eq!(HW_TABLE[0], 0);
        assert_eq!(HW_TABLE[1], 0x1ba1);
        assert_eq!(HW_TABLE[0x80], 0xd008);
    }

    #[test]
    fn sw_crc_properties() {
        // Different data, different CRC; the empty input is the flushed, inverted preset.
        assert_ne!(sw_crc16([0u32]), sw_crc16([1u32]));
        assert_eq!(sw_crc16_bytes(&[0, 0, 0, 1]), sw_crc16([1u32]));
        // Appending the CRC (as the low half of a dword, high half zero) is not a fixpoint
        // trick the tools rely on; just check determinism and width.
        let a = sw_crc16([0x4954_4f43, 0x0408_1516]);
        assert_eq!(a, sw_crc16([0x4954_4f43, 0x0408_1516]));
        // One flipped bit anywhere changes the CRC.
        for bit in 0..64 {
            let mut d = [0x1234_5678u32, 0x9abc_def0];
            d[bit / 32] ^= 1 << (bit % 32);
            assert_ne!(sw_crc16(d), sw_crc16([0x1234_5678u32, 0x9abc_def0]));
        }
    }

    #[test]
    fn hw_crc_sensitivity() {
        let base = hw_crc16(&[0, 0, 0x10, 0, 0, 0]);
        assert_ne!(base, hw_crc16(&[0, 0, 0x10, 1, 0, 0]));
        assert_ne!(base, hw_crc16(&[1, 0, 0x10, 0, 0, 0]));
    }
}
