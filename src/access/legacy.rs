//! The older crspace window in config space (devices without a functional VSEC, mtcr_api.md
//! §4.9): address register 0x58, data register 0x5c, little-endian.
//!
//! Some devices have a write-only address register: writing 0xf0014 and reading 0x58 back
//! yields 0xbadacce5. Then a read sets bit 0 of the address, and a write puts the data first.
//! Cost: 2 config accesses per dword. Every access (a block: the whole block) runs under the
//! stock `_config` flock, as stock does.

use super::lock::{lock_opt, LockFile};
use super::{block_addr, is_crspace, partial, Access, ConfigIo};
use crate::access::PathKind;
use crate::defs::HW_ID_ADDR;
use crate::error::{Error, Result};

pub const REG_ADDR: u32 = 0x58;
pub const REG_DATA: u32 = 0x5c;
/// What a write-only address register reads back.
pub const WO_SIGNATURE: u32 = 0xbada_cce5;

/// The 0x58/0x5c window.
pub struct Legacy<C: ConfigIo> {
    io: C,
    wo_addr: bool,
    lock: Option<LockFile>,
}

/// Only crspace goes through the window. An unaligned address goes to it as given, as stock
/// does (the device reads or writes the aligned dword).
fn check(space: u32, _addr: u32) -> Result<()> {
    if !is_crspace(space) {
        return Err(Error::SpaceNotSupported(space));
    }
    Ok(())
}

fn rd(io: &mut dyn ConfigIo, wo: bool, addr: u32) -> Result<u32> {
    io.write_dword(REG_ADDR, addr | u32::from(wo))?;
    io.read_dword(REG_DATA)
}

fn wr(io: &mut dyn ConfigIo, wo: bool, addr: u32, v: u32) -> Result<()> {
    if wo {
        io.write_dword(REG_DATA, v)?;
        io.write_dword(REG_ADDR, addr)
    } else {
        io.write_dword(REG_ADDR, addr)?;
        io.write_dword(REG_DATA, v)
    }
}

impl<C: ConfigIo> Legacy<C> {
    /// Detect the write-only address register and set up.
    pub fn new(mut io: C, lock: Option<LockFile>) -> Result<Legacy<C>> {
        let wo_addr = {
            let _g = lock_opt(&lock)?;
            io.write_dword(REG_ADDR, HW_ID_ADDR)?;
            io.read_dword(REG_ADDR)? == WO_SIGNATURE
        };
        log::debug!("legacy crspace window (write-only address: {wo_addr})");
        Ok(Legacy { io, wo_addr, lock })
    }

    /// Whether the address register is write-only.
    #[cfg(test)]
    pub fn write_only_address(&self) -> bool {
        self.wo_addr
    }
}

impl<C: ConfigIo> Access for Legacy<C> {
    fn kind(&self) -> PathKind {
        PathKind::SysfsConfig
    }

    fn read4(&mut self, space: u32, addr: u32) -> Result<u32> {
        check(space, addr)?;
        let _g = lock_opt(&self.lock)?;
        let v = rd(&mut self.io, self.wo_addr, addr)?;
        log::trace!("legacy read {addr:#x} -> {v:#010x}");
        Ok(v)
    }

    fn write4(&mut self, space: u32, addr: u32, v: u32) -> Result<()> {
        check(space, addr)?;
        log::trace!("legacy write {addr:#x} <- {v:#010x}");
        let _g = lock_opt(&self.lock)?;
        wr(&mut self.io, self.wo_addr, addr, v)
    }

    fn read_block(&mut self, space: u32, addr: u32, out: &mut [u32]) -> Result<()> {
        check(space, addr)?;
        let _g = lock_opt(&self.lock)?;
        for (i, slot) in out.iter_mut().enumerate() {
            let a = block_addr(addr, i)?;
            *slot = rd(&mut self.io, self.wo_addr, a).map_err(|e| partial(i * 4, e))?;
        }
        Ok(())
    }

    fn write_block(&mut self, space: u32, addr: u32, data: &[u32]) -> Result<()> {
        check(space, addr)?;
        let _g = lock_opt(&self.lock)?;
        for (i, v) in data.iter().enumerate() {
            let a = block_addr(addr, i)?;
            wr(&mut self.io, self.wo_addr, a, *v).map_err(|e| partial(i * 4, e))?;
        }
        Ok(())
    }

    fn config_io(&mut self) -> Option<&mut dyn ConfigIo> {
        Some(&mut self.io)
    }
}
