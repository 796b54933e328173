//! STAND-IN written by the runtime helper so the runtime builds before the drivers branch
//! lands; replaced wholesale by the drivers helper's implementation (merge: take theirs).
//! Serves MST_PARAMS / MST_READ4 / MST_WRITE4 of mstflint_access only.

use crate::config::{DeviceConfig, DriverKind};
use crate::model::{Errno, SimDevice};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    MstflintAccessConf,
    MstDriverConf,
    MstDriverCr,
    MstDriverMftConf,
    MstDriverMftCr,
    MftPciconf,
    MftPciCr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    pub path: String,
    pub kind: NodeKind,
}

pub fn nodes_for(cfg: &DeviceConfig) -> Vec<NodeSpec> {
    match cfg.driver {
        DriverKind::MstflintAccess => vec![NodeSpec {
            path: format!("/dev/{}_mstconf", cfg.bdf),
            kind: NodeKind::MstflintAccessConf,
        }],
        _ => vec![],
    }
}

#[derive(Debug, Default)]
pub struct FdState {
    pub open_flags: i32,
}

impl FdState {
    pub fn open(_dev: &SimDevice, _kind: NodeKind, open_flags: i32) -> FdState {
        FdState { open_flags }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoctlOutcome {
    pub ret: i64,
}

pub fn ioctl_name(_kind: NodeKind, request: u32) -> &'static str {
    match request {
        0x8028_d001 => "MST_PARAMS",
        0x800c_d101 => "MST_READ4",
        0x400c_d102 => "MST_WRITE4",
        _ => "UNKNOWN",
    }
}

pub fn ioctl(
    dev: &SimDevice,
    kind: NodeKind,
    _st: &mut FdState,
    request: u32,
    arg: &mut [u8],
) -> IoctlOutcome {
    dev.count_ioctl(ioctl_name(kind, request));
    let rd = |a: &[u8], o: usize| u32::from_le_bytes([a[o], a[o + 1], a[o + 2], a[o + 3]]);
    let ret = match (request, arg.len()) {
        (0x8028_d001, 40) => {
            let (d, b, s, f) = crate::config::parse_bdf(dev.bdf()).unwrap_or_default();
            let vals = [
                u32::from(d),
                u32::from(b),
                u32::from(s),
                u32::from(f),
                0,
                u32::from(dev.config().model_info().pci_device_id),
                0x15b3,
                0,
                0x15b3,
                0,
            ];
            for (i, v) in vals.iter().enumerate() {
                arg[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
            }
            0
        }
        (0x800c_d101, 12) => match dev.cr_read(rd(arg, 0), rd(arg, 4)) {
            Ok(v) => {
                arg[8..12].copy_from_slice(&v.to_le_bytes());
                0
            }
            Err(e) => -(e as i64),
        },
        (0x400c_d102, 12) => match dev.cr_write(rd(arg, 0), rd(arg, 4), rd(arg, 8)) {
            Ok(()) => 0,
            Err(e) => -(e as i64),
        },
        _ => -(libc::ENOTTY as i64),
    };
    IoctlOutcome { ret }
}

pub fn mmap_allowed(kind: NodeKind, _st: &FdState, _offset: u64, _len: u64) -> Result<(), Errno> {
    if kind == NodeKind::MftPciCr {
        Ok(())
    } else {
        Err(libc::ENODEV)
    }
}
