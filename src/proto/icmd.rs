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
use crate::chips;
use crate::defs::*;
use crate::error::MError;
use crate::poll;
use crate::proto::tlv::{REG_ACCESS_OPCODE, REG_HEADERS};
use crate::proto::Crspace;

pub const ICMD_CTRL_ADDR: u32 = 0x0;
pub const ICMD_MBOX_SIZE_ADDR: u32 = 0x1000;
pub const ICMD_SYNDROME_ADDR: u32 = 0x1008;
pub const ICMD_MAILBOX_ADDR: u32 = 0x10_0000;
/// Default bound on busy-bit polls (`MFT_ICMD_TIMEOUT` overrides).
pub const ICMD_DEFAULT_POLLS: u32 = 5120;
const SEM_TRIES: u32 = 256;

/// Result of an ICMD operation.
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

/// ICMD over any [`Crspace`] (implemented for all of them).
pub trait Icmd: Crspace {
    /// Whether ICMD can be used: functional VSEC with the ICMD and semaphore spaces (or the
    /// memory path of a device whose config has a functional VSEC), not a livefish device.
    /// Returns the maximal mailbox size in bytes.
    fn icmd_open(&self) -> IcmdResult<u32> {
        icmd_open_at(self).map(|(size, _)| size)
    }

    /// Release the ICMD semaphore whoever holds it (`icmd_clear_semaphore`).
    fn icmd_clear_semaphore(&self) -> IcmdResult<()> {
        let (_, at) = icmd_open_at(self)?;
        let r = self
            .write4_in(at.sem, 0, 0)
            .map_err(|e| cr_fail("releasing the ICMD semaphore", e));
        if let Some(l) = self.owner_lock() {
            l.set_owner(OwnerSlot::Icmd, false);
        }
        r
    }

    /// Take the ICMD semaphore for this process and keep it (`icmd_take_semaphore`), for a
    /// series of [`icmd_send_ext`](Self::icmd_send_ext) without the semaphore; released by
    /// [`icmd_clear_semaphore`](Self::icmd_clear_semaphore). Taking it again while held
    /// succeeds (the semaphore holds this process's id).
    fn icmd_lock(&self) -> IcmdResult<()> {
        let _g = ICMD_LOCK.lock();
        let (_, at) = icmd_open_at(self)?;
        icmd_take_semaphore(self, at)
    }

    /// Send ICMD `opcode` with `data` as the mailbox (a big-endian byte stream, dword
    /// aligned length). The first `write_size` bytes are written (none with `skip_write`),
    /// then `data[..read_size]` is replaced by the mailbox contents after execution.
    fn icmd_send(
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
    fn icmd_send_ext(
        &self,
        opcode: u16,
        data: &mut [u8],
        write_size: usize,
        read_size: usize,
        skip_write: bool,
        semaphore: bool,
    ) -> IcmdResult<()> {
        if let Some(r) = fwctl_icmd(self, opcode, data, write_size, read_size) {
            return r;
        }
        let _g = ICMD_LOCK.lock();
        let (max, at) = icmd_open_at(self)?;
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
            if let Some(a) = chips::static_cfg_not_done_addr(hw) {
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
            return icmd_exchange(self, at, opcode, data, write_size, read_size, skip_write);
        }
        // Ctrl-C and other termination signals wait until the semaphore is free again.
        let _sig = SignalHold::new();
        icmd_take_semaphore(self, at)?;
        let r = icmd_exchange(self, at, opcode, data, write_size, read_size, skip_write);
        let rel = self.write4_in(at.sem, 0, 0);
        if let Some(l) = self.owner_lock() {
            l.set_owner(OwnerSlot::Icmd, false);
        }
        r?;
        rel.map_err(|e| cr_fail("releasing the ICMD semaphore", e))
    }
}

impl<T: Crspace + ?Sized> Icmd for T {}

fn icmd_open_at<C: Crspace + ?Sized>(d: &C) -> IcmdResult<(u32, IcmdAt)> {
    if d.path() == crate::access::PathKind::Fwctl {
        // Register-access mailboxes travel over fwctl (see `icmd_send`).
        return Ok((ICMD_MAX_CMD_SIZE, AT_VSEC));
    }
    let at = if d.supports_space(AS_ICMD) && d.supports_space(AS_SEMAPHORE) {
        AT_VSEC
    } else if d.is_memory() && bar_icmd_chip(d) && config_has_functional_vsec(d) {
        AT_BAR
    } else {
        return Err(MError::new(
            ME_ICMD_NOT_SUPPORTED,
            "ICMD needs a VSEC gateway with the ICMD and semaphore spaces",
        ));
    };
    if d.is_livefish() {
        return Err(MError::new(
            ME_ICMD_NOT_SUPPORTED,
            "device is in livefish mode",
        ));
    }
    // Read once per open (the firmware's mailbox does not change size while open).
    let cached = d.proto_state().icmd_mbox_size.load(Ordering::Relaxed);
    if cached != 0 {
        return Ok((cached, at));
    }
    let size = d
        .read4_in(at.icmd, ICMD_MBOX_SIZE_ADDR)
        .map_err(|e| cr_fail("reading the mailbox size", e))?
        .min(ICMD_MAX_CMD_SIZE);
    d.proto_state()
        .icmd_mbox_size
        .store(size, Ordering::Relaxed);
    Ok((size, at))
}

/// Whether the chip has ICMD in crspace as upstream knows it (its "static configuration
/// not done" bit; upstream refuses ICMD on other chips over the BAR).
fn bar_icmd_chip<C: Crspace + ?Sized>(d: &C) -> bool {
    d.hw_id()
        .is_ok_and(|(hw, _)| chips::static_cfg_not_done_addr(hw).is_some())
}

/// Whether the device's config space lists a functional vendor capability (what the
/// memory path borrows from the device's config file for ICMD).
/// Read once per open (the answer is cached in [`ProtoState`](super::ProtoState)): the
/// capability list does not change while the device is open, and walking it costs a config
/// access per capability on every ICMD command otherwise.
fn config_has_functional_vsec<C: Crspace + ?Sized>(d: &C) -> bool {
    let cache = &d.proto_state().config_vsec;
    match cache.load(Ordering::Relaxed) {
        1 => return true,
        2 => return false,
        _ => {}
    }
    let yes = walk_config_vsec(d);
    cache.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
    yes
}

fn walk_config_vsec<C: Crspace + ?Sized>(d: &C) -> bool {
    let Ok(mut off) = d.read_config_dword(0x34).map(|v| v & 0xfc) else {
        return false;
    };
    for _ in 0..48 {
        if !(0x40..=0xfc).contains(&off) {
            break;
        }
        let Ok(hdr) = d.read_config_dword(off) else {
            return false;
        };
        if hdr & 0xff == 0x09 {
            return (hdr >> 24) as u8 == crate::access::gateway::VSC_TYPE_FUNCTIONAL;
        }
        off = (hdr >> 8) & 0xfc;
    }
    false
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
fn icmd_take_semaphore<C: Crspace + ?Sized>(d: &C, at: IcmdAt) -> IcmdResult<()> {
    let id = std::process::id();
    let lock = d.owner_lock();
    let recover = at == AT_VSEC;
    let mut watch = StaleWatch::default();
    let rd = |what| d.read4_in(at.sem, 0).map_err(|e| cr_fail(what, e));
    for i in 0..SEM_TRIES {
        d.write4_in(at.sem, 0, id)
            .map_err(|e| cr_fail("taking the ICMD semaphore", e))?;
        let v = rd("taking the ICMD semaphore")?;
        if v == id {
            if let Some(l) = &lock {
                l.set_owner(OwnerSlot::Icmd, true);
            }
            return Ok(());
        }
        if let (Some(l), true) = (&lock, recover && v != 0) {
            let ctrl = d
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
                        d.write4_in(at.sem, 0, 0)
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

fn icmd_exchange<C: Crspace + ?Sized>(
    d: &C,
    at: IcmdAt,
    opcode: u16,
    data: &mut [u8],
    write_size: usize,
    read_size: usize,
    skip_write: bool,
) -> IcmdResult<()> {
    let ctrl = d
        .read4_in(at.icmd, ICMD_CTRL_ADDR)
        .map_err(|e| cr_fail("reading ICMD ctrl", e))?;
    let ctrl = (ctrl & 0xffff & !1) | u32::from(opcode) << 16;
    d.write4_in(at.icmd, ICMD_CTRL_ADDR, ctrl)
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
        d.write_block_in(at.icmd, ICMD_MAILBOX_ADDR, &dwords)
            .map_err(|e| cr_fail("writing the ICMD mailbox", e))?;
    }
    let cur = d
        .read4_in(at.icmd, ICMD_CTRL_ADDR)
        .map_err(|e| cr_fail("reading ICMD ctrl", e))?;
    if cur & 1 != 0 {
        return Err(MError::new(ME_ICMD_STATUS_IFC_BUSY, "ICMD interface busy"));
    }
    d.write4_in(at.icmd, ICMD_CTRL_ADDR, ctrl | 1)
        .map_err(|e| cr_fail("starting the ICMD command", e))?;
    let limit = max_polls();
    let start = Instant::now();
    let mut done = None;
    for i in 0..limit {
        poll::sleep_before(i);
        let v = d
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
        let syn = d.read4_in(at.icmd, ICMD_SYNDROME_ADDR).ok();
        let mut e = MError::new(
            status_to_merror(status),
            format!(
                "ICMD opcode {opcode:#x} failed: status {status:#x}, syndrome {:#x}",
                syn.unwrap_or(0)
            ),
        );
        e.syndrome = syn;
        return Err(e);
    }
    if read_size > 0 {
        let mut dw = vec![0u32; read_size.div_ceil(4)];
        d.read_block_in(at.icmd, ICMD_MAILBOX_ADDR, &mut dw)
            .map_err(|e| cr_fail("reading the ICMD mailbox", e))?;
        let bytes: Vec<u8> = dw.iter().flat_map(|d| d.to_be_bytes()).collect();
        data[..read_size].copy_from_slice(&bytes[..read_size]);
    }
    Ok(())
}

/// ICMD on a handle with a fwctl node: ACCESS_REGISTER (0x9001) travels as one RPC
/// ([`fwctl_icmd_reg_access`](fwctl_icmd_reg_access)); other opcodes are refused on a
/// fwctl handle (the mlx5 fwctl driver passes ACCESS_REG only) and left to ICMD (None)
/// when the node is attached to a PCI open. None without a node.
pub(crate) fn fwctl_icmd<C: Crspace + ?Sized>(
    d: &C,
    opcode: u16,
    data: &mut [u8],
    write_size: usize,
    read_size: usize,
) -> Option<IcmdResult<()>> {
    d.fwctl_node()?;
    if opcode == REG_ACCESS_OPCODE {
        let n = write_size.max(read_size);
        if n > data.len() || n > ICMD_MAX_CMD_SIZE as usize {
            return Some(Err(MError::new(
                ME_ICMD_SIZE_EXCEEDS_LIMIT,
                format!("ICMD command of {n} bytes exceeds {ICMD_MAX_CMD_SIZE}"),
            )));
        }
        return Some(fwctl_icmd_reg_access(d, &mut data[..n]));
    }
    if d.path() == crate::access::PathKind::Fwctl {
        return Some(Err(MError::new(
            ME_ICMD_NOT_SUPPORTED,
            format!(
                "ICMD opcode {opcode:#x} is not available on a fwctl handle (fwctl carries \
                 register access, opcode 0x9001, only)"
            ),
        )));
    }
    None
}

/// Run an ICMD ACCESS_REGISTER mailbox (operation TLV, register TLV, register) over the
/// fwctl node: one FWCTL_RPC; the answer and the status (as a TLV status) are written
/// back into the mailbox.
pub(crate) fn fwctl_icmd_reg_access<C: Crspace + ?Sized>(d: &C, mbox: &mut [u8]) -> IcmdResult<()> {
    let Some(node) = d.fwctl_node() else {
        return Err(MError::new(ME_ICMD_NOT_SUPPORTED, "no fwctl node attached"));
    };
    if mbox.len() < REG_HEADERS {
        return Err(MError::new(
            ME_ICMD_BAD_PARAM,
            format!(
                "ACCESS_REGISTER mailbox of {} bytes is shorter than its TLV headers ({REG_HEADERS})",
                mbox.len()
            ),
        ));
    }
    let reg_id = u16::from_be_bytes([mbox[4], mbox[5]]);
    let method = u32::from(mbox[6] & 0x7f);
    let tlv = u32::from_be_bytes([mbox[16], mbox[17], mbox[18], mbox[19]]);
    let dwords = ((tlv >> 16) & 0x7ff) as usize;
    let len = (dwords.saturating_sub(1) * 4).min(mbox.len() - REG_HEADERS);
    let data = &mut mbox[REG_HEADERS..REG_HEADERS + len];
    let write = method != MACCESS_REG_METHOD_GET;
    let reply = node
        .access_reg(reg_id, write, data)
        .map_err(|e| MError::new(ME_ICMD_STATUS_CR_FAIL, e.to_string()).with_errno(e.errno()))?;
    let st = crate::access::fwctl::cmd_status_to_tlv_status(reply.status);
    mbox[2] = (mbox[2] & 0x80) | st;
    mbox[6] |= 0x80;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        assert_eq!(status_to_merror(1), ME_ICMD_INVALID_OPCODE);
        assert_eq!(status_to_merror(0x33), ME_ICMD_UNKNOWN_STATUS);
    }
}
