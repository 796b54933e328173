//! The firmware-controlled component update ("fw_ctrl"): MCQS 0x9060, MCQI 0x9061, MCC
//! 0x9062, MCDA 0x9063 and MQIS 0x9064, with the update state machine behind MCC. Served
//! when `[device.firmware] fw_update = true` (MCAM then advertises them, and mstflint burns
//! and queries through them instead of the flash registers). Documented in
//! `sim/FIRMWARE.md`, "Component update".
//!
//! Register layouts (big-endian dwords; "bit n" counts from the least significant bit):
//! * MCC (32 bytes): dword 0 instruction 7:0, time_elapsed_since_last_cmd 27:16; dword 1
//!   component_index 15:0; dword 2 update_handle 23:0; dword 3 control_state 3:0,
//!   error_code 15:8, control_progress 22:16, handle_owner_type 31:28; dword 4
//!   component_size.
//! * MCDA (0x90 bytes): update_handle 23:0; offset; size 15:0; data from dword 4 (up to 128
//!   bytes, a dword carrying component bytes b0..b3 as b0 | b1 << 8 | b2 << 16 | b3 << 24).
//! * MCDD (0x20 bytes, with `dma`): update_handle 23:0; offset; size 15:0 (at most 4 KiB);
//!   dword 3 reserved; data page bus address (msb, lsb) dwords 4-5; mailbox page bus address
//!   dwords 6-7. The device reads `size` bytes from the data page (big-endian dwords, each
//!   the value an MCDA data dword carries), programs them like MCDA, then writes the 36-byte
//!   descriptor into the mailbox page: the register's eight dwords, then status 7:0
//!   (2 OK, 3 ERROR) and error 15:8 of dword 8, all big-endian.
//! * MCQS (16 bytes): component_index 15:0 and last_index_flag 31 of dword 0; identifier
//!   15:0 of dword 1; dword 2 component_update_state 3:0, component_status 8:4.
//! * MCQI (0x94 bytes): component_index 15:0 and read_pending_component 31 of dword 0;
//!   info_type 4:0 of dword 2; info_size dword 3; offset dword 4; data_size 15:0 of dword 5;
//!   data from dword 6.
//! * MQIS (0x18 bytes): info_type 7:0; info_length 15:0 of dword 1; read_length 15:0 and
//!   read_offset 31:16 of dword 2; 8 string bytes from dword 4 (in memory order).
//!
//! The state machine: IDLE → (LOCK_UPDATE_HANDLE) LOCKED → (UPDATE_COMPONENT: the other
//! image slot is erased) DOWNLOAD → (MCDA writes go straight to that slot, the magic pattern
//! masked by the tool) → (VERIFY_COMPONENT: the slot checked as a whole image, magic
//! restored) LOCKED → (ACTIVATE: magic written, the old image's first magic dword zeroed, the next boot
//! pointed at the new slot) LOCKED → (RELEASE_UPDATE_HANDLE) IDLE. CANCEL goes back to
//! LOCKED from any state, FORCE_HANDLE_RELEASE to IDLE. An update handle whose owner sends
//! nothing for `update_timeout_ms` is dropped (the FSM goes back to IDLE), so a killed tool
//! does not block the next burn for longer than that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dma::HostMemory;
use super::firmware::Firmware;
use super::flash::{PAGE_SIZE, SECTOR_SIZE};
use super::registers::{ST_BAD_PARAM, ST_OK};
use crate::fw::image::{self, FS4_MAGIC};

pub const REG_MCQS: u16 = 0x9060;
pub const REG_MCQI: u16 = 0x9061;
pub const REG_MCC: u16 = 0x9062;
pub const REG_MCDA: u16 = 0x9063;
pub const REG_MQIS: u16 = 0x9064;
/// MCDD: a component chunk sent by DMA (served with `[device.firmware] dma`).
pub const REG_MCDD: u16 = 0x905c;
pub const MCDD_SIZE: usize = 0x20;
/// Largest MCDD transfer: one host page.
pub const MCDD_MAX: usize = 4096;
/// The mailbox descriptor the device writes back (the register, then the status dword).
pub const MCDD_DESCRIPTOR_SIZE: usize = 0x24;
/// Mailbox descriptor status values (the tools poll while 0 "unknown" or 1 "busy").
pub const MCDD_STATUS_OK: u32 = 2;
pub const MCDD_STATUS_ERROR: u32 = 3;
/// MVTS (version timestamp): checked by the tools before a burn under fw_ctrl.
pub const REG_MVTS: u16 = 0x902c;
pub const MVTS_SIZE: usize = 0x14;

pub const MCC_SIZE: usize = 0x20;
pub const MCDA_SIZE: usize = 0x90;
pub const MQIS_SIZE: usize = 0x18;
pub const MCQS_SIZE: usize = 0x10;
pub const MCQI_SIZE: usize = 0x94;

/// Register status "resource not available": the tools retry MCC on it (lock taken).
pub const ST_RES_NOT_AVLBL: u32 = 8;

/// Largest MCDA write (bytes).
pub const MCDA_MAX: usize = 128;

/// MCC instructions.
pub mod cmd {
    pub const LOCK_UPDATE_HANDLE: u32 = 0x1;
    pub const RELEASE_UPDATE_HANDLE: u32 = 0x2;
    pub const UPDATE_COMPONENT: u32 = 0x3;
    pub const VERIFY_COMPONENT: u32 = 0x4;
    pub const ACTIVATE_COMPONENT: u32 = 0x5;
    pub const ACTIVATE: u32 = 0x6;
    pub const CANCEL: u32 = 0x8;
    pub const CHECK_UPDATE_HANDLE: u32 = 0x9;
    pub const FORCE_HANDLE_RELEASE: u32 = 0xa;
}

/// FSM states (MCC control_state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle = 0,
    Locked = 1,
    Download = 3,
    Verify = 4,
}

/// MCC error codes the model reports.
pub mod err {
    pub const ERROR: u32 = 0x1;
    pub const REJECTED_NOT_APPLICABLE: u32 = 0x3;
    pub const REJECTED_BAD_FORMAT: u32 = 0x8;
    pub const NO_PLACE: u32 = 0x1e;
}

/// Component identifier of the boot image (MCQS).
const COMPID_BOOT_IMG: u32 = 0x1;
/// MCQI info types.
const INFO_CAPABILITIES: u32 = 0;
const INFO_VERSIONS: u32 = 1;
const INFO_ACTIVATION_METHOD: u32 = 5;

/// The update state machine of one device.
pub(crate) struct FwUpdate {
    pub state: State,
    handle: u32,
    next_handle: u32,
    error: u32,
    last_cmd: Instant,
    timeout: Duration,
    /// The slot being written (absolute flash address) and the component size.
    target: usize,
    size: usize,
    /// Which dwords of the component MCDA has written.
    have: Vec<bool>,
    verified: bool,
    /// MCC / MCDA commands served (for tests).
    pub commands: u64,
    /// The timestamp set for the next firmware (MVTS; zero: none).
    next_ts: [u32; 4],
    /// Base MAC and GUID written through MNVDA item 2 (`mstflint sg` under fw_ctrl).
    mac_guid: Option<(u64, u64)>,
    /// MCDD served and advertised (`[device.firmware] dma`).
    pub dma: bool,
    /// The host memory the device reaches by DMA (set by the device that owns the firmware).
    pub host: Option<Arc<HostMemory>>,
    /// MCDD transfers served (for tests).
    pub mcdd_writes: u64,
}

impl FwUpdate {
    pub fn new(timeout: Duration) -> FwUpdate {
        FwUpdate {
            state: State::Idle,
            handle: 0,
            next_handle: 0x1234,
            error: 0,
            last_cmd: Instant::now(),
            timeout,
            target: 0,
            size: 0,
            have: Vec::new(),
            verified: false,
            commands: 0,
            next_ts: [0; 4],
            mac_guid: None,
            dma: false,
            host: None,
            mcdd_writes: 0,
        }
    }

    /// Serve MCDD (the DMA burn) too.
    pub fn with_dma(mut self, dma: bool) -> FwUpdate {
        self.dma = dma;
        self
    }

    fn release(&mut self) {
        self.state = State::Idle;
        self.handle = 0;
        self.error = 0;
        self.verified = false;
        self.have = Vec::new();
    }

    /// Drop a handle whose owner has been silent for longer than the timeout.
    fn expire(&mut self, now: Instant) {
        if self.state != State::Idle && now.saturating_duration_since(self.last_cmd) > self.timeout
        {
            log::info!(
                "fw update: handle {:#x} timed out, FSM back to IDLE",
                self.handle
            );
            self.release();
        }
    }
}

/// The slot holding the image that runs from flash now (0 when none is found) and the slot
/// size (from its tools area, else half the flash).
fn slots(fw: &Firmware) -> (usize, usize) {
    let data = fw.flash.contents();
    match image::check(data) {
        Ok(i) => (i.start, 1usize << i.log2_slot_size),
        Err(_) => (0, data.len() / 2),
    }
}

/// The image the next boot loads, when it is not the one running (a burnt, pending image).
fn pending(fw: &Firmware) -> Option<image::ImageInfo> {
    let a = fw.next_boot? as usize;
    let data = fw.flash.contents();
    let end = (a + data.len() / 2).min(data.len());
    let info = image::check(&data[a..end]).ok().filter(|i| i.start == 0)?;
    let r = fw.running.as_ref()?;
    (info.fw_version != r.version || info.psid != r.psid || info.release_date != r.date)
        .then_some(info)
}

fn bcd(v: u32) -> u32 {
    u32::from_str_radix(&v.to_string(), 16).unwrap_or(0)
}

/// GET / SET of a component-update register (`data`: the register dwords, answered in
/// place). Returns the register status.
pub fn access(fw: &mut Firmware, id: u16, set: bool, data: &mut [u32], now: Instant) -> u32 {
    match (id, set) {
        (REG_MCC, _) => mcc(fw, set, data, now),
        (REG_MCDA, true) => mcda_write(fw, data, now),
        (REG_MCDD, true) => mcdd_write(fw, data, now),
        (REG_MCQS, false) => mcqs(fw, data),
        (REG_MCQI, false) => mcqi(fw, data),
        (REG_MQIS, false) => mqis(fw, data),
        (REG_MVTS, _) => mvts(fw, set, data),
        _ => super::registers::ST_METHOD_NOT_SUPP,
    }
}

fn mcc(fw: &mut Firmware, set: bool, data: &mut [u32], now: Instant) -> u32 {
    let Some(up) = fw.update.as_mut() else {
        return super::registers::ST_REG_NOT_SUPP;
    };
    up.expire(now);
    let instr = data[0] & 0xff;
    let handle = data[2] & 0xff_ffff;
    let owner = up.state != State::Idle && handle == up.handle;
    let mut status = ST_OK;
    if set {
        up.commands += 1;
        let busy_other = up.state != State::Idle && !owner;
        match instr {
            cmd::FORCE_HANDLE_RELEASE => up.release(),
            cmd::LOCK_UPDATE_HANDLE if up.state == State::Idle => {
                up.handle = if handle == 0 { up.next_handle } else { handle };
                up.next_handle = (up.next_handle + 1) & 0xff_ffff;
                up.state = State::Locked;
                up.error = 0;
                up.last_cmd = now;
            }
            _ if busy_other => status = ST_RES_NOT_AVLBL,
            _ if up.state == State::Idle => status = ST_BAD_PARAM,
            cmd::LOCK_UPDATE_HANDLE | cmd::CHECK_UPDATE_HANDLE => up.last_cmd = now,
            cmd::RELEASE_UPDATE_HANDLE => up.release(),
            cmd::CANCEL => {
                up.state = State::Locked;
                up.error = 0;
                up.verified = false;
                up.have = Vec::new();
                up.last_cmd = now;
            }
            cmd::UPDATE_COMPONENT => {
                up.last_cmd = now;
                if up.state != State::Locked || data[1] & 0xffff != 0 {
                    status = ST_BAD_PARAM;
                } else {
                    let size = data[4] as usize;
                    status = start_download(fw, size);
                }
            }
            cmd::VERIFY_COMPONENT => {
                up.last_cmd = now;
                if up.state != State::Download {
                    status = ST_BAD_PARAM;
                } else {
                    verify(fw);
                }
            }
            cmd::ACTIVATE | cmd::ACTIVATE_COMPONENT => {
                up.last_cmd = now;
                if up.state != State::Locked {
                    status = ST_BAD_PARAM;
                } else {
                    activate(fw);
                }
            }
            _ => status = ST_BAD_PARAM,
        }
    }
    let up = fw.update.as_mut().expect("checked above");
    if status != ST_OK {
        return status;
    }
    let elapsed = now
        .saturating_duration_since(up.last_cmd)
        .as_secs()
        .min(0xfff) as u32;
    data[0] = (data[0] & 0xffff) | elapsed << 16;
    // A query while IDLE proposes the handle the next lock will use.
    data[2] = if up.state == State::Idle {
        up.next_handle
    } else {
        up.handle
    };
    // control_state, error_code, control_progress (101: not reported), owner ICMD (5).
    let owner_type = if up.state == State::Idle { 0 } else { 5 };
    data[3] = up.state as u32 | (up.error & 0xff) << 8 | 101 << 16 | owner_type << 28;
    ST_OK
}

/// UPDATE_COMPONENT: erase the slot the running image is not in, as far as `size` reaches.
fn start_download(fw: &mut Firmware, size: usize) -> u32 {
    let (running, slot) = slots(fw);
    let target = if running == 0 { slot } else { 0 };
    let flash_len = fw.flash.contents().len();
    let dev_data = flash_len - image::DEV_DATA_SIZE;
    let up = fw.update.as_mut().expect("update model");
    let end = target + size.div_ceil(SECTOR_SIZE) * SECTOR_SIZE;
    // The slot, short of the device data at the top of the flash.
    let limit = (target + slot).min(if target < dev_data {
        dev_data
    } else {
        flash_len
    });
    if size == 0 || !size.is_multiple_of(4) || end > limit {
        up.error = err::NO_PLACE;
        return ST_OK;
    }
    for a in (target..end).step_by(SECTOR_SIZE) {
        if fw.flash.erase(a, SECTOR_SIZE).is_err() {
            up.error = err::ERROR;
            return ST_OK;
        }
    }
    up.target = target;
    up.size = size;
    up.have = vec![false; size / 4];
    up.verified = false;
    up.error = 0;
    up.state = State::Download;
    ST_OK
}

/// The common prologue of a download chunk (MCDA, MCDD): the update expires or counts the
/// command, the state and handle must be DOWNLOAD / ours, and `offset` (dword 1) and `size`
/// (dword 2, 15:0) must be aligned, non-empty, at most `max` and inside the component.
/// Ok((offset, size)) or the register status to answer.
fn download_chunk(
    up: &mut FwUpdate,
    data: &[u32],
    now: Instant,
    max: usize,
    min_dwords: usize,
) -> Result<(usize, usize), u32> {
    up.expire(now);
    up.commands += 1;
    if up.state != State::Download || data[0] & 0xff_ffff != up.handle || data.len() < min_dwords {
        return Err(ST_BAD_PARAM);
    }
    up.last_cmd = now;
    let off = data[1] as usize;
    let len = (data[2] & 0xffff) as usize;
    if !off.is_multiple_of(4) || len == 0 || len > max || off + len > up.size {
        return Err(ST_BAD_PARAM);
    }
    Ok((off, len))
}

fn mcda_write(fw: &mut Firmware, data: &mut [u32], now: Instant) -> u32 {
    let Some(up) = fw.update.as_mut() else {
        return super::registers::ST_REG_NOT_SUPP;
    };
    let (off, len) = match download_chunk(up, data, now, MCDA_MAX, 0) {
        Ok(v) => v,
        Err(st) => return st,
    };
    if len > (data.len().saturating_sub(4)) * 4 {
        return ST_BAD_PARAM;
    }
    let bytes: Vec<u8> = data[4..4 + len.div_ceil(4)]
        .iter()
        .flat_map(|d| d.to_le_bytes())
        .take(len)
        .collect();
    program_component(fw, off, &bytes)
}

/// Program component bytes at `off` of the slot being downloaded (the caller checked the
/// state, the handle and the range).
fn program_component(fw: &mut Firmware, off: usize, bytes: &[u8]) -> u32 {
    let up = fw.update.as_mut().expect("update model");
    let target = up.target;
    for i in off / 4..(off + bytes.len()).div_ceil(4) {
        up.have[i] = true;
    }
    // Program page by page (a chunk may cross a page boundary).
    let mut at = 0;
    while at < bytes.len() {
        let a = target + off + at;
        let n = (PAGE_SIZE - a % PAGE_SIZE).min(bytes.len() - at);
        if fw.flash.program(a, &bytes[at..at + n]).is_err() {
            return ST_BAD_PARAM;
        }
        at += n;
    }
    ST_OK
}

/// MCDD SET: a component chunk the device fetches from host memory by DMA, its completion
/// reported in the mailbox page. A transfer the device cannot make (no such pinned page, the
/// pinning process gone) fails the register access (BAD_PARAM), so the tools fall back to
/// MCDA; a flash failure is reported in the mailbox (status ERROR, error 1).
fn mcdd_write(fw: &mut Firmware, data: &mut [u32], now: Instant) -> u32 {
    let Some(up) = fw.update.as_mut().filter(|u| u.dma) else {
        return super::registers::ST_REG_NOT_SUPP;
    };
    let (off, len) = match download_chunk(up, data, now, MCDD_MAX, 8) {
        Ok(v) => v,
        Err(st) => return st,
    };
    if !len.is_multiple_of(4) {
        return ST_BAD_PARAM;
    }
    let Some(host) = up.host.clone() else {
        return ST_BAD_PARAM;
    };
    let page = u64::from(data[4]) << 32 | u64::from(data[5]);
    let mailbox = u64::from(data[6]) << 32 | u64::from(data[7]);
    let mut raw = vec![0u8; len];
    if let Err(e) = host.read(page, &mut raw) {
        log::warn!("MCDD: DMA read of {len} bytes at {page:#x} failed (errno {e})");
        return ST_BAD_PARAM;
    }
    if !host.can_access(mailbox, MCDD_DESCRIPTOR_SIZE) {
        log::warn!("MCDD: mailbox page {mailbox:#x} is not mapped");
        return ST_BAD_PARAM;
    }
    up.mcdd_writes += 1;
    // Each big-endian dword in the page is the value an MCDA data dword carries.
    let bytes: Vec<u8> = raw
        .chunks_exact(4)
        .flat_map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]).to_le_bytes())
        .collect();
    let status = if program_component(fw, off, &bytes) == ST_OK {
        MCDD_STATUS_OK
    } else {
        MCDD_STATUS_ERROR | err::ERROR << 8
    };
    let mut desc = [0u8; MCDD_DESCRIPTOR_SIZE];
    for (i, d) in data[..8].iter().chain(std::iter::once(&status)).enumerate() {
        desc[i * 4..i * 4 + 4].copy_from_slice(&d.to_be_bytes());
    }
    if let Err(e) = host.write(mailbox, &desc) {
        log::warn!("MCDD: mailbox write at {mailbox:#x} failed (errno {e})");
        return ST_BAD_PARAM;
    }
    ST_OK
}

/// The device's hardware id (ConnectX-5 0x20d) and PSID the running firmware checks an
/// image against.
fn device_ids(fw: &Firmware) -> (u16, Option<String>) {
    (fw.hw_id, fw.running.as_ref().map(|r| r.psid.clone()))
}

/// VERIFY_COMPONENT: all of the component written, and the slot holds a whole image for
/// this device (magic restored, every CRC right).
fn verify(fw: &mut Firmware) {
    let (hw_id, psid) = device_ids(fw);
    let up = fw.update.as_ref().expect("update model");
    let (target, size) = (up.target, up.size);
    let complete = up.have.iter().all(|&h| h);
    let mut buf = fw.flash.contents()[target..target + size].to_vec();
    if buf.len() >= 16 && buf[..16].iter().all(|&b| b == 0xff) {
        for (i, m) in FS4_MAGIC.iter().enumerate() {
            buf[4 * i..4 * i + 4].copy_from_slice(&m.to_be_bytes());
        }
    }
    let result = if !complete {
        Err(err::ERROR)
    } else {
        match image::check(&buf) {
            Err(e) => {
                log::info!("fw update: verify failed: {e}");
                Err(err::REJECTED_BAD_FORMAT)
            }
            Ok(i) if i.start != 0 => Err(err::REJECTED_BAD_FORMAT),
            Ok(i) if i.hw_id != hw_id => Err(err::REJECTED_NOT_APPLICABLE),
            Ok(i) if psid.as_ref().is_some_and(|p| *p != i.psid) => {
                Err(err::REJECTED_NOT_APPLICABLE)
            }
            Ok(_) => Ok(()),
        }
    };
    let up = fw.update.as_mut().expect("update model");
    match result {
        Ok(()) => {
            up.state = State::Locked;
            up.verified = true;
            up.error = 0;
        }
        Err(e) => {
            // The FSM stops in VERIFY with the reason until CANCEL / release.
            up.state = State::Verify;
            up.error = e;
        }
    }
}

/// ACTIVATE: the verified image becomes the one the next boot loads (failsafe: the magic
/// pattern written last, then the old image's magic cleared).
fn activate(fw: &mut Firmware) {
    let (running, _) = slots(fw);
    let up = fw.update.as_mut().expect("update model");
    if !up.verified {
        up.error = err::ERROR;
        return;
    }
    let target = up.target;
    let magic: Vec<u8> = FS4_MAGIC.iter().flat_map(|m| m.to_be_bytes()).collect();
    let mut ok = fw.flash.program(target, &magic).is_ok();
    if ok && running != target && image::check(fw.flash.contents()).is_err() {
        // Two images now: clear the old one's first magic dword (as the tools' own
        // failsafe burn does, so both burns leave the same flash).
        ok = fw.flash.program(running, &[0u8; 4]).is_ok();
    }
    let up = fw.update.as_mut().expect("update model");
    if !ok {
        up.error = err::ERROR;
        return;
    }
    fw.next_boot = Some(target as u32);
    let up = fw.update.as_mut().expect("update model");
    up.verified = false;
    up.have = Vec::new();
    up.error = 0;
}

/// MVTS: dword 0 running_flag 30, clear_all_ts_flag 31; the timestamp (firmware version
/// and time) in dwords 1-4. No timestamp is set on the running firmware; one set for the
/// next is kept (clear_all drops it).
fn mvts(fw: &mut Firmware, set: bool, data: &mut [u32]) -> u32 {
    let Some(up) = fw.update.as_mut() else {
        return super::registers::ST_REG_NOT_SUPP;
    };
    let running = data[0] >> 30 & 1 == 1;
    if set {
        if data[0] >> 31 & 1 == 1 {
            up.next_ts = [0; 4];
        } else {
            up.next_ts.copy_from_slice(&data[1..5]);
        }
        return ST_OK;
    }
    let ts = if running { [0; 4] } else { up.next_ts };
    data[1..5].copy_from_slice(&ts);
    ST_OK
}

fn mcqs(fw: &Firmware, data: &mut [u32]) -> u32 {
    if data[0] & 0xffff != 0 {
        return ST_BAD_PARAM;
    }
    data[0] = 1 << 31;
    data[1] = COMPID_BOOT_IMG;
    // component_update_state: IN_PROGRESS (1) during an update, ACTIVE_PENDING_RESET (4)
    // with a pending image, else ACTIVE (3); component_status IN_USE (2).
    let busy = fw.update.as_ref().is_some_and(|u| u.state != State::Idle);
    let st = if busy {
        1
    } else if pending(fw).is_some() {
        4
    } else {
        3
    };
    data[2] = st | 2 << 4;
    data[3] = 0;
    ST_OK
}

fn mcqi(fw: &Firmware, data: &mut [u32]) -> u32 {
    if data[0] & 0xffff != 0 {
        return ST_BAD_PARAM;
    }
    let read_pending = data[0] >> 31 == 1;
    let info_type = data[2] & 0x1f;
    let offset = data[4] as usize;
    let (running, slot) = slots(fw);
    let mut info = [0u32; 31];
    let info_size: usize = match info_type {
        INFO_CAPABILITIES => {
            let size = image::check(&fw.flash.contents()[running..]).map_or(0, |i| i.image_size);
            info[0] = 1 << INFO_CAPABILITIES | 1 << INFO_VERSIONS | 1 << INFO_ACTIVATION_METHOD;
            info[1] = size;
            info[2] = slot as u32;
            // log_mcda_word_size 31:28 (4-byte words), mcda_max_write_size 15:0.
            info[3] = 2 << 28 | MCDA_MAX as u32;
            // match_psid 28, match_chip_id 29; rd_en 31 clear (no read back).
            info[4] = 1 << 28 | 1 << 29;
            0x14
        }
        INFO_VERSIONS => {
            let (ver, date) = if read_pending {
                match pending(fw) {
                    Some(i) => (i.fw_version, i.release_date),
                    None => return ST_BAD_PARAM,
                }
            } else {
                match fw.running.as_ref() {
                    Some(r) => (r.version, r.date),
                    None => return ST_BAD_PARAM,
                }
            };
            // build_time_valid 29; version major 31:24, minor 23:16, subminor 15:0;
            // build_time: day 7:0, month 15:8, year 31:16 (BCD) of its second dword.
            info[0] = 1 << 29;
            info[1] = (u32::from(ver.0) & 0xff) << 24
                | (u32::from(ver.1) & 0xff) << 16
                | u32::from(ver.2);
            info[3] =
                bcd(u32::from(date.0)) << 16 | bcd(u32::from(date.1)) << 8 | bcd(u32::from(date.2));
            0x7c
        }
        INFO_ACTIVATION_METHOD => {
            // pending_fw_reset: the image becomes active with a firmware reset.
            info[0] = 1 << 2;
            4
        }
        _ => return ST_BAD_PARAM,
    };
    if !offset.is_multiple_of(4) || offset > info_size {
        return ST_BAD_PARAM;
    }
    let want = (data[5] & 0xffff) as usize;
    let n = want.min(info_size - offset).min((data.len() - 6) * 4);
    data[3] = info_size as u32;
    data[5] = (data[5] & !0xffff) | n as u32;
    for (i, d) in data[6..].iter_mut().enumerate() {
        *d = if i < n.div_ceil(4) {
            info[offset / 4 + i]
        } else {
            0
        };
    }
    ST_OK
}

/// The information strings MQIS reports: name (part number), description, image VSD,
/// device VSD of the running image.
fn info_string(fw: &Firmware, info_type: u32) -> Option<String> {
    let r = fw.running.as_ref()?;
    let s = match info_type {
        1 => r.part_number.clone(),
        2 => r.description.clone(),
        4 => r.device_vsd.clone(),
        3 => String::new(),
        _ => return None,
    };
    Some(s)
}

fn mqis(fw: &Firmware, data: &mut [u32]) -> u32 {
    let info_type = data[0] & 0xff;
    if !(1..=4).contains(&info_type) {
        return ST_BAD_PARAM;
    }
    let s = info_string(fw, info_type).unwrap_or_default();
    let bytes = s.as_bytes();
    let off = (data[2] >> 16) as usize;
    let want = (data[2] & 0xffff) as usize;
    let room = (data.len() - 4) * 4;
    let start = off.min(bytes.len());
    let n = want.min(room).min(bytes.len() - start);
    let mut chunk = vec![0u8; room];
    chunk[..n].copy_from_slice(&bytes[start..start + n]);
    data[1] = bytes.len() as u32;
    data[2] = (off as u32) << 16 | n as u32;
    for (i, c) in chunk.chunks_exact(4).enumerate() {
        data[4 + i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    }
    ST_OK
}

/// MNVDA GET of the base MAC / GUID items the tools read under fw_ctrl (type 2: base MAC
/// and GUID, type 3: their allocation counts): the values written through item 2 (unless
/// the default is asked for, header bit 23), else the device data's. None: another item.
pub fn mnvda_mac_guid(fw: &Firmware, input: &[u32], out: &mut [u32]) -> Option<u32> {
    let ty = *input.get(1)?;
    if fw.update.is_none() || !(ty == 2 || ty == 3) || out.len() < 3 + 4 {
        return None;
    }
    let dev = image::read_dev_data(fw.flash.contents()).ok()?;
    out[..3].copy_from_slice(&input[..3]);
    let default = input[0] >> 23 & 1 == 1;
    let (mac, guid) = fw
        .update
        .as_ref()
        .and_then(|u| u.mac_guid)
        .filter(|_| !default)
        .unwrap_or((dev.base_mac, dev.base_guid));
    let len = if ty == 2 {
        out[3] = (mac >> 32) as u32;
        out[4] = mac as u32;
        out[5] = (guid >> 32) as u32;
        out[6] = guid as u32;
        16
    } else {
        // mac_en 31, guid_en 30; allocated MACs 15:0, GUIDs 31:16.
        out[3] = 1 << 31 | 1 << 30;
        out[4] = u32::from(dev.num_guids) << 16 | u32::from(dev.num_macs);
        8
    };
    out[0] = (out[0] & !0x1ff) | len;
    Some(ST_OK)
}

/// MNVDA SET of item 2 (base MAC, then base GUID: 16 bytes from dword 3) under fw_ctrl:
/// kept by the firmware, reported by later GETs. None: another item.
pub fn mnvda_set_mac_guid(fw: &mut Firmware, data: &[u32]) -> Option<u32> {
    let up = fw.update.as_mut()?;
    if data.get(1) != Some(&2) {
        return None;
    }
    if data.len() < 7 || data[0] & 0x1ff < 16 {
        return Some(ST_BAD_PARAM);
    }
    let mac = u64::from(data[3]) << 32 | u64::from(data[4]);
    let guid = u64::from(data[5]) << 32 | u64::from(data[6]);
    up.mac_guid = Some((mac, guid));
    Some(ST_OK)
}

/// MGIR hw_info.manufacturing_base_mac (47:32 in dword 4 bits 15:0, 31:0 in dword 5) under
/// fw_ctrl: the base MAC the device data was manufactured with ("Orig Base MAC").
pub fn mgir_mfg_mac(fw: &Firmware, out: &mut [u32]) {
    if fw.update.is_none() || out.len() < 6 {
        return;
    }
    if let Ok(dev) = image::read_dev_data(fw.flash.contents()) {
        out[4] = (out[4] & !0xffff) | (dev.base_mac >> 32) as u32 & 0xffff;
        out[5] = dev.base_mac as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fw::image::{Device, ImageParams};

    fn fw(timeout_ms: u64) -> Firmware {
        let toml = format!(
            "[[device]]\n[device.firmware]\nfw_update = true\nupdate_timeout_ms = {timeout_ms}"
        );
        let cfg = crate::config::SimConfig::from_toml(&toml)
            .unwrap()
            .devices
            .remove(0);
        Firmware::build(&cfg).unwrap().unwrap()
    }

    /// An image as the tools send it: the slot with its magic pattern masked.
    fn component(p: &ImageParams) -> Vec<u8> {
        let mut c = image::build_slot(p);
        c[..16].fill(0xff);
        c
    }

    /// MCC SET (or GET with instr 0) → (status, state, error, handle).
    fn mcc_cmd(
        fw: &mut Firmware,
        instr: u32,
        handle: u32,
        size: u32,
        now: Instant,
    ) -> (u32, u32, u32, u32) {
        let mut d = [0u32; MCC_SIZE / 4];
        d[0] = instr;
        d[2] = handle;
        d[4] = size;
        let st = access(fw, REG_MCC, instr != 0, &mut d, now);
        (st, d[3] & 0xf, d[3] >> 8 & 0xff, d[2])
    }

    fn download(fw: &mut Firmware, handle: u32, comp: &[u8], now: Instant) {
        for (i, chunk) in comp.chunks(MCDA_MAX).enumerate() {
            let mut d = vec![0u32; MCDA_SIZE / 4];
            d[0] = handle;
            d[1] = (i * MCDA_MAX) as u32;
            d[2] = chunk.len() as u32;
            for (j, w) in chunk.chunks(4).enumerate() {
                let mut b = [0u8; 4];
                b[..w.len()].copy_from_slice(w);
                d[4 + j] = u32::from_le_bytes(b);
            }
            assert_eq!(access(fw, REG_MCDA, true, &mut d, now), ST_OK, "chunk {i}");
        }
    }

    /// Lock, update, download: returns the handle.
    fn locked_download(fw: &mut Firmware, comp: &[u8], now: Instant) -> u32 {
        let (st, state, _, h) = mcc_cmd(fw, 0, 0, 0, now);
        assert_eq!((st, state), (ST_OK, State::Idle as u32));
        let (st, state, _, h2) = mcc_cmd(fw, cmd::LOCK_UPDATE_HANDLE, h, 0, now);
        assert_eq!((st, state, h2), (ST_OK, State::Locked as u32, h));
        let (st, state, e, _) = mcc_cmd(fw, cmd::UPDATE_COMPONENT, h, comp.len() as u32, now);
        assert_eq!((st, state, e), (ST_OK, State::Download as u32, 0));
        download(fw, h, comp, now);
        h
    }

    fn mcqi_version(fw: &Firmware, pending: bool) -> Option<u32> {
        let mut d = vec![0u32; MCQI_SIZE / 4];
        d[0] = u32::from(pending) << 31;
        d[2] = INFO_VERSIONS;
        d[5] = 128;
        (mcqi(fw, &mut d) == ST_OK).then_some(d[7])
    }

    #[test]
    fn burn_verify_activate_release() {
        let now = Instant::now();
        let mut fw = fw(10_000);
        let p = ImageParams {
            fw_version: (16, 36, 7),
            ..ImageParams::default()
        };
        let comp = component(&p);
        let h = locked_download(&mut fw, &comp, now);
        assert_eq!(
            mcqi_version(&fw, true),
            None,
            "nothing pending before activation"
        );
        let (st, state, e, _) = mcc_cmd(&mut fw, cmd::VERIFY_COMPONENT, h, 0, now);
        assert_eq!((st, state, e), (ST_OK, State::Locked as u32, 0));
        let (st, _, e, _) = mcc_cmd(&mut fw, cmd::ACTIVATE, h, 0, now);
        assert_eq!((st, e), (ST_OK, 0));
        let (st, state, _, _) = mcc_cmd(&mut fw, cmd::RELEASE_UPDATE_HANDLE, h, 0, now);
        assert_eq!((st, state), (ST_OK, State::Idle as u32));
        // The flash: the new image in slot 1 (magic restored), the old one's first dword
        // cleared; the next boot loads slot 1.
        let data = fw.flash.contents();
        let slot = image::build_slot(&p);
        assert_eq!(&data[1 << 20..(1 << 20) + slot.len()], &slot[..]);
        assert_eq!(data[..4], [0; 4]);
        assert_eq!(image::check(data).unwrap().fw_version, (16, 36, 7));
        assert_eq!(fw.next_boot, Some(1 << 20));
        assert_eq!(mcqi_version(&fw, true), Some(16 << 24 | 36 << 16 | 7));
        assert_eq!(mcqi_version(&fw, false), Some(16 << 24 | 35 << 16 | 1012));
        fw.boot();
        assert_eq!(fw.running.as_ref().unwrap().version, (16, 36, 7));
        assert_eq!(mcqi_version(&fw, true), None, "booted: nothing pending");
        // A second burn goes back into slot 0.
        let p2 = ImageParams {
            fw_version: (16, 36, 8),
            ..ImageParams::default()
        };
        let h = locked_download(&mut fw, &component(&p2), now);
        assert_eq!(fw.update.as_ref().unwrap().target, 0);
        mcc_cmd(&mut fw, cmd::VERIFY_COMPONENT, h, 0, now);
        mcc_cmd(&mut fw, cmd::ACTIVATE, h, 0, now);
        mcc_cmd(&mut fw, cmd::RELEASE_UPDATE_HANDLE, h, 0, now);
        assert_eq!(fw.next_boot, Some(0));
        assert_eq!(
            image::check(fw.flash.contents()).unwrap().fw_version,
            (16, 36, 8)
        );
    }

    /// Three page-aligned host pages of this process (two data pages, the mailbox) mapped
    /// for the device at the fake bus addresses 0x1000_0000.. (what GET_DMA_PAGES does).
    struct Pages {
        buf: Vec<u8>,
        off: usize,
        host: Arc<HostMemory>,
    }

    const BUS: u64 = 0x1000_0000;

    impl Pages {
        fn new() -> Pages {
            let mut buf = vec![0u8; 4 * 4096];
            let base = buf.as_mut_ptr() as usize;
            let off = base.next_multiple_of(4096) - base;
            let host = Arc::new(HostMemory::default());
            host.map(super::super::dma::DmaMapping {
                bus: BUS,
                va: (base + off) as u64,
                pages: 3,
                // SAFETY: getpid never fails.
                pid: unsafe { libc::getpid() },
            });
            Pages { buf, off, host }
        }
        fn page(&mut self, i: usize) -> &mut [u8] {
            let a = self.off + i * 4096;
            &mut self.buf[a..a + 4096]
        }
        /// Mailbox status dword (dword 8 of the descriptor, big-endian).
        fn status(&mut self) -> u32 {
            let m = self.page(2);
            u32::from_be_bytes([m[0x20], m[0x21], m[0x22], m[0x23]])
        }
    }

    /// Send `comp` by MCDD as the tools do: alternate data pages 0 / 1, 4 KiB each, the
    /// dwords of the component (MCDA's dword values) stored big-endian.
    fn download_dma(fw: &mut Firmware, pages: &mut Pages, h: u32, comp: &[u8], now: Instant) {
        for (i, chunk) in comp.chunks(MCDD_MAX).enumerate() {
            let p = i % 2;
            for (j, w) in chunk.chunks(4).enumerate() {
                let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                pages.page(p)[j * 4..j * 4 + 4].copy_from_slice(&v.to_be_bytes());
            }
            pages.page(2)[..MCDD_DESCRIPTOR_SIZE].fill(0);
            let mut d = [0u32; MCDD_SIZE / 4];
            d[0] = h;
            d[1] = (i * MCDD_MAX) as u32;
            d[2] = chunk.len() as u32;
            d[5] = (BUS + p as u64 * 4096) as u32;
            d[7] = (BUS + 2 * 4096) as u32;
            assert_eq!(access(fw, REG_MCDD, true, &mut d, now), ST_OK, "page {i}");
            assert_eq!(pages.status(), MCDD_STATUS_OK, "page {i}");
            // The descriptor echoes the register.
            assert_eq!(&pages.page(2)[4..8], &d[1].to_be_bytes());
        }
    }

    #[test]
    fn mcdd_burn_gives_the_mcda_flash_in_fewer_commands() {
        let now = Instant::now();
        let p = ImageParams {
            fw_version: (16, 36, 9),
            ..ImageParams::default()
        };
        let comp = component(&p);
        // The MCDA burn.
        let mut a = fw(10_000);
        let h = locked_download(&mut a, &comp, now);
        mcc_cmd(&mut a, cmd::VERIFY_COMPONENT, h, 0, now);
        mcc_cmd(&mut a, cmd::ACTIVATE, h, 0, now);
        mcc_cmd(&mut a, cmd::RELEASE_UPDATE_HANDLE, h, 0, now);
        let mcda_commands = a.update.as_ref().unwrap().commands;
        // Without `dma` MCDD is not there.
        let mut b = fw(10_000);
        let mut d = [0u32; MCDD_SIZE / 4];
        assert_eq!(
            access(&mut b, REG_MCDD, true, &mut d, now),
            super::super::registers::ST_REG_NOT_SUPP
        );
        // The DMA burn.
        let mut pages = Pages::new();
        {
            let up = b.update.as_mut().unwrap();
            up.dma = true;
            up.host = Some(pages.host.clone());
        }
        let (_, _, _, h) = mcc_cmd(&mut b, 0, 0, 0, now);
        mcc_cmd(&mut b, cmd::LOCK_UPDATE_HANDLE, h, 0, now);
        let (st, state, _, _) = mcc_cmd(&mut b, cmd::UPDATE_COMPONENT, h, comp.len() as u32, now);
        assert_eq!((st, state), (ST_OK, State::Download as u32));
        // Refused: another handle, a page nobody pinned (the tools then fall back to MCDA),
        // a transfer larger than a page. Nothing is written to the mailbox.
        let mut d = [0u32; MCDD_SIZE / 4];
        d[2] = 4096;
        d[5] = BUS as u32;
        d[7] = (BUS + 2 * 4096) as u32;
        d[0] = h + 1;
        assert_eq!(access(&mut b, REG_MCDD, true, &mut d, now), ST_BAD_PARAM);
        d[0] = h;
        d[5] = 0x2000_0000;
        assert_eq!(access(&mut b, REG_MCDD, true, &mut d, now), ST_BAD_PARAM);
        d[5] = BUS as u32;
        d[7] = 0x2000_0000;
        assert_eq!(access(&mut b, REG_MCDD, true, &mut d, now), ST_BAD_PARAM);
        d[7] = (BUS + 2 * 4096) as u32;
        d[2] = 8192;
        assert_eq!(access(&mut b, REG_MCDD, true, &mut d, now), ST_BAD_PARAM);
        assert_eq!(pages.status(), 0);
        download_dma(&mut b, &mut pages, h, &comp, now);
        let (st, state, e, _) = mcc_cmd(&mut b, cmd::VERIFY_COMPONENT, h, 0, now);
        assert_eq!((st, state, e), (ST_OK, State::Locked as u32, 0));
        mcc_cmd(&mut b, cmd::ACTIVATE, h, 0, now);
        mcc_cmd(&mut b, cmd::RELEASE_UPDATE_HANDLE, h, 0, now);
        assert!(a.flash.contents() == b.flash.contents(), "same flash");
        let up = b.update.as_ref().unwrap();
        assert_eq!(up.mcdd_writes as usize, comp.len().div_ceil(MCDD_MAX));
        // 32 times fewer transfers (4 KiB pages instead of 128-byte mailboxes).
        assert!(
            up.commands * 8 < mcda_commands,
            "{} vs {mcda_commands}",
            up.commands
        );
        assert_eq!(b.next_boot, Some(1 << 20));
    }

    #[test]
    fn bad_images_are_refused_and_the_running_image_stays() {
        let now = Instant::now();
        let mut fw = fw(10_000);
        let before = fw.flash.contents()[..1 << 20].to_vec();
        let mut bad = component(&ImageParams::default());
        let n = bad.len();
        bad[n / 2] ^= 0x5a;
        let cx4 = component(&ImageParams {
            device: Device::CONNECTX4,
            ..ImageParams::default()
        });
        let other_psid = component(&ImageParams {
            psid: "MT_0000000999".into(),
            ..ImageParams::default()
        });
        for (comp, want) in [
            (&bad, err::REJECTED_BAD_FORMAT),
            (&cx4, err::REJECTED_NOT_APPLICABLE),
            (&other_psid, err::REJECTED_NOT_APPLICABLE),
        ] {
            let h = locked_download(&mut fw, comp, now);
            let (st, state, e, _) = mcc_cmd(&mut fw, cmd::VERIFY_COMPONENT, h, 0, now);
            assert_eq!((st, state, e), (ST_OK, State::Verify as u32, want));
            // Activation refused; CANCEL back to LOCKED, RELEASE to IDLE.
            assert_eq!(mcc_cmd(&mut fw, cmd::ACTIVATE, h, 0, now).0, ST_BAD_PARAM);
            let (_, state, e, _) = mcc_cmd(&mut fw, cmd::CANCEL, h, 0, now);
            assert_eq!((state, e), (State::Locked as u32, 0));
            let (_, _, e2, _) = mcc_cmd(&mut fw, cmd::ACTIVATE, h, 0, now);
            assert_eq!(e2, err::ERROR, "nothing verified to activate");
            let (_, state, _, _) = mcc_cmd(&mut fw, cmd::RELEASE_UPDATE_HANDLE, h, 0, now);
            assert_eq!(state, State::Idle as u32);
        }
        assert_eq!(fw.flash.contents()[..1 << 20], before[..]);
        assert_eq!(fw.next_boot, None);
        // An incomplete download does not verify.
        let good = component(&ImageParams::default());
        let (_, _, _, h) = mcc_cmd(&mut fw, 0, 0, 0, now);
        mcc_cmd(&mut fw, cmd::LOCK_UPDATE_HANDLE, h, 0, now);
        mcc_cmd(&mut fw, cmd::UPDATE_COMPONENT, h, good.len() as u32, now);
        download(&mut fw, h, &good[..good.len() / 2], now);
        let (_, state, e, _) = mcc_cmd(&mut fw, cmd::VERIFY_COMPONENT, h, 0, now);
        assert_eq!((state, e), (State::Verify as u32, err::ERROR));
        // A component larger than the slot does not fit.
        mcc_cmd(&mut fw, cmd::CANCEL, h, 0, now);
        let (st, state, e, _) = mcc_cmd(&mut fw, cmd::UPDATE_COMPONENT, h, 2 << 20, now);
        assert_eq!((st, state, e), (ST_OK, State::Locked as u32, err::NO_PLACE));
    }

    #[test]
    fn lock_handles_and_idle_timeout() {
        let t0 = Instant::now();
        let mut fw = fw(1000);
        let (_, _, _, h) = mcc_cmd(&mut fw, 0, 0, 0, t0);
        assert_eq!(mcc_cmd(&mut fw, cmd::LOCK_UPDATE_HANDLE, h, 0, t0).1, 1);
        // Another owner: "resource not available" (the tools retry), also for MCDA.
        let other = h + 1;
        assert_eq!(
            mcc_cmd(&mut fw, cmd::LOCK_UPDATE_HANDLE, other, 0, t0).0,
            ST_RES_NOT_AVLBL
        );
        assert_eq!(
            mcc_cmd(&mut fw, cmd::CANCEL, other, 0, t0).0,
            ST_RES_NOT_AVLBL
        );
        // A query shows the owner's handle and that it is held by ICMD.
        let mut d = [0u32; MCC_SIZE / 4];
        access(
            &mut fw,
            REG_MCC,
            false,
            &mut d,
            t0 + Duration::from_millis(500),
        );
        assert_eq!(d[2], h);
        assert_eq!(d[3] >> 28, 5);
        // The owner goes silent: after the timeout the FSM is IDLE again and the other
        // tool gets the lock.
        let later = t0 + Duration::from_millis(1500);
        let (st, state, _, _) = mcc_cmd(&mut fw, cmd::LOCK_UPDATE_HANDLE, other, 0, later);
        assert_eq!((st, state), (ST_OK, State::Locked as u32));
        // The first owner's handle is gone.
        assert_eq!(
            mcc_cmd(&mut fw, cmd::UPDATE_COMPONENT, h, 0x1000, later).0,
            ST_RES_NOT_AVLBL
        );
        // Commands keep the handle alive.
        let mut t = later;
        for _ in 0..5 {
            t += Duration::from_millis(800);
            assert_eq!(mcc_cmd(&mut fw, cmd::CHECK_UPDATE_HANDLE, other, 0, t).1, 1);
        }
        // FORCE_HANDLE_RELEASE frees it for anyone; commands without a lock are refused.
        assert_eq!(mcc_cmd(&mut fw, cmd::FORCE_HANDLE_RELEASE, h, 0, t).1, 0);
        assert_eq!(
            mcc_cmd(&mut fw, cmd::VERIFY_COMPONENT, h, 0, t).0,
            ST_BAD_PARAM
        );
        let mut m = vec![0u32; MCDA_SIZE / 4];
        m[0] = h;
        m[2] = 4;
        assert_eq!(access(&mut fw, REG_MCDA, true, &mut m, t), ST_BAD_PARAM);
    }

    #[test]
    fn query_registers() {
        let mut fw = fw(1000);
        let now = Instant::now();
        let mut q = [0u32; MCQS_SIZE / 4];
        assert_eq!(access(&mut fw, REG_MCQS, false, &mut q, now), ST_OK);
        assert_eq!(
            (q[0] >> 31, q[1], q[2] & 0xf, q[2] >> 4 & 0x1f),
            (1, 1, 3, 2)
        );
        let mut q = [1u32, 0, 0, 0];
        assert_eq!(access(&mut fw, REG_MCQS, false, &mut q, now), ST_BAD_PARAM);
        // Capabilities: info types 0, 1, 5; 128-byte MCDA writes of 4-byte words.
        let mut c = vec![0u32; MCQI_SIZE / 4];
        c[5] = 128;
        assert_eq!(access(&mut fw, REG_MCQI, false, &mut c, now), ST_OK);
        assert_eq!(c[6], 0x23);
        assert_eq!(c[8], 1 << 20);
        assert_eq!(c[9], 2 << 28 | 128);
        // MQIS: the description in 8-byte pieces.
        let want = ImageParams::default().description;
        let mut got = Vec::new();
        let mut off = 0u32;
        loop {
            let mut m = [0u32; MQIS_SIZE / 4];
            m[0] = 2;
            m[2] = off << 16 | 8;
            assert_eq!(access(&mut fw, REG_MQIS, false, &mut m, now), ST_OK);
            assert_eq!(m[1] as usize, want.len());
            let n = (m[2] & 0xffff) as usize;
            let bytes: Vec<u8> = m[4..6].iter().flat_map(|d| d.to_be_bytes()).collect();
            got.extend_from_slice(&bytes[..n]);
            off += n as u32;
            if n == 0 || off as usize >= want.len() {
                break;
            }
        }
        assert_eq!(String::from_utf8(got).unwrap(), want);
        // MVTS: no timestamp; one set for the next firmware reads back, clear drops it.
        let mut t = [0u32; MVTS_SIZE / 4];
        assert_eq!(access(&mut fw, REG_MVTS, false, &mut t, now), ST_OK);
        assert_eq!(t[1..], [0; 4]);
        let mut s = [0, 1, 2, 3, 4];
        access(&mut fw, REG_MVTS, true, &mut s, now);
        let mut t = [0u32; 5];
        access(&mut fw, REG_MVTS, false, &mut t, now);
        assert_eq!(t[1..], [1, 2, 3, 4]);
    }

    #[test]
    fn base_mac_guid_items() {
        let mut fw = fw(1000);
        let get = |fw: &Firmware, ty: u32, default: bool| {
            let mut out = [0u32; 3 + 4];
            let input = [u32::from(default) << 23, ty, 0, 0, 0, 0, 0];
            let st = mnvda_mac_guid(fw, &input, &mut out);
            (st, out)
        };
        let (st, d) = get(&fw, 2, false);
        assert_eq!(st, Some(ST_OK));
        assert_eq!(d[0] & 0x1ff, 16);
        assert_eq!(u64::from(d[3]) << 32 | u64::from(d[4]), 0xb8ce_f6a1_b2c0);
        assert_eq!(
            u64::from(d[5]) << 32 | u64::from(d[6]),
            0xb8ce_f603_00a1_b2c0
        );
        let (_, d) = get(&fw, 3, false);
        assert_eq!(d[4], 8 << 16 | 8);
        assert_eq!(get(&fw, 0x80, false).0, None, "other items: the NV store's");
        let set = [16, 2, 0, 0x0002, 0xc9aa_bb00, 0x0002_c903, 0x00aa_bb00];
        assert_eq!(mnvda_set_mac_guid(&mut fw, &set), Some(ST_OK));
        assert_eq!(mnvda_set_mac_guid(&mut fw, &[16, 0x80, 0]), None);
        let (_, d) = get(&fw, 2, false);
        assert_eq!(d[3..7], set[3..7]);
        let (_, d) = get(&fw, 2, true);
        assert_eq!(d[4], 0xf6a1_b2c0, "the default stays the device data's");
    }
}
