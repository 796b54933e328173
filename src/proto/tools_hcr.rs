//! Tools HCR ("cmdif"): the host command register of the ConnectX-3 family in crspace, as
//! mstflint's `tools_cmdif_*` drive it (mtcr_api.md §1.4, issue 5).
//!
//! * HCR: 7 dwords at [`TOOLS_HCR_ADDR`]: in_param high, in_param low, input_modifier,
//!   out_param high, out_param low, token (31:16), then the command dword: opcode 11:0,
//!   opcode_modifier 15:12, e 22, go 23, status 31:24. A command is written with go clear,
//!   then the command dword again with go set; the device clears go when done.
//! * Tools semaphore ("sem47") at [`TOOLS_HCR_SEM`]: reading 0 takes it, writing 0 frees it.
//! * Mailbox of [`TOOLS_HCR_MAX_MBOX`] bytes inside the device, reached one quad word at a time
//!   with MBOX_WRITE (0x70) / MBOX_READ (0x71), input_modifier = dword offset. Of the 8 mailbox
//!   bytes at dword offset `i`, bytes 0..4 (a big-endian dword) travel in in/out_param low and
//!   bytes 4..8 in in/out_param high. Newer firmware also maps the mailbox into crspace at
//!   [`CR_MBOX_ADDR`] ("CR mailbox"; `tools_cmdif_is_cr_mbox_supported` probes it).
//! * Status → MError as stock: 1 BUSY, 2 BAD_OP, 3 UNKN_TLV, 4 BAD_SYS, 9 RES_STATE, any other
//!   non-zero UNKN_STATUS.
//!
//! Differences from the stock library, on purpose: the go bit is polled adaptively (spins, then
//! 10 µs, 100 µs and 1 ms sleeps, at most 2000 polls as stock, so about 2 s instead of stock's
//! 16 s) and the busy semaphore is retried 1024 times at most 1 ms apart (stock: 0–4 ms random);
//! every access is in crspace explicitly (stock uses the mfile's current address space);
//! the semaphore is released on every exit path, as stock does.
//!
//! These methods use the [`Device`]'s own access path. The C API (`src/ffi/cmdif.rs`) runs
//! them over the config-space companion of a memory-mapped open, as stock switches to it
//! (`mpci_change`) around each command; the simulator sees only config-space accesses.

use std::time::Duration;

use parking_lot::Mutex;

use crate::access::lock::{note_recovery, OwnerSlot, SignalHold, StaleWatch};
use crate::chips;
use crate::defs::*;
use crate::error::MError;
use crate::poll;
use crate::proto::tlv::REG_HEADERS;
use crate::proto::Crspace;

/// Crspace address of the tools HCR (7 dwords).
pub const TOOLS_HCR_ADDR: u32 = 0x80780;
/// Crspace address of the tools semaphore (semaphore 47).
pub const TOOLS_HCR_SEM: u32 = 0xf03bc;
/// Crspace address of the mailbox on firmware with a CR mailbox.
pub const CR_MBOX_ADDR: u32 = 0xe0000;
/// Mailbox size in bytes.
pub const TOOLS_HCR_MAX_MBOX: usize = 288;
/// Register headers (operation TLV + register TLV header) in front of a register.
pub const TOOLS_HCR_MAX_REG_SIZE: usize = TOOLS_HCR_MAX_MBOX - REG_HEADERS;
/// HCR opcodes used by the library.
pub const MBOX_WRITE_OP: u16 = 0x70;
pub const MBOX_READ_OP: u16 = 0x71;
pub const REG_ACCESS_OP: u16 = 0x3b;
/// Value `tools_cmdif_is_cr_mbox_supported` writes and expects to read back.
pub const CR_MBOX_MAGIC: u32 = 0x0bad_b00f;

/// Index of the command dword in the HCR, and its bits.
const CMD_DWORD: usize = 6;
const GO_BIT: u32 = 1 << 23;
const E_BIT: u32 = 1 << 22;
const HCR_DWORDS: usize = 7;
/// Bounds, as stock: semaphore reads, go-bit polls.
const SEM_TRIES: u32 = 1024;
/// Least time the busy semaphore is waited for.
const SEM_WAIT: Duration = Duration::from_secs(2);
const GO_POLLS: u32 = 2000;

/// Serializes tools-HCR transactions of this process (the semaphore serializes processes).
static HCR_LOCK: Mutex<()> = Mutex::new(());

pub type CmdifResult<T> = std::result::Result<T, MError>;

/// One HCR command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HcrCommand {
    pub in_param: u64,
    pub input_modifier: u32,
    pub opcode: u16,
    pub opcode_modifier: u8,
    /// The "e" (event) bit.
    pub event: bool,
}

/// What the device answered: out_param and the status byte (0 = OK).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HcrAnswer {
    pub out_param: u64,
    pub status: u8,
}

/// Whether the CR mailbox is known to work (the `mfile.hcr_params` cache: 0 unknown, 1 yes,
/// -1 no; as stock, any other value counts as no).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CrMbox {
    #[default]
    Unknown,
    Yes,
    No,
}

impl CrMbox {
    pub fn from_c(v: i32) -> CrMbox {
        match v {
            0 => CrMbox::Unknown,
            1 => CrMbox::Yes,
            _ => CrMbox::No,
        }
    }

    pub fn to_c(self) -> i32 {
        match self {
            CrMbox::Unknown => 0,
            CrMbox::Yes => 1,
            CrMbox::No => -1,
        }
    }
}

/// MError of a non-zero HCR status byte (stock `translate_status`).
pub fn status_to_merror(status: u8) -> i32 {
    match status {
        0 => ME_OK,
        1 => ME_CMDIF_BUSY,
        2 => ME_CMDIF_BAD_OP,
        3 => ME_CMDIF_UNKN_TLV,
        4 => ME_CMDIF_BAD_SYS,
        9 => ME_CMDIF_RES_STATE,
        _ => ME_CMDIF_UNKN_STATUS,
    }
}

/// The 7 HCR dwords of `cmd`, go bit clear.
pub fn pack(cmd: &HcrCommand) -> [u32; HCR_DWORDS] {
    let mut d = [0u32; HCR_DWORDS];
    d[0] = (cmd.in_param >> 32) as u32;
    d[1] = cmd.in_param as u32;
    d[2] = cmd.input_modifier;
    d[CMD_DWORD] = u32::from(cmd.opcode & 0xfff) | u32::from(cmd.opcode_modifier & 0xf) << 12;
    if cmd.event {
        d[CMD_DWORD] |= E_BIT;
    }
    d
}

/// out_param and status of the HCR dwords read back.
pub fn unpack(d: &[u32; HCR_DWORDS]) -> HcrAnswer {
    HcrAnswer {
        out_param: u64::from(d[3]) << 32 | u64::from(d[4]),
        status: (d[CMD_DWORD] >> 24) as u8,
    }
}

/// Quad word of mailbox bytes as in_param (bytes 0..4 low, 4..8 high, big-endian dwords).
pub fn mbox_qword_to_param(b: &[u8]) -> u64 {
    let lo = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let hi = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    u64::from(hi) << 32 | u64::from(lo)
}

/// Inverse of [`mbox_qword_to_param`] for an out_param.
pub fn param_to_mbox_qword(p: u64, out: &mut [u8]) {
    out[..4].copy_from_slice(&(p as u32).to_be_bytes());
    out[4..8].copy_from_slice(&((p >> 32) as u32).to_be_bytes());
}

/// Round a byte count up to whole quad words.
fn quad_aligned(n: usize) -> usize {
    n.div_ceil(8) * 8
}

fn cr_error(what: &str, e: crate::Error) -> MError {
    MError::new(ME_CR_ERROR, format!("tools HCR: {what}: {e}"))
}

/// Error of a command that completed with a non-zero status.
fn bad_status(opcode: u16, status: u8) -> MError {
    MError::new(
        status_to_merror(status),
        format!("tools HCR opcode {opcode:#x}: status {status:#x}"),
    )
}

/// The tools HCR over any [`Crspace`] (implemented for all of them).
pub trait ToolsHcr: Crspace {
    /// Free the tools semaphore whoever holds it (`tools_cmdif_unlock_semaphore`).
    fn tools_hcr_unlock_semaphore(&self) -> CmdifResult<()> {
        let r = hcr_write4(self, TOOLS_HCR_SEM, 0, "releasing the tools semaphore");
        if let Some(l) = self.owner_lock() {
            l.set_owner(OwnerSlot::ToolsHcr, false);
        }
        r
    }

    /// `tools_cmdif_send_inline_cmd`: one command under the semaphore. Returns the result and
    /// the out_param as stock leaves it: `None` when the semaphore could not be taken
    /// (untouched), 0 when the command did not complete, else what the device answered (also
    /// with a non-zero status).
    fn tools_hcr_inline(&self, cmd: &HcrCommand) -> (CmdifResult<()>, Option<u64>) {
        let mut out = None;
        let r = hcr_locked(self, Some(ME_SEM_LOCKED), || {
            out = Some(0);
            let a = hcr_execute(self, cmd)?;
            out = Some(a.out_param);
            if a.status != 0 {
                return Err(bad_status(cmd.opcode, a.status));
            }
            Ok(())
        });
        (r, out)
    }

    /// `tools_cmdif_is_supported`: a MBOX_WRITE of zeros at offset 0 under the semaphore.
    fn tools_hcr_is_supported(&self) -> CmdifResult<()> {
        hcr_locked(self, Some(ME_SEM_LOCKED), || {
            hcr_mbox_write(self, 0, &[0u8; 8])
        })
    }

    /// `tools_cmdif_is_cr_mbox_supported`: write [`CR_MBOX_MAGIC`] at [`CR_MBOX_ADDR`] and read
    /// it back under the semaphore: ME_OK if it sticks, else ME_CMDIF_NOT_SUPP.
    fn tools_hcr_is_cr_mbox_supported(&self) -> CmdifResult<()> {
        let v = hcr_locked(self, None, || {
            hcr_write4(self, CR_MBOX_ADDR, CR_MBOX_MAGIC, "writing the CR mailbox")?;
            hcr_read4(self, CR_MBOX_ADDR, "reading the CR mailbox")
        })?;
        if v == CR_MBOX_MAGIC {
            Ok(())
        } else {
            Err(MError::new(
                ME_CMDIF_NOT_SUPP,
                format!("no CR mailbox: {CR_MBOX_ADDR:#x} read back {v:#x}"),
            ))
        }
    }

    /// `tools_cmdif_send_mbox_command_int`: under the semaphore, unless `skip_write` write
    /// the whole mailbox (zeros, with `data[..write_size]` at byte `offset`), run the command,
    /// then read `read_size` bytes from `offset` back into `data`. `offset` must be a multiple
    /// of 8 and both sizes, rounded up to quad words, must fit the mailbox from `offset`
    /// (else ME_BAD_PARAMS); `data` must hold both sizes. `use_cr_mbox` moves the mailbox
    /// through crspace at [`CR_MBOX_ADDR`] instead of MBOX_WRITE/MBOX_READ commands.
    #[allow(clippy::too_many_arguments)]
    fn tools_hcr_mbox_command(
        &self,
        input_modifier: u32,
        opcode: u16,
        opcode_modifier: u8,
        offset: usize,
        data: &mut [u8],
        write_size: usize,
        read_size: usize,
        skip_write: bool,
        use_cr_mbox: bool,
    ) -> CmdifResult<()> {
        let w = quad_aligned(write_size);
        let r = quad_aligned(read_size);
        if !offset.is_multiple_of(8)
            || offset + w > TOOLS_HCR_MAX_MBOX
            || offset + r > TOOLS_HCR_MAX_MBOX
            || data.len() < write_size.max(read_size)
        {
            return Err(MError::new(
                ME_BAD_PARAMS,
                format!(
                    "tools HCR mailbox: offset {offset}, write {write_size}, read {read_size} \
                     bytes do not fit {TOOLS_HCR_MAX_MBOX} bytes (offset a multiple of 8)"
                ),
            ));
        }
        hcr_locked(self, Some(ME_SEM_LOCKED), || {
            let mut mbox = [0u8; TOOLS_HCR_MAX_MBOX];
            if !skip_write {
                mbox[offset..offset + write_size].copy_from_slice(&data[..write_size]);
                if use_cr_mbox {
                    let dw: Vec<u32> = mbox
                        .chunks(4)
                        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    self.write_block_in(AS_CR_SPACE, CR_MBOX_ADDR, &dw)
                        .map_err(|e| cr_error("writing the CR mailbox", e))?;
                } else {
                    for (i, q) in mbox.chunks(8).enumerate() {
                        hcr_mbox_write(self, 2 * i as u32, q)?;
                    }
                }
            }
            hcr_execute_ok(
                self,
                &HcrCommand {
                    input_modifier,
                    opcode,
                    opcode_modifier,
                    ..HcrCommand::default()
                },
            )?;
            if use_cr_mbox {
                let mut dw = vec![0u32; r / 4];
                self.read_block_in(AS_CR_SPACE, CR_MBOX_ADDR + offset as u32, &mut dw)
                    .map_err(|e| cr_error("reading the CR mailbox", e))?;
                for (i, v) in dw.iter().enumerate() {
                    let at = offset + 4 * i;
                    mbox[at..at + 4].copy_from_slice(&v.to_be_bytes());
                }
            } else {
                for at in (offset..offset + r).step_by(8) {
                    hcr_mbox_read(self, (at / 4) as u32, &mut mbox[at..at + 8])?;
                }
            }
            data[..read_size].copy_from_slice(&mbox[offset..offset + read_size]);
            Ok(())
        })
    }

    /// `tools_cmdif_reg_access`: ACCESS_REGISTER (0x3b) with `data` (operation TLV, register
    /// TLV, register: big-endian bytes) as the mailbox, `write_size` bytes out and `read_size`
    /// back. Probes the CR mailbox first when `cr_mbox` is unknown (and records the answer);
    /// with a CR mailbox the command's input_modifier is 1.
    fn tools_hcr_reg_access(
        &self,
        data: &mut [u8],
        write_size: usize,
        read_size: usize,
        cr_mbox: &mut CrMbox,
    ) -> CmdifResult<()> {
        if *cr_mbox == CrMbox::Unknown {
            match self.tools_hcr_is_cr_mbox_supported() {
                Ok(()) => *cr_mbox = CrMbox::Yes,
                Err(e) if e.code == ME_CMDIF_NOT_SUPP => *cr_mbox = CrMbox::No,
                Err(e) => return Err(e),
            }
        }
        let cr = *cr_mbox == CrMbox::Yes;
        self.tools_hcr_mbox_command(
            u32::from(cr),
            REG_ACCESS_OP,
            0,
            0,
            data,
            write_size,
            read_size,
            false,
            cr,
        )
    }

    /// Whether register access goes through the tools HCR: a ConnectX-3 / ConnectX-3 Pro
    /// (HW id 0x1f5 / 0x1f7) whose HCR answers (`supports_tools_cmdif_reg`).
    fn tools_hcr_reg_supported(&self) -> bool {
        matches!(self.hw_id_at_open(), Ok((hw, _)) if chips::is_connectx3_hw_id(hw))
            && self.tools_hcr_is_supported().is_ok()
    }
}

impl<T: Crspace + ?Sized> ToolsHcr for T {}

fn hcr_read4<C: Crspace + ?Sized>(d: &C, addr: u32, what: &str) -> CmdifResult<u32> {
    d.read4_in(AS_CR_SPACE, addr).map_err(|e| cr_error(what, e))
}

fn hcr_write4<C: Crspace + ?Sized>(d: &C, addr: u32, v: u32, what: &str) -> CmdifResult<()> {
    d.write4_in(AS_CR_SPACE, addr, v)
        .map_err(|e| cr_error(what, e))
}

/// Take the tools semaphore: reading 0 takes it. ME_SEM_LOCKED after 1024 busy reads,
/// ME_CR_ERROR when it cannot be read.
///
/// While it is ours, this process's owner mark is set in the device's owner-lock file.
/// A semaphore left by a dead owner is freed and taken (docs/RELIABILITY.md: taken for
/// 1 s and 16 polls with the HCR idle — go bit clear, command dword unchanged — and no
/// owner mark held by a live process; judged under the owner-lock file's flock; only on
/// the ConnectX-3 family, where that word is the tools semaphore).
fn hcr_sem_take<C: Crspace + ?Sized>(d: &C) -> CmdifResult<()> {
    let lock = d.owner_lock();
    // Only where 0xf03bc is the tools semaphore (ConnectX-3 family): elsewhere it is an
    // ordinary crspace word and is never written on a guess.
    let recoverable = matches!(d.hw_id_at_open(), Ok((hw, _)) if chips::is_connectx3_hw_id(hw));
    let mut watch = StaleWatch::default();
    let start = std::time::Instant::now();
    // At least SEM_TRIES reads and at least SEM_WAIT (stock waits about 2 s on average),
    // so that a stale owner (judged after STALE_AFTER) is recovered within the wait.
    let mut i = 0u32;
    while i < SEM_TRIES || start.elapsed() < SEM_WAIT {
        i += 1;
        let v = hcr_read4(d, TOOLS_HCR_SEM, "reading the tools semaphore")?;
        if v == 0 {
            if let Some(l) = &lock {
                l.set_owner(OwnerSlot::ToolsHcr, true);
            }
            return Ok(());
        }
        if let (Some(l), true) = (&lock, recoverable) {
            let cmd = hcr_read4(d, TOOLS_HCR_ADDR + 4 * CMD_DWORD as u32, "reading the HCR")?;
            if cmd & GO_BIT != 0 {
                watch.reset();
            } else if watch.observe(&[v, cmd]) && !l.owner_held_elsewhere(OwnerSlot::ToolsHcr) {
                if let Ok(_judge) = l.lock() {
                    // Re-read under the judge lock: reading a free semaphore takes it.
                    let again = hcr_read4(d, TOOLS_HCR_SEM, "reading the tools semaphore")?;
                    if again == 0 {
                        l.set_owner(OwnerSlot::ToolsHcr, true);
                        return Ok(());
                    }
                    if !l.owner_held_elsewhere(OwnerSlot::ToolsHcr) {
                        note_recovery("tools HCR", again, l.path());
                        hcr_write4(d, TOOLS_HCR_SEM, 0, "freeing a stale tools semaphore")?;
                        if hcr_read4(d, TOOLS_HCR_SEM, "reading the tools semaphore")? == 0 {
                            l.set_owner(OwnerSlot::ToolsHcr, true);
                            return Ok(());
                        }
                    }
                }
                watch.reset();
                continue;
            }
        }
        if i >= 8 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Err(MError::new(
        ME_SEM_LOCKED,
        format!(
            "tools HCR semaphore ({TOOLS_HCR_SEM:#x}) still taken after {i} reads ({:?}) \
             (tools_cmdif_unlock_semaphore frees it)",
            start.elapsed()
        ),
    ))
}

/// Run `f` holding the tools semaphore (and this process's HCR lock); the semaphore is
/// released on every exit path. A failure to take it is `sem_err` (stock reports
/// ME_SEM_LOCKED from most entry points whatever went wrong).
fn hcr_locked<C: Crspace + ?Sized, T>(
    d: &C,
    sem_err: Option<i32>,
    f: impl FnOnce() -> CmdifResult<T>,
) -> CmdifResult<T> {
    let _g = HCR_LOCK.lock();
    // Ctrl-C and other termination signals wait until the semaphore is free again.
    let _sig = SignalHold::new();
    hcr_sem_take(d).map_err(|e| match sem_err {
        Some(code) => MError::new(code, e.detail),
        None => e,
    })?;
    let r = f();
    let rel = d.tools_hcr_unlock_semaphore();
    let v = r?;
    rel?;
    Ok(v)
}

/// Poll the go bit until clear: Ok(true) when clear, Ok(false) after [`GO_POLLS`] polls.
fn hcr_wait_go<C: Crspace + ?Sized>(d: &C) -> CmdifResult<bool> {
    for i in 0..GO_POLLS {
        let v = hcr_read4(
            d,
            TOOLS_HCR_ADDR + 4 * CMD_DWORD as u32,
            "polling the go bit",
        )?;
        if v & GO_BIT == 0 {
            return Ok(true);
        }
        poll::sleep_before(i);
    }
    Ok(false)
}

/// Execute one command; the caller holds the semaphore. Errors: ME_CMDIF_BUSY (go was
/// set before), ME_CMDIF_TOUT (go never cleared), ME_CR_ERROR. A non-zero status comes
/// back in the answer.
fn hcr_execute<C: Crspace + ?Sized>(d: &C, cmd: &HcrCommand) -> CmdifResult<HcrAnswer> {
    if !hcr_wait_go(d)? {
        return Err(MError::new(
            ME_CMDIF_BUSY,
            "tools HCR busy: go bit set before the command was issued",
        ));
    }
    let words = pack(cmd);
    d.write_block_in(AS_CR_SPACE, TOOLS_HCR_ADDR, &words)
        .map_err(|e| cr_error("writing the HCR", e))?;
    hcr_write4(
        d,
        TOOLS_HCR_ADDR + 4 * CMD_DWORD as u32,
        words[CMD_DWORD] | GO_BIT,
        "setting the go bit",
    )?;
    if !hcr_wait_go(d)? {
        return Err(MError::new(
            ME_CMDIF_TOUT,
            format!(
                "tools HCR opcode {:#x}: go bit still set after {GO_POLLS} polls",
                cmd.opcode
            ),
        ));
    }
    let mut words = words;
    d.read_block_in(AS_CR_SPACE, TOOLS_HCR_ADDR, &mut words)
        .map_err(|e| cr_error("reading the HCR", e))?;
    Ok(unpack(&words))
}

/// Execute and turn a non-zero status into its MError.
fn hcr_execute_ok<C: Crspace + ?Sized>(d: &C, cmd: &HcrCommand) -> CmdifResult<HcrAnswer> {
    let a = hcr_execute(d, cmd)?;
    if a.status != 0 {
        return Err(bad_status(cmd.opcode, a.status));
    }
    Ok(a)
}

fn hcr_mbox_write<C: Crspace + ?Sized>(d: &C, dword_off: u32, qword: &[u8]) -> CmdifResult<()> {
    hcr_execute_ok(
        d,
        &HcrCommand {
            in_param: mbox_qword_to_param(qword),
            input_modifier: dword_off,
            opcode: MBOX_WRITE_OP,
            ..HcrCommand::default()
        },
    )
    .map(drop)
}

fn hcr_mbox_read<C: Crspace + ?Sized>(d: &C, dword_off: u32, qword: &mut [u8]) -> CmdifResult<()> {
    let a = hcr_execute_ok(
        d,
        &HcrCommand {
            input_modifier: dword_off,
            opcode: MBOX_READ_OP,
            ..HcrCommand::default()
        },
    )?;
    param_to_mbox_qword(a.out_param, qword);
    Ok(())
}

#[cfg(test)]
mod tests;
