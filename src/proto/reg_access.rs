//! Access registers as `maccess_reg` does on PCI: an operation TLV and a register TLV in front
//! of the register bytes, the firmware status in the operation TLV mapped to an MError by
//! [`return_by_reg_status`]. The mailbox travels over ICMD (opcode 0x9001, ACCESS_REGISTER)
//! when the device has it, else, on a ConnectX-3 / ConnectX-3 Pro whose tools HCR answers,
//! over the tools HCR (opcode 0x3b, [`crate::proto::tools_hcr`]), as stock decides.

use crate::chips;
use crate::defs::*;
use crate::error::MError;
use crate::proto::icmd::IcmdResult;
use crate::proto::tlv::{REG_ACCESS_OPCODE, REG_HEADERS};
use crate::proto::{Crspace, Icmd, ToolsHcr};

/// MError for a non-zero firmware register status (`return_by_reg_status`). As in the stock
/// library, 0 is not a valid argument and maps to `ME_REG_ACCESS_UNKNOWN_ERR`: callers test
/// the status for 0 first.
pub fn return_by_reg_status(status: i32) -> i32 {
    match status {
        1 => ME_REG_ACCESS_DEV_BUSY,
        2 => ME_REG_ACCESS_VER_NOT_SUPP,
        3 => ME_REG_ACCESS_UNKNOWN_TLV,
        4 => ME_REG_ACCESS_REG_NOT_SUPP,
        5 => ME_REG_ACCESS_CLASS_NOT_SUPP,
        6 => ME_REG_ACCESS_METHOD_NOT_SUPP,
        7 => ME_REG_ACCESS_BAD_PARAM,
        8 => ME_REG_ACCESS_RES_NOT_AVLBL,
        9 => ME_REG_ACCESS_MSG_RECPT_ACK,
        0xe => ME_REG_ACCESS_NOT_SUPPORTED_BY_SECONDARY,
        0x20 => ME_REG_ACCESS_BAD_CONFIG,
        0x21 => ME_REG_ACCESS_ERASE_EXCEEDED,
        0x22 => ME_REG_ACCESS_CONF_CORRUPT,
        0x24 => ME_REG_ACCESS_LEN_TOO_SMALL,
        0x70 => ME_REG_ACCESS_INTERNAL_ERROR,
        _ => ME_REG_ACCESS_UNKNOWN_ERR,
    }
}

/// Outcome of a register access that reached the firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegAccess {
    /// Raw firmware status: of the operation TLV (ICMD, tools HCR), or the mlx5 command
    /// status (fwctl). 0 = OK.
    pub status: u8,
    /// The MError of `status` (0 when OK): [`return_by_reg_status`] of a TLV status, mstflint's
    /// mlx5 table for fwctl ([`crate::access::fwctl::cmd_status_to_reg_status`]).
    pub code: i32,
    /// What `maccess_reg` stores in `*reg_status`: the raw TLV status, or over fwctl the
    /// MError (as mstflint does there).
    pub reg_status: i32,
    /// The firmware syndrome (fwctl; 0 elsewhere).
    pub syndrome: u32,
}

impl RegAccess {
    /// A TLV status (ICMD, tools HCR).
    pub fn from_tlv(status: u8) -> RegAccess {
        RegAccess {
            status,
            code: if status == 0 {
                ME_OK
            } else {
                return_by_reg_status(i32::from(status))
            },
            reg_status: i32::from(status),
            syndrome: 0,
        }
    }

    /// An mlx5 command reply (fwctl).
    pub fn from_fwctl(r: crate::access::fwctl::FwReply) -> RegAccess {
        let code = r.reg_status();
        RegAccess {
            status: r.status,
            code,
            reg_status: code,
            syndrome: r.syndrome,
        }
    }
}

/// Build the ICMD mailbox for `reg_id`: TLVs then the register bytes.
pub fn build_mailbox(reg_id: u16, method: u32, reg: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(REG_HEADERS + reg.len());
    let op0: u32 = 1 << 27 | 4 << 16;
    let op1: u32 = u32::from(reg_id) << 16 | (method & 0x7f) << 8 | 1;
    m.extend_from_slice(&op0.to_be_bytes());
    m.extend_from_slice(&op1.to_be_bytes());
    m.extend_from_slice(&[0u8; 8]);
    let len_dw = (reg.len() as u32 + 4) / 4;
    let hdr: u32 = 3 << 27 | (len_dw & 0x7ff) << 16;
    m.extend_from_slice(&hdr.to_be_bytes());
    m.extend_from_slice(reg);
    m
}

/// How registers reach the firmware of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegPath {
    /// ICMD, with this maximal mailbox (bytes).
    Icmd(u32),
    /// The tools HCR (ConnectX-3 family).
    ToolsHcr,
    /// The kernel's fwctl (one FWCTL_RPC per access): a fwctl handle, or a fwctl node
    /// attached to a PCI open.
    Fwctl,
    /// Neither.
    None,
}

impl RegPath {
    /// Largest register (bytes) this path carries: 812 over ICMD, 268 over the tools HCR
    /// (`TOOLS_HCR_MAX_MBOX` - 20), 0 without either.
    pub fn max_reg_size(self) -> u32 {
        match self {
            RegPath::Icmd(max) => max.saturating_sub(REG_HEADERS as u32),
            RegPath::ToolsHcr => crate::proto::tools_hcr::TOOLS_HCR_MAX_REG_SIZE as u32,
            RegPath::Fwctl => crate::access::fwctl::FWCTL_MAX_REG_SIZE,
            RegPath::None => 0,
        }
    }
}

/// Register access over any [`Crspace`] (implemented for all of them).
pub trait Registers: Crspace {
    /// The register-access interface: fwctl when the handle has a fwctl node (its own or
    /// attached), else ICMD when it opens, else the tools HCR on a ConnectX-3 family device
    /// whose HCR answers (one HCR command to find out).
    fn reg_path(&self) -> RegPath {
        if self.fwctl_node().is_some() {
            return RegPath::Fwctl;
        }
        match self.icmd_open() {
            Ok(max) => RegPath::Icmd(max),
            Err(_) if self.tools_hcr_reg_supported() => RegPath::ToolsHcr,
            Err(_) => RegPath::None,
        }
    }

    /// Largest register (bytes) `access_reg` accepts ([`RegPath::max_reg_size`] on the
    /// [`reg_side`](Crspace::reg_side)).
    fn max_reg_size(&self) -> u32 {
        self.reg_side().reg_path().max_reg_size()
    }

    /// The register limit `maccess_reg` enforces and `mget_max_reg_size` reports, as upstream
    /// decides it: the limit of `path`, and, for a device with neither ICMD nor a tools HCR,
    /// ICMD's unless it is a ConnectX-3 family device (upstream picks ICMD by the device id
    /// alone, so such a register access then fails opening ICMD rather than on its size).
    fn reg_size_limit(&self, path: RegPath) -> u32 {
        match path {
            RegPath::None if matches!(self.hw_id_at_open(), Ok((hw, _)) if !chips::is_connectx3_hw_id(hw)) => {
                ICMD_MAX_REG_SIZE
            }
            p => p.max_reg_size(),
        }
    }

    /// The path a register of `bytes` bytes (the largest of its size and both transfer
    /// sizes) travels, checked as `maccess_reg` checks it before touching the register:
    /// ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT beyond [`reg_size_limit`](Self::reg_size_limit); with
    /// no register path, why ICMD does not open (ME_ICMD_NOT_SUPPORTED, ...), as upstream
    /// reports.
    fn reg_path_for(&self, bytes: usize) -> IcmdResult<RegPath> {
        let path = self.reg_path();
        check_reg_size(bytes, self.reg_size_limit(path))?;
        if path == RegPath::None {
            return Err(self.icmd_open().err().unwrap_or_else(|| {
                MError::new(ME_ICMD_NOT_SUPPORTED, "no register access on this device")
            }));
        }
        Ok(path)
    }

    /// Access register `reg_id` with `method` (1 GET, 2 SET). `reg` holds the register in
    /// its big-endian layout; `r_size`/`w_size` bytes of it travel each way. On return the
    /// register bytes are those the firmware sent back. `Ok` carries the firmware status,
    /// which may be non-zero (see [`return_by_reg_status`]). Runs on the
    /// [`reg_side`](Crspace::reg_side) (the config-space companion of a memory-mapped
    /// ConnectX-3), as the C `maccess_reg`.
    fn access_reg(
        &self,
        reg_id: u16,
        method: u32,
        reg: &mut [u8],
        r_size: usize,
        w_size: usize,
    ) -> IcmdResult<RegAccess> {
        let d = self.reg_side();
        d.access_reg_via(d.reg_path(), reg_id, method, reg, r_size, w_size)
    }

    /// [`access_reg`](Self::access_reg) over a [`RegPath`] the caller already found (finding
    /// it costs an ICMD read, and on a ConnectX-3 an HCR command).
    fn access_reg_via(
        &self,
        path: RegPath,
        reg_id: u16,
        method: u32,
        reg: &mut [u8],
        r_size: usize,
        w_size: usize,
    ) -> IcmdResult<RegAccess> {
        if reg.is_empty() || !(1..MACCESS_LAST_REG_METHOD).contains(&method) {
            return Err(MError::new(ME_BAD_PARAMS, "bad register access arguments"));
        }
        let biggest = reg.len().max(r_size).max(w_size);
        check_reg_size(biggest, path.max_reg_size())?;
        if path == RegPath::Fwctl {
            return fwctl_access_reg(self, reg_id, method, reg, r_size);
        }
        let mut mbox = build_mailbox(reg_id, method, reg);
        // Room for the larger direction.
        mbox.resize(REG_HEADERS + biggest.div_ceil(4) * 4, 0);
        let w = REG_HEADERS + w_size.div_ceil(4) * 4;
        let r = REG_HEADERS + r_size.div_ceil(4) * 4;
        if path == RegPath::ToolsHcr {
            let mut cache = self.proto_state().hcr_cr_mbox.lock();
            self.tools_hcr_reg_access(&mut mbox, w, r, &mut cache)?;
        } else {
            self.icmd_send(REG_ACCESS_OPCODE, &mut mbox, w, r, false)?;
        }
        let n = r_size.min(reg.len());
        reg[..n].copy_from_slice(&mbox[REG_HEADERS..REG_HEADERS + n]);
        Ok(RegAccess::from_tlv(mbox[2] & 0x7f))
    }
}

impl<T: Crspace + ?Sized> Registers for T {}

/// ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT when a register of `bytes` bytes exceeds `max`.
fn check_reg_size(bytes: usize, max: u32) -> IcmdResult<()> {
    if bytes > max as usize {
        return Err(MError::new(
            ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT,
            format!("register of {bytes} bytes exceeds the limit of {max}"),
        ));
    }
    Ok(())
}

/// One register access over the fwctl node: `reg` travels whole (mstflint sends the
/// register size both ways), `r_size` bytes of the answer are copied back. GET reads
/// (scope DEBUG_READ_ONLY); every other method writes (DEBUG_WRITE_FULL), as mstflint.
fn fwctl_access_reg<C: Crspace + ?Sized>(
    d: &C,
    reg_id: u16,
    method: u32,
    reg: &mut [u8],
    r_size: usize,
) -> IcmdResult<RegAccess> {
    let Some(node) = d.fwctl_node() else {
        return Err(MError::new(ME_ERROR, "no fwctl node attached"));
    };
    let write = method != MACCESS_REG_METHOD_GET;
    let mut buf = reg.to_vec();
    let r = node
        .access_reg(reg_id, write, &mut buf)
        .map_err(|e| MError::new(ME_ERROR, e.to_string()).with_errno(e.errno()))?;
    let n = r_size.min(reg.len());
    reg[..n].copy_from_slice(&buf[..n]);
    Ok(RegAccess::from_fwctl(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_layout() {
        let m = build_mailbox(0x9020, 1, &[0xaa; 8]);
        assert_eq!(m.len(), 28);
        assert_eq!(&m[0..4], &[0x08, 0x04, 0x00, 0x00]);
        assert_eq!(&m[4..8], &[0x90, 0x20, 0x01, 0x01]);
        assert_eq!(&m[16..20], &[0x18, 0x03, 0x00, 0x00]);
        assert_eq!(return_by_reg_status(4), ME_REG_ACCESS_REG_NOT_SUPP);
        assert_eq!(return_by_reg_status(0x55), ME_REG_ACCESS_UNKNOWN_ERR);
    }
}
