//! The fwctl path: register access to ConnectX/BlueField firmware through the kernel's fwctl
//! subsystem (Linux 6.15+, mlx5 fwctl driver), `/dev/fwctl/fwctlN`. It works where kernel
//! lockdown refuses config-space writes and BAR mappings, because it needs neither: every
//! register access is one `FWCTL_RPC` ioctl carrying an mlx5 ACCESS_REG (0x805) command.
//!
//! Facts (kernel `include/uapi/fwctl/fwctl.h`, mstflint v4.36 `fwctrl_ioctl.h` / `fwctrl.c`):
//! * ioctls of type 0x9a, `_IO` numbers (no size bits), each argument starting with its own
//!   size: `FWCTL_INFO` 0x9a00 ([`fwctl_info`], 24 bytes), `FWCTL_RPC` 0x9a01 ([`fwctl_rpc`], 32
//!   bytes); mstflint also knows `FWCTL_RSC_DESTROY` 0x9a02 and `FWCTL_RSC_UMEM_REG` 0x9a03
//!   (DMA memory; not in mainline).
//! * Scope: reads [`FWCTL_RPC_DEBUG_READ_ONLY`], writes [`FWCTL_RPC_DEBUG_WRITE_FULL`] (the kernel wants
//!   CAP_SYS_RAWIO for it: EPERM otherwise, and taints itself).
//! * The mlx5 RPC: input dword0 bits 31:16 opcode, dword1 bits 15:0 op_mod (1 read, 0
//!   write), dword2 bits 15:0 register id, dword3 argument (0), the raw register from byte
//!   16 (big-endian, no TLV); output byte 0 status, dword1 syndrome, the register from byte
//!   16. `in_len = out_len = 16 + register size`.
//! * Discovery: `/sys/class/fwctl/fwctlN/device` resolves to the PCI function (its basename
//!   is the BDF); the node is `/dev/fwctl/fwctlN`.
//!
//! A handle opened on a fwctl node ([`FwctlAccess`], `mfile.tp` MST_FWCTL_CONTROL_DRIVER)
//! serves only the hw id dword (crspace 0xf0014, from MGIR read at open); every other
//! crspace access fails with EOPNOTSUPP naming fwctl.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{is_crspace, Access};
use crate::access::PathKind;
use crate::defs::*;
use crate::error::{Error, Result};
use crate::pci::{Bdf, SysfsRoot};

pub use crate::fwctl_abi::*;

/// mlx5 command opcode ACCESS_REG.
pub const MLX5_CMD_OP_ACCESS_REG: u32 = 0x805;
/// Bytes of the ACCESS_REG command header in front of the register (in and out).
pub const ACCESS_REG_HDR: usize = 16;
/// MGIR, whose hardware-info dword 2 is the hw id (as mstflint reads it at open).
pub const REG_MGIR: u16 = 0x9020;
/// Largest register over fwctl: the ICMD limit, as mstflint reports it (ICMD_MAX_REG_SIZE).
pub const FWCTL_MAX_REG_SIZE: u32 = ICMD_MAX_CMD_SIZE - 20;
/// `FWCTL_UMEM_FLAG_MKEY | FWCTL_UMEM_FLAG_MCDD` as one ioctl field.
const UMEM_FLAGS: u64 = (FWCTL_UMEM_FLAG_MKEY | FWCTL_UMEM_FLAG_MCDD) as u64;

/// One fwctl ioctl on `fd` with the struct at `arg`.
///
/// # Safety
/// `arg` points to the struct `request` expects, and every user pointer inside it is valid
/// for the length given with it.
pub unsafe fn raw_ioctl<T>(fd: RawFd, request: u32, arg: *mut T) -> std::io::Result<i32> {
    // SAFETY: caller contract.
    let r = unsafe { libc::ioctl(fd, request as libc::c_ulong, arg) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(r)
}

/// The firmware's answer to an ACCESS_REG command that was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FwReply {
    /// mlx5 command status (0 = OK).
    pub status: u8,
    /// mlx5 syndrome (0 when OK).
    pub syndrome: u32,
}

impl FwReply {
    /// The register-access MError of the status (0 for OK).
    pub fn reg_status(&self) -> i32 {
        cmd_status_to_reg_status(self.status)
    }
}

/// MError of an mlx5 command status, with mstflint's table (`translate_cmd_status_to_reg_status`).
pub fn cmd_status_to_reg_status(status: u8) -> i32 {
    match status {
        0x0 => ME_REG_ACCESS_OK,
        0x1 => ME_REG_ACCESS_INTERNAL_ERROR,
        0x2 => ME_REG_ACCESS_BAD_METHOD,
        0x3 => ME_REG_ACCESS_BAD_PARAM,
        0x4 => ME_REG_ACCESS_REG_NOT_SUPP,
        0x5 | 0xf => ME_REG_ACCESS_RES_NOT_AVLBL,
        0x6 => ME_REG_ACCESS_DEV_BUSY,
        0x7 => ME_REG_ACCESS_NOT_READY,
        0x8 => ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT,
        0x9 => ME_REG_ACCESS_BAD_RES_STATE,
        0xa => ME_REG_ACCESS_BAD_INDEX,
        0x50 => ME_REG_ACCESS_BAD_INPUT_LEN,
        0x51 => ME_REG_ACCESS_BAD_OUTPUT_LEN,
        0x10 => ME_REG_ACCESS_BAD_QP_STATE,
        0x30 => ME_REG_ACCESS_BAD_PKT,
        0x40 => ME_REG_ACCESS_BAD_SIZE_OUTS_CQES,
        _ => ME_REG_ACCESS_UNKNOWN_ERR,
    }
}

/// The operation-TLV register status (as ICMD reports it) closest to an mlx5 command status:
/// used when an ICMD ACCESS_REGISTER mailbox is carried over fwctl.
pub fn cmd_status_to_tlv_status(status: u8) -> u8 {
    match status {
        0x0 => 0,
        0x6 => 1,       // busy
        0x4 => 4,       // register not supported
        0x2 => 6,       // method not supported
        0x3 | 0x8 => 7, // bad parameter
        0x5 | 0xf => 8, // resource not available
        _ => 0x70,      // internal error
    }
}

/// Build the ACCESS_REG RPC input for `reg_id` (`write`: op_mod 0, else 1) around `data`.
pub fn build_access_reg(reg_id: u16, write: bool, data: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; ACCESS_REG_HDR + data.len()];
    v[0..4].copy_from_slice(&(MLX5_CMD_OP_ACCESS_REG << 16).to_be_bytes());
    let op_mod = if write {
        FWCTL_METHOD_WRITE
    } else {
        FWCTL_METHOD_READ
    };
    v[4..8].copy_from_slice(&op_mod.to_be_bytes());
    v[8..12].copy_from_slice(&u32::from(reg_id).to_be_bytes());
    v[ACCESS_REG_HDR..].copy_from_slice(data);
    v
}

/// Why an RPC was not delivered, as a library error naming fwctl.
fn rpc_error(e: std::io::Error, reg_id: u16, write: bool, scope: u32) -> Error {
    let what = if write { "write" } else { "read" };
    match e.raw_os_error() {
        Some(libc::EPERM) if scope == FWCTL_RPC_DEBUG_WRITE_FULL => Error::Permission(format!(
            "fwctl: register {reg_id:#x} {what} refused: the write scope \
             (FWCTL_RPC_DEBUG_WRITE_FULL) needs CAP_SYS_RAWIO"
        )),
        Some(libc::EBADMSG) => Error::io(
            format!(
                "fwctl: register {reg_id:#x} {what}: the mlx5 fwctl driver refused the command"
            ),
            e,
        ),
        Some(libc::EMSGSIZE) => Error::io(
            format!("fwctl: register {reg_id:#x} {what}: RPC too large for the kernel"),
            e,
        ),
        _ => Error::io(format!("fwctl: FWCTL_RPC (register {reg_id:#x} {what})"), e),
    }
}

/// Access register `reg_id` through the fwctl descriptor `fd`: one FWCTL_RPC. `data` holds
/// the register (big-endian layout) and receives the firmware's copy (also when the
/// firmware reports an error, as mstflint does).
pub fn access_reg_fd(fd: RawFd, reg_id: u16, write: bool, data: &mut [u8]) -> Result<FwReply> {
    let len = ACCESS_REG_HDR + data.len();
    let len32 = u32::try_from(len)
        .map_err(|_| Error::InvalidArgument(format!("register of {} bytes", data.len())))?;
    let input = build_access_reg(reg_id, write, data);
    let mut out = vec![0u8; len];
    let scope = if write {
        FWCTL_RPC_DEBUG_WRITE_FULL
    } else {
        FWCTL_RPC_DEBUG_READ_ONLY
    };
    let mut rpc = fwctl_rpc {
        size: std::mem::size_of::<fwctl_rpc>() as u32,
        scope,
        in_len: len32,
        out_len: len32,
        r#in: input.as_ptr() as u64,
        out: out.as_mut_ptr() as u64,
    };
    // SAFETY: rpc is a fwctl_rpc whose in/out point to live buffers of in_len/out_len bytes.
    unsafe { raw_ioctl(fd, FWCTL_RPC, &mut rpc) }
        .map_err(|e| rpc_error(e, reg_id, write, scope))?;
    data.copy_from_slice(&out[ACCESS_REG_HDR..]);
    let reply = FwReply {
        status: out[0],
        syndrome: u32::from_be_bytes([out[4], out[5], out[6], out[7]]),
    };
    if reply.status != 0 {
        log::debug!(
            "fwctl: register {reg_id:#x} {}: firmware status {:#x}, syndrome {:#x}",
            if write { "write" } else { "read" },
            reply.status,
            reply.syndrome
        );
    }
    Ok(reply)
}

/// FWCTL_INFO on `fd`: (device type, device data, up to `data_len` bytes).
pub fn info_fd(fd: RawFd, data_len: usize) -> Result<(u32, Vec<u8>)> {
    let mut data = vec![0u8; data_len];
    let mut info = fwctl_info {
        size: std::mem::size_of::<fwctl_info>() as u32,
        device_data_len: data_len as u32,
        out_device_data: if data_len > 0 {
            data.as_mut_ptr() as u64
        } else {
            0
        },
        ..Default::default()
    };
    // SAFETY: info is a fwctl_info whose out_device_data points to data_len writable bytes.
    unsafe { raw_ioctl(fd, FWCTL_INFO, &mut info) }
        .map_err(|e| Error::io("fwctl: FWCTL_INFO", e))?;
    data.truncate((info.device_data_len as usize).min(data_len));
    Ok((info.out_device_type, data))
}

/// FWCTL_RSC_UMEM_REG (mstflint's DMA extension): register `len` bytes of user memory at
/// `addr` with a memory key. Returns (resource id, umem id, mkey id).
pub fn umem_reg_fd(fd: RawFd, addr: u64, len: u64) -> Result<(u32, u32, u32)> {
    // SAFETY: integer fields only, so all-zero is a valid value; zeroing the whole struct
    // also zeroes its padding (after `size`), which goes to the kernel as it is.
    let mut r: fwctl_rsc_umem_reg = unsafe { std::mem::zeroed() };
    r.size = std::mem::size_of::<fwctl_rsc_umem_reg>() as u32;
    r.flags = UMEM_FLAGS;
    r.addr = addr;
    r.len = len;
    // SAFETY: r is a fwctl_rsc_umem_reg; the kernel pins [addr, addr+len) of our memory,
    // which the caller keeps allocated until FWCTL_RSC_DESTROY.
    unsafe { raw_ioctl(fd, FWCTL_RSC_UMEM_REG, &mut r) }
        .map_err(|e| Error::io("fwctl: FWCTL_RSC_UMEM_REG", e))?;
    Ok((r.rsc_id, r.umem_id, r.mkey_id))
}

/// FWCTL_RSC_DESTROY (mstflint's DMA extension): release resource `rsc_id`.
pub fn rsc_destroy_fd(fd: RawFd, rsc_id: u32) -> Result<()> {
    // SAFETY: integer fields only, so all-zero is a valid value; zeroing the whole struct
    // also zeroes its padding (after `size`), which goes to the kernel as it is.
    let mut r: fwctl_rsc_destroy = unsafe { std::mem::zeroed() };
    r.size = std::mem::size_of::<fwctl_rsc_destroy>() as u32;
    r.rsc_id = rsc_id;
    // SAFETY: r is a fwctl_rsc_destroy without user pointers.
    unsafe { raw_ioctl(fd, FWCTL_RSC_DESTROY, &mut r) }
        .map_err(|e| Error::io("fwctl: FWCTL_RSC_DESTROY", e))?;
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Discovery

/// `/sys/class/fwctl` under `root`.
pub fn class_dir(root: &SysfsRoot) -> PathBuf {
    root.sys.join("class/fwctl")
}

/// A BDF in the lenient form mstflint's `sscanf("%x:%x:%x.%x")` takes.
fn parse_bdf_lenient(s: &str) -> Option<Bdf> {
    if let Some(b) = Bdf::parse_canonical(s) {
        return Some(b);
    }
    let (d, rest) = s.split_once(':')?;
    let (b, rest) = rest.split_once(':')?;
    let (dv, f) = rest.split_once('.')?;
    let h = |t: &str| u32::from_str_radix(t, 16).ok();
    Bdf::new(
        u16::try_from(h(d)?).ok()?,
        u8::try_from(h(b)?).ok()?,
        u8::try_from(h(dv)?).ok()?,
        u8::try_from(h(f)?).ok()?,
    )
}

/// The PCI function of fwctl node `name` (`fwctlN`): the basename of what
/// `/sys/class/fwctl/<name>/device` resolves to; when that is not a BDF (the mlx5 driver
/// parents the node to an auxiliary device below the function), its parent's basename.
pub fn node_bdf(root: &SysfsRoot, name: &str) -> Option<Bdf> {
    let real = std::fs::canonicalize(class_dir(root).join(name).join("device")).ok()?;
    let base = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_bdf_lenient)
    };
    base(&real).or_else(|| real.parent().and_then(base))
}

/// Every fwctl node the class lists, with its PCI function when found, in name order.
pub fn list(root: &SysfsRoot) -> Vec<(String, Option<Bdf>)> {
    let Ok(rd) = std::fs::read_dir(class_dir(root)) else {
        return Vec::new();
    };
    let mut v: Vec<(String, Option<Bdf>)> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .map(|n| {
            let b = node_bdf(root, &n);
            (n, b)
        })
        .collect();
    v.sort_by_key(|(n, _)| {
        (
            n.trim_start_matches("fwctl")
                .parse::<u32>()
                .unwrap_or(u32::MAX),
            n.clone(),
        )
    });
    v
}

/// The fwctl node name (`fwctlN`) of PCI function `bdf`, if any.
pub fn node_name_for(root: &SysfsRoot, bdf: Bdf) -> Option<String> {
    list(root)
        .into_iter()
        .find(|(_, b)| *b == Some(bdf))
        .map(|(n, _)| n)
}

/// The user-visible node path (`/dev/fwctl/<name>`) of `bdf`, if it has a node.
pub fn dev_path_for(root: &SysfsRoot, bdf: Bdf) -> Option<String> {
    node_name_for(root, bdf).map(|n| format!("/dev/fwctl/{n}"))
}

// ------------------------------------------------------------------------------------------
// An open node

/// An open `/dev/fwctl/fwctlN`.
#[derive(Debug)]
pub struct FwctlNode {
    file: File,
    path: PathBuf,
}

impl FwctlNode {
    /// Open the node read-write (`O_SYNC`, as mstflint) and check with FWCTL_INFO that it is
    /// an mlx5 fwctl device.
    pub fn open(path: &Path) -> Result<FwctlNode> {
        let file = super::open_rw_sync(path, "fwctl nodes need root")?;
        let node = FwctlNode {
            file,
            path: path.to_path_buf(),
        };
        let (ty, _) = node.info()?;
        if ty != FWCTL_DEVICE_TYPE_MLX5 {
            return Err(Error::Unsupported(format!(
                "{}: fwctl device type {ty} is not mlx5 ({FWCTL_DEVICE_TYPE_MLX5})",
                path.display()
            )));
        }
        Ok(node)
    }

    /// The node path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptor (`mfile.fd` / `mfile.fwctl_fd`).
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// FWCTL_INFO: (device type, mlx5 info {uid, uctx_caps}).
    pub fn info(&self) -> Result<(u32, Vec<u8>)> {
        info_fd(self.fd(), 8).map_err(|e| match e {
            Error::Io { context, source } => Error::Io {
                context: format!("{}: {context}", self.path.display()),
                source,
            },
            e => e,
        })
    }

    /// One register access ([`access_reg_fd`]).
    pub fn access_reg(&self, reg_id: u16, write: bool, data: &mut [u8]) -> Result<FwReply> {
        access_reg_fd(self.fd(), reg_id, write, data)
    }

    /// The hw id dword from MGIR (hardware info dword 2), as mstflint reads it at open.
    pub fn read_hw_id(&self) -> Result<u32> {
        let mut mgir = [0u8; 160];
        let r = self.access_reg(REG_MGIR, false, &mut mgir)?;
        if r.status != 0 {
            return Err(Error::io(
                format!(
                    "{}: MGIR read: firmware status {:#x} (syndrome {:#x})",
                    self.path.display(),
                    r.status,
                    r.syndrome
                ),
                std::io::Error::from_raw_os_error(libc::EIO),
            ));
        }
        Ok(u32::from_be_bytes([mgir[8], mgir[9], mgir[10], mgir[11]]))
    }
}

/// Why a handle is a fwctl handle (decides the wording of crspace refusals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FwctlOrigin {
    /// Opened by its fwctl name.
    Named,
    /// `mopen` of a PCI name fell over to fwctl: config space and `resource0` were refused.
    Lockdown,
}

/// The access of a fwctl handle: crspace only for the hw id.
pub struct FwctlAccess {
    node: Arc<FwctlNode>,
    hw_id: u32,
    origin: FwctlOrigin,
}

impl FwctlAccess {
    /// Open `path` and read the hw id from MGIR. A failing MGIR read leaves the hw id 0
    /// (mstflint does the same) with a warning.
    pub fn open(path: &Path, origin: FwctlOrigin) -> Result<FwctlAccess> {
        let node = FwctlNode::open(path)?;
        let hw_id = match node.read_hw_id() {
            Ok(v) => v,
            Err(e) => {
                log::warn!("{e}: hw id unknown (0)");
                0
            }
        };
        Ok(FwctlAccess {
            node: Arc::new(node),
            hw_id,
            origin,
        })
    }

    fn refuse(&self, what: &str) -> Error {
        Error::NotSupported(match self.origin {
            FwctlOrigin::Named => format!(
                "{what}: a fwctl handle ({}) has no crspace access, only register access \
                 (maccess_reg) and the hw id at 0xf0014",
                self.node.path.display()
            ),
            FwctlOrigin::Lockdown => format!(
                "{what}: config space and resource0 are refused (kernel lockdown or missing \
                 privilege); this handle uses fwctl ({}), which carries register access \
                 (maccess_reg) only",
                self.node.path.display()
            ),
        })
    }
}

impl Access for FwctlAccess {
    fn kind(&self) -> PathKind {
        PathKind::Fwctl
    }

    fn read4(&mut self, space: u32, addr: u32) -> Result<u32> {
        if is_crspace(space) && addr == HW_ID_ADDR {
            return Ok(self.hw_id);
        }
        Err(self.refuse(&format!("crspace read at {addr:#x}")))
    }

    fn write4(&mut self, _space: u32, addr: u32, _v: u32) -> Result<()> {
        Err(self.refuse(&format!("crspace write at {addr:#x}")))
    }

    fn read_block(&mut self, _space: u32, addr: u32, _out: &mut [u32]) -> Result<()> {
        Err(self.refuse(&format!("crspace block read at {addr:#x}")))
    }

    fn write_block(&mut self, _space: u32, addr: u32, _data: &[u32]) -> Result<()> {
        Err(self.refuse(&format!("crspace block write at {addr:#x}")))
    }

    fn supports_space(&mut self, _space: u32) -> bool {
        false
    }

    fn take_open_hw_id(&mut self) -> Option<u32> {
        Some(self.hw_id)
    }

    fn fwctl(&self) -> Option<Arc<FwctlNode>> {
        Some(self.node.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_layouts() {
        assert_eq!(FWCTL_INFO, 0x9a00);
        assert_eq!(FWCTL_RPC, 0x9a01);
        assert_eq!(FWCTL_RSC_UMEM_REG, 0x9a03);
        let m = build_access_reg(0x9020, false, &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(
            m,
            [0x08, 0x05, 0, 0, 0, 0, 0, 1, 0, 0, 0x90, 0x20, 0, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd]
        );
        let w = build_access_reg(0x9056, true, &[]);
        assert_eq!(&w[4..12], &[0, 0, 0, 0, 0, 0, 0x90, 0x56]);
        assert_eq!(cmd_status_to_reg_status(0), ME_OK);
        assert_eq!(cmd_status_to_reg_status(4), ME_REG_ACCESS_REG_NOT_SUPP);
        assert_eq!(cmd_status_to_reg_status(0xf), ME_REG_ACCESS_RES_NOT_AVLBL);
        assert_eq!(cmd_status_to_reg_status(0x99), ME_REG_ACCESS_UNKNOWN_ERR);
        assert_eq!(cmd_status_to_tlv_status(6), 1);
    }

    #[test]
    fn names_and_discovery() {
        let root = SysfsRoot {
            sys: PathBuf::from("/x/sys"),
            proc: PathBuf::from("/x/proc"),
            dev: PathBuf::from("/x/dev"),
            lock_dir: PathBuf::from("/x/l"),
        };
        assert_eq!(parse_bdf_lenient("0:5:0.1"), Bdf::new(0, 5, 0, 1));
        assert_eq!(parse_bdf_lenient("mlx5_core.fwctl.0"), None);
        assert!(list(&root).is_empty());

        let dir = std::env::temp_dir().join(format!("fwctl-disc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = SysfsRoot {
            sys: dir.join("sys"),
            ..root
        };
        let pci = root.sys.join("devices/pci0000:00/0000:05:00.0");
        std::fs::create_dir_all(pci.join("mlx5_core.fwctl.1")).unwrap();
        std::fs::create_dir_all(root.sys.join("devices/pci0000:00/0000:06:00.0")).unwrap();
        let class = class_dir(&root);
        for (n, t) in [
            ("fwctl1", "../../devices/pci0000:00/0000:06:00.0"),
            (
                "fwctl0",
                "../../devices/pci0000:00/0000:05:00.0/mlx5_core.fwctl.1",
            ),
        ] {
            std::fs::create_dir_all(class.join(n)).unwrap();
            std::os::unix::fs::symlink(format!("../{t}"), class.join(n).join("device")).unwrap();
        }
        let b5 = Bdf::new(0, 5, 0, 0).unwrap();
        let b6 = Bdf::new(0, 6, 0, 0).unwrap();
        assert_eq!(
            list(&root),
            vec![("fwctl0".into(), Some(b5)), ("fwctl1".into(), Some(b6))]
        );
        assert_eq!(
            dev_path_for(&root, b6).as_deref(),
            Some("/dev/fwctl/fwctl1")
        );
        assert_eq!(node_name_for(&root, Bdf::new(0, 7, 0, 0).unwrap()), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
