//! The Mellanox vendor-specific capability ("VSEC") gateway to crspace, over any
//! [`ConfigIo`] (mtcr_api.md §4.1–§4.8).
//!
//! Registers, relative to the capability: +0x4 control (space in bits 15:0, status 31:29,
//! syndrome code 27:24), +0x8 ticket counter, +0xc semaphore, +0x10 address (bit 31 flag,
//! bit 30 syndrome), +0x14 data.
//!
//! # Cost (config accesses)
//! * transaction overhead: semaphore 3 (read counter and semaphore together; write the
//!   ticket; read control, counter and semaphore together) + space select 0 when the control
//!   register read with the semaphore already shows the space, else 2 (write control, read
//!   back) + release 1 = **4** (6 when the space changes);
//! * per dword: read = write address + one read of the address *and* data registers
//!   (adjacent: [`ConfigIo::read_dword_pair`], an 8-byte pread on sysfs, which the kernel
//!   performs as two config reads in ascending order — flag first, as the protocol wants) =
//!   **2**; write = write data + write address/flag + flag read = **3** (one flag poll when
//!   the device answers at once; a poll that finds the flag not ready is repeated).
//!
//! So `read4` costs 6 accesses and `write4` 7 (8 and 9 when the space changes; stock: 11
//! each); a block of n dwords costs 2n + 4 (reads) or 3n + 4 (writes) per semaphore hold
//! (stock: 3n + 8). Multi-register reads are single `pread`s of adjacent registers, which the
//! kernel turns into config reads in ascending order ([`ConfigIo::read_dwords`]). The space is selected once per hold; a block holds the semaphore for at
//! most [`Tuning::max_hold_dwords`] dwords (default 4096, i.e. 12295 accesses), then releases
//! it and takes it again. Holds that follow each other closely (the chunks of a long block,
//! or back-to-back calls) form a run; once a run has lasted [`Tuning::hold_budget`] (200 ms),
//! the next hold first leaves the semaphore free for [`HOLD_GAP`] (2.5 ms, over twice the
//! 1 ms stock tools sleep between semaphore polls), so other users (stock tools, firmware,
//! the kernel) are not starved: a stock tool waits about 2 s for the semaphore, so it sees
//! several such gaps. Overhead: 4 accesses per 4096 dwords, 2.5 ms per 200 ms of
//! continuous traffic.
//!
//! # Time bounds
//! * semaphore: retried every 1 ms while busy, for at most [`Tuning::sem_timeout`]
//!   (default 2 s, like stock's 2048 tries) → `Error::Busy` (EBUSY);
//! * flag: polled back to back 8 times, then with sleeps from 10 µs doubling up to 1 ms, for at
//!   most [`Tuning::flag_timeout`] (default 200 ms; stock ≈ 128 ms of sleeps) →
//!   `Error::Timeout` (ETIMEDOUT). The semaphore is released on every path.
//!
//! A semaphore whose owner is dead (the same ticket and unchanged control/address/data
//! registers for 1 s and 16 polls, and no owner mark of a live process of ours on the lock
//! file) is freed and taken during the wait, with a warning (docs/RELIABILITY.md, "the
//! stale-owner rule"). Termination signals arriving during a hold are delivered after it.
//!
//! The inter-process flock (stock lock file; Debian's stock tools take it around every VSEC
//! access, retrying a non-blocking flock for only a few ms) is held during each attempt to
//! take the semaphore (released between attempts, so a busy semaphore never keeps it), for
//! the whole of a single-dword transaction, and for the space select of a block; the body of
//! a block is guarded by the semaphore alone (stock waits ~2 s for it), so a long block
//! never makes a stock tool fail on the flock.

use std::time::{Duration, Instant};

use super::lock::{
    note_recovery, LockFile, LockGuard, OwnerGuard, OwnerSlot, SignalHold, StaleWatch,
};
use super::{block_addr, mask_supports, partial, Access, ConfigIo, GatewayInfo};
use crate::access::PathKind;
use crate::defs::*;
use crate::error::{Error, Result};

/// Capability id of the vendor-specific capability.
pub const PCI_CAP_ID_VNDR: u8 = 0x09;
/// VSC type (bits 31:24 of the capability header) of a usable gateway.
pub const VSC_TYPE_FUNCTIONAL: u8 = 0;

pub const REG_CTRL: u32 = 0x4;
pub const REG_COUNTER: u32 = 0x8;
pub const REG_SEMAPHORE: u32 = 0xc;
pub const REG_ADDRESS: u32 = 0x10;
pub const REG_DATA: u32 = 0x14;

const FLAG_BIT: u32 = 1 << 31;
const SYNDROME_BIT: u32 = 1 << 30;
const ADDRESS_MASK: u32 = 0x3fff_ffff;
const SPACE_MASK: u32 = 0xffff;
/// Control-register bits written back unchanged when selecting a space (all but the space,
/// the status bits 31:29 and the syndrome code 27:24).
const CTRL_KEEP_MASK: u32 = 0x10ff_0000;
const STATUS_SHIFT: u32 = 29;
/// Syndrome code meaning "address out of range for this space" (PXIR devices).
const SYNDROME_ADDRESS_OUT_OF_RANGE: u32 = 3;

/// Probe order of the address spaces at open: stock's set, with crspace moved last so that
/// it is still selected when the probe ends and the hw id (which every open reads) comes in
/// the same semaphore hold, without a second acquire/select/release.
pub const PROBE_ORDER: &[u32] = &[
    AS_ICMD,
    AS_NODNIC_INIT_SEG,
    AS_EXPANSION_ROM,
    AS_ND_CRSPACE,
    AS_SCAN_CRSPACE,
    AS_MAC,
    AS_ICMD_EXT,
    AS_SEMAPHORE,
    AS_PCI_ICMD,
    AS_PCI_CRSPACE,
    AS_PCI_ALL_ICMD,
    AS_PCI_SCAN_CRSPACE,
    AS_PCI_GLOBAL_SEMAPHORE,
    AS_RECOVERY,
    AS_CR_SPACE,
];

/// Time and size bounds of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Longest wait for the VSEC semaphore.
    pub sem_timeout: Duration,
    /// Longest wait for the gateway flag of one dword.
    pub flag_timeout: Duration,
    /// Most dwords transferred under one semaphore hold.
    pub max_hold_dwords: usize,
    /// Longest run of back-to-back semaphore holds (within a block or across calls) before
    /// a pause of [`HOLD_GAP`] with the semaphore free.
    pub hold_budget: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            sem_timeout: Duration::from_secs(2),
            flag_timeout: Duration::from_millis(200),
            max_hold_dwords: 4096,
            hold_budget: Duration::from_millis(200),
        }
    }
}

/// Semaphore/flag bound of the dummy read done on close.
const CLOSE_SEM_TIMEOUT: Duration = Duration::from_millis(100);

/// Pause with the semaphore free after [`Tuning::hold_budget`] of back-to-back holds, longer
/// than the 1 ms stock tools sleep between semaphore polls, so that they get their turn.
pub const HOLD_GAP: Duration = Duration::from_micros(2500);

/// When this gateway last held the semaphore, to give other users their turn: a process
/// that takes the semaphore again within microseconds of releasing it (back-to-back blocks
/// or dwords) would otherwise starve the stock tools, which poll it only every 1 ms.
#[derive(Debug, Default)]
struct Turns {
    /// Start of the current run of holds separated by less than [`HOLD_GAP`].
    run_start: Option<Instant>,
    /// End of the last hold.
    last_release: Option<Instant>,
}

impl Turns {
    /// Before taking the semaphore: pause when the run of back-to-back holds has lasted
    /// `budget`, so that the semaphore stays free for at least [`HOLD_GAP`].
    fn before_hold(&mut self, budget: Duration) {
        let now = Instant::now();
        match (self.run_start, self.last_release) {
            (Some(start), Some(rel)) if now.duration_since(rel) < HOLD_GAP => {
                if now.duration_since(start) >= budget {
                    std::thread::sleep(HOLD_GAP - now.duration_since(rel));
                    self.run_start = Some(Instant::now());
                }
            }
            // Free long enough since the last hold: a new run starts.
            _ => self.run_start = Some(now),
        }
    }

    fn after_hold(&mut self) {
        self.last_release = Some(Instant::now());
    }
}

/// The vendor capability as found in the capability list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VsecHeader {
    /// Config offset of the capability.
    pub addr: u32,
    /// Bits 31:24 of its first dword.
    pub vsc_type: u8,
}

/// Walk the standard capability list (from 0x34) for the vendor capability. Offsets outside
/// 0x40..=0xff end the walk; a loop is detected (at most 48 entries fit). One config read per
/// entry visited (the header dword also carries the VSC type).
pub fn find_vsec(io: &mut dyn ConfigIo) -> Result<Option<VsecHeader>> {
    let mut off = io.read_dword(0x34)? & 0xfc;
    let mut seen = [false; 256];
    while (0x40..=0xfc).contains(&off) {
        if seen[off as usize] {
            log::debug!("capability list loops at {off:#x}");
            return Ok(None);
        }
        seen[off as usize] = true;
        let hdr = io.read_dword(off)?;
        if (hdr & 0xff) as u8 == PCI_CAP_ID_VNDR {
            return Ok(Some(VsecHeader {
                addr: off,
                vsc_type: (hdr >> 24) as u8,
            }));
        }
        off = (hdr >> 8) & 0xfc;
    }
    Ok(None)
}

/// `VSEC_SUPPORTED_UL`: the minimum spaces (INITIALIZED, ICMD_EXT, CR_SPACE, SEMAPHORE) or
/// the PCI ("PXIR") set.
pub fn usable(cap_mask: u32) -> bool {
    let min = (1 << VCC_INITIALIZED)
        | (1 << VCC_ICMD_EXT_SPACE_SUPPORTED)
        | (1 << VCC_CRSPACE_SPACE_SUPPORTED)
        | (1 << VCC_SEMAPHORE_SPACE_SUPPORTED);
    cap_mask & min == min || pxir(cap_mask)
}

/// PCI spaces supported (PCI_CRSPACE, PCI_ALL_ICMD and PCI_GLOBAL_SEMAPHORE).
pub fn pxir(cap_mask: u32) -> bool {
    let m = (1 << VCC_PCI_CRSPACE_SPACE_SUPPORTED)
        | (1 << VCC_PCI_ALL_ICMD_SPACE_SUPPORTED)
        | (1 << VCC_PCI_GLOBAL_SEMAPHORE_SPACE_SUPPORTED);
    cap_mask & m == m
}

/// `swap_pci_address_space`: core space ↔ its PCI ("PXIR") counterpart.
pub fn swap_pci_space(space: u32) -> u32 {
    match space {
        AS_ICMD_EXT => AS_PCI_ICMD,
        AS_PCI_ICMD => AS_ICMD_EXT,
        AS_CR_SPACE | AS_ND_CRSPACE => AS_PCI_CRSPACE,
        AS_PCI_CRSPACE => AS_CR_SPACE,
        AS_ICMD => AS_PCI_ALL_ICMD,
        AS_PCI_ALL_ICMD => AS_ICMD,
        AS_SCAN_CRSPACE => AS_PCI_SCAN_CRSPACE,
        AS_PCI_SCAN_CRSPACE => AS_SCAN_CRSPACE,
        AS_SEMAPHORE => AS_PCI_GLOBAL_SEMAPHORE,
        AS_PCI_GLOBAL_SEMAPHORE => AS_SEMAPHORE,
        s => s,
    }
}

/// One semaphore hold on the gateway: borrowed pieces of [`Gateway`] (so that the flock guard
/// can borrow the lock at the same time).
struct Hold<'a> {
    io: &'a mut dyn ConfigIo,
    /// The device's lock file (stock flock, and our owner lock).
    lock: Option<&'a LockFile>,
    /// Our owner lock, held exactly while the semaphore is ours.
    owner: Option<OwnerGuard<'a>>,
    /// Termination signals held back while the semaphore is ours.
    sig: Option<SignalHold>,
    vsec: u32,
    tuning: Tuning,
    /// Bits 31:16 of the control register as last read back (None: read before writing).
    ctrl_hi: &'a mut Option<u32>,
    /// A ticket of ours that may still sit in the semaphore (a release or a read-back that
    /// failed): freed when seen at the next acquire.
    stale: &'a mut Option<u32>,
    /// The ticket of this hold.
    ticket: Option<u32>,
    /// Space currently selected within this hold.
    selected: Option<u32>,
}

impl<'a> Hold<'a> {
    fn rd(&mut self, reg: u32) -> Result<u32> {
        self.io.read_dword(self.vsec + reg)
    }

    fn wr(&mut self, reg: u32, v: u32) -> Result<()> {
        self.io.write_dword(self.vsec + reg, v)
    }

    /// Take the semaphore (see the module docs for the bound). Each attempt runs under the
    /// flock (when there is a lock file), which is released between attempts, so a busy
    /// semaphore never keeps the flock held; the guard of the successful attempt is returned.
    ///
    /// From the moment our ticket is written until [`release`](Self::release), SIGINT,
    /// SIGTERM, SIGHUP and SIGQUIT are held back ([`SignalHold`]) and our owner lock is held
    /// ([`LockFile::hold_owner`]). A semaphore whose owner is dead (docs/RELIABILITY.md, "the
    /// stale-owner rule") is freed and taken, with a warning naming the ticket.
    fn acquire(&mut self, clear_first: bool) -> Result<Option<LockGuard<'a>>> {
        let lock = self.lock;
        let start = Instant::now();
        let mut tries = 0u32;
        let mut clear = clear_first;
        let mut watch = StaleWatch::default();
        let mut last_owner = 0u32;
        loop {
            tries += 1;
            // Waiting (an earlier attempt found the semaphore taken): poll it without the
            // flock, so that a crowd of waiters does not keep the flock taken (stock tools
            // give up on a flock busy for ~20 ms, but wait ~2 s for the semaphore). The
            // flock is taken again once the semaphore reads free, or to judge an owner that
            // looks dead (the decision to free is always made under the flock).
            if tries > 1 {
                if let Some(owner) = self.busy_without_flock(&mut watch)? {
                    last_owner = owner;
                    if start.elapsed() >= self.tuning.sem_timeout {
                        return Err(self.busy_error(owner, tries));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
            }
            let guard = lock.map(|l| l.lock()).transpose()?;
            if clear {
                self.wr(REG_SEMAPHORE, 0)?;
                clear = false;
            }
            // COUNTER (+0x8) and SEMAPHORE (+0xc) in one access: the ticket is drawn before
            // the owner is known (a wasted ticket is harmless), saving one access.
            let (ticket, owner) = self.io.read_dword_pair(self.vsec + REG_COUNTER)?;
            if owner != 0 && Some(owner) == *self.stale {
                log::debug!("freeing our own stale VSEC semaphore ticket {owner:#x}");
                self.wr(REG_SEMAPHORE, 0)?;
                *self.stale = None;
                continue;
            }
            if owner == 0 && ticket != 0 {
                watch.reset();
                let sig = SignalHold::new();
                // Remembered until confirmed: a failing read-back may hide a success.
                *self.stale = Some(ticket);
                self.wr(REG_SEMAPHORE, ticket)?;
                // Read back CTRL, COUNTER and SEMAPHORE in one access: the semaphore says
                // whether we own the gateway; if we do, nobody changed CTRL since our ticket
                // landed, so it tells which space is selected (saving the select when it is
                // already the one wanted). The extra ticket drawn is harmless.
                let mut regs = [0u32; 3];
                self.io.read_dwords(self.vsec + REG_CTRL, &mut regs)?;
                if regs[2] == ticket {
                    // Marked as ours before the flock is let go: a waiter that judges the
                    // owner under the flock always sees the mark.
                    self.owner = lock.and_then(|l| l.hold_owner(OwnerSlot::Vsec));
                    self.sig = Some(sig);
                    *self.stale = None;
                    self.ticket = Some(ticket);
                    let ctrl = regs[0];
                    *self.ctrl_hi = Some(ctrl & CTRL_KEEP_MASK);
                    if ctrl >> STATUS_SHIFT != 0 {
                        self.selected = Some(ctrl & SPACE_MASK);
                    }
                    return Ok(guard);
                }
                *self.stale = None;
            } else if let (Some(l), Some(_)) = (lock, &guard) {
                // Busy. Under the flock: the owner and the registers a live owner changes
                // (control/space, address/flag, data) in one access; the same picture for
                // the stale period with no owner lock held anywhere means a dead owner.
                let mut r = [0u32; 5];
                self.io.read_dwords(self.vsec + REG_CTRL, &mut r)?;
                let owner_now = r[2];
                if owner_now != 0
                    && watch.observe(&[owner_now, r[0], r[3], r[4]])
                    && !l.owner_held_elsewhere(OwnerSlot::Vsec)
                {
                    note_recovery("VSEC", owner_now, l.path());
                    self.wr(REG_SEMAPHORE, 0)?;
                    watch.reset();
                    continue;
                }
            }
            drop(guard);
            if owner != 0 {
                last_owner = owner;
            }
            if start.elapsed() >= self.tuning.sem_timeout {
                return Err(self.busy_error(last_owner, tries));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// One poll of a taken semaphore without the flock: CTRL, COUNTER, SEMAPHORE, ADDRESS and
    /// DATA in one access (reads only; the ticket it draws is harmless). `Some(owner)` while
    /// the semaphore stays taken by an owner that does not (yet) look dead; `None` when it
    /// reads free or the stale watch says the owner may be dead: then the caller takes the
    /// flock and tries (or judges the owner) there.
    fn busy_without_flock(&mut self, watch: &mut StaleWatch) -> Result<Option<u32>> {
        let mut r = [0u32; 5];
        self.io.read_dwords(self.vsec + REG_CTRL, &mut r)?;
        let owner = r[2];
        if owner == 0 || watch.observe(&[owner, r[0], r[3], r[4]]) {
            return Ok(None);
        }
        Ok(Some(owner))
    }

    fn busy_error(&self, owner: u32, tries: u32) -> Error {
        Error::Busy(format!(
            "VSEC semaphore still taken (owner ticket {owner:#x}) after {:?} and {tries} \
             tries; if no other tool is using the device, clear it \
             (mclear_pci_semaphore / mstflint -clear_semaphore)",
            self.tuning.sem_timeout
        ))
    }

    fn release(&mut self) -> Result<()> {
        let r = self.wr(REG_SEMAPHORE, 0);
        if r.is_err() {
            *self.stale = self.ticket;
        }
        self.ticket = None;
        // Owner mark off, then the held-back signals are delivered (semaphore already free).
        self.owner = None;
        self.sig = None;
        r
    }

    /// Select `space` (skipped when already selected in this hold); the read-back must show
    /// the same space and a non-zero status.
    fn select(&mut self, space: u32) -> Result<()> {
        if self.selected == Some(space & SPACE_MASK) {
            return Ok(());
        }
        self.selected = None;
        // Keep the other writable bits as they are; status (31:29) and syndrome (27:24) are
        // read-only and written as 0.
        let hi = match *self.ctrl_hi {
            Some(h) => h,
            None => self.rd(REG_CTRL)? & CTRL_KEEP_MASK,
        };
        self.wr(REG_CTRL, hi | (space & SPACE_MASK))?;
        let back = self.rd(REG_CTRL)?;
        *self.ctrl_hi = Some(back & CTRL_KEEP_MASK);
        if back & SPACE_MASK != space & SPACE_MASK || back >> STATUS_SHIFT == 0 {
            return Err(Error::SpaceNotSupported(space));
        }
        self.selected = Some(space & SPACE_MASK);
        Ok(())
    }

    /// Poll the flag until it equals `want`; returns the last address-register value, and
    /// with `with_data` the data register read right after it (both in one access when the
    /// carrier can read two adjacent dwords at once).
    fn wait_flag(&mut self, want: bool, with_data: bool) -> Result<(u32, u32)> {
        let start = Instant::now();
        let mut polls = 0u32;
        let mut sleep = Duration::from_micros(10);
        loop {
            let (v, d) = if with_data {
                self.io.read_dword_pair(self.vsec + REG_ADDRESS)?
            } else {
                (self.rd(REG_ADDRESS)?, 0)
            };
            polls += 1;
            if (v & FLAG_BIT != 0) == want {
                return Ok((v, d));
            }
            if polls > 8 {
                if start.elapsed() >= self.tuning.flag_timeout {
                    return Err(Error::Timeout(format!(
                        "VSEC gateway flag did not {} after {polls} polls ({:?})",
                        if want { "rise" } else { "clear" },
                        self.tuning.flag_timeout
                    )));
                }
                std::thread::sleep(sleep);
                sleep = (sleep * 2).min(Duration::from_millis(1));
            }
        }
    }

    fn syndrome_out_of_range(&mut self, addr_reg: u32, pxir: bool) -> Result<bool> {
        if !pxir || addr_reg & SYNDROME_BIT == 0 {
            return Ok(false);
        }
        let code = (self.rd(REG_CTRL)? >> 24) & 0xf;
        Ok(code == SYNDROME_ADDRESS_OUT_OF_RANGE)
    }

    fn read_once(&mut self, addr: u32) -> Result<(u32, u32)> {
        self.wr(REG_ADDRESS, addr)?;
        // ADDRESS (+0x10) and DATA (+0x14) are adjacent: the flag and the data come in one
        // access, in the protocol's order (flag first).
        let (a, v) = self.wait_flag(true, true)?;
        Ok((v, a))
    }

    fn write_once(&mut self, addr: u32, v: u32) -> Result<u32> {
        self.wr(REG_DATA, v)?;
        self.wr(REG_ADDRESS, addr | FLAG_BIT)?;
        Ok(self.wait_flag(false, false)?.0)
    }

    fn read(&mut self, space: u32, addr: u32, pxir: bool) -> Result<u32> {
        self.select(space)?;
        let (v, a) = self.read_once(addr)?;
        if self.syndrome_out_of_range(a, pxir)? {
            let other = swap_pci_space(space);
            log::debug!("address {addr:#x} out of range in space {space:#x}: retry in {other:#x}");
            self.select(other)?;
            let (v, _) = self.read_once(addr)?;
            return Ok(v);
        }
        Ok(v)
    }

    fn write(&mut self, space: u32, addr: u32, v: u32, pxir: bool) -> Result<()> {
        self.select(space)?;
        let a = self.write_once(addr, v)?;
        if self.syndrome_out_of_range(a, pxir)? {
            let other = swap_pci_space(space);
            log::debug!("address {addr:#x} out of range in space {space:#x}: retry in {other:#x}");
            self.select(other)?;
            self.write_once(addr, v)?;
        }
        Ok(())
    }
}

/// Space 0 ("unset") means crspace, as on the paths without a gateway.
fn effective_space(space: u32) -> u32 {
    if space == 0 {
        AS_CR_SPACE
    } else {
        space
    }
}

fn check_addr(addr: u32) -> Result<()> {
    if addr & !ADDRESS_MASK != 0 {
        return Err(Error::InvalidArgument(format!(
            "address {addr:#x} too large for the VSEC gateway (limit 2^30)"
        )));
    }
    // An unaligned address goes to the gateway as given (stock does the same): the device
    // ignores the low two bits, so the aligned dword is read or written.
    Ok(())
}

/// The gateway over a config carrier.
pub struct Gateway<C: ConfigIo> {
    io: C,
    vsec: u32,
    cap_mask: u32,
    lock: Option<LockFile>,
    tuning: Tuning,
    ctrl_hi: Option<u32>,
    stale: Option<u32>,
    /// The hw id dword read at the end of the probe (see [`PROBE_ORDER`]), until taken.
    open_hw_id: Option<u32>,
    turns: Turns,
}

impl<C: ConfigIo> Gateway<C> {
    /// Set up on a functional vendor capability at `vsec`: take the semaphore (forcing it free
    /// first when `clear_semaphore`), probe every address space, release. Fails with EBUSY
    /// when the semaphore cannot be taken. The result may be unusable (see [`usable`]): the
    /// caller then falls back to the legacy window (`into_inner`).
    pub fn new(
        io: C,
        vsec: u32,
        lock: Option<LockFile>,
        clear_semaphore: bool,
        tuning: Tuning,
    ) -> std::result::Result<Gateway<C>, (Error, C)> {
        let mut gw = Gateway {
            io,
            vsec,
            cap_mask: 0,
            lock,
            tuning,
            ctrl_hi: None,
            stale: None,
            open_hw_id: None,
            turns: Turns::default(),
        };
        match gw.probe(clear_semaphore) {
            Ok(mask) => {
                gw.cap_mask = mask;
                log::debug!(
                    "VSEC at {vsec:#x}: capability mask {mask:#x}, pxir {}",
                    pxir(mask)
                );
                Ok(gw)
            }
            Err(e) => Err((e, gw.io)),
        }
    }

    fn probe(&mut self, clear_semaphore: bool) -> Result<u32> {
        let mut h = Hold {
            io: &mut self.io,
            lock: self.lock.as_ref(),
            owner: None,
            sig: None,
            vsec: self.vsec,
            tuning: self.tuning,
            ctrl_hi: &mut self.ctrl_hi,
            stale: &mut self.stale,
            ticket: None,
            selected: None,
        };
        let _g = h.acquire(clear_semaphore)?;
        let mut mask = 0u32;
        let mut result = Ok(());
        for &space in PROBE_ORDER {
            match h.select(space) {
                Ok(()) => mask |= 1 << space_to_cap_offset(space),
                Err(Error::SpaceNotSupported(_)) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        // Crspace was probed last: when supported it is still selected, so the hw id costs
        // only its read. A failure here is not an open failure (a later hw id read reports).
        let mut hw_id = None;
        if result.is_ok() && mask & (1 << space_to_cap_offset(AS_CR_SPACE)) != 0 {
            hw_id = h.read(AS_CR_SPACE, HW_ID_ADDR, pxir(mask)).ok();
        }
        let rel = h.release();
        result?;
        rel?;
        self.open_hw_id = hw_id;
        Ok(mask | (1 << VCC_INITIALIZED))
    }

    /// Whether the probed spaces make the gateway usable (`VSEC_SUPPORTED_UL`).
    pub fn is_usable(&self) -> bool {
        usable(self.cap_mask)
    }

    /// `vsec_cap_mask`.
    pub fn cap_mask(&self) -> u32 {
        self.cap_mask
    }

    /// Give the carrier back (fallback to another gateway).
    pub fn into_inner(self) -> (C, Option<LockFile>) {
        (self.io, self.lock)
    }

    /// Run `f` under one semaphore hold; the semaphore is released on every path. Errors of
    /// taking the hold are returned as they are (not `Partial`).
    ///
    /// The flock is held while the semaphore is taken. For single dwords (`block_space` None)
    /// it is kept for the whole transaction (10 accesses). For blocks the space is selected
    /// under it and it is dropped before the transfer: the semaphore alone guards the body,
    /// so stock tools (which give up on a busy flock after a few ms but wait ~2 s for the
    /// semaphore) never see the flock held for long.
    fn with_hold<R>(
        &mut self,
        block_space: Option<u32>,
        f: impl FnOnce(&mut Hold<'_>) -> Result<R>,
    ) -> Result<R> {
        self.turns.before_hold(self.tuning.hold_budget);
        let mut h = Hold {
            io: &mut self.io,
            lock: self.lock.as_ref(),
            owner: None,
            sig: None,
            vsec: self.vsec,
            tuning: self.tuning,
            ctrl_hi: &mut self.ctrl_hi,
            stale: &mut self.stale,
            ticket: None,
            selected: None,
        };
        let guard = h.acquire(false)?;
        let r = match block_space {
            Some(space) => {
                let sel = h.select(space);
                drop(guard);
                sel.and_then(|()| f(&mut h))
            }
            None => {
                let r = f(&mut h);
                drop(guard);
                r
            }
        };
        let rel = h.release();
        self.turns.after_hold();
        match (r, rel) {
            (Ok(v), Ok(())) => Ok(v),
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e),
        }
    }

    fn check_space(&mut self, space: u32) -> Result<()> {
        if self.supports_space(space) {
            Ok(())
        } else {
            Err(Error::SpaceNotSupported(space))
        }
    }
}

impl<C: ConfigIo> Access for Gateway<C> {
    fn kind(&self) -> PathKind {
        PathKind::SysfsConfig
    }

    fn read4(&mut self, space: u32, addr: u32) -> Result<u32> {
        let space = effective_space(space);
        check_addr(addr)?;
        self.check_space(space)?;
        let px = pxir(self.cap_mask);
        let v = self.with_hold(None, |h| h.read(space, addr, px))?;
        log::trace!("vsec read space {space:#x} {addr:#x} -> {v:#010x}");
        Ok(v)
    }

    fn write4(&mut self, space: u32, addr: u32, v: u32) -> Result<()> {
        let space = effective_space(space);
        check_addr(addr)?;
        self.check_space(space)?;
        log::trace!("vsec write space {space:#x} {addr:#x} <- {v:#010x}");
        let px = pxir(self.cap_mask);
        self.with_hold(None, |h| h.write(space, addr, v, px))
    }

    fn read_block(&mut self, space: u32, addr: u32, out: &mut [u32]) -> Result<()> {
        let space = effective_space(space);
        check_addr(addr)?;
        if !out.is_empty() {
            check_addr(block_addr(addr, out.len() - 1)?)?;
        }
        self.check_space(space)?;
        let px = pxir(self.cap_mask);
        let step = self.tuning.max_hold_dwords.max(1);
        for (c, chunk) in out.chunks_mut(step).enumerate() {
            let base = c * step;
            let r = self.with_hold(Some(space), |h| {
                for (i, slot) in chunk.iter_mut().enumerate() {
                    let a = block_addr(addr, base + i)?;
                    *slot = h
                        .read(space, a, px)
                        .map_err(|e| partial((base + i) * 4, e))?;
                }
                Ok(())
            });
            match r {
                Ok(()) => {}
                Err(e) if base > 0 => return Err(partial(base * 4, e)),
                Err(e) => return Err(e),
            }
        }
        log::trace!("vsec read block space {space:#x} {addr:#x} x{}", out.len());
        Ok(())
    }

    fn write_block(&mut self, space: u32, addr: u32, data: &[u32]) -> Result<()> {
        let space = effective_space(space);
        check_addr(addr)?;
        if !data.is_empty() {
            check_addr(block_addr(addr, data.len() - 1)?)?;
        }
        self.check_space(space)?;
        let px = pxir(self.cap_mask);
        let step = self.tuning.max_hold_dwords.max(1);
        for (c, chunk) in data.chunks(step).enumerate() {
            let base = c * step;
            let r = self.with_hold(Some(space), |h| {
                for (i, v) in chunk.iter().enumerate() {
                    let a = block_addr(addr, base + i)?;
                    h.write(space, a, *v, px)
                        .map_err(|e| partial((base + i) * 4, e))?;
                }
                Ok(())
            });
            match r {
                Ok(()) => {}
                Err(e) if base > 0 => return Err(partial(base * 4, e)),
                Err(e) => return Err(e),
            }
        }
        log::trace!(
            "vsec write block space {space:#x} {addr:#x} x{}",
            data.len()
        );
        Ok(())
    }

    fn supports_space(&mut self, space: u32) -> bool {
        mask_supports(self.cap_mask, space)
    }

    fn addr_limit(&self, _space: u32) -> Option<u64> {
        Some(u64::from(ADDRESS_MASK) + 1)
    }

    fn gateway_info(&self) -> GatewayInfo {
        GatewayInfo {
            functional_vsec: true,
            cap_mask: self.cap_mask,
            pxir: pxir(self.cap_mask),
            vsec_addr: self.vsec,
        }
    }

    fn config_io(&mut self) -> Option<&mut dyn ConfigIo> {
        Some(&mut self.io)
    }

    fn take_open_hw_id(&mut self) -> Option<u32> {
        self.open_hw_id.take()
    }

    fn close(&mut self) {
        // Stock leaves the gateway pointing at a non-semaphore address on close. Bounded
        // more tightly than a normal access: a stuck semaphore must not make close slow.
        self.tuning.sem_timeout = self.tuning.sem_timeout.min(CLOSE_SEM_TIMEOUT);
        self.tuning.flag_timeout = self.tuning.flag_timeout.min(CLOSE_SEM_TIMEOUT);
        let _ = self.read4(AS_CR_SPACE, HW_ID_ADDR);
    }
}
