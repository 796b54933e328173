//! The older crspace window in config space: address at 0x58, data at 0x5c
//! (gateway = legacy / legacy_write_only / recovery). Always crspace; no semaphore.
//!
//! * Normal: writing 0x58 sets the address (reads back as written); reading 0x5c reads the
//!   crspace dword at that address; writing 0x5c writes it.
//! * Write-only address: 0x58 reads 0xbadacce5. Writing 0x58 with bit 0 set reads the
//!   dword at (address & !3) into the data register; writing 0x58 with bit 0 clear writes
//!   the value last written to 0x5c, if one was written since the previous write
//!   transaction (so mtcr's detection write of 0xf0014 alone changes nothing). 0x5c reads
//!   the data register.
//!
//! Addresses beyond crspace read 0 and writes there are dropped.

use super::counters::CounterSnapshot;
use super::crstore::CrStore;
use super::spaces::Spaces;

pub const WO_ADDR_MAGIC: u32 = 0xbada_cce5;

#[derive(Debug, Default)]
pub(crate) struct Legacy {
    write_only: bool,
    addr: u32,
    data: u32,
    data_pending: bool,
}

/// Side-effect-free read (base of partial writes).
fn cr_peek(cr: &CrStore, addr: u32) -> u32 {
    if CrStore::contains(addr) {
        cr.read(addr & !3)
    } else {
        0
    }
}

/// Crspace read through the modelled registers (tools HCR).
fn cr_read(cr: &CrStore, sp: &mut Spaces, addr: u32) -> u32 {
    if CrStore::contains(addr) {
        sp.cr_read(cr, addr)
    } else {
        0
    }
}

fn cr_write(cr: &CrStore, sp: &mut Spaces, addr: u32, v: u32) {
    if CrStore::contains(addr) {
        sp.cr_write(cr, addr, v)
    }
}

impl Legacy {
    pub fn new(write_only: bool) -> Legacy {
        Legacy {
            write_only,
            ..Legacy::default()
        }
    }

    pub fn peek_addr(&self) -> u32 {
        if self.write_only {
            WO_ADDR_MAGIC
        } else {
            self.addr
        }
    }

    /// Base for merging a partial write of the address register (the stored address, not
    /// the 0xbadacce5 a write-only register reads as).
    pub fn merge_base_addr(&self) -> u32 {
        self.addr
    }

    pub fn peek_data(&self, cr: &CrStore) -> u32 {
        if self.write_only {
            self.data
        } else {
            cr_peek(cr, self.addr)
        }
    }

    pub fn read_data(&mut self, cr: &CrStore, sp: &mut Spaces, c: &mut CounterSnapshot) -> u32 {
        if self.write_only {
            self.data
        } else {
            c.gateway_reads += 1;
            cr_read(cr, sp, self.addr)
        }
    }

    pub fn write_addr(&mut self, v: u32, cr: &CrStore, sp: &mut Spaces, c: &mut CounterSnapshot) {
        if !self.write_only {
            self.addr = v;
            return;
        }
        self.addr = v & !3;
        if v & 1 != 0 {
            self.data = cr_read(cr, sp, self.addr);
            self.data_pending = false;
            c.gateway_reads += 1;
        } else if self.data_pending {
            cr_write(cr, sp, self.addr, self.data);
            self.data_pending = false;
            c.gateway_writes += 1;
        }
    }

    pub fn write_data(&mut self, v: u32, cr: &CrStore, sp: &mut Spaces, c: &mut CounterSnapshot) {
        if self.write_only {
            self.data = v;
            self.data_pending = true;
        } else {
            cr_write(cr, sp, self.addr, v);
            c.gateway_writes += 1;
        }
    }
}
