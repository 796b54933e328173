//! The functional VSEC crspace gateway (registers at VSEC+0x4 .. VSEC+0x14).
//!
//! * CTRL (+0x4): bits 15:0 address space (read back as written); bits 31:29 status,
//!   `1 << 29` iff the space is supported, else 0; bits 27:24 syndrome code of the last
//!   transaction (3 = address out of range, PXIR devices only).
//! * COUNTER (+0x8): every read returns the next ticket (non-zero, increasing).
//! * SEMAPHORE (+0xc): 0 = free, else the owner's ticket. Writing a non-zero value while free
//!   takes it (the writer's pid is remembered); writing 0 frees it; other writes are ignored.
//! * ADDRESS (+0x10): bits 29:0 address; writing with bit 31 = 0 starts a read (DATA is
//!   loaded, then bit 31 reads 1); writing with bit 31 = 1 writes DATA (then bit 31 reads 0).
//!   Bit 30 reads 1 after an out-of-range access on a PXIR device (one that lists a "PCI"
//!   space >= 0x100); otherwise out-of-range reads give 0 and writes are dropped.
//! * DATA (+0x14): plain register.

use super::counters::CounterSnapshot;
use super::crstore::CrStore;
use super::faults::{FaultState, FAULT_SEM_TICKET};
use super::spaces::{in_range, Spaces, GW_ADDR_MASK};

pub const REG_CTRL: u32 = 0x4;
pub const REG_COUNTER: u32 = 0x8;
pub const REG_SEMAPHORE: u32 = 0xc;
pub const REG_ADDRESS: u32 = 0x10;
pub const REG_DATA: u32 = 0x14;

pub const CTRL_STATUS_OK: u32 = 1 << 29;
pub const CTRL_STATUS_MASK: u32 = 0b111 << 29;
pub const ADDR_FLAG: u32 = 1 << 31;
pub const ADDR_SYNDROME: u32 = 1 << 30;
pub const SYNDROME_ADDRESS_OUT_OF_RANGE: u32 = 3;

/// What the gateway needs from the rest of the device for one register access.
pub(crate) struct GwCtx<'a> {
    pub cr: &'a CrStore,
    pub spaces: &'a mut Spaces,
    pub counters: &'a mut CounterSnapshot,
    pub faults: &'a mut FaultState,
    /// `spaces` from the configuration.
    pub cfg_spaces: &'a [u32],
}

impl GwCtx<'_> {
    pub fn supported(&self, space: u32) -> bool {
        self.cfg_spaces.contains(&space) && !self.faults.space_disabled(space)
    }
    /// The device separates core and "PCI" spaces and reports out-of-range syndromes.
    pub fn pxir(&self) -> bool {
        self.cfg_spaces.iter().any(|&s| s >= 0x100)
    }
}

/// Result of one gateway transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Xfer {
    Done(u32),
    /// Address outside the space (data 0 / write dropped); `syndrome` on PXIR devices.
    OutOfRange {
        syndrome: bool,
    },
    /// The selected space is not supported (data 0 / write dropped).
    Unsupported,
}

/// Perform one read (`write = None`) or write through the gateway "hardware".
pub(crate) fn transfer(ctx: &mut GwCtx<'_>, space: u32, addr: u32, write: Option<u32>) -> Xfer {
    if !ctx.supported(space) {
        return Xfer::Unsupported;
    }
    let addr = addr & GW_ADDR_MASK;
    if !in_range(space, addr) {
        return Xfer::OutOfRange {
            syndrome: ctx.pxir(),
        };
    }
    match write {
        None => Xfer::Done(ctx.spaces.read(ctx.cr, space, addr)),
        Some(v) => {
            ctx.spaces.write(ctx.cr, space, addr, v);
            Xfer::Done(v)
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Gateway {
    space: u32,
    syndrome_code: u32,
    counter: u32,
    sem: u32,
    sem_pid: u32,
    addr: u32,
    flag: bool,
    syndrome: bool,
    data: u32,
    /// pid of an unowned DATA write already counted as interleaved (so the ADDRESS write
    /// completing the same transaction is not counted twice).
    unowned_data_pid: Option<u32>,
    /// Address the fault owner (`semaphore_held_forever` / `semaphore_held_ms`) is working
    /// at: it models a *live* holder that keeps using the gateway (its address register
    /// moves between reads), so a library must not judge it dead.
    fault_owner_addr: u32,
}

impl Gateway {
    /// Whether the semaphore is free (ignoring the fault owner).
    pub fn sem_free(&self) -> bool {
        self.sem == 0
    }

    /// Next ticket from the counter (also used by the in-kernel accessor).
    pub fn next_ticket(&mut self) -> u32 {
        self.counter = self.counter.wrapping_add(1);
        if self.counter == 0 || self.counter == FAULT_SEM_TICKET {
            self.counter = self.counter.wrapping_add(1);
        }
        self.counter
    }

    /// Value of a register without side effects (for read-modify-write of partial writes).
    pub fn peek(&self, reg: u32, ctx: &GwCtx<'_>) -> u32 {
        match reg {
            REG_CTRL => self.ctrl_value(ctx),
            REG_COUNTER => self.counter,
            REG_SEMAPHORE => self.sem_value(ctx),
            REG_ADDRESS => self.address_value(),
            REG_DATA => self.data,
            _ => 0,
        }
    }

    fn ctrl_value(&self, ctx: &GwCtx<'_>) -> u32 {
        let status = if ctx.supported(self.space) {
            CTRL_STATUS_OK
        } else {
            0
        };
        status | (self.syndrome_code & 0xf) << 24 | (self.space & 0xffff)
    }

    fn sem_value(&self, ctx: &GwCtx<'_>) -> u32 {
        if ctx.faults.sem_held() {
            FAULT_SEM_TICKET
        } else {
            self.sem
        }
    }

    fn address_value(&self) -> u32 {
        let mut v = self.addr & GW_ADDR_MASK;
        if self.flag {
            v |= ADDR_FLAG;
        }
        if self.syndrome {
            v |= ADDR_SYNDROME;
        }
        v
    }

    /// A read of register `reg` (offset from the VSEC) by `pid` with its side effects.
    pub fn read(&mut self, reg: u32, pid: u32, ctx: &mut GwCtx<'_>) -> u32 {
        match reg {
            REG_COUNTER => self.next_ticket(),
            REG_SEMAPHORE => {
                let v = self.sem_value(ctx);
                // Busy: taken by someone else (the owner's read-back does not count).
                if v != 0 && (ctx.faults.sem_held() || self.sem_pid != pid) {
                    ctx.counters.semaphore_busy_reads += 1;
                }
                v
            }
            REG_ADDRESS if ctx.faults.sem_held() => {
                self.fault_owner_addr = self.fault_owner_addr.wrapping_add(4) & GW_ADDR_MASK;
                self.fault_owner_addr
            }
            _ => self.peek(reg, ctx),
        }
    }

    /// A write of `value` to register `reg` by process `pid` (0 = kernel).
    pub fn write(&mut self, reg: u32, value: u32, pid: u32, ctx: &mut GwCtx<'_>) {
        match reg {
            REG_CTRL => self.space = value & 0xffff,
            REG_SEMAPHORE => {
                if value == 0 {
                    if (self.sem != 0 && self.sem_pid != pid) || ctx.faults.sem_held() {
                        ctx.counters.semaphore_freed_by_other += 1;
                    }
                    self.sem = 0;
                    self.sem_pid = 0;
                    if ctx.faults.sem_held() {
                        ctx.faults.sem_released = true;
                    }
                } else if self.sem == 0 && !ctx.faults.sem_held() {
                    self.sem = value;
                    self.sem_pid = pid;
                    ctx.counters.semaphore_acquired += 1;
                }
            }
            REG_ADDRESS => {
                let counted = self.unowned_data_pid.take() == Some(pid);
                if !self.owned_by(pid, ctx) && !counted {
                    ctx.counters.interleaved_transactions += 1;
                }
                self.start(value, ctx);
            }
            REG_DATA => {
                self.unowned_data_pid = None;
                if !self.owned_by(pid, ctx) {
                    ctx.counters.interleaved_transactions += 1;
                    self.unowned_data_pid = Some(pid);
                }
                self.data = value;
            }
            _ => {}
        }
    }

    /// Whether `pid` may use the gateway: it owns the semaphore, or is the kernel (0).
    fn owned_by(&self, pid: u32, ctx: &GwCtx<'_>) -> bool {
        pid == 0 || (!ctx.faults.sem_held() && self.sem != 0 && self.sem_pid == pid)
    }

    fn start(&mut self, value: u32, ctx: &mut GwCtx<'_>) {
        self.addr = value & GW_ADDR_MASK;
        self.syndrome = false;
        self.syndrome_code = 0;
        let is_write = value & ADDR_FLAG != 0;
        if ctx.faults.faults.flag_stuck {
            // The request never completes: the flag keeps the value the request left.
            self.flag = is_write;
            return;
        }
        let r = transfer(
            ctx,
            self.space,
            self.addr,
            if is_write { Some(self.data) } else { None },
        );
        match r {
            Xfer::Done(v) => {
                if !is_write {
                    self.data = v;
                }
            }
            Xfer::OutOfRange { syndrome } => {
                if !is_write {
                    self.data = 0;
                }
                if syndrome {
                    self.syndrome = true;
                    self.syndrome_code = SYNDROME_ADDRESS_OUT_OF_RANGE;
                }
            }
            Xfer::Unsupported => {
                if !is_write {
                    self.data = 0;
                }
            }
        }
        if is_write {
            ctx.counters.gateway_writes += 1;
        } else {
            ctx.counters.gateway_reads += 1;
        }
        self.flag = !is_write;
    }
}
