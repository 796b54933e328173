//! A small in-process fake of a device's config space (VSEC gateway or legacy window) for
//! unit tests, with access counters and fault knobs. The simulator's model replaces it in
//! the tests that can use `mtcr_sim::model`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ConfigIo;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Vsec,
    Legacy,
    LegacyWo,
}

#[derive(Debug)]
pub struct State {
    pub kind: Kind,
    pub spaces: Vec<u32>,
    pub cr: HashMap<(u32, u32), u32>,
    pub reads: u64,
    pub writes: u64,
    pub ctrl: u32,
    pub counter: u32,
    pub sem: u32,
    pub addr: u32,
    pub data: u32,
    pub legacy_addr: u32,
    pub wo_pending: bool,
    // faults
    pub sem_busy: bool,
    pub flag_stuck: bool,
    pub eio_after: u64,
    pub eperm_writes: bool,
    /// Addresses above this report the "out of range" syndrome in core spaces (PXIR tests).
    pub pxir_limit: Option<u32>,
    /// When the semaphore was last freed, and the longest time it stayed free before being
    /// taken again (what a competing tool polling it sees).
    pub sem_freed_at: Option<Instant>,
    pub longest_sem_gap: Duration,
}

impl State {
    fn pattern(space: u32, addr: u32) -> u32 {
        addr.wrapping_mul(0x9e37_79b9) ^ space
    }

    pub fn cr_get(&self, space: u32, addr: u32) -> u32 {
        *self
            .cr
            .get(&(space, addr))
            .unwrap_or(&Self::pattern(space, addr))
    }

    fn space(&self) -> u32 {
        self.ctrl & 0xffff
    }

    fn vsec_read(&mut self, reg: u32) -> u32 {
        match reg {
            0x0 => 0x0000_6009, // type 0, next 0x60, id 9
            0x4 => {
                let sup = self.spaces.contains(&self.space());
                let status = if sup { 1 << 29 } else { 0 };
                let mut v = (self.ctrl & 0x0fff_ffff) | status;
                if self.out_of_range() {
                    v |= 3 << 24;
                }
                v
            }
            0x8 => {
                self.counter = self.counter.wrapping_add(1);
                self.counter
            }
            0xc => {
                if self.sem_busy {
                    0xdead
                } else {
                    self.sem
                }
            }
            0x10 => {
                let mut v = self.addr & 0x3fff_ffff;
                let pending_write = self.addr & (1 << 31) != 0;
                // Reads complete at once (flag 1); writes complete at once (flag 0).
                let flag = if self.flag_stuck {
                    pending_write
                } else {
                    !pending_write
                };
                if flag {
                    v |= 1 << 31;
                }
                if self.out_of_range() {
                    v |= 1 << 30;
                }
                v
            }
            0x14 => self.data,
            _ => 0,
        }
    }

    fn out_of_range(&self) -> bool {
        matches!(self.pxir_limit, Some(l) if self.space() < 0x100 && (self.addr & 0x3fff_ffff) >= l)
    }

    fn vsec_write(&mut self, reg: u32, v: u32) {
        match reg {
            0x4 => self.ctrl = v & 0xffff,
            0xc => {
                if v == 0 {
                    if self.sem != 0 {
                        self.sem_freed_at = Some(Instant::now());
                    }
                    self.sem = 0;
                } else if self.sem == 0 && !self.sem_busy {
                    self.sem = v;
                    if let Some(t) = self.sem_freed_at.take() {
                        self.longest_sem_gap = self.longest_sem_gap.max(t.elapsed());
                    }
                }
            }
            0x10 => {
                self.addr = v;
                let space = self.space();
                let a = v & 0x3fff_ffff;
                if self.out_of_range() || self.flag_stuck {
                    return;
                }
                if v & (1 << 31) != 0 {
                    self.cr.insert((space, a), self.data);
                } else {
                    self.data = self.cr_get(space, a);
                }
            }
            0x14 => self.data = v,
            _ => {}
        }
    }
}

/// The carrier handed to the code under test; the test keeps a clone of `state`.
#[derive(Clone)]
pub struct FakeConfig {
    pub state: Arc<Mutex<State>>,
}

impl FakeConfig {
    pub fn new(kind: Kind) -> FakeConfig {
        FakeConfig {
            state: Arc::new(Mutex::new(State {
                kind,
                spaces: vec![0x1, 0x2, 0x3, 0x6, 0x7, 0xa],
                cr: HashMap::new(),
                reads: 0,
                writes: 0,
                ctrl: 0,
                counter: 0,
                sem: 0,
                addr: 0,
                data: 0,
                legacy_addr: 0,
                wo_pending: false,
                sem_busy: false,
                flag_stuck: false,
                eio_after: 0,
                eperm_writes: false,
                pxir_limit: None,
                sem_freed_at: None,
                longest_sem_gap: Duration::ZERO,
            })),
        }
    }

    pub fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// (reads, writes) so far.
    pub fn counts(&self) -> (u64, u64) {
        let s = self.st();
        (s.reads, s.writes)
    }

    pub fn reset_counts(&self) {
        let mut s = self.st();
        s.reads = 0;
        s.writes = 0;
    }

    fn eio(s: &State) -> Result<()> {
        if s.eio_after != 0 && s.reads + s.writes >= s.eio_after {
            return Err(Error::io(
                "fake config",
                std::io::Error::from_raw_os_error(libc::EIO),
            ));
        }
        Ok(())
    }
}

impl ConfigIo for FakeConfig {
    fn read_dword(&mut self, off: u32) -> Result<u32> {
        let mut s = self.st();
        Self::eio(&s)?;
        s.reads += 1;
        let vsec = s.kind == Kind::Vsec;
        Ok(match off {
            0x0 => 0x1017_15b3,
            0x34 => 0x40,
            0x40..=0x57 if vsec => s.vsec_read(off - 0x40),
            0x40 => 0x0000_6001, // power management, next 0x60
            0x58 if !vsec => {
                if s.kind == Kind::LegacyWo {
                    0xbada_cce5
                } else {
                    s.legacy_addr
                }
            }
            0x5c if !vsec => {
                let a = s.legacy_addr & !1;
                s.cr_get(2, a)
            }
            0x60 => 0x0000_0010, // PCIe capability, end of list
            _ => 0,
        })
    }

    /// One "multi-dword pread": counted as one access, registers read in ascending order.
    fn read_dwords(&mut self, off: u32, out: &mut [u32]) -> Result<()> {
        for (i, v) in out.iter_mut().enumerate() {
            *v = self.read_dword(off + 4 * i as u32)?;
        }
        self.st().reads -= out.len().saturating_sub(1) as u64;
        Ok(())
    }

    fn write_dword(&mut self, off: u32, v: u32) -> Result<()> {
        let mut s = self.st();
        Self::eio(&s)?;
        if s.eperm_writes {
            return Err(Error::Permission(format!("fake config write {off:#x}")));
        }
        s.writes += 1;
        let vsec = s.kind == Kind::Vsec;
        match off {
            0x40..=0x57 if vsec => s.vsec_write(off - 0x40, v),
            0x58 if !vsec => s.legacy_addr = v,
            0x5c if !vsec => {
                // Plain window: data goes to the current address. Write-only window: data
                // is latched, the address write (bit 0 clear) commits it.
                let a = s.legacy_addr & !1;
                if s.kind == Kind::LegacyWo {
                    s.data = v;
                    s.wo_pending = true;
                } else {
                    s.cr.insert((2, a), v);
                }
            }
            _ => {}
        }
        if off == 0x58 && s.kind == Kind::LegacyWo && v & 1 == 0 && s.wo_pending {
            let d = s.data;
            s.wo_pending = false;
            s.cr.insert((2, v), d);
        }
        Ok(())
    }
}
