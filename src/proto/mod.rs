//! The protocols spoken over crspace: ICMD, the tools HCR, register access (PRM access
//! registers over either, or over fwctl), and the packet / TLV layouts they carry.
//!
//! Each protocol is written once, over [`Crspace`]: what it needs from an open device (dword
//! and block access in an address space, the device's identity, its owner-lock file, the
//! per-open protocol state). [`crate::Device`] implements it; so can a test double. The
//! protocols are extension traits with a blanket implementation for every `Crspace`
//! ([`Icmd`], [`ToolsHcr`], [`Registers`]): `use mtcr_ul::proto::Icmd;` then `dev.icmd_send(..)`.

use std::sync::atomic::{AtomicU32, AtomicU8};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::access::fwctl::FwctlNode;
use crate::access::lock::LockFile;
use crate::access::PathKind;
use crate::error::Result;

pub mod icmd;
pub(crate) mod packets;
pub mod reg_access;
pub(crate) mod tlv;
pub mod tools_hcr;

pub use icmd::Icmd;
pub use reg_access::Registers;
pub use tools_hcr::ToolsHcr;

/// What the protocols need from an open device.
pub trait Crspace {
    /// One dword of address space `space`.
    fn read4_in(&self, space: u32, addr: u32) -> Result<u32>;
    /// Write one dword of address space `space`.
    fn write4_in(&self, space: u32, addr: u32, value: u32) -> Result<()>;
    /// `out.len()` dwords from `addr` of `space`.
    fn read_block_in(&self, space: u32, addr: u32, out: &mut [u32]) -> Result<()>;
    /// Write `data` from `addr` of `space`.
    fn write_block_in(&self, space: u32, addr: u32, data: &[u32]) -> Result<()>;
    /// Whether the path reaches address space `space`.
    fn supports_space(&self, space: u32) -> bool;
    /// A dword of the function's PCI config space (the memory path borrows the device's
    /// config file).
    fn read_config_dword(&self, offset: u32) -> Result<u32>;
    /// The access path in use.
    fn path(&self) -> PathKind;
    /// Whether crspace is reached through memory (the BAR).
    fn is_memory(&self) -> bool {
        self.path().is_memory()
    }
    /// (hw device id, revision), read now.
    fn hw_id(&self) -> Result<(u16, u16)>;
    /// (hw device id, revision) as read at open (no access when the open read it).
    fn hw_id_at_open(&self) -> Result<(u16, u16)>;
    /// Whether the function is in flash-recovery (livefish) mode.
    fn is_livefish(&self) -> bool;
    /// This process's owner-lock file of the device (ICMD and tools-HCR semaphores).
    fn owner_lock(&self) -> Option<Arc<LockFile>>;
    /// The fwctl node register access goes over, if any.
    fn fwctl_node(&self) -> Option<Arc<FwctlNode>>;
    /// The protocols' per-open state.
    fn proto_state(&self) -> &ProtoState;
    /// Where register access (`Registers::access_reg`, `max_reg_size`) runs: this device,
    /// or (a memory-mapped ConnectX-3 `Device`) its config-space companion.
    fn reg_side(&self) -> &Self {
        self
    }
}

/// What the protocols remember per open device.
#[derive(Debug, Default)]
pub struct ProtoState {
    /// The ICMD mailbox size read by the first ICMD command (0: not read yet), as the stock
    /// library reads it once per open.
    pub(crate) icmd_mbox_size: AtomicU32,
    /// Whether the function's config space lists a functional VSEC (ICMD through the BAR of
    /// a memory open): 0 not read yet, 1 yes, 2 no.
    pub(crate) config_vsec: AtomicU8,
    /// Whether the tools HCR's CR mailbox works (probed on the first HCR register access).
    pub(crate) hcr_cr_mbox: Mutex<tools_hcr::CrMbox>,
}
