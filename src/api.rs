//! The safe Rust API: [`Device`]. The C ABI in `ffi` is a thin wrapper over it.
//!
//! CONTRACT (skeleton written first so that the C layer and the core can be built side by side):
//! the signatures below are what `ffi` calls. Bodies are filled in by the core.

use crate::device::DeviceInfo;
use crate::error::Result;
use crate::select::PathKind;

/// How to open a device (what `mopen_adv` and `mclear_pci_semaphore` need beyond a name).
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Force the VSEC semaphore to 0 before taking it (`mclear_pci_semaphore`).
    pub clear_semaphore: bool,
    /// Use this access path only (also settable with the `MTCR_FORCE_PATH` environment variable).
    pub force: Option<PathKind>,
}

/// An open ConnectX/BlueField function. `Send + Sync`: every call is atomic with respect to
/// the others on the same `Device` (one gateway transaction at a time).
pub struct Device {
    _private: (),
}

impl Device {
    /// Open by any name form the stock library accepts (`05:00.0`, `0000:05:00.0`,
    /// `pciconf-...`, `.../config`, `.../resource0`, `/proc/bus/pci/...`, `mlx5_0`,
    /// `/dev/mst/mt4119_pciconf0`, ...).
    pub fn open(name: &str) -> Result<Device> {
        Self::open_with(name, &OpenOptions::default())
    }

    /// Open with options.
    pub fn open_with(_name: &str, _opts: &OpenOptions) -> Result<Device> {
        todo!("core")
    }

    /// The name the device was opened with.
    pub fn name(&self) -> &str {
        todo!("core")
    }

    /// What sysfs says about the function (ids, BDF, paths, ib/net devices).
    pub fn info(&self) -> &DeviceInfo {
        todo!("core")
    }

    /// The access path in use.
    pub fn path(&self) -> PathKind {
        todo!("core")
    }

    /// `mfile.tp`: MST_PCICONF or MST_PCI (the stock numbers, for the path in use).
    pub fn mtype(&self) -> u32 {
        todo!("core")
    }

    /// `mfile.flags` as the stock library reports them for the path in use.
    pub fn mdevs_flags(&self) -> u32 {
        todo!("core")
    }

    /// Whether a functional VSEC gateway is in use (`mfile.functional_vsec_supp`).
    pub fn functional_vsec(&self) -> bool {
        todo!("core")
    }

    /// `mfile.vsec_cap_mask` (userspace VCC_* bit numbering).
    pub fn vsec_cap_mask(&self) -> u32 {
        todo!("core")
    }

    /// Whether the PCI ("PXIR") spaces are supported (`mfile.pxir_vsec_supp`).
    pub fn pxir_vsec(&self) -> bool {
        todo!("core")
    }

    /// Current address space (`mget_addr_space`).
    pub fn address_space(&self) -> u32 {
        todo!("core")
    }

    /// Select the address space used by later accesses (`mset_addr_space`).
    pub fn set_address_space(&self, _space: u32) -> Result<()> {
        todo!("core")
    }

    /// Read one crspace dword (host order) in the current address space.
    pub fn read4(&self, _addr: u32) -> Result<u32> {
        todo!("core")
    }

    /// Write one crspace dword in the current address space.
    pub fn write4(&self, _addr: u32, _value: u32) -> Result<()> {
        todo!("core")
    }

    /// Read one dword in an explicit address space (the current one is left unchanged).
    pub fn read4_in(&self, _space: u32, _addr: u32) -> Result<u32> {
        todo!("core")
    }

    /// Write one dword in an explicit address space.
    pub fn write4_in(&self, _space: u32, _addr: u32, _value: u32) -> Result<()> {
        todo!("core")
    }

    /// Read `out.len()` consecutive dwords from `addr`. A failure part way is
    /// `Error::Partial { done_bytes, .. }`.
    pub fn read_block(&self, _addr: u32, _out: &mut [u32]) -> Result<()> {
        todo!("core")
    }

    /// Write `data.len()` consecutive dwords at `addr`; partial failures as for `read_block`.
    pub fn write_block(&self, _addr: u32, _data: &[u32]) -> Result<()> {
        todo!("core")
    }

    /// Read 4 bytes of VPD at `offset` (any alignment).
    pub fn vpd_read4(&self, _offset: u32) -> Result<[u8; 4]> {
        todo!("core")
    }

    /// Write 4 bytes of VPD at a dword-aligned `offset` (where the path supports it).
    pub fn vpd_write4(&self, _offset: u32, _data: [u8; 4]) -> Result<()> {
        todo!("core")
    }

    /// Read a PCI config-space dword (`read_dword_from_conf_space`).
    pub fn read_config_dword(&self, _offset: u32) -> Result<u32> {
        todo!("core")
    }

    /// The hardware id register (0xf0014) low 16 bits, and the revision (bits 19:16).
    pub fn hw_id(&self) -> Result<(u16, u16)> {
        todo!("core")
    }
}

/// Open `name` with the semaphore forced free, then close (`mclear_pci_semaphore`).
pub fn clear_semaphore(name: &str) -> Result<()> {
    let opts = OpenOptions {
        clear_semaphore: true,
        force: None,
    };
    Device::open_with(name, &opts).map(drop)
}
