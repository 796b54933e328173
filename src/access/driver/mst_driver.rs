//! The unified Gen-1 `mst_driver` (kernel_abis.md §2.2), magic 0xD3, in both naming modes:
//! mstflint mode (`/dev/DDDD:BB:DD.F_mstconf`, `_mstcr`) and MFT mode (`mft_package=1`:
//! `/dev/mst/mt<id>_pci_pciconf<F>`, `..._pci_pci_cr<F>`). The ioctls are the same.
//!
//! Quirks hidden here: `size` is stepped in *bytes* (the driver's README says dwords) and is
//! not checked by the kernel: blocks are clamped to 256 bytes; MST_READ/MST_WRITE always
//! return 0 (gateway failures are invisible); the memory node (`_mstcr`) moves only `data[0]`
//! whatever `size` says, so blocks there go dword by dword; MST_INIT is never issued (it
//! breaks the VSEC semaphore offset); MST_VPD_* is not issued on a device without VPD (the
//! kernel would return ENODEV still holding the device mutex): the sysfs `vpd` attribute is
//! checked first. MST_STOP, listed in the README, was never defined and is not used.

use std::path::PathBuf;

use super::{ior, iow, Arg, DriverAccess, DriverOps, Node, MAX_BLOCK_BYTES};
use crate::access::{GatewayInfo, PathKind};
use crate::defs::{
    VCC_CRSPACE_SPACE_SUPPORTED, VCC_ICMD_EXT_SPACE_SUPPORTED, VCC_ICMD_SPACE_SUPPORTED,
    VCC_INITIALIZED, VCC_SEMAPHORE_SPACE_SUPPORTED,
};
use crate::error::{Error, Result};
use crate::pci::Bdf;

const RW_SIZE: usize = 268;
const PARAMS_SIZE: usize = 40;
const PAGE_INFO_SIZE: usize = 528;
/// Page entries in the Gen-1 page_info struct.
pub const MAX_DMA_PAGES: usize = 32;

pub const MST_WRITE: u32 = iow(0xD3, 1, RW_SIZE);
/// `_IOW` although data comes back (as the driver defines it).
pub const MST_READ: u32 = iow(0xD3, 2, RW_SIZE);
pub const MST_GET_DMA_PAGES: u32 = ior(0xD3, 3, PAGE_INFO_SIZE);
pub const MST_RELEASE_DMA_PAGES: u32 = ior(0xD3, 4, PAGE_INFO_SIZE);
pub const MST_READ_DWORD_FROM_CONFIG_SPACE: u32 = ior(0xD3, 5, 8);
pub const MST_GET_DEVICE_PARAMETERS: u32 = ior(0xD3, 6, PARAMS_SIZE);
pub const MST_PCI_CONNECTX_WA: u32 = ior(0xD3, 8, 4);
pub const MST_VPD_READ: u32 = ior(0xD3, 9, 12);
pub const MST_VPD_WRITE: u32 = iow(0xD3, 10, 12);

/// What MST_GET_DEVICE_PARAMETERS says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params {
    pub bus: u32,
    pub slot: u32,
    pub func: u32,
    pub device: u32,
    pub vendor: u32,
    /// VSEC config offset when ICMD/CR/SEMAPHORE is supported, else 0.
    pub vendor_specific_capability: u32,
}

/// Ask MST_GET_DEVICE_PARAMETERS (the probe: other ABIs answer EINVAL/ENOTTY).
pub fn params(node: &Node) -> Result<Params> {
    let mut a = Arg::new(PARAMS_SIZE);
    node.ioctl(
        "MST_GET_DEVICE_PARAMETERS",
        MST_GET_DEVICE_PARAMETERS,
        &mut a,
    )?;
    Ok(Params {
        bus: a.get(4),
        slot: a.get(8),
        func: a.get(12),
        device: a.get(20),
        vendor: a.get(24),
        vendor_specific_capability: a.get(36),
    })
}

/// An open Gen-1 node.
pub struct MstDriver {
    node: Node,
    params: Params,
    memory: bool,
    /// The sysfs `vpd` attribute (VPD ioctls only when it exists).
    vpd_attr: PathBuf,
    /// `mfile.connectx_wa_slot` once [`take_connectx_wa`](Self::take_connectx_wa) ran.
    wa_slot: Option<u32>,
}

impl MstDriver {
    /// Bind to an open node (`memory` for `_mstcr` / `_pci_pci_cr` nodes).
    /// Over a node whose [`params`] answered (the Gen-1 probe).
    pub fn with_params(node: Node, params: Params, memory: bool, vpd_attr: PathBuf) -> MstDriver {
        MstDriver {
            node,
            params,
            memory,
            vpd_attr,
            wa_slot: None,
        }
    }

    /// Take the ConnectX ordering slot (MST_PCI_CONNECTX_WA), as the stock library does on
    /// every memory-node open: `connectx_wa_slot` = 0xf0384 + 4 × the number the driver
    /// returns. The Gen-1 driver hands out slot 1 on the device's first call and answers later
    /// calls with 0 without writing the buffer (kernel_abis.md §2.2): the buffer starts at 0.
    /// A failure fails the open (stock then falls back to the config node).
    pub fn take_connectx_wa(&mut self) -> Result<u32> {
        let mut a = Arg::new(4);
        self.node
            .ioctl("MST_PCI_CONNECTX_WA", MST_PCI_CONNECTX_WA, &mut a)?;
        let slot = super::CONNECTX_WA_BASE.wrapping_add(4u32.wrapping_mul(a.get(0)));
        self.wa_slot = Some(slot);
        Ok(slot)
    }

    pub fn params(&self) -> Params {
        self.params
    }

    fn rw(&mut self, write: bool, space: u32, addr: u32, data: &mut [u32]) -> Result<()> {
        let bytes = data.len() * 4;
        debug_assert!(bytes <= MAX_BLOCK_BYTES);
        let mut a = Arg::new(RW_SIZE);
        a.put(0, addr).put(4, bytes as u32).put(264, space);
        if write {
            for (i, v) in data.iter().enumerate() {
                a.put(8 + 4 * i, *v);
            }
            self.node.ioctl("MST_WRITE", MST_WRITE, &mut a)?;
        } else {
            self.node.ioctl("MST_READ", MST_READ, &mut a)?;
            for (i, v) in data.iter_mut().enumerate() {
                *v = a.get(8 + 4 * i);
            }
        }
        Ok(())
    }

    fn check_vpd(&self) -> Result<()> {
        if self.vpd_attr.exists() {
            Ok(())
        } else {
            Err(Error::NoDevice(format!(
                "no VPD on this device ({} absent): MST_VPD_* not issued",
                self.vpd_attr.display()
            )))
        }
    }
}

/// Open the path over a node whose [`params`] answered (`memory`: a `_mstcr` /
/// `_pci_pci_cr<F>` node; `vpd_attr`: the function's sysfs `vpd`).
pub fn open(
    node: Node,
    params: Params,
    memory: bool,
    vpd_attr: PathBuf,
    bdf: Bdf,
) -> Result<DriverAccess> {
    let mut ops = MstDriver::with_params(node, params, memory, vpd_attr);
    if memory {
        // Stock takes the slot on every memory-node open. The Gen-1 driver never releases its
        // (per-device) slots and answers ENOLCK once three were handed out: that must not
        // make every later open fail, so the open goes on without a slot (connectx_wa_slot
        // 0); any other error fails the open.
        match ops.take_connectx_wa() {
            Ok(slot) => log::debug!("{bdf}: ConnectX ordering slot {slot:#x}"),
            Err(e) if e.errno() == libc::ENOLCK => {
                log::info!("{bdf}: {e}: no ConnectX ordering slot left (Gen-1 keeps them)")
            }
            Err(e) => return Err(e),
        }
    }
    let off = if memory {
        0
    } else {
        ops.params().vendor_specific_capability
    };
    // Gen-1 READ/WRITE never report errors, so spaces cannot be probed: assume the ones the
    // driver itself probes (as stock does for its driver path).
    let mask = if off != 0 {
        (1 << VCC_INITIALIZED)
            | (1 << VCC_ICMD_EXT_SPACE_SUPPORTED)
            | (1 << VCC_CRSPACE_SPACE_SUPPORTED)
            | (1 << VCC_ICMD_SPACE_SUPPORTED)
            | (1 << VCC_SEMAPHORE_SPACE_SUPPORTED)
    } else {
        0
    };
    let info = GatewayInfo {
        functional_vsec: off != 0,
        cap_mask: mask,
        pxir: false,
        vsec_addr: off,
    };
    Ok(DriverAccess::fixed(Box::new(ops), info))
}

impl DriverOps for MstDriver {
    fn kind(&self) -> PathKind {
        if self.memory {
            PathKind::MstDriverCr
        } else {
            PathKind::MstDriver
        }
    }
    fn node(&self) -> &Node {
        &self.node
    }

    fn read4(&mut self, space: u32, addr: u32) -> Result<u32> {
        let mut v = [0u32];
        self.rw(false, space, addr, &mut v)?;
        Ok(v[0])
    }

    fn write4(&mut self, space: u32, addr: u32, v: u32) -> Result<()> {
        self.rw(true, space, addr, &mut [v])
    }

    fn read_chunk(&mut self, space: u32, addr: u32, out: &mut [u32]) -> Result<bool> {
        if self.memory {
            return Ok(false);
        }
        self.rw(false, space, addr, out)?;
        Ok(true)
    }

    fn write_chunk(&mut self, space: u32, addr: u32, data: &[u32]) -> Result<bool> {
        if self.memory {
            return Ok(false);
        }
        let mut d = data.to_vec();
        self.rw(true, space, addr, &mut d)?;
        Ok(true)
    }

    fn vpd_read4(&mut self, offset: u32) -> Result<[u8; 4]> {
        self.check_vpd()?;
        let mut a = Arg::new(12);
        a.put(0, offset);
        self.node.ioctl("MST_VPD_READ", MST_VPD_READ, &mut a)?;
        Ok(a.get(8).to_le_bytes())
    }

    fn vpd_write4(&mut self, offset: u32, data: [u8; 4]) -> Result<()> {
        self.check_vpd()?;
        let mut a = Arg::new(12);
        a.put(0, offset).put(8, u32::from_le_bytes(data));
        self.node.ioctl("MST_VPD_WRITE", MST_VPD_WRITE, &mut a)?;
        Ok(())
    }

    fn config_dword(&mut self, offset: u32) -> Result<u32> {
        self.node.config_dword(
            "MST_READ_DWORD_FROM_CONFIG_SPACE",
            MST_READ_DWORD_FROM_CONFIG_SPACE,
            offset,
        )
    }

    fn get_dma_pages(&mut self, user_buf: u64, pages: usize) -> Result<Vec<u64>> {
        self.node
            .get_dma_pages("MST_GET_DMA_PAGES", MST_GET_DMA_PAGES, user_buf, pages)
    }

    fn release_dma_pages(&mut self, pages: usize) -> Result<()> {
        self.node
            .release_dma_pages("MST_RELEASE_DMA_PAGES", MST_RELEASE_DMA_PAGES, pages)
    }

    fn max_dma_pages(&self) -> usize {
        MAX_DMA_PAGES
    }

    fn connectx_wa_slot(&self) -> Option<u32> {
        self.wa_slot
    }
}
