//! The device's SPI NOR flash and the flash access registers the firmware serves for it
//! (MFPA 0x9010, MFBA 0x9011, MFBE 0x9012, MFMC 0x9013), as the tools reach them through
//! ACCESS_REGISTER while the firmware runs (crspace "cache replacement" active).
//!
//! NOR semantics: an erase sets a 4 KiB sector (or a 32/64 KiB block) to 0xff; programming
//! can only clear bits (new = old AND data), and a program must not cross a 256-byte page.
//! The content may be backed by a file (`firmware.flash_file`): every change is written
//! through, so the flash outlives the simulator run.
//!
//! Register layouts (big-endian dwords, bit 31 = MSB):
//! * MFPA (32 bytes): fs 5:4 of dword 0; boot_address dword 1; dword 4: flash_num 3:0,
//!   sub/sector write-protect capability 16/17, bulk 64 KiB / 32 KiB erase support 29/30,
//!   wip 31; jedec_id 23:0 of dword 5 (manufacturer in bits 7:0, then type, then capacity);
//!   dword 6: sector size 9:0 (log2 of KiB), block alignment 23:16 (log2), block size 31:24;
//!   capability mask dword 7 (bit 17: quad enable through MFMC).
//! * MFBA (12 bytes + data): fs; size 8:0 of dword 1; address dword 2; data from dword 3.
//!   A data dword holds flash bytes b0..b3 as the value b0 | b1 << 8 | b2 << 16 | b3 << 24.
//! * MFBE (12 bytes): fs; bulk 64 KiB 29, bulk 32 KiB 30 of dword 0; address dword 2.
//! * MFMC (28 bytes): fs; write protect (dword 1: block count 7:0, block size 17:16, enable
//!   31); protect sizes (dword 2); quad_en bit 24 of dword 4; dummy cycles 3:0 of dword 6.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::registers::{ST_BAD_PARAM, ST_OK, ST_REG_NOT_SUPP};

pub const REG_MFPA: u16 = 0x9010;
pub const REG_MFBA: u16 = 0x9011;
pub const REG_MFBE: u16 = 0x9012;
pub const REG_MFMC: u16 = 0x9013;

/// Register sizes in bytes (MFBA: its header; the data follows, up to [`MFBA_MAX_DATA`]).
pub const MFPA_SIZE: usize = 0x20;
pub const MFBA_HEADER: usize = 0xc;
pub const MFBE_SIZE: usize = 0xc;
pub const MFMC_SIZE: usize = 0x1c;
pub const MFBA_MAX_DATA: usize = 256;

pub const SECTOR_SIZE: usize = 0x1000;
pub const PAGE_SIZE: usize = 0x100;
/// Winbond W25Q-series manufacturer / memory type; the capacity byte is log2 of the size.
pub const JEDEC_MANUFACTURER: u32 = 0xef;
pub const JEDEC_TYPE: u32 = 0x40;

/// Smallest and largest flash the model accepts (the tools know W25Q parts of these sizes).
pub const MIN_FLASH_SIZE: usize = 1 << 20;
pub const MAX_FLASH_SIZE: usize = 16 << 20;

pub(crate) struct Flash {
    data: Vec<u8>,
    file: Option<File>,
    boot_address: u32,
    quad_en: bool,
    wrp: u32,
    dummy_cycles: u8,
    /// Operations served (reads, programs, erases), for tests.
    pub ops: [u64; 3],
}

/// Whether `size` is a flash size the model accepts.
pub fn valid_size(size: usize) -> bool {
    size.is_power_of_two() && (MIN_FLASH_SIZE..=MAX_FLASH_SIZE).contains(&size)
}

impl Flash {
    /// A flash holding `data` (its length is the flash size), optionally written through
    /// to `file` (which must already hold the same content).
    pub fn new(data: Vec<u8>, file: Option<File>) -> Result<Flash, String> {
        if !valid_size(data.len()) {
            return Err(format!(
                "flash size {:#x}: want a power of two from 1 MiB to 16 MiB",
                data.len()
            ));
        }
        Ok(Flash {
            data,
            file,
            boot_address: 0,
            quad_en: true,
            wrp: 0,
            dummy_cycles: 8,
            ops: [0; 3],
        })
    }

    #[cfg(test)]
    pub fn size(&self) -> usize {
        self.data.len()
    }

    pub fn contents(&self) -> &[u8] {
        &self.data
    }

    /// JEDEC id as the MFPA register carries it (manufacturer in the low byte).
    pub fn jedec_id(&self) -> u32 {
        let capacity = self.data.len().trailing_zeros();
        JEDEC_MANUFACTURER | JEDEC_TYPE << 8 | capacity << 16
    }

    fn in_range(&self, addr: usize, len: usize) -> bool {
        addr.checked_add(len).is_some_and(|e| e <= self.data.len())
    }

    pub fn read(&mut self, addr: usize, out: &mut [u8]) -> Result<(), ()> {
        if !self.in_range(addr, out.len()) {
            return Err(());
        }
        out.copy_from_slice(&self.data[addr..addr + out.len()]);
        self.ops[0] += 1;
        Ok(())
    }

    /// Page program: inside one 256-byte page; bits can only go from 1 to 0.
    pub fn program(&mut self, addr: usize, bytes: &[u8]) -> Result<(), ()> {
        if bytes.is_empty()
            || !self.in_range(addr, bytes.len())
            || addr / PAGE_SIZE != (addr + bytes.len() - 1) / PAGE_SIZE
        {
            return Err(());
        }
        for (d, s) in self.data[addr..addr + bytes.len()].iter_mut().zip(bytes) {
            *d &= *s;
        }
        self.persist(addr, bytes.len());
        self.ops[1] += 1;
        Ok(())
    }

    /// Erase `len` bytes (4 KiB, 32 KiB or 64 KiB) at an address aligned to `len`.
    pub fn erase(&mut self, addr: usize, len: usize) -> Result<(), ()> {
        if addr & (len - 1) != 0 || !self.in_range(addr, len) {
            return Err(());
        }
        self.data[addr..addr + len].fill(0xff);
        self.persist(addr, len);
        self.ops[2] += 1;
        Ok(())
    }

    fn persist(&mut self, addr: usize, len: usize) {
        if let Some(f) = &self.file {
            if let Err(e) = f.write_all_at(&self.data[addr..addr + len], addr as u64) {
                log::warn!("flash file write at {addr:#x}: {e}");
            }
        }
    }

    /// GET of a flash register into `out` (its first `input.len()` dwords are the request).
    pub fn reg_get(&mut self, id: u16, input: &[u32], out: &mut [u32]) -> u32 {
        let fs = (input[0] >> 4) & 3;
        if fs != 0 {
            return ST_BAD_PARAM;
        }
        match id {
            REG_MFPA => {
                out[0] = fs << 4;
                out[1] = self.boot_address;
                // One flash; 64 KiB and 32 KiB bulk erase.
                out[4] = 1 << 29 | 1 << 30 | 1;
                out[5] = self.jedec_id();
                // Sector 4 KiB (log2 of KiB), block alignment 2^7, block size 128.
                out[6] = 128 << 24 | 7 << 16 | 2;
                out[7] = 1 << 17;
                ST_OK
            }
            REG_MFBA => {
                let size = (input[1] & 0x1ff) as usize;
                let addr = input[2] as usize;
                let avail = (out.len().saturating_sub(3)) * 4;
                if size == 0 || size & 3 != 0 || size > MFBA_MAX_DATA || size > avail {
                    return ST_BAD_PARAM;
                }
                let mut buf = vec![0u8; size];
                if self.read(addr, &mut buf).is_err() {
                    return ST_BAD_PARAM;
                }
                out[..3].copy_from_slice(&input[..3]);
                for (i, c) in buf.chunks_exact(4).enumerate() {
                    out[3 + i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
                ST_OK
            }
            REG_MFMC => {
                out[0] = fs << 4;
                out[1] = self.wrp;
                // Protect sizes: sector 64 KiB (2^4 x 4 KiB), sub-sector 4 KiB.
                out[2] = 4 << 8;
                out[4] = u32::from(self.quad_en) << 24;
                out[6] = u32::from(self.dummy_cycles);
                ST_OK
            }
            // MFBE is write-only.
            REG_MFBE => super::registers::ST_METHOD_NOT_SUPP,
            _ => ST_REG_NOT_SUPP,
        }
    }

    /// SET of a flash register.
    pub fn reg_set(&mut self, id: u16, data: &[u32]) -> u32 {
        let fs = (data[0] >> 4) & 3;
        if fs != 0 {
            return ST_BAD_PARAM;
        }
        match id {
            REG_MFPA => {
                let a = data[1];
                if a as usize >= self.data.len() {
                    return ST_BAD_PARAM;
                }
                self.boot_address = a;
                ST_OK
            }
            REG_MFBA => {
                let size = (data[1] & 0x1ff) as usize;
                let addr = data[2] as usize;
                let avail = (data.len().saturating_sub(3)) * 4;
                if size == 0 || size & 3 != 0 || size > MFBA_MAX_DATA || size > avail {
                    return ST_BAD_PARAM;
                }
                let bytes: Vec<u8> = data[3..3 + size / 4]
                    .iter()
                    .flat_map(|d| d.to_le_bytes())
                    .collect();
                match self.program(addr, &bytes) {
                    Ok(()) => ST_OK,
                    Err(()) => ST_BAD_PARAM,
                }
            }
            REG_MFBE => {
                let len = if data[0] & 1 << 29 != 0 {
                    0x10000
                } else if data[0] & 1 << 30 != 0 {
                    0x8000
                } else {
                    SECTOR_SIZE
                };
                match self.erase(data[2] as usize, len) {
                    Ok(()) => ST_OK,
                    Err(()) => ST_BAD_PARAM,
                }
            }
            REG_MFMC => {
                let wrp = data[1] & (1 << 31 | 3 << 16 | 0xff);
                if wrp & 0xff > 5 {
                    return ST_BAD_PARAM;
                }
                self.wrp = wrp;
                self.quad_en = data[4] >> 24 & 1 == 1;
                self.dummy_cycles = (data[6] & 0xf) as u8;
                ST_OK
            }
            _ => ST_REG_NOT_SUPP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flash() -> Flash {
        Flash::new(vec![0xff; 2 << 20], None).unwrap()
    }

    #[test]
    fn nor_semantics() {
        let mut f = flash();
        f.program(0x100, &[0x0f, 0xf0]).unwrap();
        f.program(0x100, &[0xf5, 0xff]).unwrap();
        let mut b = [0u8; 2];
        f.read(0x100, &mut b).unwrap();
        assert_eq!(b, [0x05, 0xf0], "programming only clears bits");
        assert!(f.program(0xfe, &[0; 4]).is_err(), "crosses a page");
        assert!(f.erase(0x800, SECTOR_SIZE).is_err(), "unaligned erase");
        f.erase(0, SECTOR_SIZE).unwrap();
        f.read(0x100, &mut b).unwrap();
        assert_eq!(b, [0xff, 0xff]);
        assert!(f.read((2 << 20) - 2, &mut [0u8; 4]).is_err());
        assert!(Flash::new(vec![0; 3 << 20], None).is_err());
    }

    #[test]
    fn registers() {
        let mut f = flash();
        let mut out = [0u32; 8];
        assert_eq!(f.reg_get(REG_MFPA, &[0; 8], &mut out), ST_OK);
        assert_eq!(out[5], 0x1540ef, "W25Q16: 2 MiB");
        assert_eq!(out[4] & 0xf, 1);
        assert_eq!(
            f.reg_get(REG_MFPA, &[1 << 4, 0, 0, 0, 0, 0, 0, 0], &mut out),
            ST_BAD_PARAM,
            "second flash absent"
        );
        // Write 8 bytes through MFBA, read them back.
        let mut set = vec![0u32; 3 + 2];
        set[1] = 8;
        set[2] = 0x2000;
        set[3] = u32::from_le_bytes(*b"ABCD");
        set[4] = u32::from_le_bytes(*b"EFGH");
        assert_eq!(f.reg_set(REG_MFBA, &set), ST_OK);
        assert_eq!(&f.contents()[0x2000..0x2008], b"ABCDEFGH");
        let mut get = vec![0u32; 3 + 2];
        get[1] = 8;
        get[2] = 0x2000;
        let mut out = vec![0u32; 5];
        assert_eq!(f.reg_get(REG_MFBA, &get, &mut out), ST_OK);
        assert_eq!(out[3..], set[3..]);
        // Erase the sector through MFBE.
        assert_eq!(f.reg_set(REG_MFBE, &[0, 0, 0x2000]), ST_OK);
        assert_eq!(f.contents()[0x2000], 0xff);
        assert_eq!(f.reg_set(REG_MFBE, &[1 << 29, 0, 0x1000]), ST_BAD_PARAM);
        assert_eq!(f.reg_set(REG_MFBE, &[1 << 29, 0, 0x10000]), ST_OK);
        assert_eq!(f.ops, [1, 1, 2], "reads, programs, erases served");
        // Out of range and oversize.
        get[2] = 2 << 20;
        assert_eq!(f.reg_get(REG_MFBA, &get, &mut out), ST_BAD_PARAM);
        get[1] = 512;
        get[2] = 0;
        assert_eq!(f.reg_get(REG_MFBA, &get, &mut out), ST_BAD_PARAM);
    }
}
