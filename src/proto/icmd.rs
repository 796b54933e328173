//! ICMD: the firmware command mailbox behind the VSEC gateway (address space AS_ICMD, "VCR"
//! layout): ctrl @0x0 (opcode 31:16, status 15:8, busy bit 0), max mailbox size @0x1000,
//! syndrome @0x1008, mailbox @0x100000; ICMD semaphore = dword 0 of AS_SEMAPHORE, taken by
//! writing our pid and reading it back.
//!
//! On the memory path (`resource0`, a driver's memory node) of a device whose config space
//! has a functional VSEC, ICMD uses the same addresses in crspace through the BAR (there are
//! no address spaces there), as the stock library does with the VSEC support of the device's
//! config file: ctrl and semaphore then share crspace dword 0.
//!
//! Errors are MError codes ([`MError`]), as `icmd_send_command` returns them. Differences
//! from the stock library, on purpose: the busy bit is polled adaptively (a few spins, then
//! 10 µs, 100 µs and 1 ms sleeps) instead of 1–8 ms sleeps; the semaphore is always released
//! on every exit path (stock keeps it after an IFC_BUSY); the caller's buffer is never
//! byte-swapped in place.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::access::lock::{note_recovery, OwnerSlot, SignalHold, StaleWatch};
use crate::defs::*;
use crate::device::Device;

pub const ICMD_CTRL_ADDR: u32 = 0x0;
pub const ICMD_MBOX_SIZE_ADDR: u32 = 0x1000;
pub const ICMD_SYNDROME_ADDR: u32 = 0x1008;
pub const ICMD_MAILBOX_ADDR: u32 = 0x10_0000;
/// Default bound on busy-bit polls (`MFT_ICMD_TIMEOUT` overrides).
pub const ICMD_DEFAULT_POLLS: u32 = 5120;
const SEM_TRIES: u32 = 256;

/// An MError code with a description of what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MError {
    pub code: i32,
    pub detail: String,
    /// The errno the C layer reports with it (None: EIO).
    pub errno: Option<i32>,
}

impl MError {
    pub fn new(code: i32, detail: impl Into<String>) -> MError {
        MError {
            code,
            detail: detail.into(),
            errno: None,
        }
    }

    /// The same error, reported to C callers with `errno` instead of EIO (a system call's
    /// own errno, e.g. EPERM from the kernel's fwctl scope check).
    pub fn with_errno(mut self, errno: i32) -> MError {
        self.errno = Some(errno);
        self
    }
}

impl std::fmt::Display for MError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (MError {:#x})", self.detail, self.code)
    }
}

impl std::error::Error for MError {}

pub type IcmdResult<T> = std::result::Result<T, MError>;

/// Serializes ICMD transactions of this process (the semaphore serializes processes).
static ICMD_LOCK: Mutex<()> = Mutex::new(());

/// MError of an ICMD ctrl status (bits 15:8).
pub fn status_to_merror(status: u32) -> i32 {
    match status {
        0 => ME_OK,
        1 => ME_ICMD_INVALID_OPCODE,
        2 => ME_ICMD_INVALID_CMD,
        3 => ME_ICMD_OPERATIONAL_ERROR,
        4 => ME_ICMD_BAD_PARAM,
        5 => ME_ICMD_BUSY,
        6 => ME_ICMD_ICM_NOT_AVAIL,
        7 => ME_ICMD_WRITE_PROTECT,
        _ => ME_ICMD_UNKNOWN_STATUS,
    }
}

/// Crspace address whose bit 31 is set while the firmware is not ready for ICMD.
fn static_cfg_not_done_addr(hw_id: u16) -> Option<u32> {
    match hw_id {
        0x209 | 0x20b => Some(0xb0004),
        0x20d => Some(0xb5e04),
        0x20f | 0x212 | 0x214 | 0x216 | 0x218 => Some(0xb5f04),
        0x21e | 0x224 => Some(0xa0304),
        _ => None,
    }
}

/// Whether `v`, read as a pid (the ICMD semaphore holds its owner's pid), names a process
/// that exists in our pid namespace (or may: any answer but ESRCH counts as alive).
fn pid_alive(v: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(v) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Busy-bit poll bound: `MFT_ICMD_TIMEOUT` (polls) or the default.
fn max_polls() -> u32 {
    std::env::var("MFT_ICMD_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(ICMD_DEFAULT_POLLS)
}

/// Sleep before poll number `i` (0-based): spin, then 10 µs, 100 µs, 1 ms (the ICMD busy bit
/// and the tools HCR go bit alike).
pub(crate) fn poll_delay(i: u32) -> Option<Duration> {
    match i {
        0..=7 => None,
        8..=39 => Some(Duration::from_micros(10)),
        40..=99 => Some(Duration::from_micros(100)),
        _ => Some(Duration::from_millis(1)),
    }
}

/// Where the ICMD dwords are: the address spaces of the mailbox interface and of the
/// semaphore (the VSEC's, or crspace through the BAR for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IcmdAt {
    icmd: u32,
    sem: u32,
}

const AT_VSEC: IcmdAt = IcmdAt {
    icmd: AS_ICMD,
    sem: AS_SEMAPHORE,
};
const AT_BAR: IcmdAt = IcmdAt {
    icmd: AS_CR_SPACE,
    sem: AS_CR_SPACE,
};

fn cr_fail(what: &str, e: crate::Error) -> MError {
    MError::new(ME_ICMD_STATUS_CR_FAIL, format!("{what}: {e}"))
}

impl Device {
    /// Whether ICMD can be used: functional VSEC with the ICMD and semaphore spaces (or the
    /// memory path of a device whose config has a functional VSEC), not a livefish device.
    /// Returns the maximal mailbox size in bytes.
    pub fn icmd_open(&self) -> IcmdResult<u32> {
        self.icmd_open_at().map(|(size, _)| size)
    }

    fn icmd_open_at(&self) -> IcmdResult<(u32, IcmdAt)> {
        if self.path() == crate::access::PathKind::Fwctl {
            // Register-access mailboxes travel over fwctl (see `icmd_send`).
            return Ok((ICMD_MAX_CMD_SIZE, AT_VSEC));
        }
        let at = if self.supports_space(AS_ICMD) && self.supports_space(AS_SEMAPHORE) {
            AT_VSEC
        } else if self.is_memory() && self.bar_icmd_chip() && self.config_has_functional_vsec() {
            AT_BAR
        } else {
            return Err(MError::new(
                ME_ICMD_NOT_SUPPORTED,
                "ICMD needs a VSEC gateway with the ICMD and semaphore spaces",
            ));
        };
        if self.is_livefish() {
            return Err(MError::new(
                ME_ICMD_NOT_SUPPORTED,
                "device is in livefish mode",
            ));
        }
        // Read once per open (the firmware's mailbox does not change size while open).
        let cached = self.icmd_mbox_size.load(Ordering::Relaxed);
        if cached != 0 {
            return Ok((cached, at));
        }
        let size = self
            .read4_in(at.icmd, ICMD_MBOX_SIZE_ADDR)
            .map_err(|e| cr_fail("reading the mailbox size", e))?
            .min(ICMD_MAX_CMD_SIZE);
        self.icmd_mbox_size.store(size, Ordering::Relaxed);
        Ok((size, at))
    }

    /// Whether the chip has ICMD in crspace as upstream knows it (its "static configuration
    /// not done" bit; upstream refuses ICMD on other chips over the BAR).
    fn bar_icmd_chip(&self) -> bool {
        self.hw_id()
            .is_ok_and(|(hw, _)| static_cfg_not_done_addr(hw).is_some())
    }

    /// Whether the device's config space lists a functional vendor capability (what the
    /// memory path borrows from the device's config file for ICMD).
    fn config_has_functional_vsec(&self) -> bool {
        let Ok(mut off) = self.read_config_dword(0x34).map(|v| v & 0xfc) else {
            return false;
        };
        for _ in 0..48 {
            if !(0x40..=0xfc).contains(&off) {
                break;
            }
            let Ok(hdr) = self.read_config_dword(off) else {
                return false;
            };
            if hdr & 0xff == 0x09 {
                return (hdr >> 24) as u8 == crate::access::gateway::VSC_TYPE_FUNCTIONAL;
            }
            off = (hdr >> 8) & 0xfc;
        }
        false
    }

    /// Release the ICMD semaphore whoever holds it (`icmd_clear_semaphore`).
    pub fn icmd_clear_semaphore(&self) -> IcmdResult<()> {
        let (_, at) = self.icmd_open_at()?;
        let r = self
            .write4_in(at.sem, 0, 0)
            .map_err(|e| cr_fail("releasing the ICMD semaphore", e));
        if let Some(l) = self.owner_lock() {
            l.set_owner(OwnerSlot::Icmd, false);
        }
        r
    }

    /// Take the ICMD semaphore (write our pid, read it back), at most [`SEM_TRIES`] tries
    /// (about 1.6 s). While it is ours, this process's owner mark is set in the device's
    /// owner-lock file. A semaphore left by a dead owner is freed and taken (the stale-owner
    /// rule of docs/RELIABILITY.md: the same owner value and an idle ICMD interface — busy bit
    /// clear, control register unchanged — for 1 s and 16 polls, the owner value not the pid
    /// of a live process here, and no owner mark held by any live process; judged under the
    /// owner-lock file's flock, re-read before freeing). Through the BAR the semaphore shares
    /// its dword with the ctrl (a held semaphore reads as the ctrl there), so no stale-owner
    /// recovery on that path.
    fn icmd_take_semaphore(&self, at: IcmdAt) -> IcmdResult<()> {
        let id = std::process::id();
        let lock = self.owner_lock();
        let recover = at == AT_VSEC;
        let mut watch = StaleWatch::default();
        let rd = |what| self.read4_in(at.sem, 0).map_err(|e| cr_fail(what, e));
        for i in 0..SEM_TRIES {
            self.write4_in(at.sem, 0, id)
                .map_err(|e| cr_fail("taking the ICMD semaphore", e))?;
            let v = rd("taking the ICMD semaphore")?;
            if v == id {
                if let Some(l) = &lock {
                    l.set_owner(OwnerSlot::Icmd, true);
                }
                return Ok(());
            }
            if let (Some(l), true) = (&lock, recover && v != 0) {
                let ctrl = self
                    .read4_in(at.icmd, ICMD_CTRL_ADDR)
                    .map_err(|e| cr_fail("reading ICMD ctrl", e))?;
                if ctrl & 1 != 0 || pid_alive(v) {
                    // A command is executing (its owner is alive, or the firmware will end
                    // it), or the owner value is the pid of a live process here.
                    watch.reset();
                } else if watch.observe(&[v, ctrl]) && !l.owner_held_elsewhere(OwnerSlot::Icmd) {
                    if let Ok(_judge) = l.lock() {
                        if rd("re-reading the ICMD semaphore")? == v
                            && !l.owner_held_elsewhere(OwnerSlot::Icmd)
                        {
                            note_recovery("ICMD", v, l.path());
                            self.write4_in(at.sem, 0, 0)
                                .map_err(|e| cr_fail("freeing a stale ICMD semaphore", e))?;
                        }
                    }
                    watch.reset();
                    continue;
                }
            }
            std::thread::sleep(Duration::from_micros(100 << (i.min(6))));
        }
        Err(MError::new(
            ME_ICMD_STATUS_SEMAPHORE_TO,
            "ICMD semaphore is held by another process",
        ))
    }

    /// Take the ICMD semaphore for this process and keep it (`icmd_take_semaphore`), for a
    /// series of [`icmd_send_ext`](Self::icmd_send_ext) without the semaphore; released by
    /// [`icmd_clear_semaphore`](Self::icmd_clear_semaphore). Taking it again while held
    /// succeeds (the semaphore holds this process's id).
    pub fn icmd_lock(&self) -> IcmdResult<()> {
        let _g = ICMD_LOCK.lock();
        let (_, at) = self.icmd_open_at()?;
        self.icmd_take_semaphore(at)
    }

    /// Send ICMD `opcode` with `data` as the mailbox (a big-endian byte stream, dword
    /// aligned length). The first `write_size` bytes are written (none with `skip_write`),
    /// then `data[..read_size]` is replaced by the mailbox contents after execution.
    pub fn icmd_send(
        &self,
        opcode: u16,
        data: &mut [u8],
        write_size: usize,
        read_size: usize,
        skip_write: bool,
    ) -> IcmdResult<()> {
        self.icmd_send_ext(opcode, data, write_size, read_size, skip_write, true)
    }

    /// [`icmd_send`](Self::icmd_send); with `semaphore` false the ICMD semaphore is neither
    /// taken nor released (the caller holds it: [`icmd_lock`](Self::icmd_lock)), as
    /// `icmd_send_command_enhanced`.
    pub fn icmd_send_ext(
        &self,
        opcode: u16,
        data: &mut [u8],
        write_size: usize,
        read_size: usize,
        skip_write: bool,
        semaphore: bool,
    ) -> IcmdResult<()> {
        if let Some(r) = self.fwctl_icmd(opcode, data, write_size, read_size) {
            return r;
        }
        let _g = ICMD_LOCK.lock();
        let (max, at) = self.icmd_open_at()?;
        let max = max as usize;
        if write_size > max || read_size > max || write_size > data.len() || read_size > data.len()
        {
            return Err(MError::new(
                ME_ICMD_SIZE_EXCEEDS_LIMIT,
                format!(
                    "ICMD command of {} bytes exceeds {max}",
                    write_size.max(read_size)
                ),
            ));
        }
        if let Ok((hw, _)) = self.hw_id_at_open() {
            if let Some(a) = static_cfg_not_done_addr(hw) {
                let v = self
                    .read4_in(AS_CR_SPACE, a)
                    .map_err(|e| cr_fail("reading the ICMD ready bit", e))?;
                if v & (1 << 31) != 0 {
                    return Err(MError::new(
                        ME_ICMD_STATUS_ICMD_NOT_READY,
                        "firmware static configuration not done",
                    ));
                }
            }
        }
        if !semaphore {
            return self.icmd_exchange(at, opcode, data, write_size, read_size, skip_write);
        }
        // Ctrl-C and other termination signals wait until the semaphore is free again.
        let _sig = SignalHold::new();
        self.icmd_take_semaphore(at)?;
        let r = self.icmd_exchange(at, opcode, data, write_size, read_size, skip_write);
        let rel = self.write4_in(at.sem, 0, 0);
        if let Some(l) = self.owner_lock() {
            l.set_owner(OwnerSlot::Icmd, false);
        }
        r?;
        rel.map_err(|e| cr_fail("releasing the ICMD semaphore", e))
    }

    fn icmd_exchange(
        &self,
        at: IcmdAt,
        opcode: u16,
        data: &mut [u8],
        write_size: usize,
        read_size: usize,
        skip_write: bool,
    ) -> IcmdResult<()> {
        let ctrl = self
            .read4_in(at.icmd, ICMD_CTRL_ADDR)
            .map_err(|e| cr_fail("reading ICMD ctrl", e))?;
        let ctrl = (ctrl & 0xffff & !1) | u32::from(opcode) << 16;
        self.write4_in(at.icmd, ICMD_CTRL_ADDR, ctrl)
            .map_err(|e| cr_fail("writing ICMD ctrl", e))?;
        if !skip_write && write_size > 0 {
            let dwords: Vec<u32> = data[..write_size]
                .chunks(4)
                .map(|c| {
                    let mut b = [0u8; 4];
                    b[..c.len()].copy_from_slice(c);
                    u32::from_be_bytes(b)
                })
                .collect();
            self.write_block_in(at.icmd, ICMD_MAILBOX_ADDR, &dwords)
                .map_err(|e| cr_fail("writing the ICMD mailbox", e))?;
        }
        let cur = self
            .read4_in(at.icmd, ICMD_CTRL_ADDR)
            .map_err(|e| cr_fail("reading ICMD ctrl", e))?;
        if cur & 1 != 0 {
            return Err(MError::new(ME_ICMD_STATUS_IFC_BUSY, "ICMD interface busy"));
        }
        self.write4_in(at.icmd, ICMD_CTRL_ADDR, ctrl | 1)
            .map_err(|e| cr_fail("starting the ICMD command", e))?;
        let limit = max_polls();
        let start = Instant::now();
        let mut done = None;
        for i in 0..limit {
            if let Some(d) = poll_delay(i) {
                // `set_increase_poll_time(n)` (flint --low_cpu) stretches the sleeps.
                let k = crate::ffi::poll::increase_poll_time().clamp(0, 100) as u32;
                std::thread::sleep(d * (1 + k));
            }
            let v = self
                .read4_in(at.icmd, ICMD_CTRL_ADDR)
                .map_err(|e| cr_fail("polling ICMD ctrl", e))?;
            if v & 1 == 0 {
                done = Some(v);
                break;
            }
        }
        let Some(v) = done else {
            return Err(MError::new(
                ME_ICMD_STATUS_EXECUTE_TO,
                format!(
                    "ICMD busy bit still set after {limit} polls ({:?})",
                    start.elapsed()
                ),
            ));
        };
        let status = (v >> 8) & 0xff;
        if status != 0 {
            let syn = self.read4_in(at.icmd, ICMD_SYNDROME_ADDR).unwrap_or(0);
            return Err(MError::new(
                status_to_merror(status),
                format!("ICMD opcode {opcode:#x} failed: status {status:#x}, syndrome {syn:#x}"),
            ));
        }
        if read_size > 0 {
            let mut dw = vec![0u32; read_size.div_ceil(4)];
            self.read_block_in(at.icmd, ICMD_MAILBOX_ADDR, &mut dw)
                .map_err(|e| cr_fail("reading the ICMD mailbox", e))?;
            let bytes: Vec<u8> = dw.iter().flat_map(|d| d.to_be_bytes()).collect();
            data[..read_size].copy_from_slice(&bytes[..read_size]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_schedule_is_adaptive_and_bounded() {
        assert_eq!(poll_delay(0), None);
        assert_eq!(poll_delay(10), Some(Duration::from_micros(10)));
        assert_eq!(poll_delay(50), Some(Duration::from_micros(100)));
        assert_eq!(poll_delay(5000), Some(Duration::from_millis(1)));
        assert_eq!(status_to_merror(1), ME_ICMD_INVALID_OPCODE);
        assert_eq!(status_to_merror(0x33), ME_ICMD_UNKNOWN_STATUS);
    }
}
